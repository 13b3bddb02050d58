//! What every handler shares.

use arc_swap::ArcSwap;
use barbacane_posture::{Posture, Tokens};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;

use crate::storage::ArtifactStore;

/// Shared state: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    store: Arc<dyn ArtifactStore>,
    posture: ArcSwap<Posture>,
    max_upload_bytes: usize,
    wake: Arc<Notify>,
    hub: Arc<crate::hub::Hub>,
    metrics: Arc<crate::drift::metrics::Metrics>,
    scheme: &'static str,
    spec_checks: tokio::sync::Semaphore,
    spec_check_slots: usize,
    spec_check_wait: std::time::Duration,
}

/// A spec-check slot. When the last running check gives its slot back, the allocator is
/// asked to return what the checks freed to the system ([`crate::trim`]): a burst of large
/// or hostile uploads does not leave the process holding its peak.
#[derive(Debug)]
pub struct SpecCheckSlot<'a> {
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
    inner: &'a Inner,
}

impl Drop for SpecCheckSlot<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        if self.inner.spec_checks.available_permits() == self.inner.spec_check_slots {
            crate::trim::release_freed_memory_soon();
        }
    }
}

/// How long an upload waits for a spec-check slot before it is answered 503 (the server's
/// setting; tests shorten it).
pub const SPEC_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// Who may call the API.
    pub posture: Posture,
    /// Largest request body (413 beyond).
    pub max_upload_bytes: usize,
    /// How often connected data planes send a heartbeat.
    pub heartbeat: std::time::Duration,
    /// `https` when the listener serves TLS, else `http` (for URLs the API writes out).
    pub scheme: &'static str,
    /// How long an upload waits for a spec-check slot before 503 `busy`
    /// ([`SPEC_CHECK_WAIT`] in the server).
    pub spec_check_wait: std::time::Duration,
}

impl AppState {
    /// Builds the state. `wake` is notified whenever a compilation is queued.
    pub fn new(
        pool: PgPool,
        store: Arc<dyn ArtifactStore>,
        config: StateConfig,
        wake: Arc<Notify>,
    ) -> Self {
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        AppState {
            inner: Arc::new(Inner {
                pool,
                store,
                posture: ArcSwap::from_pointee(config.posture),
                max_upload_bytes: config.max_upload_bytes,
                wake,
                hub: Arc::new(crate::hub::Hub::new(config.heartbeat)),
                metrics: Arc::default(),
                scheme: config.scheme,
                spec_checks: tokio::sync::Semaphore::new(slots),
                spec_check_slots: slots,
                spec_check_wait: config.spec_check_wait,
            }),
        }
    }

    /// The database.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The artifact store.
    pub fn store(&self) -> &dyn ArtifactStore {
        self.inner.store.as_ref()
    }

    /// The connected data planes.
    pub fn hub(&self) -> &crate::hub::Hub {
        &self.inner.hub
    }

    /// The drift engine's counters.
    pub fn metrics(&self) -> &Arc<crate::drift::metrics::Metrics> {
        &self.inner.metrics
    }

    /// A slot to read and check one uploaded spec (as many as cores); 503 `busy` after
    /// `spec_check_wait` (30 s in the server) of waiting.
    pub async fn spec_check(&self) -> Result<SpecCheckSlot<'_>, crate::error::ApiError> {
        match tokio::time::timeout(self.inner.spec_check_wait, self.inner.spec_checks.acquire())
            .await
        {
            Ok(Ok(permit)) => Ok(SpecCheckSlot {
                permit: Some(permit),
                inner: &self.inner,
            }),
            _ => Err(crate::error::ApiError::Busy),
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.inner.scheme
    }

    /// The admin posture now.
    pub fn posture(&self) -> Arc<Posture> {
        self.inner.posture.load_full()
    }

    /// Replaces the accepted tokens (rotation without restart); the allowlist stays.
    pub fn set_tokens(&self, tokens: Tokens) {
        let current = self.inner.posture.load();
        self.inner.posture.store(Arc::new(Posture {
            tokens,
            allowlist: current.allowlist.clone(),
        }));
    }

    /// Largest accepted request body.
    pub fn max_upload_bytes(&self) -> usize {
        self.inner.max_upload_bytes
    }

    /// Wakes the compile workers.
    pub fn wake_workers(&self) {
        self.inner.wake.notify_waiters();
    }
}
