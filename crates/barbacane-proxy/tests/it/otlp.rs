//! OpenTelemetry spans exported over OTLP to a receiver started by the test, decoded with the
//! independent `opentelemetry-proto` types: the span tree of a proxied request, propagation
//! through a real upstream, parent-based and ratio sampling, gRPC, and a collector that never
//! answers (requests unaffected, spans dropped and counted).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use barbacane_proxy::ServeConfig;
use barbacane_proxy::otel::{OtlpConfig, OtlpProtocol, Tracer};
use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, compile_yaml_with};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// An OTLP receiver: HTTP/1.1 `POST /v1/traces` and gRPC `TraceService/Export` (HTTP/2),
/// keeping every decoded request.
pub(crate) struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(String, ExportTraceServiceRequest)>>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let keep = Arc::clone(&keep);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |r: hyper::Request<Incoming>| {
                        let keep = Arc::clone(&keep);
                        async move { Ok::<_, hyper::Error>(answer(r, &keep).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, seen }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Span> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, r)| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }

    /// Waits until spans of `trace_id` (hex) include a `barbacane.request`.
    pub(crate) async fn trace(&self, trace_id: &str) -> Vec<Span> {
        for _ in 0..100 {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| hex(&s.trace_id) == trace_id)
                .collect();
            if spans.iter().any(|s| s.name == "barbacane.request") {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no trace {trace_id} exported; got {:?}", self.spans());
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    keep: &Mutex<Vec<(String, ExportTraceServiceRequest)>>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    if content_type == "application/grpc" {
        assert_eq!(
            path,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert_eq!(body[0], 0, "uncompressed");
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, body.len() - 5);
        let decoded = ExportTraceServiceRequest::decode(&body[5..]).unwrap();
        keep.lock().unwrap().push(("grpc".into(), decoded));
        // An empty ExportTraceServiceResponse, framed, with grpc-status 0 as a trailer
        // (hyper sends it in the HEADERS frame that ends the stream).
        return hyper::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "0")
            .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
            .unwrap();
    }
    assert_eq!(path, "/v1/traces");
    assert_eq!(content_type, "application/x-protobuf");
    let decoded = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
    keep.lock().unwrap().push(("http".into(), decoded));
    hyper::Response::builder()
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn tracer(endpoint: &str, protocol: OtlpProtocol, ratio: f64) -> Arc<Tracer> {
    let mut config = OtlpConfig::new(endpoint, protocol).unwrap();
    config.flush_interval = Duration::from_millis(50);
    Tracer::start(config, ratio, "edge-api", Some("node-1")).unwrap()
}

async fn gateway(upstream: &str, tracer: Arc<Tracer>) -> TestGateway {
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /pets/{{id}}:
    get:
      operationId: getPet
      parameters: [{{name: id, in: path, required: true, schema: {{type: integer}}}}]
      x-barbacane-middlewares: [{{name: correlation-id}}]
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{upstream}"}}}}
      responses: {{"200": {{description: ok}}}}
  /mocked:
    get:
      x-barbacane-dispatch: {{name: mock, config: {{status: 200}}}}
      responses: {{"200": {{description: ok}}}}
"#
    );
    let artifact = compile_yaml_with(&[("pets.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true;
    })
    .unwrap();
    let config = ServeConfig {
        tracer: Some(tracer),
        ..ServeConfig::default()
    };
    TestGateway::from_artifact(&artifact, config).await
}

async fn get(
    gw: &TestGateway,
    path: &str,
    traceparent: Option<&str>,
) -> barbacane_test::TestResponse {
    let mut request = gw.request("GET", path).header("user-agent", "otlp-test/1");
    if let Some(tp) = traceparent {
        request = request
            .header("traceparent", tp)
            .header("tracestate", "v=1");
    }
    gw.send(request.body(Full::new(Bytes::new())).unwrap())
        .await
}

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_proxied_request_exports_its_span_tree_and_the_upstream_joins_it() {
    let receiver = Receiver::start().await;
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let gw = gateway(
        &upstream.url(),
        tracer(&receiver.url(), OtlpProtocol::HttpProtobuf, 1.0),
    )
    .await;
    let r = get(&gw, "/pets/7", Some(CALLER)).await;
    assert_eq!(r.status(), 200);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(r.header("x-trace-id"), Some(trace_id));
    let spans = receiver.trace(trace_id).await;
    let by_name = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
    };
    let root = by_name("barbacane.request");
    assert_eq!(root.kind, 2, "server");
    assert_eq!(
        hex(&root.parent_span_id),
        "00f067aa0ba902b7",
        "the caller's span"
    );
    assert_eq!(root.trace_state, "v=1");
    assert_eq!(str_attr(root, "http.request.method"), Some("GET"));
    assert_eq!(str_attr(root, "http.route"), Some("/pets/{id}"));
    assert_eq!(str_attr(root, "url.path"), Some("/pets/7"));
    assert_eq!(str_attr(root, "barbacane.api"), Some("pets.yaml"));
    assert_eq!(str_attr(root, "barbacane.operation_id"), Some("getPet"));
    assert_eq!(str_attr(root, "user_agent.original"), Some("otlp-test/1"));
    assert_eq!(
        attr(root, "http.response.status_code"),
        Some(&Value::IntValue(200))
    );
    let hash = gw.gateway().snapshot().header().artifact_hash.clone();
    assert_eq!(
        str_attr(root, "barbacane.artifact_hash"),
        Some(hash.as_str())
    );
    for name in [
        "barbacane.routing",
        "barbacane.validation",
        "barbacane.middleware correlation-id",
        "barbacane.dispatch",
        "barbacane.response",
    ] {
        let span = by_name(name);
        assert_eq!(
            span.parent_span_id, root.span_id,
            "{name} is a child of the request"
        );
        assert!(
            span.start_time_unix_nano >= root.start_time_unix_nano,
            "{name}"
        );
        assert!(span.end_time_unix_nano <= root.end_time_unix_nano, "{name}");
    }
    // The middleware ran on both sides.
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.name == "barbacane.middleware correlation-id")
            .count(),
        2
    );
    let dispatch = by_name("barbacane.dispatch");
    assert_eq!(dispatch.kind, 3, "client");
    assert_eq!(
        str_attr(dispatch, "barbacane.dispatcher"),
        Some("http-upstream")
    );
    assert_eq!(str_attr(dispatch, "server.address"), Some("127.0.0.1"));
    // The upstream was told the dispatch span is its parent, in the same trace.
    let seen = upstream.requests();
    let sent = seen[0].header("traceparent").unwrap();
    assert_eq!(
        sent,
        format!("00-{trace_id}-{}-01", hex(&dispatch.span_id)),
        "{sent}"
    );
    assert_eq!(seen[0].header("tracestate"), Some("v=1"));
    // The resource names the service.
    let seen = receiver.seen.lock().unwrap();
    let resource = seen[0].1.resource_spans[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref());
    assert_eq!(service, Some(&Value::StringValue("edge-api".into())));
}

