//! Deployments in connected mode, end to end: a real control plane (Postgres, compile
//! workers, the WebSocket hub) and real gateways in process that pull, verify and swap.

use serde_json::{Value, json};
use std::time::Duration;

use crate::support::{TestApp, connected_gateway as node, mini_spec};

async fn artifact(app: &TestApp, project: &str, file: &str, body: &str) -> String {
    let spec = app.spec(project, file, &mini_spec("/hello", body)).await;
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    c["artifact_id"].as_str().unwrap().to_owned()
}

async fn deploy(app: &TestApp, project: &str, artifact: &str) -> String {
    let r = app
        .post_json(
            &format!("/projects/{project}/deploy"),
            json!({"artifact_id": artifact}),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::ACCEPTED, "{}", r.text());
    r.json()["deployment_id"].as_str().unwrap().to_owned()
}

/// Waits until every node of the deployment left `pending`; returns the deployment.
async fn settled(app: &TestApp, id: &str) -> Value {
    for _ in 0..200 {
        let d = app.get(&format!("/deployments/{id}")).await.json();
        let nodes = d["nodes"].as_array().cloned().unwrap_or_default();
        if !nodes.is_empty() && nodes.iter().all(|n| n["state"] != "pending") {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deployment {id} never settled");
}

async fn hello(gw: &barbacane_test::TestGateway) -> String {
    gw.get("/hello").await.text()
}

#[tokio::test]
async fn a_deployment_is_pulled_verified_applied_and_refused_when_tampered() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let key = app
        .post_json(
            &format!("/projects/{project}/api-keys"),
            json!({"name": "nodes"}),
        )
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let v1 = artifact(&app, &project, "v1.yaml", "{\"v\":1}").await;
    let v2 = artifact(&app, &project, "v2.yaml", "{\"v\":2}").await;
    let (first, _) = node(addr, &key, "edge-1", "{\"v\":0}").await;
    assert_eq!(hello(&first).await, "{\"v\":0}");

    // Deploy v1: the node pulls it, swaps it in, reports applied.
    let started = std::time::Instant::now();
    let d1 = deploy(&app, &project, &v1).await;
    let state = settled(&app, &d1).await;
    // A figure for the closing note, never an assertion.
    eprintln!(
        "POST /deploy -> applied: {} ms",
        started.elapsed().as_millis()
    );
    let node_row = app
        .get(&format!("/projects/{project}/data-planes"))
        .await
        .json();
    assert_eq!(
        node_row[0]["status"], "online",
        "back from deploying: {node_row}"
    );
    assert_eq!(node_row[0]["artifact_id"], v1.as_str(), "{node_row}");
    assert_eq!(state["nodes"][0]["state"], "applied", "{state}");
    assert_eq!(state["nodes"][0]["name"], "edge-1");
    assert_eq!(hello(&first).await, "{\"v\":1}");
    let v1_hash = state["artifact_hash"].as_str().unwrap().to_owned();
    assert_eq!(state["nodes"][0]["reported_hash"], v1_hash.as_str());

    // Deploying what already runs completes without a download.
    let again = settled(&app, &deploy(&app, &project, &v1).await).await;
    assert_eq!(again["nodes"][0]["state"], "applied", "{again}");

    // A node that connects later is told the desired artifact when it registers.
    let (late, _) = node(addr, &key, "edge-2", "{\"v\":0}").await;
    for _ in 0..200 {
        if hello(&late).await == "{\"v\":1}" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hello(&late).await, "{\"v\":1}");

    // A tampered artifact is refused; the nodes keep serving v1.
    sqlx::query(
        "UPDATE artifact_blobs SET bytes = overlay(bytes placing '\\x00'::bytea from length(bytes) - 10) \
         WHERE artifact_id = $1",
    )
    .bind(uuid::Uuid::parse_str(&v2).unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let bad = settled(&app, &deploy(&app, &project, &v2).await).await;
    for n in bad["nodes"].as_array().unwrap() {
        assert_eq!(n["state"], "rejected", "{bad}");
        assert!(n["reason"].as_str().unwrap().contains("tampered"), "{bad}");
        assert_eq!(n["reported_hash"], v1_hash.as_str());
    }
    assert_eq!(hello(&first).await, "{\"v\":1}");
    assert_eq!(hello(&late).await, "{\"v\":1}");

    // History, newest first; another project's artifact is not deployable here.
    let history = app
        .get(&format!("/projects/{project}/deployments"))
        .await
        .json();
    assert_eq!(history.as_array().unwrap().len(), 3);
    assert_eq!(history[0]["artifact_id"], v2.as_str());
    let other = app.project("other").await;
    let foreign = artifact(&app, &other, "x.yaml", "{}").await;
    app.post_json(
        &format!("/projects/{project}/deploy"),
        json!({"artifact_id": foreign}),
    )
    .await
    .assert_problem(409, "conflict");
}
