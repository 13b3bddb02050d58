//! Per-request cost of WASM plugins (an instance checked out of its pool, the hooks, the
//! instance given back):
//! - `wasm/noop_middleware_request_and_response`: a no-op written in WAT (on_request +
//!   on_response on a reused instance): the sandbox's floor;
//! - `wasm/noop_fresh_instance_per_request`: the same with `isolation = "request"`
//!   (instantiate + init every time: the cost of the earlier instance model);
//! - `wasm/header_middleware`: WAT, reads a header and sets another;
//! - `wasm/sdk/*`: official plugins written with the Rust SDK: `correlation-id` generating
//!   an id, `cors` on an allowed cross-origin request, and `mock` run per request (the data
//!   plane runs it once at load instead, as a constant dispatcher).

use barbacane_plugin_abi::PluginManifest;
use barbacane_wasm::{ExchangeState, Runtime};
use criterion::{Criterion, criterion_group, criterion_main};

const NOOP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) (i32.const 0))
  (func (export "on_response") (result i32) (i32.const 0)))"#;

const HEADERS: &str = r#"(module
  (import "barbacane:request" "header" (func $get (param i32 i32 i32) (result i32)))
  (import "barbacane:core" "result_read" (func $read (param i32 i32) (result i32)))
  (import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-in") (data (i32.const 16) "x-out")
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) (local $n i32)
    (local.set $n (call $get (i32.const 0) (i32.const 4) (i32.const 0)))
    (drop (call $read (i32.const 256) (local.get $n)))
    (drop (call $set (i32.const 16) (i32.const 5) (i32.const 256) (local.get $n)))
    (i32.const 0))
  (func (export "on_response") (result i32) (i32.const 0)))"#;

fn bench(c: &mut Criterion) {
    let runtime = Runtime::global().unwrap();
    let manifest_isolated = |caps: &str, isolation: &str| {
        PluginManifest::parse(&format!(
            "name = \"b\"\nversion = \"1.0.0\"\ntype = \"middleware\"\ncapabilities = [{caps}]\nwasm = \"b.wasm\"\nisolation = \"{isolation}\"\n"
        ))
        .unwrap()
    };
    let manifest = |caps: &str| manifest_isolated(caps, "instance");
    let fresh = runtime
        .load(manifest_isolated("", "request"), NOOP.as_bytes())
        .unwrap()
        .prepare(&serde_json::json!({}))
        .unwrap();
    let noop = runtime
        .load(manifest(""), NOOP.as_bytes())
        .unwrap()
        .prepare(&serde_json::json!({}))
        .unwrap();
    let headers = runtime
        .load(manifest("\"request\""), HEADERS.as_bytes())
        .unwrap()
        .prepare(&serde_json::json!({}))
        .unwrap();
    let mut exchange = ExchangeState::default();
    exchange.headers.insert("x-in", "value".parse().unwrap());
    c.bench_function("wasm/noop_middleware_request_and_response", |b| {
        b.iter(|| {
            let mut call = noop.start(exchange.clone()).unwrap();
            call.on_request().unwrap();
            call.on_response().unwrap();
            call.into_exchange()
        })
    });
    c.bench_function("wasm/noop_fresh_instance_per_request", |b| {
        b.iter(|| {
            let mut call = fresh.start(exchange.clone()).unwrap();
            call.on_request().unwrap();
            call.on_response().unwrap();
            call.into_exchange()
        })
    });
    c.bench_function("wasm/header_middleware", |b| {
        b.iter(|| {
            let mut call = headers.start(exchange.clone()).unwrap();
            call.on_request().unwrap();
            call.on_response().unwrap();
            call.into_exchange()
        })
    });
}

fn official(name: &str, config: serde_json::Value) -> barbacane_wasm::Prepared {
    let bundle = barbacane_plugins::find(name).unwrap();
    Runtime::global()
        .unwrap()
        .load(PluginManifest::parse(bundle.manifest).unwrap(), bundle.wasm)
        .unwrap()
        .prepare(&config)
        .unwrap()
}

fn bench_sdk(c: &mut Criterion) {
    let correlation = official("correlation-id", serde_json::json!({}));
    let cors = official(
        "cors",
        serde_json::json!({"allowed_origins": ["https://app.example"], "expose_headers": ["x-total"]}),
    );
    let mock = official(
        "mock",
        serde_json::json!({"status": 200, "body": "{\"id\":1,\"name\":\"Rex\"}"}),
    );
    let mut exchange = ExchangeState::default();
    exchange
        .headers
        .insert("origin", "https://app.example".parse().unwrap());
    let response = barbacane_wasm::ResponseState {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: Some(bytes::Bytes::from_static(b"{}")),
    };
    for (name, prepared) in [
        ("correlation_id", &correlation),
        ("cors_actual_request", &cors),
    ] {
        c.bench_function(&format!("wasm/sdk/{name}"), |b| {
            b.iter(|| {
                let mut call = prepared.start(exchange.clone()).unwrap();
                call.on_request().unwrap();
                call.exchange_mut().response = Some(response.clone());
                call.on_response().unwrap();
                call.into_exchange()
            })
        });
    }
    c.bench_function("wasm/sdk/mock_dispatch_per_request", |b| {
        b.iter(|| {
            let mut call = mock.start(ExchangeState::default()).unwrap();
            call.dispatch().unwrap();
            call.into_exchange()
        })
    });
}

criterion_group!(benches, bench, bench_sdk);
criterion_main!(benches);
