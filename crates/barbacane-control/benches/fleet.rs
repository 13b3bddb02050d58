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
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "support/mod.rs"]
mod common;

use common::{cpu_ticks, http, rss_kib};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let nodes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let heartbeat: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);

    let heartbeat_arg = heartbeat.to_string();
    let (cp, addr) = common::control_plane(&["--heartbeat-seconds", &heartbeat_arg]).await;
    let pid = cp.pid();
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
    cp.finish().await;
}
