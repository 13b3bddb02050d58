//! The drift engine polling a fleet of standalone nodes: N simulated admin endpoints (one
//! listener, each node its own loopback address 127.0.x.y, so the control plane keeps one
//! connection per node as it would in production) answering `GET /_admin/provenance`, a
//! real control plane (its own process, a real Postgres) polling them every interval. One
//! node in 50 serves an artifact other than the blessed one. Prints the control plane's CPU
//! share of one core and its RSS every interval, then checks the findings. Not a test:
//!
//!   cargo bench -p barbacane-control --bench drift_poll -- [NODES=500] [INTERVAL_S=10] [MINUTES=10]

#[path = "support/mod.rs"]
mod common;

use bytes::Bytes;
use common::{cpu_ticks, http, rss_kib};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const BLESSED: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const CONTENT: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8)
}

fn provenance(hash: &str) -> String {
    json!({
        "format_version": 1, "artifact_hash": hash, "content_hash": CONTENT,
        "build_timestamp": "2026-01-01T00:00:00Z", "compiler_version": "0.1.0", "inputs": [],
        "provenance_commit": null, "provenance_source": null, "metadata": {},
        "loaded_at": "2026-01-01T00:00:00Z", "signature": {"status": "unsigned", "key_id": null},
        "data_plane": {"version": "0.1.0", "instance_id": "6f1c2d7e-0000-4000-8000-000000000000",
                       "hostname": "sim"},
        "last_reload_error": null,
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let nodes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let interval: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let minutes: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);

    // The simulated admin endpoints: the answer depends on the address the node was reached at.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (good, drifted) = (provenance(BLESSED), provenance(OTHER));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let local = stream.local_addr().map(|a| a.ip()).ok();
            let index = match local {
                Some(IpAddr::V4(ip)) => {
                    let o = ip.octets();
                    (o[2] as usize - 1) * 250 + o[3] as usize - 1
                }
                _ => 0,
            };
            let body = if index % 50 == 0 {
                drifted.clone()
            } else {
                good.clone()
            };
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                                .expect("response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let interval_arg = format!("{interval}s");
    let (cp, addr) = common::control_plane(&["--drift-interval", &interval_arg]).await;
    let pid = cp.pid();
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
    http(
        addr,
        "POST",
        &format!("/projects/{project}/known-good"),
        "application/json",
        &json!({"artifact_hash": BLESSED, "content_hash": CONTENT}).to_string(),
    )
    .await;
    let token = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(token.path(), "bench-token").expect("token");
    let token_ref = format!("file://{}", token.path().display());
    eprintln!("registering {nodes} standalone nodes...");
    for i in 0..nodes {
        let body = json!({"name": format!("node-{i:04}"),
            "admin_url": format!("http://{}:{port}", node_ip(i)),
            "admin_token": token_ref});
        http(
            addr,
            "POST",
            &format!("/projects/{project}/data-planes"),
            "application/json",
            &body.to_string(),
        )
        .await;
    }
    // Skip the first interval (registration, connection setup), then measure.
    tokio::time::sleep(Duration::from_secs(interval + 2)).await;
    let started = Instant::now();
    let ticks_before = cpu_ticks(pid);
    let mut rss = Vec::new();
    let window = Duration::from_secs(minutes * 60);
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        rss.push(rss_kib(pid));
        eprintln!(
            "  t={:>4.0}s rss={} KiB cpu={:.2}% of one core",
            started.elapsed().as_secs_f64(),
            rss.last().copied().unwrap_or(0),
            (cpu_ticks(pid) - ticks_before) as f64 / 100.0 / started.elapsed().as_secs_f64()
                * 100.0
        );
    }
    let ticks = cpu_ticks(pid) - ticks_before;
    let share = ticks as f64 / 100.0 / started.elapsed().as_secs_f64();
    let findings = http(
        addr,
        "GET",
        &format!("/drift/findings?project={project}&open=true"),
        "application/json",
        "",
    )
    .await;
    let list = findings.as_array().cloned().unwrap_or_default();
    let mismatched = list.iter().filter(|f| f["kind"] == "hash-mismatch").count();
    let other = list.len() - mismatched;
    let expected = nodes.div_ceil(50);
    let synced = http(
        addr,
        "GET",
        &format!("/projects/{project}/data-planes"),
        "application/json",
        "",
    )
    .await
    .as_array()
    .map(|l| l.iter().filter(|n| n["sync"] == "Synced").count())
    .unwrap_or(0);
    println!(
        "{nodes} standalone nodes polled every {interval} s for {minutes} min: control plane CPU {:.1}% of one core; RSS first {} KiB, last {} KiB, max {} KiB",
        share * 100.0,
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0),
        rss.iter().max().copied().unwrap_or(0)
    );
    println!(
        "findings: {mismatched} hash-mismatch (expected {expected}), {other} other (expected {expected} unknown-artifact); synced nodes {synced} (expected {})",
        nodes - expected
    );
    cp.finish().await;
}