#[tokio::test]
async fn sampling_is_parent_based_and_the_ratio_applies_to_new_traces() {
    let receiver = Receiver::start().await;
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let gw = gateway(
        &upstream.url(),
        tracer(&receiver.url(), OtlpProtocol::HttpProtobuf, 0.0),
    )
    .await;
    // A new trace at ratio 0: not recorded, and the upstream is told so.
    let r = get(&gw, "/pets/1", None).await;
    assert_eq!(r.status(), 200);
    let sent = upstream.requests()[0]
        .header("traceparent")
        .unwrap()
        .to_owned();
    assert!(sent.ends_with("-00"), "{sent}");
    assert_eq!(
        Some(sent.split('-').nth(1).unwrap()),
        r.header("x-trace-id")
    );
    // A caller that did not sample: its traceparent goes on untouched, nothing recorded.
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    get(&gw, "/pets/2", Some(unsampled)).await;
    assert_eq!(
        upstream.requests()[1].header("traceparent"),
        Some(unsampled)
    );
    // A caller that sampled: recorded despite the ratio.
    get(&gw, "/pets/3", Some(CALLER)).await;
    receiver.trace("4bf92f3577b34da6a3ce929d0e0e4736").await;
    let recorded: std::collections::HashSet<String> =
        receiver.spans().iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
}

