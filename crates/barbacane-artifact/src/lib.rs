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
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod config;
mod container;
mod error;
mod fingerprint;
mod header;

pub use config::{
    CompiledConfig, MediaType, Operation, ParamLocation, ParamStyle, Parameter, PluginUse,
    RequestBody, CONFIG_MEMBER,
};
pub use container::{read_header, Artifact, ArtifactBuilder, MAGIC, MAX_HEADER_LEN};
pub use error::ArtifactError;
pub use fingerprint::{fingerprint, sha256_hex, Input, InputKind, FINGERPRINT_DOMAIN};
pub use header::{Header, Member, FORMAT_VERSION};
