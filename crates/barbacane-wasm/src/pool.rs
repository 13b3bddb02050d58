//! Initialized instances of one (plugin, configuration) pair, kept between requests.
//!
//! A request checks an instance out for its whole span (`on_request` .. `on_response`, or
//! `dispatch`) and gives it back when it is done with it ([`crate::Call::into_exchange`]).
//! Guest memory persists across requests; the host's per-request state is reset on return
//! (`HostState::reset`). An instance that trapped, timed out, hit its memory limit or was
//! dropped mid-call is never given back: the next request gets a fresh, initialized one.
//!
//! The number of instances one pool has alive (idle or checked out) is bounded by its
//! semaphore: an instance is only created when none is idle, while holding a permit, so a
//! pool never holds more instances than it has permits. Idle instances occupy slots of the
//! engine's pooling allocator; when the engine runs out of slots, idle instances of every
//! pool are dropped to make room ([`crate::Runtime`] keeps a list of the pools).

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::{Instance, Store};

use crate::state::HostState;

/// A live instance and its store.
pub(crate) struct Live {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: Instance,
    /// The `() -> i32` hooks, resolved and type-checked once per instance: `Func::typed`
    /// checks the signature against the engine's type registry on every call otherwise
    /// (measurable on a middleware's per-request cost).
    pub(crate) hooks: [Option<wasmtime::TypedFunc<(), i32>>; 3],
}

/// The instances of one (plugin, configuration) pair.
pub(crate) struct Pool {
    idle: Mutex<Vec<Live>>,
    permits: Arc<Semaphore>,
    /// `isolation = "instance"`: instances go back to `idle` after a request.
    reuse: bool,
}

impl Pool {
    pub(crate) fn new(max_instances: usize, reuse: bool) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_instances.max(1))),
            reuse,
        }
    }

    /// A permit if one is free now (no timer, no runtime needed).
    pub(crate) fn try_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    /// A permit, waiting at most `wait` for one (on the tokio runtime's timer).
    pub(crate) async fn permit(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        if let Some(permit) = self.try_permit() {
            return Some(permit);
        }
        tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// An idle instance, most recently used first (its memory is the warmest).
    pub(crate) fn take_idle(&self) -> Option<Live> {
        self.idle.lock().ok()?.pop()
    }

    /// Keeps `live` for the next request (or drops it when this pool does not reuse).
    pub(crate) fn give_back(&self, mut live: Live) {
        if !self.reuse {
            return;
        }
        live.store.data_mut().reset();
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(live);
        }
    }

    /// Drops up to `n` idle instances; returns how many.
    pub(crate) fn trim(&self, n: usize) -> usize {
        let dropped: Vec<Live> = match self.idle.lock() {
            Ok(mut idle) => {
                let keep = idle.len().saturating_sub(n);
                idle.drain(keep..).collect()
            }
            Err(_) => return 0,
        };
        // Dropped outside the lock: freeing a slot is not free.
        dropped.len()
    }

    /// Whether instances are kept between requests.
    pub(crate) fn reuses(&self) -> bool {
        self.reuse
    }

    /// Idle instances now.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }
}
