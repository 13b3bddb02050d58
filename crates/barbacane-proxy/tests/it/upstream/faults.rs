//! Upstream faults: timeouts (504), unreachable upstreams (502, without leaking where the
//! upstream is), and the circuit breaker (503 `circuit-open`, probe, recovery).
//!
//! Waiting for a breaker window to pass polls with a bounded loop; nothing asserts durations.

use barbacane_proxy::{Limits, ServeConfig};
use barbacane_test::TestGateway;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::servers::{self, Behavior, FAIL, HANG, HEALTHY, TestUpstream};
use super::{cfg, gateway, gateway_with, spec};
use crate::common::{RawConn, assert_ok, assert_problem, assert_raw_problem, raw_request};

/// Polls `GET path` (every 50 ms, at most ~10 s) while the breaker answers `circuit-open`,
/// until a request reaches the upstream; returns that response's status.
async fn until_upstream_reached(gw: &TestGateway, up: &TestUpstream, path: &str) -> u16 {
    for _ in 0..200 {
        let before = up.hits();
        let resp = gw.get(path).await;
        if up.hits() > before {
            return resp.status();
        }
        assert_problem(&resp, 503, "circuit-open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no request reached the upstream again");
}

#[tokio::test]
async fn a_slow_upstream_is_504_and_a_fast_one_is_not() {
    let up = servers::start(Behavior::Slow(Duration::from_secs(10))).await;
    let fast = servers::start(Behavior::Slow(Duration::from_millis(1))).await;
    let gw = gateway(&spec(&[
        ("get", "/slow", &cfg(&up.url(), "timeout: 0.2")),
        ("get", "/fast", &cfg(&fast.url(), "timeout: 5")),
    ]))
    .await;
    let resp = gw.get("/slow").await;
    assert_problem(&resp, 504, "upstream-timeout");
    assert_eq!(
        resp.json()["detail"],
        "The upstream service did not answer in time."
    );
    assert_eq!(up.hits(), 1);
    assert_ok(&gw.get("/fast").await, 200);
}

#[tokio::test]
async fn an_unreachable_upstream_is_502_without_leaking_its_address() {
    let addr = servers::closed_port();
    let spec = spec(&[("get", "/down", &cfg(&format!("http://{addr}/internal"), ""))]);
    let gw = gateway(&spec).await;
    let resp = gw.get("/down").await;
    assert_problem(&resp, 502, "bad-gateway");
    let mut body = resp.json();
    assert_eq!(body["detail"], "The upstream service could not be reached.");
    // `instance` is the random request id; everything else must not say where or why.
    body.as_object_mut().map(|o| o.remove("instance"));
    let text = body.to_string().to_ascii_lowercase();
    for secret in [
        addr.ip().to_string(),
        addr.port().to_string(),
        "internal".into(),
        "refused".into(),
        "tcp".into(),
    ] {
        assert!(!text.contains(&secret), "`{secret}` leaked: {text}");
    }
    // Development mode explains.
    let dev = gateway_with(
        &spec,
        ServeConfig {
            dev: true,
            ..ServeConfig::default()
        },
    )
    .await;
    let resp = dev.get("/down").await;
    assert_problem(&resp, 502, "bad-gateway");
    let detail = resp.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.starts_with("upstream failed"), "{detail}");
}

#[tokio::test]
async fn the_breaker_opens_probes_and_closes() {
    let mode = Arc::new(AtomicU8::new(FAIL));
    let up = servers::start(Behavior::Switch(Arc::clone(&mode))).await;
    let config = cfg(&up.url(), "circuit_breaker: {threshold: 2, window: 1}");
    let gw = gateway(&spec(&[("get", "/flaky", &config)])).await;
    // Two 5xx answers pass through as they are...
    for _ in 0..2 {
        let resp = gw.get("/flaky").await;
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.text(), "upstream failing");
    }
    assert_eq!(up.hits(), 2);
    // ...and open the breaker: the upstream is spared.
    let resp = gw.get("/flaky").await;
    assert_problem(&resp, 503, "circuit-open");
    assert_eq!(
        resp.json()["detail"],
        "The upstream service is unavailable; try again later."
    );
    assert_eq!(up.hits(), 2);
    // After the window one probe goes through; it fails, so the breaker opens again.
    assert_eq!(until_upstream_reached(&gw, &up, "/flaky").await, 500);
    assert_eq!(up.hits(), 3);
    // The upstream recovers: the next probe succeeds and closes the breaker.
    mode.store(HEALTHY, Ordering::SeqCst);
    assert_eq!(until_upstream_reached(&gw, &up, "/flaky").await, 200);
    let hits = up.hits();
    for _ in 0..5 {
        assert_ok(&gw.get("/flaky").await, 200);
    }
    assert_eq!(up.hits(), hits + 5);
}

