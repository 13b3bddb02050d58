//! Request limits: body (declared and streamed), header count and size, URI length; each
//! just-under and over the limit.

use barbacane_proxy::{Limits, ServeConfig};
use barbacane_test::{TestGateway, compile_yaml};

use crate::common::{
    RawConn, assert_ok, assert_problem, assert_raw_problem, post_json, raw_request, send_with,
};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Limits, version: "1"}
paths:
  /json:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object}
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"201": {description: created}}
  /any:
    post:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /plain:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

const LIMITS: Limits = Limits {
    max_body_bytes: 64,
    max_header_count: 10,
    max_header_bytes: 512,
    max_uri_bytes: 100,
};

async fn gateway() -> TestGateway {
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).expect("spec compiles");
    TestGateway::from_artifact(
        &artifact,
        ServeConfig {
            limits: LIMITS,
            ..ServeConfig::default()
        },
    )
    .await
}

/// A JSON object of exactly `len` bytes (`len` >= 8).
fn json_of_len(len: usize) -> String {
    let body = format!(r#"{{"p":"{}"}}"#, "x".repeat(len - 8));
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn declared_body_over_limit_is_413() {
    let gw = gateway().await;
    assert_ok(&post_json(&gw, "/json", &json_of_len(64)).await, 201);
    assert_problem(
        &post_json(&gw, "/json", &json_of_len(65)).await,
        413,
        "payload-too-large",
    );
    assert_problem(
        &post_json(&gw, "/json", &json_of_len(1000)).await,
        413,
        "payload-too-large",
    );
    // The declared length is refused even where the body would never be read.
    assert_ok(
        &send_with(&gw, "POST", "/any", &[], &"a".repeat(64)).await,
        200,
    );
    assert_problem(
        &send_with(&gw, "POST", "/any", &[], &"a".repeat(65)).await,
        413,
        "payload-too-large",
    );
}

fn chunked_post(path: &str, chunks: &[&str]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for chunk in chunks {
        out.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    out.push_str("0\r\n\r\n");
    out.into_bytes()
}

#[tokio::test]
async fn chunked_body_over_limit_is_413() {
    let gw = gateway().await;
    let body = json_of_len(120);
    let (a, b) = body.split_at(60);
    let resp = raw_request(gw.addr(), &chunked_post("/json", &[a, b])).await;
    assert_raw_problem(&resp, 413, "payload-too-large");
    // One byte over, in many small chunks.
    let body = json_of_len(65);
    let chunks: Vec<&str> = body
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    let resp = raw_request(gw.addr(), &chunked_post("/json", &chunks)).await;
    assert_raw_problem(&resp, 413, "payload-too-large");
}

#[tokio::test]
async fn chunked_body_within_limit_is_accepted_and_validated() {
    let gw = gateway().await;
    let body = json_of_len(64);
    let (a, b) = body.split_at(30);
    let resp = raw_request(gw.addr(), &chunked_post("/json", &[a, b])).await;
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let resp = raw_request(gw.addr(), &chunked_post("/json", &["[1,", "2]"])).await;
    assert_raw_problem(&resp, 400, "validation-failed");
}

/// `GET /plain` with `Host: test` and `extra` header lines.
fn get_with_headers(extra: &[(String, String)]) -> Vec<u8> {
    let mut out = String::from("GET /plain HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[tokio::test]
async fn header_count_over_limit_is_431() {
    let gw = gateway().await;
    let headers = |n: usize| {
        (0..n)
            .map(|i| (format!("x-h{i}"), "1".to_owned()))
            .collect::<Vec<_>>()
    };
    // Host plus 9: exactly the limit of 10.
    let resp = raw_request(gw.addr(), &get_with_headers(&headers(9))).await;
    assert_eq!(resp.status, 200);
    let resp = raw_request(gw.addr(), &get_with_headers(&headers(10))).await;
    assert_raw_problem(&resp, 431, "header-fields-too-large");
    // Repeated lines of one name count one by one.
    let repeated: Vec<_> = (0..12)
        .map(|_| ("x-same".to_owned(), "1".to_owned()))
        .collect();
    let resp = raw_request(gw.addr(), &get_with_headers(&repeated)).await;
    assert_raw_problem(&resp, 431, "header-fields-too-large");
}

#[tokio::test]
async fn header_bytes_over_limit_is_431() {
    let gw = gateway().await;
    // "host" + "test" = 8 bytes, "x-pad" = 5 bytes: a value of 499 bytes totals exactly 512.
    let pad = |n: usize| vec![("x-pad".to_owned(), "v".repeat(n))];
    let resp = raw_request(gw.addr(), &get_with_headers(&pad(499))).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let resp = raw_request(gw.addr(), &get_with_headers(&pad(500))).await;
    assert_raw_problem(&resp, 431, "header-fields-too-large");
    let resp = raw_request(gw.addr(), &get_with_headers(&pad(5000))).await;
    assert_raw_problem(&resp, 431, "header-fields-too-large");
}

#[tokio::test]
async fn uri_over_limit_is_414() {
    let gw = gateway().await;
    // "/plain?pad=" is 11 bytes.
    let target = |n: usize| format!("/plain?pad={}", "a".repeat(n - 11));
    assert_eq!(target(100).len(), 100);
    assert_ok(&gw.get(&target(100)).await, 200);
    assert_problem(&gw.get(&target(101)).await, 414, "uri-too-long");
    assert_problem(
        &gw.get(&format!("/{}", "p".repeat(200))).await,
        414,
        "uri-too-long",
    );
}

#[tokio::test]
async fn default_limits_accept_ordinary_requests() {
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).expect("spec compiles");
    let gw = TestGateway::from_artifact(&artifact, ServeConfig::default()).await;
    assert_ok(&post_json(&gw, "/json", &json_of_len(100_000)).await, 201);
    // 1 MiB + 1 declared: refused from the head alone, before any body byte is sent.
    let head = "POST /json HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n";
    assert_raw_problem(
        &raw_request(gw.addr(), head.as_bytes()).await,
        413,
        "payload-too-large",
    );
}

#[tokio::test]
async fn unread_body_after_early_413_is_never_parsed_as_a_request() {
    let gw = gateway().await;
    // The refused body is itself an HTTP request; it must not be executed on the connection.
    let smuggled = format!(
        "GET /smuggled HTTP/1.1\r\nHost: test\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(80)
    );
    let mut conn = RawConn::connect(gw.addr()).await;
    let request = format!(
        "POST /json HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{smuggled}\
         GET /__barbacane/health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        smuggled.len()
    );
    conn.write(request.as_bytes()).await;
    let first = conn.read_response().await.expect("a response to the POST");
    assert_raw_problem(&first, 413, "payload-too-large");
    // The connection is either closed or still correctly framed: the next response, if any,
    // answers the pipelined health check, never `/smuggled` (which would be a 404).
    if let Some(next) = conn.read_response().await {
        assert_eq!(
            next.status, 200,
            "body of the refused request was parsed as a request: {next:?}"
        );
        assert_eq!(next.json()["status"], "ok");
    }
}

fn get_with_n_headers(n: usize) -> Vec<u8> {
    get_with_headers(
        &(0..n)
            .map(|i| (format!("x-h{i}"), "1".to_owned()))
            .collect::<Vec<_>>(),
    )
}

async fn default_gateway() -> TestGateway {
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).expect("spec compiles");
    TestGateway::from_artifact(&artifact, ServeConfig::default()).await
}

#[tokio::test]
async fn default_header_count_limit_accepts_exactly_100() {
    let gw = default_gateway().await;
    // Host plus 99 = 100 fields: at the default limit.
    let resp = raw_request(gw.addr(), &get_with_n_headers(99)).await;
    assert_eq!(resp.status, 200);
    assert!(resp.header("x-request-id").is_some());
}

#[tokio::test]
async fn h2_body_over_limit_is_413() {
    let gw = gateway().await;
    let post = |body: String| {
        gw.request("POST", "/json")
            .version(http::Version::HTTP_2)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .expect("request builds")
    };
    assert_ok(&gw.send_h2(post(json_of_len(64))).await, 201);
    assert_problem(
        &gw.send_h2(post(json_of_len(65))).await,
        413,
        "payload-too-large",
    );
}

#[tokio::test]
async fn h2_header_count_over_limit_is_431_problem() {
    let gw = default_gateway().await;
    let mut builder = gw.request("GET", "/plain").version(http::Version::HTTP_2);
    for i in 0..120 {
        builder = builder.header(format!("x-h{i}"), "1");
    }
    let resp = gw
        .send_h2(builder.body(Default::default()).expect("request builds"))
        .await;
    assert_problem(&resp, 431, "header-fields-too-large");
    assert_eq!(resp.header("server"), Some(barbacane_proxy::SERVER));
}

#[tokio::test]
async fn h1_header_count_over_default_limit_is_431_problem() {
    let gw = default_gateway().await;
    // Host plus 100 = 101 fields: one over the default limit.
    let resp = raw_request(gw.addr(), &get_with_n_headers(100)).await;
    assert_raw_problem(&resp, 431, "header-fields-too-large");
    assert_eq!(resp.header("server"), Some(barbacane_proxy::SERVER));
    assert!(resp.header("x-request-id").is_some());
}

#[tokio::test]
async fn h1_configured_header_count_above_100_is_honoured() {
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).expect("spec compiles");
    let limits = Limits {
        max_header_count: 150,
        ..Limits::default()
    };
    let gw = TestGateway::from_artifact(
        &artifact,
        ServeConfig {
            limits,
            ..ServeConfig::default()
        },
    )
    .await;
    // Host plus 119 = 120 fields: within the configured 150.
    let resp = raw_request(gw.addr(), &get_with_n_headers(119)).await;
    assert_eq!(resp.status, 200, "{:?}", resp);
    let resp = raw_request(gw.addr(), &get_with_n_headers(150)).await;
    assert_raw_problem(&resp, 431, "header-fields-too-large");
}
