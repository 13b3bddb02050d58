//! The compiler: OpenAPI specs, the project manifest and plugins in, a sealed `.bca` out.
//!
//! [`compile`] collects *every* diagnostic before failing, so one run shows all problems.
//! The data plane never links this crate: it only reads what [`compile`] writes.
//!
//! Steps: load the manifest, load every spec and the files its `$ref`s reach, build the
//! typed model, check the `x-barbacane-*` extensions and plugin configurations, register
//! every route with the router (the same code the data plane uses, so conflicts found here
//! are exactly the ones that would bite at run time), bundle and precompile every schema
//! (a schema that cannot compile fails the build), fingerprint the inputs, write the artifact.
// Diagnostics are large and only travel the cold, compile-time error path.
#![allow(clippy::result_large_err)]

mod build;
mod extensions;
mod lifecycle;
mod manifest;
mod observability;
mod operations;
mod options;
mod plugins;
mod policies;
mod ratelimit_sugar;
mod secret_fields;
mod security;
mod upstream_config;

pub use barbacane_spec::{Code, Diagnostic, FileSystem, LocalFs, MemoryFs, Severity};
pub use build::{CompileOutput, compile};
pub use extensions::BUILTIN_DISPATCHERS;
pub use manifest::{Manifest, PluginEntry};
pub use options::CompileOptions;

/// Whether `name` needs no declaration: a dispatcher built into the data plane or an
/// official plugin embedded in the compiler.
pub fn is_built_in(name: &str) -> bool {
    BUILTIN_DISPATCHERS.contains(&name) || barbacane_plugins::find(name).is_some()
}

/// The compiler's version, recorded in every artifact header.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs every check of [`compile`] without producing an artifact.
pub fn validate(fs: &dyn FileSystem, options: &CompileOptions) -> Vec<Diagnostic> {
    match compile(fs, options) {
        Ok(out) => out.warnings,
        Err(diagnostics) => diagnostics,
    }
}
