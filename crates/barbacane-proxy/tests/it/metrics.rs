//! Prometheus metrics: requests counted by route template and status class (a validation
//! failure on a route counts for that route; an unknown path counts as unmatched), durations
//! in a histogram, connections, the artifact served; `promtool check metrics` agrees.

use barbacane_test::TestGateway;

use crate::common::RawConn;

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: M, version: "1"}
paths:
  /pets/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status_class() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let mut conn = RawConn::connect(gw.addr()).await;
    for path in [
        "/pets/1",
        "/pets/2",
        "/pets/x",
        "/nothing",
        "/__barbacane/health",
    ] {
        conn.write(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .await;
        conn.read_response().await.expect("a response");
    }
    let text = gw.gateway().render_metrics();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        line("barbacane_requests_total{method=\"GET\",route=\"/pets/{id}\",status=\"2xx\"}"),
        "2"
    );
    assert_eq!(
        line("barbacane_requests_total{method=\"GET\",route=\"/pets/{id}\",status=\"4xx\"}"),
        "1"
    );
    assert_eq!(
        line("barbacane_requests_total{method=\"\",route=\"(unmatched)\",status=\"4xx\"}"),
        "1"
    );
    assert_eq!(
        line("barbacane_request_duration_seconds_count{method=\"GET\",route=\"/pets/{id}\"}"),
        "3"
    );
    assert_eq!(line("barbacane_connections_total"), "1");
    assert_eq!(line("barbacane_active_connections"), "1");
    assert!(
        text.contains("barbacane_artifact_info{artifact_hash=\"sha256:"),
        "{text}"
    );
    // The raw path never becomes a label.
    assert!(
        !text.contains("/pets/1") && !text.contains("/nothing"),
        "{text}"
    );
    barbacane_test::promtool_check(&text);
    // The validation failure is counted for its route.
    assert_eq!(
        line("barbacane_validation_failures_total{method=\"GET\",route=\"/pets/{id}\"}"),
        "1"
    );
    // Not on the traffic listener unless asked for.
    conn.write(b"GET /__barbacane/metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    assert_eq!(conn.read_response().await.unwrap().status, 404);
}

#[tokio::test]
async fn metrics_on_traffic_when_asked() {
    let artifact = barbacane_test::compile_yaml(&[("api.yaml", SPEC)]).unwrap();
    let gw = TestGateway::from_artifact_with(
        &artifact,
        barbacane_proxy::ServeConfig {
            metrics_on_traffic: true,
            ..Default::default()
        },
        &Default::default(),
    )
    .await;
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(b"GET /__barbacane/metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let r = conn.read_response().await.unwrap();
    assert_eq!(r.status, 200);
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        text.contains("# TYPE barbacane_requests_total counter"),
        "{text}"
    );
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    // OpenMetrics when the scraper prefers it (Prometheus' own Accept header).
    conn.write(
        b"GET /__barbacane/metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n",
    )
    .await;
    let r = conn.read_response().await.unwrap();
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE barbacane_requests counter"), "{text}");
    assert!(!text.contains("# TYPE barbacane_requests_total"), "{text}");
}

#[tokio::test]
async fn dispatch_times_errors_and_body_sizes_are_counted_by_route() {
    use barbacane_test::capture::{CaptureServer, Reply};
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "0123456789")).await;
    // A port nobody listens on: the second route's dispatch fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: M, version: "1"}}
paths:
  /up:
    post:
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{}"}}}}
      responses: {{"200": {{description: ok}}}}
  /down:
    get:
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{dead}"}}}}
      responses: {{"200": {{description: ok}}}}
"#,
        upstream.url()
    );
    let artifact = barbacane_test::compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true;
    })
    .unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    let r = gw
        .send(
            gw.request("POST", "/up")
                .header("content-type", "text/plain")
                .body(http_body_util::Full::new(bytes::Bytes::from(vec![
                    b'x';
                    2_000
                ])))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.get("/down").await.status(), 502);
    let text = gw.gateway().render_metrics();
    let has = |needle: &str| assert!(text.contains(needle), "no `{needle}` in\n{text}");
    has("barbacane_dispatch_duration_seconds_count{method=\"POST\",route=\"/up\"} 1");
    has("barbacane_dispatch_duration_seconds_count{method=\"GET\",route=\"/down\"} 1");
    has("barbacane_dispatch_errors_total{method=\"GET\",route=\"/down\"} 1");
    assert!(
        !text.contains("barbacane_dispatch_errors_total{method=\"POST\""),
        "{text}"
    );
    // 2,000 bytes in: above the 1,000 bound, within 10,000.
    has("barbacane_request_size_bytes_bucket{method=\"POST\",route=\"/up\",le=\"1000\"} 0");
    has("barbacane_request_size_bytes_bucket{method=\"POST\",route=\"/up\",le=\"10000\"} 1");
    has("barbacane_response_size_bytes_count{method=\"POST\",route=\"/up\"} 1");
    barbacane_test::promtool_check(&text);
}
