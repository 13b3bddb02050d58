//! Quotas in process: 64 shards, each a mutex over a map from key to [`Window`]. A take
//! locks one shard for a few hundred nanoseconds; keys spread over shards by hash, so
//! concurrent requests rarely meet. Memory is bounded: every 256 takes, one shard (in turn)
//! forgets its idle keys, and a shard holding [`MAX_KEYS_PER_SHARD`] keys forgets an
//! arbitrary one before adding another (only a flood of distinct keys gets there; the key
//! forgotten loses its counts).

use barbacane_wasm::{Decision, LimitFuture, RateLimiter};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::window::Window;

const SHARDS: usize = 64;
/// Keys one shard holds at most (64 shards: about 262,000 keys, a few hundred bytes each).
pub const MAX_KEYS_PER_SHARD: usize = 4096;
const SWEEP_EVERY: usize = 256;

#[derive(Default)]
struct Shard {
    keys: HashMap<String, Entry>,
}

struct Entry {
    window: Window,
    window_ms: u64,
}

/// The in-process [`RateLimiter`].
pub struct LocalLimiter {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    start: Instant,
    takes: AtomicUsize,
}

impl std::fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter").finish_non_exhaustive()
    }
}

impl Default for LocalLimiter {
    fn default() -> Self {
        LocalLimiter::new()
    }
}

impl LocalLimiter {
    /// An empty limiter.
    pub fn new() -> LocalLimiter {
        LocalLimiter {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            start: Instant::now(),
            takes: AtomicUsize::new(0),
        }
    }

    /// Milliseconds on this limiter's clock: monotonic, so a wall-clock step never frees or
    /// spends quota.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes one unit at `now_ms` (milliseconds on this limiter's clock).
    pub fn take_at(&self, key: &str, quota: u64, window: Duration, now_ms: u64) -> Decision {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let takes = self.takes.fetch_add(1, Ordering::Relaxed);
        if takes % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let turn = (takes / SWEEP_EVERY) % SHARDS;
            sweep(&mut lock(&self.shards[turn]), now_ms);
        }
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut shard = lock(&self.shards[index]);
        if !shard.keys.contains_key(key) && shard.keys.len() >= MAX_KEYS_PER_SHARD {
            let any = shard.keys.keys().next().cloned();
            if let Some(k) = any {
                shard.keys.remove(&k);
            }
        }
        let entry = match shard.keys.get_mut(key) {
            Some(e) => e,
            None => shard.keys.entry(key.to_owned()).or_insert(Entry {
                window: Window::default(),
                window_ms,
            }),
        };
        entry.window_ms = window_ms;
        let taken = entry.window.take(now_ms, quota, window_ms);
        Decision {
            allowed: taken.allowed,
            limit: quota,
            remaining: taken.remaining,
            reset: Duration::from_millis(taken.reset_ms),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.keys.len()))
            .sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves counts that are still consistent.
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sweep(shard: &mut Shard, now_ms: u64) {
    shard.keys.retain(|_, e| {
        e.window.expire(now_ms, e.window_ms);
        !e.window.is_empty()
    });
}

impl RateLimiter for LocalLimiter {
    fn take(&self, key: &str, quota: u64, window: Duration) -> LimitFuture {
        let decision = self.take_at(key, quota, window, self.now_ms());
        Box::pin(std::future::ready(Ok(decision)))
    }

    fn is_synchronous(&self) -> bool {
        true
    }

    fn take_now(
        &self,
        key: &str,
        quota: u64,
        window: Duration,
    ) -> Option<Result<Decision, barbacane_wasm::LimitError>> {
        Some(Ok(self.take_at(key, quota, window, self.now_ms())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_independent_and_bounded() {
        let l = LocalLimiter::new();
        let w = Duration::from_secs(10);
        assert!(l.take_at("a", 1, w, 0).allowed);
        assert!(!l.take_at("a", 1, w, 1).allowed);
        assert!(l.take_at("b", 1, w, 1).allowed);
        for i in 0..(SHARDS * MAX_KEYS_PER_SHARD + 1000) {
            l.take_at(&format!("k{i}"), 5, w, 2);
        }
        assert!(l.len() <= SHARDS * MAX_KEYS_PER_SHARD);
        // Idle keys go once every shard has had its turn.
        for i in 0..(SWEEP_EVERY * SHARDS + 1) {
            l.take_at(
                &format!("late{}", i % 8),
                1_000_000,
                Duration::from_millis(1),
                60_000,
            );
        }
        assert!(l.len() <= 8, "{}", l.len());
    }
}
