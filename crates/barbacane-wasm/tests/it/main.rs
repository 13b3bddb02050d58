//! The plugin host against small WAT plugins: chain semantics, limits, capability checks,
//! isolation. (WAT keeps these tests independent of a wasm32 toolchain.)

use barbacane_plugin_abi::{Action, PluginManifest};
use barbacane_wasm::{ExchangeState, Runtime, WasmError};
use serde_json::json;

fn manifest(kind: &str, caps: &[&str]) -> PluginManifest {
    let caps: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
    PluginManifest::parse(&format!(
        "name = \"t\"\nversion = \"1.0.0\"\ntype = \"{kind}\"\ncapabilities = [{}]\nwasm = \"t.wasm\"\n",
        caps.join(", ")
    ))
    .unwrap()
}

/// A middleware with the standard exports; `body` is the `on_request` function body.
fn middleware(imports: &str, data: &str, on_request: &str, on_response: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  {data}
  (global $heap (mut i32) (i32.const 4096))
  (func (export "barbacane_alloc") (param $n i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n))) (local.get $p))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "on_request") (result i32) {on_request})
  (func (export "on_response") (result i32) {on_response}))"#
    )
}

fn load(kind: &str, caps: &[&str], wat: &str) -> Result<barbacane_wasm::Plugin, WasmError> {
    Runtime::global()
        .unwrap()
        .load(manifest(kind, caps), wat.as_bytes())
}

fn exchange() -> ExchangeState {
    let mut e = ExchangeState {
        uri: "/pets?limit=2".parse().unwrap(),
        ..Default::default()
    };
    e.headers.append("x-in", "a".parse().unwrap());
    e.headers.append("x-in", "b".parse().unwrap());
    e
}

