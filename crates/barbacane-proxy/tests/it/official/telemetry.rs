//! `http-log` shipping access records to a real HTTP endpoint, and `observability` counting
//! a missed latency objective in the gateway's exposition.

use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, compile_yaml_with};
use std::time::{Duration, Instant};

async fn gateway(yaml: &str) -> TestGateway {
    let artifact = compile_yaml_with(&[("api.yaml", yaml)], |o| o.allow_plaintext_upstream = true)
        .unwrap_or_else(|d| panic!("spec does not compile: {d:#?}"));
    TestGateway::from_artifact(&artifact, Default::default()).await
}

#[tokio::test]
async fn http_log_ships_one_record_per_request_to_the_endpoint() {
    let endpoint = CaptureServer::start(Reply::new(204, "text/plain", "")).await;
    let yaml = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /pets/{{id}}:
    get:
      parameters: [{{name: id, in: path, required: true, schema: {{type: integer}}}}]
      x-barbacane-middlewares:
        - name: http-log
          config:
            endpoint: "{}/logs"
            include_headers: true
            custom_fields: {{service: petstore}}
      x-barbacane-dispatch: {{name: mock, config: {{status: 200, body: "{{}}"}}}}
      responses: {{"200": {{description: ok}}}}
"#,
        endpoint.url()
    );
    let gw = gateway(&yaml).await;
    let mut request = gw.request("GET", "/pets/7?api_key=secret");
    request = request.header("authorization", "Bearer secret");
    let r = gw
        .send(
            request
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while endpoint.requests().is_empty() {
        assert!(Instant::now() < deadline, "no record arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = &endpoint.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.target, "/logs");
    let record: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], "/pets/7");
    assert_eq!(record["status"], 200);
    assert_eq!(record["service"], "petstore");
    assert_eq!(record["trace_id"].as_str(), r.header("x-trace-id"));
    assert_eq!(record["request_headers"]["authorization"], "[redacted]");
    let text = String::from_utf8_lossy(&sent.body);
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn observability_counts_a_missed_objective() {
    let mut slow = Reply::new(200, "text/plain", "ok");
    slow.delay = Duration::from_millis(30);
    let upstream = CaptureServer::start(slow).await;
    let yaml = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /slow:
    get:
      x-barbacane-middlewares:
        - {{name: observability, config: {{latency_slo_ms: 5, emit_latency_histogram: true, metric_label: slow}}}}
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{}"}}}}
      responses: {{"200": {{description: ok}}}}
"#,
        upstream.url()
    );
    let gw = gateway(&yaml).await;
    assert_eq!(gw.get("/slow").await.status(), 200);
    let text = gw.gateway().render_metrics();
    let count = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "barbacane_plugin_observability_slo_violation_total{method=\"GET\",use=\"slow\"} ",
            )
        })
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(count >= 1);
    assert!(
        text.contains("barbacane_plugin_observability_request_duration_seconds_count{method=\"GET\",status=\"2xx\",use=\"slow\"}"),
        "{text}"
    );
    barbacane_test::promtool_check(&text);
}
