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

#[tokio::test]
async fn nul_in_any_json_body_string_is_refused_before_sql() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    for (path, body) in [
        // A value deep in an array, a key, a value no name rule reads.
        (
            format!("/projects/{project}/api-keys"),
            json!({"name": "k", "scopes": ["artifact:read\u{0}"]}),
        ),
        (
            format!("/projects/{project}/known-good"),
            json!({"note": "blessed", "x\u{0}": 1}),
        ),
        (
            format!("/projects/{project}/known-good"),
            json!({"note": "a\u{0}b"}),
        ),
        (
            "/webhooks".to_owned(),
            json!({"url": "http://127.0.0.1:1/\u{0}", "secret": "env://S", "events": ["finding.opened"]}),
        ),
    ] {
        let reply = app.post_json(&path, body).await;
        let problem = reply.assert_problem(400, "invalid-request");
        // The extractor's answer, not the database-error net's.
        assert!(
            problem["detail"].as_str().unwrap().contains("U+0000"),
            "{path}: {problem}"
        );
    }
    // An escaped backslash followed by `u0000` is text, not a NUL.
    let reply = app
        .post_json(
            "/projects",
            json!({"name": "\\u0000 is how JSON writes NUL"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[tokio::test]
async fn a_json_body_needs_a_json_content_type() {
    let app = TestApp::new().await;
    for content_type in [None, Some("text/plain")] {
        let mut request = req(Method::POST, "/projects");
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let reply = app
            .send(request.body(Body::from(r#"{"name":"p"}"#)).unwrap())
            .await;
        reply.assert_problem(415, "unsupported-media-type");
    }
    assert_eq!(app.get("/projects").await.json(), json!([]));
}

#[tokio::test]
async fn a_plugin_schema_holding_nul_is_refused_with_the_reason() {
    let app = TestApp::new().await;
    let mut parts = crate::plugins::good("nul-schema", "1.0.0");
    parts[2].2 = br#"{"type": "object", "description": "a\u0000b"}"#.to_vec();
    let reply = crate::plugins::register(&app, &parts).await;
    let problem = reply.assert_problem(422, "invalid-plugin");
    assert!(problem.to_string().contains("U+0000"), "{problem}");
}

#[tokio::test]
async fn a_revision_beyond_i32_is_a_400_problem() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let spec = app
        .spec(&project, "api.yaml", &crate::support::mini_spec("/a", "{}"))
        .await;
    for revision in ["2147483648", "99999999999999999999", "-2147483649", "one"] {
        let reply = app.get(&format!("/specs/{spec}?revision={revision}")).await;
        let problem = reply.assert_problem(400, "invalid-request");
        assert!(
            problem["detail"].as_str().unwrap().contains("revision"),
            "{revision}: {problem}"
        );
    }
    assert_eq!(
        app.get(&format!("/specs/{spec}?revision=2147483647"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn uploads_get_503_busy_while_every_spec_check_slot_is_taken() {
    let app = TestApp::with(AppOptions {
        spec_check_wait: std::time::Duration::from_millis(300),
        ..AppOptions::default()
    })
    .await;
    let project = app.project("p").await;
    let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut held = Vec::new();
    for _ in 0..slots {
        held.push(app.state.spec_check().await.unwrap());
    }
    let spec = crate::support::mini_spec("/a", "{}");
    let reply = app.upload_yaml(&project, "api.yaml", &spec).await;
    reply.assert_problem(503, "busy");
    assert_eq!(reply.header("retry-after"), Some("1"));
    // A slot freed: the same upload goes through.
    held.pop();
    let reply = app.upload_yaml(&project, "api.yaml", &spec).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[tokio::test]
async fn urls_are_held_to_the_documented_rule() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    // A URI parser takes these; the document's patterns (and so the server) do not.
    for admin_url in ["https://node*", "http://node:1//", "http://node/?x"] {
        let reply = app
            .post_json(
                &format!("/projects/{project}/data-planes"),
                json!({"name": "n", "admin_url": admin_url, "admin_token": "env://T"}),
            )
            .await;
        reply.assert_problem(400, "invalid-request");
    }
    for url in ["http://hooks/>;)", "https://hooks:7*", "https://hooks/#f"] {
        let reply = app
            .post_json(
                "/webhooks",
                json!({"url": url, "secret": "env://S", "events": ["drift_detected"]}),
            )
            .await;
        reply.assert_problem(400, "invalid-request");
    }
    let reply = app
        .post_json(
            &format!("/projects/{project}/data-planes"),
            json!({"name": "n", "admin_url": "http://node-1.local:8081/", "admin_token": "env://T"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["admin_url"], "http://node-1.local:8081");
}
