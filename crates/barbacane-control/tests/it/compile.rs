//! Remote compilation: the queue, the workers, provenance and reproducibility.

use axum::http::StatusCode;
use barbacane_compiler::{CompileOptions, LocalFs};
use barbacane_control::db::compilations;
use barbacane_control::storage::PgArtifactStore;
use barbacane_control::worker::Workers;
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
        .assert_problem(400, "invalid-request");
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
    // Simulate a crash mid-compilation: both claimed, one on its last attempt.
    let first = compilations::claim(&app.pool).await.unwrap().unwrap();
    let second = compilations::claim(&app.pool).await.unwrap().unwrap();
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
