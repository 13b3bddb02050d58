use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn restriction(config: Value) -> IpRestriction {
    middleware_from(&config).unwrap()
}

/// Runs a request from `peer` (with `X-Forwarded-For` field lines) through `p`; `true`
/// when it goes on.
fn passes(p: &mut IpRestriction, peer: &str, xff: &[&str]) -> bool {
    let mut host = FakeHost::new();
    host.client_ip(peer);
    for line in xff {
        host.header("x-forwarded-for", line);
    }
    match host.on_request(p) {
        Action::Continue => {
            assert_eq!(host.response_status(), None);
            true
        }
        Action::Respond(_) => false,
        Action::RespondAsIs => panic!("this plugin builds its own answers"),
    }
}

/// The problem body of a refusal.
fn refusal(p: &mut IpRestriction, peer: &str) -> (u16, Value) {
    let mut host = FakeHost::new();
    host.client_ip(peer);
    let Action::Respond(r) = host.on_request(p) else {
        panic!("expected a refusal for {peer}");
    };
    assert_eq!(host.response_status(), Some(r.status));
    assert_eq!(
        host.response_header("content-type").as_deref(),
        Some("application/problem+json")
    );
    (r.status, serde_json::from_slice(&r.body).unwrap())
}

// --- decision ------------------------------------------------------------------------

#[test]
fn an_allow_list_refuses_everything_else() {
    let mut p = restriction(json!({"allow": ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]}));
    for peer in [
        "10.0.0.1",
        "10.255.255.255",
        "192.0.2.7",
        "2001:db8::1",
        "2001:db8:ffff:ffff::1",
        "::ffff:10.1.2.3",
    ] {
        assert!(passes(&mut p, peer, &[]), "{peer}");
    }
    for peer in [
        "11.0.0.1",
        "9.255.255.255",
        "192.0.2.8",
        "2001:db9::1",
        "::ffff:11.0.0.1",
        // An IPv4-compatible address is IPv6, not IPv4.
        "::10.0.0.1",
        "127.0.0.1",
    ] {
        assert!(!passes(&mut p, peer, &[]), "{peer}");
    }
}

#[test]
fn deny_wins_over_allow() {
    let mut p = restriction(json!({
        "allow": ["10.0.0.0/8"],
        "deny": ["10.6.0.0/16", "10.7.7.7"],
    }));
    assert!(passes(&mut p, "10.5.0.1", &[]));
    assert!(!passes(&mut p, "10.6.0.1", &[]));
    assert!(!passes(&mut p, "10.7.7.7", &[]));
    assert!(passes(&mut p, "10.7.7.8", &[]));
    assert!(!passes(&mut p, "172.16.0.1", &[]));
}

#[test]
fn a_deny_list_alone_lets_everything_else_through() {
    let mut p = restriction(json!({"deny": ["203.0.113.0/24", "2001:db8:bad::/48"]}));
    assert!(!passes(&mut p, "203.0.113.9", &[]));
    assert!(!passes(&mut p, "::ffff:203.0.113.9", &[]));
    assert!(!passes(&mut p, "2001:db8:bad:1::5", &[]));
    assert!(passes(&mut p, "203.0.114.9", &[]));
    assert!(passes(&mut p, "2001:db8:bad0::5", &[]));
    assert!(passes(&mut p, "127.0.0.1", &[]));
}

#[test]
fn empty_lists_let_everything_through() {
    let mut p = restriction(json!({}));
    assert!(passes(&mut p, "203.0.113.9", &[]));
    assert!(passes(&mut p, "::1", &[]));
}

#[test]
fn an_unknown_peer_is_in_no_block() {
    let mut host = FakeHost::new();
    host.unknown_client_ip();
    let mut deny_only = restriction(json!({"deny": ["0.0.0.0/0", "::/0"]}));
    assert_eq!(host.on_request(&mut deny_only), Action::Continue);
    let mut allow = restriction(json!({"allow": ["0.0.0.0/0", "::/0"]}));
    assert!(matches!(host.on_request(&mut allow), Action::Respond(_)));
}

#[test]
fn the_refusal_has_the_configured_status_and_message() {
    let mut p = restriction(json!({"deny": ["0.0.0.0/0"]}));
    let (status, body) = refusal(&mut p, "198.51.100.1");
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({
            "type": "urn:barbacane:error:ip-denied",
            "title": "The client address is not allowed",
            "status": 403,
            "detail": "Access denied",
        })
    );

    let mut p = restriction(json!({
        "allow": ["10.0.0.0/8"],
        "status": 404,
        "message": "Nothing here",
    }));
    let (status, body) = refusal(&mut p, "198.51.100.1");
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
    assert_eq!(body["type"], "urn:barbacane:error:ip-denied");
    assert_eq!(body["detail"], "Nothing here");
}

// --- behind proxies ------------------------------------------------------------------

