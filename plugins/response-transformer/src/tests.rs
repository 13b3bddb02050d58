use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn refused(config: Value) -> String {
    match middleware_from::<ResponseTransformer>(&config) {
        Ok(_) => panic!("{config} was accepted"),
        Err(e) => e,
    }
}

/// Runs a request and the response the host holds through a plugin configured with
/// `config`, as the gateway does.
fn run(host: &mut FakeHost, config: Value) {
    let mut plugin: ResponseTransformer = middleware_from(&config).unwrap();
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    host.on_response(&mut plugin);
}

/// The body after a plugin with `body` settings ran on a JSON response.
fn body_after(content_type: &str, body: &str, settings: Value) -> String {
    let mut host = FakeHost::new();
    host.response(200, &[("content-type", content_type)], body.as_bytes());
    run(&mut host, json!({ "body": settings }));
    String::from_utf8(host.response_body().unwrap()).unwrap()
}

// --- configuration ---------------------------------------------------------------------

#[test]
fn an_empty_configuration_changes_nothing_and_buffers_nothing() {
    let mut host = FakeHost::new();
    host.path("/a").header("x-req", "1").response(
        404,
        &[("content-type", "application/json"), ("x-a", "1")],
        b"{ }",
    );
    run(&mut host, json!({}));
    assert_eq!(host.response_status(), Some(404));
    assert_eq!(host.response_headers("x-a"), vec!["1"]);
    assert_eq!(host.response_body().unwrap(), b"{ }");
    assert_eq!(host.request_header("x-req").as_deref(), Some("1"));
    assert_eq!(host.buffered_bodies(), (false, false));
}

#[test]
fn response_bodies_are_asked_for_only_when_body_has_operations() {
    let host = FakeHost::new();
    let _: ResponseTransformer = middleware_from(&json!({
        "status": {"404": 200},
        "headers": {"add": {"x-a": "1"}},
        "body": {}
    }))
    .unwrap();
    assert_eq!(host.buffered_bodies(), (false, false));
    for body in [
        json!({"add": {"/a": "1"}}),
        json!({"remove": ["/a"]}),
        json!({"rename": {"/a": "/b"}}),
    ] {
        let host = FakeHost::new();
        let _: ResponseTransformer = middleware_from(&json!({ "body": body })).unwrap();
        assert_eq!(host.buffered_bodies(), (false, true), "{body}");
    }
}

#[test]
fn invalid_statuses_are_refused() {
    for key in ["99", "600", "2xx", "0200", "", " 200", "abc"] {
        let e = refused(json!({"status": {key: 200}}));
        assert!(e.contains("is not a status code (100-599)"), "{key}: {e}");
    }
    for to in [0, 99, 600] {
        let e = refused(json!({"status": {"200": to}}));
        assert!(
            e.contains(&format!("status.200: {to} is not a status code")),
            "{e}"
        );
    }
    assert!(refused(json!({"status": {"200": 70000}})).contains("invalid configuration"));
    assert!(refused(json!({"status": {"200": "204"}})).contains("invalid configuration"));
    for edge in ["100", "599"] {
        let _host = FakeHost::new();
        let _: ResponseTransformer =
            middleware_from(&json!({"status": {edge: 100, "200": 599}})).unwrap();
    }
}

#[test]
fn unknown_keys_are_refused() {
    assert!(refused(json!({"querystring": {}})).contains("unknown field"));
    assert!(refused(json!({"headers": {"append": {}}})).contains("unknown field"));
    assert!(refused(json!({"body": {"replace": {}}})).contains("unknown field"));
}

#[test]
fn invalid_headers_are_refused() {
    assert!(refused(json!({"headers": {"add": {"x a": "1"}}})).contains("not a valid header name"));
    assert!(refused(json!({"headers": {"remove": ["x:y"]}})).contains("not a valid header name"));
    assert!(refused(json!({"headers": {"set": {"x-a": "a\nb"}}})).contains("control character"));
    for name in RESERVED_HEADERS {
        for config in [
            json!({"headers": {"add": {name: "1"}}}),
            json!({"headers": {"set": {name.to_ascii_uppercase(): "1"}}}),
            json!({"headers": {"rename": {"x-a": name}}}),
        ] {
            assert!(
                refused(config).contains("only the gateway writes it"),
                "{name}"
            );
        }
        let _host = FakeHost::new();
        let _: ResponseTransformer = middleware_from(&json!({
            "headers": {"remove": [name], "rename": {name: "x-was"}}
        }))
        .unwrap();
    }
}

#[test]
fn invalid_pointers_are_refused() {
    for (config, fragment) in [
        (json!({"body": {"remove": [""]}}), "empty pointer"),
        (json!({"body": {"add": {"a": "x"}}}), "must start with `/`"),
        (
            json!({"body": {"rename": {"/a~": "/b"}}}),
            "`~` must be followed",
        ),
    ] {
        let e = refused(config);
        assert!(e.contains(fragment) && e.contains("body."), "{e}");
    }
}

// --- status ----------------------------------------------------------------------------

#[test]
fn statuses_are_mapped_once() {
    let config = json!({"status": {"404": 200, "200": 204, "500": 503}});
    for (from, to) in [(404, 200), (200, 204), (500, 503), (201, 201), (502, 502)] {
        let mut host = FakeHost::new();
        host.response(from, &[], b"");
        run(&mut host, config.clone());
        assert_eq!(host.response_status(), Some(to), "{from}");
    }
}

// --- headers ---------------------------------------------------------------------------

