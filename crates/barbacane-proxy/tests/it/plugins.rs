//! WASM middlewares end to end: manifest -> compiler checks -> artifact -> data plane chain.
//! Plugins are written in WAT and assembled by the test.

use barbacane_compiler::{Code, CompileOptions, LocalFs, compile};
use barbacane_proxy::ServeConfig;
use barbacane_test::TestGateway;
use std::path::Path;

/// `tagger`: `on_request` appends its config (the raw JSON) to request header `x-chain`;
/// `on_response` appends it to response header `x-order`.
const TAGGER: &str = r#"(module
  (import "barbacane:request" "add_header" (func $req_add (param i32 i32 i32 i32) (result i32)))
  (import "barbacane:response" "add_header" (func $resp_add (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-chain") (data (i32.const 16) "x-order")
  (global $len (mut i32) (i32.const 0))
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param $p i32) (param $n i32) (result i32)
    (memory.copy (i32.const 512) (local.get $p) (local.get $n)) (global.set $len (local.get $n)) (i32.const 0))
  (func (export "on_request") (result i32)
    (drop (call $req_add (i32.const 0) (i32.const 7) (i32.const 512) (global.get $len))) (i32.const 0))
  (func (export "on_response") (result i32)
    (drop (call $resp_add (i32.const 16) (i32.const 7) (i32.const 512) (global.get $len))) (i32.const 0)))"#;

/// `reporter`: answers from `on_request` with 299 and copies the first two `x-chain`
/// request values into the response, proving the order the chain ran in.
const REPORTER: &str = r#"(module
  (import "barbacane:request" "header" (func $get (param i32 i32 i32) (result i32)))
  (import "barbacane:core" "result_read" (func $read (param i32 i32) (result i32)))
  (import "barbacane:response" "set_status" (func $status (param i32) (result i32)))
  (import "barbacane:response" "add_header" (func $add (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-chain")
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func $copy (param $i i32) (local $n i32)
    (local.set $n (call $get (i32.const 0) (i32.const 7) (local.get $i)))
    (if (i32.ge_s (local.get $n) (i32.const 0)) (then
      (drop (call $read (i32.const 256) (local.get $n)))
      (drop (call $add (i32.const 0) (i32.const 7) (i32.const 256) (local.get $n))))))
  (func (export "on_request") (result i32)
    (drop (call $status (i32.const 299))) (call $copy (i32.const 0)) (call $copy (i32.const 1)) (i32.const 1))
  (func (export "on_response") (result i32) (i32.const 0)))"#;

/// Records a span `lookup` (attribute `cache=miss`) and counts `lookups_total{kind="a"}`
/// in `on_request` (`telemetry` capability).
const PROBE: &str = r#"(module
  (import "barbacane:telemetry" "span_start" (func $start (param i32 i32) (result i32)))
  (import "barbacane:telemetry" "span_set_attribute" (func $attr (param i32 i32 i32 i32 i32) (result i32)))
  (import "barbacane:telemetry" "span_end" (func $end (param i32) (result i32)))
  (import "barbacane:telemetry" "metric_counter_inc" (func $inc (param i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "lookup")
  (data (i32.const 16) "cache")
  (data (i32.const 32) "miss")
  (data (i32.const 48) "lookups_total")
  (data (i32.const 64) "kind=a")
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) (local $s i32)
    (local.set $s (call $start (i32.const 0) (i32.const 6)))
    (drop (call $attr (local.get $s) (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 4)))
    (drop (call $end (local.get $s)))
    (drop (call $inc (i32.const 48) (i32.const 13) (i32.const 64) (i32.const 6) (i64.const 1)))
    (i32.const 0))
  (func (export "on_response") (result i32) (i32.const 0)))"#;

/// Traps in `on_request`.
const TRAP_REQUEST: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) unreachable)
  (func (export "on_response") (result i32) (i32.const 0)))"#;

