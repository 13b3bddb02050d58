use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn acl(config: Value) -> Acl {
    middleware_from(&config).unwrap()
}

/// Runs `p` on a fresh request whose context holds `context`.
fn run(p: &mut Acl, context: &[(&str, &str)]) -> (FakeHost, Action) {
    let mut host = FakeHost::new();
    for (k, v) in context {
        host.context(k, v);
    }
    let action = host.on_request(p);
    (host, action)
}

/// The problem body of a 403, checked for its fixed members.
fn denied(action: Action) -> Value {
    let Action::Respond(r) = action else {
        panic!("expected a 403, got {action:?}");
    };
    assert_eq!(r.status, 403);
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/problem+json")
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "urn:barbacane:error:acl-denied");
    assert_eq!(body["title"], "Forbidden");
    assert_eq!(body["status"], 403);
    body
}

fn basic(user: &str, roles: &str) -> Vec<(&'static str, String)> {
    vec![
        ("auth.sub", user.to_owned()),
        ("auth.consumer", user.to_owned()),
        ("auth.roles", roles.to_owned()),
        ("auth.method", "basic".to_owned()),
    ]
}

fn decide(p: &mut Acl, context: &[(&'static str, String)]) -> Result<(), Value> {
    let pairs: Vec<(&str, &str)> = context.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match run(p, &pairs).1 {
        Action::Continue => Ok(()),
        other => Err(denied(other)),
    }
}

#[test]
fn no_consumer_is_403_without_a_consumer_member() {
    let mut p = acl(json!({}));
    let body = denied(run(&mut p, &[]).1);
    assert_eq!(body["detail"], "Access denied by ACL policy");
    assert!(body.get("consumer").is_none());
    // Empty values count as none; roles alone identify nobody.
    let body = denied(run(&mut p, &[("auth.consumer", ""), ("auth.roles", "admin")]).1);
    assert!(body.get("consumer").is_none());
}

#[test]
fn without_lists_every_authenticated_consumer_passes() {
    let mut p = acl(json!({}));
    assert_eq!(decide(&mut p, &basic("alice", "")), Ok(()));
    // `auth.sub` stands in for a missing `auth.consumer`.
    assert_eq!(run(&mut p, &[("auth.sub", "svc")]).1, Action::Continue);
}

#[test]
fn allow_groups_need_one_match() {
    let mut p = acl(json!({"allow": ["admin", "editor"]}));
    assert_eq!(decide(&mut p, &basic("a", "admin editor")), Ok(()));
    assert_eq!(decide(&mut p, &basic("e", "editor")), Ok(()));
    let body = decide(&mut p, &basic("v", "viewer")).unwrap_err();
    assert_eq!(body["consumer"], "v");
    assert!(decide(&mut p, &basic("g", "")).is_err());
    // Case matters.
    assert!(decide(&mut p, &basic("x", "Admin")).is_err());
}

#[test]
fn deny_groups_win_over_allow() {
    let mut p = acl(json!({"allow": ["viewer"], "deny": ["banned"]}));
    assert_eq!(decide(&mut p, &basic("v", "viewer")), Ok(()));
    assert!(decide(&mut p, &basic("b", "viewer banned")).is_err());
    // Only deny rules: everyone else passes.
    let mut p = acl(json!({"deny": ["banned"]}));
    assert_eq!(decide(&mut p, &basic("g", "")), Ok(()));
    assert!(decide(&mut p, &basic("b", "banned")).is_err());
}

#[test]
fn consumer_lists_come_first() {
    let mut p = acl(json!({
        "allow": ["_restricted"],
        "deny": ["banned"],
        "allow_consumers": ["admin", "boss"],
        "deny_consumers": ["boss"],
    }));
    // allow_consumers bypasses every group rule, deny groups included.
    assert_eq!(decide(&mut p, &basic("admin", "banned")), Ok(()));
    // deny_consumers wins over allow_consumers.
    let body = decide(&mut p, &basic("boss", "_restricted")).unwrap_err();
    assert_eq!(body["consumer"], "boss");
    assert!(decide(&mut p, &basic("editor", "editor")).is_err());
    assert_eq!(decide(&mut p, &basic("r", "_restricted")), Ok(()));
}

#[test]
fn static_consumer_groups_add_to_the_context_groups() {
    let mut p = acl(json!({
        "allow": ["premium"],
        "deny": ["suspended"],
        "consumer_groups": {"viewer": ["premium"], "carl": ["premium", "suspended"]},
    }));
    assert_eq!(decide(&mut p, &basic("viewer", "viewer")), Ok(()));
    assert!(decide(&mut p, &basic("admin", "admin")).is_err());
    assert!(decide(&mut p, &basic("carl", "")).is_err());
    // The mapping applies to `auth.sub` when there is no `auth.consumer`.
    assert_eq!(run(&mut p, &[("auth.sub", "viewer")]).1, Action::Continue);
}

#[test]
fn scopes_are_groups_after_apikey_and_oauth2_only() {
    let mut p = acl(json!({"allow": ["orders:write"]}));
    for method in ["apikey", "oauth2"] {
        let ctx = [
            ("auth.consumer", "k1"),
            ("auth.scopes", "orders:read orders:write"),
            ("auth.method", method),
        ];
        assert_eq!(run(&mut p, &ctx).1, Action::Continue, "{method}");
    }
    // A JWT's scopes are not groups; its roles are.
    let ctx = [
        ("auth.consumer", "u"),
        ("auth.scopes", "orders:write"),
        ("auth.method", "jwt"),
    ];
    denied(run(&mut p, &ctx).1);
    let ctx = [
        ("auth.consumer", "u"),
        ("auth.roles", "orders:write"),
        ("auth.method", "jwt"),
    ];
    assert_eq!(run(&mut p, &ctx).1, Action::Continue);
}

#[test]
fn identity_headers_are_never_read() {
    let mut p = acl(json!({"allow": ["admin"]}));
    let mut host = FakeHost::new();
    host.header("x-auth-consumer", "mallory")
        .header("x-auth-consumer-groups", "admin");
    let body = denied(host.on_request(&mut p));
    assert!(body.get("consumer").is_none());
}

#[test]
fn message_and_hidden_consumer() {
    let mut p = acl(
        json!({"deny_consumers": ["eve"], "message": "No entry", "hide_consumer_in_errors": true}),
    );
    let body = decide(&mut p, &basic("eve", "")).unwrap_err();
    assert_eq!(
        body,
        json!({
            "type": "urn:barbacane:error:acl-denied",
            "title": "Forbidden",
            "status": 403,
            "detail": "No entry",
        })
    );
}

#[test]
fn a_refusal_leaves_the_context_alone() {
    let mut p = acl(json!({"allow": ["admin"]}));
    let (host, action) = run(&mut p, &[("auth.consumer", "v"), ("auth.roles", "viewer")]);
    denied(action);
    assert_eq!(host.context_value("auth.consumer").as_deref(), Some("v"));
    assert_eq!(host.context_value("auth.roles").as_deref(), Some("viewer"));
}

#[test]
fn bad_configurations_are_refused() {
    for (config, why) in [
        (json!({"allow": ["two words"]}), "allow"),
        (json!({"deny": [""]}), "deny"),
        (
            json!({"consumer_groups": {"a": ["x y"]}}),
            "consumer_groups.a",
        ),
        (json!({"consumer_groups": {"": ["x"]}}), "consumer_groups"),
        (json!({"allow_consumers": [""]}), "allow_consumers"),
        (json!({"deny_consumers": [""]}), "deny_consumers"),
    ] {
        let err = middleware_from::<Acl>(&config).unwrap_err();
        assert!(err.contains(why), "{config}: {err}");
    }
    assert!(middleware_from::<Acl>(&json!({"allowed": []})).is_err());
    assert!(middleware_from::<Acl>(&json!({"allow": "admin"})).is_err());
}
