//! A real control plane for the smoke tests: a fresh Postgres database, its serve
//! configuration, and plain HTTP/1.1 calls to its API.

use barbacane_control::db::PoolConfig;
use barbacane_control::server::ServeConfig;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::one_route_spec;

/// The server holding the test databases.
pub fn admin_url() -> String {
    std::env::var("BARBACANE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database; returns its URL.
pub async fn database() -> String {
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

pub fn config(url: &str, listen: SocketAddr) -> ServeConfig {
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
        drift_retention: std::time::Duration::from_secs(30 * 86_400),
        compile_lease: std::time::Duration::from_secs(30),
        signing_key: None,
    }
}

/// One request to the control plane; returns (status, raw body).
pub fn call_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> (u16, Vec<u8>) {
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
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, raw[split + 4..].to_vec())
}

/// One JSON (or YAML) request to the control plane; returns (status, JSON body).
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> (u16, Value) {
    let (status, body) = call_raw(addr, method, path, body);
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub fn post_json(addr: SocketAddr, path: &str, body: Value) -> Value {
    let text = body.to_string();
    let (status, reply) = call(addr, "POST", path, Some(("application/json", &text)));
    assert!((200..300).contains(&status), "{path}: {status} {reply}");
    reply
}

/// Uploads a one-route spec answering `body` and compiles it; returns the artifact id.
pub fn artifact(addr: SocketAddr, project: &str, file: &str, body: &str) -> String {
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

pub fn nodes(addr: SocketAddr, project: &str) -> Vec<Value> {
    let (_, list) = call(
        addr,
        "GET",
        &format!("/projects/{project}/data-planes"),
        None,
    );
    list.as_array().cloned().unwrap_or_default()
}
