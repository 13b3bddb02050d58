//! The instance model: initialized instances reused across requests, one pool per
//! (plugin, configuration), host state reset between requests, failed instances discarded,
//! `isolation = "request"` honoured, bounded pools.

use barbacane_plugin_abi::PluginManifest;
use barbacane_wasm::{PoolOptions, Prepared, Runtime, WasmError};
use serde_json::json;
use std::time::Duration;

use super::{exchange, middleware};

/// A middleware counting its `on_request` calls in a guest global and reporting the count
/// (as one ASCII byte, starting at `1`) in header `x-count`. It traps when the request has
/// header `x-trap`, after counting.
fn counter() -> String {
    middleware(
        r#"(import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))
           (import "barbacane:request" "header" (func $get (param i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "x-count") (data (i32.const 16) "x-trap") (global $count (mut i32) (i32.const 48))"#,
        r#"(global.set $count (i32.add (global.get $count) (i32.const 1)))
           (i32.store8 (i32.const 100) (global.get $count))
           (drop (call $set (i32.const 0) (i32.const 7) (i32.const 100) (i32.const 1)))
           (if (i32.ge_s (call $get (i32.const 16) (i32.const 6) (i32.const 0)) (i32.const 0))
             (then unreachable))
           (i32.const 0)"#,
        "(i32.const 0)",
    )
}

fn prepared(isolation: &str, config: serde_json::Value, options: PoolOptions) -> Prepared {
    let manifest = PluginManifest::parse(&format!(
        "name = \"counter\"\nversion = \"1.0.0\"\ntype = \"middleware\"\ncapabilities = [\"request\"]\nwasm = \"c.wasm\"\nisolation = \"{isolation}\"\n"
    ))
    .unwrap();
    Runtime::global()
        .unwrap()
        .load(manifest, counter().as_bytes())
        .unwrap()
        .prepare_with(&config, options)
        .unwrap()
}

/// Runs one request through `prepared`; returns its `x-count` header.
fn count(prepared: &Prepared) -> String {
    let mut call = prepared.start(exchange()).unwrap();
    call.on_request().unwrap();
    call.on_response().unwrap();
    let exchange = call.into_exchange();
    exchange.headers["x-count"].to_str().unwrap().to_owned()
}

#[test]
fn an_instance_serves_request_after_request_with_its_memory() {
    let p = prepared("instance", json!({}), PoolOptions::default());
    assert_eq!([count(&p), count(&p), count(&p)], ["1", "2", "3"]);
    assert_eq!(p.idle_instances(), 1);
}

#[test]
fn isolation_request_gives_every_request_a_fresh_instance() {
    let p = prepared("request", json!({}), PoolOptions::default());
    assert_eq!([count(&p), count(&p), count(&p)], ["1", "1", "1"]);
    assert_eq!(p.idle_instances(), 0);
}

#[test]
fn two_configurations_never_share_memory() {
    let a = prepared("instance", json!({"v": 1}), PoolOptions::default());
    let b = prepared("instance", json!({"v": 2}), PoolOptions::default());
    assert_eq!(
        [count(&a), count(&a), count(&b), count(&a), count(&b)],
        ["1", "2", "1", "3", "2"]
    );
}

#[test]
fn a_failed_instance_is_discarded_and_replaced_by_a_fresh_one() {
    let p = prepared("instance", json!({}), PoolOptions::default());
    assert_eq!([count(&p), count(&p)], ["1", "2"]);
    let mut trapping = exchange();
    trapping.headers.insert("x-trap", "1".parse().unwrap());
    let mut call = p.start(trapping).unwrap();
    assert!(matches!(call.on_request(), Err(WasmError::Trap { .. })));
    assert!(!call.is_reusable());
    drop(call.into_exchange());
    assert_eq!(
        p.idle_instances(),
        0,
        "the trapped instance was not given back"
    );
    assert_eq!(
        count(&p),
        "1",
        "the next request runs on a fresh, initialized instance"
    );
}

#[test]
fn a_dropped_call_discards_its_instance() {
    let p = prepared("instance", json!({}), PoolOptions::default());
    let mut call = p.start(exchange()).unwrap();
    call.on_request().unwrap();
    drop(call); // e.g. the request was cancelled between on_request and on_response
    assert_eq!(p.idle_instances(), 0);
    assert_eq!(count(&p), "1");
}

#[test]
fn the_host_forgets_the_previous_request() {
    // `on_request` reads whatever result the host holds, without asking for one first: a
    // host that kept the last request's result would hand over that request's header.
    let wat = middleware(
        r#"(import "barbacane:request" "header" (func $get (param i32 i32 i32) (result i32)))
           (import "barbacane:core" "result_read" (func $read (param i32 i32) (result i32)))
           (import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "x-in") (data (i32.const 16) "x-stale") (data (i32.const 32) "x-first")"#,
        r#"(if (i32.ge_s (call $get (i32.const 32) (i32.const 7) (i32.const 0)) (i32.const 0))
             (then (drop (call $get (i32.const 0) (i32.const 4) (i32.const 1))) (return (i32.const 0))))
           (drop (call $set (i32.const 16) (i32.const 7) (i32.const 256)
                  (call $read (i32.const 256) (i32.const 16))))
           (i32.const 0)"#,
        "(i32.const 0)",
    );
    let manifest = PluginManifest::parse(
        "name = \"stale\"\nversion = \"1.0.0\"\ntype = \"middleware\"\ncapabilities = [\"request\"]\nwasm = \"s.wasm\"\n",
    )
    .unwrap();
    let p = Runtime::global()
        .unwrap()
        .load(manifest, wat.as_bytes())
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    let mut first = exchange();
    first.headers.insert("x-first", "1".parse().unwrap());
    let mut call = p.start(first).unwrap();
    call.on_request().unwrap();
    drop(call.into_exchange());
    let mut call = p.start(exchange()).unwrap();
    call.on_request().unwrap();
    let second = call.into_exchange();
    assert_eq!(
        second.headers["x-stale"], "",
        "the first request's `b` leaked"
    );
    assert!(second.context.is_empty());
    assert_eq!(p.idle_instances(), 1, "the same instance served both");
}

#[test]
fn a_full_pool_refuses_instead_of_growing() {
    let options = PoolOptions {
        max_instances: 2,
        wait: Duration::from_millis(10),
    };
    let p = prepared("instance", json!({}), options);
    let first = p.start(exchange()).unwrap();
    let second = p.start(exchange()).unwrap();
    let refused = p.start(exchange()).unwrap_err();
    assert!(
        matches!(refused.error, WasmError::Overloaded { .. }),
        "{}",
        refused.error
    );
    assert_eq!(
        refused.exchange.headers.get_all("x-in").iter().count(),
        2,
        "exchange handed back"
    );
    let before = Runtime::global().unwrap().overloads();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let waited = rt.block_on(p.start_async(exchange())).unwrap_err();
    assert!(matches!(waited.error, WasmError::Overloaded { .. }));
    assert!(Runtime::global().unwrap().overloads() > before);
    drop(first.into_exchange());
    // An instance came back: the next request gets it.
    let third = rt.block_on(p.start_async(exchange())).unwrap();
    drop((second.into_exchange(), third.into_exchange()));
    assert_eq!(p.idle_instances(), 2);
}

#[test]
fn a_waiting_request_gets_the_instance_given_back() {
    let options = PoolOptions {
        max_instances: 1,
        wait: Duration::from_secs(5),
    };
    let p = prepared("instance", json!({}), options);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let held = p.start(exchange()).unwrap();
    let waiter = {
        let p = p.clone();
        rt.spawn(async move { p.start_async(exchange()).await.map(|c| c.into_exchange()) })
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !waiter.is_finished(),
        "the waiter waits while the only instance is busy"
    );
    drop(held.into_exchange());
    assert!(rt.block_on(waiter).unwrap().is_ok());
}

#[test]
fn an_instance_whose_memory_grew_past_three_quarters_of_its_limit_is_replaced() {
    // Each request grows memory by 64 pages (4 MiB) and reports how many requests this
    // instance has served. The limit is 16 MiB: after the third request memory is past
    // 12 MiB, so that instance is not reused.
    let wat = middleware(
        r#"(import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "x-count") (global $count (mut i32) (i32.const 48))"#,
        r#"(drop (memory.grow (i32.const 64)))
           (global.set $count (i32.add (global.get $count) (i32.const 1)))
           (i32.store8 (i32.const 100) (global.get $count))
           (drop (call $set (i32.const 0) (i32.const 7) (i32.const 100) (i32.const 1))) (i32.const 0)"#,
        "(i32.const 0)",
    );
    let manifest = PluginManifest::parse(
        "name = \"grow\"\nversion = \"1.0.0\"\ntype = \"middleware\"\ncapabilities = [\"request\"]\nwasm = \"g.wasm\"\n",
    )
    .unwrap();
    let p = Runtime::global()
        .unwrap()
        .load(manifest, wat.as_bytes())
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    let counts: Vec<String> = (0..4).map(|_| count(&p)).collect();
    assert_eq!(counts, ["1", "2", "3", "1"]);
}
