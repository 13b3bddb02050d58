//! Shared state the gateway keeps for plugins, behind the host capabilities of
//! `barbacane-wasm`: sliding-window quotas ([`barbacane_wasm::RateLimiter`]) kept in process
//! ([`LocalLimiter`], the default) or in Redis ([`RedisLimiter`], `serve --state redis://...`)
//! so that every gateway sharing one Redis enforces one quota.
//!
//! Responses cached by plugins ([`barbacane_wasm::ResponseCache`]) are kept the same two
//! ways: [`LocalCache`] (bounded in bytes) or [`RedisCache`], on the same connection.
//!
//! Both backends count with the same algorithm ([`window`]), so a quota means the same in
//! both: at most `quota` units are taken in any span of `window`.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cache_codec;
mod cache_local;
mod cache_redis;
mod local;
mod redis_backend;
mod redis_conn;
pub mod window;

pub use cache_local::{DEFAULT_CACHE_BYTES, LocalCache};
pub use cache_redis::RedisCache;
pub use local::LocalLimiter;
pub use redis_backend::RedisLimiter;
pub use redis_conn::{RedisConn, StateUrlError};

use barbacane_wasm::RateLimiter;
use std::sync::{Arc, OnceLock};

/// The process's in-memory limiter: one for the whole process, so counts survive reloads.
pub fn local() -> Arc<dyn RateLimiter> {
    static LOCAL: OnceLock<Arc<LocalLimiter>> = OnceLock::new();
    let limiter: Arc<LocalLimiter> =
        Arc::clone(LOCAL.get_or_init(|| Arc::new(LocalLimiter::new())));
    limiter
}

/// The process's in-memory response cache ([`DEFAULT_CACHE_BYTES`]), made on first use: one
/// for the whole process, so entries survive reloads.
pub fn local_cache() -> Arc<barbacane_wasm::SharedCache> {
    local_cache_sized(DEFAULT_CACHE_BYTES)
}

/// [`local_cache`], bounded to `max_bytes` if this is the first call (`serve
/// --cache-memory`); later calls return the same cache whatever they ask.
pub fn local_cache_sized(max_bytes: u64) -> Arc<barbacane_wasm::SharedCache> {
    static CACHE: OnceLock<Arc<barbacane_wasm::SharedCache>> = OnceLock::new();
    Arc::clone(
        CACHE
            .get_or_init(|| barbacane_wasm::SharedCache::new(Arc::new(LocalCache::new(max_bytes)))),
    )
}
