use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example.net";

const AC_HEADERS: [&str; 6] = [
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-allow-credentials",
    "access-control-expose-headers",
];

fn cors(config: Value) -> Cors {
    middleware_from(&config).unwrap()
}

/// The usual configuration: one origin, echoed.
fn app() -> Cors {
    cors(json!({
        "allowed_origins": [APP],
        "allowed_methods": ["GET", "POST", "PUT"],
        "allowed_headers": ["Content-Type", "X-Api-Key"],
    }))
}

/// A fresh host holding a preflight.
fn preflight(origin: &str, method: &str, headers: Option<&str>) -> FakeHost {
    let mut host = FakeHost::new();
    host.method("OPTIONS")
        .path("/pets")
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(headers) = headers {
        host.header("access-control-request-headers", headers);
    }
    host
}

/// A fresh host holding a cross-origin (non-preflight) request.
fn actual(method: &str, origin: &str) -> FakeHost {
    let mut host = FakeHost::new();
    host.method(method).path("/pets").header("origin", origin);
    host
}

fn header(host: &FakeHost, name: &str) -> Option<String> {
    host.response_header(name)
}

fn no_access_control_headers(host: &FakeHost) {
    for name in AC_HEADERS {
        assert_eq!(host.response_headers(name), Vec::<String>::new(), "{name}");
    }
}

/// Asserts `action` is the preflight refusal whose detail mentions `which`.
fn assert_rejected(host: &FakeHost, action: Action, which: &str) {
    let Action::Respond(r) = action else {
        panic!("expected a 403, got {action:?}");
    };
    assert_eq!(r.status, 403);
    assert_eq!(host.response_status(), Some(403));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "urn:barbacane:error:cors-preflight-rejected");
    assert_eq!(body["title"], "The CORS preflight request was rejected");
    assert_eq!(body["status"], 403);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(which), "{detail}");
    no_access_control_headers(host);
    assert_eq!(host.response_header("vary"), None);
}

// --- preflight, allowed --------------------------------------------------------------

#[test]
fn an_allowed_preflight_gets_a_204_echoing_the_origin() {
    let mut p = app();
    let mut host = preflight(APP, "PUT", Some("content-type, x-api-key"));
    let Action::Respond(r) = host.on_request(&mut p) else {
        panic!("a preflight is answered");
    };
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        header(&host, "access-control-allow-methods").as_deref(),
        Some("GET, POST, PUT")
    );
    assert_eq!(
        header(&host, "access-control-allow-headers").as_deref(),
        Some("content-type, x-api-key")
    );
    assert_eq!(
        header(&host, "access-control-max-age").as_deref(),
        Some("3600")
    );
    assert_eq!(header(&host, "access-control-allow-credentials"), None);
    assert_eq!(header(&host, "access-control-expose-headers"), None);
    assert_eq!(
        host.response_headers("vary"),
        vec!["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
    );
}

#[test]
fn on_response_leaves_the_preflight_answer_as_it_is() {
    let mut p = cors(json!({"allowed_origins": [APP], "expose_headers": ["x-total"]}));
    let mut host = preflight(APP, "GET", None);
    host.on_request(&mut p);
    host.on_response(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        host.response_headers("access-control-allow-origin"),
        vec![APP]
    );
    assert_eq!(host.response_headers("vary").len(), 1);
    assert_eq!(header(&host, "access-control-expose-headers"), None);

    // Same for a refused one.
    let mut host = preflight(EVIL, "GET", None);
    host.on_request(&mut p);
    host.on_response(&mut p);
    assert_eq!(host.response_status(), Some(403));
    no_access_control_headers(&host);
    assert_eq!(host.response_header("vary"), None);
}

#[test]
fn a_preflight_without_requested_headers_gets_no_allow_headers() {
    let mut p = app();
    let mut host = preflight(APP, "POST", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(header(&host, "access-control-allow-headers"), None);

    // An empty list is no list.
    let mut host = preflight(APP, "POST", Some(" , "));
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(header(&host, "access-control-allow-headers"), None);
}

#[test]
fn requested_headers_are_trimmed_case_insensitive_and_may_span_lines() {
    let mut p = app();
    let mut host = preflight(APP, "POST", Some(" X-API-Key ,, Content-Type"));
    host.header("access-control-request-headers", "x-api-key");
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-headers").as_deref(),
        Some("x-api-key, content-type, x-api-key")
    );
}