/// Sets status 500, then traps, in `on_response`.
const TRAP_RESPONSE: &str = r#"(module
  (import "barbacane:response" "set_status" (func $status (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) (i32.const 0))
  (func (export "on_response") (result i32) (drop (call $status (i32.const 500))) unreachable))"#;

/// A dispatcher-type plugin (used to check positions).
const DISPATCHER: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "dispatch") (result i32) (i32.const 0)))"#;

/// Writes `plugins/<name>/` with plugin.toml, the assembled module, and an optional schema.
fn plugin(dir: &Path, name: &str, kind: &str, caps: &str, wat: &str, schema: Option<&str>) {
    let p = dir.join("plugins").join(name);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("plugin.toml"),
        format!("name = \"{name}\"\nversion = \"1.4.0\"\ntype = \"{kind}\"\ncapabilities = [{caps}]\nwasm = \"{name}.wasm\"\n"),
    )
    .unwrap();
    std::fs::write(p.join(format!("{name}.wasm")), wat::parse_str(wat).unwrap()).unwrap();
    if let Some(schema) = schema {
        std::fs::write(p.join("config-schema.json"), schema).unwrap();
    }
}

fn project(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    plugin(
        d,
        "tagger",
        "middleware",
        "\"request\", \"response\"",
        TAGGER,
        Some(r#"{"type":"object","properties":{"tag":{"type":"string"}},"required":["tag"]}"#),
    );
    plugin(
        d,
        "reporter",
        "middleware",
        "\"request\", \"response\"",
        REPORTER,
        None,
    );
    plugin(d, "trap-request", "middleware", "", TRAP_REQUEST, None);
    plugin(d, "probe", "middleware", "\"telemetry\"", PROBE, None);
    plugin(
        d,
        "trap-response",
        "middleware",
        "\"response\"",
        TRAP_RESPONSE,
        None,
    );
    plugin(d, "backend", "dispatcher", "", DISPATCHER, None);
    let mut manifest = String::from("plugins:\n");
    for name in [
        "tagger",
        "reporter",
        "trap-request",
        "trap-response",
        "probe",
        "backend",
    ] {
        manifest.push_str(&format!("  {name}:\n    path: plugins/{name}\n"));
    }
    std::fs::write(d.join("barbacane.yaml"), manifest).unwrap();
    std::fs::write(d.join("api.yaml"), spec).unwrap();
    dir
}

fn build(dir: &Path) -> Result<Vec<u8>, Vec<barbacane_compiler::Diagnostic>> {
    let options = CompileOptions {
        specs: vec![dir.join("api.yaml")],
        manifest: Some(dir.join("barbacane.yaml")),
        ..Default::default()
    };
    compile(&LocalFs, &options).map(|o| o.artifact)
}

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Plugins, version: "1"}
x-barbacane-middlewares:
  - {name: tagger, config: {tag: a}}
  - {name: tagger@^1.2, config: {tag: b}}
paths:
  /global:
    get:
      x-barbacane-dispatch: {name: mock, config: {body: "ok"}}
  /report:
    get:
      x-barbacane-middlewares:
        - {name: tagger, config: {tag: first}}
        - {name: tagger, config: {tag: second}}
        - {name: reporter}
        - {name: tagger, config: {tag: never}}
      x-barbacane-dispatch: {name: mock}
  /none:
    get:
      x-barbacane-middlewares: []
      x-barbacane-dispatch: {name: mock}
  /trap-request:
    get:
      x-barbacane-middlewares: [{name: trap-request}]
      x-barbacane-dispatch: {name: mock}
  /probe:
    get:
      x-barbacane-middlewares: [{name: probe}]
      x-barbacane-dispatch: {name: mock}
  /trap-response:
    get:
      x-barbacane-middlewares: [{name: tagger, config: {tag: kept}}, {name: trap-response}]
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
"#;

async fn gateway() -> TestGateway {
    let dir = project(SPEC);
    let artifact = build(dir.path()).unwrap_or_else(|d| panic!("{d:#?}"));
    TestGateway::from_artifact(&artifact, ServeConfig::default()).await
}

