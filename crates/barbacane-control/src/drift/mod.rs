//! The drift engine, its three steps kept apart (seed 004):
//!
//! - [`observe`]: poll standalone nodes (connected ones report through the hub); read-only.
//! - [`pass()`]: read desired and observed state, *diff* with `barbacane-drift` (pure), and
//!   record append-only history, alerts included; read-only towards the nodes.
//! - [`remediate`]: *converge*, only through a recorded human approval.
//!
//! [`webhook`] delivers the alerts the pass queued; [`metrics`] counts what the engine did.

pub mod dry_run;
pub mod metrics;
pub mod observe;
pub(crate) mod pass;
pub mod remediate;
pub mod webhook;

pub use pass::{PassReport, pass};

use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// When the engine runs and what it keeps.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Between two passes.
    pub interval: Duration,
    /// How long observations and per-pass finding events are kept.
    pub retention: Duration,
}

/// How often old observations are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs, every interval until `stop`: a poll of the standalone nodes, then a [`pass()`];
/// hourly, observations older than the retention are pruned. A failing step (Postgres down)
/// is logged and the next interval tries again: the engine pauses and resumes by itself.
pub async fn run(
    pool: PgPool,
    schedule: Schedule,
    metrics: Arc<metrics::Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = schedule.interval;
    let mut pruned_at: Option<std::time::Instant> = None;
    let poller = match observe::Poller::new(interval) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "standalone nodes cannot be polled");
            None
        }
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut paused = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                // One pass at a time across every control plane sharing the database: the
                // others skip this interval (the lock goes with the connection if a holder
                // dies).
                let mut lock = match exclusive(&pool).await {
                    Ok(Some(conn)) => conn,
                    Ok(None) => continue,
                    Err(e) => {
                        if !paused {
                            tracing::warn!(error = %e, "drift pass failed; pausing until the database answers");
                        }
                        paused = true;
                        continue;
                    }
                };
                let polled = match &poller {
                    Some(p) => p.poll_all(&pool).await.map(drop),
                    None => Ok(()),
                };
                let result = match polled {
                    Ok(()) => pass(&pool, interval).await,
                    Err(e) => Err(e),
                };
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(DRIFT_LOCK)
                    .execute(&mut *lock)
                    .await;
                if unlocked.is_err() {
                    // The lock lives as long as its session: close the connection rather than
                    // return it to the pool still holding the lock.
                    let _ = lock.close().await;
                } else {
                    drop(lock);
                }
                match result {
                    Ok(report) => {
                        metrics.observed(&report);
                        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                            match crate::db::drift::prune(&pool, schedule.retention).await {
                                Ok(n) => {
                                    pruned_at = Some(std::time::Instant::now());
                                    if n > 0 {
                                        tracing::info!(rows = n, "old drift observations pruned");
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "pruning drift observations failed"),
                            }
                        }
                        if paused {
                            tracing::info!("drift engine resumed");
                            paused = false;
                        }
                    }
                    Err(e) => {
                        if !paused {
                            tracing::warn!(error = %e, "drift pass failed; pausing until the database answers");
                        }
                        paused = true;
                    }
                }
            }
            () = stopped(&mut stop) => return,
        }
    }
}

/// The advisory lock key of the drift pass ("bbdrift" in ASCII).
const DRIFT_LOCK: i64 = 0x0062_6264_7269_6674;

/// A connection holding the drift lock, or `None` when another process holds it.
async fn exclusive(
    pool: &PgPool,
) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(DRIFT_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    Ok(locked.then_some(conn))
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
