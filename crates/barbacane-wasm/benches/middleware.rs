//! Per-request cost of WASM middlewares: a no-op (instantiate + init + on_request +
//! on_response) and one that reads and sets a header.

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
    let manifest = |caps: &str| {
        PluginManifest::parse(&format!(
            "name = \"b\"\nversion = \"1.0.0\"\ntype = \"middleware\"\ncapabilities = [{caps}]\nwasm = \"b.wasm\"\n"
        ))
        .unwrap()
    };
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
    c.bench_function("wasm/header_middleware", |b| {
        b.iter(|| {
            let mut call = headers.start(exchange.clone()).unwrap();
            call.on_request().unwrap();
            call.on_response().unwrap();
            call.into_exchange()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
