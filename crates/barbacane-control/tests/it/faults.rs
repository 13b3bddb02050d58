//! Postgres going away and coming back; many concurrent uploads and compilations.

use axum::http::StatusCode;
use barbacane_control::db::{self, PoolConfig, compilations};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::{AppOptions, TestApp, TestDb, admin_pool, mini_spec};

/// A TCP forwarder in front of Postgres that can be cut: while down, it kills every open
/// connection and refuses new ones (accepts and closes), as a Postgres restart would.
struct Cut {
    port: u16,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl Cut {
    async fn start(target: &str) -> Cut {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, rx) = watch::channel(0u64);
        let target = target.to_owned();
        let flag = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let target = target.clone();
                let mut cut = rx.clone();
                let born = *cut.borrow();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|g| *g != born) => {}
                    }
                });
            }
        });
        Cut {
            port,
            up,
            generation,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn postgres_outage_answers_503_and_recovers_without_restart() {
    let db = TestDb::new().await;
    db.pool().await.close().await; // migrate directly
    let cut = Cut::start("127.0.0.1:5432").await;
    let url = db
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", cut.port), 1);
    assert_ne!(url, db.url, "the test URL must name 127.0.0.1:5432");
    let pool = db::pool(
        &url,
        &PoolConfig {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(1),
        },
    )
    .unwrap();
    let app = TestApp::on(db, pool, AppOptions::default());
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;

    cut.down();
    app.get("/projects")
        .await
        .assert_problem(503, "database-unavailable");
    app.get("/health")
        .await
        .assert_problem(503, "database-unavailable");
    app.upload_yaml(&project, "b.yaml", &mini_spec("/b", "y"))
        .await
        .assert_problem(503, "database-unavailable");
    app.post_empty(&format!("/specs/{spec}/compile"))
        .await
        .assert_problem(503, "database-unavailable");

    cut.up();
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    let list = app.get("/projects").await.json();
    assert_eq!(list[0]["id"], project);
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
}

#[tokio::test]
async fn terminated_backends_are_replaced_transparently() {
    let app = TestApp::new().await;
    app.project("p").await;
    let admin = admin_pool().await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(&app.db.name)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!killed.is_empty());
    let r = app.get("/projects").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()[0]["name"], "p");
}

#[tokio::test]
async fn fifty_concurrent_uploads_and_compilations() {
    let app = Arc::new(TestApp::new().await);
    let project = app.project("load").await;
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let app = app.clone();
            let project = project.clone();
            tokio::spawn(async move {
                let r = app
                    .upload_yaml(
                        &project,
                        &format!("s{n}.yaml"),
                        &mini_spec(&format!("/r{n}"), "x"),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
                let spec = r.json()["id"].as_str().unwrap().to_owned();
                let r = app.post_empty(&format!("/specs/{spec}/compile")).await;
                assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
                r.json()["id"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for id in &ids {
        let c = app.wait_compilation(id).await;
        assert_eq!(c["status"], "succeeded", "{c}");
    }
    for status in ["pending", "running", "failed"] {
        assert_eq!(
            compilations::count_by_status(&app.pool, status)
                .await
                .unwrap(),
            0
        );
    }
    let artifacts = app.get("/artifacts").await.json();
    assert_eq!(artifacts.as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn the_drift_engine_pauses_through_an_outage_and_resumes() {
    let db = TestDb::new().await;
    let direct = db.pool().await;
    let cut = Cut::start("127.0.0.1:5432").await;
    let url = db
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", cut.port), 1);
    let pool = db::pool(
        &url,
        &PoolConfig {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(1),
        },
    )
    .unwrap();
    let app = TestApp::on(db, pool.clone(), AppOptions::default());
    let project = app.project("p").await;
    // A standalone node nobody answers for: one observation and one open finding per pass.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t"), "x").unwrap();
    let r = app
        .post_json(
            &format!("/projects/{project}/data-planes"),
            serde_json::json!({"name": "gone", "admin_url": "http://127.0.0.1:1",
                "admin_token": format!("file://{}", dir.path().join("t").display())}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let (stop, rx) = watch::channel(false);
    let engine = tokio::spawn(barbacane_control::drift::run(
        pool,
        barbacane_control::drift::Schedule {
            interval: Duration::from_millis(1000),
            retention: Duration::from_secs(86_400),
        },
        app.state.metrics().clone(),
        rx,
    ));
    let count = |sql: &'static str| {
        let direct = direct.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&direct)
                .await
                .unwrap()
        }
    };
    let observations = "SELECT count(*) FROM drift_observations";
    let mut tries = 0;
    while count(observations).await < 1 {
        tries += 1;
        assert!(tries < 600, "no pass ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cut.down();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = count(observations).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        count(observations).await,
        during,
        "passes ran without the database"
    );
    assert!(!engine.is_finished(), "the engine stopped on the outage");
    cut.up();
    let mut tries = 0;
    while count(observations).await <= during {
        tries += 1;
        assert!(tries < 600, "the engine did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Level-triggered: the finding open before the outage is the one still open.
    assert_eq!(count("SELECT count(*) FROM drift_findings").await, 1);
    let _ = stop.send(true);
    engine.await.unwrap();
}
