//! A fleet of simulated data planes against a real control plane (its own process, a real
//! Postgres): N WebSocket connections that say `hello` and heartbeat, then one deployment.
//! Prints the control plane's resident memory and CPU with the fleet connected, and how long
//! the deployment takes to reach every node. Not a test: run it by hand,
//!
//!   cargo bench -p barbacane-control --bench fleet -- [NODES=1000] [HEARTBEAT_SECONDS=2]
//!
//! The heartbeat is shortened so the measurement is quick; CPU is also reported scaled to the
//! default 30 s heartbeat (the cost is per message).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn admin_url() -> String {
    std::env::var("BARBACANE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn http(addr: SocketAddr, method: &str, path: &str, kind: &str, body: &str) -> Value {
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

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let nodes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let heartbeat: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);

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
        .args(["--heartbeat-seconds", &heartbeat.to_string()])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .spawn()
        .expect("start barbacane-control");
    let cp = Stop(child);
    let pid = cp.0.id();
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let idle_rss = rss_kib(pid);
    let project = http(
        addr,
        "POST",
        "/projects",
        "application/json",
        r#"{"name":"fleet"}"#,
    )
    .await["id"]
        .as_str()
        .expect("project")
        .to_owned();
    let key = http(
        addr,
        "POST",
        &format!("/projects/{project}/api-keys"),
        "application/json",
        r#"{"name":"fleet"}"#,
    )
    .await["key"]
        .as_str()
        .expect("key")
        .to_owned();

    eprintln!("connecting {nodes} nodes (heartbeat {heartbeat} s)...");
    let deployed = Arc::new(AtomicUsize::new(0));
    let connected = Arc::new(AtomicUsize::new(0));
    let mut last_seen = Vec::new();
    for i in 0..nodes {
        let key = key.clone();
        let deployed = Arc::clone(&deployed);
        let connected = Arc::clone(&connected);
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<Instant>();
        last_seen.push(seen_rx);
        tokio::spawn(async move {
            let mut request = format!("ws://{addr}/ws/data-plane")
                .into_client_request()
                .expect("url");
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {key}").parse().expect("header"),
            );
            let stream = TcpStream::connect(addr).await.expect("connect");
            let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
                .await
                .expect("handshake");
            let hello = json!({"type": "hello", "protocol": 1, "name": format!("node-{i:04}"),
                               "labels": {"fleet": "bench"}, "artifact_hash": "sha256:00"});
            ws.send(Message::Text(hello.to_string().into()))
                .await
                .expect("hello");
            let mut seen_tx = Some(seen_tx);
            let mut ticker = tokio::time::interval(Duration::from_secs(heartbeat));
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        let beat = json!({"type": "heartbeat", "artifact_hash": "sha256:00"});
                        if ws.send(Message::Text(beat.to_string().into())).await.is_err() { return; }
                    }
                    message = ws.next() => match message {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(&t).unwrap_or_default();
                            match v["type"].as_str() {
                                Some("welcome") => { connected.fetch_add(1, Ordering::Relaxed); }
                                Some("deploy") => {
                                    deployed.fetch_add(1, Ordering::Relaxed);
                                    if let Some(tx) = seen_tx.take() { let _ = tx.send(Instant::now()); }
                                }
                                _ => {}
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
            }
        });
    }
    let started = Instant::now();
    while connected.load(Ordering::Relaxed) < nodes && started.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} of {nodes} nodes welcomed in {:.1} s",
        connected.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    // Settle, then measure a steady window of heartbeats.
    tokio::time::sleep(Duration::from_secs(heartbeat * 2)).await;
    let window = Duration::from_secs(heartbeat * 10);
    let ticks_before = cpu_ticks(pid);
    tokio::time::sleep(window).await;
    let ticks = cpu_ticks(pid) - ticks_before;
    let hz = 100.0; // USER_HZ on Linux.
    let core_share = ticks as f64 / hz / window.as_secs_f64();
    let rss = rss_kib(pid);

    // A deployment of a real artifact to the whole fleet.
    let spec = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /hello:\n    get:\n      x-barbacane-dispatch: {name: mock}\n      responses: {'200': {description: ok}}\n";
    let uploaded = http(
        addr,
        "POST",
        &format!("/projects/{project}/specs?name=api.yaml"),
        "application/yaml",
        spec,
    )
    .await;
    let compile = http(
        addr,
        "POST",
        &format!("/specs/{}/compile", uploaded["id"].as_str().expect("spec")),
        "application/json",
        "",
    )
    .await;
    let compilation = compile["id"].as_str().expect("compilation").to_owned();
    let artifact = loop {
        let c = http(
            addr,
            "GET",
            &format!("/compilations/{compilation}"),
            "application/json",
            "",
        )
        .await;
        if c["status"] == "succeeded" {
            break c["artifact_id"].as_str().expect("artifact").to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sent = Instant::now();
    let reply = http(
        addr,
        "POST",
        &format!("/projects/{project}/deploy"),
        "application/json",
        &json!({"artifact_id": artifact}).to_string(),
    )
    .await;
    let mut slowest = Duration::ZERO;
    for rx in last_seen {
        if let Ok(Ok(at)) = tokio::time::timeout(Duration::from_secs(30), rx).await {
            slowest = slowest.max(at.duration_since(sent));
        }
    }
    println!(
        "nodes connected:                 {}",
        connected.load(Ordering::Relaxed)
    );
    println!("control plane RSS idle:          {} MiB", idle_rss / 1024);
    println!("control plane RSS, fleet online: {} MiB", rss / 1024);
    println!(
        "control plane CPU at {heartbeat} s heartbeat: {:.1} % of one core ({:.2} % scaled to a 30 s heartbeat; Postgres's own CPU not included)",
        core_share * 100.0,
        core_share * 100.0 * heartbeat as f64 / 30.0
    );
    println!(
        "deploy -> every node notified:   {} of {nodes} in {} ms (POST answered {})",
        deployed.load(Ordering::Relaxed),
        slowest.as_millis(),
        reply["notified"]
    );
    drop(cp);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}
