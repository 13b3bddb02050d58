use super::*;
use barbacane_plugin_sdk::http::{HttpError, HttpErrorKind, HttpResponse};
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::json;

const ENDPOINT: &str = "https://idp.example/oauth2/introspect";

/// The fake host's clock, in seconds.
const NOW_S: i64 = 1_700_000_000;

fn plugin(extra: Value) -> OAuth2Auth {
    let mut config = json!({
        "introspection_endpoint": ENDPOINT,
        "client_id": "gateway",
        "client_secret": "s3cret",
    });
    if let (Some(map), Value::Object(extra)) = (config.as_object_mut(), extra) {
        map.extend(extra);
    }
    middleware_from(&config).unwrap()
}

fn answer(status: u16, body: Value) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

/// A host whose introspection endpoint answers `body` to every call.
fn host_answering(body: Value) -> FakeHost {
    let mut host = FakeHost::new();
    host.http(move |_| answer(200, body.clone()));
    host
}

fn with_token(host: &mut FakeHost, token: &str) {
    host.header("authorization", &format!("Bearer {token}"));
}

/// Asserts a refusal: status, problem type and `WWW-Authenticate`, and no identity set.
fn assert_refused(
    host: &FakeHost,
    action: Action,
    status: u16,
    name: &str,
    challenge: Option<&str>,
) {
    let Action::Respond(r) = action else {
        panic!("expected a {status}, got {action:?}");
    };
    assert_eq!(r.status, status);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], format!("urn:barbacane:error:{name}"));
    assert_eq!(
        host.response_header("www-authenticate").as_deref(),
        challenge
    );
    for key in ["auth.sub", "auth.consumer", "auth.scopes", "auth.method"] {
        assert_eq!(host.context_value(key), None, "{key}");
    }
}

#[test]
fn an_active_token_is_introspected_and_identified() {
    let mut p = plugin(json!({}));
    let mut host = host_answering(json!({
        "active": true,
        "sub": "alice",
        "client_id": "web app",
        "username": "alice@example.com",
        "scope": "orders:read  orders:write",
        "exp": NOW_S + 600,
        "aud": ["api"],
        "ext": {"nested": true},
    }));
    with_token(&mut host, "t0k+n/=é");
    assert_eq!(host.on_request(&mut p), Action::Continue);

    let calls = host.http_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.url, ENDPOINT);
    assert_eq!(call.timeout_ms, Some(5_000));
    let header = |name: &str| {
        call.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("gateway:s3cret")
    assert_eq!(header("authorization"), Some("Basic Z2F0ZXdheTpzM2NyZXQ="));
    assert_eq!(
        String::from_utf8(call.body.clone()).unwrap(),
        "token=t0k%2Bn%2F%3D%C3%A9&token_type_hint=access_token"
    );

    let ctx = |k: &str| host.context_value(k);
    assert_eq!(ctx("auth.sub").as_deref(), Some("alice"));
    assert_eq!(ctx("auth.consumer").as_deref(), Some("alice"));
    assert_eq!(
        ctx("auth.scopes").as_deref(),
        Some("orders:read orders:write")
    );
    assert_eq!(ctx("auth.method").as_deref(), Some("oauth2"));
    assert_eq!(ctx("auth.claims.client_id").as_deref(), Some("web app"));
    assert_eq!(
        ctx("auth.claims.exp").as_deref(),
        Some((NOW_S + 600).to_string().as_str())
    );
    assert_eq!(ctx("auth.claims.active").as_deref(), Some("true"));
    assert_eq!(ctx("auth.claims.aud"), None);
    assert_eq!(ctx("auth.claims.ext"), None);
    // The token stays for the upstream.
    assert_eq!(
        host.request_header("authorization").as_deref(),
        Some("Bearer t0k+n/=é")
    );
}

#[test]
fn the_consumer_falls_back_to_username_then_client_id() {
    let mut p = plugin(json!({}));
    let mut host = host_answering(json!({"active": true, "username": "bob", "client_id": "c"}));
    with_token(&mut host, "a");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.context_value("auth.sub"), None);
    assert_eq!(host.context_value("auth.consumer").as_deref(), Some("bob"));
    assert_eq!(host.context_value("auth.scopes").as_deref(), Some(""));

    let mut host = host_answering(json!({"active": true, "client_id": "svc"}));
    with_token(&mut host, "b");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.context_value("auth.consumer").as_deref(), Some("svc"));
}

#[test]
fn no_token_is_401_without_a_call() {
    let mut p = plugin(json!({}));
    for header in [None, Some("Basic YTpi"), Some("Bearer"), Some("Bearer   ")] {
        let mut host = host_answering(json!({"active": true}));
        if let Some(h) = header {
            host.header("authorization", h);
        }
        let action = host.on_request(&mut p);
        assert_refused(&host, action, 401, "unauthorized", Some(CHALLENGE));
        assert!(host.http_calls().is_empty());
    }
}

