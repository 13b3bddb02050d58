//! `barbacane dev`: compiles, serves, recompiles and swaps when the spec changes, and keeps
//! serving the last good version when the spec breaks.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::support::{Server, barbacane, eventually, fixture, run};

const ADDED: &str = r#"  /added:
    get:
      x-barbacane-dispatch:
        name: mock
        config: {status: 200, body: '{"added":true}'}
      responses: {"200": {description: ok}}
"#;

/// Up to 30 s (600 x 50 ms) for the watcher to notice a change and the swap to happen.
const TRIES: usize = 600;
const EVERY: Duration = Duration::from_millis(50);

fn start_dev(dir: &Path) -> Server {
    Server::start(dir, &["dev", "--spec", "api.yaml"])
}

#[test]
fn reloads_on_change_and_keeps_the_last_good_version_on_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("api.yaml");
    let original = std::fs::read_to_string(fixture("valid/minimal.yaml")).expect("read minimal");
    std::fs::write(&spec, &original).expect("write spec");
    let mut server = start_dev(dir.path());

    let hello = server.get("/hello");
    assert_eq!(hello.status, 200, "{hello:?}");
    assert_eq!(hello.body, r#"{"hello":"world"}"#);
    assert_eq!(server.get("/added").status, 404);

    // A new path appears once the watcher recompiles.
    std::fs::write(&spec, format!("{original}{ADDED}")).expect("rewrite spec");
    let reloaded = eventually(TRIES, EVERY, || {
        crate::support::get(server.port, "/added").is_ok_and(|r| r.status == 200)
    });
    assert!(
        reloaded,
        "/added never appeared\n--- stderr\n{}",
        server.stderr()
    );
    let added = server.get("/added");
    assert_eq!(added.body, r#"{"added":true}"#);
    assert_eq!(server.get("/hello").status, 200);
    assert!(server.stderr().contains("reloaded"), "{}", server.stderr());

    // A broken spec: diagnostics are printed, the last good version keeps serving.
    std::fs::write(&spec, "openapi: 3.1.0\npaths: [unclosed\n").expect("break spec");
    let failed = eventually(TRIES, EVERY, || {
        server
            .stderr()
            .contains("compilation failed; still serving the last good version")
    });
    assert!(
        failed,
        "the broken spec was never reported\n--- stderr\n{}",
        server.stderr()
    );
    let log = server.stderr();
    assert!(log.contains("error[E1003]"), "{log}");
    assert!(log.contains("api.yaml"), "{log}");
    for path in ["/added", "/hello"] {
        let r = server.get(path);
        assert_eq!(
            r.status, 200,
            "{path} after a broken spec: {r:?}\n--- stderr\n{log}"
        );
    }

    // Fixing the spec (a different version) is picked up again.
    std::fs::write(&spec, &original).expect("restore spec");
    let back = eventually(TRIES, EVERY, || {
        crate::support::get(server.port, "/added").is_ok_and(|r| r.status == 404)
    });
    assert!(
        back,
        "restored spec never served\n--- stderr\n{}",
        server.stderr()
    );
    assert_eq!(server.get("/hello").status, 200);

    server.terminate();
    let status = server
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| {
            panic!(
                "dev still running after SIGTERM\n--- stderr\n{}",
                server.stderr()
            )
        });
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

#[test]
fn a_referenced_file_change_is_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    for rel in ["api.yaml", "paths/thing.yaml", "schemas/thing.yaml"] {
        let target = dir.path().join(rel);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(fixture(&format!("valid/refs/{rel}")), &target).expect("copy");
    }
    let server = start_dev(dir.path());
    assert_eq!(server.get("/things/1").status, 200);

    let path_item = dir.path().join("paths/thing.yaml");
    let text = std::fs::read_to_string(&path_item).expect("read");
    let changed = text.replacen("config: {status: 200}", "config: {status: 203}", 1);
    assert_ne!(changed, text);
    std::fs::write(&path_item, changed).expect("write");
    let swapped = eventually(TRIES, EVERY, || {
        crate::support::get(server.port, "/things/1").is_ok_and(|r| r.status == 203)
    });
    assert!(
        swapped,
        "change in a $ref'd file not picked up\n--- stderr\n{}",
        server.stderr()
    );
}

