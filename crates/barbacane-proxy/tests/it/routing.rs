//! Routing: static vs parameter precedence, captures, partial segments, HEAD, 404/405, health.

use barbacane_test::TestGateway;

use crate::common::{assert_ok, assert_problem, send_with};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Routing, version: "1"}
paths:
  /users/me:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"me"}'}}
      responses: {"200": {description: ok}}
  /users/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"param"}'}}
      responses: {"200": {description: ok}}
    delete:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      x-barbacane-dispatch: {name: mock, config: {status: 204}}
      responses: {"204": {description: gone}}
  /items/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"item"}'}}
      responses: {"200": {description: ok}}
  /files/{name}.{ext}:
    get:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string, minLength: 2}}
        - {name: ext, in: path, required: true, schema: {type: string, enum: [pdf, txt, gz]}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"file"}'}}
      responses: {"200": {description: ok}}
  /tree/b/c:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"tree-static"}'}}
      responses: {"200": {description: ok}}
  /tree/{x}/d:
    get:
      parameters:
        - {name: x, in: path, required: true, schema: {type: string}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"tree-param"}'}}
      responses: {"200": {description: ok}}
  /orders:
    post:
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"201": {description: created}}
    put:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

async fn gateway() -> TestGateway {
    TestGateway::from_specs(&[("api.yaml", SPEC)]).await
}

#[tokio::test]
async fn static_segment_beats_parameter() {
    let gw = gateway().await;
    let me = gw.get("/users/me").await;
    assert_ok(&me, 200);
    assert_eq!(me.json()["route"], "me");
    let other = gw.get("/users/42").await;
    assert_ok(&other, 200);
    assert_eq!(other.json()["route"], "param");
    // A segment that merely starts with the static text is a parameter value.
    assert_eq!(gw.get("/users/meow").await.json()["route"], "param");
}

#[tokio::test]
async fn static_branch_without_a_match_backtracks_to_parameter() {
    let gw = gateway().await;
    assert_eq!(gw.get("/tree/b/c").await.json()["route"], "tree-static");
    // `b` is static, but `/tree/b/d` only exists through `{x}`.
    let resp = gw.get("/tree/b/d").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["route"], "tree-param");
    assert_eq!(gw.get("/tree/z/d").await.json()["route"], "tree-param");
    assert_problem(&gw.get("/tree/z/c").await, 404, "route-not-found");
}

#[tokio::test]
async fn method_is_matched_after_the_path() {
    let gw = gateway().await;
    // `/users/me` wins the path; it has no DELETE, so 405 rather than falling back to `{id}`.
    let resp = send_with(&gw, "DELETE", "/users/me", &[], "").await;
    assert_problem(&resp, 405, "method-not-allowed");
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn path_parameter_is_captured_and_validated() {
    let gw = gateway().await;
    let ok = gw.get("/items/5").await;
    assert_ok(&ok, 200);
    assert_eq!(ok.json()["route"], "item");
    assert_problem(&gw.get("/items/abc").await, 400, "validation-failed");
    // minimum: 1
    assert_problem(&gw.get("/items/0").await, 400, "validation-failed");
    assert_problem(&gw.get("/items/-3").await, 400, "validation-failed");
    // Integers only.
    assert_problem(&gw.get("/items/1.5").await, 400, "validation-failed");
}

#[tokio::test]
async fn partial_segment_parameters() {
    let gw = gateway().await;
    let ok = gw.get("/files/report.pdf").await;
    assert_ok(&ok, 200);
    assert_eq!(ok.json()["route"], "file");
    assert_ok(&gw.get("/files/notes.txt").await, 200);
    // Both captures are validated: `ext` enum, `name` minLength.
    assert_problem(&gw.get("/files/report.exe").await, 400, "validation-failed");
    assert_problem(&gw.get("/files/r.pdf").await, 400, "validation-failed");
    // The first parameter takes as much as it can: `report.tar` + `gz`, not `report` + `tar.gz`.
    assert_ok(&gw.get("/files/report.tar.gz").await, 200);
    assert_problem(
        &gw.get("/files/report.gz.exe").await,
        400,
        "validation-failed",
    );
    // No literal `.`: the template does not match.
    assert_problem(&gw.get("/files/report").await, 404, "route-not-found");
}

#[tokio::test]
async fn head_is_served_by_get() {
    let gw = gateway().await;
    let get = gw.get("/users/me").await;
    let head = send_with(&gw, "HEAD", "/users/me", &[], "").await;
    assert_eq!(head.status(), 200);
    assert!(
        head.body.is_empty(),
        "HEAD must not carry a body: {:?}",
        head.body
    );
    let length = head
        .header("content-length")
        .expect("HEAD response has content-length");
    assert_eq!(
        length,
        get.body.len().to_string(),
        "HEAD announces the GET body length"
    );
    assert!(head.header("x-request-id").is_some());
    // HEAD on a path without GET is not allowed.
    let head_orders = send_with(&gw, "HEAD", "/orders", &[], "").await;
    assert_eq!(head_orders.status(), 405);
    assert!(head_orders.body.is_empty());
}

#[tokio::test]
async fn unknown_path_is_404_problem() {
    let gw = gateway().await;
    let resp = gw.get("/nope").await;
    assert_problem(&resp, 404, "route-not-found");
    assert_eq!(resp.json()["title"], "Not Found");
    assert_problem(&gw.get("/users/1/extra").await, 404, "route-not-found");
    assert_problem(
        &send_with(&gw, "POST", "/nope", &[], "{}").await,
        404,
        "route-not-found",
    );
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let gw = gateway().await;
    let resp = send_with(&gw, "POST", "/users/7", &[], "").await;
    assert_problem(&resp, 405, "method-not-allowed");
    assert_eq!(resp.header("allow"), Some("GET, HEAD, DELETE"));
    // No GET, so no implied HEAD.
    let resp = gw.get("/orders").await;
    assert_problem(&resp, 405, "method-not-allowed");
    assert_eq!(resp.header("allow"), Some("PUT, POST"));
    // Allowed methods work.
    assert_eq!(
        send_with(&gw, "DELETE", "/users/7", &[], "").await.status(),
        204
    );
    assert_ok(&send_with(&gw, "POST", "/orders", &[], "").await, 201);
}

#[tokio::test]
async fn non_openapi_method_on_existing_path_is_405() {
    let gw = gateway().await;
    let resp = send_with(&gw, "PROPFIND", "/users/7", &[], "").await;
    assert_problem(&resp, 405, "method-not-allowed");
    assert_eq!(resp.header("allow"), Some("GET, HEAD, DELETE"));
    let resp = send_with(&gw, "MKCOL", "/orders", &[], "").await;
    assert_problem(&resp, 405, "method-not-allowed");
    assert_eq!(resp.header("allow"), Some("PUT, POST"));
    // ... and 404 where no path matches.
    assert_problem(
        &send_with(&gw, "PROPFIND", "/nope", &[], "").await,
        404,
        "route-not-found",
    );
}

#[tokio::test]
async fn health_endpoint() {
    let gw = gateway().await;
    let resp = gw.get("/__barbacane/health").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["status"], "ok");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    // Anything else under the reserved prefix is an ordinary unknown route.
    assert_problem(&gw.get("/__barbacane/other").await, 404, "route-not-found");
}
