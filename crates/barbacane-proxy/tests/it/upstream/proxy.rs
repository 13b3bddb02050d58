//! Proxying rules: method, path (default, template, base path, encoded parameters), query,
//! headers (end-to-end kept, hop-by-hop removed both ways, `X-Forwarded-*`, `X-Request-Id`,
//! `Server`), status and body, and bodies with and without validation.

use serde_json::Value;

use super::servers::{self, Behavior};
use super::{cfg, compile, gateway, spec};
use crate::common::{assert_ok, assert_problem, is_uuid_v4, post_json, raw_request, send_with};
use barbacane_test::TestGateway;

/// The first value of `name` as the upstream received it (see `servers::echo`).
fn seen<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name][0].as_str()
}

async fn echo_gateway(ops: &[(&str, &str)]) -> (servers::TestUpstream, TestGateway) {
    let up = servers::start(Behavior::Echo).await;
    let config = cfg(&up.url(), "");
    let ops: Vec<(&str, &str, &str)> = ops.iter().map(|(m, p)| (*m, *p, config.as_str())).collect();
    let gw = gateway(&spec(&ops)).await;
    (up, gw)
}

#[tokio::test]
async fn method_path_and_query_reach_the_upstream() {
    let methods = ["get", "put", "delete", "patch", "post"];
    let ops: Vec<(&str, &str)> = methods.iter().map(|m| (*m, "/items/{id}")).collect();
    let (up, gw) = echo_gateway(&ops).await;
    for method in methods {
        let method = method.to_ascii_uppercase();
        let resp = send_with(&gw, &method, "/items/7?q=a%20b&tag=x&tag=y", &[], "").await;
        assert_ok(&resp, 200);
        let echo = resp.json();
        assert_eq!(echo["method"], method.as_str());
        assert_eq!(echo["target"], "/items/7?q=a%20b&tag=x&tag=y");
    }
    assert_eq!(up.hits(), methods.len());
    // The default upstream path is the normalized request path.
    let resp = gw.get("/items/./7").await;
    assert_eq!(resp.json()["target"], "/items/7");
    // Host is the upstream's own authority.
    assert_eq!(
        seen(&resp.json(), "host"),
        Some(up.addr.to_string().as_str())
    );
}

