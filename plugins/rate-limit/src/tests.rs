use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

/// SHA-256 of `abc` (FIPS 180-2, appendix B.1).
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn limiter(config: Value) -> RateLimit {
    middleware_from(&config).unwrap()
}

/// Runs the request the host holds through a chain as the gateway does: `on_request` in
/// order until one answers, then (when none answered) an empty 200 from the dispatcher,
/// then `on_response` in reverse over the middlewares whose `on_request` ran. Returns the
/// action of the last `on_request` that ran.
fn run(host: &mut FakeHost, chain: &mut [&mut RateLimit]) -> Action {
    let mut ran = 0;
    let mut last = Action::Continue;
    for plugin in chain.iter_mut() {
        last = host.on_request(*plugin);
        ran += 1;
        if last != Action::Continue {
            break;
        }
    }
    for plugin in chain[..ran].iter_mut().rev() {
        host.on_response(*plugin);
    }
    host.finish();
    last
}

/// Starts the next request on `host` and runs it through one plugin.
fn next(host: &mut FakeHost, plugin: &mut RateLimit) -> Action {
    host.next_request();
    run(host, &mut [plugin])
}

fn policy_field(host: &FakeHost) -> Vec<String> {
    host.response_headers("ratelimit-policy")
}

fn ratelimit_field(host: &FakeHost) -> Vec<String> {
    host.response_headers("ratelimit")
}

/// The key of the last take.
fn last_key(host: &FakeHost) -> String {
    host.ratelimit_takes().last().expect("a take").0.clone()
}

/// The problem body of a `Respond`.
fn problem(action: &Action) -> Value {
    let Action::Respond(r) = action else {
        panic!("expected an answer, got {action:?}");
    };
    assert_eq!(
        r.headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.as_str()),
        Some("application/problem+json")
    );
    serde_json::from_slice(&r.body).unwrap()
}

// --- counting ------------------------------------------------------------------------

