use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn plugin(config: Value) -> CorrelationId {
    middleware_from(&config).unwrap()
}

/// A hyphenated lowercase version 4 UUID.
fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.iter()
            .enumerate()
            .filter(|(i, _)| ![8, 13, 18, 23].contains(i))
            .all(|(_, c)| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[test]
fn a_missing_id_is_generated_and_sent_both_ways() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    assert_eq!(host.on_request(&mut p), Action::Continue);
    let id = host.request_header("x-correlation-id").unwrap();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(host.request_headers("x-correlation-id").len(), 1);
    assert_eq!(
        host.context_value(CONTEXT_KEY).as_deref(),
        Some(id.as_str())
    );
    host.response(200, &[], b"");
    host.on_response(&mut p);
    assert_eq!(host.response_header("x-correlation-id"), Some(id));
}

#[test]
fn a_trusted_incoming_id_is_kept() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    host.header("X-Correlation-ID", "abc-123");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.request_headers("x-correlation-id"), vec!["abc-123"]);
    assert_eq!(host.context_value(CONTEXT_KEY).as_deref(), Some("abc-123"));
    host.on_response(&mut p);
    assert_eq!(
        host.response_header("x-correlation-id").as_deref(),
        Some("abc-123")
    );
}

#[test]
fn a_repeated_incoming_id_is_reduced_to_its_first_value() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "first")
        .header("x-correlation-id", "second");
    host.on_request(&mut p);
    assert_eq!(host.request_headers("x-correlation-id"), vec!["first"]);
    assert_eq!(host.context_value(CONTEXT_KEY).as_deref(), Some("first"));
}

#[test]
fn an_untrusted_incoming_id_is_replaced() {
    let mut p = plugin(json!({"trust_incoming": false}));
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "spoofed");
    host.on_request(&mut p);
    let id = host.request_header("x-correlation-id").unwrap();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(host.request_headers("x-correlation-id").len(), 1);
    assert_eq!(
        host.context_value(CONTEXT_KEY).as_deref(),
        Some(id.as_str())
    );
    host.on_response(&mut p);
    assert_eq!(host.response_header("x-correlation-id"), Some(id));
}

#[test]
fn an_untrusted_incoming_id_is_replaced_even_without_generate_if_missing() {
    let mut p = plugin(json!({"trust_incoming": false, "generate_if_missing": false}));
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "spoofed");
    host.on_request(&mut p);
    let id = host.request_header("x-correlation-id").unwrap();
    assert!(is_uuid_v4(&id), "{id}");

    // ...but nothing is invented when the client sent nothing.
    let mut host = FakeHost::new();
    host.on_request(&mut p);
    assert_eq!(host.request_header("x-correlation-id"), None);
    assert_eq!(host.context_value(CONTEXT_KEY), None);
}

#[test]
fn without_generate_if_missing_a_request_without_id_is_left_alone() {
    let mut p = plugin(json!({"generate_if_missing": false}));
    let mut host = FakeHost::new();
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.request_header("x-correlation-id"), None);
    assert_eq!(host.context_value(CONTEXT_KEY), None);
    host.on_response(&mut p);
    assert_eq!(host.response_header("x-correlation-id"), None);

    // A trusted incoming ID still flows through.
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "from-client");
    host.on_request(&mut p);
    host.on_response(&mut p);
    assert_eq!(
        host.response_header("x-correlation-id").as_deref(),
        Some("from-client")
    );
}

#[test]
fn unusable_incoming_values_count_as_missing() {
    let too_long = "a".repeat(MAX_INCOMING_LEN + 1);
    for bad in ["", too_long.as_str(), "caf\u{e9}", "tab\there"] {
        let mut p = plugin(json!({}));
        let mut host = FakeHost::new();
        host.header("x-correlation-id", bad);
        host.on_request(&mut p);
        let id = host.request_header("x-correlation-id").unwrap();
        assert!(is_uuid_v4(&id), "{bad:?} kept as {id:?}");
        assert_eq!(host.request_headers("x-correlation-id").len(), 1);
    }
}

#[test]
fn the_longest_usable_value_is_kept() {
    let longest = "b".repeat(MAX_INCOMING_LEN);
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    host.header("x-correlation-id", &longest);
    host.on_request(&mut p);
    assert_eq!(host.request_header("x-correlation-id"), Some(longest));
}

#[test]
fn an_unusable_value_without_generation_is_neither_recorded_nor_echoed() {
    let mut p = plugin(json!({"generate_if_missing": false}));
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "");
    host.on_request(&mut p);
    assert_eq!(host.context_value(CONTEXT_KEY), None);
    host.on_response(&mut p);
    assert_eq!(host.response_header("x-correlation-id"), None);
}

#[test]
fn include_in_response_false_keeps_the_id_off_the_response() {
    let mut p = plugin(json!({"include_in_response": false}));
    let mut host = FakeHost::new();
    host.on_request(&mut p);
    let id = host.request_header("x-correlation-id").unwrap();
    assert_eq!(host.context_value(CONTEXT_KEY), Some(id));
    host.response(200, &[], b"");
    host.on_response(&mut p);
    assert_eq!(host.response_header("x-correlation-id"), None);
}

#[test]
fn the_response_header_replaces_an_upstream_value() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "ours");
    host.on_request(&mut p);
    host.response(502, &[("x-correlation-id", "theirs")], b"");
    host.on_response(&mut p);
    assert_eq!(host.response_headers("x-correlation-id"), vec!["ours"]);
}

#[test]
fn a_custom_header_name_is_used_on_both_sides() {
    let mut p = plugin(json!({"header_name": "X-Request-ID"}));
    let mut host = FakeHost::new();
    host.header("x-request-id", "r-1");
    host.on_request(&mut p);
    assert_eq!(host.context_value(CONTEXT_KEY).as_deref(), Some("r-1"));
    host.on_response(&mut p);
    assert_eq!(host.response_header("x-request-id").as_deref(), Some("r-1"));
    assert_eq!(host.response_header("x-correlation-id"), None);

    // The default header is not looked at.
    let mut host = FakeHost::new();
    host.header("x-correlation-id", "other");
    host.on_request(&mut p);
    let id = host.request_header("x-request-id").unwrap();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(
        host.request_header("x-correlation-id").as_deref(),
        Some("other")
    );
}

#[test]
fn successive_generated_ids_differ() {
    // One host (creating a FakeHost resets its RNG), two instances as two requests would be.
    let mut host = FakeHost::new();
    let mut first = plugin(json!({}));
    host.on_request(&mut first);
    let a = host.context_value(CONTEXT_KEY).unwrap();
    let mut second = plugin(json!({"trust_incoming": false}));
    host.on_request(&mut second);
    let b = host.context_value(CONTEXT_KEY).unwrap();
    assert!(is_uuid_v4(&a) && is_uuid_v4(&b), "{a} {b}");
    assert_ne!(a, b);
    assert_eq!(host.request_headers("x-correlation-id"), vec![b]);
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    for (config, needle) in [
        (json!({"header_name": "x correlation"}), "x correlation"),
        (json!({"header_name": ""}), "not a valid header name"),
        (json!({"header_name": "x-id:"}), "x-id:"),
        (json!({"header_name": "Content-Length"}), "reserved"),
        (json!({"header_name": "host"}), "reserved"),
        (json!({"headr_name": "x-id"}), "headr_name"),
        (json!({"trust_incoming": "yes"}), "invalid configuration"),
    ] {
        let err = middleware_from::<CorrelationId>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
}
