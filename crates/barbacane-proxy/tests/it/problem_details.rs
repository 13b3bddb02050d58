//! What problem responses disclose: field details in `--dev` mode only, never the submitted
//! value in production, and fail-fast reporting of the first failing location.

use barbacane_proxy::ServeConfig;
use barbacane_test::{TestGateway, TestResponse, compile_yaml};

use crate::common::{assert_problem, post_json, send_with};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Problems, version: "1"}
paths:
  /items/{id}:
    post:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: mode, in: query, schema: {type: string, enum: [fast, slow]}}
        - {name: x-trace, in: header, schema: {type: string, pattern: '^[0-9]+$'}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                code: {type: string, pattern: '^[A-Z]+$'}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

const SECRET: &str = "zz-secret-zz";

async fn gateway(dev: bool) -> TestGateway {
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).expect("spec compiles");
    TestGateway::from_artifact(
        &artifact,
        ServeConfig {
            dev,
            ..ServeConfig::default()
        },
    )
    .await
}

fn errors(resp: &TestResponse) -> Vec<serde_json::Value> {
    resp.json()["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn dev_mode_lists_field_errors() {
    let gw = gateway(true).await;
    let resp = post_json(&gw, "/items/1?mode=warp", r#"{"code":"AB"}"#).await;
    assert_problem(&resp, 400, "validation-failed");
    let errs = errors(&resp);
    assert_eq!(errs.len(), 1, "{}", resp.text());
    assert_eq!(errs[0]["location"], "query");
    assert_eq!(errs[0]["field"], "mode");
    assert!(
        errs[0]["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{}",
        resp.text()
    );

    let resp = post_json(&gw, "/items/1", r#"{"code":"lower"}"#).await;
    assert_problem(&resp, 400, "validation-failed");
    let errs = errors(&resp);
    assert_eq!(errs.len(), 1, "{}", resp.text());
    assert_eq!(errs[0]["location"], "body");
    assert_eq!(errs[0]["field"], "/code");

    let resp = send_with(
        &gw,
        "POST",
        "/items/1",
        &[("x-trace", "abc"), ("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_problem(&resp, 400, "validation-failed");
    assert_eq!(errors(&resp)[0]["location"], "header");
    assert_eq!(errors(&resp)[0]["field"], "x-trace");
}

#[tokio::test]
async fn dev_mode_accepts_valid_requests() {
    let gw = gateway(true).await;
    let resp = send_with(
        &gw,
        "POST",
        "/items/1?mode=fast",
        &[("x-trace", "123"), ("content-type", "application/json")],
        r#"{"code":"OK"}"#,
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert!(resp.json().get("errors").is_none());
}

#[tokio::test]
async fn production_mode_has_no_errors_and_does_not_echo_input() {
    let gw = gateway(false).await;
    let attempts = [
        post_json(&gw, &format!("/items/1?mode={SECRET}"), "{}").await,
        post_json(&gw, "/items/1", &format!(r#"{{"code":"{SECRET}"}}"#)).await,
        send_with(
            &gw,
            "POST",
            "/items/1",
            &[("x-trace", SECRET), ("content-type", "application/json")],
            "{}",
        )
        .await,
        post_json(&gw, "/items/1", &format!(r#"{{"code": {SECRET}"#)).await,
    ];
    for resp in &attempts {
        assert_problem(resp, 400, "validation-failed");
        let body = resp.json();
        assert!(
            body.get("errors").is_none(),
            "production must not list errors: {body}"
        );
        assert!(
            !resp.text().contains(SECRET),
            "production body echoes the input: {}",
            resp.text()
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        for (name, value) in &resp.head.headers {
            assert!(
                !value
                    .as_bytes()
                    .windows(SECRET.len())
                    .any(|w| w == SECRET.as_bytes()),
                "header {name} echoes input"
            );
        }
    }
    // The same mistake in dev mode does list the field.
    let dev = gateway(true).await;
    let resp = post_json(&dev, &format!("/items/1?mode={SECRET}"), "{}").await;
    assert_problem(&resp, 400, "validation-failed");
    assert_eq!(errors(&resp).len(), 1, "{}", resp.text());
}

#[tokio::test]
async fn production_media_type_errors_do_not_echo_the_content_type() {
    let gw = gateway(false).await;
    let resp = gw
        .send_body("POST", "/items/1", &format!("text/{SECRET}"), "{}")
        .await;
    assert_problem(&resp, 415, "unsupported-media-type");
    assert!(!resp.text().contains(SECRET), "{}", resp.text());
    assert!(resp.json().get("errors").is_none());
}

#[tokio::test]
async fn problem_instance_carries_the_request_id() {
    let gw = gateway(false).await;
    let resp = send_with(&gw, "POST", "/items/x", &[("x-request-id", "req-42")], "").await;
    assert_problem(&resp, 400, "validation-failed");
    assert_eq!(resp.json()["instance"], "urn:request:req-42");
    assert_eq!(resp.json()["title"], "Bad Request");
}

#[tokio::test]
async fn fail_fast_reports_only_the_first_location() {
    let gw = gateway(true).await;
    // Bad path parameter AND bad query parameter AND bad body: only the path is reported.
    let resp = post_json(&gw, "/items/abc?mode=warp", r#"{"code":"lower"}"#).await;
    assert_problem(&resp, 400, "validation-failed");
    let errs = errors(&resp);
    assert!(!errs.is_empty(), "{}", resp.text());
    assert!(
        errs.iter().all(|e| e["location"] == "path"),
        "only path errors expected: {}",
        resp.text()
    );
    assert_eq!(errs[0]["field"], "id");
    // Fix the path: now the query is what fails, and the body is still not reported.
    let resp = post_json(&gw, "/items/1?mode=warp", r#"{"code":"lower"}"#).await;
    let errs = errors(&resp);
    assert!(
        !errs.is_empty() && errs.iter().all(|e| e["location"] == "query"),
        "{}",
        resp.text()
    );
}
