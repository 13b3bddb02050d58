//! Integration tests against real brokers: the shared NATS server (JetStream enabled) at
//! `BARBACANE_NATS_URL` (default `nats://127.0.0.1:4222`), `nats-server` processes of their
//! own for outages, and `tansu` (a Kafka-protocol broker, `BARBACANE_TANSU`, see
//! `scripts/tansu.sh`) started per test.

mod kafka;
mod logs;
mod nats;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}{}x{nanos}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Calls `attempt` until it returns `Some`, every 100 ms, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The subscription's next item, failing the test after 10 s without one.
pub async fn next(
    sub: &mut barbacane_events::Subscription,
) -> Option<Result<barbacane_events::Event, barbacane_events::SubscriptionError>> {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("no event within 10 s")
}
