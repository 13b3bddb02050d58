use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn refused(config: Value) -> String {
    match middleware_from::<Redirect>(&config) {
        Ok(_) => panic!("{config} was accepted"),
        Err(e) => e,
    }
}

/// What a plugin configured with `config` does with `path` and `query`: the status and
/// `Location` of its answer, or `None` when the request goes on.
fn redirect(config: &Value, path: &str, query: Option<&str>) -> Option<(u16, String)> {
    let mut host = FakeHost::new();
    let mut plugin: Redirect = middleware_from(config).unwrap();
    host.path(path);
    if let Some(q) = query {
        host.query(q);
    }
    match host.on_request(&mut plugin) {
        Action::Continue => {
            assert_eq!(host.response_status(), None);
            None
        }
        Action::Respond(response) => {
            assert!(response.body.is_empty());
            assert_eq!(response.headers.len(), 1, "{:?}", response.headers);
            // The answer is written into the exchange as the gateway does.
            let location = host.response_header("location").unwrap();
            assert_eq!(host.response_status(), Some(response.status));
            Some((response.status, location))
        }
        Action::RespondAsIs => panic!("redirect builds its own answers"),
    }
}

fn to(status: u16, location: &str) -> Option<(u16, String)> {
    Some((status, location.to_owned()))
}

// --- configuration ---------------------------------------------------------------------

#[test]
fn rules_are_required_and_not_empty() {
    assert!(refused(json!({})).contains("missing field `rules`"));
    assert!(refused(json!({"rules": []})).contains("rules is empty"));
}

#[test]
fn only_the_four_redirection_statuses_are_accepted() {
    for status in [300, 303, 304, 200, 404, 0] {
        let e = refused(json!({"status_code": status, "rules": [{"target": "/x"}]}));
        assert!(
            e.contains(&format!("status_code {status} is not a redirection status")),
            "{e}"
        );
        let e =
            refused(json!({"rules": [{"target": "/x"}, {"target": "/y", "status_code": status}]}));
        assert!(e.contains(&format!("rules[1].status_code {status}")), "{e}");
    }
    for status in STATUSES {
        let _host = FakeHost::new();
        let _: Redirect = middleware_from(
            &json!({"status_code": status, "rules": [{"target": "/x", "status_code": status}]}),
        )
        .unwrap();
    }
}

#[test]
fn a_rule_matches_one_way() {
    let e = refused(json!({"rules": [{"path": "/a", "prefix": "/b", "target": "/c"}]}));
    assert!(e.contains("rules[0] has both `path` and `prefix`"), "{e}");
    assert!(
        refused(json!({"rules": [{"path": "a", "target": "/c"}]}))
            .contains("rules[0].path `a` must start with `/`")
    );
    assert!(
        refused(json!({"rules": [{"prefix": "", "target": "/c"}]})).contains("rules[0].prefix")
    );
}

#[test]
fn targets_must_be_usable_locations() {
    assert!(refused(json!({"rules": [{"path": "/a"}]})).contains("missing field `target`"));
    assert!(refused(json!({"rules": [{"target": ""}]})).contains("rules[0].target is empty"));
    for bad in ["/a b", "/a\nb", "/a\tb"] {
        assert!(
            refused(json!({"rules": [{"target": bad}]}))
                .contains("whitespace or a control character"),
            "{bad:?}"
        );
    }
}

#[test]
fn unknown_keys_are_refused() {
    assert!(refused(json!({"rules": [{"target": "/x"}], "code": 301})).contains("unknown field"));
    assert!(refused(json!({"rules": [{"target": "/x", "regex": "a"}]})).contains("unknown field"));
}

// --- matching --------------------------------------------------------------------------

#[test]
fn path_rules_match_exactly() {
    let config = json!({"preserve_query": false, "rules": [{"path": "/old", "target": "/new"}]});
    assert_eq!(redirect(&config, "/old", None), to(302, "/new"));
    for other in ["/old/", "/older", "/old/x", "/OLD", "/"] {
        assert_eq!(redirect(&config, other, None), None, "{other}");
    }
}

#[test]
fn prefix_rules_match_at_a_segment_boundary_and_carry_the_rest() {
    let config = json!({"rules": [{"prefix": "/api/v1", "target": "/api/v2"}]});
    assert_eq!(
        redirect(&config, "/api/v1/users", Some("page=2")),
        to(302, "/api/v2/users?page=2")
    );
    assert_eq!(redirect(&config, "/api/v1", None), to(302, "/api/v2"));
    assert_eq!(redirect(&config, "/api/v1/", None), to(302, "/api/v2/"));
    assert_eq!(
        redirect(&config, "/api/v1/a/b%20c", None),
        to(302, "/api/v2/a/b%20c")
    );
    for other in ["/api/v1beta", "/api/v10/x", "/api", "/x/api/v1"] {
        assert_eq!(redirect(&config, other, None), None, "{other}");
    }
    // A trailing slash on either side.
    let config = json!({"rules": [{"prefix": "/old/", "target": "/new/"}]});
    assert_eq!(redirect(&config, "/old/x", None), to(302, "/new/x"));
    assert_eq!(redirect(&config, "/old", None), to(302, "/new/"));
    // `/` matches everything: moving a whole API to another host.
    let config = json!({"rules": [{"prefix": "/", "target": "https://new.example.com", "status_code": 308}]});
    assert_eq!(
        redirect(&config, "/pets/7", Some("a=1")),
        to(308, "https://new.example.com/pets/7?a=1")
    );
    assert_eq!(
        redirect(&config, "/", None),
        to(308, "https://new.example.com/")
    );
}