#[test]
fn a_wildcard_origin_is_answered_with_a_star_and_no_vary() {
    let mut p = cors(json!({"allowed_origins": ["*"]}));
    let mut host = preflight("https://anyone.example", "GET", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&host, "access-control-allow-methods").as_deref(),
        Some("GET, POST")
    );
    assert_eq!(host.response_header("vary"), None);
}

#[test]
fn a_star_among_listed_origins_still_allows_any_origin() {
    let mut p = cors(json!({"allowed_origins": [APP, "*"]}));
    for origin in [APP, EVIL] {
        let mut host = preflight(origin, "GET", None);
        host.on_request(&mut p);
        assert_eq!(host.response_status(), Some(204), "{origin}");
        assert_eq!(
            header(&host, "access-control-allow-origin").as_deref(),
            Some("*")
        );
    }
}

#[test]
fn credentials_are_announced_and_the_origin_echoed() {
    let mut p = cors(json!({"allowed_origins": [APP], "allow_credentials": true}));
    let mut host = preflight(APP, "GET", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        header(&host, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
}

#[test]
fn max_age_is_configurable() {
    for (age, expected) in [(600, "600"), (0, "0")] {
        let mut p = cors(json!({"allowed_origins": [APP], "max_age": age}));
        let mut host = preflight(APP, "GET", None);
        host.on_request(&mut p);
        assert_eq!(
            header(&host, "access-control-max-age").as_deref(),
            Some(expected)
        );
    }
}

#[test]
fn a_star_in_allowed_headers_allows_any_header_but_authorization() {
    let mut p = cors(json!({"allowed_origins": [APP], "allowed_headers": ["*"]}));
    let mut host = preflight(APP, "GET", Some("x-anything, content-type"));
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-headers").as_deref(),
        Some("x-anything, content-type")
    );

    let mut host = preflight(APP, "GET", Some("x-anything, Authorization"));
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "header");

    // Listed explicitly, it is allowed.
    let mut p = cors(json!({"allowed_origins": [APP], "allowed_headers": ["*", "authorization"]}));
    let mut host = preflight(APP, "GET", Some("x-anything, authorization"));
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
}

#[test]
fn with_credentials_a_star_in_allowed_headers_is_literal() {
    let mut p = cors(json!({
        "allowed_origins": [APP],
        "allowed_headers": ["*"],
        "allow_credentials": true,
    }));
    let mut host = preflight(APP, "GET", Some("x-anything"));
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "header");
}

#[test]
fn a_star_in_allowed_methods_allows_and_echoes_any_method() {
    let mut p = cors(json!({"allowed_origins": [APP], "allowed_methods": ["*"]}));
    let mut host = preflight(APP, "PATCH", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-methods").as_deref(),
        Some("PATCH")
    );

    let mut p = cors(json!({
        "allowed_origins": [APP],
        "allowed_methods": ["*"],
        "allow_credentials": true,
    }));
    let mut host = preflight(APP, "PATCH", None);
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "method");
}

#[test]
fn methods_are_case_sensitive_except_the_ones_browsers_normalize() {
    let mut p = cors(json!({"allowed_origins": [APP], "allowed_methods": ["get", "PATCH"]}));
    let mut host = preflight(APP, "GET", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-methods").as_deref(),
        Some("GET, PATCH")
    );

    let mut host = preflight(APP, "patch", None);
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "method");
}

// --- preflight, refused --------------------------------------------------------------

#[test]
fn a_preflight_from_a_disallowed_origin_is_refused() {
    let mut p = app();
    for origin in [
        EVIL,
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com.evil.net",
        "null",
        "",
    ] {
        let mut host = preflight(origin, "GET", None);
        let action = host.on_request(&mut p);
        assert_rejected(&host, action, "origin");
    }
}

