//! API versioning through `Accept`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};

use crate::support::{TestApp, mini_spec, req};

async fn get_with(app: &TestApp, path: &str, accept: &str) -> crate::support::Reply {
    app.send(
        req(Method::GET, path)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn vendor_v1_plain_json_and_unknown_versions() {
    let app = TestApp::new().await;
    app.project("p").await;
    let r = get_with(&app, "/projects", "application/vnd.barbacane.v1+json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.barbacane.v1+json")
    );
    assert_eq!(r.json()[0]["name"], "p");

    let r = get_with(&app, "/projects", "application/json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = get_with(&app, "/projects", "*/*").await;
    assert_eq!(r.status, StatusCode::OK);

    let r = get_with(&app, "/projects", "application/vnd.barbacane.v2+json").await;
    let problem = r.assert_problem(406, "not-acceptable");
    assert!(problem["detail"].as_str().unwrap().contains("v2"));
    get_with(&app, "/projects", "text/html")
        .await
        .assert_problem(406, "not-acceptable");
    // Errors under v1 stay problem+json.
    let r = get_with(&app, "/projects/nope", "application/vnd.barbacane.v1+json").await;
    r.assert_problem(404, "not-found");
    // Health ignores Accept (probes send whatever they send).
    assert_eq!(
        get_with(&app, "/health", "text/plain").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn download_accepts_octet_stream() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    let artifact = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get_with(
        &app,
        &format!("/artifacts/{artifact}/download"),
        "application/octet-stream",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..4], b"\x89BCA");
}
