//! `rediss://`: quotas and cached responses on a real Redis that only speaks TLS (a
//! `redis-server` started here with a certificate made by rcgen), verified against the CA
//! given to `RedisConn::open`; a server the CA does not vouch for is never used.

use barbacane_state::{RedisCache, RedisConn, RedisLimiter};
use barbacane_wasm::{CachedResponse, RateLimiter, ResponseCache};
use rcgen::{CertificateParams, KeyPair};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A `redis-server` on a TLS-only port; killed when dropped.
struct TlsRedis {
    child: Child,
    port: u16,
    ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn start() -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let port = free_port();
    let path = |f: &str| dir.path().join(f).display().to_string();
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            &path("cert.pem"),
            "--tls-key-file",
            &path("key.pem"),
        ])
        .args([
            "--tls-ca-cert-file",
            &path("cert.pem"),
            "--tls-auth-clients",
            "no",
        ])
        .args(["--save", "", "--appendonly", "no", "--dir", &path("")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (with TLS support) is needed; .ci/run installs it");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    TlsRedis {
        child,
        port,
        ca: cert.into_bytes(),
        _dir: dir,
    }
}

#[tokio::test]
async fn quotas_and_the_cache_work_over_tls_with_the_given_ca() {
    let redis = start();
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
    let redis = start();
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
