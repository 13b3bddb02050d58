//! Streaming and pooling: 100 MiB each way through the gateway with flat memory, body limits
//! on streamed and declared uploads, and upstream connection reuse.

use barbacane_proxy::{Limits, ServeConfig};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

use super::servers::{self, Behavior, Repeat};
use super::{cfg, gateway, gateway_with, spec};
use crate::common::{assert_ok, assert_problem, assert_raw_problem, raw_request};

const MIB: u64 = 1024 * 1024;
const TRANSFER: u64 = 100 * MIB;
/// Allowed growth of the test process while 100 MiB goes through: buffering would exceed it.
const MAX_GROWTH: u64 = 64 * MIB;

/// The two big transfers run one at a time so each measures only itself.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Resident set size of this process (the gateway runs in it).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// Samples the RSS in the background, keeping the peak (a transient buffer would be freed
/// by the end, so the end value alone would miss it).
#[derive(Debug)]
struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Sampler {
    fn start() -> Sampler {
        let peak = Arc::new(AtomicU64::new(rss()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&peak), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                p.fetch_max(rss(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Sampler { peak, stop, task }
    }

    async fn peak(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        self.peak.fetch_max(rss(), Ordering::SeqCst).max(rss())
    }
}

fn big_limits() -> ServeConfig {
    ServeConfig {
        limits: Limits {
            max_body_bytes: 200 * MIB,
            ..Limits::default()
        },
        ..ServeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_streams_to_the_upstream_in_flat_memory() {
    let _one_at_a_time = MEMORY.lock().await;
    let up = servers::start(Behavior::CountBytes).await;
    let gw = gateway_with(
        &spec(&[("post", "/upload", &cfg(&up.url(), ""))]),
        big_limits(),
    )
    .await;
    let client: Client<HttpConnector, Repeat> = Client::builder(TokioExecutor::new()).build_http();
    let before = rss();
    let sampler = Sampler::start();
    let request = Request::post(gw.url("/upload"))
        .header("content-type", "application/octet-stream")
        .body(Repeat::new(TRANSFER))
        .expect("request");
    let resp = client.request(request).await.expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let peak = sampler.peak().await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let counted: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(counted["bytes"], TRANSFER);
    let growth = peak.saturating_sub(before);
    assert!(
        growth < MAX_GROWTH,
        "memory grew by {} MiB while uploading {} MiB",
        growth / MIB,
        TRANSFER / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_response_streams_to_the_client_in_flat_memory() {
    let _one_at_a_time = MEMORY.lock().await;
    let up = servers::start(Behavior::Download(TRANSFER)).await;
    let gw = gateway(&spec(&[("get", "/download", &cfg(&up.url(), ""))])).await;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let before = rss();
    let sampler = Sampler::start();
    let request = Request::get(gw.url("/download"))
        .body(Full::default())
        .expect("request");
    let resp = client.request(request).await.expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("server").and_then(|v| v.to_str().ok()),
        Some(barbacane_proxy::SERVER)
    );
    let mut body = resp.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("frame");
        received += frame.data_ref().map_or(0, |d| d.len() as u64);
    }
    let peak = sampler.peak().await;
    assert_eq!(received, TRANSFER);
    let growth = peak.saturating_sub(before);
    assert!(
        growth < MAX_GROWTH,
        "memory grew by {} MiB while downloading {} MiB",
        growth / MIB,
        TRANSFER / MIB
    );
}

fn small_limits() -> ServeConfig {
    ServeConfig {
        limits: Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        },
        ..ServeConfig::default()
    }
}

/// A chunked `POST /upload` of `chunks` chunks of `size` bytes each.
fn chunked_upload(chunks: usize, size: usize) -> Vec<u8> {
    let mut out = b"POST /upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\
                    Connection: close\r\n\r\n"
        .to_vec();
    for _ in 0..chunks {
        out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'x', size));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn a_streamed_upload_over_the_body_limit_is_413() {
    let up = servers::start(Behavior::Echo).await;
    let gw = gateway_with(
        &spec(&[("post", "/upload", &cfg(&up.url(), ""))]),
        small_limits(),
    )
    .await;
    // Within the limit: streamed through whole.
    let resp = raw_request(gw.addr(), &chunked_upload(3, 300)).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["body"], "x".repeat(900));
    // Over it: the gateway cuts the stream and answers 413.
    let resp = raw_request(gw.addr(), &chunked_upload(4, 512)).await;
    assert_raw_problem(&resp, 413, "payload-too-large");
    let resp = raw_request(gw.addr(), &chunked_upload(1, 1025)).await;
    assert_raw_problem(&resp, 413, "payload-too-large");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_the_upstream_is_called() {
    let up = servers::start(Behavior::Echo).await;
    let gw = gateway_with(
        &spec(&[("post", "/upload", &cfg(&up.url(), ""))]),
        small_limits(),
    )
    .await;
    // The head alone is enough to refuse.
    let head = b"POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 1025\r\n\r\n";
    assert_raw_problem(
        &raw_request(gw.addr(), head).await,
        413,
        "payload-too-large",
    );
    let resp = gw
        .send_body("POST", "/upload", "text/plain", &"y".repeat(4096))
        .await;
    assert_problem(&resp, 413, "payload-too-large");
    assert_eq!(up.hits(), 0, "the upstream was called");
    assert_eq!(up.connections(), 0, "the upstream was even connected to");
    // Exactly at the limit is fine.
    let resp = gw
        .send_body("POST", "/upload", "text/plain", &"y".repeat(1024))
        .await;
    assert_ok(&resp, 200);
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn sequential_requests_reuse_upstream_connections() {
    let up = servers::start(Behavior::Echo).await;
    let gw = gateway(&spec(&[("get", "/items/{id}", &cfg(&up.url(), ""))])).await;
    for i in 0..50 {
        let resp = gw.get(&format!("/items/{i}")).await;
        assert_ok(&resp, 200);
        assert_eq!(resp.json()["target"], format!("/items/{i}"));
    }
    assert_eq!(up.hits(), 50);
    assert!(
        up.connections() <= 2,
        "{} upstream connections for 50 sequential requests",
        up.connections()
    );
}

#[tokio::test]
async fn an_upstream_closing_each_connection_gets_a_new_one_per_request() {
    let up = servers::start(Behavior::Close).await;
    let gw = gateway(&spec(&[("get", "/items/{id}", &cfg(&up.url(), ""))])).await;
    for i in 0..10 {
        let resp = gw.get(&format!("/items/{i}")).await;
        assert_ok(&resp, 200);
        // The gateway's own client connection is not closed by the upstream's choice.
        assert_eq!(resp.header("connection"), None, "{:?}", resp.head.headers);
    }
    assert_eq!(up.hits(), 10);
    assert_eq!(up.connections(), 10, "a closed connection was reused");
}

#[tokio::test]
async fn http2_upstream_requests_share_a_connection_per_worker() {
    let up = servers::start(Behavior::Echo).await;
    let gw = gateway(&spec(&[(
        "get",
        "/items/{id}",
        &cfg(&up.url(), "http2: true"),
    )]))
    .await;
    for i in 0..10 {
        assert_ok(&gw.get(&format!("/items/{i}")).await, 200);
    }
    let warm = up.connections();
    // Concurrent requests multiplex on the warm connections instead of opening more.
    let paths: Vec<String> = (0..32).map(|i| format!("/items/{i}")).collect();
    let concurrent = paths.iter().map(|path| gw.get(path));
    for resp in futures_util::future::join_all(concurrent).await {
        assert_ok(&resp, 200);
        assert_eq!(resp.json()["version"], "HTTP/2.0");
    }
    assert_eq!(up.hits(), 42);
    // At most one per worker (the concurrent ones may reach the other worker first).
    assert!(
        warm <= 2 && up.connections() <= 2,
        "{warm} connections after 10 sequential requests, {} after 32 concurrent ones",
        up.connections()
    );
}