#[tokio::test]
async fn path_templates_fill_parameters_under_the_base_path() {
    let up = servers::start(Behavior::Echo).await;
    let base = format!("{}/base/v1/", up.url());
    let gw = gateway(&spec(&[
        (
            "get",
            "/users/{id}",
            &cfg(&base, "path: \"/people/{id}/profile\""),
        ),
        (
            "get",
            "/orgs/{org}/repos/{repo}",
            &cfg(&base, "path: \"/r/{repo}/of/{org}\""),
        ),
        ("get", "/items/{id}", &cfg(&base, "")),
        ("get", "/fixed/{id}", &cfg(&up.url(), "path: \"/constant\"")),
        ("get", "/root", &cfg(&up.url(), "path: \"/\"")),
        (
            "get",
            "/files/{rest+}",
            &cfg(&base, "path: \"/store/{rest+}\""),
        ),
        ("get", "/flat/{rest+}", &cfg(&base, "path: \"/one/{rest}\"")),
    ]))
    .await;
    let target = |resp: barbacane_test::TestResponse| {
        assert_ok(&resp, 200);
        resp.json()["target"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        target(gw.get("/users/42?x=1").await),
        "/base/v1/people/42/profile?x=1"
    );
    assert_eq!(
        target(gw.get("/orgs/acme/repos/gw").await),
        "/base/v1/r/gw/of/acme"
    );
    assert_eq!(target(gw.get("/items/7").await), "/base/v1/items/7");
    assert_eq!(target(gw.get("/fixed/9?k=v").await), "/constant?k=v");
    assert_eq!(target(gw.get("/root").await), "/");
    // A greedy parameter keeps its segments with `{rest+}`, is one encoded segment with
    // `{rest}`.
    assert_eq!(
        target(gw.get("/files/a/b%20c/d?q=1").await),
        "/base/v1/store/a/b%20c/d?q=1"
    );
    assert_eq!(
        target(gw.get("/flat/a/b%20c").await),
        "/base/v1/one/a%2Fb%20c"
    );
}

#[tokio::test]
async fn encoded_parameter_values_cannot_add_segments() {
    let up = servers::start(Behavior::Echo).await;
    let gw = gateway(&spec(&[
        (
            "get",
            "/users/{id}",
            &cfg(&up.url(), "path: \"/people/{id}\""),
        ),
        ("get", "/files/{name}", &cfg(&up.url(), "")),
    ]))
    .await;
    let cases = [
        ("a%2Fb", "a%2Fb"),
        ("a%2F..%2Fadmin", "a%2F..%2Fadmin"),
        ("a%20b%3Fx%23y", "a%20b%3Fx%23y"),
        ("caf%C3%A9", "caf%C3%A9"),
    ];
    for (value, expected) in cases {
        let resp = gw.get(&format!("/users/{value}")).await;
        assert_ok(&resp, 200);
        assert_eq!(resp.json()["target"], format!("/people/{expected}"));
        let resp = gw.get(&format!("/files/{value}")).await;
        assert_ok(&resp, 200);
        assert_eq!(resp.json()["target"], format!("/files/{expected}"));
    }
}

#[tokio::test]
async fn end_to_end_headers_pass_and_hop_by_hop_ones_do_not() {
    let (up, gw) = echo_gateway(&[("get", "/items/{id}")]).await;
    let request = "GET /items/1 HTTP/1.1\r\nHost: gw.example\r\n\
                   Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n\
                   TE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n\
                   Trailer: X-Sum\r\nX-Custom: kept\r\nAccept: application/json\r\n\
                   Authorization: Bearer t0ken\r\nCookie: a=1\r\n\r\n";
    let resp = raw_request(gw.addr(), request.as_bytes()).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let echo = resp.json();
    assert_eq!(seen(&echo, "x-custom"), Some("kept"));
    assert_eq!(seen(&echo, "accept"), Some("application/json"));
    assert_eq!(seen(&echo, "authorization"), Some("Bearer t0ken"));
    assert_eq!(seen(&echo, "cookie"), Some("a=1"));
    for hop in [
        "connection",
        "x-hop",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-connection",
        "trailer",
    ] {
        assert_eq!(
            seen(&echo, hop),
            None,
            "`{hop}` reached the upstream: {echo}"
        );
    }
    // And on the way back: the upstream's hop-by-hop fields stop at the gateway.
    assert_eq!(resp.header("x-up-hop"), None);
    assert_eq!(resp.header("keep-alive"), None);
    assert!(
        resp.header("connection")
            .is_none_or(|c| !c.to_ascii_lowercase().contains("x-up-hop")),
        "{:?}",
        resp.headers
    );
    assert_eq!(resp.header("x-upstream"), Some("echo"));
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn upstream_server_header_is_replaced_and_status_and_body_returned() {
    let (_up, gw) = echo_gateway(&[("get", "/items/{id}")]).await;
    let resp = gw.get("/items/1").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.header("server"), Some(barbacane_proxy::SERVER));
    assert!(barbacane_proxy::SERVER.starts_with("barbacane/"));
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("x-up-hop"), None);

    // Upstream statuses and bodies come back as they are, not as problems.
    for status in [201u16, 404, 500] {
        let up = servers::start(Behavior::Status(status)).await;
        let gw = gateway(&spec(&[("get", "/s", &cfg(&up.url(), ""))])).await;
        let resp = gw.get("/s").await;
        assert_eq!(resp.status(), status);
        assert_eq!(resp.text(), format!("upstream says {status}"));
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        assert_eq!(resp.header("server"), Some(barbacane_proxy::SERVER));
    }
}

