//! `barbacane serve`: answers from the artifact, shuts down cleanly on SIGTERM, and fails
//! startup with the documented exit codes.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::{Server, barbacane, compile_in, compile_petstore, run};

/// Bounded wait for a graceful exit after SIGTERM.
const EXIT_WAIT: Duration = Duration::from_secs(10);

#[test]
fn serves_the_petstore_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    assert_eq!(artifact, dir.path().join("petstore.bca"));
    let mut server = Server::start(dir.path(), &["serve", "--artifact", "petstore.bca"]);

    let health = server.get("/__barbacane/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.body, r#"{"status":"ok"}"#);

    let pets = server.get("/pets");
    assert_eq!(pets.status, 200, "{pets:?}");
    let server_header = pets.header("server").unwrap_or_default();
    assert!(server_header.starts_with("barbacane/"), "{pets:?}");
    assert_eq!(
        server_header,
        concat!("barbacane/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(pets.header("content-type"), Some("application/json"));
    assert!(
        pets.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "{pets:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&pets.body).expect("JSON body");
    assert_eq!(body[0]["name"], "Rex");

    let pet = server.get("/pets/1");
    assert_eq!(pet.status, 200, "{pet:?}");
    assert!(pet.body.contains("\"Rex\""), "{pet:?}");

    let photo = server.get("/pets/1/photos/rex.png");
    assert_eq!(photo.status, 200, "{photo:?}");
    assert_eq!(photo.body, "a photo");

    // Errors are problem documents, and carry the same standard headers.
    let bad = server.get("/pets/abc");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    assert!(
        bad.header("server")
            .is_some_and(|v| v.starts_with("barbacane/")),
        "{bad:?}"
    );
    let problem: serde_json::Value = serde_json::from_str(&bad.body).expect("problem JSON");
    assert_eq!(problem["status"], 400);
    assert!(
        problem.get("errors").is_none(),
        "field details leak outside dev mode: {problem}"
    );

    let missing = server.get("/nope");
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );

    server.terminate();
    let status = server.wait_exit(EXIT_WAIT).unwrap_or_else(|| {
        panic!(
            "still running {EXIT_WAIT:?} after SIGTERM\n--- stderr\n{}",
            server.stderr()
        )
    });
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    let log = server.stderr();
    assert!(log.contains("shutdown signal received"), "{log}");
    assert!(log.contains("serving"), "{log}");
}

#[test]
fn dev_flag_adds_field_details_to_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    assert_eq!(artifact, dir.path().join("petstore.bca"));
    let server = Server::start(
        dir.path(),
        &["serve", "--dev", "--artifact", "petstore.bca"],
    );
    let bad = server.get("/pets/abc");
    assert_eq!(bad.status, 400, "{bad:?}");
    let problem: serde_json::Value = serde_json::from_str(&bad.body).expect("problem JSON");
    let errors = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no field details: {problem}"));
    assert!(errors.iter().any(|e| e["field"] == "petId"), "{problem}");
}

#[test]
fn sigterm_while_idle_connections_are_open_still_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    assert_eq!(artifact, dir.path().join("petstore.bca"));
    let mut server = Server::start(
        dir.path(),
        &[
            "serve",
            "--shutdown-grace",
            "2",
            "--artifact",
            "petstore.bca",
        ],
    );
    // A connected client that never sends a request must not hold the shutdown forever.
    let idle = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    assert_eq!(server.get("/pets").status, 200);
    server.terminate();
    let status = server.wait_exit(EXIT_WAIT).unwrap_or_else(|| {
        panic!(
            "still running {EXIT_WAIT:?} after SIGTERM\n--- stderr\n{}",
            server.stderr()
        )
    });
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    drop(idle);
}

#[test]
fn a_port_already_in_use_exits_14() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("addr");
    let out = run(barbacane()
        .arg("serve")
        .arg("--artifact")
        .arg(&artifact)
        .arg("--listen")
        .arg(addr.to_string())
        .args(["--admin-listen", "127.0.0.1:0"]));
    out.assert_code(14);
    assert!(
        out.stderr.contains(&format!("cannot listen on {addr}")),
        "{}",
        out.stderr
    );
    drop(holder);
}

