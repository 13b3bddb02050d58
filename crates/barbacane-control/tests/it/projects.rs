//! `/projects`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, req};

#[tokio::test]
async fn create_list_get_delete() {
    let app = TestApp::new().await;
    let r = app.post_json("/projects", json!({"name": "shop"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(
        r.header("location"),
        Some(format!("/projects/{id}").as_str())
    );

    let list = app.get("/projects").await.json();
    assert_eq!(list[0]["name"], "shop");
    let one = app.get(&format!("/projects/{id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["id"], id);

    assert_eq!(
        app.delete(&format!("/projects/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/projects/{id}"))
        .await
        .assert_problem(404, "not-found");
    app.delete(&format!("/projects/{id}"))
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn duplicate_names_conflict() {
    let app = TestApp::new().await;
    app.project("shop").await;
    app.post_json("/projects", json!({"name": "shop"}))
        .await
        .assert_problem(409, "already-exists");
}

#[tokio::test]
async fn bad_bodies_are_problems() {
    let app = TestApp::new().await;
    app.post_json("/projects", json!({"nom": "x"}))
        .await
        .assert_problem(400, "invalid-request");
    app.post_json("/projects", json!({"name": ""}))
        .await
        .assert_problem(400, "invalid-request");
    let not_json = req(Method::POST, "/projects")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{"))
        .unwrap();
    app.send(not_json)
        .await
        .assert_problem(400, "invalid-request");
    let xml = req(Method::POST, "/projects")
        .header(header::CONTENT_TYPE, "application/xml")
        .body(Body::from("<name/>"))
        .unwrap();
    app.send(xml)
        .await
        .assert_problem(415, "unsupported-media-type");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let app = TestApp::new().await;
    for path in [
        format!("/projects/{}", uuid::Uuid::new_v4()),
        "/projects/not-a-uuid".to_owned(),
    ] {
        app.get(&path).await.assert_problem(404, "not-found");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::new().await;
    app.get("/nope")
        .await
        .assert_problem(404, "route-not-found");
    let r = app
        .send(req(Method::PATCH, "/projects").body(Body::empty()).unwrap())
        .await;
    r.assert_problem(405, "method-not-allowed");
    let allow = r.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}
