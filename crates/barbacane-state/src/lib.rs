//! Shared state the gateway keeps for plugins, behind the host capabilities of
//! `barbacane-wasm`: sliding-window quotas ([`barbacane_wasm::RateLimiter`]) kept in process
//! ([`LocalLimiter`], the default) or in Redis ([`RedisLimiter`], `serve --state redis://...`)
//! so that every gateway sharing one Redis enforces one quota.
//!
//! Both backends count with the same algorithm ([`window`]), so a quota means the same in
//! both: at most `quota` units are taken in any span of `window`.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod local;
mod redis_backend;
pub mod window;

pub use local::LocalLimiter;
pub use redis_backend::{RedisLimiter, StateUrlError};

use barbacane_wasm::RateLimiter;
use std::sync::{Arc, OnceLock};

/// The process's in-memory limiter: one for the whole process, so counts survive reloads.
pub fn local() -> Arc<dyn RateLimiter> {
    static LOCAL: OnceLock<Arc<LocalLimiter>> = OnceLock::new();
    let limiter: Arc<LocalLimiter> =
        Arc::clone(LOCAL.get_or_init(|| Arc::new(LocalLimiter::new())));
    limiter
}
