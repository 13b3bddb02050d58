//! Standalone nodes observed by polling: registration rules, every kind of bad answer
//! recorded as an observation error (never stored, never a crash), known-good blessings and
//! their content pin.

use barbacane_control::drift::observe::Poller;
use barbacane_control::drift::pass;
use barbacane_test::capture::{CaptureServer, Reply};
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::TestApp;

const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CA: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const CB: &str = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

/// A provenance document as `GET /_admin/provenance` answers (valid against the schema).
pub fn provenance(artifact_hash: &str, content_hash: &str) -> Value {
    json!({
        "format_version": 1, "artifact_hash": artifact_hash, "content_hash": content_hash,
        "build_timestamp": "2026-01-01T00:00:00Z", "compiler_version": "0.1.0", "inputs": [],
        "provenance_commit": null, "provenance_source": null, "metadata": {},
        "loaded_at": "2026-01-01T00:00:00Z",
        "signature": {"status": "unsigned", "key_id": null},
        "data_plane": {"version": "0.1.0", "instance_id": "6f1c2d7e-0000-4000-8000-000000000000",
                       "hostname": "edge"},
        "last_reload_error": null,
    })
}

/// A token file and its `file://` reference.
fn token_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("token");
    std::fs::write(&path, "node-admin-token\n").unwrap();
    format!("file://{}", path.display())
}

