//! The sandbox's limits, with the `chaos` test plugin: traps, the 100 ms time limit, the
//! 16 MiB memory limit, refused configurations, and no state shared between requests.

use crate::one;
use barbacane_plugin_abi::Action;
use barbacane_test::harness::{PluginHarness, exchange, response};
use barbacane_wasm::WasmError;
use serde_json::json;
use std::time::{Duration, Instant};

fn chaos(config: serde_json::Value) -> PluginHarness {
    PluginHarness::test_plugin("chaos", config).unwrap()
}

fn assert_trap_in_on_request(err: WasmError) {
    match err {
        WasmError::Trap {
            plugin, function, ..
        } => {
            assert_eq!(plugin, "chaos");
            assert_eq!(function, "on_request");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test]
async fn trap_in_on_request_is_a_trap_error() {
    let err = chaos(json!({"fail": "trap"}))
        .on_request(exchange("GET", "/"))
        .await
        .unwrap_err();
    assert_trap_in_on_request(err);
}

#[tokio::test]
async fn endless_loop_is_cut_off_by_the_time_limit() {
    let plugin = chaos(json!({"fail": "loop"}));
    let started = Instant::now();
    let err = plugin.on_request(exchange("GET", "/")).await.unwrap_err();
    let took = started.elapsed();
    match err {
        WasmError::Timeout { plugin, function } => {
            assert_eq!(plugin, "chaos");
            assert_eq!(function, "on_request");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // 100 ms budget, 10 ms ticks: well under a second even on a loaded machine.
    assert!(took >= Duration::from_millis(90), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn memory_hog_traps_at_the_memory_limit() {
    let err = chaos(json!({"fail": "hog"}))
        .on_request(exchange("GET", "/"))
        .await
        .unwrap_err();
    assert_trap_in_on_request(err);
}

#[tokio::test]
async fn trap_in_on_response_is_reported_from_on_response() {
    let run = chaos(json!({"fail": "trap", "on": "response"}))
        .on_request(exchange("GET", "/"))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    match run.on_response(response(200, &[], "")).await {
        Err(WasmError::Trap { function, .. }) => assert_eq!(function, "on_response"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_configuration_is_an_init_error() {
    match PluginHarness::test_plugin("chaos", json!({"fail": "refuse"})) {
        Err(WasmError::Init { plugin, message }) => {
            assert_eq!(plugin, "chaos");
            assert_eq!(message, "chaos refuses this configuration on purpose");
        }
        other => panic!("expected an init error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_instance_serves_request_after_request() {
    let plugin = chaos(json!({"remember": true}));
    let mut previous = "";
    for secret in ["first-secret", "second-secret"] {
        let run = plugin
            .on_request(exchange("GET", "/").header("x-secret", secret))
            .await
            .unwrap();
        let r = run.on_response(response(200, &[], "")).await.unwrap();
        // The same instance served both hooks of this request...
        assert_eq!(one(&r.headers, "x-remembered"), secret);
        // ...and was given back: the next request runs on it, memory included.
        assert_eq!(one(&r.headers, "x-previous-secret"), previous);
        previous = secret;
    }
}

#[tokio::test]
async fn a_failed_call_leaves_the_plugin_usable() {
    // After traps, the pooled slots are reused cleanly by the next requests.
    let trap = chaos(json!({"fail": "trap"}));
    let fine = chaos(json!({"remember": true}));
    for round in 0..3 {
        assert!(matches!(
            trap.on_request(exchange("GET", "/")).await,
            Err(WasmError::Trap { .. })
        ));
        let run = fine
            .on_request(exchange("GET", "/").header("x-secret", "s"))
            .await
            .unwrap();
        let r = run.on_response(response(204, &[], "")).await.unwrap();
        assert_eq!(r.status, 204);
        let previous = if round == 0 { "" } else { "s" };
        assert_eq!(one(&r.headers, "x-previous-secret"), previous);
    }
}