#[test]
fn middleware_reads_and_writes_headers_and_context() {
    let wat = middleware(
        r#"(import "barbacane:request" "header" (func $header (param i32 i32 i32) (result i32)))
           (import "barbacane:request" "add_header" (func $add (param i32 i32 i32 i32) (result i32)))
           (import "barbacane:core" "result_read" (func $read (param i32 i32) (result i32)))
           (import "barbacane:context" "set" (func $cset (param i32 i32 i32 i32)))
           (import "barbacane:response" "set_header" (func $rset (param i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "x-in") (data (i32.const 16) "x-copy") (data (i32.const 32) "seen") (data (i32.const 48) "x-out") (data (i32.const 64) "yes")"#,
        // Read the second `x-in` value and add it back as `x-copy`; note it in the context.
        r#"(drop (call $header (i32.const 0) (i32.const 4) (i32.const 1)))
           (drop (call $read (i32.const 256) (i32.const 16)))
           (drop (call $add (i32.const 16) (i32.const 6) (i32.const 256) (i32.const 1)))
           (call $cset (i32.const 32) (i32.const 4) (i32.const 64) (i32.const 3))
           (i32.const 0)"#,
        r#"(drop (call $rset (i32.const 48) (i32.const 5) (i32.const 64) (i32.const 3))) (i32.const 0)"#,
    );
    let plugin = load("middleware", &["request", "context", "response"], &wat).unwrap();
    let prepared = plugin.prepare(&json!({})).unwrap();
    let mut call = prepared.start(exchange()).unwrap();
    assert_eq!(call.on_request().unwrap(), Action::Continue);
    let e = call.exchange_mut();
    assert_eq!(e.headers["x-copy"], "b");
    assert_eq!(
        e.headers.get_all("x-in").iter().count(),
        2,
        "repeated headers survive"
    );
    assert_eq!(e.context["seen"], "yes");
    e.response = Some(Default::default());
    call.on_response().unwrap();
    assert_eq!(
        call.into_exchange().response.unwrap().headers["x-out"],
        "yes"
    );
}

#[test]
fn middleware_can_short_circuit_with_a_response() {
    let wat = middleware(
        r#"(import "barbacane:response" "set_status" (func $status (param i32) (result i32)))
           (import "barbacane:response" "set_body" (func $body (param i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "denied")"#,
        r#"(drop (call $status (i32.const 403))) (drop (call $body (i32.const 0) (i32.const 6))) (i32.const 1)"#,
        "(i32.const 0)",
    );
    let plugin = load("middleware", &["response"], &wat).unwrap();
    let mut call = plugin
        .prepare(&json!({}))
        .unwrap()
        .start(exchange())
        .unwrap();
    assert_eq!(call.on_request().unwrap(), Action::Respond);
    let response = call.into_exchange().response.unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(&response.body.unwrap()[..], b"denied");
}

#[test]
fn config_reaches_init_and_each_use_keeps_its_own() {
    // init copies the config bytes to offset 1024; on_request puts them in header `x-config`.
    let wat = r#"(module
      (import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "x-config")
      (global $len (mut i32) (i32.const 0))
      (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 2048))
      (func (export "init") (param $p i32) (param $n i32) (result i32)
        (memory.copy (i32.const 1024) (local.get $p) (local.get $n))
        (global.set $len (local.get $n)) (i32.const 0))
      (func (export "on_request") (result i32)
        (drop (call $set (i32.const 0) (i32.const 8) (i32.const 1024) (global.get $len))) (i32.const 0))
      (func (export "on_response") (result i32) (i32.const 0)))"#;
    let plugin = load("middleware", &["request"], wat).unwrap();
    let a = plugin.prepare(&json!({"v": 1})).unwrap();
    let b = plugin.prepare(&json!({"v": 2})).unwrap();
    for (prepared, expected) in [(&a, r#"{"v":1}"#), (&b, r#"{"v":2}"#), (&a, r#"{"v":1}"#)] {
        let mut call = prepared.start(exchange()).unwrap();
        call.on_request().unwrap();
        assert_eq!(call.into_exchange().headers["x-config"], expected);
    }
}

mod host_policy;
mod reuse;

#[test]
fn traps_are_reported_and_the_exchange_survives() {
    let wat = middleware("", "", "unreachable", "(i32.const 0)");
    let prepared = load("middleware", &[], &wat)
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    let mut call = prepared.start(exchange()).unwrap();
    assert!(matches!(
        call.on_request(),
        Err(WasmError::Trap {
            function: "on_request",
            ..
        })
    ));
    assert_eq!(
        call.into_exchange().headers.get_all("x-in").iter().count(),
        2
    );
}

#[test]
fn an_infinite_loop_is_cut_off() {
    let wat = middleware("", "", "(loop $l (br $l)) (i32.const 0)", "(i32.const 0)");
    let prepared = load("middleware", &[], &wat)
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    let mut call = prepared.start(exchange()).unwrap();
    assert!(matches!(call.on_request(), Err(WasmError::Timeout { .. })));
}

#[test]
fn memory_is_capped_at_16_mib() {
    // 200 pages (12.5 MiB) more fit; 300 (18.75 MiB) do not: grow returns -1 and the plugin traps.
    let grow = |pages: i32| {
        middleware(
            "",
            "",
            &format!(
                "(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable)) (i32.const 0)"
            ),
            "(i32.const 0)",
        )
    };
    let ok = load("middleware", &[], &grow(200))
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    assert_eq!(
        ok.start(exchange()).unwrap().on_request().unwrap(),
        Action::Continue
    );
    let hog = load("middleware", &[], &grow(300))
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    assert!(matches!(
        hog.start(exchange()).unwrap().on_request(),
        Err(WasmError::Trap { .. })
    ));
}

#[test]
fn undeclared_capabilities_and_unknown_functions_are_refused_at_load() {
    let uses_request = middleware(
        r#"(import "barbacane:request" "path" (func (result i32)))"#,
        "",
        "(i32.const 0)",
        "(i32.const 0)",
    );
    assert!(matches!(
        load("middleware", &["log"], &uses_request),
        Err(WasmError::UndeclaredImport { .. })
    ));
    assert!(load("middleware", &["request"], &uses_request).is_ok());
    let unknown_module = middleware(
        r#"(import "env" "abort" (func))"#,
        "",
        "(i32.const 0)",
        "(i32.const 0)",
    );
    assert!(matches!(
        load("middleware", &["request"], &unknown_module),
        Err(WasmError::UndeclaredImport { .. })
    ));
    let unknown_fn = middleware(
        r#"(import "barbacane:request" "teleport" (func))"#,
        "",
        "(i32.const 0)",
        "(i32.const 0)",
    );
    assert!(matches!(
        load("middleware", &["request"], &unknown_fn),
        Err(WasmError::UndeclaredImport { .. })
    ));
}

#[test]
fn exports_are_checked_for_the_plugin_type() {
    let wat = middleware("", "", "(i32.const 0)", "(i32.const 0)");
    assert!(matches!(
        load("dispatcher", &[], &wat),
        Err(WasmError::MissingExport {
            export: "dispatch",
            ..
        })
    ));
    assert!(matches!(
        load("middleware", &[], "(module)"),
        Err(WasmError::MissingExport { .. })
    ));
    assert!(matches!(
        load("middleware", &[], "not wasm"),
        Err(WasmError::Compile { .. })
    ));
}

#[test]
fn init_can_refuse_a_configuration_with_a_message() {
    let wat = r#"(module
      (import "barbacane:core" "set_output" (func $out (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "status must be a number")
      (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "init") (param i32 i32) (result i32) (call $out (i32.const 0) (i32.const 23)) (i32.const 1))
      (func (export "on_request") (result i32) (i32.const 0))
      (func (export "on_response") (result i32) (i32.const 0)))"#;
    let plugin = load("middleware", &[], wat).unwrap();
    match plugin.prepare(&json!({"status": "x"})) {
        Err(WasmError::Init { message, .. }) => assert_eq!(message, "status must be a number"),
        other => panic!("expected an init error, got {other:?}"),
    }
}

#[test]
fn host_rejects_out_of_bounds_guest_pointers() {
    let wat = middleware(
        r#"(import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))"#,
        "",
        "(drop (call $set (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 1))) (i32.const 0)",
        "(i32.const 0)",
    );
    let prepared = load("middleware", &["request"], &wat)
        .unwrap()
        .prepare(&json!({}))
        .unwrap();
    assert!(matches!(
        prepared.start(exchange()).unwrap().on_request(),
        Err(WasmError::Trap { .. })
    ));
}

#[test]
fn every_listed_host_function_is_registered() {
    use barbacane_plugin_abi::Capability;
    // One module per function, imported with a deliberately wrong signature: linking then
    // fails with a type mismatch if (and only if) the host defines that name.
    for capability in Capability::ALL {
        for function in capability.functions() {
            let import = format!(
                "(import \"{}\" \"{function}\" (func (param f64)))",
                capability.module()
            );
            let wat = middleware(&import, "", "(i32.const 0)", "(i32.const 0)");
            match load("middleware", &[capability.name()], &wat) {
                Err(WasmError::UndeclaredImport { name, .. }) => {
                    assert!(
                        name.contains("incompatible"),
                        "{capability}.{function}: {name}"
                    )
                }
                other => panic!("{capability}.{function}: expected a type mismatch, got {other:?}"),
            }
        }
    }
}

#[test]
fn precompile_fills_the_module_cache_and_leaves_errors_to_load() {
    let runtime = Runtime::global().unwrap();
    // Distinct data segments make these modules new to the process-wide cache.
    let a = middleware(
        "",
        r#"(data (i32.const 0) "precompile-a")"#,
        "(i32.const 0)",
        "(i32.const 0)",
    );
    let b = middleware(
        "",
        r#"(data (i32.const 0) "precompile-b")"#,
        "(i32.const 0)",
        "(i32.const 0)",
    );
    let broken = "(module (func (export \"init\") (result i32) (i64.const 0)))";
    assert!(!runtime.is_compiled(a.as_bytes()));
    assert!(!runtime.is_compiled(b.as_bytes()));
    runtime.precompile(&[
        ("a", a.as_bytes()),
        ("b", b.as_bytes()),
        ("broken", broken.as_bytes()),
    ]);
    assert!(runtime.is_compiled(a.as_bytes()));
    assert!(runtime.is_compiled(b.as_bytes()));
    assert!(!runtime.is_compiled(broken.as_bytes()));
    assert!(load("middleware", &[], &a).is_ok());
    assert!(matches!(
        load("middleware", &[], broken),
        Err(WasmError::Compile { .. })
    ));
}

/// Looks up the reference in request header `x-ref` through `barbacane:secrets.get` and
/// copies a value it gets to header `x-value`.
fn secret_echo() -> String {
    middleware(
        r#"(import "barbacane:request" "header" (func $header (param i32 i32 i32) (result i32)))
           (import "barbacane:request" "add_header" (func $add (param i32 i32 i32 i32) (result i32)))
           (import "barbacane:core" "result_read" (func $read (param i32 i32) (result i32)))
           (import "barbacane:secrets" "get" (func $get (param i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "x-ref") (data (i32.const 16) "x-value")"#,
        r#"(local $n i32) (local $v i32)
           (local.set $n (call $header (i32.const 0) (i32.const 5) (i32.const 0)))
           (drop (call $read (i32.const 256) (local.get $n)))
           (local.set $v (call $get (i32.const 256) (local.get $n)))
           (if (i32.ge_s (local.get $v) (i32.const 0)) (then
             (drop (call $read (i32.const 1024) (local.get $v)))
             (drop (call $add (i32.const 16) (i32.const 7) (i32.const 1024) (local.get $v)))))
           (i32.const 0)"#,
        "(i32.const 0)",
    )
}

fn secret_seen(prepared: &barbacane_wasm::Prepared, reference: &str) -> Option<String> {
    let mut e = ExchangeState::default();
    e.headers.insert("x-ref", reference.parse().unwrap());
    let mut call = prepared.start(e).unwrap();
    assert_eq!(call.on_request().unwrap(), Action::Continue);
    call.into_exchange()
        .headers
        .get("x-value")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn secrets_come_from_the_snapshot_without_io() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-file\n").unwrap();
    let file_ref = format!("file://{}", file.display());
    let snapshot = barbacane_wasm::Secrets::new(std::collections::HashMap::from([(
        "vault://kv/app#key".to_owned(),
        barbacane_wasm::SecretValue::new(b"from-snapshot".to_vec()),
    )]));
    let plugin = load("middleware", &["request", "secrets"], &secret_echo()).unwrap();
    let with = plugin
        .clone()
        .with_secrets(std::sync::Arc::new(snapshot))
        .prepare(&json!({}))
        .unwrap();
    assert_eq!(
        secret_seen(&with, "vault://kv/app#key").as_deref(),
        Some("from-snapshot")
    );
    assert_eq!(secret_seen(&with, "vault://kv/app#other"), None);
    // Not in the snapshot: a file is never read on the request path...
    assert_eq!(secret_seen(&with, &file_ref), None);
    // ...an environment variable is (a plugin's built-in default).
    let path = std::env::var("PATH").unwrap();
    assert_eq!(secret_seen(&with, "env://PATH"), Some(path));

    // Outside a gateway (no snapshot), env:// and file:// are read at each call.
    let without = plugin.prepare(&json!({})).unwrap();
    assert_eq!(
        secret_seen(&without, &file_ref).as_deref(),
        Some("from-file")
    );
    assert_eq!(secret_seen(&without, "vault://kv/app#key"), None);
}

#[test]
fn skip_on_response_and_rate_limit_reports_last_one_request() {
    // `on_request` reports a policy (valid members) and tries an invalid one (a newline in
    // the value), writes both codes to `x-codes`, then asks to skip `on_response` when the
    // request has `x-skip`.
    let wat = middleware(
        r#"(import "barbacane:core" "skip_on_response" (func $skip (result i32)))
           (import "barbacane:ratelimit" "report" (func $report (param i32 i32 i32 i32) (result i32)))
           (import "barbacane:request" "header_count" (func $count (param i32 i32) (result i32)))
           (import "barbacane:request" "set_header" (func $set (param i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 0) "\"p\";q=5;w=1") (data (i32.const 32) "\"p\";r=4;t=1")
           (data (i32.const 64) "bad\nvalue") (data (i32.const 96) "x-skip") (data (i32.const 128) "x-codes")"#,
        r#"(i32.store8 (i32.const 200) (i32.add (i32.const 48) (call $report (i32.const 0) (i32.const 11) (i32.const 32) (i32.const 11))))
           (i32.store8 (i32.const 201) (i32.add (i32.const 48) (call $report (i32.const 0) (i32.const 11) (i32.const 64) (i32.const 9))))
           (drop (call $set (i32.const 128) (i32.const 7) (i32.const 200) (i32.const 2)))
           (if (i32.gt_s (call $count (i32.const 96) (i32.const 6)) (i32.const 0))
             (then (drop (call $skip))))
           (i32.const 0)"#,
        "(i32.const 0)",
    );
    let plugin = load("middleware", &["request", "ratelimit"], &wat).unwrap();
    let prepared = plugin.prepare(&json!({})).unwrap();
    // Without an in-process limiter, `ratelimit` plugins run on the async entry points.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut skipping = exchange();
    skipping.headers.insert("x-skip", "1".parse().unwrap());
    let mut call = rt.block_on(prepared.start_async(skipping)).unwrap();
    assert_eq!(
        rt.block_on(call.on_request_async()).unwrap(),
        Action::Continue
    );
    assert!(call.skips_on_response());
    let e = call.into_exchange();
    // 0 for the valid report, -1 ('/') for the invalid one.
    assert_eq!(e.headers["x-codes"], "0/");
    assert_eq!(e.rate_limit_fields.len(), 1);
    assert_eq!(e.rate_limit_fields[0].policy, "\"p\";q=5;w=1");
    assert_eq!(e.rate_limit_fields[0].limit, "\"p\";r=4;t=1");

    // The same (reused) instance on the next request: the request's own choice only.
    assert_eq!(prepared.idle_instances(), 1);
    let mut call = rt.block_on(prepared.start_async(exchange())).unwrap();
    assert_eq!(
        rt.block_on(call.on_request_async()).unwrap(),
        Action::Continue
    );
    assert!(!call.skips_on_response());
    assert_eq!(call.exchange_mut().rate_limit_fields.len(), 1);
}
