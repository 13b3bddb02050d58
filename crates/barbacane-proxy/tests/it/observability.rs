//! What the gateway tells about each request: W3C trace context kept or started and
//! propagated to a real upstream, `X-Trace-Id` on every response, and the API lifecycle
//! fields of deprecated operations (RFC 9745 `Deprecation`, RFC 8594 `Sunset`, `Link`),
//! parsed with an independent Structured Fields parser, plus their metric.

use barbacane_proxy::ServeConfig;
use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, compile_yaml_with};
use bytes::Bytes;
use http_body_util::Full;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn gateway(upstream: &str) -> TestGateway {
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /proxied:
    get:
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{upstream}"}}}}
      responses: {{"200": {{description: ok}}}}
  /old:
    get:
      deprecated: true
      x-barbacane-sunset:
        date: 2027-06-30
        deprecated_since: "Thu, 01 Jan 2026 00:00:00 GMT"
        link: https://developer.example.com/deprecations/old
      x-barbacane-dispatch: {{name: mock, config: {{status: 200}}}}
      responses: {{"200": {{description: ok}}}}
  /older:
    get:
      deprecated: true
      x-barbacane-dispatch: {{name: mock, config: {{status: 200}}}}
      responses: {{"200": {{description: ok}}}}
"#
    );
    let artifact = compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true;
        o.build_time = 1_767_225_600; // 2026-01-01
    })
    .unwrap();
    TestGateway::from_artifact(&artifact, ServeConfig::default()).await
}

async fn get_with(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
) -> barbacane_test::TestResponse {
    let mut request = gw.request("GET", path);
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    gw.send(request.body(Full::new(Bytes::new())).unwrap())
        .await
}

fn trace_id_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap()
}

#[tokio::test]
async fn a_valid_traceparent_reaches_the_upstream_unchanged() {
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let gw = gateway(&upstream.url()).await;
    let r = get_with(
        &gw,
        "/proxied",
        &[("traceparent", VALID), ("tracestate", "v=1")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("x-trace-id"), Some(trace_id_of(VALID)));
    let seen = &upstream.requests()[0];
    assert_eq!(seen.header("traceparent"), Some(VALID));
    assert_eq!(seen.header("tracestate"), Some("v=1"));
}

#[tokio::test]
async fn a_missing_or_malformed_traceparent_starts_a_new_trace() {
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let gw = gateway(&upstream.url()).await;
    let cases: [&[(&str, &str)]; 3] = [
        &[],
        &[
            ("traceparent", "00-zz-00f067aa0ba902b7-01"),
            ("tracestate", "v=1"),
        ],
        &[(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        )],
    ];
    let mut ids = Vec::new();
    for (i, headers) in cases.into_iter().enumerate() {
        let r = get_with(&gw, "/proxied", headers).await;
        assert_eq!(r.status(), 200, "a bad traceparent is never a 400");
        let seen = &upstream.requests()[i];
        let sent = seen
            .header("traceparent")
            .expect("a traceparent for the upstream");
        let parts: Vec<&str> = sent.split('-').collect();
        assert_eq!(parts.len(), 4, "{sent}");
        assert_eq!((parts[0], parts[3]), ("00", "01"), "{sent}");
        assert!(parts[1].len() == 32 && parts[2].len() == 16, "{sent}");
        assert_ne!(parts[1], "0".repeat(32));
        assert_eq!(
            r.header("x-trace-id"),
            Some(parts[1]),
            "the response names the trace"
        );
        assert_eq!(
            seen.header("tracestate"),
            None,
            "the old parent's state is dropped"
        );
        ids.push(parts[1].to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "each request is its own trace");
    // Every response carries one, errors and mock routes included.
    assert_eq!(
        gw.get("/nowhere").await.header("x-trace-id").map(str::len),
        Some(32)
    );
}

#[tokio::test]
async fn deprecated_operations_announce_it_and_are_counted() {
    let gw = gateway("http://127.0.0.1:9").await;
    let r = gw.get("/old").await;
    assert_eq!(r.status(), 200);
    let deprecation: sfv::Item = sfv::Parser::new(r.header("deprecation").unwrap())
        .parse()
        .expect("Deprecation is a Structured Field item");
    assert_eq!(
        deprecation.bare_item,
        sfv::BareItem::Date(sfv::Date::from_unix_seconds(1_767_225_600.into()))
    );
    assert_eq!(r.header("sunset"), Some("Wed, 30 Jun 2027 00:00:00 GMT"));
    assert_eq!(
        r.header("link"),
        Some(
            "<https://developer.example.com/deprecations/old>; rel=\"deprecation\", \
             <https://developer.example.com/deprecations/old>; rel=\"sunset\""
        )
    );
    // Without a date: the artifact's build time; no Sunset, no Link.
    let r = gw.get("/older").await;
    assert_eq!(r.header("deprecation"), Some("@1767225600"));
    assert_eq!(r.header("sunset"), None);
    assert_eq!(gw.get("/proxied").await.header("deprecation"), None);
    gw.get("/older").await;
    let metrics = gw.gateway().render_metrics();
    assert!(
        metrics.contains(
            "barbacane_deprecated_route_requests_total{method=\"GET\",route=\"/older\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains(
            "barbacane_deprecated_route_requests_total{method=\"GET\",route=\"/proxied\"}"
        )
    );
    barbacane_test::promtool_check(&metrics);
}
