//! The per-request context: string values shared by every plugin in the request's chain,
//! in both directions. Needs the `context` capability.
//!
//! ```
//! use barbacane_plugin_sdk::context;
//! # let _host = barbacane_plugin_sdk::testing::FakeHost::new();
//! context::set("tenant", "acme");
//! assert_eq!(context::get("tenant").as_deref(), Some("acme"));
//! assert_eq!(context::get("missing"), None);
//! ```

use crate::host;

/// The value of `key`, if a plugin set one for this request.
pub fn get(key: &str) -> Option<String> {
    host::context_get(key).map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// Sets `key` for the rest of this request.
pub fn set(key: &str, value: &str) {
    host::context_set(key, value)
}