async fn register(app: &TestApp, project: &str, name: &str, url: &str, token: &str) -> Value {
    let reply = app
        .post_json(
            &format!("/projects/{project}/data-planes"),
            json!({"name": name, "admin_url": url, "admin_token": token}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

async fn node(app: &TestApp, project: &str, id: &str) -> Value {
    app.get(&format!("/projects/{project}/data-planes/{id}"))
        .await
        .json()
}

async fn open_kinds(app: &TestApp, project: &str) -> Vec<String> {
    let list = app
        .get(&format!("/drift/findings?project={project}&open=true"))
        .await
        .json();
    let mut kinds: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

async fn poll_and_pass(app: &TestApp) {
    Poller::new(Duration::from_secs(2))
        .unwrap()
        .poll_all(&app.pool)
        .await
        .unwrap();
    pass(&app.pool, Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn registration_takes_references_never_tokens() {
    let app = TestApp::new().await;
    let project = app.project("fleet").await;
    let path = format!("/projects/{project}/data-planes");
    for (body, needle) in [
        (
            json!({"name": "n", "admin_url": "http://127.0.0.1:1", "admin_token": "s3cr3t"}),
            "reference",
        ),
        (
            json!({"name": "n", "admin_url": "ftp://x", "admin_token": "env://T"}),
            "admin_url",
        ),
        (
            json!({"name": "n", "admin_url": "http://h:1/_admin", "admin_token": "env://T"}),
            "no path",
        ),
        (
            json!({"name": "", "admin_url": "http://h:1", "admin_token": "env://T"}),
            "name",
        ),
        (
            json!({"name": "n", "admin_url": "http://h:1", "admin_token": "env://T", "x": 1}),
            "unknown field",
        ),
    ] {
        let reply = app.post_json(&path, body.clone()).await;
        let problem = reply.assert_problem(400, "invalid-request");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
    }
    let created = register(
        &app,
        &project,
        "edge",
        "http://127.0.0.1:1/",
        "env://NODE_TOKEN",
    )
    .await;
    assert_eq!(created["mode"], "standalone");
    assert_eq!(created["admin_url"], "http://127.0.0.1:1");
    assert_eq!(created["admin_token_ref"], "env://NODE_TOKEN");
    let again = app
        .post_json(
            &path,
            json!({"name": "edge", "admin_url": "http://h:1", "admin_token": "env://T"}),
        )
        .await;
    again.assert_problem(409, "already-exists");
    let missing = app
        .post_json(
            &format!("/projects/{}/data-planes", uuid::Uuid::new_v4()),
            json!({"name": "n", "admin_url": "http://h:1", "admin_token": "env://T"}),
        )
        .await;
    missing.assert_problem(404, "not-found");
}

#[tokio::test]
async fn bad_answers_are_observation_errors_and_good_ones_are_judged() {
    let app = TestApp::new().await;
    let project = app.project("fleet").await;
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(&dir);
    let fake = CaptureServer::start(Reply::new(200, "text/html", "<html>hi</html>")).await;
    let n = register(&app, &project, "edge", &fake.url(), &token).await;
    let id = n["id"].as_str().unwrap().to_owned();
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let mut wrong_schema = provenance(A, CA);
    wrong_schema["artifact_hash"] = json!("<script>alert(1)</script>");
    // A node that says it belongs to (is connected to) another project's control plane.
    let other = app.project("other").await;
    let foreign = register(&app, &other, "theirs", "http://127.0.0.1:1", &token).await;
    let mut nul_hostname = provenance(A, CA);
    nul_hostname["data_plane"]["hostname"] = json!("edge\u{0}");
    let mut elsewhere = provenance(A, CA);
    elsewhere["control_plane"] = json!({"url": "http://cp", "state": "connected",
        "last_connected_at": null, "data_plane_id": foreign["id"], "last_error": null});
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::new(200, "text/html", "<html>hi</html>"),
            "not application/json",
        ),
        (
            Reply::new(200, "application/json", "{not json"),
            "not valid JSON",
        ),
        (Reply::new(200, "application/json", &huge), "larger than"),
        (
            Reply::new(200, "application/json", &wrong_schema.to_string()),
            "/artifact_hash",
        ),
        (
            Reply::new(200, "application/json", &elsewhere.to_string()),
            "another project",
        ),
        (
            Reply::new(200, "application/json", &nul_hostname.to_string()),
            "NUL character",
        ),
        (Reply::new(500, "application/json", "{}"), "HTTP 500"),
        (Reply::new(401, "application/json", "{}"), "HTTP 401"),
    ];
    for (reply, needle) in cases {
        fake.set_reply(reply);
        poll_and_pass(&app).await;
        let n = node(&app, &project, &id).await;
        assert_eq!(n["observation"], "invalid", "{needle}: {n}");
        assert_eq!(n["health"], "Degraded", "{needle}: {n}");
        let error = n["observation_error"].as_str().unwrap();
        assert!(error.contains(needle), "{needle}: {error}");
        assert!(
            !error.contains("<script>") && !error.contains("<html>"),
            "{error}"
        );
        assert_eq!(open_kinds(&app, &project).await, Vec::<String>::new());
    }
    // The token was sent as a bearer token, resolved from the file.
    let seen = fake.requests();
    assert_eq!(seen[0].target, "/_admin/provenance");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer node-admin-token")
    );

    // A valid answer with no desired state: judged.
    fake.set_reply(Reply::new(
        200,
        "application/json",
        &provenance(A, CA).to_string(),
    ));
    poll_and_pass(&app).await;
    let n = node(&app, &project, &id).await;
    assert_eq!(
        (n["observation"].as_str(), n["health"].as_str()),
        (Some("serving"), Some("Healthy"))
    );
    assert_eq!(n["artifact_hash"], A);
    assert_eq!(
        open_kinds(&app, &project).await,
        ["no-desired-state", "unknown-artifact"]
    );
    assert_eq!(n["condition"], "ConfigurationDrift", "{n}");
    assert_eq!(n["open_findings"], 2, "{n}");

    // Known-good by hash, unknown to the control plane: its content is pinned by the first
    // observation, after which the node is Synced.
    let kg = app
        .post_json(
            &format!("/projects/{project}/known-good"),
            json!({"artifact_hash": A, "note": "audited", "created_by": "ops"}),
        )
        .await;
    assert_eq!(kg.status, 201, "{}", kg.text());
    assert_eq!(kg.json()["content_source"], "pending");
    poll_and_pass(&app).await;
    // Blessed, so known: no `unknown-artifact` either.
    assert_eq!(open_kinds(&app, &project).await, Vec::<String>::new());
    let n = node(&app, &project, &id).await;
    assert_eq!(n["sync"], "Synced", "{n}");
    assert_eq!(n["condition"], Value::Null, "{n}");
    let list = app
        .get(&format!("/projects/{project}/known-good"))
        .await
        .json();
    assert_eq!(list[0]["content_hash"], CA);
    assert_eq!(list[0]["content_source"], "observation");

    // Same artifact_hash, other content: content-mismatch. Then the fix resolves it.
    fake.set_reply(Reply::new(
        200,
        "application/json",
        &provenance(A, CB).to_string(),
    ));
    poll_and_pass(&app).await;
    assert_eq!(open_kinds(&app, &project).await, ["content-mismatch"]);
    // Answering garbage next does not clear it: only evidence resolves a finding.
    fake.set_reply(Reply::new(200, "text/html", "<html>nothing to see</html>"));
    poll_and_pass(&app).await;
    assert_eq!(open_kinds(&app, &project).await, ["content-mismatch"]);
    fake.set_reply(Reply::new(
        200,
        "application/json",
        &provenance(A, CA).to_string(),
    ));
    poll_and_pass(&app).await;
    assert_eq!(open_kinds(&app, &project).await, Vec::<String>::new());

    // Gone: unreachable at once (a failed poll is evidence), resolved when it answers again.
    drop(fake);
    poll_and_pass(&app).await;
    let n = node(&app, &project, &id).await;
    assert_eq!(n["health"], "Unreachable", "{n}");
    assert!(
        open_kinds(&app, &project)
            .await
            .contains(&"unreachable".to_owned())
    );

    // A token reference that does not resolve is an observation error naming the reference.
    sqlx::query("UPDATE data_planes SET admin_token_ref = 'env://BARBACANE_TEST_SURELY_UNSET'")
        .execute(&app.pool)
        .await
        .unwrap();
    poll_and_pass(&app).await;
    let n = node(&app, &project, &id).await;
    assert!(
        n["observation_error"]
            .as_str()
            .unwrap()
            .contains("BARBACANE_TEST_SURELY_UNSET"),
        "{n}"
    );
}

#[tokio::test]
async fn known_good_requests_are_checked() {
    let app = TestApp::new().await;
    let project = app.project("fleet").await;
    let path = format!("/projects/{project}/known-good");
    for (body, needle) in [
        (json!({}), "artifact_hash"),
        (json!({"artifact_hash": "sha256:xyz"}), "64 lowercase hex"),
        (
            json!({"artifact_hash": A, "content_hash": "md5:1"}),
            "content_hash",
        ),
    ] {
        let reply = app.post_json(&path, body.clone()).await;
        let problem = reply.assert_problem(400, "invalid-request");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
    }
    let unknown = app
        .post_json(
            &path,
            json!({"artifact_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    unknown.assert_problem(409, "conflict");
    // A built artifact: its recorded content hash is used, and a different one is refused.
    let spec = app
        .spec(&project, "api.yaml", &crate::support::mini_spec("/a", "{}"))
        .await;
    let artifact = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = app
        .post_json(&path, json!({"artifact_id": artifact, "note": "release 1"}))
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    assert_eq!(made["content_source"], "recorded");
    assert!(
        made["content_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let hash = made["artifact_hash"].as_str().unwrap().to_owned();
    let refused = app
        .post_json(&path, json!({"artifact_hash": hash, "content_hash": CB}))
        .await;
    refused.assert_problem(400, "invalid-request");
    let disagree = app
        .post_json(&path, json!({"artifact_hash": A, "artifact_id": artifact}))
        .await;
    disagree.assert_problem(400, "invalid-request");
}

#[tokio::test]
async fn retention_prunes_old_observations_but_keeps_findings() {
    let app = TestApp::new().await;
    let project = app.project("fleet").await;
    let dir = tempfile::tempdir().unwrap();
    let n = register(
        &app,
        &project,
        "edge",
        "http://127.0.0.1:1",
        &token_file(&dir),
    )
    .await;
    let id = uuid::Uuid::parse_str(n["id"].as_str().unwrap()).unwrap();
    // Unreachable: one observation and an open finding per pass.
    poll_and_pass(&app).await;
    poll_and_pass(&app).await;
    let age = |table: &str, column: &str| {
        sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = {column} - interval '2 hours'"
        ))
    };
    sqlx::query(age("drift_observations", "observed_at"))
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(age("drift_finding_events", "at"))
        .execute(&app.pool)
        .await
        .unwrap();
    poll_and_pass(&app).await;
    let pruned = barbacane_control::db::drift::prune(&app.pool, Duration::from_secs(3600))
        .await
        .unwrap();
    // Two old observations and one old `observed` event (the first pass only opened it).
    assert_eq!(pruned, 3);
    let observations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM drift_observations WHERE data_plane_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(observations, 1);
    let f = app
        .get(&format!("/drift/findings?project={project}&open=true"))
        .await
        .json();
    assert_eq!(f[0]["kind"], "unreachable", "{f}");
    assert_eq!(f[0]["observations"], 2, "{f}");
}

#[tokio::test]
async fn a_remediation_acts_on_the_desired_state_of_now_or_not_at_all() {
    let app = TestApp::new().await;
    let project = app.project("fleet").await;
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(&dir);
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    let fake = CaptureServer::start(Reply::new(
        200,
        "application/json",
        &provenance(B, CB).to_string(),
    ))
    .await;
    register(&app, &project, "edge", &fake.url(), &token).await;
    let path = format!("/projects/{project}/known-good");
    let bless = |hash: &'static str| {
        app.post_json(&path, json!({"artifact_hash": hash, "content_hash": CA}))
    };
    assert_eq!(bless(A).await.status, 201);
    poll_and_pass(&app).await;
    let open = app
        .get(&format!(
            "/drift/findings?project={project}&open=true&kind=hash-mismatch"
        ))
        .await
        .json();
    let finding = open[0]["id"].as_str().unwrap().to_owned();
    let proposal = app
        .post_empty(&format!("/drift/findings/{finding}/remediations"))
        .await
        .json();
    assert_eq!(proposal["to_hash"], A, "{proposal}");
    assert_eq!(proposal["dry_run"]["action"], "manual");
    let stale = proposal["id"].as_str().unwrap().to_owned();
    // The operator blesses another artifact: the old proposal no longer applies...
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(bless(C).await.status, 201);
    let refused = app
        .post_json(
            &format!("/remediations/{stale}/approve"),
            json!({"approved_by": "ops"}),
        )
        .await;
    let problem = refused.assert_problem(409, "conflict");
    assert!(
        problem["detail"].as_str().unwrap().contains("changed"),
        "{problem}"
    );
    // ...and a new one targets what the node should run now.
    let fresh = app
        .post_empty(&format!("/drift/findings/{finding}/remediations"))
        .await
        .json();
    assert_eq!(fresh["to_hash"], C, "{fresh}");
    let approved = app
        .post_json(
            &format!("/remediations/{}/approve", fresh["id"].as_str().unwrap()),
            json!({"approved_by": "ops"}),
        )
        .await
        .json();
    assert_eq!(
        approved["outcome"]["action"], "manual_action_required",
        "{approved}"
    );
    let commands = approved["outcome"]["commands"].to_string();
    assert!(
        commands.contains(C) && commands.contains("/_admin/reload"),
        "{commands}"
    );
}