#[test]
fn behind_trusted_proxies_the_client_comes_from_x_forwarded_for() {
    let mut p = restriction(json!({
        "allow": ["198.51.100.0/24", "2001:db9::/32"],
        "trusted_proxies": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10"],
    }));
    let cases: &[(&str, &[&str], bool)] = &[
        // The proxy appended the address it saw.
        ("10.1.2.3", &["198.51.100.7"], true),
        ("10.1.2.3", &["203.0.113.1"], false),
        // Through two proxies; several field lines are one list.
        ("10.1.2.3", &["198.51.100.7, 10.0.0.9"], true),
        ("10.1.2.3", &["198.51.100.7", "10.0.0.9"], true),
        ("10.1.2.3", &["198.51.100.7,", " , 10.0.0.9"], true),
        // What the client wrote before the proxy's entry is not read.
        ("10.1.2.3", &["198.51.100.7, 203.0.113.1"], false),
        ("10.1.2.3", &["203.0.113.1, 198.51.100.7"], true),
        ("10.1.2.3", &["not an ip, 198.51.100.7"], true),
        // Ports, brackets, IPv6, IPv4-mapped.
        ("10.1.2.3", &["198.51.100.7:4711"], true),
        ("10.1.2.3", &["[2001:db9::1]:443"], true),
        ("10.1.2.3", &["[2001:db9::1]"], true),
        ("2001:db8::5", &["2001:db9::1"], true),
        ("10.1.2.3", &["::ffff:198.51.100.7"], true),
        ("::ffff:10.1.2.3", &["198.51.100.7"], true),
        ("192.0.2.10", &["198.51.100.7"], true),
        // Nothing usable: the peer, a proxy, is the client (and is not allowed).
        ("10.1.2.3", &[], false),
        ("10.1.2.3", &["10.0.0.9, 2001:db8::7"], false),
        ("10.1.2.3", &["198.51.100.7, unknown"], false),
        ("10.1.2.3", &["198.51.100.7:port"], false),
        ("10.1.2.3", &["198.51.100.7:123456"], false),
        ("10.1.2.3", &["[2001:db9::1]:"], false),
        ("10.1.2.3", &["[2001:db9::1"], false),
        ("10.1.2.3", &[""], false),
        // An untrusted peer's X-Forwarded-For is ignored.
        ("192.0.2.11", &["198.51.100.7"], false),
        ("203.0.113.1", &["198.51.100.7"], false),
        ("198.51.100.8", &["203.0.113.1"], true),
    ];
    for (peer, xff, ok) in cases {
        assert_eq!(passes(&mut p, peer, xff), *ok, "{peer} {xff:?}");
    }
}

#[test]
fn a_client_cannot_pick_its_address_by_forging_x_forwarded_for() {
    let mut p = restriction(json!({
        "deny": ["203.0.113.0/24"],
        "trusted_proxies": ["10.0.0.0/8"],
    }));
    // Directly connected: the header is not read.
    assert!(!passes(&mut p, "203.0.113.5", &["198.51.100.1"]));
    // Through the proxy, which appends the real address.
    assert!(!passes(&mut p, "10.0.0.1", &["198.51.100.1, 203.0.113.5"]));
    // Trusted entries are skipped, whoever wrote them: the first other address from the
    // right is the client.
    assert!(!passes(&mut p, "10.0.0.1", &["203.0.113.5", "10.9.9.9"]));
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let p = restriction(json!({}));
    assert!(p.allow.is_empty() && p.deny.is_empty() && p.trusted_proxies.is_empty());
    assert_eq!(p.message, "Access denied");
    assert_eq!(p.status, 403);
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    for (config, needle) in [
        (
            json!({"allow": ["10.0.0.0/33"]}),
            "allow: `10.0.0.0/33` is not an address or a CIDR",
        ),
        (json!({"deny": ["::/129"]}), "deny: `::/129`"),
        (json!({"deny": ["10.0.0.0/"]}), "deny: `10.0.0.0/`"),
        (json!({"deny": ["10.0.0.0/+8"]}), "deny: `10.0.0.0/+8`"),
        (json!({"deny": ["10.0.0.0/0008"]}), "deny: `10.0.0.0/0008`"),
        (json!({"deny": ["10.0.0/8"]}), "deny: `10.0.0/8`"),
        (json!({"deny": ["10.0.0.0/8/8"]}), "deny: `10.0.0.0/8/8`"),
        (
            json!({"allow": ["office.example.com"]}),
            "allow: `office.example.com`",
        ),
        (json!({"allow": [" 10.0.0.1"]}), "allow: ` 10.0.0.1`"),
        (json!({"allow": [""]}), "allow: ``"),
        (
            json!({"trusted_proxies": ["10.0.0.1:80"]}),
            "trusted_proxies: `10.0.0.1:80`",
        ),
        (json!({"allow": "10.0.0.0/8"}), "invalid configuration"),
        (
            json!({"status": 399}),
            "status 399 is not an error status (400-599)",
        ),
        (json!({"status": 600}), "status 600 is not an error status"),
        (json!({"status": 200}), "status 200"),
        (json!({"status": 70000}), "invalid configuration"),
        (json!({"status": "403"}), "invalid configuration"),
        (json!({"message": 1}), "invalid configuration"),
        (json!({"whitelist": []}), "unknown field `whitelist`"),
    ] {
        let err = middleware_from::<IpRestriction>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
    for status in [400, 451, 599] {
        assert!(middleware_from::<IpRestriction>(&json!({"status": status})).is_ok());
    }
}