#[test]
fn requests_are_allowed_up_to_the_quota_then_refused_with_429() {
    let mut p = limiter(json!({"quota": 3, "window": 10}));
    let mut host = FakeHost::new();
    for (offset, remaining, reset) in [(0, 2, 10), (2_500, 1, 8), (4_000, 0, 6)] {
        host.next_request();
        if offset > 0 {
            host.now_ms(1_700_000_000_000 + offset);
        }
        assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
        assert_eq!(host.response_status(), Some(200));
        assert_eq!(policy_field(&host), vec![r#""default";q=3;w=10"#]);
        assert_eq!(
            ratelimit_field(&host),
            vec![format!(r#""default";r={remaining};t={reset}"#)]
        );
        assert_eq!(host.response_header("retry-after"), None);
    }

    // 5.2 s after the first request, which leaves the window in 4.8 s.
    host.now_ms(1_700_000_005_200);
    let action = next(&mut host, &mut p);
    let body = problem(&action);
    assert_eq!(host.response_status(), Some(429));
    assert_eq!(body["type"], "urn:barbacane:error:rate-limited");
    assert_eq!(body["title"], "Too many requests");
    assert_eq!(body["status"], 429);
    assert_eq!(
        body["detail"],
        r#"Rate limit exceeded: 3 requests per 10 s (policy "default")"#
    );
    assert_eq!(host.response_headers("retry-after"), vec!["5"]);
    // Set on the 429 itself, once: `on_response` of the answering plugin adds nothing.
    assert_eq!(policy_field(&host), vec![r#""default";q=3;w=10"#]);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=5"#]);

    assert_eq!(
        host.ratelimit_takes(),
        vec![("default:3:10:ip:127.0.0.1".to_owned(), 3, 10_000); 4]
    );
}

#[test]
fn the_window_slides() {
    let t0 = 1_700_000_000_000;
    let mut p = limiter(json!({"quota": 2, "window": 10}));
    let mut host = FakeHost::new();
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    host.now_ms(t0 + 6_000);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=4"#]);

    host.now_ms(t0 + 8_000);
    assert!(matches!(next(&mut host, &mut p), Action::Respond(_)));
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=2"#]);
    assert_eq!(host.response_header("retry-after").as_deref(), Some("2"));

    // The first request leaves the window: one more is allowed, not two.
    host.now_ms(t0 + 10_000);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=6"#]);
    assert!(matches!(next(&mut host, &mut p), Action::Respond(_)));

    // A refused request did not count: at +16 s the one from +6 s leaves.
    host.now_ms(t0 + 16_000);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=4"#]);

    // A whole window after the last one, the count starts over.
    host.advance_ms(10_000);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=1;t=10"#]);
}

#[test]
fn retry_after_is_at_least_one_second() {
    let mut p = limiter(json!({"quota": 1, "window": 1}));
    let mut host = FakeHost::new();
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    host.advance_ms(999);
    let action = next(&mut host, &mut p);
    assert_eq!(
        problem(&action)["detail"],
        r#"Rate limit exceeded: 1 request per 1 s (policy "default")"#
    );
    assert_eq!(host.response_header("retry-after").as_deref(), Some("1"));
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=1"#]);
    host.advance_ms(1);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
}

// --- fields --------------------------------------------------------------------------

#[test]
fn the_fields_are_structured_field_lists_with_the_policy_name_as_a_string() {
    let mut p = limiter(json!({"quota": 100, "window": 60, "policy_name": "Gold tier/v2"}));
    let mut host = FakeHost::new();
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(policy_field(&host), vec![r#""Gold tier/v2";q=100;w=60"#]);
    assert_eq!(ratelimit_field(&host), vec![r#""Gold tier/v2";r=99;t=60"#]);
    assert_eq!(last_key(&host), "Gold tier/v2:100:60:ip:127.0.0.1");
}

#[test]
fn error_responses_and_upstream_fields_get_the_policy_appended() {
    let mut p = limiter(json!({"quota": 5, "window": 1, "policy_name": "burst"}));
    let mut host = FakeHost::new();
    assert_eq!(host.on_request(&mut p), Action::Continue);
    // The upstream has its own policies, over two field lines.
    host.response(
        503,
        &[
            ("RateLimit-Policy", r#""upstream";q=10;w=1"#),
            ("RateLimit", r#""upstream";r=3;t=1"#),
            ("RateLimit", r#""other";r=0;t=30"#),
        ],
        b"",
    );
    host.on_response(&mut p);
    host.finish();
    assert_eq!(host.response_status(), Some(503));
    assert_eq!(
        policy_field(&host),
        vec![r#""upstream";q=10;w=1, "burst";q=5;w=1"#]
    );
    assert_eq!(
        ratelimit_field(&host),
        vec![r#""upstream";r=3;t=1, "other";r=0;t=30, "burst";r=4;t=1"#]
    );
}

#[test]
fn two_policies_in_one_chain_share_one_field() {
    let mut burst = limiter(json!({"quota": 2, "window": 1, "policy_name": "burst"}));
    let mut daily = limiter(json!({"quota": 2, "window": 86400, "policy_name": "daily"}));
    let mut host = FakeHost::new();

    assert_eq!(
        run(&mut host, &mut [&mut burst, &mut daily]),
        Action::Continue
    );
    // `on_response` runs in reverse: the inner policy comes first.
    assert_eq!(
        policy_field(&host),
        vec![r#""daily";q=2;w=86400, "burst";q=2;w=1"#]
    );
    assert_eq!(
        ratelimit_field(&host),
        vec![r#""daily";r=1;t=86400, "burst";r=1;t=1"#]
    );

    // The burst policy refuses: the daily one never runs, and counts nothing.
    host.next_request();
    run(&mut host, &mut [&mut burst, &mut daily]);
    host.next_request();
    let action = run(&mut host, &mut [&mut burst, &mut daily]);
    assert_eq!(problem(&action)["status"], 429);
    assert_eq!(policy_field(&host), vec![r#""burst";q=2;w=1"#]);
    assert_eq!(ratelimit_field(&host), vec![r#""burst";r=0;t=1"#]);

    // The daily policy refuses: the burst one, which ran, adds itself to the 429.
    host.advance_ms(1_000);
    host.next_request();
    let action = run(&mut host, &mut [&mut burst, &mut daily]);
    assert_eq!(
        problem(&action)["detail"],
        r#"Rate limit exceeded: 2 requests per 86400 s (policy "daily")"#
    );
    assert_eq!(host.response_headers("retry-after"), vec!["86399"]);
    assert_eq!(
        policy_field(&host),
        vec![r#""daily";q=2;w=86400, "burst";q=2;w=1"#]
    );
    assert_eq!(
        ratelimit_field(&host),
        vec![r#""daily";r=0;t=86399, "burst";r=1;t=1"#]
    );
    let keys: Vec<String> = host.ratelimit_takes().into_iter().map(|t| t.0).collect();
    assert_eq!(
        keys,
        [
            "burst:2:1:ip:127.0.0.1",
            "daily:2:86400:ip:127.0.0.1",
            "burst:2:1:ip:127.0.0.1",
            "daily:2:86400:ip:127.0.0.1",
            "burst:2:1:ip:127.0.0.1",
            "burst:2:1:ip:127.0.0.1",
            "daily:2:86400:ip:127.0.0.1",
        ]
    );
}

// --- partitions ----------------------------------------------------------------------

#[test]
fn clients_are_counted_separately() {
    let mut p = limiter(json!({"quota": 1, "window": 60}));
    let mut host = FakeHost::new();
    host.client_ip("192.0.2.1");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    host.next_request();
    host.client_ip("192.0.2.2");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    host.next_request();
    host.client_ip("192.0.2.1");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
    // IPv6 in canonical form; IPv4-mapped IPv6 is the IPv4 address.
    host.next_request();
    host.client_ip("2001:DB8:0:0::1");
    run(&mut host, &mut [&mut p]);
    assert_eq!(last_key(&host), "default:1:60:ip:2001:db8::1");
    host.next_request();
    host.client_ip("::ffff:192.0.2.2");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
    assert_eq!(last_key(&host), "default:1:60:ip:192.0.2.2");
    // A peer the gateway does not know.
    host.next_request();
    host.unknown_client_ip();
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    assert_eq!(last_key(&host), "default:1:60:ip:unknown");
}

#[test]
fn a_header_partition_falls_back_to_the_client_address() {
    let mut p = limiter(json!({"quota": 1, "window": 60, "partition_key": "header:X-Api-Key"}));
    let mut host = FakeHost::new();
    host.header("x-api-key", "abc");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    // Hashed: the value never reaches the limiter's store.
    assert_eq!(last_key(&host), format!("default:1:60:header:{SHA256_ABC}"));
    // The same key again, from elsewhere: refused.
    host.next_request();
    host.client_ip("198.51.100.9").header("X-API-KEY", "abc");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
    // Another key: its own count.
    host.next_request();
    host.header("x-api-key", "abd");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    // No key, or an empty one: counted by address, apart from every key.
    host.next_request();
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    assert_eq!(last_key(&host), "default:1:60:ip:127.0.0.1");
    host.next_request();
    host.header("x-api-key", "");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
    assert_eq!(last_key(&host), "default:1:60:ip:127.0.0.1");
    // A header value that looks like the address is still a header value.
    host.next_request();
    host.header("x-api-key", "127.0.0.1");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    assert!(last_key(&host).starts_with("default:1:60:header:"));
    // Only the first value counts.
    host.next_request();
    host.header("x-api-key", "abc").header("x-api-key", "zzz");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
}

#[test]
fn a_context_partition_falls_back_to_the_client_address() {
    let mut p = limiter(json!({"quota": 1, "window": 60, "partition_key": "context:subject"}));
    let mut host = FakeHost::new();
    host.context("subject", "abc");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    assert_eq!(
        last_key(&host),
        format!("default:1:60:context:{SHA256_ABC}")
    );
    host.next_request();
    host.context("subject", "abc");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
    host.next_request();
    host.context("subject", "");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    assert_eq!(last_key(&host), "default:1:60:ip:127.0.0.1");
    host.next_request();
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
}

#[test]
fn behind_trusted_proxies_the_client_comes_from_x_forwarded_for() {
    let mut p = limiter(json!({
        "quota": 1000,
        "window": 60,
        "trusted_proxies": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10"],
    }));
    let cases: &[(&str, &[&str], &str)] = &[
        // The usual case: the proxy appended the address it saw.
        ("10.1.2.3", &["198.51.100.7"], "198.51.100.7"),
        // Through two proxies.
        ("10.1.2.3", &["198.51.100.7, 10.0.0.9"], "198.51.100.7"),
        // Several field lines are one list.
        ("10.1.2.3", &["198.51.100.7", "10.0.0.9"], "198.51.100.7"),
        (
            "10.1.2.3",
            &["198.51.100.7,", " , 10.0.0.9"],
            "198.51.100.7",
        ),
        // What the client wrote before the proxy's entry is not read.
        ("10.1.2.3", &["203.0.113.66, 198.51.100.7"], "198.51.100.7"),
        ("10.1.2.3", &["not an ip, 198.51.100.7"], "198.51.100.7"),
        // IPv6 proxies and clients, ports, brackets.
        ("2001:db8::5", &["2001:db9::1"], "2001:db9::1"),
        ("10.1.2.3", &["[2001:db9::1]:443"], "2001:db9::1"),
        ("10.1.2.3", &["[2001:db9::1]"], "2001:db9::1"),
        ("10.1.2.3", &["198.51.100.7:4711"], "198.51.100.7"),
        ("10.1.2.3", &["::ffff:198.51.100.7"], "198.51.100.7"),
        // A single trusted address; a peer as IPv4-mapped IPv6.
        ("192.0.2.10", &["198.51.100.7"], "198.51.100.7"),
        ("::ffff:10.1.2.3", &["198.51.100.7"], "198.51.100.7"),
        // Nothing usable: the peer.
        ("10.1.2.3", &[], "10.1.2.3"),
        ("10.1.2.3", &["10.0.0.9, 2001:db8::7"], "10.1.2.3"),
        ("10.1.2.3", &["198.51.100.7, unknown"], "10.1.2.3"),
        ("10.1.2.3", &["198.51.100.7:port"], "10.1.2.3"),
        ("10.1.2.3", &["[2001:db9::1]:"], "10.1.2.3"),
        ("10.1.2.3", &[""], "10.1.2.3"),
        // An untrusted peer's X-Forwarded-For is ignored.
        ("192.0.2.11", &["198.51.100.7"], "192.0.2.11"),
        ("11.0.0.1", &["198.51.100.7"], "11.0.0.1"),
        ("2001:db9::5", &["198.51.100.7"], "2001:db9::5"),
    ];
    let mut host = FakeHost::new();
    for (peer, xff, client) in cases {
        host.next_request();
        host.client_ip(peer);
        for value in *xff {
            host.header("x-forwarded-for", value);
        }
        assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
        assert_eq!(
            last_key(&host),
            format!("default:1000:60:ip:{client}"),
            "{peer} {xff:?}"
        );
    }
}

#[test]
fn a_client_cannot_escape_its_count_by_forging_x_forwarded_for() {
    let mut p = limiter(json!({"quota": 1, "window": 60, "trusted_proxies": ["10.0.0.0/8"]}));
    let mut host = FakeHost::new();
    // Directly connected.
    host.client_ip("198.51.100.7")
        .header("x-forwarded-for", "203.0.113.1");
    assert_eq!(run(&mut host, &mut [&mut p]), Action::Continue);
    host.next_request();
    host.client_ip("198.51.100.7")
        .header("x-forwarded-for", "203.0.113.2");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
    // Through the proxy, which appends the real address.
    host.next_request();
    host.client_ip("10.0.0.1")
        .header("x-forwarded-for", "203.0.113.3, 198.51.100.7");
    assert!(matches!(run(&mut host, &mut [&mut p]), Action::Respond(_)));
}

#[test]
fn a_header_partition_falls_back_to_the_forwarded_client() {
    let mut p = limiter(json!({
        "quota": 1,
        "window": 60,
        "partition_key": "header:x-api-key",
        "trusted_proxies": ["10.0.0.0/8"],
    }));
    let mut host = FakeHost::new();
    host.client_ip("10.0.0.1")
        .header("x-forwarded-for", "198.51.100.7");
    run(&mut host, &mut [&mut p]);
    assert_eq!(last_key(&host), "default:1:60:ip:198.51.100.7");
}

// --- the limiter unavailable ---------------------------------------------------------

#[test]
fn unavailable_fails_closed_by_default() {
    let mut p = limiter(json!({"quota": 1, "window": 60}));
    let mut host = FakeHost::new();
    host.ratelimit_available(false);
    let action = run(&mut host, &mut [&mut p]);
    let body = problem(&action);
    assert_eq!(host.response_status(), Some(503));
    assert_eq!(body["type"], "urn:barbacane:error:rate-limit-unavailable");
    assert_eq!(body["status"], 503);
    assert_eq!(host.response_headers("retry-after"), vec!["1"]);
    assert!(policy_field(&host).is_empty());
    assert!(ratelimit_field(&host).is_empty());
    assert!(host.logs().is_empty());

    // Back: nothing was counted meanwhile.
    host.ratelimit_available(true);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=60"#]);
}

#[test]
fn unavailable_with_fail_open_lets_requests_through_without_fields() {
    let mut p = limiter(json!({"quota": 1, "window": 60, "fail_open": true}));
    let mut host = FakeHost::new();
    host.ratelimit_available(false);
    for _ in 0..3 {
        assert_eq!(next(&mut host, &mut p), Action::Continue);
        assert_eq!(host.response_status(), Some(200));
        assert!(policy_field(&host).is_empty());
        assert!(ratelimit_field(&host).is_empty());
    }
    assert!(host.logs().is_empty());
    // Back: counting resumes, nothing was counted meanwhile.
    host.ratelimit_available(true);
    assert_eq!(next(&mut host, &mut p), Action::Continue);
    assert_eq!(ratelimit_field(&host), vec![r#""default";r=0;t=60"#]);
    assert!(matches!(next(&mut host, &mut p), Action::Respond(_)));
}

#[test]
fn with_the_limiter_down_a_fail_open_policy_leaves_the_others_alone() {
    let mut strict = limiter(json!({"quota": 5, "window": 1, "policy_name": "strict"}));
    let mut lenient =
        limiter(json!({"quota": 5, "window": 1, "policy_name": "lenient", "fail_open": true}));
    let mut host = FakeHost::new();
    host.ratelimit_available(false);
    // The strict one, first in the chain, answers 503: the lenient one never runs.
    let action = run(&mut host, &mut [&mut strict, &mut lenient]);
    assert_eq!(problem(&action)["status"], 503);
    assert_eq!(host.ratelimit_takes().len(), 1);
    // The lenient one, first, lets the request through; the strict one answers 503.
    host.next_request();
    assert_eq!(
        run(&mut host, &mut [&mut lenient, &mut strict]),
        Action::Respond(unavailable())
    );
    assert_eq!(host.response_status(), Some(503));
    assert!(ratelimit_field(&host).is_empty());
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let p = limiter(json!({"quota": 10, "window": 1}));
    assert_eq!(p.policy_name, "default");
    assert_eq!(p.partition_key, "client_ip");
    assert_eq!(p.policy.partition, Partition::ClientIp);
    assert!(p.trusted_proxies.is_empty());
    assert!(!p.fail_open);
    assert_eq!(p.policy.window_ms, 1_000);
}

#[test]
fn good_configurations_are_accepted() {
    let _host = FakeHost::new();
    for config in [
        json!({"quota": 1, "window": 1, "policy_name": "x"}),
        json!({"quota": 1, "window": 1, "policy_name": "a".repeat(64)}),
        json!({"quota": 1, "window": 1, "policy_name": " !#$%&'()*+,-./:;<=>?@[]^_`{|}~"}),
        json!({"quota": i64::MAX, "window": i64::MAX / 1000}),
        json!({"quota": 1, "window": 1, "partition_key": "header:x-api-key"}),
        json!({"quota": 1, "window": 1, "partition_key": "context:auth:subject"}),
        json!({"quota": 1, "window": 1, "trusted_proxies": ["10.0.0.1/8", "::/0", "0.0.0.0/0", "fd00::1"]}),
    ] {
        assert!(middleware_from::<RateLimit>(&config).is_ok(), "{config}");
    }
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    let base = |extra: Value| {
        let mut config = json!({"quota": 10, "window": 60});
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        config
    };
    for (config, needle) in [
        (json!({"window": 60}), "quota"),
        (json!({"quota": 10}), "window"),
        (base(json!({"quota": 0})), "quota must be at least 1"),
        (base(json!({"quota": -1})), "invalid configuration"),
        (base(json!({"quota": 1.5})), "invalid configuration"),
        (base(json!({"quota": u64::MAX})), "quota must be at most"),
        (base(json!({"window": 0})), "window must be at least 1"),
        (
            base(json!({"window": i64::MAX / 1000 + 1})),
            "window must be at most",
        ),
        (base(json!({"policy_name": ""})), "policy_name ``"),
        (base(json!({"policy_name": "a\"b"})), "policy_name `a\"b`"),
        (base(json!({"policy_name": "a\\b"})), "policy_name"),
        (base(json!({"policy_name": "a".repeat(65)})), "policy_name"),
        (base(json!({"policy_name": "tier\u{e9}"})), "policy_name"),
        (base(json!({"policy_name": "a\tb"})), "policy_name"),
        (
            base(json!({"partition_key": "ip"})),
            "partition_key `ip`: expected",
        ),
        (base(json!({"partition_key": "Client_IP"})), "partition_key"),
        (
            base(json!({"partition_key": "header:"})),
            "not a valid header name",
        ),
        (
            base(json!({"partition_key": "header:x api key"})),
            "`x api key` is not a valid header name",
        ),
        (
            base(json!({"partition_key": "context:"})),
            "context key is empty",
        ),
        (
            base(json!({"partition_key": "query:page"})),
            "partition_key",
        ),
        (
            base(json!({"trusted_proxies": ["10.0.0.0/33"]})),
            "`10.0.0.0/33`",
        ),
        (
            base(json!({"trusted_proxies": ["::/129"]})),
            "trusted_proxies",
        ),
        (
            base(json!({"trusted_proxies": ["10.0.0.0/"]})),
            "trusted_proxies",
        ),
        (
            base(json!({"trusted_proxies": ["10.0.0.0/+8"]})),
            "trusted_proxies",
        ),
        (
            base(json!({"trusted_proxies": ["10.0.0/8"]})),
            "trusted_proxies",
        ),
        (
            base(json!({"trusted_proxies": ["proxy.internal"]})),
            "not an address or a CIDR",
        ),
        (
            base(json!({"trusted_proxies": [" 10.0.0.1"]})),
            "trusted_proxies",
        ),
        (
            base(json!({"trusted_proxies": "10.0.0.0/8"})),
            "invalid configuration",
        ),
        (base(json!({"fail_open": "yes"})), "invalid configuration"),
        (base(json!({"limit": 10})), "limit"),
    ] {
        let err = middleware_from::<RateLimit>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
}

#[test]
fn the_policy_is_declared_to_the_gateway_unless_partitioned_by_context() {
    let host = FakeHost::new();
    let plugin = limiter(json!({
        "quota": 1, "window": 10, "policy_name": "per-key",
        "partition_key": "header:X-Api-Key", "trusted_proxies": ["10.0.0.0/8"], "fail_open": true,
    }));
    let declared: Value = serde_json::from_str(&host.host_policy().unwrap()).unwrap();
    assert_eq!(
        declared,
        json!({
            "bucket": "per-key:1:10:",
            "quota": 1,
            "window_ms": 10_000,
            "partition": "header:x-api-key",
            "trusted_proxies": ["10.0.0.0/8"],
            "fail_open": true,
            "policy": "\"per-key\";q=1;w=10",
            "name": "\"per-key\"",
            "refused_body": String::from_utf8(plugin.too_many_requests(0).body).unwrap(),
            "unavailable_body": String::from_utf8(unavailable().body).unwrap(),
        })
    );
    let refused: Value = serde_json::from_str(declared["refused_body"].as_str().unwrap()).unwrap();
    assert_eq!(refused["type"], "urn:barbacane:error:rate-limited");
    assert_eq!(
        refused["detail"],
        "Rate limit exceeded: 1 request per 10 s (policy \"per-key\")"
    );

    let host = FakeHost::new();
    limiter(json!({"quota": 1, "window": 10, "partition_key": "context:sub"}));
    assert_eq!(host.host_policy(), None);
}

#[test]
fn sha256_matches_the_standard_vectors() {
    assert_eq!(sha256_hex(b"abc"), SHA256_ABC);
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}