#[test]
fn an_intact_artifact_the_data_plane_cannot_load_exits_12() {
    // A middleware plugin passes the compiler's checks (valid module, no undeclared imports)
    // but exports nothing the ABI needs, so the data plane cannot load the configuration.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.wasm"), b"\0asm\x01\0\0\0").expect("write plugin");
    std::fs::write(
        dir.path().join("plugin.toml"),
        "name = \"myplug\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"p.wasm\"\n",
    )
    .expect("write plugin.toml");
    std::fs::write(
        dir.path().join("barbacane.yaml"),
        "plugins:\n  myplug:\n    path: p.wasm\n",
    )
    .expect("write manifest");
    std::fs::write(
        dir.path().join("api.yaml"),
        r#"openapi: 3.1.0
info: {title: MW, version: "1"}
paths:
  /a:
    get:
      x-barbacane-middlewares: [{name: myplug}]
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#,
    )
    .expect("write spec");
    let artifact = dir.path().join("mw.bca");
    compile_in(
        dir.path(),
        &["api.yaml"],
        &artifact,
        &["--manifest", "barbacane.yaml"],
    );
    let out = run(barbacane()
        .arg("serve")
        .arg("--artifact")
        .arg(&artifact)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", crate::support::free_port())));
    out.assert_code(12);
    assert!(
        out.stderr.contains("GET /a cannot be loaded"),
        "{}",
        out.stderr
    );
}

#[test]
fn connected_mode_flags_are_checked_before_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = crate::support::compile_petstore(dir.path());
    let serve = |extra: &[&str]| {
        let mut cmd = crate::support::barbacane();
        cmd.env_remove("BARBACANE_API_KEY")
            .arg("serve")
            .arg("--artifact")
            .arg(&artifact)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(extra);
        crate::support::run(&mut cmd)
    };
    let no_key = serve(&["--control-plane", "http://127.0.0.1:9"]);
    no_key.assert_code(10);
    assert!(
        no_key.stderr.contains("BARBACANE_API_KEY"),
        "{}",
        no_key.stderr
    );
    let scheme = serve(&["--control-plane", "ftp://cp.example", "--api-key", "bbk_x"]);
    scheme.assert_code(10);
    assert!(scheme.stderr.contains("http(s)://"), "{}", scheme.stderr);
    // Connected-mode details without a control plane are a usage error.
    serve(&["--project-id", "p"]).assert_code(2);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = crate::support::compile_petstore(dir.path());
    let server = crate::support::Server::start_with(
        dir.path(),
        &[
            "serve",
            "--artifact",
            artifact.to_str().unwrap(),
            "--log-format",
            "json",
        ],
        &crate::support::Launch::default(),
    );
    let answer = server.get("/pets/1?api_key=s3cret");
    let trace_id = answer.header("x-trace-id").unwrap_or_default().to_owned();
    assert_eq!(trace_id.len(), 32, "{trace_id:?}");
    // The access record is written after the response: give the writer a moment.
    let mut log = server.stderr();
    for _ in 0..50 {
        if log.contains("request_completed") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        log = server.stderr();
    }
    assert!(
        !log.contains("s3cret"),
        "a query string reached the log: {log}"
    );
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let serving = lines
        .iter()
        .find(|l| l["message"] == "serving")
        .unwrap_or_else(|| panic!("no `serving` line in {log}"));
    assert_eq!(serving["level"], "INFO");
    assert!(
        serving["timestamp"].is_string() && serving["target"].is_string(),
        "{serving}"
    );
    assert!(
        serving["artifact_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:")),
        "{serving}"
    );
    let access = lines
        .iter()
        .find(|l| l["message"] == "request_completed")
        .unwrap_or_else(|| panic!("no access record in {log}"));
    assert_eq!(access["target"], "barbacane::access");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/pets/{petId}", "{access}");
    assert_eq!(access["path"], "/pets/1");
    assert_eq!(access["status"], answer.status);
    assert_eq!(access["client"], "127.0.0.1");
    assert_eq!(access["trace_id"], trace_id.as_str());
    assert_eq!(
        access["request_id"],
        answer.header("x-request-id").unwrap_or_default()
    );
    assert!(access["duration_us"].is_u64(), "{access}");
    assert!(access["bytes_out"].is_u64(), "{access}");
}

/// One keep-alive response read from a blocking socket: `None` when the connection ended
/// before a whole response; otherwise whether it carried `Connection: close`.
fn read_one(stream: &mut std::net::TcpStream) -> Option<bool> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(head.contains("\r\nconnection: close"))
}

#[test]
fn sigterm_under_load_leaves_no_request_unanswered() {
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    compile_petstore(dir.path());
    let mut server = Server::start(
        dir.path(),
        &[
            "serve",
            "--shutdown-grace",
            "5",
            "--artifact",
            "petstore.bca",
        ],
    );
    let port = server.port;
    let (answered, lost, closes) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (answered, lost, closes) = (answered.clone(), lost.clone(), closes.clone());
            std::thread::spawn(move || {
                // Keep-alive requests back to back, reconnecting when the server closes;
                // a refused connect (the listener is gone) ends the client.
                while let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    loop {
                        if stream
                            .write_all(b"GET /pets HTTP/1.1\r\nHost: t\r\n\r\n")
                            .is_err()
                        {
                            break; // not sent: nothing to answer
                        }
                        match read_one(&mut stream) {
                            Some(close) => {
                                answered.fetch_add(1, Ordering::Relaxed);
                                if close {
                                    closes.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                            }
                            None => {
                                lost.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    while answered.load(Ordering::Relaxed) < 2000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.terminate();
    let status = server.wait_exit(EXIT_WAIT).unwrap_or_else(|| {
        panic!(
            "still running {EXIT_WAIT:?} after SIGTERM\n--- stderr\n{}",
            server.stderr()
        )
    });
    for client in clients {
        client.join().unwrap();
    }
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    assert_eq!(
        lost.load(Ordering::Relaxed),
        0,
        "requests sent but never answered after SIGTERM"
    );
    assert!(
        closes.load(Ordering::Relaxed) >= 1,
        "no response carried Connection: close during the drain"
    );
}