#[test]
fn a_preflight_for_a_disallowed_method_is_refused() {
    let mut p = app();
    for method in ["DELETE", "PATCH", "", "GE T"] {
        let mut host = preflight(APP, method, None);
        let action = host.on_request(&mut p);
        assert_rejected(&host, action, "method");
    }
}

#[test]
fn a_preflight_for_a_disallowed_header_is_refused() {
    let mut p = app();
    for headers in [
        "x-other",
        "content-type, x-other",
        "x api key",
        "authorization",
    ] {
        let mut host = preflight(APP, "POST", Some(headers));
        let action = host.on_request(&mut p);
        assert_rejected(&host, action, "header");
    }
    // The default allows no header at all.
    let mut p = cors(json!({"allowed_origins": [APP]}));
    let mut host = preflight(APP, "POST", Some("content-type"));
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "header");
}

#[test]
fn the_origin_is_checked_before_the_method_and_the_headers() {
    let mut p = app();
    let mut host = preflight(EVIL, "PATCH", Some("x-other"));
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "origin");
    let mut host = preflight(APP, "PATCH", Some("x-other"));
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "method");
}

// --- origins -------------------------------------------------------------------------

#[test]
fn origins_match_case_insensitively_and_are_echoed_as_sent() {
    let mut p = cors(json!({"allowed_origins": ["HTTPS://App.Example.COM"]}));
    let mut host = preflight("https://APP.example.com", "GET", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some("https://APP.example.com")
    );
}

#[test]
fn a_configured_default_port_matches_the_origin_browsers_send() {
    let mut p = cors(json!({"allowed_origins": [
        "https://app.example.com:443",
        "http://app.example.com:80",
        "http://localhost:3000",
        "http://[::1]:8080",
    ]}));
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("http://app.example.com", true),
        ("http://localhost:3000", true),
        ("http://localhost", false),
        ("http://localhost:3001", false),
        ("http://[::1]:8080", true),
        ("http://[::1]", false),
    ] {
        let mut host = preflight(origin, "GET", None);
        host.on_request(&mut p);
        let expected = if allowed { 204 } else { 403 };
        assert_eq!(host.response_status(), Some(expected), "{origin}");
    }
}

#[test]
fn the_null_origin_is_allowed_only_when_listed() {
    let mut p = cors(json!({"allowed_origins": ["*"]}));
    let mut host = preflight("null", "GET", None);
    let action = host.on_request(&mut p);
    assert_rejected(&host, action, "origin");

    let mut p = cors(json!({"allowed_origins": ["null"]}));
    let mut host = preflight("null", "GET", None);
    host.on_request(&mut p);
    assert_eq!(host.response_status(), Some(204));
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some("null")
    );

    let mut p = cors(json!({"allowed_origins": ["*", "null"]}));
    let mut host = preflight("null", "GET", None);
    host.on_request(&mut p);
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}

// --- actual requests -----------------------------------------------------------------

#[test]
fn an_allowed_request_goes_on_and_its_response_gets_the_headers() {
    let mut p = cors(json!({
        "allowed_origins": [APP],
        "allow_credentials": true,
        "expose_headers": ["X-Total-Count", "ETag"],
    }));
    let mut host = actual("GET", APP);
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);
    host.response(200, &[("content-type", "application/json")], b"[]");
    host.on_response(&mut p);
    assert_eq!(host.response_status(), Some(200));
    assert_eq!(host.response_body().as_deref(), Some(&b"[]"[..]));
    assert_eq!(
        host.response_headers("access-control-allow-origin"),
        vec![APP]
    );
    assert_eq!(
        header(&host, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(&host, "access-control-expose-headers").as_deref(),
        Some("X-Total-Count, ETag")
    );
    assert_eq!(host.response_headers("vary"), vec!["Origin"]);
    // Preflight-only headers stay off actual responses.
    assert_eq!(header(&host, "access-control-allow-methods"), None);
    assert_eq!(header(&host, "access-control-max-age"), None);
}

