//! `correlation-id` and `request-size-limit` in front of `mock`.

use barbacane_test::TestGateway;
use bytes::Bytes;
use http_body_util::Full;

use crate::common::{assert_problem, is_uuid_v4};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-middlewares:
  - {name: correlation-id}
  - {name: request-size-limit, config: {max_bytes: 16}}
paths:
  /a:
    post:
      x-barbacane-dispatch: {name: mock, config: {status: 201, body: '{"ok":true}'}}
      responses: {"201": {description: ok}}
"#;

async fn post(
    gw: &TestGateway,
    body: &'static str,
    id: Option<&str>,
) -> barbacane_test::TestResponse {
    let mut request = gw
        .request("POST", "/a")
        .header("content-type", "text/plain");
    if let Some(id) = id {
        request = request.header("x-correlation-id", id);
    }
    gw.send(
        request
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn correlation_ids_are_generated_or_kept_and_returned() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let fresh = post(&gw, "hi", None).await;
    assert_eq!(fresh.status(), 201, "{}", fresh.text());
    let id = fresh.header("x-correlation-id").expect("generated id");
    assert!(is_uuid_v4(id), "{id}");
    let again = post(&gw, "hi", None).await;
    assert_ne!(
        again.header("x-correlation-id"),
        Some(id),
        "a new id per request"
    );

    let kept = post(&gw, "hi", Some("order-42")).await;
    assert_eq!(kept.header("x-correlation-id"), Some("order-42"));
    assert_eq!(kept.text(), r#"{"ok":true}"#);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413_and_still_get_an_id() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let big = post(&gw, "seventeen bytes!!", None).await;
    assert_problem(&big, 413, "payload-too-large");
    // correlation-id ran before the short-circuit, so its on_response still runs.
    assert!(big.header("x-correlation-id").is_some_and(is_uuid_v4));
    let exact = post(&gw, "sixteen bytes!!!", None).await;
    assert_eq!(exact.status(), 201);
}

/// A hook's call count so far (process-wide; 0 before its first call).
fn hook_calls(gw: &TestGateway, plugin: &str, hook: &str) -> u64 {
    let prefix = format!(
        "barbacane_wasm_execution_duration_seconds_count{{plugin=\"{plugin}\",hook=\"{hook}\"}}"
    );
    gw.gateway()
        .render_metrics()
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_middleware_without_an_on_response_is_called_once_per_request() {
    // `request-size-limit` keeps the SDK's default `on_response`: once it has run, the plugin
    // asks the gateway to skip it. `correlation-id` has one of its own and keeps getting it.
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let before = (
        hook_calls(&gw, "request-size-limit", "on_request"),
        hook_calls(&gw, "request-size-limit", "on_response"),
        hook_calls(&gw, "correlation-id", "on_response"),
    );
    for _ in 0..20 {
        let r = post(&gw, "hi", None).await;
        assert_eq!(r.status(), 201, "{}", r.text());
        assert!(r.header("x-correlation-id").is_some());
    }
    let requests = hook_calls(&gw, "request-size-limit", "on_request") - before.0;
    let responses = hook_calls(&gw, "request-size-limit", "on_response") - before.1;
    let echoed = hook_calls(&gw, "correlation-id", "on_response") - before.2;
    assert!(requests >= 20, "{requests}");
    assert!(echoed >= 20, "{echoed}");
    // Other tests of this process start gateways too, whose fresh instances each run the
    // default once: a handful at most, never one per request.
    assert!(
        responses <= 5,
        "on_response ran {responses} times for 20 requests"
    );
}
