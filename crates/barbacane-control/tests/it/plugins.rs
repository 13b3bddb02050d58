//! The plugin registry.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};

use crate::specs::multipart;
use crate::support::{TestApp, mini_spec, req};

const MIDDLEWARE_WAT: &str = r#"(module
  (import "barbacane:log" "log" (func (param i32 i32 i32)))
  (import "barbacane:core" "set_output" (func (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "init") (param i32 i32) (result i32) i32.const 0)
  (func (export "on_request") (param i32 i32) (result i32) i32.const 0)
  (func (export "on_response") (param i32 i32) (result i32) i32.const 0))"#;

const DISPATCHER_WAT: &str = r#"(module
  (import "barbacane:response" "set_status" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "init") (param i32 i32) (result i32) i32.const 0)
  (func (export "dispatch") (param i32 i32) (result i32) i32.const 0))"#;

pub fn manifest(name: &str, version: &str, kind: &str, wasm: &str, caps: &[&str]) -> String {
    let caps: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "name = \"{name}\"\nversion = \"{version}\"\ntype = \"{kind}\"\ncapabilities = [{}]\nwasm = \"{wasm}\"\n",
        caps.join(", ")
    )
}

const SCHEMA: &str = r#"{"type": "object", "properties": {"quota": {"type": "integer"}}}"#;

/// A multipart package body (binary-safe).
pub fn package(parts: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "XpluginX";
    let mut body = Vec::new();
    for (field, file, content) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn register(app: &TestApp, parts: &[(&str, &str, Vec<u8>)]) -> crate::support::Reply {
    let (ct, body) = package(parts);
    app.send(
        req(Method::POST, "/plugins")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

pub fn good(name: &str, version: &str) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "manifest",
            "plugin.toml",
            manifest(name, version, "middleware", "rl.wasm", &["log"]).into_bytes(),
        ),
        ("wasm", "rl.wasm", wat::parse_str(MIDDLEWARE_WAT).unwrap()),
        ("schema", "config-schema.json", SCHEMA.as_bytes().to_vec()),
    ]
}

