//! Route shapes public descriptions use: adjacent parameters (`{id}{ext}`, RFC 6570
//! `{.format}`), greedy `{path+}`, many parameters, OpenAPI 3.2 `QUERY` and
//! `additionalOperations`, and a root-level dispatcher default.

use barbacane_test::TestGateway;

use crate::common::{assert_ok, assert_problem, send_with};

const SPEC: &str = r#"
openapi: 3.2.0
info: {title: Real-world routes, version: "1"}
x-barbacane-dispatch: {name: mock, config: {body: '{"route":"default"}'}}
paths:
  /profiles/{id}{mediaTypeExtension}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: mediaTypeExtension, in: path, required: true, schema: {type: string, enum: [".json"]}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"adjacent"}'}}
      responses: {"200": {description: ok}}
  /api/projects/{id}{.format}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: .format, in: path, required: true, schema: {type: string, enum: [json, xml]}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"label"}'}}
      responses: {"200": {description: ok}}
  /files/readme:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"static"}'}}
      responses: {"200": {description: ok}}
  /files/{path+}:
    get:
      parameters:
        - {name: path, in: path, required: true, schema: {type: string, pattern: '^[a-z/]+$'}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"greedy"}'}}
      responses: {"200": {description: ok}}
  /t/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}:
    get:
      parameters:
        - {name: j, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: ok}}
  /search:
    query:
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [q]}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"query"}'}}
      responses: {"200": {description: ok}}
    additionalOperations:
      PURGE:
        x-barbacane-dispatch: {name: mock, config: {status: 204}}
        responses: {"204": {description: purged}}
"#;

async fn gateway() -> TestGateway {
    TestGateway::from_specs(&[("api.yaml", SPEC)]).await
}

async fn route(gw: &TestGateway, method: &str, path: &str) -> String {
    let resp = send_with(gw, method, path, &[], "").await;
    assert_ok(&resp, 200);
    resp.json()["route"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn adjacent_parameters_split_at_the_last_dot() {
    let gw = gateway().await;
    assert_eq!(route(&gw, "GET", "/profiles/42.json").await, "adjacent");
    assert_eq!(route(&gw, "GET", "/profiles/a.b.json").await, "adjacent");
    // The extension is validated against its schema.
    let resp = send_with(&gw, "GET", "/profiles/42.xml", &[], "").await;
    assert_problem(&resp, 400, "validation-failed");
    // RFC 6570 label: the value leaves the dot out; without a dot the route does not match.
    assert_eq!(route(&gw, "GET", "/api/projects/7.json").await, "label");
    let resp = send_with(&gw, "GET", "/api/projects/x.json", &[], "").await;
    assert_problem(&resp, 400, "validation-failed");
    let resp = send_with(&gw, "GET", "/api/projects/7.yaml", &[], "").await;
    assert_problem(&resp, 400, "validation-failed");
    let resp = send_with(&gw, "GET", "/api/projects/7", &[], "").await;
    assert_problem(&resp, 404, "route-not-found");
}

#[tokio::test]
async fn greedy_parameters_take_the_rest_and_static_routes_win() {
    let gw = gateway().await;
    assert_eq!(route(&gw, "GET", "/files/readme").await, "static");
    assert_eq!(route(&gw, "GET", "/files/a").await, "greedy");
    assert_eq!(route(&gw, "GET", "/files/a/b/c").await, "greedy");
    // The joined value is validated: `B` breaks the pattern.
    let resp = send_with(&gw, "GET", "/files/a/B", &[], "").await;
    assert_problem(&resp, 400, "validation-failed");
    let resp = send_with(&gw, "GET", "/files", &[], "").await;
    assert_problem(&resp, 404, "route-not-found");
}

#[tokio::test]
async fn ten_parameters_and_the_root_default_dispatcher() {
    let gw = gateway().await;
    assert_eq!(
        route(&gw, "GET", "/t/1/2/3/4/5/6/7/8/9/10").await,
        "default"
    );
    let resp = send_with(&gw, "GET", "/t/1/2/3/4/5/6/7/8/9/x", &[], "").await;
    assert_problem(&resp, 400, "validation-failed");
}

#[tokio::test]
async fn query_and_additional_operations_are_routed() {
    let gw = gateway().await;
    let ct = [("content-type", "application/json")];
    let resp = send_with(&gw, "QUERY", "/search", &ct, r#"{"q":"x"}"#).await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["route"], "query");
    let resp = send_with(&gw, "QUERY", "/search", &ct, "{}").await;
    assert_problem(&resp, 400, "validation-failed");
    let resp = send_with(&gw, "PURGE", "/search", &[], "").await;
    assert_eq!(resp.status(), 204);
    let resp = send_with(&gw, "GET", "/search", &[], "").await;
    assert_problem(&resp, 405, "method-not-allowed");
    let allow = resp.header("allow").unwrap_or_default().to_owned();
    assert!(
        allow.contains("QUERY") && allow.contains("PURGE"),
        "{allow}"
    );
}
