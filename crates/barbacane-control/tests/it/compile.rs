//! Remote compilation: the queue, the workers, provenance and reproducibility.

use axum::http::StatusCode;
use barbacane_compiler::{CompileOptions, LocalFs};
use barbacane_control::db::compilations;
use barbacane_control::db::specs::{self, NewFile};
use barbacane_control::storage::PgArtifactStore;
use barbacane_control::worker::Workers;
use barbacane_proxy::{ServeConfig, Snapshot};
use barbacane_test::TestGateway;
use bytes::Bytes;
use http_body_util::Full;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{Notify, watch};

use crate::specs::multipart;
use crate::support::{AppOptions, TestApp, mini_spec, petstore, req};

#[tokio::test]
async fn compiling_a_spec_records_provenance() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "api.yaml", &petstore()).await;
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["diagnostics"], serde_json::json!([]));
    let artifact = c["artifact_id"].as_str().unwrap();
    let revision = app.get(&format!("/specs/{spec}")).await.json();
    assert_eq!(c["revision_ids"][0], revision["revision_id"]);

    let a = app.get(&format!("/artifacts/{artifact}")).await.json();
    let header = &a["header"];
    assert_eq!(
        header["provenance_source"],
        format!("barbacane-control:spec/{spec}@1")
    );
    assert_eq!(
        header["metadata"][format!("spec-revision/{spec}")],
        revision["revision_id"]
    );
    // The build time is the revision's creation second (deterministic).
    let created: chrono::DateTime<chrono::Utc> = revision["revision_created_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        header["build_timestamp"],
        created.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(a["artifact_hash"], header["artifact_hash"]);
    assert_eq!(a["built_from"][0]["revision"], 1);
    assert_eq!(header["inputs"][0]["name"], "api.yaml");

    // Compiling the same revision again gives the same bytes.
    let again = app.compile(&spec).await;
    let other = again["artifact_id"].as_str().unwrap();
    assert_ne!(other, artifact);
    let first = app.get(&format!("/artifacts/{artifact}/download")).await;
    let second = app.get(&format!("/artifacts/{other}/download")).await;
    assert_eq!(first.body, second.body);
}

const ROOT: &str = "openapi: 3.1.0\ninfo: {title: r, version: '1'}\npaths:\n  /pets:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '../common/pet.yaml#/Pet'}\n      x-barbacane-dispatch: {name: mock, config: {status: 201}}\n      responses: {'201': {description: ok}}\n";
const PET: &str = "Pet:\n  type: object\n  required: [name]\n  properties:\n    name: {type: string}\n    tag: {$ref: 'tag.yaml#/Tag'}\n";
const TAG: &str = "Tag: {type: string, maxLength: 10}\n";