#[test]
fn inactive_expired_or_foreign_tokens_are_invalid() {
    let mut p = plugin(json!({"audience": "api"}));
    for body in [
        json!({"active": false}),
        json!({}),
        json!({"active": "true", "aud": "api"}),
        json!({"active": true, "aud": "api", "exp": NOW_S - 1}),
        json!({"active": true, "aud": "api", "exp": NOW_S}),
        json!({"active": true, "aud": "api", "exp": "tomorrow"}),
        json!({"active": true, "aud": "other"}),
        json!({"active": true, "aud": ["other", "more"]}),
        json!({"active": true}),
    ] {
        let mut host = host_answering(body.clone());
        with_token(&mut host, "t");
        let action = host.on_request(&mut p);
        assert_refused(
            &host,
            action,
            401,
            "unauthorized",
            Some(INVALID_TOKEN_CHALLENGE),
        );
        // Each body is a fresh host, but the plugin remembers: drop its memory.
        p.cache.clear();
    }
    let mut host =
        host_answering(json!({"active": true, "aud": ["other", "api"], "exp": NOW_S + 1}));
    with_token(&mut host, "t");
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn missing_scopes_are_403() {
    let mut p = plugin(json!({"required_scopes": "read  write"}));
    let mut host = host_answering(json!({"active": true, "scope": "read"}));
    with_token(&mut host, "t");
    let action = host.on_request(&mut p);
    assert_refused(
        &host,
        action,
        403,
        "insufficient-scope",
        Some(r#"Bearer realm="api", error="insufficient_scope", scope="read write""#),
    );
    let mut host = host_answering(json!({"active": true, "scope": "write admin read"}));
    with_token(&mut host, "u");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    // An array of scopes is read too.
    let mut host = host_answering(json!({"active": true, "scope": ["read", "write"]}));
    with_token(&mut host, "v");
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn endpoint_failures_are_503_and_not_remembered() {
    let mut p = plugin(json!({"timeout": 0.25}));
    let failures: Vec<Result<HttpResponse, HttpError>> = vec![
        Err(HttpError {
            kind: HttpErrorKind::Timeout,
            message: "no answer".into(),
        }),
        Err(HttpError {
            kind: HttpErrorKind::Connect,
            message: "refused".into(),
        }),
        answer(500, json!({"error": "boom"})),
        answer(401, json!({"error": "invalid_client"})),
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: b"<html>".to_vec(),
        }),
        answer(200, json!([true])),
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: vec![b' '; MAX_ANSWER_BYTES + 1],
        }),
    ];
    let mut host = FakeHost::new();
    for failure in failures {
        host.next_request();
        host.http(move |_| failure.clone());
        with_token(&mut host, "t");
        let action = host.on_request(&mut p);
        assert_refused(&host, action, 503, "introspection-unavailable", None);
        assert_eq!(host.response_header("retry-after").as_deref(), Some("5"));
    }
    assert_eq!(host.http_calls()[0].timeout_ms, Some(250));
    let warnings = host.logs();
    assert!(warnings.iter().any(|(_, m)| m.contains("check client_id")));
    // Nothing was remembered: the endpoint back, the token passes.
    host.next_request();
    host.http(|_| answer(200, json!({"active": true})));
    with_token(&mut host, "t");
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn the_token_is_never_logged() {
    let mut p = plugin(json!({"audience": "api", "required_scopes": "x"}));
    let mut host = host_answering(json!({"active": true, "aud": "nope"}));
    with_token(&mut host, "very-secret-token");
    let _ = host.on_request(&mut p);
    host.next_request();
    host.http(|_| answer(502, json!({})));
    with_token(&mut host, "very-secret-token-2");
    let _ = host.on_request(&mut p);
    assert!(!host.logs().is_empty());
    for (_, line) in host.logs() {
        assert!(!line.contains("very-secret"), "{line}");
        assert!(!line.contains("s3cret"), "{line}");
    }
    assert!(!format!("{p:?}").contains("s3cret"));
}

/// Counts the calls a host's endpoint gets, answering `body`.
fn counting(host: &mut FakeHost, body: Value) -> std::rc::Rc<std::cell::Cell<u32>> {
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = count.clone();
    host.http(move |_| {
        seen.set(seen.get() + 1);
        answer(200, body.clone())
    });
    count
}

#[test]
fn active_answers_are_remembered_until_exp_and_at_most_5_minutes() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    let calls = counting(
        &mut host,
        json!({"active": true, "sub": "a", "exp": NOW_S + 60}),
    );
    for _ in 0..3 {
        host.next_request();
        with_token(&mut host, "t");
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert_eq!(host.context_value("auth.sub").as_deref(), Some("a"));
    }
    assert_eq!(calls.get(), 1);
    // Another token is another question.
    host.next_request();
    with_token(&mut host, "u");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(calls.get(), 2);
    // At `exp` the entry lapses and the server is asked again (and now says expired).
    host.advance_ms(60_000);
    host.next_request();
    with_token(&mut host, "t");
    let action = host.on_request(&mut p);
    assert_refused(
        &host,
        action,
        401,
        "unauthorized",
        Some(INVALID_TOKEN_CHALLENGE),
    );
    assert_eq!(calls.get(), 3);

    // Without `exp`: 5 minutes.
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    let calls = counting(&mut host, json!({"active": true}));
    with_token(&mut host, "t");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    host.advance_ms(MAX_ACTIVE_TTL_MS - 1);
    host.next_request();
    with_token(&mut host, "t");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(calls.get(), 1);
    host.advance_ms(1);
    host.next_request();
    with_token(&mut host, "t");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(calls.get(), 2);
}

