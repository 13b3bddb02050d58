//! The admin listener: provenance document, separation from traffic, and the posture rules
//! (non-loopback bind needs a token, bearer tokens with rotation, CIDR allowlist, no token in
//! logs).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{
    Launch, Server, assert_problem, barbacane, free_port, inspect_json, is_rfc3339,
    one_route_artifact, run,
};

/// Exit codes under test.
const USAGE: i32 = 10;
const POSTURE_REFUSED: i32 = 15;

/// A one-route artifact (`GET /a`) in `dir`.
fn artifact(dir: &Path) -> PathBuf {
    one_route_artifact(dir, "a", "/a", r#"{"v":"a"}"#, &[])
}

/// `serve --artifact a.bca` with `extra` flags.
fn serve(dir: &Path, extra: &[&str], launch: &Launch) -> Server {
    let mut args = vec!["serve", "--artifact", "a.bca"];
    args.extend_from_slice(extra);
    Server::start_with(dir, &args, launch)
}

/// The status of `GET /_admin/provenance` with a raw `Authorization` value.
fn provenance_status(server: &Server, authorization: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|a| ("Authorization", *a))
        .collect();
    server.admin("GET", "/_admin/provenance", &headers).status
}

fn bearer(token: &str) -> String {
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
    one_route_artifact(
        dir.path(),
        "a",
        "/a",
        r#"{"v":"a"}"#,
        &[
            "--provenance-commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--provenance-source",
            "git+https://example.com/acme/apis.git",
            "--provenance",
            "pipeline=build-42",
            "--provenance",
            "team=edge",
        ],
    );
    let expected = inspect_json(&dir.path().join("a.bca"));
    let before = barbacane_artifact::rfc3339(now().saturating_sub(60));
    let first = serve(dir.path(), &[], &Launch::default());
    let second = serve(dir.path(), &[], &Launch::default());
    let after = barbacane_artifact::rfc3339(now() + 60);

    let response = first.admin("GET", "/_admin/provenance", &[]);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    for field in [
        "format_version",
        "artifact_hash",
        "build_timestamp",
        "compiler_version",
        "inputs",
        "provenance_commit",
        "provenance_source",
        "metadata",
    ] {
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
    assert!(!id.is_empty(), "{doc}");
    let again = first.provenance(None);
    assert_eq!(again["data_plane"]["instance_id"], id, "stable within a process");
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
fn a_non_loopback_admin_bind_needs_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = artifact(dir.path());
    let env = "BBC_TEST_TOKEN_NONLOOPBACK";
    // Unset, empty and blank variables all count as "no token".
    for value in [None, Some(""), Some("  ")] {
        let mut cmd = barbacane();
        cmd.arg("serve")
            .arg("--artifact")
            .arg(&artifact)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--admin-listen")
            .arg(format!("0.0.0.0:{}", free_port()))
            .args(["--admin-token-env", env]);
        match value {
            Some(v) => cmd.env(env, v),
            None => cmd.env_remove(env),
        };
        let out = run(&mut cmd);
        out.assert_code(POSTURE_REFUSED);
        assert!(out.stderr.contains(env), "{value:?}: {}", out.stderr);
        assert!(out.stderr.contains("0.0.0.0"), "{}", out.stderr);
    }

    let token = "nonloopback-token-0d9e";
    let server = serve(
        dir.path(),
        &["--admin-token-env", env],
        &Launch::default().admin_host("0.0.0.0").env(env, token),
    );
    let health = server.admin("GET", "/_admin/health", &[]);
    assert_eq!(health.status, 200, "{health:?}");
    let denied = server.admin("GET", "/_admin/provenance", &[]);
    assert_problem(&denied, 401, "unauthorized");
    let challenge = denied.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{denied:?}");
    assert_problem(
        &server.admin("POST", "/_admin/reload", &[]),
        401,
        "unauthorized",
    );
    assert_eq!(provenance_status(&server, Some(&bearer(token))), 200);
}

#[test]
fn the_token_comes_from_the_named_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let env = "BBC_TEST_TOKEN_CUSTOM";
    let token = "custom-token-5c1b";
    let launch = Launch::default()
        .env(env, token)
        // The default variable is ignored once another name is given.
        .env("BARBACANE_ADMIN_TOKEN", "default-variable-token");
    let server = serve(dir.path(), &["--admin-token-env", env], &launch);

    let ok = format!("Bearer {token}");
    let cases: [(Option<&str>, u16); 10] = [
        (None, 401),
        (Some("Bearer wrong-token"), 401),
        (Some("Bearer default-variable-token"), 401),
        (Some(&format!("Bearer {token}x")), 401),
        (Some(&format!("bearer {token}")), 200),
        (Some(&format!("BEARER {token}")), 200),
        (Some(&ok), 200),
        (Some("Basic Y3VzdG9tOmN1c3RvbS10b2tlbi01YzFi"), 401),
        (Some(&format!("Basic {token}")), 401),
        (Some(token), 401),
    ];
    for (authorization, expected) in cases {
        assert_eq!(
            provenance_status(&server, authorization),
            expected,
            "Authorization: {authorization:?}"
        );
    }
    let r = server.admin("GET", "/_admin/provenance", &[("Authorization", "Bearer ")]);
    assert_problem(&r, 401, "unauthorized");

    // Health needs no token and tells nothing but the status.
    let health = server.admin("GET", "/_admin/health", &[]);
    assert_eq!(health.status, 200, "{health:?}");
    let body: serde_json::Value = serde_json::from_str(&health.body).expect("JSON");
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[test]
fn secondary_tokens_allow_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let (primary_env, secondary_env) = ("BBC_TEST_TOKEN_ROT", "BBC_TEST_TOKEN_ROT_SECONDARY");
    let flags = [
        "--admin-token-env",
        primary_env,
        "--admin-secondary-tokens-env",
        secondary_env,
    ];
    let launch = Launch::default()
        .env(primary_env, "rot-primary")
        .env(secondary_env, "rot-s1, rot-s2 ,,rot-s3");
    let server = serve(dir.path(), &flags, &launch);
    for token in ["rot-primary", "rot-s1", "rot-s2", "rot-s3"] {
        assert_eq!(provenance_status(&server, Some(&bearer(token))), 200, "{token}");
    }
    for token in ["rot-s1, rot-s2", "rot-s1,rot-s2", "rot-other"] {
        assert_eq!(provenance_status(&server, Some(&bearer(token))), 401, "{token}");
    }

    // A reload (which re-reads the variables of this process) keeps every token working.
    let reload = server.admin(
        "POST",
        "/_admin/reload",
        &[("Authorization", &bearer("rot-s2"))],
    );
    assert_eq!(reload.status, 200, "{reload:?}");
    let outcome: serde_json::Value = serde_json::from_str(&reload.body).expect("JSON");
    assert_eq!(outcome["changed"], false, "{outcome}");
    for token in ["rot-primary", "rot-s1", "rot-s3"] {
        assert_eq!(provenance_status(&server, Some(&bearer(token))), 200, "{token}");
    }
    drop(server);

    // Rotation window: old primary and new secondary are both accepted...
    let window = serve(
        dir.path(),
        &flags,
        &Launch::default()
            .env(primary_env, "rot-OLD")
            .env(secondary_env, "rot-NEW"),
    );
    assert_eq!(provenance_status(&window, Some(&bearer("rot-OLD"))), 200);
    assert_eq!(provenance_status(&window, Some(&bearer("rot-NEW"))), 200);
    drop(window);
    // ...then, restarted with the new token as primary only, the old one is refused.
    let rotated = serve(
        dir.path(),
        &flags,
        &Launch::default().env(primary_env, "rot-NEW"),
    );
    assert_eq!(provenance_status(&rotated, Some(&bearer("rot-NEW"))), 200);
    assert_eq!(provenance_status(&rotated, Some(&bearer("rot-OLD"))), 401);
}

