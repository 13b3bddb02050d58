//! `cors`: preflights routed to the operation they ask about, actual requests, and CORS
//! headers on gateway errors.

use barbacane_test::{TestGateway, compile_yaml_with};
use bytes::Bytes;
use http_body_util::Full;

use crate::common::assert_problem;

fn spec(dispatch: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
x-barbacane-middlewares:
  - name: cors
    config: {{allowed_origins: ["https://app.example"], allowed_methods: [GET, PUT], allowed_headers: [x-api-key], max_age: 600}}
paths:
  /pets:
    get:
      x-barbacane-dispatch: {dispatch}
      responses: {{"200": {{description: ok}}}}
  /plain:
    get:
      x-barbacane-middlewares: []
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
    )
}

async fn preflight(
    gw: &TestGateway,
    path: &str,
    origin: &str,
    method: &str,
) -> barbacane_test::TestResponse {
    gw.send(
        gw.request("OPTIONS", path)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "X-Api-Key")
            .body(Full::default())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_preflight_to_a_path_without_options_is_answered_by_the_operations_cors() {
    let gw = TestGateway::from_specs(&[("api.yaml", &spec("{name: mock}"))]).await;
    let ok = preflight(&gw, "/pets", "https://app.example", "GET").await;
    assert_eq!(ok.status(), 204, "{}", ok.text());
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(ok.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        ok.header("access-control-allow-headers")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("x-api-key")
    );
    assert_eq!(ok.header("access-control-max-age"), Some("600"));

    let denied = preflight(&gw, "/pets", "https://evil.example", "GET").await;
    assert_problem(&denied, 403, "cors-preflight-rejected");
    assert_eq!(denied.header("access-control-allow-origin"), None);

    // PUT is allowed by cors but /pets has no PUT operation: nothing to route to.
    let no_op = preflight(&gw, "/pets", "https://app.example", "PUT").await;
    assert_problem(&no_op, 405, "method-not-allowed");

    // An operation without cors in its chain keeps the plain 405.
    let plain = preflight(&gw, "/plain", "https://app.example", "GET").await;
    assert_problem(&plain, 405, "method-not-allowed");
    assert_eq!(plain.header("allow"), Some("GET, HEAD"));

    // OPTIONS that is not a preflight is not routed either.
    let bare = gw
        .send(
            gw.request("OPTIONS", "/pets")
                .body(Full::default())
                .unwrap(),
        )
        .await;
    assert_problem(&bare, 405, "method-not-allowed");
}

#[tokio::test]
async fn actual_requests_get_cors_headers_only_for_allowed_origins() {
    let gw = TestGateway::from_specs(&[("api.yaml", &spec("{name: mock}"))]).await;
    let get = |origin: &'static str| {
        gw.send(
            gw.request("GET", "/pets")
                .header("origin", origin)
                .body(Full::<Bytes>::default())
                .unwrap(),
        )
    };
    let allowed = get("https://app.example").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(allowed.header("vary").is_some_and(|v| v.contains("Origin")));
    let other = get("https://evil.example").await;
    assert_eq!(other.status(), 200);
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn gateway_errors_behind_cors_still_carry_cors_headers() {
    // Nothing listens on this port: the upstream is unreachable (502).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dispatch = format!("{{name: http-upstream, config: {{url: 'http://127.0.0.1:{port}'}}}}");
    let artifact = compile_yaml_with(&[("api.yaml", &spec(&dispatch))], |o| {
        o.allow_plaintext_upstream = true
    })
    .unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    let response = gw
        .send(
            gw.request("GET", "/pets")
                .header("origin", "https://app.example")
                .body(Full::default())
                .unwrap(),
        )
        .await;
    assert_problem(&response, 502, "bad-gateway");
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://app.example"),
        "a browser can read the error only with CORS headers"
    );
}
