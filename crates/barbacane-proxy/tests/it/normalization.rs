//! Path normalization before routing: slashes, percent-encoding, dot segments, bad paths.
//! Targets are sent byte for byte over a raw connection so no client rewrites them.

use barbacane_test::TestGateway;

use crate::common::{assert_raw_problem, raw_get};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Normalization, version: "1"}
paths:
  /users/me:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"me"}'}}
      responses: {"200": {description: ok}}
  /a/{x}:
    get:
      parameters:
        - {name: x, in: path, required: true, schema: {type: string}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"a-param"}'}}
      responses: {"200": {description: ok}}
  /a/b:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"a-b"}'}}
      responses: {"200": {description: ok}}
  /slashed/{x}:
    get:
      parameters:
        - {name: x, in: path, required: true, schema: {type: string, pattern: '^[a-z]/[a-z]$'}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"slashed"}'}}
      responses: {"200": {description: ok}}
"#;

async fn gateway() -> TestGateway {
    TestGateway::from_specs(&[("api.yaml", SPEC)]).await
}

async fn route_of(gw: &TestGateway, target: &str) -> (u16, String) {
    let resp = raw_get(gw.addr(), target).await;
    let route = resp.json()["route"].as_str().unwrap_or_default().to_owned();
    (resp.status, route)
}

#[tokio::test]
async fn trailing_and_repeated_slashes_are_ignored() {
    let gw = gateway().await;
    assert_eq!(route_of(&gw, "/users/me").await, (200, "me".into()));
    assert_eq!(route_of(&gw, "/users/me/").await, (200, "me".into()));
    assert_eq!(route_of(&gw, "//users///me").await, (200, "me".into()));
    assert_eq!(route_of(&gw, "/users//me//").await, (200, "me".into()));
    // Empty segments are dropped, never turned into an empty parameter value.
    assert_raw_problem(&raw_get(gw.addr(), "/a//").await, 404, "route-not-found");
}

#[tokio::test]
async fn encoded_slash_stays_inside_its_segment() {
    let gw = gateway().await;
    // `/a/b%2Fc` is the one segment `b/c`: the parameter route, not a 404.
    assert_eq!(route_of(&gw, "/a/b%2Fc").await, (200, "a-param".into()));
    assert_eq!(route_of(&gw, "/a/b%2fc").await, (200, "a-param".into()));
    // And the decoded value is what gets validated (pattern `^[a-z]/[a-z]$`).
    assert_eq!(
        route_of(&gw, "/slashed/b%2Fc").await,
        (200, "slashed".into())
    );
    assert_raw_problem(
        &raw_get(gw.addr(), "/slashed/b/c").await,
        404,
        "route-not-found",
    );
    assert_raw_problem(
        &raw_get(gw.addr(), "/slashed/bc").await,
        400,
        "validation-failed",
    );
    // An encoded slash never reaches a static two-segment route either.
    assert_raw_problem(
        &raw_get(gw.addr(), "/users%2Fme").await,
        404,
        "route-not-found",
    );
}

#[tokio::test]
async fn percent_encoded_segment_matches_static_route() {
    let gw = gateway().await;
    assert_eq!(route_of(&gw, "/us%65rs/me").await, (200, "me".into()));
    assert_eq!(
        route_of(&gw, "/%75%73%65%72%73/%6D%65").await,
        (200, "me".into())
    );
    // `%62` is `b`: the static `/a/b`, which beats `/a/{x}`.
    assert_eq!(route_of(&gw, "/a/%62").await, (200, "a-b".into()));
}

#[tokio::test]
async fn dot_segments_are_resolved() {
    let gw = gateway().await;
    assert_eq!(route_of(&gw, "/a/./b").await, (200, "a-b".into()));
    assert_eq!(route_of(&gw, "/a/x/../b").await, (200, "a-b".into()));
    assert_eq!(route_of(&gw, "/x/../users/me").await, (200, "me".into()));
    // Encoded dots are dot segments too.
    assert_eq!(route_of(&gw, "/a/%2E/b").await, (200, "a-b".into()));
    assert_eq!(route_of(&gw, "/a/x/%2e%2e/b").await, (200, "a-b".into()));
    // A segment that only contains dots among other characters is an ordinary value.
    assert_eq!(route_of(&gw, "/a/...").await, (200, "a-param".into()));
}

#[tokio::test]
async fn climbing_above_root_is_invalid_path() {
    let gw = gateway().await;
    assert_raw_problem(&raw_get(gw.addr(), "/../x").await, 400, "invalid-path");
    assert_raw_problem(
        &raw_get(gw.addr(), "/a/../../users/me").await,
        400,
        "invalid-path",
    );
    assert_raw_problem(
        &raw_get(gw.addr(), "/%2E%2E/users/me").await,
        400,
        "invalid-path",
    );
}

#[tokio::test]
async fn malformed_percent_encoding_is_invalid_path() {
    let gw = gateway().await;
    assert_raw_problem(&raw_get(gw.addr(), "/a/%zz").await, 400, "invalid-path");
    assert_raw_problem(&raw_get(gw.addr(), "/a/%4").await, 400, "invalid-path");
    assert_raw_problem(&raw_get(gw.addr(), "/a/b%").await, 400, "invalid-path");
    // Valid escapes in the same position are fine.
    assert_eq!(route_of(&gw, "/a/%41").await, (200, "a-param".into()));
}

#[tokio::test]
async fn nul_and_invalid_utf8_are_invalid_path() {
    let gw = gateway().await;
    assert_raw_problem(&raw_get(gw.addr(), "/a/%00").await, 400, "invalid-path");
    assert_raw_problem(&raw_get(gw.addr(), "/a/b%00c").await, 400, "invalid-path");
    assert_raw_problem(&raw_get(gw.addr(), "/a/%FF").await, 400, "invalid-path");
    // Valid multi-byte UTF-8 is accepted.
    assert_eq!(route_of(&gw, "/a/%C3%A9").await, (200, "a-param".into()));
}
