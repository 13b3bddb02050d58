//! `lambda` behind a JSON body schema, calling a real HTTP server through the gateway's
//! pooled client, signed with SigV4.

use barbacane_test::TestGateway;
use barbacane_test::capture::{CaptureServer, Reply};

use crate::common::{assert_problem, post_json};

fn spec(url: &str, secrets: &std::path::Path) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /orders:
    post:
      x-barbacane-dispatch:
        name: lambda
        config:
          url: {url}/fn
          region: eu-west-1
          timeout: 2
          access_key_id: file://{dir}/id
          secret_access_key: file://{dir}/secret
          session_token: ""
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [item]
              properties: {{item: {{type: string}}}}
      responses: {{"201": {{description: created}}}}
"#,
        dir = secrets.display()
    )
}

async fn gateway(server: &CaptureServer) -> (TestGateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id"), "AKIDEXAMPLE\n").unwrap();
    std::fs::write(
        dir.path().join("secret"),
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    )
    .unwrap();
    let gw = TestGateway::from_specs(&[("api.yaml", &spec(&server.url(), dir.path()))]).await;
    (gw, dir)
}

#[tokio::test]
async fn a_valid_request_is_signed_forwarded_and_answered_by_the_function() {
    let server = CaptureServer::start(Reply::new(201, "application/json", r#"{"id":7}"#)).await;
    let (gw, _secrets) = gateway(&server).await;
    let response = post_json(&gw, "/orders?source=web", r#"{"item":"tea"}"#).await;
    assert_eq!(response.status(), 201, "{}", response.text());
    assert_eq!(response.text(), r#"{"id":7}"#);
    assert_eq!(response.header("content-type"), Some("application/json"));

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let call = &seen[0];
    assert_eq!(call.method, http::Method::POST);
    assert_eq!(call.target, "/fn/orders?source=web");
    assert_eq!(call.body.as_ref(), br#"{"item":"tea"}"#);
    let auth = call.header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && auth.contains("/eu-west-1/lambda/aws4_request")
            && auth.contains("SignedHeaders=")
            && auth.contains("Signature="),
        "{auth}"
    );
    assert!(call.header("x-amz-date").is_some());
}

#[tokio::test]
async fn an_invalid_body_never_reaches_the_function() {
    let server = CaptureServer::start(Reply::new(200, "application/json", "{}")).await;
    let (gw, _secrets) = gateway(&server).await;
    let response = post_json(&gw, "/orders", r#"{"item":5}"#).await;
    assert_problem(&response, 400, "validation-failed");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_slow_function_is_a_504_and_a_dead_one_a_502() {
    let mut slow = Reply::new(200, "application/json", "{}");
    slow.delay = std::time::Duration::from_secs(5);
    let server = CaptureServer::start(slow).await;
    let (gw, _secrets) = gateway(&server).await;
    let response = post_json(&gw, "/orders", r#"{"item":"tea"}"#).await;
    assert_problem(&response, 504, "upstream-timeout");

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id"), "AKID").unwrap();
    std::fs::write(dir.path().join("secret"), "s").unwrap();
    let gw = TestGateway::from_specs(&[("api.yaml", &spec(&url, dir.path()))]).await;
    let response = post_json(&gw, "/orders", r#"{"item":"tea"}"#).await;
    assert_problem(&response, 502, "upstream-unavailable");
}