#[tokio::test]
async fn transport_errors_and_timeouts_count_as_failures() {
    let addr = servers::closed_port();
    let slow = servers::start(Behavior::Slow(Duration::from_secs(10))).await;
    let gw = gateway(&spec(&[
        (
            "get",
            "/down",
            &cfg(
                &format!("http://{addr}"),
                "circuit_breaker: {threshold: 2, window: 60}",
            ),
        ),
        (
            "get",
            "/slow",
            &cfg(
                &slow.url(),
                "timeout: 0.2, circuit_breaker: {threshold: 1, window: 60}",
            ),
        ),
    ]))
    .await;
    assert_problem(&gw.get("/down").await, 502, "bad-gateway");
    assert_problem(&gw.get("/down").await, 502, "bad-gateway");
    assert_problem(&gw.get("/down").await, 503, "circuit-open");
    assert_problem(&gw.get("/slow").await, 504, "upstream-timeout");
    assert_problem(&gw.get("/slow").await, 503, "circuit-open");
    assert_eq!(slow.hits(), 1);
}

#[tokio::test]
async fn successes_and_client_errors_from_the_upstream_keep_the_breaker_closed() {
    let up = servers::start(Behavior::Status(404)).await;
    let config = cfg(&up.url(), "circuit_breaker: {threshold: 1, window: 60}");
    let gw = gateway(&spec(&[("get", "/missing", &config)])).await;
    for _ in 0..5 {
        assert_eq!(gw.get("/missing").await.status(), 404);
    }
    assert_eq!(up.hits(), 5);
}

#[tokio::test]
async fn oversized_client_bodies_do_not_open_the_breaker() {
    let up = servers::start(Behavior::Echo).await;
    let config = cfg(&up.url(), "circuit_breaker: {threshold: 2, window: 60}");
    let limits = Limits {
        max_body_bytes: 16,
        ..Limits::default()
    };
    let serve = ServeConfig {
        limits,
        ..ServeConfig::default()
    };
    let gw = gateway_with(&spec(&[("post", "/upload", &config)]), serve).await;
    let chunked = b"POST /upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\
                    Connection: close\r\n\r\n10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
    for _ in 0..2 {
        let resp = raw_request(gw.addr(), chunked).await;
        assert_raw_problem(&resp, 413, "payload-too-large");
    }
    let resp = gw.send_body("POST", "/upload", "text/plain", "small").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["body"], "small");
}

#[tokio::test]
async fn a_cancelled_probe_does_not_wedge_the_breaker() {
    let mode = Arc::new(AtomicU8::new(FAIL));
    let up = servers::start(Behavior::Switch(Arc::clone(&mode))).await;
    let config = cfg(
        &up.url(),
        "timeout: 60, circuit_breaker: {threshold: 1, window: 0.2}",
    );
    let gw = gateway(&spec(&[("get", "/flaky", &config)])).await;
    assert_eq!(gw.get("/flaky").await.status(), 500);
    mode.store(HANG, Ordering::SeqCst);
    // Poll until the probe is in flight at the hanging upstream, then hang up on it.
    let mut probing = false;
    for _ in 0..200 {
        let hits = up.hits();
        let mut conn = RawConn::connect(gw.addr()).await;
        conn.write(b"GET /flaky HTTP/1.1\r\nHost: gw\r\n\r\n").await;
        let reached = async {
            while up.hits() == hits {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::select! {
            resp = conn.read_response() => {
                let resp = resp.expect("a response");
                assert_raw_problem(&resp, 503, "circuit-open");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            () = reached => {
                drop(conn);
                probing = true;
                break;
            }
        }
    }
    assert!(probing, "the probe never reached the upstream");
    // The gateway gives up on the probe: the upstream sees its request go away.
    for _ in 0..200 {
        if up.aborted() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(up.aborted(), 1, "the cancelled probe was not dropped");
    // The upstream is healthy again: a later probe must get through and close the breaker.
    mode.store(HEALTHY, Ordering::SeqCst);
    assert_eq!(until_upstream_reached(&gw, &up, "/flaky").await, 200);
    assert_ok(&gw.get("/flaky").await, 200);
}

#[tokio::test]
async fn concurrent_requests_to_an_unreachable_http2_upstream_all_fail_fast() {
    // They wait for one shared connection attempt; when it fails they must be released
    // (were they not, they would hang until the 20 s timeout: 504).
    let addr = servers::closed_port();
    let spec = spec(&[(
        "get",
        "/down",
        &cfg(&format!("http://{addr}"), "http2: true, timeout: 20"),
    )]);
    let gw = gateway(&spec).await;
    let requests = (0..16).map(|_| gw.get("/down"));
    for resp in futures_util::future::join_all(requests).await {
        assert_problem(&resp, 502, "bad-gateway");
    }
}
