use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn detection(config: Value) -> BotDetection {
    middleware_from(&config).unwrap()
}

/// Runs a request with these `User-Agent` field lines through `p`; `true` when it goes on.
fn passes(p: &mut BotDetection, user_agents: &[&str]) -> bool {
    let mut host = FakeHost::new();
    for ua in user_agents {
        host.header("user-agent", ua);
    }
    match host.on_request(p) {
        Action::Continue => {
            assert_eq!(host.response_status(), None);
            // The request is not changed.
            assert_eq!(host.request_headers("user-agent"), user_agents.to_vec());
            true
        }
        Action::Respond(_) => false,
        Action::RespondAsIs => panic!("this plugin builds its own answers"),
    }
}

fn matches(pattern: &str, user_agent: &str) -> bool {
    Pattern::new(pattern).matches(&user_agent.to_ascii_lowercase())
}

// --- patterns ------------------------------------------------------------------------

#[test]
fn a_pattern_is_a_case_insensitive_substring() {
    assert!(matches("curl", "curl/8.5.0"));
    assert!(matches("curl", "Mozilla/5.0 (compatible; CURL)"));
    assert!(matches("CuRl", "libcurl-agent/1.0"));
    assert!(matches("bot", GOOGLEBOT));
    assert!(matches("Googlebot/2.1", GOOGLEBOT));
    assert!(!matches("curl", "cur l"));
    assert!(!matches("googlebot/2.2", GOOGLEBOT));
    assert!(!matches("bot", CHROME));
    // The whole pattern must fit.
    assert!(!matches("curl/8.5.0-extra", "curl/8.5.0"));
    // Only ASCII letters fold.
    assert!(matches("caf\u{e9}", "CAF\u{e9}bot"));
    assert!(!matches("caf\u{e9}", "caf\u{c9}bot"));
}

#[test]
fn a_star_stands_for_any_run_of_characters() {
    assert!(matches("python*requests", "python-requests/2.31.0"));
    assert!(matches("python*requests", "Python requests"));
    assert!(matches("python*requests", "pythonrequests"));
    assert!(!matches("python*requests", "requests python"));
    assert!(matches("mozilla*compatible*bot", GOOGLEBOT));
    assert!(!matches("mozilla*bot*compatible", GOOGLEBOT));
    // Each part is taken at its first occurrence, which leaves the most room.
    assert!(matches("a*ab", "aab"));
    assert!(matches("ab*ab", "abab"));
    assert!(!matches("ab*ab", "aba"));
    assert!(matches("x*x*x", "xxx"));
    assert!(!matches("x*x*x", "xx"));
    // At the ends, or doubled, `*` changes nothing.
    assert!(matches("*curl*", "curl"));
    assert!(matches("**curl", "xcurl"));
    assert_eq!(Pattern::new("*cu**rl*"), Pattern::new("cu*rl"));
    // `*` alone matches everything.
    assert!(matches("*", "anything"));
    assert!(matches("***", "x"));
    assert!(Pattern::new("*").parts.is_empty());
}

// --- decision ------------------------------------------------------------------------

#[test]
fn deny_patterns_refuse_matching_user_agents() {
    let mut p = detection(json!({"deny": ["curl", "python*requests", "sqlmap"]}));
    assert!(!passes(&mut p, &["curl/8.5.0"]));
    assert!(!passes(&mut p, &["python-requests/2.31.0"]));
    assert!(!passes(&mut p, &["sqlmap/1.8#stable (https://sqlmap.org)"]));
    assert!(passes(&mut p, &[CHROME]));
    assert!(passes(&mut p, &[GOOGLEBOT]));
    // No User-Agent: goes on unless `block_empty_ua`.
    assert!(passes(&mut p, &[]));
    assert!(passes(&mut p, &[""]));
}

