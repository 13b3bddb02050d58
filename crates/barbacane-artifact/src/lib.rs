//! The `.bca` artifact format, shared by the compiler, the data plane and the control plane.
//!
//! This crate is pure: no I/O runtime, no HTTP, no WASM. It owns
//! - the versioned [`Header`] with the provenance fingerprint ([`Header::artifact_hash`]),
//! - the container encoding ([`ArtifactBuilder::encode`], [`Artifact::from_bytes`],
//!   [`read_header`]) with a SHA-256 checksum per member, verified before anything is parsed,
//! - the input fingerprint ([`fingerprint`]), and
//! - the compiled configuration the data plane executes ([`CompiledConfig`]).
//!
//! The byte layout is specified in `docs/artifact-format.md`.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod config;
mod container;
mod error;
mod fingerprint;
mod header;
mod signing;
mod time;

pub use config::{
    CONFIG_MEMBER, CompiledConfig, Encoding, EventAction, EventMessage, EventOperation, MediaType,
    Observability, Operation, ParamLocation, ParamStyle, Parameter, PluginUse, PolicyBundle,
    RequestBody, SkippedCheck,
};
pub use container::{Artifact, ArtifactBuilder, MAGIC, MAX_HEADER_LEN, read_header};
pub use error::ArtifactError;
pub use fingerprint::{
    CONTENT_DOMAIN, FINGERPRINT_DOMAIN, Input, InputKind, content_hash, fingerprint, sha256_hex,
};
pub use header::{FORMAT_VERSION, Header, Member, Signature};
pub use signing::{
    KeyError, PrivateKey, PublicKey, SIGNATURE_DOMAIN, SignatureStatus, generate_key, key_id,
    parse_private_key, parse_public_key, private_key_pem, public_key_pem, sign_header,
    signing_payload, verify_header,
};
pub use time::rfc3339;
