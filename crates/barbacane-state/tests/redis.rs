//! The Redis backend against real Redis servers: the shared one on 127.0.0.1:6379 (keys
//! under a per-test prefix) for sharing, and a `redis-server` this test starts and kills for
//! outages.

use barbacane_state::RedisLimiter;
use barbacane_wasm::{LimitError, RateLimiter};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn prefix() -> String {
    format!("barbacane-test:{}:", uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{t:x}-{}", std::process::id())
}

#[tokio::test]
async fn two_limiters_on_one_redis_share_one_quota() {
    let p = prefix();
    let a = RedisLimiter::with_prefix("redis://127.0.0.1:6379/0", &p).unwrap();
    let b = RedisLimiter::with_prefix("redis://127.0.0.1:6379/0", &p).unwrap();
    assert!(
        a.connect(Duration::from_secs(5)).await,
        "Redis on 127.0.0.1:6379"
    );
    assert!(b.connect(Duration::from_secs(5)).await);
    let window = Duration::from_secs(10);
    let mut allowed = 0;
    for i in 0..40 {
        let limiter: &RedisLimiter = if i % 2 == 0 { &a } else { &b };
        let d = limiter.take("k", 25, window).await.unwrap();
        if d.allowed {
            allowed += 1;
            assert_eq!(d.remaining, 25 - allowed);
        } else {
            assert_eq!(d.remaining, 0);
            assert!(
                d.reset <= window + Duration::from_millis(200),
                "{:?}",
                d.reset
            );
            assert!(d.reset > Duration::from_secs(9), "{:?}", d.reset);
        }
        assert_eq!(d.limit, 25);
    }
    assert_eq!(allowed, 25);
    // Another key has its own quota.
    assert!(a.take("other", 1, window).await.unwrap().allowed);
    // A short window frees up again.
    for _ in 0..2 {
        assert!(
            a.take("short", 2, Duration::from_millis(300))
                .await
                .unwrap()
                .allowed
        );
    }
    assert!(
        !a.take("short", 2, Duration::from_millis(300))
            .await
            .unwrap()
            .allowed
    );
    tokio::time::sleep(Duration::from_millis(320)).await;
    assert!(
        a.take("short", 2, Duration::from_millis(300))
            .await
            .unwrap()
            .allowed
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn redis_server(port: u16) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server)")
}

#[tokio::test]
async fn an_outage_is_unavailable_fast_and_heals_by_itself() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let limiter = RedisLimiter::new(&url).unwrap();
    // Nothing listens yet: unavailable, quickly.
    let started = std::time::Instant::now();
    assert!(matches!(
        limiter.take("k", 1, Duration::from_secs(10)).await,
        Err(LimitError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(2));

    let mut server = redis_server(port);
    assert!(
        limiter.connect(Duration::from_secs(10)).await,
        "reconnects once Redis is up"
    );
    assert!(
        limiter
            .take("k", 1, Duration::from_secs(10))
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !limiter
            .take("k", 1, Duration::from_secs(10))
            .await
            .unwrap()
            .allowed
    );

    server.kill().unwrap();
    server.wait().unwrap();
    let mut unavailable = false;
    for _ in 0..20 {
        if matches!(
            limiter.take("k", 1, Duration::from_secs(10)).await,
            Err(LimitError::Unavailable(_))
        ) {
            unavailable = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(unavailable, "a dead Redis makes takes unavailable");

    // Back again: limits apply without a restart (a fresh server: counts start over).
    let mut server = redis_server(port);
    let mut back = false;
    for _ in 0..100 {
        if let Ok(d) = limiter.take("k", 1, Duration::from_secs(10)).await {
            assert!(d.allowed);
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "limits apply again once Redis is back");
    assert!(
        !limiter
            .take("k", 1, Duration::from_secs(10))
            .await
            .unwrap()
            .allowed
    );
    server.kill().unwrap();
    let _ = server.wait();
}