#[tokio::test]
async fn forwarded_headers_describe_the_client() {
    let (up, gw) = echo_gateway(&[("get", "/items/{id}")]).await;
    let echo = gw.get("/items/1").await.json();
    // `Host` names the upstream (its port: not the scheme's default).
    let upstream_host = up
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(seen(&echo, "host"), Some(upstream_host.as_str()));
    assert_eq!(seen(&echo, "x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen(&echo, "x-forwarded-proto"), Some("http"));
    assert_eq!(
        seen(&echo, "x-forwarded-host"),
        Some(gw.addr().to_string().as_str())
    );
    // An existing chain is appended to; a client's claim of https is not believed.
    let echo = send_with(
        &gw,
        "GET",
        "/items/1",
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ],
        "",
    )
    .await
    .json();
    assert_eq!(
        seen(&echo, "x-forwarded-for"),
        Some("203.0.113.7, 127.0.0.1")
    );
    assert_eq!(seen(&echo, "x-forwarded-proto"), Some("http"));
    // The client's Host, over HTTP/1.1 and as `:authority` over HTTP/2.
    let resp = raw_request(
        gw.addr(),
        b"GET /items/1 HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        seen(&resp.json(), "x-forwarded-host"),
        Some("api.example.com")
    );
    let h2 = gw
        .request("GET", "/items/1")
        .version(http::Version::HTTP_2)
        .body(Default::default())
        .expect("request");
    let echo = gw.send_h2(h2).await.json();
    assert_eq!(
        seen(&echo, "x-forwarded-host"),
        Some(gw.addr().to_string().as_str())
    );
}

#[tokio::test]
async fn every_x_forwarded_for_line_is_kept() {
    let (_up, gw) = echo_gateway(&[("get", "/items/{id}")]).await;
    let resp = raw_request(
        gw.addr(),
        b"GET /items/1 HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 203.0.113.7\r\n\
          X-Forwarded-For: 198.51.100.2\r\nConnection: close\r\n\r\n",
    )
    .await;
    let echo = resp.json();
    let chain: Vec<&str> = echo["headers"]["x-forwarded-for"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(chain.join(", "), "203.0.113.7, 198.51.100.2, 127.0.0.1");
}

#[tokio::test]
async fn request_id_is_propagated_to_the_upstream() {
    let (_up, gw) = echo_gateway(&[("get", "/items/{id}")]).await;
    let resp = send_with(
        &gw,
        "GET",
        "/items/1",
        &[("x-request-id", "req-abc.123")],
        "",
    )
    .await;
    assert_eq!(seen(&resp.json(), "x-request-id"), Some("req-abc.123"));
    assert_eq!(resp.header("x-request-id"), Some("req-abc.123"));
    // A generated id is the same on both sides.
    let resp = gw.get("/items/1").await;
    let sent = seen(&resp.json(), "x-request-id").map(str::to_owned);
    assert!(sent.as_deref().is_some_and(is_uuid_v4), "{sent:?}");
    assert_eq!(resp.header("x-request-id"), sent.as_deref());
    // A malformed one is replaced before it reaches the upstream.
    let resp = send_with(&gw, "GET", "/items/1", &[("x-request-id", "bad id;")], "").await;
    let echo = resp.json();
    let sent = seen(&echo, "x-request-id").unwrap_or_default();
    assert!(is_uuid_v4(sent), "{sent}");
}

#[tokio::test]
async fn a_body_without_a_schema_is_streamed_to_the_upstream() {
    let (_up, gw) = echo_gateway(&[("post", "/upload")]).await;
    let body = "not json at all \u{1} {";
    let resp = send_with(
        &gw,
        "POST",
        "/upload",
        &[("content-type", "application/octet-stream")],
        body,
    )
    .await;
    assert_ok(&resp, 200);
    let echo = resp.json();
    assert_eq!(echo["body"], body);
    assert_eq!(
        seen(&echo, "content-type"),
        Some("application/octet-stream")
    );
    // Chunked from the client: still arrives whole.
    let resp = raw_request(
        gw.addr(),
        b"POST /upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body"], "hello world");
}

const VALIDATED: &str = r#"
openapi: 3.1.0
info: {title: Validated, version: "1"}
paths:
  /pets:
    post:
      parameters:
        - {name: dry, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties: {name: {type: string}}
      x-barbacane-dispatch: {name: http-upstream, config: {url: "URL"}}
      responses: {"200": {description: ok}}
"#;

#[tokio::test]
async fn validated_bodies_are_forwarded_and_bad_requests_never_reach_the_upstream() {
    let up = servers::start(Behavior::Echo).await;
    let artifact = compile(&VALIDATED.replace("URL", &up.url()));
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    assert_problem(
        &post_json(&gw, "/pets", r#"{"age": 3}"#).await,
        400,
        "validation-failed",
    );
    assert_problem(
        &post_json(&gw, "/pets", "{").await,
        400,
        "validation-failed",
    );
    assert_problem(
        &post_json(&gw, "/pets?dry=maybe", r#"{"name": "rex"}"#).await,
        400,
        "validation-failed",
    );
    assert_problem(
        &gw.send_body("POST", "/pets", "text/plain", "rex").await,
        415,
        "unsupported-media-type",
    );
    assert_eq!(up.hits(), 0, "invalid requests reached the upstream");
    let body = r#"{"name": "rex", "extra": [1, 2]}"#;
    let resp = post_json(&gw, "/pets?dry=true", body).await;
    assert_ok(&resp, 200);
    let echo = resp.json();
    assert_eq!(echo["body"], body);
    assert_eq!(echo["target"], "/pets?dry=true");
    assert_eq!(seen(&echo, "content-type"), Some("application/json"));
    assert_eq!(
        seen(&echo, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(up.hits(), 1);
}
