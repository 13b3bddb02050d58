//! The host interface the rest of the SDK is written against. On `wasm32` it calls the
//! gateway's imports (`wasm.rs`); natively it talks to the in-process fake of
//! [`crate::testing`], so the same plugin code is unit-testable.

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod fake;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use fake::*;

/// A `ratelimit.take`: `(allowed, remaining, reset_ms)`, or the host's code (-1
/// unavailable, -2 invalid) and message.
pub(crate) type RateLimitAnswer = Result<(bool, u64, u64), (i32, String)>;

/// Which message a header or body accessor works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
}