#[test]
fn a_rule_without_path_or_prefix_catches_everything() {
    let config =
        json!({"status_code": 301, "rules": [{"target": "https://example.com/maintenance"}]});
    assert_eq!(
        redirect(&config, "/anything/at/all", Some("x=1")),
        to(301, "https://example.com/maintenance?x=1")
    );
    assert_eq!(
        redirect(&config, "/", None),
        to(301, "https://example.com/maintenance")
    );
}

#[test]
fn the_first_matching_rule_wins() {
    let config = json!({"preserve_query": false, "rules": [
        {"path": "/a/special", "target": "/special", "status_code": 301},
        {"prefix": "/a", "target": "/b", "status_code": 307},
        {"target": "/fallback"}
    ]});
    assert_eq!(redirect(&config, "/a/special", None), to(301, "/special"));
    assert_eq!(
        redirect(&config, "/a/special/x", None),
        to(307, "/b/special/x")
    );
    assert_eq!(redirect(&config, "/a", None), to(307, "/b"));
    assert_eq!(redirect(&config, "/c", None), to(302, "/fallback"));
}

#[test]
fn unmatched_requests_go_on() {
    let config = json!({"rules": [{"path": "/a", "target": "/b"}]});
    let mut host = FakeHost::new();
    let mut plugin: Redirect = middleware_from(&config).unwrap();
    host.path("/c").query("x=1").header("x-a", "1");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    assert_eq!(host.request_path(), "/c");
    assert_eq!(host.request_query().as_deref(), Some("x=1"));
    assert_eq!(host.response_status(), None);
}

// --- status and query ------------------------------------------------------------------

#[test]
fn statuses_come_from_the_rule_or_the_default() {
    let config = json!({"status_code": 308, "rules": [
        {"path": "/a", "target": "/x"},
        {"path": "/b", "target": "/x", "status_code": 301},
        {"path": "/c", "target": "/x", "status_code": 307},
        {"path": "/d", "target": "/x", "status_code": 302}
    ]});
    for (path, status) in [("/a", 308), ("/b", 301), ("/c", 307), ("/d", 302)] {
        assert_eq!(redirect(&config, path, None).unwrap().0, status, "{path}");
    }
    let default = json!({"rules": [{"target": "/x"}]});
    assert_eq!(redirect(&default, "/", None).unwrap().0, 302);
}

#[test]
fn the_query_is_preserved_after_question_mark_or_ampersand() {
    let config = json!({"rules": [
        {"path": "/plain", "target": "/new"},
        {"path": "/with-query", "target": "/search?v=2"},
        {"path": "/bare", "target": "/search?"},
        {"path": "/fragment", "target": "/doc?v=1#part"},
        {"prefix": "/p", "target": "/q#top"}
    ]});
    assert_eq!(
        redirect(&config, "/plain", Some("q=cats&n=%20")),
        to(302, "/new?q=cats&n=%20")
    );
    assert_eq!(redirect(&config, "/plain", Some("")), to(302, "/new"));
    assert_eq!(redirect(&config, "/plain", None), to(302, "/new"));
    assert_eq!(
        redirect(&config, "/with-query", Some("q=cats")),
        to(302, "/search?v=2&q=cats")
    );
    assert_eq!(
        redirect(&config, "/with-query", None),
        to(302, "/search?v=2")
    );
    assert_eq!(
        redirect(&config, "/bare", Some("q=1")),
        to(302, "/search?q=1")
    );
    assert_eq!(redirect(&config, "/bare", None), to(302, "/search?"));
    assert_eq!(
        redirect(&config, "/fragment", Some("q=1")),
        to(302, "/doc?v=1&q=1#part")
    );
    assert_eq!(
        redirect(&config, "/p/x", Some("q=1")),
        to(302, "/q/x?q=1#top")
    );
}

#[test]
fn preserve_query_false_drops_the_request_query_but_keeps_the_targets() {
    let config = json!({"preserve_query": false, "rules": [
        {"path": "/a", "target": "/new"},
        {"path": "/b", "target": "/search?v=2"}
    ]});
    assert_eq!(redirect(&config, "/a", Some("q=cats")), to(302, "/new"));
    assert_eq!(
        redirect(&config, "/b", Some("q=cats")),
        to(302, "/search?v=2")
    );
}
