//! Background deliveries (`barbacane:http.send_detached`, used by `fire-and-forget`): the
//! client has its answer already, the request is sent afterwards on the gateway's runtime.
//!
//! The queue is bounded by the number of deliveries in flight ([`MAX_IN_FLIGHT`] per
//! process): past it a request is dropped at once rather than held, so a slow or dead
//! target never grows memory. Drops and failures are counted ([`stats`], exported as
//! `barbacane_background_deliveries_total`) and logged at most once per second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::outbound::{HttpClient, OutboundRequest};

/// Deliveries in flight at most, process-wide.
pub const MAX_IN_FLIGHT: usize = 1024;

static SLOTS: LazyLock<Arc<tokio::sync::Semaphore>> =
    LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)));

static DELIVERED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The second (since the epoch) of the last warning, to log at most one per second.
static LAST_WARNING: AtomicU64 = AtomicU64::new(0);

/// Counts of background deliveries since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackgroundStats {
    /// Sent, and the target answered (any status).
    pub delivered: u64,
    /// Sent, and no answer came (connection failed, timeout).
    pub failed: u64,
    /// Not sent: the queue was full.
    pub dropped: u64,
    /// In flight now.
    pub in_flight: u64,
}

/// The counters.
pub fn stats() -> BackgroundStats {
    BackgroundStats {
        delivered: DELIVERED.load(Ordering::Relaxed),
        failed: FAILED.load(Ordering::Relaxed),
        dropped: DROPPED.load(Ordering::Relaxed),
        in_flight: (MAX_IN_FLIGHT - SLOTS.available_permits()) as u64,
    }
}

fn warn_sometimes(plugin: &str, what: &str, target: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST_WARNING.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(plugin, target, "background delivery {what}");
    }
}

/// Starts delivering `request` on the current runtime; `false` (dropped) when the queue is
/// full or there is no runtime to run it on.
pub(crate) fn deliver(plugin: &str, client: Arc<dyn HttpClient>, request: OutboundRequest) -> bool {
    let target = request.uri.host().unwrap_or_default().to_owned();
    let Ok(permit) = Arc::clone(&SLOTS).try_acquire_owned() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        warn_sometimes(plugin, "dropped: the queue is full", &target);
        return false;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let plugin = plugin.to_owned();
    runtime.spawn(async move {
        let _permit = permit;
        match client.send(request).await {
            Ok(_) => DELIVERED.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                warn_sometimes(&plugin, &format!("failed: {}", e.message()), &target);
                FAILED.fetch_add(1, Ordering::Relaxed)
            }
        };
    });
    true
}