#[test]
fn allow_wins_over_deny() {
    let mut p = detection(json!({
        "deny": ["bot", "crawler", "spider"],
        "allow": ["googlebot", "bingbot"],
    }));
    assert!(passes(&mut p, &[GOOGLEBOT]));
    assert!(passes(
        &mut p,
        &["Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"]
    ));
    assert!(!passes(
        &mut p,
        &["Mozilla/5.0 (compatible; AhrefsBot/7.0)"]
    ));
    assert!(!passes(&mut p, &["MegaCrawler 1.0"]));
    assert!(passes(&mut p, &[CHROME]));

    // `deny: ["*"]` with an allow list: only the listed ones.
    let mut p = detection(json!({"deny": ["*"], "allow": ["Mozilla/*Chrome/"]}));
    assert!(passes(&mut p, &[CHROME]));
    assert!(!passes(&mut p, &[GOOGLEBOT]));
    assert!(!passes(&mut p, &["x"]));
}

#[test]
fn every_field_line_is_looked_at() {
    let mut p = detection(json!({"deny": ["curl"], "allow": ["googlebot"]}));
    assert!(!passes(&mut p, &[CHROME, "curl/8.5.0"]));
    assert!(!passes(&mut p, &["curl/8.5.0", CHROME]));
    // An allowed value lets the request through, as it would on its own.
    assert!(passes(&mut p, &["curl/8.5.0", GOOGLEBOT]));
    // A pattern does not span two lines.
    let mut p = detection(json!({"deny": ["chrome*curl"]}));
    assert!(passes(&mut p, &["Chrome", "curl"]));
    assert!(!passes(&mut p, &["Chrome curl"]));
}

#[test]
fn block_empty_ua_refuses_missing_and_blank_user_agents() {
    let mut p = detection(json!({"block_empty_ua": true}));
    assert!(!passes(&mut p, &[]));
    assert!(!passes(&mut p, &[""]));
    assert!(!passes(&mut p, &["   "]));
    assert!(!passes(&mut p, &["", " "]));
    assert!(passes(&mut p, &["", "x"]));
    assert!(passes(&mut p, &[CHROME]));

    // Patterns are not applied to an empty User-Agent, even `*`.
    let mut p = detection(json!({"block_empty_ua": true, "allow": ["*"]}));
    assert!(!passes(&mut p, &[]));
    assert!(passes(&mut p, &["x"]));
    let mut p = detection(json!({"deny": ["*"]}));
    assert!(passes(&mut p, &[]));
    assert!(!passes(&mut p, &["x"]));
}

#[test]
fn the_refusal_has_the_configured_status_and_message() {
    let mut p = detection(json!({"block_empty_ua": true}));
    let mut host = FakeHost::new();
    let Action::Respond(r) = host.on_request(&mut p) else {
        panic!("expected a refusal");
    };
    assert_eq!(r.status, 403);
    assert_eq!(host.response_status(), Some(403));
    assert_eq!(
        host.response_header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "urn:barbacane:error:bot-denied",
            "title": "The client is not allowed",
            "status": 403,
            "detail": "Access denied",
        })
    );

    let mut p = detection(json!({"deny": ["curl"], "status": 429, "message": "Go away"}));
    let mut host = FakeHost::new();
    host.header("user-agent", "curl/8");
    let Action::Respond(r) = host.on_request(&mut p) else {
        panic!("expected a refusal");
    };
    assert_eq!(r.status, 429);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "urn:barbacane:error:bot-denied");
    assert_eq!(body["status"], 429);
    assert_eq!(body["detail"], "Go away");
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let mut p = detection(json!({}));
    assert!(p.deny.is_empty() && p.allow.is_empty());
    assert!(!p.block_empty_ua);
    assert_eq!(p.message, "Access denied");
    assert_eq!(p.status, 403);
    // Lets everything through.
    assert!(passes(&mut p, &[]));
    assert!(passes(&mut p, &["curl/8"]));
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    for (config, needle) in [
        (
            json!({"deny": ["curl", ""]}),
            "deny[1] is empty, which would match every User-Agent; write `*` for that",
        ),
        (json!({"allow": [""]}), "allow[0] is empty"),
        (
            json!({"status": 399}),
            "status 399 is not an error status (400-599)",
        ),
        (json!({"status": 600}), "status 600"),
        (json!({"status": -1}), "invalid configuration"),
        (json!({"deny": "curl"}), "invalid configuration"),
        (json!({"block_empty_ua": "true"}), "invalid configuration"),
        (json!({"patterns": []}), "unknown field `patterns`"),
    ] {
        let err = middleware_from::<BotDetection>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
}
