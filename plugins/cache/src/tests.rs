use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn cache(config: Value) -> Cache {
    middleware_from(&config).unwrap()
}

/// One request through the plugin: `on_request`, then (on a miss) the upstream's answer
/// `(status, headers, body)` and `on_response`. Returns the action and the response as the
/// client sees it (status, x-cache, age, body).
fn exchange(
    host: &mut FakeHost,
    plugin: &mut Cache,
    upstream: (u16, &[(&str, &str)], &[u8]),
) -> (Action, u16, Option<String>, Option<String>, Vec<u8>) {
    let action = host.on_request(plugin);
    if action == Action::Continue {
        host.response(upstream.0, upstream.1, upstream.2);
    }
    host.on_response(plugin);
    (
        action,
        host.response_status().unwrap_or(0),
        host.response_header("x-cache"),
        host.response_header("age"),
        host.response_body().unwrap_or_default(),
    )
}

const OK: (u16, &[(&str, &str)], &[u8]) = (200, &[("content-type", "application/json")], b"[1]");

#[test]
fn defaults_and_body_buffering() {
    let host = FakeHost::new();
    let p = cache(json!({}));
    assert_eq!(p.ttl, 300);
    assert_eq!(p.methods, ["GET", "HEAD"]);
    assert_eq!(p.cacheable_status, [200, 301, 404]);
    assert!(p.vary.is_empty());
    assert!(!p.store_set_cookie);
    assert_eq!(p.lock_timeout_ms, 5000);
    assert_eq!(host.buffered_bodies(), (false, true));
}

#[test]
fn init_declares_the_key_rule_so_the_gateway_serves_hits() {
    let host = FakeHost::new();
    let _p =
        cache(json!({"methods": ["GET"], "vary": ["Accept-Language"], "lock_timeout_ms": 250}));
    let rule: Value = serde_json::from_str(&host.hit_rule().unwrap()).unwrap();
    assert_eq!(
        rule,
        json!({"methods": ["GET"], "vary": ["accept-language"], "wait_ms": 250})
    );
}

#[test]
fn bad_configurations_are_refused() {
    let _host = FakeHost::new();
    for (config, why) in [
        (json!({"ttl": 0}), "ttl"),
        (json!({"vary": ["bad header"]}), "vary"),
        (json!({"methods": ["G ET"]}), "methods"),
        (json!({"cacheable_status": [99]}), "cacheable_status"),
        (json!({"lock_timeout_ms": 60001}), "lock_timeout_ms"),
        (json!({"unknown": 1}), "unknown field"),
    ] {
        let e = middleware_from::<Cache>(&config).unwrap_err();
        assert!(e.contains(why), "{config}: {e}");
    }
}

#[test]
fn a_miss_is_stored_and_the_next_request_hits_with_age() {
    let mut host = FakeHost::new();
    let mut p = cache(json!({}));
    host.path("/pets");
    let (action, status, x, age, body) = exchange(&mut host, &mut p, OK);
    assert_eq!(
        (action, status, x.as_deref(), age),
        (Action::Continue, 200, Some("MISS"), None)
    );
    assert_eq!(body, b"[1]");
    assert_eq!(host.cached_entries(), 1);

    host.next_request();
    host.path("/pets").advance_ms(7_500);
    let (action, status, x, age, body) = exchange(
        &mut host,
        &mut p,
        (500, &[], b"upstream must not be called"),
    );
    assert_eq!(action, Action::RespondAsIs);
    assert_eq!(
        (status, x.as_deref(), age.as_deref()),
        (200, Some("HIT"), Some("7"))
    );
    assert_eq!(body, b"[1]");
    assert_eq!(
        host.response_header("content-type").as_deref(),
        Some("application/json")
    );
}

#[test]
fn entries_expire_after_ttl_or_a_shorter_upstream_max_age() {
    let mut host = FakeHost::new();
    let mut p = cache(json!({"ttl": 10}));
    exchange(&mut host, &mut p, OK);
    host.next_request();
    host.advance_ms(10_001);
    let (action, ..) = exchange(
        &mut host,
        &mut p,
        (200, &[("cache-control", "max-age=2")], b"x"),
    );
    assert_eq!(action, Action::Continue, "expired after ttl");
    host.next_request();
    host.advance_ms(1_000);
    assert_eq!(exchange(&mut host, &mut p, OK).0, Action::RespondAsIs);
    host.next_request();
    host.advance_ms(1_500);
    assert_eq!(
        exchange(&mut host, &mut p, OK).0,
        Action::Continue,
        "max-age=2 shortened it"
    );

    // s-maxage wins over max-age; an upstream Age is subtracted; ttl is never lengthened.
    let mut host = FakeHost::new();
    let mut p = cache(json!({"ttl": 10}));
    exchange(
        &mut host,
        &mut p,
        (
            200,
            &[("cache-control", "max-age=1, s-maxage=100"), ("age", "3")],
            b"x",
        ),
    );
    host.next_request();
    host.advance_ms(6_500);
    let (action, _, _, age, _) = exchange(&mut host, &mut p, OK);
    assert_eq!(action, Action::RespondAsIs);
    assert_eq!(age.as_deref(), Some("9"), "upstream age 3 + 6 s resident");
    host.next_request();
    host.advance_ms(1_000);
    assert_eq!(
        exchange(&mut host, &mut p, OK).0,
        Action::Continue,
        "10 - 3 = 7 s of freshness"
    );
}

