//! Supply-chain evidence for `.bca` artifacts, produced from the artifact alone so that the
//! CLI, the control plane and an auditor's machine derive the same documents:
//!
//! - [`sbom`]: a CycloneDX 1.6 JSON bill of materials (artifact, specs, plugins, compiler),
//! - [`oci`]: OCI labels ([`oci::labels`]) and an OCI image layout holding the artifact as an
//!   OCI artifact ([`oci::write_layout`], [`oci::read_layout`]),
//! - [`attestation`]: an in-toto Statement v1 with a SLSA v1 provenance predicate, wrapped in
//!   a DSSE envelope signed with the artifact signing key ([`dsse`]), and its verification.
//!
//! Everything is deterministic for the same inputs: no clock, no randomness. Formats are
//! specified in `docs/supply-chain.md`.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod attestation;
pub mod dsse;
pub mod oci;
pub mod sbom;

/// Lowercase hex SHA-256 of `bytes` (re-exported for callers that hash the `.bca` file).
pub use barbacane_artifact::sha256_hex;
