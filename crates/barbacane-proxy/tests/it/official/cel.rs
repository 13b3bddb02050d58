//! `cel` inside a real gateway: access control by method, header and path, `on_match` answers
//! and context values read by later plugins (another `cel`, `rate-limit`), the identity
//! `apikey-auth` found, the 500 of an expression that does not decide, and an expression
//! that does not parse stopping the load.

use barbacane_proxy::Snapshot;
use barbacane_test::{TestGateway, TestResponse, compile_yaml};
use bytes::Bytes;
use http_body_util::Full;

use crate::common::assert_problem;

fn spec() -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /orders:
    get:
      x-barbacane-middlewares: &orders
        - name: cel
          config:
            expression: request.method != "DELETE" || request.headers[?"x-role"].orValue("") == "admin"
            deny_message: Only admins delete orders
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
    delete:
      x-barbacane-middlewares: *orders
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /reports/{{name}}:
    get:
      parameters: [{{name: name, in: path, required: true, schema: {{type: string}}}}]
      x-barbacane-middlewares:
        - name: cel
          config:
            expression: "!request.path.startsWith(\"/reports/internal-\") && request.query != \"debug\""
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /tenants:
    get:
      x-barbacane-middlewares:
        - name: cel
          config:
            expression: request.headers[?"x-tenant"].orValue("") in ["suspended-co", "gone-co"]
            on_match:
              deny: {{status: 423, code: tenant_suspended, message: "The tenant is suspended"}}
        - name: cel
          config:
            expression: request.headers[?"x-plan"].orValue("") == "gold"
            on_match:
              set_context: {{tier: gold}}
        - name: cel
          config:
            expression: request.context.?tier.orValue("") == "gold" && request.query == "premium"
            on_match:
              deny: {{status: 402, code: premium_only_preview}}
        - name: rate-limit
          config: {{quota: 1, window: 60, partition_key: "context:tier", policy_name: cel-tier-{pid}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /me:
    get:
      x-barbacane-middlewares:
        - name: apikey-auth
          config:
            keys: [{{key: alice-key, id: alice, scopes: [orders:read]}}, {{key: bob-key, id: bob}}]
        - name: cel
          config:
            expression: >
              request.consumer == "alice"
              && request.context["auth.scopes"].split(" ").exists(s, s == "orders:read")
            deny_message: Only alice
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /broken:
    get:
      x-barbacane-middlewares:
        - {{name: cel, config: {{expression: request.path}}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /strict:
    get:
      x-barbacane-middlewares:
        - name: cel
          config:
            expression: request.headers["x-tenant"] == "acme"
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#,
        pid = std::process::id(),
    )
}

async fn gateway() -> TestGateway {
    let artifact = compile_yaml(&[("api.yaml", &spec())]).unwrap_or_else(|d| panic!("{d:#?}"));
    TestGateway::from_artifact(&artifact, Default::default()).await
}

async fn send(
    gw: &TestGateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut r = gw.request(method, path);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    gw.send(r.body(Full::new(Bytes::new())).unwrap()).await
}

fn ok(r: &TestResponse) {
    assert_eq!(r.status(), 200, "{}", r.text());
}

#[tokio::test]
async fn access_control_by_method_header_and_path() {
    let gw = gateway().await;
    ok(&send(&gw, "GET", "/orders", &[]).await);
    let r = send(&gw, "DELETE", "/orders", &[]).await;
    assert_problem(&r, 403, "cel-denied");
    assert_eq!(r.json()["detail"], "Only admins delete orders");
    assert_problem(
        &send(&gw, "DELETE", "/orders", &[("x-role", "user")]).await,
        403,
        "cel-denied",
    );
    ok(&send(&gw, "DELETE", "/orders", &[("X-Role", "admin")]).await);

    ok(&send(&gw, "GET", "/reports/q3", &[]).await);
    let r = send(&gw, "GET", "/reports/internal-q3", &[]).await;
    assert_problem(&r, 403, "cel-denied");
    assert_eq!(r.json()["detail"], "Access denied by policy");
    assert_problem(
        &send(&gw, "GET", "/reports/q3?debug", &[]).await,
        403,
        "cel-denied",
    );
}

#[tokio::test]
async fn on_match_answers_and_tags_for_later_plugins() {
    let gw = gateway().await;
    // deny with a custom code and status.
    let r = send(&gw, "GET", "/tenants", &[("x-tenant", "gone-co")]).await;
    assert_problem(&r, 423, "tenant_suspended");
    let body = r.json();
    assert_eq!(body["code"], "tenant_suspended");
    assert_eq!(body["detail"], "The tenant is suspended");

    // set_context read by the next cel: the tier it set makes `?premium` a 402.
    let r = send(&gw, "GET", "/tenants?premium", &[("x-plan", "gold")]).await;
    assert_problem(&r, 402, "premium_only_preview");
    assert_eq!(r.json()["detail"], "premium_only_preview");
    // Without the plan, no tier: the same query goes through.
    ok(&send(&gw, "GET", "/tenants?premium", &[]).await);

    // ...and by rate-limit (partition `context:tier`): gold requests share the `gold` bucket
    // (quota 1), apart from the client-address bucket, which the request above spent.
    ok(&send(&gw, "GET", "/tenants", &[("x-plan", "gold")]).await);
    assert_problem(
        &send(&gw, "GET", "/tenants", &[("x-plan", "gold")]).await,
        429,
        "rate-limited",
    );
    assert_problem(
        &send(&gw, "GET", "/tenants", &[]).await,
        429,
        "rate-limited",
    );
}

#[tokio::test]
async fn the_identity_an_auth_plugin_found() {
    let gw = gateway().await;
    ok(&send(&gw, "GET", "/me", &[("x-api-key", "alice-key")]).await);
    let r = send(&gw, "GET", "/me", &[("x-api-key", "bob-key")]).await;
    assert_problem(&r, 403, "cel-denied");
    assert_eq!(r.json()["detail"], "Only alice");
    // Once apikey-auth ran, a client's x-auth-consumer is not believed.
    assert_problem(
        &send(
            &gw,
            "GET",
            "/me",
            &[("x-api-key", "bob-key"), ("x-auth-consumer", "alice")],
        )
        .await,
        403,
        "cel-denied",
    );
}

#[tokio::test]
async fn an_expression_that_does_not_decide_is_a_500() {
    let gw = gateway().await;
    let r = send(&gw, "GET", "/broken", &[]).await;
    assert_problem(&r, 500, "cel-evaluation");
    assert_eq!(
        r.json()["detail"],
        "the expression returned string, expected bool"
    );
    let r = send(&gw, "GET", "/strict", &[]).await;
    assert_problem(&r, 500, "cel-evaluation");
    assert_eq!(
        r.json()["detail"],
        "the expression failed: No such key: x-tenant"
    );
    ok(&send(&gw, "GET", "/strict", &[("x-tenant", "acme")]).await);
}

#[tokio::test]
async fn an_expression_that_does_not_parse_stops_the_load() {
    for (expression, why) in [
        ("request.method ==", "expression does not parse"),
        (
            "reqest.method == 'GET'",
            "`reqest`, which is not a variable",
        ),
        ("request.methd == 'GET'", "`request` has no field `methd`"),
    ] {
        let spec = format!(
            r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /a:
    get:
      x-barbacane-middlewares: [{{name: cel, config: {{expression: "{expression}"}}}}]
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
        );
        match compile_yaml(&[("api.yaml", &spec)]) {
            Err(diagnostics) => {
                let text = format!("{diagnostics:?}");
                assert!(text.contains(why), "{expression}: {text}");
            }
            Ok(artifact) => {
                let err = Snapshot::from_bytes(&artifact).unwrap_err();
                assert_eq!(err.exit_code(), barbacane_proxy::exit_code::CONFIG_INVALID);
                assert!(err.to_string().contains(why), "{expression}: {err}");
            }
        }
    }
}

/// The body is visible here because the operation has a body schema (the gateway reads and
/// validates it before the chain runs).
#[tokio::test]
async fn body_json_of_an_operation_with_a_body_schema() {
    let spec = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /payments:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [amount], properties: {amount: {type: integer}}}
      x-barbacane-middlewares:
        - {name: cel, config: {expression: "request.body_json.amount <= 100", deny_message: Over the limit}}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;
    let gw = TestGateway::from_specs(&[("api.yaml", spec)]).await;
    let post = |body: &'static str| {
        gw.request("POST", "/payments")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    ok(&gw.send(post(r#"{"amount": 40}"#)).await);
    let r = gw.send(post(r#"{"amount": 400}"#)).await;
    assert_problem(&r, 403, "cel-denied");
    assert_eq!(r.json()["detail"], "Over the limit");
}

/// Without a body schema the body reaches `cel` only through `core.buffer_bodies`, which
/// the plugin asks for from `init` when its expression reads the body.
#[tokio::test]
async fn body_json_is_buffered_for_the_expression() {
    let spec = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /payments:
    post:
      x-barbacane-middlewares:
        - name: cel
          config:
            expression: request.body_json.?amount.orValue(0) <= 100 && !request.body.contains("DROP")
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;
    let gw = TestGateway::from_specs(&[("api.yaml", spec)]).await;
    let post = |content_type: &'static str, body: &'static str| {
        gw.request("POST", "/payments")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    ok(&gw.send(post("application/json", r#"{"amount": 40}"#)).await);
    assert_problem(
        &gw.send(post("application/json", r#"{"amount": 400}"#))
            .await,
        403,
        "cel-denied",
    );
    assert_problem(
        &gw.send(post("text/plain", "DROP TABLE")).await,
        403,
        "cel-denied",
    );
    // Not JSON by its content type: body_json is {}.
    ok(&gw.send(post("text/plain", r#"{"amount": 400}"#)).await);
}
