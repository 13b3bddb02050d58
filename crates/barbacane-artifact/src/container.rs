//! Byte layout (version 1), all integers little-endian:
//!
//! ```text
//! magic        8 bytes   89 42 43 41 0D 0A 1A 0A   ("\x89BCA\r\n\x1a\n")
//! header_len   4 bytes   u32, at most MAX_HEADER_LEN
//! header       header_len bytes of UTF-8 JSON (a `Header`)
//! members      each member's bytes, back to back, in `header.members` order; nothing after
//! ```
//!
//! The magic catches text-mode transfers that rewrite line endings. Members are verified
//! against their checksums before the caller sees any of them.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;

use crate::{ArtifactError, FORMAT_VERSION, Header, Input, Member, sha256_hex};

/// The first eight bytes of every `.bca` file.
pub const MAGIC: [u8; 8] = *b"\x89BCA\r\n\x1a\n";
/// Upper bound on the header size; a larger length field means a corrupt or hostile file.
pub const MAX_HEADER_LEN: u32 = 16 * 1024 * 1024;

/// A verified artifact: the header and every member's bytes.
#[derive(Debug, Clone)]
pub struct Artifact {
    header: Header,
    members: BTreeMap<String, Vec<u8>>,
    content_hash: String,
}

impl Artifact {
    /// Decodes and verifies an artifact held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        Artifact::read(bytes)
    }

    /// Decodes and verifies an artifact from a reader: the magic, the header, then each member,
    /// whose checksum must match before it is kept. Trailing bytes are an error.
    pub fn read(mut reader: impl Read) -> Result<Artifact, ArtifactError> {
        let header = read_header(&mut reader)?;
        let mut members = BTreeMap::new();
        for member in &header.members {
            check_member_name(&member.name)?;
            let mut bytes = Vec::new();
            let read = (&mut reader).take(member.size).read_to_end(&mut bytes)?;
            if (read as u64) < member.size {
                return Err(ArtifactError::Truncated {
                    what: format!("member `{}`", member.name),
                });
            }
            let actual = sha256_hex(&bytes);
            if !actual.eq_ignore_ascii_case(&member.sha256) {
                return Err(ArtifactError::ChecksumMismatch {
                    member: member.name.clone(),
                    expected: member.sha256.clone(),
                    actual,
                });
            }
            if members.insert(member.name.clone(), bytes).is_some() {
                return Err(ArtifactError::DuplicateMember {
                    name: member.name.clone(),
                });
            }
        }
        let mut rest = [0u8; 1];
        let mut extra = 0u64;
        loop {
            match reader.read(&mut rest)? {
                0 => break,
                n => extra += n as u64,
            }
            if extra > 1024 * 1024 {
                break;
            }
        }
        if extra > 0 {
            return Err(ArtifactError::TrailingBytes { count: extra });
        }
        check_inputs(&header)?;
        // Recomputed from the verified member list, never taken from the header.
        let content_hash = crate::content_hash(&header.members);
        if let Some(stored) = &header.content_hash
            && *stored != content_hash
        {
            return Err(ArtifactError::ContentHashMismatch {
                stored: stored.clone(),
                actual: content_hash,
            });
        }
        Ok(Artifact {
            header,
            members,
            content_hash,
        })
    }

    /// The content hash, as computed from the verified members.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The provenance header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The bytes of a member, if present.
    pub fn member(&self, name: &str) -> Option<&[u8]> {
        self.members.get(name).map(Vec::as_slice)
    }

    /// A member decoded as JSON.
    pub fn member_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<T, ArtifactError> {
        let bytes = self
            .member(name)
            .ok_or_else(|| ArtifactError::MissingMember {
                name: name.to_owned(),
            })?;
        serde_json::from_slice(bytes).map_err(|source| ArtifactError::MemberJson {
            member: name.to_owned(),
            source,
        })
    }

    /// Member names in order.
    pub fn member_names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }
}

