//! Protocol behaviour: h2c, standard response headers, request ids, HTTP/1.1 keep-alive.

use barbacane_test::TestGateway;
use bytes::Bytes;
use http_body_util::Full;

use crate::common::{RawConn, assert_ok, assert_problem, is_uuid_v4, post_json, send_with};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Protocol, version: "1"}
paths:
  /hello:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: '{"hello":"world"}', headers: {x-mock: "yes"}}}
      responses: {"200": {description: ok}}
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
      x-barbacane-dispatch: {name: mock, config: {status: 201, body: '{"created":true}'}}
      responses: {"201": {description: created}}
"#;

async fn gateway() -> TestGateway {
    TestGateway::from_specs(&[("api.yaml", SPEC)]).await
}

fn h2_request(
    gw: &TestGateway,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> http::Request<Full<Bytes>> {
    let mut builder = gw.request(method, path).version(http::Version::HTTP_2);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("request builds")
}

#[tokio::test]
async fn h2c_get_and_post() {
    let gw = gateway().await;
    let resp = gw.send_h2(h2_request(&gw, "GET", "/hello", None, "")).await;
    assert_eq!(resp.head.version, http::Version::HTTP_2);
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["hello"], "world");
    assert_eq!(resp.header("x-mock"), Some("yes"));

    let resp = gw
        .send_h2(h2_request(
            &gw,
            "POST",
            "/pets",
            Some("application/json"),
            r#"{"name":"Rex"}"#,
        ))
        .await;
    assert_eq!(resp.head.version, http::Version::HTTP_2);
    assert_ok(&resp, 201);
    assert_eq!(resp.json()["created"], true);
}

#[tokio::test]
async fn h2c_errors_are_problems_too() {
    let gw = gateway().await;
    let resp = gw
        .send_h2(h2_request(
            &gw,
            "POST",
            "/pets",
            Some("application/json"),
            r#"{"nom":"Rex"}"#,
        ))
        .await;
    assert_problem(&resp, 400, "validation-failed");
    let resp = gw.send_h2(h2_request(&gw, "GET", "/nope", None, "")).await;
    assert_problem(&resp, 404, "route-not-found");
    assert_eq!(resp.header("server"), Some(barbacane_proxy::SERVER));
    assert!(resp.header("x-request-id").is_some_and(is_uuid_v4));
}

#[tokio::test]
async fn server_header_on_success_and_error() {
    let gw = gateway().await;
    let expected = format!("barbacane/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(barbacane_proxy::SERVER, expected);
    for resp in [
        gw.get("/hello").await,
        gw.get("/nope").await,
        post_json(&gw, "/pets", "{}").await,
        send_with(&gw, "DELETE", "/hello", &[], "").await,
        gw.get("/__barbacane/health").await,
    ] {
        assert_eq!(
            resp.header("server"),
            Some(expected.as_str()),
            "status {}",
            resp.status()
        );
    }
}

#[tokio::test]
async fn request_id_is_generated_when_absent() {
    let gw = gateway().await;
    let a = gw.get("/hello").await;
    let b = gw.get("/nope").await;
    let id_a = a.header("x-request-id").expect("x-request-id on success");
    let id_b = b.header("x-request-id").expect("x-request-id on error");
    assert!(is_uuid_v4(id_a), "{id_a}");
    assert!(is_uuid_v4(id_b), "{id_b}");
    assert_ne!(id_a, id_b, "each request gets its own id");
    assert_eq!(b.json()["instance"], format!("urn:request:{id_b}"));
}

#[tokio::test]
async fn valid_request_id_is_kept() {
    let gw = gateway().await;
    for id in ["abc-123", "A_b.c:d+e/f=g~h", &"x".repeat(128)] {
        let resp = send_with(&gw, "GET", "/hello", &[("x-request-id", id)], "").await;
        assert_ok(&resp, 200);
        assert_eq!(resp.header("x-request-id"), Some(id));
        let resp = send_with(&gw, "GET", "/nope", &[("x-request-id", id)], "").await;
        assert_eq!(resp.header("x-request-id"), Some(id));
    }
}

#[tokio::test]
async fn invalid_request_id_is_replaced() {
    let gw = gateway().await;
    let long = "x".repeat(300);
    for id in [
        "abc 123",
        "a\"b",
        "<script>",
        "",
        long.as_str(),
        &"y".repeat(129),
    ] {
        let resp = send_with(&gw, "GET", "/hello", &[("x-request-id", id)], "").await;
        assert_ok(&resp, 200);
        let got = resp.header("x-request-id").expect("x-request-id present");
        assert_ne!(got, id);
        assert!(
            is_uuid_v4(got),
            "`{id}` should be replaced by a UUID v4, got `{got}`"
        );
    }
}

#[tokio::test]
async fn keep_alive_serves_sequential_requests_on_one_connection() {
    let gw = gateway().await;
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    let first = conn.read_response().await.expect("first response");
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["hello"], "world");
    assert_ne!(first.header("connection"), Some("close"));

    let body = r#"{"name":"Rex"}"#;
    let post = format!(
        "POST /pets HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write(post.as_bytes()).await;
    let second = conn
        .read_response()
        .await
        .expect("second response on the same connection");
    assert_eq!(second.status, 201);
    assert_eq!(second.json()["created"], true);

    conn.write(b"GET /nope HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await;
    let third = conn
        .read_response()
        .await
        .expect("third response on the same connection");
    assert_eq!(third.status, 404);
    assert_eq!(third.problem_type(), "urn:barbacane:error:route-not-found");
    assert!(
        conn.read_response().await.is_none(),
        "Connection: close ends the connection"
    );
}

#[tokio::test]
async fn keep_alive_serves_pipelined_requests_in_order() {
    let gw = gateway().await;
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(
        b"GET /hello HTTP/1.1\r\nHost: test\r\nX-Request-Id: first\r\n\r\n\
          GET /nope HTTP/1.1\r\nHost: test\r\nX-Request-Id: second\r\n\r\n\
          HEAD /hello HTTP/1.1\r\nHost: test\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n",
    )
    .await;
    let first = conn.read_response().await.expect("first response");
    assert_eq!(
        (first.status, first.header("x-request-id")),
        (200, Some("first"))
    );
    let second = conn.read_response().await.expect("second response");
    assert_eq!(
        (second.status, second.header("x-request-id")),
        (404, Some("second"))
    );
    let third = conn.read_response_for(true).await.expect("third response");
    assert_eq!(
        (third.status, third.header("x-request-id")),
        (200, Some("third"))
    );
    assert_eq!(
        third.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    assert!(conn.read_response().await.is_none());
}

#[tokio::test]
async fn host_is_required_once_on_http_1_1() {
    let gw = gateway().await;
    for (request, status) in [
        (&b"GET /hello HTTP/1.1\r\n\r\n"[..], 400),
        (
            &b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"[..],
            400,
        ),
        (
            &b"GET /hello HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"[..],
            400,
        ),
        (&b"GET /hello HTTP/1.0\r\n\r\n"[..], 200),
        (&b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"[..], 200),
    ] {
        let mut conn = RawConn::connect(gw.addr()).await;
        conn.write(request).await;
        let response = conn.read_response().await.expect("a response");
        assert_eq!(
            response.status,
            status,
            "{}",
            String::from_utf8_lossy(request)
        );
        if status == 400 {
            assert_eq!(response.json()["type"], "urn:barbacane:error:invalid-host");
        }
    }
    // HTTP/2 names the authority in `:authority`: no Host needed.
    let resp = gw.send_h2(h2_request(&gw, "GET", "/hello", None, "")).await;
    assert_ok(&resp, 200);
}
