//! Write Barbacane plugins in Rust.
//!
//! A plugin is a struct holding its configuration plus one trait implementation. For each
//! instance the gateway creates, it deserializes the configuration of that use into the
//! struct (serde, from JSON) once; the instance then serves request after request, calling
//! the hooks:
//!
//! ```
//! use barbacane_plugin_sdk::prelude::*;
//!
//! /// Refuses requests without an API version header.
//! #[barbacane_middleware]
//! #[derive(serde::Deserialize)]
//! struct RequireVersion {
//!     #[serde(default = "default_header")]
//!     header: String,
//! }
//!
//! fn default_header() -> String {
//!     "api-version".into()
//! }
//!
//! impl Middleware for RequireVersion {
//!     fn on_request(&mut self, request: &mut Request) -> Action {
//!         match request.header(&self.header) {
//!             Some(_) => Action::Continue,
//!             None => Action::Respond(OutgoingResponse::problem(
//!                 400,
//!                 "missing-api-version",
//!                 "The request has no API version header",
//!             )),
//!         }
//!     }
//! }
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! # let mut plugin: RequireVersion = serde_json::from_str("{}").unwrap();
//! # assert!(matches!(host.on_request(&mut plugin), Action::Respond(_)));
//! ```
//!
//! Build it as a `cdylib` for `wasm32-unknown-unknown` and ship the `.wasm` with a
//! `plugin.toml` that declares the capabilities it uses (here `request` and `response`: a
//! middleware can always answer early, which writes the response). The contract underneath
//! (exports, host functions, encodings) is `docs/plugin-abi.md`.
//!
//! The same code runs natively against [`testing::FakeHost`], so plugin logic is
//! unit-tested with `cargo test` and no gateway.
//!
//! An instance serves many requests one after the other (unless its `plugin.toml` says
//! `isolation = "request"`), so the plugin struct, and anything it keeps, lives across
//! requests, and memory is freed as in any Rust program (the standard allocator).
#![deny(missing_docs)]

mod action;
pub mod buffering;
pub mod cache;
pub mod clock;
pub mod context;
pub mod crypto;
pub mod events;
pub mod hooks;
mod host;
pub mod http;
pub mod log;
pub mod policy;
pub mod random;
pub mod ratelimit;
mod request;
mod response;
pub mod secrets;
pub mod telemetry;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[doc(hidden)]
pub mod __private;

pub use action::{Action, OutgoingResponse};
pub use barbacane_plugin_sdk_macros::{barbacane_dispatcher, barbacane_middleware};
pub use request::Request;
pub use response::Response;

/// A value the host refused: an invalid header name or value, a path that does not start
/// with `/`, a status outside 100-599, a malformed method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the gateway refused the value")
    }
}

impl std::error::Error for Refused {}

/// A middleware: runs before the dispatcher (`on_request`, in chain order) and after it
/// (`on_response`, in reverse order).
pub trait Middleware {
    /// Called once per instance, after the configuration was deserialized: check it and
    /// precompute what the hooks need. An error refuses the configuration (the gateway then
    /// refuses to load it, so requests never see this).
    fn init(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// Inspects or changes the request, then lets it go on or answers it.
    fn on_request(&mut self, request: &mut Request) -> Action;

    /// Inspects or changes the response. The request is not readable here: copy what you
    /// need into [`context`] during `on_request`.
    ///
    /// The default does nothing, and once it has run the plugin asks the gateway to stop
    /// calling it ([`hooks::skip_on_response`] from every `on_request`): a middleware that
    /// only looks at requests costs one call into the plugin per request.
    fn on_response(&mut self, response: &mut Response) {
        let _ = response;
        __private::default_on_response_ran();
    }
}

/// A dispatcher: produces the response of an operation.
pub trait Dispatcher {
    /// As [`Middleware::init`].
    fn init(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// Answers the request.
    fn dispatch(&mut self, request: &mut Request) -> OutgoingResponse;
}

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{
        Action, Dispatcher, Middleware, OutgoingResponse, Refused, Request, Response,
        barbacane_dispatcher, barbacane_middleware, context,
    };
}