#[tokio::test]
async fn register_list_show_delete() {
    let app = TestApp::new().await;
    let r = register(&app, &good("acme-limit", "1.0.0")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["capabilities"], serde_json::json!(["core", "log"]));
    assert_eq!(r.header("location"), Some("/plugins/acme-limit/1.0.0"));
    assert_eq!(
        register(&app, &good("acme-limit", "1.1.0")).await.status,
        StatusCode::CREATED
    );
    let dispatcher = vec![
        (
            "manifest",
            "plugin.toml",
            manifest("upstream", "0.1.0", "dispatcher", "up.wasm", &["response"]).into_bytes(),
        ),
        ("wasm", "up.wasm", wat::parse_str(DISPATCHER_WAT).unwrap()),
        ("schema", "config-schema.json", b"{}".to_vec()),
    ];
    assert_eq!(
        register(&app, &dispatcher).await.status,
        StatusCode::CREATED
    );

    // Duplicate version.
    register(&app, &good("acme-limit", "1.0.0"))
        .await
        .assert_problem(409, "already-exists");

    let all = app.get("/plugins").await.json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let middlewares = app.get("/plugins?type=middleware").await.json();
    assert_eq!(middlewares.as_array().unwrap().len(), 2);
    let named = app.get("/plugins?name=upstream").await.json();
    assert_eq!(named[0]["type"], "dispatcher");
    assert_eq!(
        named[0]["capabilities"],
        serde_json::json!(["core", "response"])
    );
    app.get("/plugins?type=filter")
        .await
        .assert_problem(400, "invalid-request");

    let versions = app.get("/plugins/acme-limit").await.json();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    app.get("/plugins/nothing")
        .await
        .assert_problem(404, "not-found");
    let one = app.get("/plugins/acme-limit/1.0.0").await.json();
    assert_eq!(
        one["config_schema"]["properties"]["quota"]["type"],
        "integer"
    );
    assert!(one["manifest"].as_str().unwrap().contains("acme-limit"));
    app.get("/plugins/acme-limit/9.9.9")
        .await
        .assert_problem(404, "not-found");

    // A spec uses `acme-limit`: older versions may go, the last one may not.
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    sqlx::query("UPDATE spec_revisions SET plugins = ARRAY['acme-limit'] WHERE spec_id = $1::uuid")
        .bind(&spec)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.delete("/plugins/acme-limit/1.0.0").await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.delete("/plugins/acme-limit/1.1.0").await;
    let problem = r.assert_problem(409, "in-use");
    assert!(problem["detail"].as_str().unwrap().contains("a.yaml"));
    app.delete(&format!("/specs/{spec}")).await;
    assert_eq!(
        app.delete("/plugins/acme-limit/1.1.0").await.status,
        StatusCode::NO_CONTENT
    );
    app.delete("/plugins/acme-limit/1.1.0")
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn invalid_packages_list_every_problem() {
    let app = TestApp::new().await;
    // Wrong exports for the type, an undeclared capability, an import from elsewhere.
    let bad_wat = r#"(module
      (import "barbacane:request" "get_header" (func (param i32 i32) (result i32)))
      (import "env" "memory" (memory 1))
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (func (export "init") (param i32 i32) (result i32) i32.const 0))"#;
    let r = register(
        &app,
        &[
            (
                "manifest",
                "plugin.toml",
                manifest("x", "1.0.0", "middleware", "x.wasm", &["log"]).into_bytes(),
            ),
            ("wasm", "x.wasm", wat::parse_str(bad_wat).unwrap()),
            ("schema", "config-schema.json", SCHEMA.as_bytes().to_vec()),
        ],
    )
    .await;
    let problem = r.assert_problem(422, "invalid-plugin");
    let errors: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "`request` capability",
        "env.memory",
        "wasi_snapshot_preview1",
        "linear memory",
        "on_request",
        "on_response",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected}: {errors:?}"
        );
    }

    // Not WebAssembly, a bad version, a bad schema.
    let r = register(
        &app,
        &[
            (
                "manifest",
                "plugin.toml",
                manifest("x", "one", "middleware", "x.wasm", &[]).into_bytes(),
            ),
            ("wasm", "x.wasm", b"\0asm garbage".to_vec()),
            ("schema", "config-schema.json", br#"{"type": 5}"#.to_vec()),
        ],
    )
    .await;
    let problem = r.assert_problem(422, "invalid-plugin");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");
    // Missing parts, wrong content type, unknown part.
    register(&app, &[("schema", "config-schema.json", b"{}".to_vec())])
        .await
        .assert_problem(422, "invalid-plugin");
    let r = app
        .send(
            req(Method::POST, "/plugins")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    r.assert_problem(415, "unsupported-media-type");
    let (ct, body) = multipart(&[("other", "notes.txt", "x")]);
    let r = app
        .send(
            req(Method::POST, "/plugins")
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    r.assert_problem(400, "invalid-request");
    // The module file name must be the one plugin.toml names.
    let mut parts = good("y", "1.0.0");
    parts[1].1 = "other.wasm";
    register(&app, &parts)
        .await
        .assert_problem(422, "invalid-plugin");
    assert_eq!(app.get("/plugins").await.json(), serde_json::json!([]));
}

#[tokio::test]
async fn unknown_host_functions_are_refused() {
    let app = TestApp::new().await;
    // `barbacane:response` is declared, but it has no `add_headers` (nor `barbacane:core` a
    // `print`): the data plane could not link the module.
    let typo = r#"(module
      (import "barbacane:response" "add_headers" (func (param i32 i32 i32 i32) (result i32)))
      (import "barbacane:core" "print" (func (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "init") (param i32 i32) (result i32) i32.const 0)
      (func (export "on_request") (result i32) i32.const 0)
      (func (export "on_response") (result i32) i32.const 0))"#;
    let parts = |wat: &str| {
        vec![
            (
                "manifest",
                "plugin.toml",
                manifest("typo", "1.0.0", "middleware", "t.wasm", &["response"]).into_bytes(),
            ),
            ("wasm", "t.wasm", wat::parse_str(wat).unwrap()),
            ("schema", "config-schema.json", b"{}".to_vec()),
        ]
    };
    let problem = register(&app, &parts(typo))
        .await
        .assert_problem(422, "invalid-plugin");
    let errors = problem["errors"].to_string();
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");
    assert!(errors.contains("has no function `add_headers`"), "{errors}");
    assert!(errors.contains("has no function `print`"), "{errors}");
    // Every function of a declared module is accepted.
    let fine = typo
        .replace("add_headers", "add_header")
        .replace("\"print\"", "\"set_output\"");
    let r = register(&app, &parts(&fine)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}
