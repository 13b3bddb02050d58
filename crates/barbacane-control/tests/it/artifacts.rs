//! Artifacts: listing, provenance, download, deletion rules, and the full lifecycle.

use axum::http::StatusCode;
use barbacane_control::db::artifacts;
use barbacane_proxy::{ServeConfig, Snapshot};
use barbacane_test::TestGateway;
use bytes::Bytes;
use http_body_util::Full;

use crate::support::{TestApp, mini_spec, petstore};

#[tokio::test]
async fn full_lifecycle_from_upload_to_a_served_request() {
    let app = TestApp::new().await;
    let project = app.project("petstore").await;
    let spec = app.spec(&project, "api.yaml", &petstore()).await;
    let r = app.post_empty(&format!("/specs/{spec}/compile")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let c = app.wait_compilation(r.json()["id"].as_str().unwrap()).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    let artifact = c["artifact_id"].as_str().unwrap();

    let download = app.get(&format!("/artifacts/{artifact}/download")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.header("content-type"),
        Some("application/octet-stream")
    );
    let snapshot = Snapshot::from_bytes(&download.body).expect("the artifact loads");
    assert_eq!(snapshot.route_count(), 5);
    // Conditional download: the same ETag gets 304 and no body; another gets the bytes.
    let etag = download.header("etag").expect("etag").to_owned();
    for (sent, status) in [
        (etag.clone(), StatusCode::NOT_MODIFIED),
        (format!("W/{etag}"), StatusCode::NOT_MODIFIED),
        (format!("\"other\", {etag}"), StatusCode::NOT_MODIFIED),
        ("*".to_owned(), StatusCode::NOT_MODIFIED),
        ("\"sha256:0\"".to_owned(), StatusCode::OK),
    ] {
        let r = app
            .send(
                crate::support::req(
                    axum::http::Method::GET,
                    &format!("/artifacts/{artifact}/download"),
                )
                .header("if-none-match", &sent)
                .body(axum::body::Body::empty())
                .unwrap(),
            )
            .await;
        assert_eq!(r.status, status, "{sent}");
        if status == StatusCode::NOT_MODIFIED {
            assert!(r.body.is_empty());
            assert_eq!(r.header("etag"), Some(etag.as_str()));
        }
    }

    let gateway = TestGateway::from_artifact(&download.body, ServeConfig::default()).await;
    let response = gateway
        .send(
            gateway
                .request("GET", "/pets/1")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json()["name"], "Rex");
}

#[tokio::test]
async fn list_show_and_delete() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    let artifact = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = app.get("/artifacts").await.json();
    assert_eq!(list[0]["id"], artifact);
    let filtered = app
        .get(&format!("/artifacts?project_id={}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(filtered.json(), serde_json::json!([]));
    app.get("/artifacts?project_id=nope")
        .await
        .assert_problem(400, "invalid-request");

    let shown = app.get(&format!("/artifacts/{artifact}")).await.json();
    assert_eq!(shown["header"]["format_version"], 1);
    assert!(shown["size"].as_i64().unwrap() > 0);

    // A deployed artifact cannot be deleted, nor can its project.
    let uuid = uuid::Uuid::parse_str(&artifact).unwrap();
    artifacts::deploy(&app.pool, uuid, "edge-1").await.unwrap();
    app.delete(&format!("/artifacts/{artifact}"))
        .await
        .assert_problem(409, "in-use");
    app.delete(&format!("/projects/{project}"))
        .await
        .assert_problem(409, "in-use");
    sqlx::query("DELETE FROM deployments")
        .execute(&app.pool)
        .await
        .unwrap();

    assert_eq!(
        app.delete(&format!("/artifacts/{artifact}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/artifacts/{artifact}"))
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("/artifacts/{artifact}/download"))
        .await
        .assert_problem(404, "not-found");
    app.delete(&format!("/artifacts/{artifact}"))
        .await
        .assert_problem(404, "not-found");
    let blobs: i64 = sqlx::query_scalar("SELECT count(*) FROM artifact_blobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(blobs, 0);
}

#[tokio::test]
async fn deleting_a_project_removes_its_artifacts() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    let artifact = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.delete(&format!("/projects/{project}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/artifacts/{artifact}"))
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("/specs/{spec}"))
        .await
        .assert_problem(404, "not-found");
    let blobs: i64 = sqlx::query_scalar("SELECT count(*) FROM artifact_blobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(blobs, 0);
}

#[tokio::test]
async fn missing_bytes_are_an_internal_error_without_details() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    let artifact = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sqlx::query("DELETE FROM artifact_blobs")
        .execute(&app.pool)
        .await
        .unwrap();
    let problem = app
        .get(&format!("/artifacts/{artifact}/download"))
        .await
        .assert_problem(500, "internal-error");
    assert_eq!(problem["detail"], "internal error");
}
