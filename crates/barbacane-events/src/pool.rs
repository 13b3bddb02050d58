//! Clients shared per endpoint string, created on first use.
//!
//! Each endpoint has a [`Slot`] that lives as long as the [`Brokers`](crate::Brokers) (the
//! endpoints come from configuration, so their number is bounded by it). A slot holds one
//! client at a time behind an async once-cell: concurrent first uses wait for the same
//! connection attempt instead of making two clients, and a failed attempt leaves the cell
//! empty for the next caller. [`Slot::reset`] replaces a client that proved broken; the next
//! caller builds a new one.

use crate::stats::{Counters, Health};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// One generation of a slot's client; compared by pointer in [`Slot::reset`].
pub(crate) type Generation<T> = Arc<OnceCell<T>>;

#[derive(Debug)]
pub(crate) struct Pool<T> {
    kind: &'static str,
    slots: Mutex<HashMap<String, Arc<Slot<T>>>>,
}

impl<T> Pool<T> {
    pub(crate) fn new(kind: &'static str) -> Pool<T> {
        Pool {
            kind,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The slot for `endpoint`, made empty on first use.
    pub(crate) fn slot(&self, endpoint: &str) -> Arc<Slot<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(endpoint) {
            return Arc::clone(slot);
        }
        let slot = Arc::new(Slot {
            health: Arc::new(Health::new(self.kind, endpoint)),
            current: Mutex::new(Arc::new(OnceCell::new())),
            built: AtomicU64::new(0),
        });
        slots.insert(endpoint.to_owned(), Arc::clone(&slot));
        slot
    }
}

#[derive(Debug)]
pub(crate) struct Slot<T> {
    /// The endpoint's outage state, kept across client generations.
    pub(crate) health: Arc<Health>,
    current: Mutex<Generation<T>>,
    built: AtomicU64,
}

impl<T: Clone> Slot<T> {
    /// The current client, built with `init` if there is none yet (one build at a time; a
    /// build replacing a reset client counts as a reconnection).
    pub(crate) async fn get<F, Fut, E>(
        &self,
        counters: &Counters,
        init: F,
    ) -> Result<(T, Generation<T>), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let generation = Arc::clone(&self.current.lock().unwrap_or_else(PoisonError::into_inner));
        let value = generation
            .get_or_try_init(|| async {
                let value = init().await?;
                if self.built.fetch_add(1, Ordering::Relaxed) > 0 {
                    counters.reconnected();
                }
                Ok(value)
            })
            .await?
            .clone();
        Ok((value, generation))
    }

    /// Drops `generation`'s client if it is still the current one, so that the next call
    /// builds a new one. Calls still holding the old client finish with it.
    pub(crate) fn reset(&self, generation: &Generation<T>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if Arc::ptr_eq(&current, generation) {
            *current = Arc::new(OnceCell::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_uses_build_one_client() {
        let pool: Arc<Pool<Arc<usize>>> = Arc::new(Pool::new("test"));
        let counters = Arc::new(Counters::default());
        let builds = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (pool, counters, builds) = (pool.clone(), counters.clone(), builds.clone());
            tasks.push(tokio::spawn(async move {
                let slot = pool.slot("nats://x");
                let (value, _) = slot
                    .get(&counters, || async {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok::<_, ()>(Arc::new(builds.fetch_add(1, Ordering::SeqCst)))
                    })
                    .await
                    .unwrap();
                *value
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 0);
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(counters.snapshot().reconnects, 0);
    }

    #[tokio::test]
    async fn a_failed_build_is_retried_and_a_reset_rebuilds_once() {
        let pool: Pool<u32> = Pool::new("test");
        let counters = Counters::default();
        let slot = pool.slot("k");
        assert!(
            slot.get(&counters, || async { Err::<u32, _>("down") })
                .await
                .is_err()
        );
        let (one, first) = slot
            .get(&counters, || async { Ok::<_, ()>(1) })
            .await
            .unwrap();
        assert_eq!(one, 1);
        slot.reset(&first);
        slot.reset(&first); // a second report of the same broken client changes nothing
        let (two, second) = slot
            .get(&counters, || async { Ok::<_, ()>(2) })
            .await
            .unwrap();
        assert_eq!(two, 2);
        let (again, _) = slot
            .get(&counters, || async { Ok::<_, ()>(3) })
            .await
            .unwrap();
        assert_eq!(again, 2);
        slot.reset(&first); // stale: the current client stays
        assert!(Arc::ptr_eq(
            &second,
            &slot
                .get(&counters, || async { Ok::<_, ()>(4) })
                .await
                .unwrap()
                .1
        ));
        assert_eq!(counters.snapshot().reconnects, 1);
    }
}