#[tokio::test]
async fn artifact_hash_matches_a_local_compile_of_the_same_files() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let (ct, body) = multipart(&[
        ("spec", "specs/api.yaml", ROOT),
        ("file", "common/pet.yaml", PET),
        ("file", "common/tag.yaml", TAG),
    ]);
    let r = app
        .send(
            req(
                axum::http::Method::POST,
                &format!("/projects/{project}/specs"),
            )
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let spec = r.json()["id"].as_str().unwrap().to_owned();
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    let remote = app
        .get(&format!(
            "/artifacts/{}",
            c["artifact_id"].as_str().unwrap()
        ))
        .await
        .json();

    // The same files on disk, compiled like `barbacane compile --spec specs/api.yaml`.
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("specs/api.yaml", ROOT),
        ("common/pet.yaml", PET),
        ("common/tag.yaml", TAG),
    ] {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let header = &remote["header"];
    let mut metadata = BTreeMap::new();
    for (k, v) in header["metadata"].as_object().unwrap() {
        metadata.insert(k.clone(), v.as_str().unwrap().to_owned());
    }
    let created: chrono::DateTime<chrono::Utc> =
        header["build_timestamp"].as_str().unwrap().parse().unwrap();
    let local = barbacane_compiler::compile(
        &LocalFs,
        &CompileOptions {
            specs: vec![dir.path().join("specs/api.yaml")],
            build_time: created.timestamp() as u64,
            provenance_source: header["provenance_source"].as_str().map(str::to_owned),
            metadata,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(header["artifact_hash"], local.header.artifact_hash);
    assert_eq!(
        header["inputs"],
        serde_json::to_value(&local.header.inputs).unwrap()
    );
    // With the same provenance stamped, the artifacts are byte-identical.
    let download = app
        .get(&format!(
            "/artifacts/{}/download",
            remote["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(download.body.as_ref(), local.artifact.as_slice());
}

#[tokio::test]
async fn project_compilation_and_its_failures() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    app.post_empty(&format!("/projects/{project}/compile"))
        .await
        .assert_problem(409, "conflict");
    app.spec(&project, "a.yaml", &mini_spec("/a", "a")).await;
    app.spec(&project, "b.yaml", &mini_spec("/b", "b")).await;
    let r = app
        .post_empty(&format!("/projects/{project}/compile"))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let c = app.wait_compilation(r.json()["id"].as_str().unwrap()).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["revision_ids"].as_array().unwrap().len(), 2);
    let a = app
        .get(&format!(
            "/artifacts/{}",
            c["artifact_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(
        a["header"]["provenance_source"],
        format!("barbacane-control:project/{project}")
    );
    // A third spec claiming a route of the first: each compiles alone, not together.
    app.spec(&project, "c.yaml", &mini_spec("/a", "c")).await;
    let r = app
        .post_empty(&format!("/projects/{project}/compile"))
        .await;
    let c = app.wait_compilation(r.json()["id"].as_str().unwrap()).await;
    assert_eq!(c["status"], "failed", "{c}");
    assert_eq!(c["artifact_id"], serde_json::Value::Null);
    assert_eq!(c["diagnostics"][0]["code"], "E1010", "{c}");

    let missing = uuid::Uuid::new_v4();
    app.post_empty(&format!("/specs/{missing}/compile"))
        .await
        .assert_problem(404, "not-found");
    app.post_empty(&format!("/projects/{missing}/compile"))
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("/compilations/{missing}"))
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn a_deleted_spec_fails_its_pending_compilation() {
    let mut app = TestApp::with(AppOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "a")).await;
    let r = app.post_empty(&format!("/specs/{spec}/compile")).await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/compilations/{id}")).await.json()["status"],
        "pending"
    );
    app.delete(&format!("/specs/{spec}")).await;
    app.stop_workers().await;
    let (_stop, rx) = watch::channel(false);
    let _workers = Workers {
        pool: app.pool.clone(),
        store: Arc::new(PgArtifactStore::new(app.pool.clone())),
        wake: Arc::new(Notify::new()),
        owner: uuid::Uuid::new_v4(),
        lease: barbacane_control::worker::DEFAULT_LEASE,
        signing_key: None,
    }
    .spawn(1, rx);
    let c = app.wait_compilation(&id).await;
    assert_eq!(c["status"], "failed");
    assert_eq!(c["diagnostics"][0]["code"], "missing-input");
}

#[tokio::test]
async fn compilations_left_running_are_recovered_at_start() {
    let app = TestApp::with(AppOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let project = app.project("p").await;
    let spec = app.spec(&project, "a.yaml", &mini_spec("/a", "a")).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = app.post_empty(&format!("/specs/{spec}/compile")).await;
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    // Simulate a crash mid-compilation: both claimed by a process that is gone (its leases
    // already expired), one on its last attempt.
    let gone = uuid::Uuid::new_v4();
    let lease = std::time::Duration::ZERO;
    let first = compilations::claim(&app.pool, gone, lease)
        .await
        .unwrap()
        .unwrap();
    let second = compilations::claim(&app.pool, gone, lease)
        .await
        .unwrap()
        .unwrap();
    sqlx::query("UPDATE compilations SET attempts = $2 WHERE id = $1")
        .bind(second.id)
        .bind(compilations::MAX_ATTEMPTS)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        compilations::count_by_status(&app.pool, "running")
            .await
            .unwrap(),
        2
    );

    let running = barbacane_control::server::start(barbacane_control::server::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: app.db.url.clone(),
        workers: 1,
        max_upload_bytes: 1024,
        allow: vec![],
        pool: Default::default(),
        heartbeat: std::time::Duration::from_secs(30),
        tls: None,
        drift_interval: std::time::Duration::from_secs(30),
        drift_retention: std::time::Duration::from_secs(30 * 86_400),
        compile_lease: std::time::Duration::from_secs(30),
        signing_key: None,
    })
    .await
    .unwrap();
    let c = app.wait_compilation(&first.id.to_string()).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["attempts"], 2);
    let c = app.wait_compilation(&second.id.to_string()).await;
    assert_eq!(c["status"], "failed");
    assert_eq!(c["diagnostics"][0]["code"], "interrupted");
    assert_eq!(
        compilations::count_by_status(&app.pool, "running")
            .await
            .unwrap(),
        0
    );
    running.stop().await.unwrap();
}

// ---- Registry plugins in remote builds ------------------------------------------------------

/// `stamp`: `on_response` adds response header `x-stamp` carrying its config (the raw JSON).
const STAMP: &str = r#"(module
  (import "barbacane:response" "add_header" (func $add (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-stamp")
  (global $len (mut i32) (i32.const 0))
  (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "init") (param $p i32) (param $n i32) (result i32)
    (memory.copy (i32.const 512) (local.get $p) (local.get $n)) (global.set $len (local.get $n)) (i32.const 0))
  (func (export "on_request") (result i32) (i32.const 0))
  (func (export "on_response") (result i32)
    (drop (call $add (i32.const 0) (i32.const 7) (i32.const 512) (global.get $len))) (i32.const 0)))"#;

/// Deliberately not in canonical JSON form: the registered bytes are what gets compiled.
const STAMP_SCHEMA: &str = "{\n  \"type\": \"object\",\n  \"required\": [\"value\"],\n  \"properties\": {\"value\": {\"type\": \"string\"}},\n  \"additionalProperties\": false\n}\n";

fn stamp_toml(version: &str) -> String {
    crate::plugins::manifest("stamp", version, "middleware", "stamp.wasm", &["response"])
}

/// Registers `stamp` at `version` with `schema`.
async fn register_stamp(app: &TestApp, version: &str, schema: &str) {
    let r = crate::plugins::register(
        app,
        &[
            ("manifest", "plugin.toml", stamp_toml(version).into_bytes()),
            ("wasm", "stamp.wasm", wat::parse_str(STAMP).unwrap()),
            ("schema", "config-schema.json", schema.as_bytes().to_vec()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

/// A spec whose root middleware chain is one use of `reference` with `config`.
fn stamped(path: &str, reference: &str, config: &str) -> String {
    format!(
        "openapi: 3.1.0\ninfo: {{title: stamped, version: '1'}}\n\
         x-barbacane-middlewares: [{{name: '{reference}', config: {config}}}]\n\
         paths:\n  {path}:\n    get:\n      \
         x-barbacane-dispatch: {{name: mock, config: {{status: 200, body: ok}}}}\n      \
         responses: {{'200': {{description: ok}}}}\n"
    )
}

/// Provenance pairs of an artifact header.
fn metadata_of(header: &serde_json::Value) -> BTreeMap<String, String> {
    header["metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn codes(c: &serde_json::Value) -> Vec<String> {
    c["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_registry_plugin_is_compiled_in_runs_and_reproduces_locally() {
    let app = TestApp::new().await;
    register_stamp(&app, "1.0.0", STAMP_SCHEMA).await;
    let project = app.project("p").await;
    let spec_text = stamped("/a", "stamp", "{value: hello}");
    let spec = app.spec(&project, "api.yaml", &spec_text).await;
    assert_eq!(
        app.get(&format!("/specs/{spec}")).await.json()["plugins"],
        serde_json::json!(["stamp"])
    );
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["plugins"], serde_json::json!({"stamp": "1.0.0"}));
    let artifact = c["artifact_id"].as_str().unwrap();
    let remote = app.get(&format!("/artifacts/{artifact}")).await.json();
    let header = &remote["header"];
    assert_eq!(header["metadata"]["plugin/stamp"], "1.0.0", "{header}");
    let inputs: Vec<&str> = header["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        vec![
            "api.yaml",
            "barbacane.yaml",
            "official/mock/config-schema.json",
            "official/mock/mock.wasm",
            "official/mock/plugin.toml",
            "plugins/stamp/config-schema.json",
            "plugins/stamp/plugin.toml",
            "plugins/stamp/stamp.wasm",
        ]
    );

    // (a) The data plane loads it and runs the middleware.
    let download = app.get(&format!("/artifacts/{artifact}/download")).await;
    assert_eq!(download.status, StatusCode::OK);
    let snapshot = Snapshot::from_bytes(&download.body).expect("the artifact loads");
    assert_eq!(snapshot.route_count(), 1);
    let gateway = TestGateway::from_artifact(&download.body, ServeConfig::default()).await;
    let response = gateway
        .send(
            gateway
                .request("GET", "/a")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("x-stamp"), Some(r#"{"value":"hello"}"#));

    // (b) The documented layout on disk, compiled locally with the same provenance: the
    // same hash, inputs and bytes.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("plugins/stamp")).unwrap();
    std::fs::write(d.join("api.yaml"), &spec_text).unwrap();
    std::fs::write(
        d.join("barbacane.yaml"),
        "plugins:\n  stamp:\n    path: plugins/stamp\n",
    )
    .unwrap();
    std::fs::write(d.join("plugins/stamp/plugin.toml"), stamp_toml("1.0.0")).unwrap();
    std::fs::write(
        d.join("plugins/stamp/stamp.wasm"),
        wat::parse_str(STAMP).unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("plugins/stamp/config-schema.json"), STAMP_SCHEMA).unwrap();
    let created: chrono::DateTime<chrono::Utc> =
        header["build_timestamp"].as_str().unwrap().parse().unwrap();
    let local = barbacane_compiler::compile(
        &LocalFs,
        &CompileOptions {
            specs: vec![d.join("api.yaml")],
            manifest: Some(d.join("barbacane.yaml")),
            build_time: created.timestamp() as u64,
            provenance_source: header["provenance_source"].as_str().map(str::to_owned),
            metadata: metadata_of(header),
            ..Default::default()
        },
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(header["artifact_hash"], local.header.artifact_hash);
    assert_eq!(
        header["inputs"],
        serde_json::to_value(&local.header.inputs).unwrap()
    );
    assert_eq!(download.body.as_ref(), local.artifact.as_slice());

    // A spec without registry plugins still compiles without a manifest.
    let plain = app
        .spec(&project, "plain.yaml", &mini_spec("/p", "p"))
        .await;
    let c = app.compile(&plain).await;
    assert_eq!(c["plugins"], serde_json::json!({}));
    let a = app
        .get(&format!(
            "/artifacts/{}",
            c["artifact_id"].as_str().unwrap()
        ))
        .await
        .json();
    // The spec, and the official `mock` (three files), which needs no manifest.
    let names: Vec<&str> = a["header"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "plain.yaml",
            "official/mock/config-schema.json",
            "official/mock/mock.wasm",
            "official/mock/plugin.toml"
        ]
    );
}

#[tokio::test]
async fn the_highest_version_satisfying_every_reference_is_compiled() {
    let app = TestApp::new().await;
    for version in ["1.0.0", "1.2.0", "2.0.0"] {
        register_stamp(&app, version, STAMP_SCHEMA).await;
    }
    let project = app.project("p").await;
    let a = app
        .spec(
            &project,
            "a.yaml",
            &stamped("/a", "stamp@^1.0", "{value: a}"),
        )
        .await;
    let b = app
        .spec(&project, "b.yaml", &stamped("/b", "stamp", "{value: b}"))
        .await;
    let c = app
        .spec(
            &project,
            "c.yaml",
            &stamped("/c", "stamp@1.0.0", "{value: c}"),
        )
        .await;
    for (spec, chosen) in [(&a, "1.2.0"), (&b, "2.0.0"), (&c, "1.0.0")] {
        let done = app.compile(spec).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["plugins"]["stamp"], chosen, "{done}");
        let artifact = app
            .get(&format!(
                "/artifacts/{}",
                done["artifact_id"].as_str().unwrap()
            ))
            .await
            .json();
        assert_eq!(artifact["header"]["metadata"]["plugin/stamp"], chosen);
    }
    // A project: one version for every reference.
    let compile_project = || async {
        let r = app
            .post_empty(&format!("/projects/{project}/compile"))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
        app.wait_compilation(r.json()["id"].as_str().unwrap()).await
    };
    let done = compile_project().await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["plugins"], serde_json::json!({"stamp": "1.0.0"}));
    // No version satisfies `^1.0`, `1.0.0` and `^2` at once: the compiler reports every
    // reference the highest version does not satisfy.
    let d = app
        .spec(&project, "d.yaml", &stamped("/d", "stamp@^2", "{value: d}"))
        .await;
    let done = compile_project().await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["plugins"], serde_json::json!({"stamp": "2.0.0"}));
    assert_eq!(codes(&done), vec!["E1021", "E1021"], "{done}");
    let files: Vec<&str> = done["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f.ends_with("a.yaml") || f.ends_with("c.yaml")),
        "{files:?}"
    );

    // Deleting a version is refused while a reference would be left with none.
    let problem = app
        .delete("/plugins/stamp/2.0.0")
        .await
        .assert_problem(409, "in-use");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("stamp@^2") && detail.contains("d.yaml"),
        "{detail}"
    );
    assert!(!detail.contains("b.yaml"), "{detail}");
    assert_eq!(
        app.delete("/plugins/stamp/1.2.0").await.status,
        StatusCode::NO_CONTENT
    );
    let problem = app
        .delete("/plugins/stamp/1.0.0")
        .await
        .assert_problem(409, "in-use");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("stamp@1.0.0") && detail.contains("c.yaml"),
        "{detail}"
    );
    app.delete(&format!("/specs/{d}")).await;
    assert_eq!(
        app.delete("/plugins/stamp/2.0.0").await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_config_the_plugin_schema_refuses_fails_with_e1022() {
    let app = TestApp::new().await;
    register_stamp(&app, "1.0.0", STAMP_SCHEMA).await;
    let project = app.project("p").await;
    // Checked at upload against the version a compilation would choose now.
    let problem = app
        .upload_yaml(&project, "bad.yaml", &stamped("/a", "stamp", "{value: 5}"))
        .await
        .assert_problem(422, "invalid-spec");
    assert_eq!(problem["errors"][0]["code"], "E1022", "{problem}");
    assert_eq!(
        problem["errors"][0]["json_pointer"],
        "/x-barbacane-middlewares/0/config/value"
    );
    // Valid for 1.0.0; then 1.1.0 arrives with a stricter schema and is compiled with.
    let spec = app
        .spec(
            &project,
            "a.yaml",
            &stamped("/a", "stamp", "{value: too-long}"),
        )
        .await;
    register_stamp(
        &app,
        "1.1.0",
        r#"{"type": "object", "properties": {"value": {"type": "string", "maxLength": 5}}}"#,
    )
    .await;
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "failed", "{c}");
    assert_eq!(c["artifact_id"], serde_json::Value::Null);
    assert_eq!(c["plugins"], serde_json::json!({"stamp": "1.1.0"}));
    assert_eq!(codes(&c), vec!["E1022"], "{c}");
    assert_eq!(
        c["diagnostics"][0]["json_pointer"],
        "/x-barbacane-middlewares/0/config/value"
    );
    assert_eq!(c["diagnostics"][0]["file"], "a.yaml");
}

#[tokio::test]
async fn unsatisfiable_and_unknown_references_fail_with_the_compilers_codes() {
    let app = TestApp::new().await;
    register_stamp(&app, "1.0.0", STAMP_SCHEMA).await;
    let project = app.project("p").await;
    let ghost_dispatch = "openapi: 3.1.0\ninfo: {title: g, version: '1'}\npaths:\n  /g:\n    get:\n      x-barbacane-dispatch: {name: ghost-backend}\n      responses: {'200': {description: ok}}\n";
    let cases = [
        (
            "major.yaml",
            stamped("/m", "stamp@^9.0", "{value: x}"),
            "E1021",
        ),
        ("ghost.yaml", stamped("/g", "ghost", "{}"), "E1020"),
        ("dispatch.yaml", ghost_dispatch.to_owned(), "E1012"),
    ];
    for (name, text, code) in &cases {
        // Refused at upload...
        let problem = app
            .upload_yaml(&project, name, text)
            .await
            .assert_problem(422, "invalid-spec");
        assert_eq!(problem["errors"][0]["code"], *code, "{problem}");
        // ...and, stored anyway (as if the registry had changed since the upload), refused by
        // the compilation with the compiler's diagnostic.
        let project_id: uuid::Uuid = project.parse().unwrap();
        let files = [NewFile {
            path: (*name).to_owned(),
            is_root: true,
            content: text.as_bytes().to_vec(),
        }];
        let revision = specs::create(&app.pool, project_id, name, &files, &[])
            .await
            .unwrap();
        let c = app.compile(&revision.spec_id.to_string()).await;
        assert_eq!(c["status"], "failed", "{c}");
        assert_eq!(codes(&c), vec![*code], "{c}");
        assert_eq!(c["diagnostics"][0]["file"], *name, "{c}");
        let expected = if *code == "E1021" {
            serde_json::json!({"stamp": "1.0.0"})
        } else {
            serde_json::json!({})
        };
        assert_eq!(c["plugins"], expected, "{c}");
    }
}