#[test]
fn vary_is_appended_to_not_clobbered() {
    let mut p = app();
    let mut host = actual("POST", APP);
    host.on_request(&mut p);
    host.response(201, &[("vary", "Accept-Encoding")], b"");
    host.on_response(&mut p);
    assert_eq!(
        host.response_headers("vary"),
        vec!["Accept-Encoding", "Origin"]
    );

    // Already covered: nothing added.
    for existing in ["accept, origin", "*"] {
        let mut host = actual("GET", APP);
        host.on_request(&mut p);
        host.response(200, &[("vary", existing)], b"");
        host.on_response(&mut p);
        assert_eq!(host.response_headers("vary"), vec![existing]);
    }
}

#[test]
fn an_allowed_request_under_a_wildcard_gets_a_star_and_no_vary() {
    let mut p = cors(json!({"allowed_origins": ["*"], "expose_headers": ["x-total"]}));
    let mut host = actual("GET", "https://anyone.example");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    host.response(200, &[], b"");
    host.on_response(&mut p);
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&host, "access-control-expose-headers").as_deref(),
        Some("x-total")
    );
    assert_eq!(header(&host, "access-control-allow-credentials"), None);
    assert_eq!(host.response_header("vary"), None);
}

#[test]
fn the_plugin_replaces_or_removes_upstream_cors_headers() {
    let upstream = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-secret"),
    ];
    let mut p = app();
    let mut host = actual("GET", APP);
    host.on_request(&mut p);
    host.response(200, &upstream, b"");
    host.on_response(&mut p);
    assert_eq!(
        host.response_headers("access-control-allow-origin"),
        vec![APP]
    );
    assert_eq!(header(&host, "access-control-allow-credentials"), None);
    assert_eq!(header(&host, "access-control-expose-headers"), None);

    let mut host = actual("GET", EVIL);
    host.on_request(&mut p);
    host.response(200, &upstream, b"");
    host.on_response(&mut p);
    no_access_control_headers(&host);
}

#[test]
fn a_request_from_a_disallowed_origin_gets_no_cors_headers() {
    let mut p = cors(json!({
        "allowed_origins": [APP],
        "allow_credentials": true,
        "expose_headers": ["x-total"],
    }));
    let mut host = actual("GET", EVIL);
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);
    host.response(200, &[("x-total", "3")], b"[]");
    host.on_response(&mut p);
    no_access_control_headers(&host);
    assert_eq!(host.response_status(), Some(200));
    assert_eq!(host.response_header("x-total").as_deref(), Some("3"));
    // The answer depends on the origin: caches must know.
    assert_eq!(host.response_headers("vary"), vec!["Origin"]);
}

#[test]
fn a_refused_null_origin_under_a_wildcard_gets_no_cors_headers() {
    let mut p = cors(json!({"allowed_origins": ["*"]}));
    let mut host = actual("GET", "null");
    host.on_request(&mut p);
    host.response(200, &[], b"");
    host.on_response(&mut p);
    no_access_control_headers(&host);
    assert_eq!(host.response_headers("vary"), vec!["Origin"]);
}

#[test]
fn error_responses_get_the_headers_too() {
    let mut p = app();
    let mut host = actual("GET", APP);
    host.on_request(&mut p);
    host.response(502, &[("content-type", "application/problem+json")], b"{}");
    host.on_response(&mut p);
    assert_eq!(host.response_status(), Some(502));
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
}

#[test]
fn options_without_a_requested_method_is_an_actual_request() {
    let mut p = app();
    let mut host = actual("OPTIONS", APP);
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);
    host.response(200, &[("allow", "GET, OPTIONS")], b"");
    host.on_response(&mut p);
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(header(&host, "access-control-allow-methods"), None);
}

#[test]
fn a_requested_method_on_another_method_is_not_a_preflight() {
    let mut p = app();
    let mut host = actual("DELETE", APP);
    host.header("access-control-request-method", "DELETE");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.response_status(), None);
}

// --- requests without Origin ---------------------------------------------------------

