use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn plugin(config: Value) -> RequestSizeLimit {
    middleware_from(&config).unwrap()
}

/// Asserts that `action` is this plugin's 413 naming `limit`, and that the host got it.
fn assert_413(host: &FakeHost, action: Action, limit: &str) {
    let Action::Respond(r) = action else {
        panic!("expected a 413, got {action:?}");
    };
    assert_eq!(r.status, 413);
    assert_eq!(host.response_status(), Some(413));
    assert_eq!(
        host.response_header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "urn:barbacane:error:payload-too-large");
    assert_eq!(body["title"], "The request body is too large");
    assert_eq!(body["status"], 413);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(limit), "{detail}");
}

#[test]
fn the_default_limit_is_one_mebibyte_of_declared_length() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    host.method("POST").header("content-length", "1048576");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);

    let mut host = FakeHost::new();
    host.method("POST").header("content-length", "1048577");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "1048576 bytes");
}

#[test]
fn a_declared_length_over_max_bytes_is_refused_before_the_body_is_read() {
    let mut p = plugin(json!({"max_bytes": 10}));
    let mut host = FakeHost::new();
    // The body is not visible (streamed): the header alone decides.
    host.header("content-length", "11");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "10 bytes");

    let mut host = FakeHost::new();
    host.header("content-length", "10");
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn surrounding_whitespace_in_content_length_is_ignored() {
    let mut p = plugin(json!({"max_bytes": 10}));
    let mut host = FakeHost::new();
    host.header("content-length", " 11\t");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "10");
}

#[test]
fn a_length_too_large_for_64_bits_is_over_any_limit() {
    let mut p = plugin(json!({"max_bytes": u64::MAX}));
    let mut host = FakeHost::new();
    host.header("content-length", "99999999999999999999999");
    let action = host.on_request(&mut p);
    assert_413(&host, action, &u64::MAX.to_string());

    let mut host = FakeHost::new();
    host.header("content-length", &u64::MAX.to_string());
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn an_unparseable_content_length_is_left_to_the_http_layer() {
    let mut p = plugin(json!({"max_bytes": 10}));
    for bad in ["", "abc", "+20", "-20", "20 bytes", "1e9", "20, 20", "0x20"] {
        let mut host = FakeHost::new();
        host.header("content-length", bad);
        assert_eq!(host.on_request(&mut p), Action::Continue, "{bad:?}");
        assert_eq!(host.response_status(), None, "{bad:?}");
    }
}

#[test]
fn check_content_length_false_ignores_the_declared_length() {
    let mut p = plugin(json!({"max_bytes": 10, "check_content_length": false}));
    let mut host = FakeHost::new();
    host.header("content-length", "1000000");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);
}

#[test]
fn a_visible_body_over_max_bytes_is_refused() {
    let mut p = plugin(json!({"max_bytes": 4}));
    let mut host = FakeHost::new();
    host.method("POST").body(b"12345");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "4 bytes");

    let mut host = FakeHost::new();
    host.method("POST").body(b"1234");
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn the_body_is_checked_even_when_the_declared_length_is_not() {
    // Checking is off for the header, and the header understates the body.
    for config in [
        json!({"max_bytes": 4, "check_content_length": false}),
        json!({"max_bytes": 4}),
    ] {
        let mut p = plugin(config.clone());
        let mut host = FakeHost::new();
        host.header("content-length", "3").body(b"123456");
        let action = host.on_request(&mut p);
        assert_413(&host, action, "4 bytes");
    }
}

#[test]
fn max_bytes_zero_accepts_only_empty_bodies() {
    let mut p = plugin(json!({"max_bytes": 0}));
    let mut host = FakeHost::new();
    host.header("content-length", "0").body(b"");
    assert_eq!(host.on_request(&mut p), Action::Continue);

    let mut host = FakeHost::new();
    host.body(b"x");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "0 bytes");

    let mut host = FakeHost::new();
    host.header("content-length", "1");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "0 bytes");
}

#[test]
fn the_detail_uses_the_singular_for_one_byte() {
    let mut p = plugin(json!({"max_bytes": 1}));
    let mut host = FakeHost::new();
    host.body(b"ab");
    let action = host.on_request(&mut p);
    assert_413(&host, action, "limit of 1 byte.");
}

#[test]
fn a_request_without_length_or_visible_body_goes_on_untouched() {
    let mut p = plugin(json!({"max_bytes": 0}));
    let mut host = FakeHost::new();
    host.method("POST").header("transfer-encoding", "chunked");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);
    assert_eq!(host.request_body(), None);
    assert_eq!(
        host.request_header("transfer-encoding").as_deref(),
        Some("chunked")
    );
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    for (config, needle) in [
        (json!({"max_bytes": -1}), "invalid configuration"),
        (json!({"max_bytes": 1.5}), "invalid configuration"),
        (json!({"max_bytes": "1MB"}), "invalid configuration"),
        (json!({"check_content_length": 1}), "invalid configuration"),
        (json!({"max_size": 10}), "max_size"),
    ] {
        let err = middleware_from::<RequestSizeLimit>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
}