#[test]
fn header_operations_run_remove_rename_set_add() {
    let mut host = FakeHost::new();
    host.response(
        200,
        &[
            ("server", "upstream/1.0"),
            ("x-powered-by", "php"),
            ("x-old", "1"),
            ("x-old", "2"),
            ("x-new", "stale"),
            ("cache-control", "no-store"),
            ("x-overwritten", "a"),
            ("x-overwritten", "b"),
        ],
        b"",
    );
    run(
        &mut host,
        json!({"headers": {
            "remove": ["Server", "X-Powered-By", "x-absent"],
            "rename": {"X-Old": "x-new", "x-missing": "x-never"},
            "set": {"cache-control": "public", "x-frame-options": "DENY", "server": "gateway"},
            "add": {"x-overwritten": "c", "strict-transport-security": "max-age=31536000"}
        }}),
    );
    // remove then set: `server` was removed, so set writes it.
    assert_eq!(host.response_headers("server"), vec!["gateway"]);
    assert!(host.response_headers("x-powered-by").is_empty());
    assert!(host.response_headers("x-old").is_empty());
    assert_eq!(host.response_headers("x-new"), vec!["1", "2"]);
    assert!(host.response_headers("x-never").is_empty());
    assert_eq!(host.response_headers("cache-control"), vec!["no-store"]);
    assert_eq!(host.response_headers("x-frame-options"), vec!["DENY"]);
    assert_eq!(host.response_headers("x-overwritten"), vec!["c"]);
    assert_eq!(
        host.response_headers("strict-transport-security"),
        vec!["max-age=31536000"]
    );
}

#[test]
fn values_are_literal() {
    let mut host = FakeHost::new();
    host.header("x-req", "seen").response(200, &[], b"");
    run(
        &mut host,
        json!({"headers": {"add": {"x-a": "$header.x-req", "x-b": "context:k", "x-c": ""}}}),
    );
    assert_eq!(
        host.response_header("x-a").as_deref(),
        Some("$header.x-req")
    );
    assert_eq!(host.response_header("x-b").as_deref(), Some("context:k"));
    assert_eq!(host.response_header("x-c").as_deref(), Some(""));
}

#[test]
fn the_request_is_left_alone() {
    let mut host = FakeHost::new();
    host.path("/p").query("a=1").header("x-a", "1");
    run(
        &mut host,
        json!({"headers": {"remove": ["x-a"], "add": {"x-b": "2"}}, "status": {"200": 201}}),
    );
    assert_eq!(host.request_path(), "/p");
    assert_eq!(host.request_query().as_deref(), Some("a=1"));
    assert_eq!(host.request_headers("x-a"), vec!["1"]);
    assert_eq!(host.request_header("x-b"), None);
    assert_eq!(host.response_status(), Some(201));
}

// --- body ------------------------------------------------------------------------------

#[test]
fn body_operations_run_remove_rename_add() {
    let out = body_after(
        "application/json; charset=utf-8",
        r#"{"data": {"id": 7, "internal": {"db": "x"}}, "debug": [1, 2]}"#,
        json!({
            "remove": ["/data/internal", "/debug/0", "/missing"],
            "rename": {"/data/id": "/id", "/debug": "/trace"},
            "add": {"/api_version": "2", "/data/id": "overwritten", "/trace/-": "end"}
        }),
    );
    assert_eq!(
        out,
        r#"{"data": {"id":"overwritten"}, "id":7,"trace":[2,"end"],"api_version":"2"}"#
    );
    serde_json::from_str::<Value>(&out).unwrap();
}

#[test]
fn problem_bodies_are_json_too() {
    let out = body_after(
        "application/problem+json",
        r#"{"type":"urn:barbacane:error:bad-gateway","status":502}"#,
        json!({"remove": ["/type"], "add": {"/support": "ops@example.com"}}),
    );
    assert_eq!(out, r#"{"status":502,"support":"ops@example.com"}"#);
}

#[test]
fn bodies_that_are_not_json_go_out_untouched() {
    let config = json!({"body": {"add": {"/a": "1"}, "remove": ["/b"]}});
    for (headers, body) in [
        (vec![("content-type", "text/plain")], r#"{"b":1}"#),
        (vec![("content-type", "application/xml")], "<b/>"),
        (vec![], r#"{"b":1}"#),
        (vec![("content-type", "application/json")], "not json"),
        (vec![("content-type", "application/json")], ""),
        (
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            r#"{"b":1}"#,
        ),
    ] {
        let mut host = FakeHost::new();
        host.response(200, &headers, body.as_bytes());
        run(&mut host, config.clone());
        assert_eq!(
            host.response_body().unwrap(),
            body.as_bytes(),
            "{headers:?}"
        );
    }
    assert_eq!(
        body_after(
            "application/vnd.api+json",
            r#"{"b":1}"#,
            json!({"remove": ["/b"]})
        ),
        "{}"
    );
}

#[test]
fn values_are_written_as_json_strings() {
    let out = body_after(
        "application/json",
        "[]",
        json!({"add": {"/-": "a \"quoted\" \\ value\n"}}),
    );
    let parsed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed, json!(["a \"quoted\" \\ value\n"]));
}

#[test]
fn status_then_headers_then_body() {
    let mut host = FakeHost::new();
    host.response(
        404,
        &[("content-type", "text/plain")],
        b"{\"error\":\"not found\"}",
    );
    run(
        &mut host,
        json!({
            "status": {"404": 200},
            "headers": {"add": {"content-type": "application/json"}},
            "body": {"rename": {"/error": "/message"}}
        }),
    );
    assert_eq!(host.response_status(), Some(200));
    assert_eq!(host.response_body().unwrap(), br#"{"message":"not found"}"#);
}