#[test]
fn a_request_without_origin_is_left_alone_but_for_vary() {
    let mut p = cors(json!({
        "allowed_origins": [APP],
        "allow_credentials": true,
        "expose_headers": ["x-total"],
    }));
    for method in ["GET", "OPTIONS"] {
        let mut host = FakeHost::new();
        host.method(method)
            .path("/pets")
            .header("access-control-request-method", "GET")
            .header("accept", "application/json");
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert_eq!(host.response_status(), None);
        assert_eq!(host.request_method(), method);
        assert_eq!(host.request_headers("accept"), vec!["application/json"]);
        assert_eq!(host.request_header("origin"), None);
        assert_eq!(host.context_value(CONTEXT_KEY), None);
        host.response(200, &[("content-type", "application/json")], b"[]");
        host.on_response(&mut p);
        assert_eq!(host.response_status(), Some(200));
        assert_eq!(host.response_body().as_deref(), Some(&b"[]"[..]));
        assert_eq!(
            host.response_header("content-type").as_deref(),
            Some("application/json")
        );
        no_access_control_headers(&host);
        assert_eq!(host.response_headers("vary"), vec!["Origin"], "{method}");
    }
}

#[test]
fn under_a_wildcard_a_request_without_origin_gets_the_static_headers() {
    let mut p = cors(json!({"allowed_origins": ["*"], "expose_headers": ["x-total"]}));
    let mut host = FakeHost::new();
    assert_eq!(host.on_request(&mut p), Action::Continue);
    host.response(200, &[], b"");
    host.on_response(&mut p);
    assert_eq!(
        header(&host, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&host, "access-control-expose-headers").as_deref(),
        Some("x-total")
    );
    assert_eq!(host.response_header("vary"), None);
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let p = cors(json!({"allowed_origins": [APP]}));
    assert_eq!(p.allowed_methods, vec!["GET", "POST"]);
    assert!(p.allowed_headers.is_empty() && p.expose_headers.is_empty());
    assert_eq!(p.max_age, 3600);
    assert!(!p.allow_credentials);
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    for (config, needle) in [
        (json!({}), "allowed_origins"),
        (json!({"allowed_origins": []}), "allowed_origins is empty"),
        (json!({"allowed_origins": "*"}), "invalid configuration"),
        (
            json!({"allowed_origins": ["*"], "allow_credentials": true}),
            "allow_credentials",
        ),
        (
            json!({"allowed_origins": [APP, "*"], "allow_credentials": true}),
            "allow_credentials",
        ),
        (
            json!({"allowed_origins": ["https://a.example/"]}),
            "https://a.example/",
        ),
        (
            json!({"allowed_origins": ["https://a.example/app"]}),
            "not an origin",
        ),
        (json!({"allowed_origins": ["a.example"]}), "not an origin"),
        (json!({"allowed_origins": ["https://"]}), "not an origin"),
        (
            json!({"allowed_origins": ["https://a.example:"]}),
            "not an origin",
        ),
        (
            json!({"allowed_origins": ["https://a.example:99999"]}),
            "not an origin",
        ),
        (
            json!({"allowed_origins": ["https://user@a.example"]}),
            "not an origin",
        ),
        (
            json!({"allowed_origins": ["https://a.example?x"]}),
            "not an origin",
        ),
        (
            json!({"allowed_origins": ["1http://a.example"]}),
            "not an origin",
        ),
        (
            json!({"allowed_origins": ["http://[zz]:80"]}),
            "not an origin",
        ),
        (
            json!({"allowed_origins": ["https://*.a.example"]}),
            "wildcard",
        ),
        (json!({"allowed_origins": [""]}), "not an origin"),
        (
            json!({"allowed_origins": [APP], "allowed_methods": ["GE T"]}),
            "allowed_methods: `GE T`",
        ),
        (
            json!({"allowed_origins": [APP], "allowed_methods": [""]}),
            "allowed_methods",
        ),
        (
            json!({"allowed_origins": [APP], "allowed_headers": ["x-ok", "x:bad"]}),
            "allowed_headers: `x:bad`",
        ),
        (
            json!({"allowed_origins": [APP], "expose_headers": ["x bad"]}),
            "expose_headers: `x bad`",
        ),
        (
            json!({"allowed_origins": [APP], "max_age": -1}),
            "invalid configuration",
        ),
        (
            json!({"allowed_origins": [APP], "allow_origins": [APP]}),
            "allow_origins",
        ),
    ] {
        let err = middleware_from::<Cors>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
}
