//! Redis going away and coming back, with a real `redis-server` killed and restarted on its
//! port: quotas become unavailable at once (never a hang), cache lookups become misses, and
//! both work again after Redis returns, without anything being restarted.

use barbacane_state::{RedisCache, RedisConn, RedisLimiter};
use barbacane_wasm::{CacheError, CachedResponse, LimitError, RateLimiter, ResponseCache};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::PlainRedis;

fn entry() -> Arc<CachedResponse> {
    Arc::new(CachedResponse {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::from_static(b"e"),
        stored_at_ms: 1,
        expires_at: None,
    })
}

#[tokio::test]
async fn an_outage_fails_fast_and_state_comes_back_by_itself() {
    let mut redis = PlainRedis::start();
    let conn =
        Arc::new(RedisConn::open(&format!("redis://127.0.0.1:{}/0", redis.port), None).unwrap());
    assert!(conn.connect(Duration::from_secs(2)).await);
    let limiter = RedisLimiter::on_with_prefix(Arc::clone(&conn), "outage:");
    let cache = RedisCache::on_with_prefix(Arc::clone(&conn), "outage:");
    let window = Duration::from_secs(60);
    assert!(limiter.take("k", 100, window).await.unwrap().allowed);
    cache
        .put(&[1; 32], entry(), Duration::from_secs(60))
        .await
        .unwrap();

    redis.kill();
    for _ in 0..5 {
        let started = Instant::now();
        let taken = limiter.take("k", 100, window).await;
        assert!(
            matches!(taken, Err(LimitError::Unavailable(_))),
            "{taken:?}"
        );
        let got = cache.get(&[1; 32]).await;
        assert!(matches!(got, Err(CacheError::Unavailable(_))), "{got:?}");
        // Bounded by the answer timeout (250 ms each), never a hang.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(d) = limiter.take("k", 100, window).await {
            assert!(d.allowed);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "quotas did not come back after Redis did"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The restarted Redis kept nothing (no persistence): a miss, then a working store.
    assert!(cache.get(&[1; 32]).await.unwrap().is_none());
    cache
        .put(&[1; 32], entry(), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(cache.get(&[1; 32]).await.unwrap().is_some());
}
