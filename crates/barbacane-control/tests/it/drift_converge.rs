//! Alert and converge: signed webhook deliveries retried until accepted, Prometheus metrics,
//! and remediation only through a recorded approval (proposals and rejections change
//! nothing; the schema refuses a remediation deployment without an approval).

use barbacane_control::drift::pass;
use barbacane_test::capture::{CaptureServer, Reply};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::{TestApp, connected_gateway, mini_spec};

const INTERVAL: Duration = Duration::from_secs(30);

async fn open(app: &TestApp, project: &str) -> Value {
    app.get(&format!("/drift/findings?project={project}&open=true"))
        .await
        .json()
}

async fn artifact(app: &TestApp, project: &str, file: &str, path: &str) -> (String, String) {
    let spec = app.spec(project, file, &mini_spec(path, "{}")).await;
    let id = app.compile(&spec).await["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = app.get(&format!("/artifacts/{id}")).await.json();
    (id, a["artifact_hash"].as_str().unwrap().to_owned())
}

/// Deploys and waits until the node applied it.
async fn deploy(app: &TestApp, project: &str, artifact: &str) {
    let d = app
        .post_json(
            &format!("/projects/{project}/deploy"),
            json!({"artifact_id": artifact}),
        )
        .await
        .json();
    wait_applied(app, d["deployment_id"].as_str().unwrap()).await;
}

async fn wait_applied(app: &TestApp, deployment: &str) {
    for _ in 0..400 {
        let s = app.get(&format!("/deployments/{deployment}")).await.json();
        if s["nodes"][0]["state"] == "applied" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deployment {deployment} was not applied");
}

/// `barbacane-control ARGS --server SERVER`: (exit code, stdout).
async fn cli(server: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_barbacane-control"));
    command
        .args(args)
        .args(["--server", server])
        .env_remove("BARBACANE_CONTROL_ADMIN_TOKEN");
    tokio::task::spawn_blocking(move || {
        let out = command.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    })
    .await
    .unwrap()
}

/// Checks `X-Barbacane-Signature` independently of the sender's code.
fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signature == format!("sha256={expected}")
}

#[tokio::test]
async fn drift_is_alerted_signed_and_converged_only_by_an_approval() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let server = format!("http://{addr}");
    let project = app.project("fleet").await;
    let key = app
        .post_json(
            &format!("/projects/{project}/api-keys"),
            json!({"name": "n"}),
        )
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();

    // A webhook whose receiver refuses the first two deliveries.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "hook-secret\n").unwrap();
    let receiver = CaptureServer::start(Reply::new(503, "text/plain", "busy")).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn(barbacane_control::drift::webhook::run(
        app.pool.clone(),
        app.state.metrics().clone(),
        rx,
    ));
    let hook = app
        .post_json(
            "/webhooks",
            json!({"url": format!("{}/hooks", receiver.url()),
                   "secret": format!("file://{}", dir.path().join("secret").display()),
                   "events": ["drift_detected", "drift_resolved", "remediation_*"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.text());
    let hook = hook.json();
    assert_eq!(hook["events"].as_array().unwrap().len(), 5, "{hook}");
    let bad = app
        .post_json(
            "/webhooks",
            json!({"url": "http://x", "secret": "plain", "events": ["drift_detected"]}),
        )
        .await;
    bad.assert_problem(400, "invalid-request");
    let bad = app
        .post_json(
            "/webhooks",
            json!({"url": "http://x", "secret": "env://S", "events": ["everything"]}),
        )
        .await;
    bad.assert_problem(400, "invalid-request");

    // The node runs B (deployed); then an operator blesses A: B is now drift.
    let (_gw, _status) = connected_gateway(addr, &key, "edge", "{\"v\":0}").await;
    let (a, a_hash) = artifact(&app, &project, "a.yaml", "/hello").await;
    let (b, b_hash) = artifact(&app, &project, "b.yaml", "/bye").await;
    deploy(&app, &project, &b).await;
    pass(&app.pool, INTERVAL).await.unwrap();
    assert_eq!(open(&app, &project).await, json!([]));
    let kg = app
        .post_json(
            &format!("/projects/{project}/known-good"),
            json!({"artifact_id": a, "note": "rollback target", "created_by": "ops"}),
        )
        .await;
    assert_eq!(kg.status, 201, "{}", kg.text());
    pass(&app.pool, INTERVAL).await.unwrap();
    let findings = open(&app, &project).await;
    assert_eq!(findings.as_array().unwrap().len(), 1, "{findings}");
    let finding = findings[0].clone();
    assert_eq!(finding["kind"], "hash-mismatch");
    assert_eq!(finding["desired_hash"], a_hash.as_str());
    assert_eq!(finding["observed_hash"], b_hash.as_str());
    let finding_id = finding["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cli(&server, &["drift", "status", "--exit-code"]).await.0,
        Some(2)
    );

    // The alert arrives after two refusals, signed.
    for _ in 0..200 {
        if receiver.requests().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.set_reply(Reply::new(204, "text/plain", ""));
    let mut delivered = None;
    for _ in 0..300 {
        let seen = receiver.requests();
        if seen.len() >= 3 {
            delivered = Some(seen);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = delivered.expect("the third attempt of the delivery");
    for r in &seen {
        assert_eq!(r.target, "/hooks");
        let ts = r.header("x-barbacane-timestamp").unwrap();
        let sig = r.header("x-barbacane-signature").unwrap();
        assert!(
            verify(b"hook-secret", ts, &r.body, sig),
            "bad signature {sig}"
        );
        assert!(!verify(b"other-secret", ts, &r.body, sig));
        assert_eq!(r.header("x-barbacane-event"), Some("drift_detected"));
    }
    let event: Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(event["event"], "drift_detected");
    assert_eq!(event["finding"]["kind"], "hash-mismatch");
    assert_eq!(event["data_plane"]["name"], "edge");
    let hook_id = hook["id"].as_str().unwrap();
    let mut log = Value::Null;
    for _ in 0..100 {
        log = app
            .get(&format!("/webhooks/{hook_id}/deliveries"))
            .await
            .json();
        if log[0]["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log[0]["state"], "delivered", "{log}");
    assert_eq!(log[0]["attempts"], 3, "{log}");
    let statuses: Vec<i64> = log[0]["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 204]);

    // Metrics: the open finding and the node's axes.
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    assert!(
        text.contains(&format!(
            "barbacane_control_drift_findings_open{{project=\"{project}\",kind=\"hash-mismatch\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "barbacane_control_data_planes{{project=\"{project}\",sync=\"OutOfSync\",health=\"Healthy\"}} 1"
        )),
        "{text}"
    );
    assert!(text.contains("# TYPE barbacane_control_drift_observations_total counter"));
    assert!(
        text.contains("barbacane_control_compilations{status=\"succeeded\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("barbacane_control_compilations{status=\"pending\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("barbacane_control_connected_data_planes 1"),
        "{text}"
    );
    // Requests by route template (never the raw path), and the compilations this process ran.
    let count = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` in {text}"))
    };
    assert!(
        count(
            "barbacane_control_http_request_duration_seconds_count{method=\"GET\",route=\"/artifacts/{id}\",status=\"2xx\"}"
        ) >= 1
    );
    assert!(
        text.lines()
            .filter(|l| l.contains("route=\"/artifacts/"))
            .all(|l| l.contains("route=\"/artifacts/{id}")),
        "raw paths never become labels: {text}"
    );
    assert!(count("barbacane_control_compile_duration_seconds_count{result=\"succeeded\"}") >= 2);
    barbacane_test::promtool_check(&text);

    // A proposal states what would change, and changes nothing.
    let proposed = app
        .post_json(
            &format!("/drift/findings/{finding_id}/remediations"),
            json!({"proposed_by": "bob"}),
        )
        .await;
    assert_eq!(proposed.status, 201, "{}", proposed.text());
    let proposal = proposed.json();
    let dry = &proposal["dry_run"];
    assert_eq!(dry["action"], "deploy", "{dry}");
    assert_eq!(dry["from"]["artifact_hash"], b_hash.as_str());
    assert_eq!(dry["to"]["artifact_hash"], a_hash.as_str());
    assert_eq!(
        dry["changes"]["routes"]["added"],
        json!(["GET /hello"]),
        "{dry}"
    );
    assert_eq!(
        dry["changes"]["routes"]["removed"],
        json!(["GET /bye"]),
        "{dry}"
    );
    assert_eq!(proposal["state"], "proposed");
    let rid = proposal["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        pass(&app.pool, INTERVAL).await.unwrap();
    }
    let deployments = app
        .get(&format!("/projects/{project}/deployments"))
        .await
        .json();
    assert_eq!(deployments.as_array().unwrap().len(), 1, "{deployments}");
    assert_eq!(open(&app, &project).await[0]["kind"], "hash-mismatch");

    // The schema itself refuses a remediation deployment without an approval.
    let forged = sqlx::query(
        "INSERT INTO deployments (id, artifact_id, target, project_id, artifact_hash, \
         data_plane_id, remediation_id, remediation_decision) \
         SELECT gen_random_uuid(), $1, 'data-plane', $2, 'x', data_plane_id, id, 'approved' \
         FROM remediations WHERE id = $3",
    )
    .bind(uuid::Uuid::parse_str(&a).unwrap())
    .bind(uuid::Uuid::parse_str(&project).unwrap())
    .bind(uuid::Uuid::parse_str(&rid).unwrap())
    .execute(&app.pool)
    .await;
    assert!(
        forged.is_err(),
        "a deployment without an approval record was accepted"
    );

    // Rejected: recorded, nothing happens, and it cannot be approved afterwards.
    let rejected = app
        .post_json(
            &format!("/remediations/{rid}/reject"),
            json!({"rejected_by": "carol", "comment": "not now"}),
        )
        .await
        .json();
    assert_eq!(rejected["state"], "rejected", "{rejected}");
    assert_eq!(rejected["decided_by"], "carol");
    app.post_json(
        &format!("/remediations/{rid}/approve"),
        json!({"approved_by": "mallory"}),
    )
    .await
    .assert_problem(409, "conflict");
    app.post_json(&format!("/remediations/{rid}/approve"), json!({}))
        .await
        .assert_problem(400, "invalid-request");

    // A rejection needs no body: it is recorded under the admin (here: no token at all).
    let r2 = app
        .post_empty(&format!("/drift/findings/{finding_id}/remediations"))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rejected = app.post_empty(&format!("/remediations/{r2}/reject")).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text());
    assert_eq!(rejected.json()["decided_by"], "admin");

    // A new proposal, approved through the CLI: the node is sent A, the next pass resolves.
    let again = app
        .post_empty(&format!("/drift/findings/{finding_id}/remediations"))
        .await;
    assert_eq!(again.status, 201, "{}", again.text());
    let rid = again.json()["id"].as_str().unwrap().to_owned();
    let (code, out) = cli(
        &server,
        &[
            "drift",
            "approve",
            &rid,
            "--by",
            "alice",
            "--comment",
            "CAB-42",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("deployed"), "{out}");
    let approved = app.get(&format!("/remediations/{rid}")).await.json();
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["decided_by"], "alice");
    assert_eq!(approved["comment"], "CAB-42");
    let deployment = approved["outcome"]["deployment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_applied(&app, &deployment).await;
    let d = app.get(&format!("/deployments/{deployment}")).await.json();
    assert_eq!(d["remediation_id"], rid.as_str());
    pass(&app.pool, INTERVAL).await.unwrap();
    assert_eq!(open(&app, &project).await, json!([]));
    assert_eq!(
        cli(&server, &["drift", "status", "--exit-code"]).await.0,
        Some(0)
    );
    // A resolved finding has nothing left to remediate.
    app.post_empty(&format!("/drift/findings/{finding_id}/remediations"))
        .await
        .assert_problem(409, "conflict");
    let (code, out) = cli(&server, &["webhook", "deliveries", hook_id]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("drift_detected") && out.contains("delivered"),
        "{out}"
    );
    let _ = stop.send(true);
    sender.await.unwrap();
}
