//! Secrets by reference (`secrets` capability): a configuration names a secret
//! (`env://NAME`, `file:///path`), never contains it, and the plugin resolves it when it
//! needs it. Artifacts therefore never hold secret values.

use crate::host;

/// The value behind `reference`, or `None` when it cannot be resolved (unset variable,
/// unreadable file, unsupported scheme).
pub fn get(reference: &str) -> Option<String> {
    host::secret(reference).map(|v| String::from_utf8_lossy(&v).into_owned())
}
