//! What the control plane's benches share: a fresh database, the control plane as its own
//! process, its CPU and memory from /proc, and plain HTTP calls.
#![allow(dead_code)]

use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::TcpStream;

pub fn admin_url() -> String {
    std::env::var("BARBACANE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// utime + stime of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Fields after the command: state is index 0, utime 11, stime 12.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub async fn http(addr: SocketAddr, method: &str, path: &str, kind: &str, body: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: cp\r\nConnection: close\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let (_, body) = raw.split_once("\r\n\r\n").expect("response");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[derive(Debug)]
pub struct Stop(pub Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The control plane's process and its database.
#[derive(Debug)]
pub struct ControlPlane {
    /// The process (killed on drop).
    pub process: Stop,
    database: String,
    admin: sqlx::PgPool,
}

impl ControlPlane {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// Stops it and drops its database.
    pub async fn finish(self) {
        drop(self.process);
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.database
        )))
        .execute(&self.admin)
        .await;
    }
}

/// Creates a fresh database and starts `barbacane-control serve` on a free loopback port
/// with `args`; returns it once it accepts connections.
pub async fn control_plane(args: &[&str]) -> (ControlPlane, SocketAddr) {
    let name = format!("bbc_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url()).await.expect("Postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    let url = format!("{}/{name}", admin_url().rsplit_once('/').expect("url").0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(env!("CARGO_BIN_EXE_barbacane-control"))
        .args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--log-level",
            "warn",
        ])
        .args(args)
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .spawn()
        .expect("start barbacane-control");
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (
        ControlPlane {
            process: Stop(child),
            database: name,
            admin,
        },
        addr,
    )
}