#[test]
fn an_invalid_initial_spec_exits_1_without_listening() {
    let out = run(barbacane()
        .arg("dev")
        .arg("--spec")
        .arg(fixture("invalid/e1011_no_dispatch.yaml"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", crate::support::free_port())));
    out.assert_code(1);
    assert!(out.stderr.contains("error[E1011]"), "{}", out.stderr);
}

#[test]
fn dev_on_a_busy_port_exits_14() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("addr");
    let out = run(barbacane()
        .arg("dev")
        .arg("--spec")
        .arg(fixture("valid/minimal.yaml"))
        .arg("--listen")
        .arg(addr.to_string()));
    out.assert_code(14);
    assert!(out.stderr.contains("cannot listen on"), "{}", out.stderr);
    drop(holder);
}

#[test]
fn dev_has_the_admin_listener_with_the_serve_posture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("api.yaml");
    let original = std::fs::read_to_string(fixture("valid/minimal.yaml")).expect("read minimal");
    std::fs::write(&spec, &original).expect("write spec");
    let env = "BBC_TEST_DEV_ADMIN_TOKEN";
    let token = "dev-admin-token-71aa";
    let server = crate::support::Server::start_with(
        dir.path(),
        &["dev", "--spec", "api.yaml", "--admin-token-env", env],
        &crate::support::Launch::default().env(env, token),
    );
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    assert_eq!(server.admin("GET", "/_admin/health", &[]).status, 200);
    assert_eq!(server.admin("GET", "/_admin/provenance", &[]).status, 401);
    let provenance = server.admin("GET", "/_admin/provenance", &auth);
    assert_eq!(provenance.status, 200, "{provenance:?}");
    let before: serde_json::Value = serde_json::from_str(&provenance.body).expect("json");
    let hash = before["artifact_hash"]
        .as_str()
        .expect("artifact_hash")
        .to_owned();
    assert!(hash.starts_with("sha256:"), "{before}");

    // A reload recompiles: the spec changed on disk, the hash follows.
    std::fs::write(&spec, format!("{original}{ADDED}")).expect("rewrite spec");
    let reload = server.admin("POST", "/_admin/reload", &auth);
    assert_eq!(reload.status, 200, "{reload:?}");
    let after: serde_json::Value =
        serde_json::from_str(&server.admin("GET", "/_admin/provenance", &auth).body).expect("json");
    assert_ne!(after["artifact_hash"], before["artifact_hash"], "{after}");
    assert_eq!(server.get("/added").status, 200);

    // A broken spec is refused by the admin reload too, and the good version keeps serving.
    std::fs::write(&spec, "openapi: 3.1.0\npaths: [unclosed\n").expect("break spec");
    let refused = server.admin("POST", "/_admin/reload", &auth);
    assert!(refused.status >= 400, "{refused:?}");
    assert_eq!(server.get("/added").status, 200);
    let last = serde_json::from_str::<serde_json::Value>(
        &server.admin("GET", "/_admin/provenance", &auth).body,
    )
    .expect("json");
    assert!(
        last["last_reload_error"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("compilation failed")),
        "{last}"
    );
}

#[test]
fn dev_refuses_a_non_loopback_admin_bind_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture("valid/minimal.yaml"), dir.path().join("api.yaml")).expect("copy");
    let admin = format!("0.0.0.0:{}", crate::support::free_port());
    let out = run(barbacane().current_dir(dir.path()).args([
        "dev",
        "--spec",
        "api.yaml",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        &admin,
        "--admin-token-env",
        "BBC_TEST_DEV_UNSET_TOKEN",
    ]));
    out.assert_code(15);
}

#[test]
fn dev_serves_without_its_admin_listener_when_the_default_port_is_taken() {
    // Hold the default admin port (or find it already held by something else: either way it
    // is taken for the child).
    let _holder = TcpListener::bind(ADMIN_DEFAULT);
    let port = crate::support::free_port();
    let mut child = barbacane()
        .args(["dev", "--spec"])
        .arg(fixture("valid/minimal.yaml"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "info",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let served = eventually(200, EVERY, || {
        crate::support::get(port, "/hello").is_ok_and(|r| r.status == 200)
    });
    // SIGTERM, not SIGKILL: log lines go through a buffered writer thread, which a graceful
    // exit flushes and a kill may cut off (the warning would then be lost, not missing).
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let exited = eventually(200, EVERY, || !matches!(child.try_wait(), Ok(None)));
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wait");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(served, "dev did not serve\n{log}");
    assert!(log.contains("serving without the admin listener"), "{log}");

    // Asked for explicitly, a busy admin address is an error, as with `serve`.
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let out = run(barbacane()
        .args(["dev", "--spec"])
        .arg(fixture("valid/minimal.yaml"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen"])
        .arg(busy.local_addr().expect("addr").to_string()));
    out.assert_code(14);
    assert!(out.stderr.contains("(admin)"), "{}", out.stderr);
}

const ADMIN_DEFAULT: &str = "127.0.0.1:8081";
