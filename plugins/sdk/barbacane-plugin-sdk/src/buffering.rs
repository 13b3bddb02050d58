//! Asking the gateway to hold whole bodies for this middleware (`barbacane:core`, always
//! granted). Call these from [`crate::Middleware::init`]; they are remembered for the
//! configuration being initialized and apply to every request of every operation using it.
//!
//! By default a request body reaches middlewares only when the gateway read it anyway (an
//! operation with a body schema, or a dispatcher that wants it), and a proxied response body
//! is streamed through without middlewares seeing it. A plugin that transforms or stores
//! bodies asks for them here. The gateway then buffers them up to 8 MiB (and the request
//! size limit); a larger body still streams through, unseen (`body()` is `None`), so ask only
//! when the configuration needs it: buffering delays the first byte.
//!
//! ```
//! # let _host = barbacane_plugin_sdk::testing::FakeHost::new();
//! use barbacane_plugin_sdk::buffering;
//! assert!(buffering::response_body());
//! ```

use crate::host;

/// Bit of `core.buffer_bodies` asking for request bodies.
const REQUEST: i32 = 1;
/// Bit of `core.buffer_bodies` asking for response bodies.
const RESPONSE: i32 = 2;

/// Asks for request bodies in `on_request`. `false` outside `init` (the host ignores it).
pub fn request_body() -> bool {
    host::want_bodies(REQUEST)
}

/// Asks for response bodies in `on_response`. `false` outside `init`.
pub fn response_body() -> bool {
    host::want_bodies(RESPONSE)
}