#[test]
fn the_allowlist_checks_the_peer_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let env = "BBC_TEST_TOKEN_ALLOW";
    let token = "allow-token-77aa";
    let launch = Launch::default().env(env, token);
    let auth = bearer(token);

    let elsewhere = serve(
        dir.path(),
        &["--admin-token-env", env, "--admin-allow", "10.0.0.0/8"],
        &launch,
    );
    for headers in [vec![("Authorization", auth.as_str())], vec![]] {
        let r = elsewhere.admin("GET", "/_admin/provenance", &headers);
        assert_problem(&r, 403, "forbidden");
        let r = elsewhere.admin("POST", "/_admin/reload", &headers);
        assert_problem(&r, 403, "forbidden");
    }
    assert_eq!(elsewhere.admin("GET", "/_admin/health", &[]).status, 200);
    drop(elsewhere);

    let here = serve(
        dir.path(),
        &["--admin-token-env", env, "--admin-allow", "127.0.0.1/32"],
        &launch,
    );
    assert_eq!(provenance_status(&here, Some(&auth)), 200);
    let r = here.admin(
        "GET",
        "/_admin/provenance",
        &[("Authorization", "Bearer not-it")],
    );
    assert_problem(&r, 401, "unauthorized");
    assert_problem(
        &here.admin("GET", "/_admin/provenance", &[]),
        401,
        "unauthorized",
    );
    drop(here);

    // IPv6 entries and bare addresses parse; an IPv6-only list does not admit 127.0.0.1.
    let v6 = serve(
        dir.path(),
        &["--admin-token-env", env, "--admin-allow", "::1/128"],
        &launch,
    );
    assert_problem(
        &v6.admin("GET", "/_admin/provenance", &[("Authorization", &auth)]),
        403,
        "forbidden",
    );
    drop(v6);
    let both = serve(
        dir.path(),
        &["--admin-allow", "::1/128", "--admin-allow", "127.0.0.1"],
        &Launch::default(),
    );
    assert_eq!(provenance_status(&both, None), 200, "loopback without a token");
    drop(both);

    for bad in ["10.0.0.0/33", "not-a-cidr", "127.0.0.1/", "::1/129"] {
        let out = run(barbacane()
            .current_dir(dir.path())
            .args(["serve", "--artifact", "a.bca", "--admin-allow", bad])
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{}", free_port())));
        out.assert_code(USAGE);
        assert!(out.stderr.contains("--admin-allow"), "{}", out.stderr);
        assert!(out.stderr.contains(&format!("`{bad}`")), "{}", out.stderr);
        assert!(out.stderr.contains("is not a CIDR"), "{}", out.stderr);
    }
}

