use thiserror::Error;

/// Why an artifact could not be read or written.
///
/// Every variant names what was wrong so an operator can tell a truncated download from a
/// tampered file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The file does not start with the `.bca` magic bytes.
    #[error("not a Barbacane artifact (bad magic bytes)")]
    BadMagic,
    /// The input ended before the named part was complete.
    #[error("artifact is truncated: {what} is incomplete")]
    Truncated {
        /// The part that was being read.
        what: String,
    },
    /// The header length field exceeds [`crate::MAX_HEADER_LEN`].
    #[error("artifact header is {len} bytes, larger than the {max}-byte limit")]
    HeaderTooLarge {
        /// Declared length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The header is not the expected JSON object.
    #[error("artifact header is malformed: {0}")]
    HeaderJson(#[source] serde_json::Error),
    /// The header declares a format version this build cannot read.
    #[error(
        "artifact format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// Version found in the header.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// A member's bytes do not match the checksum recorded in the header.
    #[error("checksum mismatch for member `{member}`: header says {expected}, content is {actual}")]
    ChecksumMismatch {
        /// Member name.
        member: String,
        /// Checksum recorded in the header.
        expected: String,
        /// Checksum of the bytes found.
        actual: String,
    },
    /// The stored `content_hash` is not the one of the members.
    #[error("artifact content hash {stored} does not match its members ({actual})")]
    ContentHashMismatch {
        /// In the header.
        stored: String,
        /// Computed.
        actual: String,
    },
    /// Bytes follow the last member.
    #[error("artifact has {count} unexpected trailing bytes")]
    TrailingBytes {
        /// Number of extra bytes.
        count: u64,
    },
    /// A member name is empty, absolute, or escapes the artifact root.
    #[error("invalid member name `{name}`")]
    InvalidMemberName {
        /// The offending name.
        name: String,
    },
    /// Two members share a name.
    #[error("duplicate member `{name}`")]
    DuplicateMember {
        /// The duplicated name.
        name: String,
    },
    /// A member the reader needs is absent.
    #[error("artifact has no member `{name}`")]
    MissingMember {
        /// The expected name.
        name: String,
    },
    /// A member could not be decoded as the JSON it should hold.
    #[error("member `{member}` is malformed: {source}")]
    MemberJson {
        /// Member name.
        member: String,
        /// Decode error.
        #[source]
        source: serde_json::Error,
    },
    /// An input entry is unusable for the fingerprint (bad name or duplicate).
    #[error("invalid input `{kind}:{name}`: {reason}")]
    InvalidInput {
        /// Input kind.
        kind: String,
        /// Input logical name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `artifact_hash` is not the fingerprint of the inputs the header lists.
    #[error("artifact_hash {recorded} does not match its inputs (they fingerprint to {computed})")]
    FingerprintMismatch {
        /// The hash in the header.
        recorded: String,
        /// The fingerprint of the header's inputs.
        computed: String,
    },
    /// An input listed in the header is not among the members.
    #[error("input `{kind}:{name}` is listed in the header but not bundled in the artifact")]
    InputNotBundled {
        /// Input kind.
        kind: String,
        /// Input name.
        name: String,
    },
    /// Reading from the underlying reader failed.
    #[error("cannot read artifact: {0}")]
    Io(#[from] std::io::Error),
}
