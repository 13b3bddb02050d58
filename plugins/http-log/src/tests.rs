use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::json;

fn record(host: &FakeHost, index: usize) -> Value {
    serde_json::from_slice(&host.detached_requests()[index].body).unwrap()
}

#[test]
fn one_record_per_request_in_the_background() {
    let mut plugin: HttpLog = middleware_from(&json!({
        "endpoint": "https://logs.example.com/ingest",
        "custom_fields": {"service": "payments"}
    }))
    .unwrap();
    let mut host = FakeHost::new();
    host.now_ms(1_796_644_800_123)
        .method("GET")
        .path("/pets/7")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-request-id", "r-1")
        .header("authorization", "Bearer secret");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    host.response(201, &[("content-type", "application/json")], b"{}");
    host.on_response(&mut plugin);
    let sent = host.detached_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].url, "https://logs.example.com/ingest");
    assert_eq!(sent[0].timeout_ms, Some(2000));
    assert!(
        sent[0]
            .headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    let r = record(&host, 0);
    assert_eq!(r["method"], "GET");
    assert_eq!(r["path"], "/pets/7");
    assert_eq!(r["status"], 201);
    assert_eq!(r["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(r["request_id"], "r-1");
    assert_eq!(r["service"], "payments");
    assert_eq!(r["timestamp"], "2026-12-07T12:00:00.123Z");
    assert!(
        r.get("request_headers").is_none(),
        "headers only when asked for"
    );
    assert!(!String::from_utf8_lossy(&sent[0].body).contains("secret"));
}

#[test]
fn headers_are_redacted_and_sizes_reported_when_asked() {
    let mut plugin: HttpLog = middleware_from(&json!({
        "endpoint": "http://collector:9000/logs",
        "method": "PUT",
        "include_headers": true,
        "include_body": true
    }))
    .unwrap();
    let mut host = FakeHost::new();
    host.method("POST")
        .path("/orders")
        .header("authorization", "Bearer secret")
        .header("cookie", "session=s")
        .header("x-api-key", "k")
        .header("content-length", "12")
        .header("accept", "application/json");
    host.on_request(&mut plugin);
    host.response(200, &[("set-cookie", "s=1")], b"0123456789");
    host.on_response(&mut plugin);
    let sent = host.detached_requests();
    assert_eq!(sent[0].method, "PUT");
    let r = record(&host, 0);
    assert_eq!(r["request_headers"]["authorization"], "[redacted]");
    assert_eq!(r["request_headers"]["cookie"], "[redacted]");
    assert_eq!(r["request_headers"]["x-api-key"], "[redacted]");
    assert_eq!(r["request_headers"]["accept"], "application/json");
    assert_eq!(r["response_headers"]["set-cookie"], "[redacted]");
    assert_eq!(r["request_size"], 12);
    assert_eq!(r["response_size"], 10);
    let text = String::from_utf8_lossy(&sent[0].body);
    assert!(
        !text.contains("secret") && !text.contains("session=s"),
        "{text}"
    );
}

#[test]
fn batches_leave_full_or_old() {
    let mut plugin: HttpLog = middleware_from(&json!({
        "endpoint": "http://collector:9000/logs",
        "batch_size": 3,
        "batch_max_wait_ms": 500
    }))
    .unwrap();
    let mut host = FakeHost::new();
    let mut serve = |host: &mut FakeHost, at: i64| {
        host.now_ms(at).method("GET").path("/a");
        host.on_request(&mut plugin);
        host.response(200, &[], b"");
        host.on_response(&mut plugin);
    };
    serve(&mut host, 1_000);
    serve(&mut host, 1_100);
    assert!(host.detached_requests().is_empty(), "held until three");
    serve(&mut host, 1_200);
    assert_eq!(record(&host, 0).as_array().unwrap().len(), 3);
    serve(&mut host, 2_000);
    serve(&mut host, 2_600);
    let second = record(&host, 1);
    assert_eq!(
        second.as_array().unwrap().len(),
        2,
        "the oldest was 600 ms old"
    );
}

#[test]
fn a_full_queue_loses_the_record_not_the_request() {
    let mut plugin: HttpLog =
        middleware_from(&json!({"endpoint": "http://collector:9000/logs"})).unwrap();
    let mut host = FakeHost::new();
    host.detached_queue_full(true);
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    host.response(200, &[], b"");
    host.on_response(&mut plugin);
    assert!(host.detached_requests().is_empty());
}

#[test]
fn bad_configurations_are_refused() {
    for config in [
        json!({}),
        json!({"endpoint": "ftp://x"}),
        json!({"endpoint": "http://x", "method": "GET"}),
        json!({"endpoint": "http://x", "timeout_ms": 50}),
        json!({"endpoint": "http://x", "batch_size": 0}),
        json!({"endpoint": "http://x", "retries": 3}),
    ] {
        assert!(middleware_from::<HttpLog>(&config).is_err(), "{config}");
    }
}

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339_ms(951_782_400_999), "2000-02-29T00:00:00.999Z");
}
