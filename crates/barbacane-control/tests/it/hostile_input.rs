//! Hostile request input is answered with RFC 9457 4xx before it reaches SQL: NUL bytes and
//! invalid UTF-8 in the target, NUL in JSON bodies; unknown paths need the token like known
//! ones.

use serde_json::json;

use crate::support::{AppOptions, TestApp, req};
use axum::body::Body;
use axum::http::Method;

#[tokio::test]
async fn nul_and_invalid_utf8_are_400_problems_never_500() {
    let app = TestApp::new().await;
    for path in [
        "/plugins?name=a%00b",
        "/plugins/a%00b",
        "/plugins/x/1.0.0%00",
        "/projects/%FF",
        "/specs?name=%C3%28",
    ] {
        let reply = app.get(path).await;
        let problem = reply.assert_problem(400, "invalid-request");
        assert!(
            problem["detail"].as_str().unwrap().contains("NUL")
                || problem["detail"].as_str().unwrap().contains("UTF-8"),
            "{path}: {problem}"
        );
    }
    // A NUL inside a JSON string reaches the database layer: still a 400.
    let reply = app.post_json("/projects", json!({"name": "a\u{0}b"})).await;
    reply.assert_problem(400, "invalid-request");
}

#[tokio::test]
async fn unknown_paths_need_the_token_too() {
    let app = TestApp::with(AppOptions {
        tokens: vec!["s3cret-token-for-tests"],
        ..AppOptions::default()
    })
    .await;
    let anonymous = app.get("/no/such/path").await;
    anonymous.assert_problem(401, "unauthorized");
    let wrong_method = app
        .send(req(Method::PATCH, "/projects").body(Body::empty()).unwrap())
        .await;
    wrong_method.assert_problem(401, "unauthorized");
    let known = app
        .send(
            req(Method::GET, "/no/such/path")
                .header("authorization", "Bearer s3cret-token-for-tests")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    known.assert_problem(404, "route-not-found");
    // Health stays public.
    assert_eq!(app.get("/health").await.status, 200);
}

#[tokio::test]
async fn diagnostics_are_capped_and_multipart_parts_bounded() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    // 150 operations dispatching to a plugin that does not exist: 150 errors.
    let mut spec = String::from("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n");
    for i in 0..150 {
        spec.push_str(&format!(
            "  /r{i}:\n    get:\n      x-barbacane-dispatch: {{name: no-such-plugin}}\n      responses: {{'200': {{description: ok}}}}\n"
        ));
    }
    let reply = app.upload_yaml(&project, "big.yaml", &spec).await;
    let problem = reply.assert_problem(422, "invalid-spec");
    assert_eq!(
        problem["errors"].as_array().unwrap().len(),
        100,
        "{problem}"
    );
    assert!(
        problem["errors_total"].as_u64().unwrap() >= 150,
        "{problem}"
    );

    let parts: Vec<(String, String)> = (0..1001)
        .map(|i| (format!("f{i}.yaml"), "x: 1".to_owned()))
        .collect();
    let refs: Vec<(&str, &str, &str)> = parts
        .iter()
        .map(|(n, c)| ("file", n.as_str(), c.as_str()))
        .collect();
    let (content_type, body) = crate::specs::multipart(&refs);
    let reply = app
        .send(
            req(
                Method::POST,
                &format!("/projects/{project}/specs?name=a.yaml"),
            )
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
        )
        .await;
    let problem = reply.assert_problem(400, "invalid-request");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("at most 1000 parts"),
        "{problem}"
    );
}
