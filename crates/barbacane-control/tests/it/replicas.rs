//! Several control planes on one database: compile claims are leases, so a second process
//! never requeues a live claim, an expired one is taken over, only the current owner records
//! an outcome, and a process killed mid-compile leaves every compilation with one outcome and
//! no orphan artifact.

use barbacane_control::db::{artifacts, compilations};
use std::time::Duration;

use crate::support::{AppOptions, TestApp, mini_spec};

fn config(url: &str, lease: Duration) -> barbacane_control::server::ServeConfig {
    barbacane_control::server::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: url.to_owned(),
        workers: 1,
        max_upload_bytes: 1 << 20,
        allow: vec![],
        pool: Default::default(),
        heartbeat: Duration::from_secs(30),
        tls: None,
        drift_interval: Duration::from_secs(30),
        drift_retention: Duration::from_secs(30 * 86_400),
        compile_lease: lease,
        signing_key: None,
    }
}

async fn count(app: &TestApp, sql: &'static str, project: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(uuid::Uuid::parse_str(project).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_live_claim_is_never_requeued_and_only_its_owner_records() {
    let app = TestApp::with(AppOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "a")).await;
    let id = app
        .post_empty(&format!("/specs/{spec}/compile"))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Process A claims it (and then hangs).
    let a = uuid::Uuid::new_v4();
    let claimed = compilations::claim(&app.pool, a, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(compilations::recover(&app.pool).await.unwrap(), (0, 0));
    // Process B starts on the same database: A's live claim is left alone.
    let b = barbacane_control::server::start(config(&app.db.url, Duration::from_secs(2)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let c = app.get(&format!("/compilations/{id}")).await.json();
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_i64()),
        (Some("running"), Some(1))
    );
    // A's lease runs out: B takes the compilation over and records it.
    sqlx::query("UPDATE compilations SET lease_expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let c = app.wait_compilation(&id).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["attempts"], 2);
    // A wakes up late: its outcome is refused and nothing of it is kept.
    let late = artifacts::NewArtifact {
        id: uuid::Uuid::new_v4(),
        project_id: claimed.project_id,
        artifact_hash: "sha256:late".into(),
        sha256: "0".into(),
        size: 0,
        compiler_version: "0".into(),
        header: serde_json::json!({}),
        built_from: vec![],
        sbom: vec![],
        attestation: vec![],
    };
    let empty = serde_json::json!({});
    let recorded = artifacts::record_build(&app.pool, &late, claimed.id, a, &empty, &empty)
        .await
        .unwrap();
    assert!(!recorded);
    assert!(
        !compilations::fail(&app.pool, claimed.id, a, &serde_json::json!([]), &empty)
            .await
            .unwrap()
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM artifacts WHERE project_id = $1",
            &project
        )
        .await,
        1
    );
    let c = app.get(&format!("/compilations/{id}")).await.json();
    assert_eq!(c["status"], "succeeded");
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_process_killed_mid_compile_loses_nothing_and_duplicates_nothing() {
    let app = TestApp::with(AppOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let project = app.project("p").await;
    let spec = app
        .spec(&project, "a.yaml", &crate::support::petstore())
        .await;
    // A real control-plane process with two workers and a short lease...
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_barbacane-control"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--workers",
            "2",
            "--compile-lease",
            "2s",
            "--log-level",
            "warn",
        ])
        .env("DATABASE_URL", &app.db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // ...takes work from the queue; it is killed (no chance to clean up) while compiling.
    let mut ids = Vec::new();
    for _ in 0..12 {
        let r = app.post_empty(&format!("/specs/{spec}/compile")).await;
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    for _ in 0..400 {
        let running = compilations::count_by_status(&app.pool, "running")
            .await
            .unwrap();
        if running > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Another process finishes the queue, taking over the dead one's expired claims.
    let survivor = barbacane_control::server::start(config(&app.db.url, Duration::from_secs(2)))
        .await
        .unwrap();
    for id in &ids {
        let c = app.wait_compilation(id).await;
        assert_eq!(c["status"], "succeeded", "{c}");
        assert!(c["attempts"].as_i64().unwrap() <= 2, "{c}");
    }
    let artifacts = count(
        &app,
        "SELECT count(*) FROM artifacts WHERE project_id = $1",
        &project,
    )
    .await;
    assert_eq!(artifacts, 12, "one artifact per compilation");
    let referenced = count(
        &app,
        "SELECT count(DISTINCT artifact_id) FROM compilations WHERE project_id = $1",
        &project,
    )
    .await;
    assert_eq!(referenced, 12);
    // Bytes stored by the killed process for a build it never recorded are swept.
    compilations::sweep_orphan_blobs(&app.pool, Duration::ZERO)
        .await
        .unwrap();
    let blobs: i64 = sqlx::query_scalar("SELECT count(*) FROM artifact_blobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(blobs, 12);
    survivor.stop().await.unwrap();
}