#[test]
fn inactive_answers_are_remembered_10_seconds() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    let calls = counting(&mut host, json!({"active": false}));
    for _ in 0..2 {
        host.next_request();
        with_token(&mut host, "t");
        let action = host.on_request(&mut p);
        assert_refused(
            &host,
            action,
            401,
            "unauthorized",
            Some(INVALID_TOKEN_CHALLENGE),
        );
    }
    assert_eq!(calls.get(), 1);
    host.advance_ms(INACTIVE_TTL_MS);
    host.next_request();
    with_token(&mut host, "t");
    let _ = host.on_request(&mut p);
    assert_eq!(calls.get(), 2);
}

#[test]
fn scopes_are_checked_on_cached_answers_too() {
    let mut p = plugin(json!({"required_scopes": "admin"}));
    let mut host = FakeHost::new();
    let calls = counting(&mut host, json!({"active": true, "scope": "read"}));
    for _ in 0..2 {
        host.next_request();
        with_token(&mut host, "t");
        let action = host.on_request(&mut p);
        assert_refused(
            &host,
            action,
            403,
            "insufficient-scope",
            Some(r#"Bearer realm="api", error="insufficient_scope", scope="admin""#),
        );
    }
    assert_eq!(calls.get(), 1);
}

#[test]
fn the_cache_is_bounded() {
    let mut p = plugin(json!({}));
    let mut host = FakeHost::new();
    let calls = counting(&mut host, json!({"active": true}));
    for i in 0..MAX_CACHED + 5 {
        host.next_request();
        with_token(&mut host, &format!("t{i}"));
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert!(p.cache.len() <= MAX_CACHED);
    }
    assert_eq!(calls.get() as usize, MAX_CACHED + 5);
    // Keys are digests: no token is kept.
    assert!(!format!("{:?}", p.cache.keys().next()).contains("t1"));
}

#[test]
fn the_secret_may_be_a_reference() {
    let mut host = FakeHost::new();
    host.secret("env://INTROSPECT_SECRET", "from env");
    let p: OAuth2Auth = middleware_from(&json!({
        "introspection_endpoint": "http://127.0.0.1:9/introspect",
        "client_id": "gw:1",
        "client_secret": "env://INTROSPECT_SECRET",
    }))
    .unwrap();
    // form-urlencoded before base64: "gw%3A1:from+env"
    assert_eq!(
        p.policy.authorization,
        format!("Basic {}", STANDARD.encode("gw%3A1:from+env"))
    );
    let err = middleware_from::<OAuth2Auth>(&json!({
        "introspection_endpoint": ENDPOINT,
        "client_id": "gw",
        "client_secret": "file:///nowhere",
    }))
    .unwrap_err();
    assert!(
        err.contains("file:///nowhere") && err.contains("does not resolve"),
        "{err}"
    );
}

#[test]
fn bad_configurations_are_refused() {
    let base = json!({"introspection_endpoint": ENDPOINT, "client_id": "gw", "client_secret": "s"});
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    for (config, why) in [
        (
            with("introspection_endpoint", json!("http://idp.example/i")),
            "https",
        ),
        (
            with("introspection_endpoint", json!("ftp://idp.example/i")),
            "https",
        ),
        (
            with("introspection_endpoint", json!("idp.example/i")),
            "absolute",
        ),
        (
            with("introspection_endpoint", json!("https://u:p@idp.example/i")),
            "credentials",
        ),
        (
            with("introspection_endpoint", json!("https:///i")),
            "no host",
        ),
        (with("client_id", json!("")), "client_id"),
        (with("client_secret", json!("")), "client_secret"),
        (with("audience", json!("")), "audience"),
        (with("required_scopes", json!("a \"b\"")), "required_scopes"),
        (with("timeout", json!(0)), "timeout"),
        (with("timeout", json!(301)), "timeout"),
        (with("unknown", json!(1)), "unknown"),
    ] {
        let err = middleware_from::<OAuth2Auth>(&config).unwrap_err();
        assert!(err.contains(why), "{config}: {err}");
    }
    for ok in [
        "http://localhost:8080/i",
        "http://[::1]/i",
        "HTTPS://idp.example",
    ] {
        middleware_from::<OAuth2Auth>(&with("introspection_endpoint", json!(ok))).unwrap();
    }
}

#[test]
fn form_encoding() {
    assert_eq!(form_encode("aZ09*-._"), "aZ09*-._");
    assert_eq!(form_encode("a b+c%~"), "a+b%2Bc%25%7E");
}
