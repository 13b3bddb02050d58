//! Hot swap: replacing the live snapshot changes behaviour for new requests.

use barbacane_proxy::Snapshot;
use barbacane_test::{TestGateway, compile_yaml};

use crate::common::{assert_ok, assert_problem, post_json};

const V1: &str = r#"
openapi: 3.1.0
info: {title: V1, version: "1"}
paths:
  /version:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"v":1}'}}
      responses: {"200": {description: ok}}
  /old:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name]}
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"201": {description: created}}
"#;

const V2: &str = r#"
openapi: 3.1.0
info: {title: V2, version: "2"}
paths:
  /version:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"v":2}'}}
      responses: {"200": {description: ok}}
  /new:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name, age]}
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"201": {description: created}}
"#;

fn snapshot(spec: &str) -> Snapshot {
    let artifact = compile_yaml(&[("api.yaml", spec)]).expect("spec compiles");
    Snapshot::from_bytes(&artifact).expect("artifact loads")
}

#[tokio::test]
async fn swap_changes_routes_dispatch_and_validation() {
    let gw = TestGateway::from_specs(&[("api.yaml", V1)]).await;
    assert_eq!(gw.get("/version").await.json()["v"], 1);
    assert_ok(&gw.get("/old").await, 200);
    assert_problem(&gw.get("/new").await, 404, "route-not-found");
    assert_ok(&post_json(&gw, "/pets", r#"{"name":"Rex"}"#).await, 201);

    let v2 = snapshot(V2);
    assert_eq!(v2.route_count(), 3);
    gw.gateway().swap(v2);

    assert_eq!(gw.get("/version").await.json()["v"], 2);
    assert_ok(&gw.get("/new").await, 200);
    assert_problem(&gw.get("/old").await, 404, "route-not-found");
    assert_problem(
        &post_json(&gw, "/pets", r#"{"name":"Rex"}"#).await,
        400,
        "validation-failed",
    );
    assert_ok(
        &post_json(&gw, "/pets", r#"{"name":"Rex","age":3}"#).await,
        201,
    );
    assert_eq!(gw.gateway().snapshot().route_count(), 3);

    // And back again.
    gw.gateway().swap(snapshot(V1));
    assert_eq!(gw.get("/version").await.json()["v"], 1);
    assert_problem(&gw.get("/new").await, 404, "route-not-found");
}

#[tokio::test]
async fn swap_applies_to_existing_keep_alive_connections() {
    let gw = TestGateway::from_specs(&[("api.yaml", V1)]).await;
    // The pooled client reuses its connection: the swap must still be seen on it.
    assert_eq!(gw.get("/version").await.json()["v"], 1);
    gw.gateway().swap(snapshot(V2));
    assert_eq!(gw.get("/version").await.json()["v"], 2);
    let mut conn = crate::common::RawConn::connect(gw.addr()).await;
    conn.write(b"GET /version HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(conn.read_response().await.expect("response").json()["v"], 2);
    gw.gateway().swap(snapshot(V1));
    conn.write(b"GET /version HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(conn.read_response().await.expect("response").json()["v"], 1);
}

#[tokio::test]
async fn corrupt_artifact_is_rejected_and_live_snapshot_kept() {
    let gw = TestGateway::from_specs(&[("api.yaml", V1)]).await;
    let mut artifact = compile_yaml(&[("api.yaml", V2)]).expect("spec compiles");
    let last = artifact.len() - 1;
    artifact[last] ^= 0xff;
    assert!(
        Snapshot::from_bytes(&artifact).is_err(),
        "a tampered artifact must not load"
    );
    assert!(Snapshot::from_bytes(b"not an artifact").is_err());
    assert_eq!(gw.get("/version").await.json()["v"], 1);
}

#[tokio::test]
async fn in_flight_request_keeps_the_snapshot_it_started_with() {
    let gw = TestGateway::from_specs(&[("api.yaml", V1)]).await;
    let body = r#"{"name":"Rex"}"#;
    let mut conn = crate::common::RawConn::connect(gw.addr()).await;
    // Wait for `100 Continue`: the request has been routed under V1 and is reading its body.
    conn.write(
        format!(
            "POST /pets HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(
        conn.read_response().await.expect("100 Continue").status,
        100
    );
    // V2 requires `age`; the in-flight request is still judged by V1.
    gw.gateway().swap(snapshot(V2));
    conn.write(body.as_bytes()).await;
    let resp = conn.read_response().await.expect("response");
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    // The next request on the same connection sees V2.
    let post = format!(
        "POST /pets HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write(post.as_bytes()).await;
    let resp = conn.read_response().await.expect("response");
    assert_eq!(resp.status, 400);
    assert_eq!(resp.problem_type(), "urn:barbacane:error:validation-failed");
}

#[test]
fn require_signature_refuses_before_reading_any_member() {
    use barbacane_proxy::{LoadError, LoadOptions};
    let mut bytes = compile_yaml(&[("v1.yaml", V1)]).unwrap();
    // Corrupt the last member byte: a checksum error, if members were read first.
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let options = LoadOptions {
        require_signature: true,
        ..LoadOptions::default()
    };
    match Snapshot::from_bytes_with(&bytes, &options) {
        Err(LoadError::Signature { status, .. }) => assert_eq!(status, "unsigned"),
        Err(e) => panic!("expected the signature refusal first, got {e}"),
        Ok(_) => panic!("an unsigned artifact loaded with require_signature"),
    }
    // Without the requirement, the member check catches it.
    assert!(Snapshot::from_bytes(&bytes).is_err());
}
