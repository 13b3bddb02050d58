//! The admin listener: the provenance document, and its separation from traffic. The posture
//! rules are in `posture.rs`, which shares the helpers here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{
    Launch, Out, Server, assert_problem, barbacane, free_port, inspect_json, is_rfc3339,
    one_route_artifact, root, run,
};

/// A one-route artifact (`GET /a`) in `dir`.
pub(crate) fn artifact(dir: &Path) -> PathBuf {
    one_route_artifact(dir, "a", "/a", r#"{"v":"a"}"#, &[])
}

/// `serve --artifact a.bca` with `extra` flags.
pub(crate) fn serve(dir: &Path, extra: &[&str], launch: &Launch) -> Server {
    let mut args = vec!["serve", "--artifact", "a.bca"];
    args.extend_from_slice(extra);
    Server::start_with(dir, &args, launch)
}

/// The status of `GET /_admin/provenance` with a raw `Authorization` value.
pub(crate) fn provenance_status(server: &Server, authorization: Option<&str>) -> u16 {
    server
        .admin_as("GET", "/_admin/provenance", authorization)
        .status
}

/// `serve --artifact a.bca` from `dir` with `flags`, expected to exit at startup.
pub(crate) fn serve_exits(dir: &Path, flags: &[&str], env: &[(&str, Option<&str>)]) -> Out {
    let mut cmd = barbacane();
    cmd.current_dir(dir)
        .args(["serve", "--artifact", "a.bca"])
        .args(flags)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()));
    if !flags.contains(&"--admin-listen") {
        cmd.arg("--admin-listen")
            .arg(format!("127.0.0.1:{}", free_port()));
    }
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    run(&mut cmd)
}

/// Asserts the status of `GET /_admin/provenance` with each bearer token.
#[track_caller]
pub(crate) fn assert_tokens(server: &Server, expected: &[(&str, u16)]) {
    for (token, status) in expected {
        let got = provenance_status(server, Some(&bearer(token)));
        assert_eq!(got, *status, "token {token:?}");
    }
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[test]
fn provenance_matches_inspect_and_identifies_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = "--provenance-commit 0123456789abcdef0123456789abcdef01234567 \
        --provenance-source git+https://example.com/acme/apis.git \
        --provenance pipeline=build-42 --provenance team=edge";
    let flags: Vec<&str> = flags.split_whitespace().collect();
    one_route_artifact(dir.path(), "a", "/a", r#"{"v":"a"}"#, &flags);
    let expected = inspect_json(&dir.path().join("a.bca"));
    let before = barbacane_artifact::rfc3339(now().saturating_sub(60));
    let first = serve(dir.path(), &[], &Launch::default());
    let second = serve(dir.path(), &[], &Launch::default());
    let after = barbacane_artifact::rfc3339(now() + 60);

    let response = first.admin("GET", "/_admin/provenance", &[]);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    let fields = "format_version artifact_hash content_hash build_timestamp compiler_version inputs \
        provenance_commit provenance_source metadata";
    for field in fields.split_whitespace() {
        assert!(!doc[field].is_null(), "{field} missing: {doc}");
        assert_eq!(doc[field], expected[field], "{field}: {doc}\nvs {expected}");
    }
    assert_eq!(doc["metadata"]["team"], "edge");

    let loaded_at = doc["loaded_at"].as_str().expect("loaded_at");
    assert!(is_rfc3339(loaded_at), "{loaded_at}");
    // The load time of this process, not the (2023) build time.
    assert!(
        before.as_str() <= loaded_at && loaded_at <= after.as_str(),
        "{loaded_at}"
    );
    assert_eq!(doc["signature"]["status"], "unsigned", "{doc}");
    assert!(doc["signature"]["key_id"].is_null(), "{doc}");
    assert!(doc["last_reload_error"].is_null(), "{doc}");

    let plane = &doc["data_plane"];
    assert_eq!(plane["version"], env!("CARGO_PKG_VERSION"), "{doc}");
    let hostname = plane["hostname"].as_str().expect("hostname");
    assert!(!hostname.is_empty(), "{doc}");
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        assert_eq!(hostname, h.trim());
    }
    let id = plane["instance_id"].as_str().expect("instance_id");
    assert!(
        id.len() == 36 && id.matches('-').count() == 4,
        "not a UUID: {doc}"
    );
    // Exactly the fields of docs/provenance.schema.json (no additional properties).
    let schema = std::fs::read_to_string(root().join("docs/provenance.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(&schema.expect("schema")).expect("JSON");
    for (value, schema) in [
        (&doc, &schema),
        (plane, &schema["properties"]["data_plane"]),
        (&doc["signature"], &schema["properties"]["signature"]),
    ] {
        let keys = |v: &serde_json::Value| -> BTreeSet<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        assert_eq!(keys(value), required, "{value}");
        // Optional properties (connected mode's `control_plane`) are absent in standalone.
        assert!(
            keys(value).is_subset(&keys(&schema["properties"])),
            "{value}"
        );
    }
    let again = first.provenance(None);
    assert_eq!(
        again["data_plane"]["instance_id"], id,
        "stable within a process"
    );
    let other = second.provenance(None);
    assert_ne!(other["data_plane"]["instance_id"], id, "new at every start");
    assert_eq!(other["artifact_hash"], doc["artifact_hash"]);
}

#[test]
fn admin_and_traffic_listeners_are_separate() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let server = serve(dir.path(), &[], &Launch::default());

    let r = server.get("/_admin/provenance");
    assert_problem(&r, 404, "route-not-found");
    let r = crate::support::request(server.port, "POST", "/_admin/reload", &[]).expect("POST");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.status, 404, "{r:?}");
    let r = server.get("/_admin/health");
    assert_eq!(r.status, 404, "{r:?}");

    // ...and traffic routes are not served on the admin listener.
    assert_eq!(server.get("/a").status, 200);
    assert_problem(&server.admin("GET", "/a", &[]), 404, "route-not-found");
    assert_problem(
        &server.admin("GET", "/__barbacane/health", &[]),
        404,
        "route-not-found",
    );
}

#[test]
fn metrics_are_served_on_the_admin_listener_behind_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let server = serve(
        dir.path(),
        &[],
        &Launch::default().env("BARBACANE_ADMIN_TOKEN", "metrics-token"),
    );
    assert_eq!(server.get("/a").status, 200);
    let denied = server.admin_as("GET", "/_admin/metrics", None);
    assert_eq!(denied.status, 401, "{denied:?}");
    let r = server.admin_as("GET", "/_admin/metrics", Some(&bearer("metrics-token")));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        r.body
            .contains("barbacane_requests_total{method=\"GET\",route=\"/a\",status=\"2xx\"} 1"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("barbacane_reloads_total{result=\"applied\"} 0"),
        "{}",
        r.body
    );
    // Not on the traffic listener.
    assert_eq!(server.get("/_admin/metrics").status, 404);
}
