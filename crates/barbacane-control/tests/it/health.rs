//! Health, posture and startup.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use barbacane_control::db::{self, PoolConfig};
use barbacane_control::server::{ServeConfig, StartError, start};
use std::net::SocketAddr;

use crate::support::{AppOptions, TestApp, TestDb, req};

#[tokio::test]
async fn health_is_open_and_checks_the_database() {
    let app = TestApp::with(AppOptions {
        tokens: vec!["s3cret"],
        ..Default::default()
    })
    .await;
    let r = app.get("/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["database"], "ok");
    app.db.drop_now().await;
    let r = app.get("/health").await;
    r.assert_problem(503, "database-unavailable");
}

#[tokio::test]
async fn token_is_required_when_configured() {
    let app = TestApp::with(AppOptions {
        tokens: vec!["primary", "secondary"],
        ..Default::default()
    })
    .await;
    let r = app.get("/projects").await;
    r.assert_problem(401, "unauthorized");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let wrong = req(Method::GET, "/projects")
        .header(header::AUTHORIZATION, "Bearer nope")
        .body(Body::empty())
        .unwrap();
    app.send(wrong).await.assert_problem(401, "unauthorized");
    for token in ["primary", "secondary"] {
        let ok = req(Method::GET, "/projects")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(ok).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn allowlist_checks_the_socket_peer() {
    let app = TestApp::with(AppOptions {
        allow: vec!["10.0.0.0/8"],
        peer: SocketAddr::from(([192, 168, 1, 2], 5000)),
        ..Default::default()
    })
    .await;
    app.get("/projects").await.assert_problem(403, "forbidden");
    // A spoofed forwarding header changes nothing.
    let spoofed = req(Method::GET, "/projects")
        .header("x-forwarded-for", "10.1.2.3")
        .body(Body::empty())
        .unwrap();
    app.send(spoofed).await.assert_problem(403, "forbidden");
    // Health stays open.
    assert_eq!(app.get("/health").await.status, StatusCode::OK);

    let inside = TestApp::with(AppOptions {
        allow: vec!["10.0.0.0/8"],
        peer: SocketAddr::from(([10, 9, 8, 7], 5000)),
        ..Default::default()
    })
    .await;
    assert_eq!(inside.get("/projects").await.status, StatusCode::OK);
}

fn serve_config(db: &TestDb, listen: &str) -> ServeConfig {
    ServeConfig {
        listen: listen.parse().unwrap(),
        database_url: db.url.clone(),
        workers: 1,
        max_upload_bytes: 1024,
        allow: vec![],
        pool: PoolConfig::default(),
        heartbeat: std::time::Duration::from_secs(30),
        tls: None,
        drift_interval: std::time::Duration::from_secs(30),
        drift_retention: std::time::Duration::from_secs(30 * 86_400),
        compile_lease: std::time::Duration::from_secs(30),
        signing_key: None,
    }
}

#[tokio::test]
async fn non_loopback_bind_without_token_is_refused() {
    // The token variable is never set in the test environment.
    assert!(std::env::var(barbacane_control::posture::TOKEN_ENV).is_err());
    let db = TestDb::new().await;
    let err = start(serve_config(&db, "0.0.0.0:0")).await.unwrap_err();
    assert!(matches!(err, StartError::Posture(_)), "{err}");
    assert!(
        err.to_string().contains("BARBACANE_CONTROL_ADMIN_TOKEN"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_allowlist_is_a_config_error() {
    let db = TestDb::new().await;
    let mut config = serve_config(&db, "127.0.0.1:0");
    config.allow = vec!["not-a-cidr".into()];
    let err = start(config).await.unwrap_err();
    assert!(matches!(err, StartError::Config(_)), "{err}");
}

#[tokio::test]
async fn migrations_are_safe_to_run_twice_and_the_server_serves() {
    let db = TestDb::new().await;
    let pool = db::pool(&db.url, &PoolConfig::default()).unwrap();
    db::migrate(&pool).await.unwrap();
    db::migrate(&pool).await.unwrap();
    let running = start(serve_config(&db, "127.0.0.1:0")).await.unwrap();
    let again = start(serve_config(&db, "127.0.0.1:0")).await.unwrap();
    let addr = running.addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    running.stop().await.unwrap();
    again.stop().await.unwrap();
}

#[tokio::test]
async fn unreachable_database_at_start_is_reported() {
    let mut config = serve_config(&TestDb::new().await, "127.0.0.1:0");
    config.database_url = "postgres://postgres@127.0.0.1:1/nothing".into();
    config.pool.acquire_timeout = std::time::Duration::from_millis(500);
    let err = start(config).await.unwrap_err();
    assert!(matches!(err, StartError::Database(_)), "{err}");
}

#[tokio::test]
async fn tokens_rotate_without_restart() {
    let app = TestApp::with(AppOptions {
        tokens: vec!["old"],
        ..Default::default()
    })
    .await;
    let with = |token: &str| {
        req(Method::GET, "/projects")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(with("old")).await.status, StatusCode::OK);
    app.state
        .set_tokens(barbacane_posture::Tokens::from_values(["new", "old"]));
    assert_eq!(app.send(with("new")).await.status, StatusCode::OK);
    assert_eq!(app.send(with("old")).await.status, StatusCode::OK);
    app.state
        .set_tokens(barbacane_posture::Tokens::from_values(["new"]));
    app.send(with("old"))
        .await
        .assert_problem(401, "unauthorized");
}
