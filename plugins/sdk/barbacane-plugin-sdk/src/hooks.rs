//! Telling the gateway which hooks a request needs (`barbacane:core`, always granted).
//!
//! A middleware with nothing to do on a request's response calls [`skip_on_response`] from
//! `on_request`: the gateway then does not call its `on_response` for that request and gives
//! its instance back to the pool as soon as `on_request` returns, which saves a call into the
//! plugin and the copy of the response it would see. It applies to the current request only
//! (the next one starts without it), whether `on_request` continues or answers.
//!
//! ```
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! use barbacane_plugin_sdk::hooks;
//! hooks::skip_on_response();
//! ```

use crate::host;

/// This request's `on_response` is not needed: the gateway will not call it.
pub fn skip_on_response() {
    host::skip_on_response();
}
