//! The wasmtime host for Barbacane plugins (ABI v1, see `barbacane-plugin-abi` and
//! `docs/plugin-abi.md`).
//!
//! - [`Runtime`]: one engine per process — pooling allocator with copy-on-write memory
//!   images, 1 MiB wasm stack, 16 MiB linear memory per instance, epoch interruption driven by
//!   a ticker thread so every call is cut off after 100 ms.
//! - [`Plugin`]: a compiled module whose imports were checked against the capabilities its
//!   `plugin.toml` declares (an undeclared import is refused here, at load time, and the
//!   linker only contains the declared capabilities' functions anyway).
//! - [`Prepared`]: a plugin with one configuration, `init` already proven to accept it, and
//!   its pool of initialized instances (`pool.rs`). Two configurations never share an
//!   instance.
//! - [`Call`]: one request's checkout of an instance: `on_request`, `on_response`,
//!   `dispatch`. Instances are reused across requests (guest memory persists, the host's
//!   per-request state is reset); a plugin declaring `isolation = "request"` gets a fresh
//!   instance per request, and an instance whose guest failed is never reused.
//!
//! Host functions live in `host/`, one module per capability, registered one function at a
//! time; every guest-memory access goes through `memory::GuestMemory`.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod background;
mod cache;
mod cache_hits;
mod error;
mod events;
mod host;
mod instance;
mod limit_rule;
mod limiter;
mod memory;
mod near_cache;
mod outbound;
mod policy;
mod pool;
mod runtime;
mod secrets;
mod state;
pub mod stats;

pub use cache::{
    CacheError, CacheGet, CacheGetFuture, CacheKey, CachePutFuture, CachedResponse, ResponseCache,
    SharedCache,
};
pub use cache_hits::{CacheStep, Head, PreLookup};
pub use error::WasmError;
pub use events::{
    DEFAULT_PUBLISH_TIMEOUT, EventBus, KafkaPublish, MAX_PUBLISH_TIMEOUT, NatsPublish, PublishAck,
    PublishError, PublishFuture,
};
pub use instance::{BodyNeeds, Call, PoolOptions, Prepared, StartError};
pub use limit_rule::LimitStep;
pub use limiter::{Decision, LimitError, LimitFuture, RateLimiter};
pub use outbound::{
    DEFAULT_TIMEOUT, HttpClient, MAX_RESPONSE_BODY, MAX_TIMEOUT, OutboundError, OutboundFuture,
    OutboundRequest, OutboundResponse,
};
pub use policy::{PolicyError, PolicySet};
pub use runtime::{Limits, Plugin, Runtime};
pub use secrets::{SecretValue, Secrets};
pub use state::{ExchangeState, GuestSpan, RateLimitFields, ResponseState};