fn values(r: &barbacane_test::TestResponse, name: &str) -> Vec<String> {
    r.head
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn global_chain_runs_on_request_in_order_and_on_response_in_reverse() {
    let gw = gateway().await;
    let r = gw.get("/global").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(values(&r, "x-order"), [r#"{"tag":"b"}"#, r#"{"tag":"a"}"#]);
}

#[tokio::test]
async fn operation_list_replaces_the_global_one_and_short_circuit_stops_the_chain() {
    let gw = gateway().await;
    let r = gw.get("/report").await;
    assert_eq!(
        r.status(),
        299,
        "the reporter answered instead of the dispatcher"
    );
    assert_eq!(
        values(&r, "x-chain"),
        [r#"{"tag":"first"}"#, r#"{"tag":"second"}"#]
    );
    // on_response ran over the middlewares that ran (reporter, second, first), not `never`.
    assert_eq!(
        values(&r, "x-order"),
        [r#"{"tag":"second"}"#, r#"{"tag":"first"}"#]
    );
    let none = gw.get("/none").await;
    assert!(
        values(&none, "x-order").is_empty(),
        "an empty list disables the global chain"
    );
}

#[tokio::test]
async fn a_trap_on_the_request_path_is_a_500_problem_without_details() {
    let gw = gateway().await;
    let r = gw.get("/trap-request").await;
    assert_eq!(r.status(), 500);
    let body = r.json();
    assert_eq!(body["type"], "urn:barbacane:error:plugin-failed");
    assert!(
        !r.text().contains("unreachable"),
        "production leaks no trap details: {}",
        r.text()
    );
}

#[tokio::test]
async fn a_trap_on_the_response_path_leaves_the_response_as_it_was() {
    let gw = gateway().await;
    let r = gw.get("/trap-response").await;
    assert_eq!(
        r.status(),
        201,
        "the trapping plugin's status change is dropped"
    );
    assert_eq!(values(&r, "x-order"), [r#"{"tag":"kept"}"#]);
}

fn codes(spec_paths: &str) -> Vec<Code> {
    let spec = format!("openapi: 3.1.0\ninfo: {{title: t, version: \"1\"}}\npaths:\n{spec_paths}");
    let dir = project(&spec);
    build(dir.path())
        .err()
        .unwrap_or_default()
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn compiler_checks_plugin_uses() {
    let op = |mw: &str, dispatch: &str| {
        format!(
            "  /x:\n    get:\n      x-barbacane-middlewares: [{mw}]\n      x-barbacane-dispatch: {dispatch}\n"
        )
    };
    assert_eq!(codes(&op("{name: nope}", "{name: mock}")), [Code::E1020]);
    assert_eq!(
        codes(&op("{name: tagger@^2.0, config: {tag: a}}", "{name: mock}")),
        [Code::E1021]
    );
    assert_eq!(
        codes(&op(
            "{name: tagger@1.4.1, config: {tag: a}}",
            "{name: mock}"
        )),
        [Code::E1021]
    );
    assert_eq!(
        codes(&op("{name: tagger, config: {tag: 3}}", "{name: mock}")),
        [Code::E1022]
    );
    assert_eq!(
        codes(&op("{name: tagger, config: {}}", "{name: mock}")),
        [Code::E1022]
    );
    assert_eq!(codes(&op("{name: backend}", "{name: mock}")), [Code::E1023]);
    assert_eq!(
        codes(&op(
            "{name: tagger@1.4.0, config: {tag: a}}",
            "{name: tagger}"
        )),
        [Code::E1023]
    );
    assert!(
        codes(&op(
            "{name: tagger@1.4.0, config: {tag: a}}",
            "{name: mock}"
        ))
        .is_empty()
    );
}

#[test]
fn undeclared_capabilities_are_refused_at_compile_time() {
    let dir = project("openapi: 3.1.0\ninfo: {title: t, version: \"1\"}\npaths: {}\n");
    // Re-declare `tagger` without the `response` capability it imports.
    let toml = dir.path().join("plugins/tagger/plugin.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("\"request\", \"response\"", "\"request\"");
    std::fs::write(&toml, text).unwrap();
    let diags = build(dir.path()).unwrap_err();
    assert_eq!(diags[0].code, Code::E1024, "{diags:#?}");
    assert!(diags[0].message.contains("barbacane:response"));
}

/// The number on the line starting with `prefix` (the counters are process-wide and other
/// tests run in the same process: callers compare with at least what they caused).
fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
}

#[tokio::test]
async fn plugin_metrics_count_execution_traps_and_short_circuits() {
    let gw = gateway().await;
    assert_eq!(gw.get("/report").await.status(), 299);
    assert_eq!(gw.get("/trap-request").await.status(), 500);
    assert_eq!(gw.get("/global").await.status(), 200);
    let text = gw.gateway().render_metrics();
    assert!(
        metric(
            &text,
            "barbacane_middleware_short_circuits_total{middleware=\"reporter\"}"
        ) >= 1
    );
    assert!(
        metric(
            &text,
            "barbacane_wasm_traps_total{plugin=\"trap-request\",hook=\"on_request\",kind=\"trap\"}"
        ) >= 1
    );
    // Two taggers on /global, two before the reporter on /report: on_request and on_response.
    assert!(
        metric(
            &text,
            "barbacane_wasm_execution_duration_seconds_count{plugin=\"tagger\",hook=\"on_request\"}"
        ) >= 4
    );
    assert!(
        metric(
            &text,
            "barbacane_middleware_duration_seconds_count{middleware=\"tagger\",phase=\"response\"}"
        ) >= 2
    );
    barbacane_test::promtool_check(&text);
}

#[tokio::test]
async fn a_plugin_s_own_metrics_and_spans_reach_the_exposition_and_the_trace() {
    use barbacane_proxy::otel::{OtlpConfig, OtlpProtocol, Tracer};
    let receiver = crate::otlp::Receiver::start().await;
    let mut otlp = OtlpConfig::new(&receiver.url(), OtlpProtocol::HttpProtobuf).unwrap();
    otlp.flush_interval = std::time::Duration::from_millis(50);
    let config = ServeConfig {
        tracer: Some(Tracer::start(otlp, 1.0, "plugins", None).unwrap()),
        ..ServeConfig::default()
    };
    let dir = project(SPEC);
    let artifact = build(dir.path()).unwrap_or_else(|d| panic!("{d:#?}"));
    let gw = TestGateway::from_artifact(&artifact, config).await;
    let r = gw.get("/probe").await;
    assert_eq!(r.status(), 200);
    let text = gw.gateway().render_metrics();
    assert!(metric(&text, "barbacane_plugin_probe_lookups_total{kind=\"a\"}") >= 1);
    assert!(
        text.contains("# TYPE barbacane_plugin_probe_lookups_total counter"),
        "{text}"
    );
    barbacane_test::promtool_check(&text);
    let spans = receiver.trace(r.header("x-trace-id").unwrap()).await;
    let lookup = spans
        .iter()
        .find(|s| s.name == "lookup")
        .expect("the plugin's span");
    let parent = spans
        .iter()
        .find(|s| s.span_id == lookup.parent_span_id)
        .expect("its parent is in the trace");
    assert_eq!(parent.name, "barbacane.middleware probe");
    assert!(lookup.start_time_unix_nano >= parent.start_time_unix_nano);
    assert!(lookup.end_time_unix_nano <= parent.end_time_unix_nano);
    let attribute = lookup
        .attributes
        .iter()
        .find(|kv| kv.key == "cache")
        .unwrap();
    assert_eq!(
        attribute.value.as_ref().unwrap().value,
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue("miss".into()))
    );
}