#[test]
fn an_ipv6_loopback_admin_listener_with_an_ipv6_allowlist() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let server = serve(
        dir.path(),
        &["--admin-allow", "::1/128"],
        &Launch::default().admin_host("[::1]"),
    );
    assert_eq!(provenance_status(&server, None), 200);
}

#[test]
fn tokens_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let env = "BBC_TEST_TOKEN_LOGS";
    let secondary_env = "BBC_TEST_TOKEN_LOGS_SECONDARY";
    let token = "LOGCHECK-primary-3b7f9e21";
    let secondary = "LOGCHECK-secondary-a4c2";
    let wrong = "LOGCHECK-wrong-c05e88d1";
    for level in ["info", "trace"] {
        let server = serve(
            dir.path(),
            &[
                "--admin-token-env",
                env,
                "--admin-secondary-tokens-env",
                secondary_env,
            ],
            &Launch::default()
                .env(env, token)
                .env(secondary_env, secondary)
                .log_level(level),
        );
        let good = bearer(token);
        let bad = bearer(wrong);
        let attempts: [(&str, &str, Option<&str>); 6] = [
            ("GET", "/_admin/provenance", Some(&bad)),
            ("GET", "/_admin/provenance", Some(wrong)),
            ("GET", "/_admin/provenance", None),
            ("POST", "/_admin/reload", Some(&bad)),
            ("GET", "/_admin/provenance", Some(&good)),
            ("POST", "/_admin/reload", Some(&good)),
        ];
        for (method, path, authorization) in attempts {
            let headers: Vec<(&str, &str)> = authorization
                .iter()
                .map(|a| ("Authorization", *a))
                .collect();
            let r = server.admin(method, path, &headers);
            for secret in [token, wrong, secondary] {
                assert!(!r.body.contains(secret), "{level}: {r:?}");
            }
        }
        // The log is written asynchronously; wait for the last line we expect.
        let logged = crate::support::eventually(200, std::time::Duration::from_millis(25), || {
            server.stderr().contains("artifact reloaded")
        });
        let log = server.stderr();
        assert!(logged, "{level}: {log}");
        assert!(log.contains("admin request refused"), "{level}: {log}");
        for secret in [token, wrong, secondary, "LOGCHECK"] {
            assert!(
                !log.contains(secret),
                "{level}: {secret} leaked into the log:\n{log}"
            );
        }
    }
}