#[tokio::test]
async fn spans_go_over_grpc_too() {
    let receiver = Receiver::start().await;
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let tracer = tracer(&receiver.url(), OtlpProtocol::Grpc, 1.0);
    let gw = gateway(&upstream.url(), Arc::clone(&tracer)).await;
    let r = get(&gw, "/mocked", None).await;
    assert_eq!(r.status(), 200);
    let spans = receiver.trace(r.header("x-trace-id").unwrap()).await;
    assert!(spans.iter().any(|s| s.name == "barbacane.dispatch"));
    assert!(
        receiver
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|(via, _)| via == "grpc")
    );
    for _ in 0..50 {
        if tracer
            .stats()
            .exported
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = gw.gateway().render_metrics();
    assert!(
        !metrics.contains("barbacane_trace_spans_total{outcome=\"exported\"} 0"),
        "{metrics}"
    );
    barbacane_test::promtool_check(&metrics);
}

#[tokio::test]
async fn a_collector_that_never_answers_costs_requests_nothing() {
    // Accepts connections and reads nothing: every export hangs until its timeout.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = hole.accept().await {
            open.push(s);
        }
    });
    let mut config =
        OtlpConfig::new(&format!("http://{addr}"), OtlpProtocol::HttpProtobuf).unwrap();
    config.flush_interval = Duration::from_millis(10);
    config.queue = 4;
    config.timeout = Duration::from_secs(30);
    let tracer = Tracer::start(config, 1.0, "edge-api", None).unwrap();
    let upstream = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let gw = gateway(&upstream.url(), Arc::clone(&tracer)).await;
    for _ in 0..200 {
        assert_eq!(get(&gw, "/mocked", None).await.status(), 200);
    }
    let dropped = tracer
        .stats()
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped > 0, "a full queue drops spans instead of waiting");
    let metrics = gw.gateway().render_metrics();
    let shown: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("barbacane_trace_spans_total{outcome=\"dropped\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(shown >= dropped, "{shown} < {dropped}");
    held.abort();
}

#[tokio::test]
async fn an_operation_sets_its_own_sampling_and_latency_slo() {
    let receiver = Receiver::start().await;
    let mut slow = Reply::new(200, "text/plain", "ok");
    slow.delay = Duration::from_millis(30);
    let upstream = CaptureServer::start(slow).await;
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
x-barbacane-observability: {{trace_sampling: 0.0}}
paths:
  /quiet:
    get:
      x-barbacane-dispatch: {{name: mock, config: {{status: 200}}}}
      responses: {{"200": {{description: ok}}}}
  /critical:
    get:
      x-barbacane-observability: {{trace_sampling: 1.0, latency_slo_ms: 5}}
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{}"}}}}
      responses: {{"200": {{description: ok}}}}
"#,
        upstream.url()
    );
    let artifact = compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true;
    })
    .unwrap();
    // The global ratio says "everything"; the spec's root says "nothing" except /critical.
    let config = ServeConfig {
        tracer: Some(tracer(&receiver.url(), OtlpProtocol::HttpProtobuf, 1.0)),
        ..ServeConfig::default()
    };
    let gw = TestGateway::from_artifact(&artifact, config).await;
    let quiet = get(&gw, "/quiet", None).await;
    let critical = get(&gw, "/critical", None).await;
    receiver.trace(critical.header("x-trace-id").unwrap()).await;
    let quiet_id = quiet.header("x-trace-id").unwrap();
    assert!(
        receiver
            .spans()
            .iter()
            .all(|s| hex(&s.trace_id) != quiet_id),
        "/quiet is sampled out by its spec"
    );
    // The upstream answered after 30 ms: over the 5 ms objective.
    let metrics = gw.gateway().render_metrics();
    assert!(
        metrics.contains(
            "barbacane_slo_violation_total{method=\"GET\",route=\"/critical\",slo_ms=\"5\"} 1"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("route=\"/quiet\",slo_ms"), "{metrics}");
    barbacane_test::promtool_check(&metrics);
}
