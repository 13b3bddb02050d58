//! Quotas for plugins (`barbacane:ratelimit`): the types the host hands to the gateway's
//! shared state. The data plane implements [`RateLimiter`] in process or over Redis, so this
//! crate holds no counters and needs no network stack.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The outcome of one take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether a unit was taken.
    pub allowed: bool,
    /// The quota.
    pub limit: u64,
    /// Units left in the window after this take.
    pub remaining: u64,
    /// Until the oldest counted unit leaves the window (at least one unit frees up).
    pub reset: Duration,
}

/// Why a take could not be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitError {
    /// The shared state cannot be reached (Redis down, timed out).
    Unavailable(String),
}

/// The future a [`RateLimiter`] returns.
pub type LimitFuture = Pin<Box<dyn Future<Output = Result<Decision, LimitError>> + Send + 'static>>;

/// Sliding-window quotas, atomically: "take one from bucket `key`, whose quota is `quota`
/// per `window`". Implementations must not block the calling thread and must bound their
/// own waiting (a take that cannot be decided quickly is [`LimitError::Unavailable`]).
pub trait RateLimiter: Send + Sync + std::fmt::Debug + 'static {
    /// Takes one unit.
    fn take(&self, key: &str, quota: u64, window: Duration) -> LimitFuture;

    /// Whether [`RateLimiter::take_now`] always decides (an in-process limiter): plugins are
    /// then linked with a plain host call and run without a fiber.
    fn is_synchronous(&self) -> bool {
        false
    }

    /// Takes one unit without waiting; `None` when this limiter cannot (it must be awaited
    /// through [`RateLimiter::take`]).
    fn take_now(
        &self,
        _key: &str,
        _quota: u64,
        _window: Duration,
    ) -> Option<Result<Decision, LimitError>> {
        None
    }
}
