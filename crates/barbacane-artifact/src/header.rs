use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::Input;

/// The container format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The metadata header: readable without touching the members (see [`crate::read_header`]).
///
/// Field names are part of the product's interface (`barbacane inspect --json`,
/// `GET /_admin/provenance`); never rename them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Container format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// `sha256:<hex>` over the canonical input manifest (see [`crate::fingerprint`]).
    pub artifact_hash: String,
    /// RFC 3339 UTC build time (from `SOURCE_DATE_EPOCH` when set).
    pub build_timestamp: String,
    /// Version of the compiler that built the artifact.
    pub compiler_version: String,
    /// Every input, in canonical order.
    pub inputs: Vec<Input>,
    /// Source revision, from `--provenance-commit`.
    pub provenance_commit: Option<String>,
    /// Where the sources came from, from `--provenance-source`.
    pub provenance_source: Option<String>,
    /// Free-form `--provenance KEY=VALUE` pairs.
    pub metadata: BTreeMap<String, String>,
    /// Checksums of every member, in the order their bytes follow the header.
    pub members: Vec<Member>,
    /// `sha256:<hex>` over the canonical member list (see [`crate::content_hash`]): what was
    /// compiled, independent of the build time. Recomputed by every reader, which refuses an
    /// artifact whose stored value differs; absent in artifacts written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Ed25519 signature over the rest of the header (absent when unsigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A detached signature over the header (see [`crate::signing_payload`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// First 16 hex digits of the SHA-256 of the raw 32-byte public key.
    pub key_id: String,
    /// Base64 (standard, padded) of the 64-byte signature.
    pub value: String,
}

/// One file stored in the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Relative name, e.g. `config.json` or `specs/petstore.yaml`.
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
}
