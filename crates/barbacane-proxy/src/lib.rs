//! The Barbacane data plane: loads a verified artifact into a [`Snapshot`] and serves it.
//!
//! The request path is a fixed sequence of phases (see `docs/phases.md`):
//!
//! ```text
//! limits -> route -> validate -> dispatch -> finish
//! ```
//!
//! Each phase is a module under `phases`; [`pipeline`] is the short driver that runs them.
//! Any failure is a [`GatewayError`], turned into an RFC 9457 problem response in exactly one
//! place, and every response, success or error, goes through `finish`, which stamps the
//! standard headers.
//!
//! Only this crate knows hyper. The live configuration is one [`Snapshot`] (router,
//! validators, dispatchers) behind an atomic pointer, swapped as a whole.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod access_log;
pub mod admin;
mod body;
mod client_cert;
mod config;
pub mod conn;
pub mod connected;
mod dispatch;
mod error;
pub mod metrics;
pub mod otel;
mod phases;
pub mod pipeline;
mod plugins;
mod problem;
pub mod reload;
pub mod secrets;
mod server;
mod snapshot;
pub mod tls;
mod trace;
mod trim;
mod worker;

pub use config::{Limits, ServeConfig};
pub use error::GatewayError;
pub use server::{Gateway, Listening};
pub use snapshot::{LoadError, LoadOptions, Snapshot, read_source as snapshot_source};

pub use body::Body;

/// The HTTP client the data plane gives plugins that declare `http` (the shared, pooled
/// upstream client). Exposed for test harnesses that run plugins outside a gateway.
pub fn plugin_http_client() -> Result<std::sync::Arc<dyn barbacane_wasm::HttpClient>, String> {
    dispatch::PluginHttpClient::shared()
}

/// Compiles the plugin modules an artifact bundles, filling the module cache when it is on
/// (`barbacane compile` does this so the first `serve` starts warm). Returns how many
/// modules the artifact has.
pub fn precompile_plugins(artifact: &[u8]) -> Result<usize, barbacane_artifact::ArtifactError> {
    let artifact = barbacane_artifact::Artifact::from_bytes(artifact)?;
    Ok(plugins::precompile(&artifact))
}

/// `Server` header value.
pub const SERVER: &str = concat!("barbacane/", env!("CARGO_PKG_VERSION"));

/// Process exit codes of `barbacane serve` at startup (documented in `docs/exit-codes.md`).
pub mod exit_code {
    /// Invalid configuration values (command-line syntax errors exit 2, from the parser).
    pub const USAGE: i32 = 10;
    /// The artifact cannot be read, is corrupt, tampered with, or of an unsupported version.
    pub const ARTIFACT_INVALID: i32 = 11;
    /// The artifact is intact but its configuration cannot be loaded (schema, dispatcher).
    pub const CONFIG_INVALID: i32 = 12;
    /// A secret reference of the artifact (or `--tls-key`) cannot be resolved.
    pub const SECRET_UNRESOLVED: i32 = 13;
    /// The listen address cannot be bound.
    pub const BIND_FAILED: i32 = 14;
    /// A security posture rule refuses to start (non-loopback admin bind without a token).
    pub const POSTURE_REFUSED: i32 = 15;
    /// `--require-signature`: the artifact is unsigned or its signature does not verify.
    pub const SIGNATURE_REJECTED: i32 = 16;
}
