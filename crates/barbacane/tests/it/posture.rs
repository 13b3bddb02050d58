//! Admin posture: a non-loopback bind needs a token, bearer tokens from named variables with
//! rotation, the CIDR allowlist, and tokens never reaching the logs.

use crate::admin::{artifact, assert_tokens, bearer, provenance_status, serve, serve_exits};
use crate::support::{Launch, assert_problem, eventually, free_port};

/// Exit codes under test.
const USAGE: i32 = 10;
const POSTURE_REFUSED: i32 = 15;

#[test]
fn a_non_loopback_admin_bind_needs_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let env = "BBC_TEST_TOKEN_NONLOOPBACK";
    // Unset, empty and blank variables all count as "no token".
    let admin = format!("0.0.0.0:{}", free_port());
    for value in [None, Some(""), Some("  ")] {
        let flags = ["--admin-listen", &admin, "--admin-token-env", env];
        let out = serve_exits(dir.path(), &flags, &[(env, value)]);
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
    assert_tokens(&server, &[(token, 200)]);
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
    assert_tokens(
        &server,
        &[
            ("rot-primary", 200),
            ("rot-s1", 200),
            ("rot-s2", 200),
            ("rot-s3", 200),
        ],
    );
    assert_tokens(
        &server,
        &[
            ("rot-s1, rot-s2", 401),
            ("rot-s1,rot-s2", 401),
            ("rot-other", 401),
        ],
    );

    // A reload (which re-reads the variables of this process) keeps every token working.
    let reload = server.admin_as("POST", "/_admin/reload", Some(&bearer("rot-s2")));
    assert_eq!(reload.status, 200, "{reload:?}");
    let outcome: serde_json::Value = serde_json::from_str(&reload.body).expect("JSON");
    assert_eq!(outcome["changed"], false, "{outcome}");
    assert_tokens(
        &server,
        &[("rot-primary", 200), ("rot-s1", 200), ("rot-s3", 200)],
    );
    drop(server);

    // Rotation window: old primary and new secondary are both accepted...
    let window = serve(
        dir.path(),
        &flags,
        &Launch::default()
            .env(primary_env, "rot-OLD")
            .env(secondary_env, "rot-NEW"),
    );
    assert_tokens(&window, &[("rot-OLD", 200), ("rot-NEW", 200)]);
    drop(window);
    // ...then, restarted with the new token as primary only, the old one is refused.
    let rotated = serve(
        dir.path(),
        &flags,
        &Launch::default().env(primary_env, "rot-NEW"),
    );
    assert_tokens(&rotated, &[("rot-NEW", 200), ("rot-OLD", 401)]);
}

#[test]
fn the_allowlist_checks_the_peer_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    artifact(dir.path());
    let env = "BBC_TEST_TOKEN_ALLOW";
    let auth = bearer("allow-token-77aa");
    let launch = Launch::default().env(env, "allow-token-77aa");
    let (good, wrong) = (Some(auth.as_str()), Some("Bearer not-it"));
    // (--admin-allow values, token configured, [(Authorization, status)]); the allowlist
    // is checked first, so a peer outside it gets 403 even with a valid token.
    type Case<'a> = (&'a [&'a str], bool, &'a [(Option<&'a str>, u16)]);
    let cases: [Case; 5] = [
        (
            &["10.0.0.0/8"],
            true,
            &[(good, 403), (None, 403), (wrong, 403)],
        ),
        (
            &["127.0.0.1/32"],
            true,
            &[(good, 200), (None, 401), (wrong, 401)],
        ),
        // IPv6 entries parse; an IPv6-only list does not admit 127.0.0.1.
        (&["::1/128"], true, &[(good, 403)]),
        // A bare address is that one address; loopback with no token needs none.
        (&["::1/128", "127.0.0.1"], false, &[(None, 200)]),
        (&["fd00::/8", "192.168.0.0/16"], false, &[(None, 403)]),
    ];
    for (allow, with_token, requests) in cases {
        let mut flags = vec![];
        if with_token {
            flags.extend(["--admin-token-env", env]);
        }
        for a in allow {
            flags.extend(["--admin-allow", a]);
        }
        let server = serve(dir.path(), &flags, &launch);
        for (authorization, status) in requests {
            for (method, path) in [("GET", "/_admin/provenance"), ("POST", "/_admin/reload")] {
                let r = server.admin_as(method, path, *authorization);
                assert_eq!(
                    r.status, *status,
                    "{allow:?} {authorization:?} {method}: {r:?}"
                );
                match status {
                    403 => drop(assert_problem(&r, 403, "forbidden")),
                    401 => drop(assert_problem(&r, 401, "unauthorized")),
                    _ => {}
                }
            }
        }
        // Health is open to every peer.
        assert_eq!(server.admin("GET", "/_admin/health", &[]).status, 200);
    }

    for bad in ["10.0.0.0/33", "not-a-cidr", "127.0.0.1/", "::1/129"] {
        let out = serve_exits(dir.path(), &["--admin-allow", bad], &[]);
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
            let r = server.admin_as(method, path, authorization);
            for secret in [token, wrong, secondary] {
                assert!(!r.body.contains(secret), "{level}: {r:?}");
            }
        }
        // The log is written asynchronously; wait for the last line we expect.
        let logged = eventually(200, std::time::Duration::from_millis(25), || {
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
