//! `rediss://`: quotas and cached responses on a real Redis that only speaks TLS (a
//! `redis-server` started here with a certificate made by rcgen), verified against the CA
//! given to `RedisConn::open`; a server the CA does not vouch for is never used.

use barbacane_state::{RedisCache, RedisConn, RedisLimiter};
use barbacane_wasm::{CachedResponse, RateLimiter, ResponseCache};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{TlsRedis, self_signed};

#[tokio::test]
async fn quotas_and_the_cache_work_over_tls_with_the_given_ca() {
    let redis = TlsRedis::start();
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let conn = Arc::new(RedisConn::open(&url, Some(redis.ca.clone())).unwrap());
    assert!(
        conn.connect(Duration::from_secs(5)).await,
        "TLS handshake with the given CA"
    );

    let limiter = RedisLimiter::on_with_prefix(Arc::clone(&conn), "tls-test:");
    let first = limiter.take("k", 2, Duration::from_secs(60)).await.unwrap();
    let second = limiter.take("k", 2, Duration::from_secs(60)).await.unwrap();
    let third = limiter.take("k", 2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        (first.allowed, second.allowed, third.allowed),
        (true, true, false)
    );

    let cache = RedisCache::on_with_prefix(Arc::clone(&conn), "tls-test:");
    let response = Arc::new(CachedResponse {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::from_static(b"over tls"),
        stored_at_ms: 1,
        expires_at: None,
    });
    cache
        .put(&[7; 32], response, Duration::from_secs(5))
        .await
        .unwrap();
    let back = cache.get(&[7; 32]).await.unwrap().expect("stored");
    assert_eq!(back.body, "over tls");
}

#[tokio::test]
async fn a_server_the_ca_does_not_vouch_for_is_never_used() {
    let redis = TlsRedis::start();
    let (other_ca, _) = self_signed();
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let conn = Arc::new(RedisConn::open(&url, Some(other_ca.into_bytes())).unwrap());
    assert!(!conn.connect(Duration::from_millis(1_500)).await);
    let limiter = RedisLimiter::on(Arc::clone(&conn));
    let e = limiter
        .take("k", 1, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(e, barbacane_wasm::LimitError::Unavailable(_)),
        "{e:?}"
    );
}
