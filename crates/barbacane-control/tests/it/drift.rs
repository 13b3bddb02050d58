//! The drift pass over connected nodes: level-triggered, append-only history, the right
//! findings opened and resolved, and `GET /drift/findings` at any point in time.

use barbacane_control::drift::pass;
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::{TestApp, connected_gateway, mini_spec};

fn kinds(findings: &Value) -> Vec<String> {
    let mut k: Vec<String> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

/// `barbacane-control drift status --exit-code` against `addr`: (exit code, stdout).
async fn drift_status(addr: &str, project: &str) -> (Option<i32>, String) {
    let (addr, project) = (addr.to_owned(), project.to_owned());
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_barbacane-control"))
            .args([
                "drift",
                "status",
                "--exit-code",
                "--project",
                &project,
                "--server",
                &addr,
            ])
            .env_remove("BARBACANE_CONTROL_ADMIN_TOKEN")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

async fn open_findings(app: &TestApp, project: &str) -> Value {
    app.get(&format!("/drift/findings?project={project}&open=true"))
        .await
        .json()
}

#[tokio::test]
async fn findings_open_resolve_and_stay_in_history() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let key = app
        .post_json(
            &format!("/projects/{project}/api-keys"),
            json!({"name": "n"}),
        )
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // A node serving an artifact built outside the control plane, nothing deployed yet.
    let (gw, status) = connected_gateway(addr, &key, "edge", "{\"v\":0}").await;
    let interval = Duration::from_secs(30);
    let report = pass(&app.pool, interval).await.unwrap();
    assert_eq!(report.assessed, 1);
    let open = open_findings(&app, &project).await;
    assert_eq!(
        kinds(&open),
        ["no-desired-state", "unknown-artifact"],
        "{open}"
    );
    // Level-triggered: a second pass opens nothing twice and counts the observation.
    let again = pass(&app.pool, interval).await.unwrap();
    assert_eq!((again.opened, again.resolved), (0, 0));
    let open = open_findings(&app, &project).await;
    assert_eq!(open[0]["observations"], 2, "{open}");
    let node = app
        .get(&format!("/projects/{project}/data-planes"))
        .await
        .json()[0]
        .clone();
    assert_eq!(node["sync"], "Unknown", "{node}");
    let server = format!("http://{addr}");
    let (code, table) = drift_status(&server, &project).await;
    assert_eq!(code, Some(2), "{table}");
    assert!(
        table.contains("edge") && table.contains("no-desired-state"),
        "{table}"
    );
    let before_deploy = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Deploy an artifact built by the control plane: both findings resolve, Synced/Healthy.
    let spec = app
        .spec(&project, "api.yaml", &mini_spec("/hello", "{\"v\":1}"))
        .await;
    let artifact = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = app
        .post_json(
            &format!("/projects/{project}/deploy"),
            json!({"artifact_id": artifact}),
        )
        .await
        .json();
    let deployment = d["deployment_id"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let s = app.get(&format!("/deployments/{deployment}")).await.json();
        if s["nodes"][0]["state"] == "applied" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let report = pass(&app.pool, interval).await.unwrap();
    assert_eq!(report.resolved, 2, "{report:?}");
    assert_eq!(open_findings(&app, &project).await, json!([]));
    let node = app
        .get(&format!("/projects/{project}/data-planes"))
        .await
        .json()[0]
        .clone();
    assert_eq!(
        (node["sync"].as_str(), node["health"].as_str()),
        (Some("Synced"), Some("Healthy")),
        "{node}"
    );
    assert_eq!(drift_status(&server, &project).await.0, Some(0));
    assert_eq!(
        drift_status("http://127.0.0.1:1", &project).await.0,
        Some(1)
    );

    // History: what was open just before the deployment.
    let at = before_deploy.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let then = app
        .get(&format!(
            "/drift/findings?project={project}&open=true&at={at}"
        ))
        .await
        .json();
    assert_eq!(
        kinds(&then),
        ["no-desired-state", "unknown-artifact"],
        "{then}"
    );

    // The node reports the approved artifact_hash with other content (a re-seal): the
    // highest-severity finding. (The report is what its heartbeat would carry.)
    sqlx::query("UPDATE data_planes SET content_hash = 'sha256:resealed'")
        .execute(&app.pool)
        .await
        .unwrap();
    pass(&app.pool, interval).await.unwrap();
    let open = open_findings(&app, &project).await;
    assert_eq!(kinds(&open), ["content-mismatch"], "{open}");
    assert_eq!(open[0]["desired_hash"], open[0]["observed_hash"]);

    // The node goes away: unreachable only once it has been silent for a whole interval.
    drop(gw);
    status.get();
    sqlx::query("UPDATE data_planes SET status = 'offline'")
        .execute(&app.pool)
        .await
        .unwrap();
    pass(&app.pool, interval).await.unwrap();
    assert!(!kinds(&open_findings(&app, &project).await).contains(&"unreachable".to_owned()));
    pass(&app.pool, Duration::ZERO).await.unwrap();
    assert!(kinds(&open_findings(&app, &project).await).contains(&"unreachable".to_owned()));
    let bad = app.get("/drift/findings?at=yesterday").await;
    bad.assert_problem(400, "invalid-request");
}
