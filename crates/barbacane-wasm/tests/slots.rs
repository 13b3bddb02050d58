//! The engine's slot budget (the pooling allocator's 2,000 instances) shared by every pool:
//! idle instances of one pool are dropped to make room for another, and when every slot is
//! in use a request is refused as overloaded, never queued forever or allocated past the
//! bound. Its own test binary: it fills the process-wide engine.

use barbacane_plugin_abi::PluginManifest;
use barbacane_wasm::{Call, ExchangeState, PoolOptions, Prepared, Runtime, WasmError};
use serde_json::json;

const NOOP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) (i32.const 0))
  (func (export "on_response") (result i32) (i32.const 0)))"#;

fn prepared(config: serde_json::Value) -> Prepared {
    let manifest = PluginManifest::parse(
        "name = \"noop\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"n.wasm\"\n",
    )
    .unwrap();
    let options = PoolOptions {
        max_instances: 10_000,
        ..PoolOptions::default()
    };
    Runtime::global()
        .unwrap()
        .load(manifest, NOOP.as_bytes())
        .unwrap()
        .prepare_with(&config, options)
        .unwrap()
}

/// Checks out instances of `p` until the engine refuses one.
fn exhaust(p: &Prepared) -> Vec<Call> {
    let mut held = Vec::new();
    loop {
        match p.start(ExchangeState::default()) {
            Ok(call) => held.push(call),
            Err(e) => {
                assert!(
                    matches!(e.error, WasmError::Overloaded { .. }),
                    "{}",
                    e.error
                );
                return held;
            }
        }
        assert!(
            held.len() <= 2_000,
            "more instances than the engine has slots"
        );
    }
}

#[test]
fn idle_instances_make_room_and_a_full_engine_refuses() {
    let a = prepared(json!({"pool": "a"}));
    let b = prepared(json!({"pool": "b"}));
    let limit = Runtime::global().unwrap().limits().max_instances as usize;

    // `b` starts with one idle instance; `a` takes every slot, `b`'s idle one included.
    assert_eq!(b.idle_instances(), 1);
    let held = exhaust(&a);
    assert_eq!(held.len(), limit, "the idle instance of `b` made room");
    assert_eq!(b.idle_instances(), 0);
    assert!(Runtime::global().unwrap().overloads() >= 1);

    // Every slot is busy and nothing is idle: `b` is refused.
    let refused = b.start(ExchangeState::default()).unwrap_err();
    assert!(
        matches!(refused.error, WasmError::Overloaded { .. }),
        "{}",
        refused.error
    );

    // `a`'s requests end: its instances go idle, still holding their slots...
    for call in held {
        drop(call.into_exchange());
    }
    assert_eq!(a.idle_instances(), limit);
    // ...until `b` needs instances: idle ones of `a` are dropped to make room.
    let b_calls: Vec<Call> = (0..3)
        .map(|_| b.start(ExchangeState::default()).unwrap())
        .collect();
    assert!(a.idle_instances() < limit, "nothing was trimmed");
    for call in b_calls {
        drop(call.into_exchange());
    }
    assert_eq!(b.idle_instances(), 3);
}