#[test]
fn uncacheable_responses_are_not_stored() {
    for headers in [
        &[("cache-control", "no-store")][..],
        &[("cache-control", "private, max-age=60")],
        &[("Cache-Control", "public"), ("cache-control", "NO-CACHE")],
        &[("cache-control", "max-age=0")],
        &[("cache-control", "max-age=\"abc\"")],
        &[("set-cookie", "sid=1")],
        &[("vary", "*")],
        &[("vary", "accept-encoding")],
        &[("age", "400")],
    ] {
        let mut host = FakeHost::new();
        let mut p = cache(json!({}));
        let (_, _, x, ..) = exchange(&mut host, &mut p, (200, headers, b"x"));
        assert_eq!(x.as_deref(), Some("MISS"));
        assert_eq!(host.cached_entries(), 0, "{headers:?} was stored");
    }
    let mut host = FakeHost::new();
    let mut p = cache(json!({}));
    exchange(&mut host, &mut p, (500, &[], b"x"));
    assert_eq!(host.cached_entries(), 0, "500 is not in cacheable_status");
    exchange(&mut host, &mut p, (404, &[], b"x"));
    assert_eq!(host.cached_entries(), 1, "404 is");
}

#[test]
fn set_cookie_and_vary_are_stored_when_configured() {
    let mut host = FakeHost::new();
    let mut p = cache(json!({"store_set_cookie": true, "vary": ["Accept-Encoding"]}));
    host.header("accept-encoding", "gzip");
    exchange(
        &mut host,
        &mut p,
        (
            200,
            &[("set-cookie", "a=1"), ("vary", "Accept-Encoding")],
            b"z",
        ),
    );
    assert_eq!(host.cached_entries(), 1);
    host.next_request();
    host.header("accept-encoding", "gzip");
    assert_eq!(exchange(&mut host, &mut p, OK).0, Action::RespondAsIs);
    host.next_request();
    host.header("accept-encoding", "br");
    assert_eq!(
        exchange(&mut host, &mut p, OK).0,
        Action::Continue,
        "another vary value"
    );
}

#[test]
fn the_key_is_method_path_query_and_vary_headers() {
    let mut host = FakeHost::new();
    let mut p = cache(json!({"vary": ["x-tenant"]}));
    host.path("/a").query("x=1&y=2").header("x-tenant", "acme");
    exchange(&mut host, &mut p, OK);
    let hits = |host: &mut FakeHost,
                p: &mut Cache,
                method: &str,
                path: &str,
                query: &str,
                tenant: &str| {
        host.next_request();
        host.method(method)
            .path(path)
            .query(query)
            .header("x-tenant", tenant);
        exchange(host, p, OK).0 == Action::RespondAsIs
    };
    assert!(hits(&mut host, &mut p, "GET", "/a", "x=1&y=2", "acme"));
    assert!(!hits(&mut host, &mut p, "GET", "/b", "x=1&y=2", "acme"));
    assert!(!hits(&mut host, &mut p, "GET", "/a", "y=2&x=1", "acme"));
    assert!(!hits(&mut host, &mut p, "GET", "/a", "x=1&y=2", "other"));
    assert!(!hits(&mut host, &mut p, "HEAD", "/a", "x=1&y=2", "acme"));
}

#[test]
fn methods_not_listed_pass_through_untouched() {
    let mut host = FakeHost::new();
    let mut p = cache(json!({}));
    host.method("POST");
    let (action, _, x, ..) = exchange(&mut host, &mut p, OK);
    assert_eq!((action, x), (Action::Continue, None));
    assert_eq!(host.cached_entries(), 0);
}

#[test]
fn authorized_requests_only_share_explicitly_public_responses() {
    let mut host = FakeHost::new();
    let mut p = cache(json!({}));
    // An anonymous entry is never served to an authorized request.
    exchange(&mut host, &mut p, OK);
    host.next_request();
    host.header("authorization", "Bearer a");
    assert_eq!(exchange(&mut host, &mut p, OK).0, Action::Continue);
    assert_eq!(
        host.cached_entries(),
        1,
        "a plain response to an authorized request is not stored"
    );
    for shareable in ["public", "s-maxage=60", "must-revalidate"] {
        let mut host = FakeHost::new();
        let mut p = cache(json!({}));
        host.header("authorization", "Bearer a");
        exchange(
            &mut host,
            &mut p,
            (200, &[("cache-control", shareable)], b"x"),
        );
        host.next_request();
        host.header("authorization", "Bearer b");
        assert_eq!(
            exchange(&mut host, &mut p, OK).0,
            Action::RespondAsIs,
            "{shareable}"
        );
    }
    // With `authorization` in `vary`, each credential has its own entries.
    let mut host = FakeHost::new();
    let mut p = cache(json!({"vary": ["authorization"]}));
    host.header("authorization", "Bearer a");
    exchange(&mut host, &mut p, OK);
    host.next_request();
    host.header("authorization", "Bearer a");
    assert_eq!(exchange(&mut host, &mut p, OK).0, Action::RespondAsIs);
    host.next_request();
    host.header("authorization", "Bearer b");
    assert_eq!(exchange(&mut host, &mut p, OK).0, Action::Continue);
}

#[test]
fn an_unavailable_cache_only_makes_misses() {
    let mut host = FakeHost::new();
    host.cache_available(false);
    let mut p = cache(json!({}));
    let (action, status, x, ..) = exchange(&mut host, &mut p, OK);
    assert_eq!(
        (action, status, x.as_deref()),
        (Action::Continue, 200, Some("MISS"))
    );
    host.next_request();
    assert_eq!(exchange(&mut host, &mut p, OK).0, Action::Continue);
}

#[test]
fn cache_control_parsing() {
    let cc = CacheControl::parse(&["Public, Max-Age=\"30\"".into(), "s-maxage=7,x-ext=1".into()]);
    assert_eq!(
        cc,
        CacheControl {
            public: true,
            max_age: Some(30),
            s_maxage: Some(7),
            ..CacheControl::default()
        }
    );
    assert_eq!(CacheControl::parse(&[]), CacheControl::default());
}
