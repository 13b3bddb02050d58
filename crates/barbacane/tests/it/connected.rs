//! Connected mode with real processes: a real control plane (in this process, on a real
//! Postgres and a real socket) and two real `barbacane serve` processes that register,
//! receive a deployment, survive the control plane going away and coming back, and lose
//! their connection when their key is revoked.

use barbacane_control::db::PoolConfig;
use barbacane_control::server::{Running, ServeConfig, start};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{Launch, Server, eventually, one_route_spec, run};

/// The server holding the test databases.
fn admin_url() -> String {
    std::env::var("BARBACANE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database; returns its URL.
async fn database() -> String {
    let name = format!("bbc_test_{}", uuid::Uuid::new_v4().simple());
    let admin = barbacane_control::db::pool(&admin_url(), &PoolConfig::default()).expect("pool");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create the test database (is PostgreSQL running?)");
    let base = admin_url();
    let (server, _) = base.rsplit_once('/').expect("admin url");
    format!("{server}/{name}")
}

fn config(url: &str, listen: SocketAddr) -> ServeConfig {
    ServeConfig {
        listen,
        database_url: url.to_owned(),
        workers: 1,
        max_upload_bytes: 1 << 20,
        allow: vec![],
        pool: PoolConfig::default(),
        heartbeat: Duration::from_secs(1),
        tls: None,
        drift_interval: std::time::Duration::from_secs(30),
    }
}

/// One JSON (or YAML) request to the control plane; returns (status, JSON body).
fn call(addr: SocketAddr, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect to the control plane");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (kind, text) = body.unwrap_or(("application/json", ""));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: cp\r\nConnection: close\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn post_json(addr: SocketAddr, path: &str, body: Value) -> Value {
    let text = body.to_string();
    let (status, reply) = call(addr, "POST", path, Some(("application/json", &text)));
    assert!((200..300).contains(&status), "{path}: {status} {reply}");
    reply
}

/// Uploads a one-route spec answering `body` and compiles it; returns the artifact id.
fn artifact(addr: SocketAddr, project: &str, file: &str, body: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec =
        std::fs::read_to_string(one_route_spec(dir.path(), file, "/hello", body)).expect("spec");
    let (status, uploaded) = call(
        addr,
        "POST",
        &format!("/projects/{project}/specs?name={file}"),
        Some(("application/yaml", &spec)),
    );
    assert_eq!(status, 201, "{uploaded}");
    let compile = post_json(
        addr,
        &format!("/specs/{}/compile", uploaded["id"].as_str().expect("id")),
        json!({}),
    );
    let id = compile["id"].as_str().expect("compilation").to_owned();
    for _ in 0..400 {
        let (_, c) = call(addr, "GET", &format!("/compilations/{id}"), None);
        if c["status"] == "succeeded" {
            return c["artifact_id"].as_str().expect("artifact").to_owned();
        }
        assert_ne!(c["status"], "failed", "{c}");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("compilation {id} did not finish");
}

fn nodes(addr: SocketAddr, project: &str) -> Vec<Value> {
    let (_, list) = call(
        addr,
        "GET",
        &format!("/projects/{project}/data-planes"),
        None,
    );
    list.as_array().cloned().unwrap_or_default()
}

fn node_process(dir: &std::path::Path, cp: SocketAddr, key: &str, name: &str) -> Server {
    let local = dir.join(format!("{name}.bca"));
    let spec = one_route_spec(dir, &format!("{name}.yaml"), "/hello", "{\"v\":0}");
    run(crate::support::barbacane()
        .current_dir(dir)
        .args(["compile", "--spec"])
        .arg(&spec)
        .arg("--output")
        .arg(&local))
    .assert_code(0);
    Server::start_with(
        dir,
        &[
            "serve",
            "--artifact",
            local.to_str().expect("utf-8"),
            "--control-plane",
            &format!("http://{cp}"),
            "--data-plane-name",
            name,
            "--label",
            "tier=edge",
        ],
        &Launch::default().env("BARBACANE_API_KEY", key),
    )
}

#[test]
fn two_gateways_register_apply_a_deployment_and_ride_out_the_control_plane() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = rt.block_on(database());
    let running: Running = rt
        .block_on(start(config(&url, "127.0.0.1:0".parse().expect("addr"))))
        .expect("control plane starts");
    let cp = running.addr();
    let project = post_json(cp, "/projects", json!({"name": "fleet"}))["id"]
        .as_str()
        .expect("project")
        .to_owned();
    let key = post_json(
        cp,
        &format!("/projects/{project}/api-keys"),
        json!({"name": "nodes"}),
    )["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let v1 = artifact(cp, &project, "v1.yaml", "{\"v\":1}");

    let dir = tempfile::tempdir().expect("tempdir");
    let a = node_process(dir.path(), cp, &key, "edge-a");
    let b = node_process(dir.path(), cp, &key, "edge-b");
    assert!(
        eventually(200, Duration::from_millis(50), || {
            let n = nodes(cp, &project);
            n.len() == 2 && n.iter().all(|n| n["status"] == "online")
        }),
        "{:?}\n--- a\n{}",
        nodes(cp, &project),
        a.stderr()
    );
    // The key is never logged.
    assert!(!a.stderr().contains(&key[4..]), "{}", a.stderr());

    // Deploy: both pull, verify and serve v1.
    let deployment = post_json(
        cp,
        &format!("/projects/{project}/deploy"),
        json!({"artifact_id": v1}),
    );
    let id = deployment["deployment_id"]
        .as_str()
        .expect("deployment")
        .to_owned();
    assert!(eventually(200, Duration::from_millis(50), || {
        let (_, d) = call(cp, "GET", &format!("/deployments/{id}"), None);
        d["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["state"] == "applied"))
    }));
    for node in [&a, &b] {
        assert_eq!(node.get("/hello").body, "{\"v\":1}");
        let provenance: Value =
            serde_json::from_str(&node.admin("GET", "/_admin/provenance", &[]).body).expect("json");
        assert_eq!(
            provenance["control_plane"]["state"], "connected",
            "{provenance}"
        );
    }

    // The control plane goes away: the nodes serve on, then reconnect when it is back.
    rt.block_on(running.stop()).expect("stop");
    assert!(eventually(200, Duration::from_millis(50), || {
        nodes_state(&a) == "disconnected"
    }));
    assert_eq!(a.get("/hello").body, "{\"v\":1}");
    let again = rt
        .block_on(start(config(&url, cp)))
        .expect("control plane restarts on the same address");
    assert!(
        eventually(600, Duration::from_millis(50), || {
            let n = nodes(cp, &project);
            n.len() == 2 && n.iter().all(|n| n["status"] == "online")
        }),
        "nodes did not reconnect: {:?}",
        nodes(cp, &project)
    );

    // A node started without --artifact registers, is given the desired artifact, and only
    // then opens its traffic listener (start_with waits for it to answer).
    let c = Server::start_with(
        dir.path(),
        &[
            "serve",
            "--control-plane",
            &format!("http://{cp}"),
            "--data-plane-name",
            "edge-c",
        ],
        &Launch::default().env("BARBACANE_API_KEY", &key),
    );
    assert_eq!(c.get("/hello").body, "{\"v\":1}", "{}", c.stderr());
    assert!(
        c.stderr().contains("waiting for the control plane"),
        "{}",
        c.stderr()
    );

    // Revoking the key disconnects them; they keep serving and report why.
    let (_, keys) = call(cp, "GET", &format!("/projects/{project}/api-keys"), None);
    let key_id = keys[0]["id"].as_str().expect("key id");
    let (status, _) = call(
        cp,
        "DELETE",
        &format!("/projects/{project}/api-keys/{key_id}"),
        None,
    );
    assert_eq!(status, 204);
    assert!(eventually(200, Duration::from_millis(50), || {
        let n = nodes(cp, &project);
        n.len() == 3 && n.iter().all(|n| n["status"] == "offline")
    }));
    assert!(
        eventually(400, Duration::from_millis(50), || {
            provenance_error(&b).contains("401")
        }),
        "{}",
        provenance_error(&b)
    );
    assert_eq!(b.get("/hello").body, "{\"v\":1}");
    rt.block_on(again.stop()).expect("stop");
}

fn nodes_state(node: &Server) -> String {
    let provenance: Value =
        serde_json::from_str(&node.admin("GET", "/_admin/provenance", &[]).body)
            .unwrap_or_default();
    provenance["control_plane"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn provenance_error(node: &Server) -> String {
    let provenance: Value =
        serde_json::from_str(&node.admin("GET", "/_admin/provenance", &[]).body)
            .unwrap_or_default();
    provenance["control_plane"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