/// Reads only the magic and the header, leaving the members unread (for `inspect` and
/// provenance listings). The member checksums are *not* verified by this call.
pub fn read_header(mut reader: impl Read) -> Result<Header, ArtifactError> {
    let mut magic = [0u8; 8];
    read_exact(&mut reader, &mut magic, "magic")?;
    if magic != MAGIC {
        return Err(ArtifactError::BadMagic);
    }
    let mut len = [0u8; 4];
    read_exact(&mut reader, &mut len, "header length")?;
    let len = u32::from_le_bytes(len);
    if len > MAX_HEADER_LEN {
        return Err(ArtifactError::HeaderTooLarge {
            len: u64::from(len),
            max: u64::from(MAX_HEADER_LEN),
        });
    }
    let mut bytes = Vec::new();
    let read = (&mut reader).take(u64::from(len)).read_to_end(&mut bytes)?;
    if read < len as usize {
        return Err(ArtifactError::Truncated {
            what: "header".into(),
        });
    }
    // Read the version first so a future format gives a version error, not a schema error.
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: u32,
    }
    let version: Version = serde_json::from_slice(&bytes).map_err(ArtifactError::HeaderJson)?;
    if version.format_version != FORMAT_VERSION {
        return Err(ArtifactError::UnsupportedVersion {
            found: version.format_version,
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_slice(&bytes).map_err(ArtifactError::HeaderJson)
}

/// Binds the header's provenance to its content: `artifact_hash` must be the fingerprint of the
/// listed inputs, and every file input must be present as a member with the same SHA-256.
/// Editing the hash, or the inputs list, without the matching members is detected here;
/// a full, consistent forgery needs the signature check to catch it.
fn check_inputs(header: &Header) -> Result<(), ArtifactError> {
    let (expected, _) = crate::fingerprint(header.inputs.clone())?;
    if expected != header.artifact_hash {
        return Err(ArtifactError::FingerprintMismatch {
            recorded: header.artifact_hash.clone(),
            computed: expected,
        });
    }
    // Linear: a header listing many inputs must not cost inputs x members comparisons.
    let bundled: std::collections::HashSet<String> = header
        .members
        .iter()
        .map(|m| m.sha256.to_ascii_lowercase())
        .collect();
    for input in header
        .inputs
        .iter()
        .filter(|i| i.kind != crate::InputKind::Option)
    {
        if !bundled.contains(&input.sha256.to_ascii_lowercase()) {
            return Err(ArtifactError::InputNotBundled {
                kind: input.kind.to_string(),
                name: input.name.clone(),
            });
        }
    }
    Ok(())
}

fn read_exact(reader: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), ArtifactError> {
    reader.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ArtifactError::Truncated { what: what.into() },
        _ => ArtifactError::Io(e),
    })
}

fn check_member_name(name: &str) -> Result<(), ArtifactError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains(['\\', '\0'])
        || name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(ArtifactError::InvalidMemberName { name: name.into() });
    }
    Ok(())
}

/// Assembles an artifact. Members are written sorted by name and the JSON is produced by
/// serde from ordered types, so the same inputs give byte-identical output.
#[derive(Debug, Clone, Default)]
pub struct ArtifactBuilder {
    /// `sha256:<hex>` input fingerprint.
    pub artifact_hash: String,
    /// RFC 3339 UTC build time.
    pub build_timestamp: String,
    /// Compiler version.
    pub compiler_version: String,
    /// Inputs in canonical order.
    pub inputs: Vec<Input>,
    /// `--provenance-commit`.
    pub provenance_commit: Option<String>,
    /// `--provenance-source`.
    pub provenance_source: Option<String>,
    /// `--provenance KEY=VALUE` pairs.
    pub metadata: BTreeMap<String, String>,
    members: BTreeMap<String, Vec<u8>>,
}

impl ArtifactBuilder {
    /// Adds (or replaces) a member.
    pub fn add_member(
        &mut self,
        name: impl Into<String>,
        bytes: Vec<u8>,
    ) -> Result<&mut Self, ArtifactError> {
        let name = name.into();
        check_member_name(&name)?;
        self.members.insert(name, bytes);
        Ok(self)
    }

    /// Adds a member serialized as JSON.
    pub fn add_json_member(
        &mut self,
        name: impl Into<String>,
        value: &impl Serialize,
    ) -> Result<&mut Self, ArtifactError> {
        let name = name.into();
        let bytes = serde_json::to_vec(value).map_err(|source| ArtifactError::MemberJson {
            member: name.clone(),
            source,
        })?;
        self.add_member(name, bytes)
    }

    /// The header this builder would write (unsigned).
    pub fn header(&self) -> Header {
        let mut header = Header {
            format_version: FORMAT_VERSION,
            artifact_hash: self.artifact_hash.clone(),
            build_timestamp: self.build_timestamp.clone(),
            compiler_version: self.compiler_version.clone(),
            inputs: self.inputs.clone(),
            provenance_commit: self.provenance_commit.clone(),
            provenance_source: self.provenance_source.clone(),
            metadata: self.metadata.clone(),
            members: self
                .members
                .iter()
                .map(|(name, bytes)| Member {
                    name: name.clone(),
                    size: bytes.len() as u64,
                    sha256: sha256_hex(bytes),
                })
                .collect(),
            content_hash: None,
            signature: None,
        };
        header.content_hash = Some(crate::content_hash(&header.members));
        header
    }

    /// Encodes the artifact, unsigned.
    pub fn encode(&self) -> Result<Vec<u8>, ArtifactError> {
        self.encode_with_header(&self.header())
    }

    /// Encodes the artifact with its header signed by `key`.
    pub fn encode_signed(&self, key: &crate::PrivateKey) -> Result<Vec<u8>, ArtifactError> {
        let mut header = self.header();
        crate::sign_header(&mut header, key);
        self.encode_with_header(&header)
    }

    fn encode_with_header(&self, header: &Header) -> Result<Vec<u8>, ArtifactError> {
        let header = serde_json::to_vec(header).map_err(ArtifactError::HeaderJson)?;
        let len = u32::try_from(header.len())
            .ok()
            .filter(|len| *len <= MAX_HEADER_LEN)
            .ok_or(ArtifactError::HeaderTooLarge {
                len: header.len() as u64,
                max: u64::from(MAX_HEADER_LEN),
            })?;
        let body: usize = self.members.values().map(Vec::len).sum();
        let mut out = Vec::with_capacity(12 + header.len() + body);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&header);
        for bytes in self.members.values() {
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }
}
