//! Gives memory back to the operating system once a burst of connections has closed.
//!
//! glibc's malloc keeps the blocks freed by closed connections (hyper's 8 KiB buffers, task
//! state) in its per-thread arenas: after 5,000 idle keep-alive connections come and go, the
//! resident size stays where the burst left it. `malloc_trim` releases the free pages of every
//! arena (`barbacane_alloc`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::Gateway;

/// How often the open-connection count is looked at.
const EVERY: Duration = Duration::from_secs(1);
/// Connections that must have closed since the last high mark before memory is trimmed.
const BURST: i64 = 256;

/// Runs forever: trims when the open connections fell by at least [`BURST`] and to at most
/// half of their highest count since the last trim.
pub(crate) async fn after_bursts(gateway: Arc<Gateway>) {
    let mut peak = 0i64;
    loop {
        tokio::time::sleep(EVERY).await;
        let metrics = gateway.metrics();
        let open = metrics.active_connections.load(Ordering::Relaxed);
        // The high mark is kept at accept, so a burst shorter than a tick is seen too.
        peak = peak.max(metrics.connections_high.swap(open, Ordering::Relaxed));
        if peak - open >= BURST && open <= peak / 2 {
            let released = tokio::task::spawn_blocking(barbacane_alloc::release_freed_memory)
                .await
                .unwrap_or(false);
            tracing::debug!(
                peak,
                open,
                released,
                "memory returned after a connection burst"
            );
            peak = open;
        }
    }
}
