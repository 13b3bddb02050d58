use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

fn refused(config: Value) -> String {
    match middleware_from::<RequestTransformer>(&config) {
        Ok(_) => panic!("{config} was accepted"),
        Err(e) => e,
    }
}

/// Runs the request the host holds through a plugin configured with `config`.
fn run(host: &mut FakeHost, config: Value) {
    let mut plugin: RequestTransformer = middleware_from(&config).unwrap();
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
}

/// The path after a plugin with `path` settings ran on `path`.
fn path_after(path: &str, settings: Value) -> String {
    let mut host = FakeHost::new();
    host.path(path);
    run(&mut host, json!({ "path": settings }));
    host.request_path()
}

/// The query after a plugin with `querystring` settings ran on `query`.
fn query_after(query: Option<&str>, settings: Value) -> Option<String> {
    let mut host = FakeHost::new();
    if let Some(q) = query {
        host.query(q);
    }
    run(&mut host, json!({ "querystring": settings }));
    host.request_query()
}

/// The value header `x-out` gets from `headers.add` of `value`, on the request `setup`
/// prepared.
fn resolved(value: &str, setup: impl FnOnce(&mut FakeHost)) -> Option<String> {
    let mut host = FakeHost::new();
    setup(&mut host);
    run(&mut host, json!({"headers": {"add": {"x-out": value}}}));
    host.request_header("x-out")
}

/// The body after a plugin with `body` settings ran on a JSON request.
fn body_after(body: &str, settings: Value) -> String {
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .body(body.as_bytes());
    run(&mut host, json!({ "body": settings }));
    String::from_utf8(host.request_body().unwrap()).unwrap()
}

fn log_warnings(host: &FakeHost) -> Vec<String> {
    host.logs()
        .into_iter()
        .filter(|(level, _)| *level == 1)
        .map(|(_, m)| m)
        .collect()
}

// --- configuration ---------------------------------------------------------------------

#[test]
fn an_empty_configuration_changes_nothing_and_buffers_nothing() {
    let mut host = FakeHost::new();
    host.path("/a%20b/c")
        .query("x=1&&y")
        .header("x-a", "1")
        .header("content-type", "application/json")
        .body(b"{ \"a\" : 1 }");
    run(&mut host, json!({}));
    assert_eq!(host.request_path(), "/a%20b/c");
    assert_eq!(host.request_query().as_deref(), Some("x=1&&y"));
    assert_eq!(host.request_header("x-a").as_deref(), Some("1"));
    assert_eq!(host.request_body().unwrap(), b"{ \"a\" : 1 }");
    assert_eq!(host.buffered_bodies(), (false, false));
}

#[test]
fn request_bodies_are_asked_for_only_when_body_has_operations() {
    let host = FakeHost::new();
    let _: RequestTransformer = middleware_from(&json!({
        "headers": {"add": {"x-a": "1"}},
        "querystring": {"add": {"a": "1"}},
        "path": {"add_prefix": "/v1"},
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
        let _: RequestTransformer = middleware_from(&json!({ "body": body })).unwrap();
        assert_eq!(host.buffered_bodies(), (true, false), "{body}");
    }
}

#[test]
fn unknown_keys_and_incomplete_replace_are_refused() {
    assert!(refused(json!({"header": {}})).contains("unknown field"));
    assert!(refused(json!({"headers": {"append": {}}})).contains("unknown field"));
    assert!(refused(json!({"path": {"replace": {"pattern": "a"}}})).contains("replacement"));
    assert!(refused(json!({"body": {"add": {"/a": 1}}})).contains("invalid"));
}

#[test]
fn invalid_header_names_and_values_are_refused() {
    assert!(
        refused(json!({"headers": {"add": {"x a": "1"}}}))
            .contains("`x a` is not a valid header name")
    );
    assert!(refused(json!({"headers": {"remove": [""]}})).contains("not a valid header name"));
    assert!(
        refused(json!({"headers": {"rename": {"x-a": "x:b"}}})).contains("not a valid header name")
    );
    assert!(refused(json!({"headers": {"set": {"x-a": "a\r\nb"}}})).contains("control character"));
    // A tab is a valid header value character.
    let _host = FakeHost::new();
    let _: RequestTransformer =
        middleware_from(&json!({"headers": {"add": {"x-a": "a\tb"}}})).unwrap();
}

#[test]
fn framing_and_hop_by_hop_headers_can_be_removed_but_not_written() {
    for name in RESERVED_HEADERS {
        let upper = name.to_ascii_uppercase();
        for config in [
            json!({"headers": {"add": {upper.clone(): "1"}}}),
            json!({"headers": {"set": {name: "1"}}}),
            json!({"headers": {"rename": {"x-a": name}}}),
        ] {
            assert!(
                refused(config).contains("only the gateway writes it"),
                "{name}"
            );
        }
        let _host = FakeHost::new();
        let _: RequestTransformer = middleware_from(&json!({
            "headers": {"remove": [name], "rename": {name: "x-was"}}
        }))
        .unwrap();
    }
}

#[test]
fn query_names_must_not_be_empty() {
    assert!(refused(json!({"querystring": {"add": {"": "1"}}})).contains("querystring.add"));
    assert!(refused(json!({"querystring": {"remove": [""]}})).contains("querystring.remove"));
    assert!(refused(json!({"querystring": {"rename": {"a": ""}}})).contains("querystring.rename"));
}

#[test]
fn prefixes_must_be_paths() {
    assert!(refused(json!({"path": {"strip_prefix": "api"}})).contains("must start with `/`"));
    assert!(refused(json!({"path": {"add_prefix": ""}})).contains("must start with `/`"));
    for bad in ["/a?b", "/a#b", "/a b", "/a\tb"] {
        assert!(
            refused(json!({"path": {"add_prefix": bad}})).contains("may not hold"),
            "{bad}"
        );
    }
}

#[test]
fn invalid_patterns_and_unknown_groups_are_refused() {
    let e = refused(json!({"path": {"replace": {"pattern": "^/(a", "replacement": "/"}}}));
    assert!(
        e.contains("path.replace.pattern `^/(a` is not a valid regular expression"),
        "{e}"
    );
    // Unicode mode is off: a Unicode class cannot be used.
    assert!(
        refused(json!({"path": {"replace": {"pattern": "\\p{Greek}", "replacement": "/"}}}))
            .contains("not a valid regular expression")
    );
    let e = refused(json!({"path": {"replace": {"pattern": "^/(a)", "replacement": "/$2"}}}));
    assert!(e.contains("refers to group `2`"), "{e}");
    let e = refused(json!({"path": {"replace": {"pattern": "^/(a)", "replacement": "/$1x"}}}));
    assert!(e.contains("group `1x`") && e.contains("${1}x"), "{e}");
    let e =
        refused(json!({"path": {"replace": {"pattern": "^/(?P<id>a)", "replacement": "/${di}"}}}));
    assert!(e.contains("group `di`"), "{e}");
    let _host = FakeHost::new();
    let _: RequestTransformer = middleware_from(&json!({"path": {"replace": {
        "pattern": "^/(?P<id>a)(b)", "replacement": "/$0/$1/${id}/${2}x/$id/$$1/$"
    }}}))
    .unwrap();
}

#[test]
fn invalid_pointers_are_refused() {
    for (config, fragment) in [
        (json!({"body": {"remove": [""]}}), "empty pointer"),
        (json!({"body": {"remove": ["a"]}}), "must start with `/`"),
        (
            json!({"body": {"add": {"/a~2": "x"}}}),
            "`~` must be followed",
        ),
        (
            json!({"body": {"rename": {"/a": "/b~"}}}),
            "`~` must be followed",
        ),
    ] {
        let e = refused(config);
        assert!(e.contains(fragment) && e.contains("body."), "{e}");
    }
}

// --- path ------------------------------------------------------------------------------

#[test]
fn strip_prefix_strips_only_at_a_segment_boundary() {
    let strip = |path: &str, prefix: &str| path_after(path, json!({"strip_prefix": prefix}));
    assert_eq!(strip("/api/users/7", "/api"), "/users/7");
    assert_eq!(strip("/api", "/api"), "/");
    assert_eq!(strip("/api/", "/api"), "/");
    assert_eq!(strip("/apix/users", "/api"), "/apix/users");
    assert_eq!(strip("/other/api", "/api"), "/other/api");
    // A trailing slash of the prefix does not matter.
    assert_eq!(strip("/api/users", "/api/"), "/users");
    assert_eq!(strip("/api", "/api/"), "/");
    // Case-sensitive; `/` alone strips nothing.
    assert_eq!(strip("/API/users", "/api"), "/API/users");
    assert_eq!(strip("/users", "/"), "/users");
}

#[test]
fn add_prefix_goes_in_front_and_applies_after_strip() {
    assert_eq!(
        path_after("/users", json!({"add_prefix": "/v2"})),
        "/v2/users"
    );
    assert_eq!(
        path_after("/users", json!({"add_prefix": "/v2/"})),
        "/v2/users"
    );
    assert_eq!(path_after("/", json!({"add_prefix": "/v2"})), "/v2/");
    assert_eq!(
        path_after(
            "/api/users",
            json!({"strip_prefix": "/api", "add_prefix": "/internal/v2"})
        ),
        "/internal/v2/users"
    );
    assert_eq!(
        path_after(
            "/other",
            json!({"strip_prefix": "/api", "add_prefix": "/v2"})
        ),
        "/v2/other"
    );
}

#[test]
fn replace_rewrites_every_match_with_groups_after_the_prefixes() {
    let replace = |path: &str, pattern: &str, replacement: &str| {
        path_after(
            path,
            json!({"replace": {"pattern": pattern, "replacement": replacement}}),
        )
    };
    assert_eq!(
        replace(
            "/users/42/orders",
            r"^/users/(\d+)/orders$",
            "/orders?user=$1"
        ),
        "/orders%3Fuser=42"
    );
    assert_eq!(
        replace(
            "/users/42",
            r"^/users/(?P<id>\d+)$",
            "/people/${id}/profile"
        ),
        "/people/42/profile"
    );
    assert_eq!(replace("/a/v1/b/v1", "v1", "v2"), "/a/v2/b/v2");
    assert_eq!(replace("/Pets/1", "(?i)^/pets", "/animals"), "/animals/1");
    assert_eq!(replace("/x/y", r"\w+", "${0}0"), "/x0/y0");
    assert_eq!(replace("/users", "^/users$", "/$$"), "/$");
    // No match: unchanged.
    assert_eq!(replace("/pets", "^/users", "/people"), "/pets");
    // Order: strip, add, then replace (which sees the prefixed path).
    assert_eq!(
        path_after(
            "/api/users/7",
            json!({"strip_prefix": "/api", "add_prefix": "/v1", "replace": {"pattern": "^/v1/users", "replacement": "/v1/people"}})
        ),
        "/v1/people/7"
    );
}

#[test]
fn a_replaced_path_is_made_valid() {
    let replace = |path: &str, pattern: &str, replacement: &str| {
        path_after(
            path,
            json!({"replace": {"pattern": pattern, "replacement": replacement}}),
        )
    };
    assert_eq!(replace("/users", "^/users$", ""), "/");
    assert_eq!(replace("/users", "^/", ""), "/users");
    assert_eq!(
        replace("/a", "^/a$", "/a b#c\"é|%zz%2F"),
        "/a%20b%23c%22%C3%A9%7C%25zz%2F"
    );
    // Untouched escapes and sub-delimiters stay as they are.
    assert_eq!(replace("/a%20b/c;d=1", "^/a", "/x"), "/x%20b/c;d=1");
}

// --- headers ---------------------------------------------------------------------------

#[test]
fn add_overwrites_and_set_only_fills_in() {
    let mut host = FakeHost::new();
    host.header("x-existing", "one")
        .header("x-existing", "two")
        .header("x-kept", "old");
    run(
        &mut host,
        json!({"headers": {
            "add": {"X-Existing": "new", "x-fresh": "added"},
            "set": {"x-kept": "ignored", "x-defaulted": "default"}
        }}),
    );
    assert_eq!(host.request_headers("x-existing"), vec!["new"]);
    assert_eq!(host.request_headers("x-fresh"), vec!["added"]);
    assert_eq!(host.request_headers("x-kept"), vec!["old"]);
    assert_eq!(host.request_headers("x-defaulted"), vec!["default"]);
}

#[test]
fn set_keeps_a_present_but_empty_header() {
    let mut host = FakeHost::new();
    host.header("x-a", "");
    run(&mut host, json!({"headers": {"set": {"x-a": "filled"}}}));
    assert_eq!(host.request_headers("x-a"), vec![""]);
}

#[test]
fn remove_is_case_insensitive_and_removes_every_value() {
    let mut host = FakeHost::new();
    host.header("x-secret", "1")
        .header("x-secret", "2")
        .header("x-other", "3");
    run(
        &mut host,
        json!({"headers": {"remove": ["X-SECRET", "x-absent"]}}),
    );
    assert!(host.request_headers("x-secret").is_empty());
    assert_eq!(host.request_headers("x-other"), vec!["3"]);
}

#[test]
fn rename_moves_every_value_and_replaces_the_target() {
    let mut host = FakeHost::new();
    host.header("x-old", "1")
        .header("x-old", "2")
        .header("x-new", "stale");
    run(
        &mut host,
        json!({"headers": {"rename": {"X-Old": "X-New", "x-missing": "x-never", "x-same": "X-SAME"}}}),
    );
    assert!(host.request_headers("x-old").is_empty());
    assert_eq!(host.request_headers("x-new"), vec!["1", "2"]);
    assert!(host.request_headers("x-never").is_empty());
}

#[test]
fn header_operations_run_remove_rename_set_add() {
    let mut host = FakeHost::new();
    host.header("x-a", "from-client").header("x-b", "b");
    run(
        &mut host,
        json!({"headers": {
            // remove runs first: set then fills x-a in again.
            "remove": ["x-a"],
            "set": {"x-a": "set", "x-c": "set"},
            // rename runs before set: x-c exists when set looks.
            "rename": {"x-b": "x-c"},
            // add runs last and wins over set.
            "add": {"x-d": "added"},
        }}),
    );
    assert_eq!(host.request_headers("x-a"), vec!["set"]);
    assert_eq!(host.request_headers("x-c"), vec!["b"]);
    assert_eq!(host.request_headers("x-d"), vec!["added"]);
    let mut host = FakeHost::new();
    run(
        &mut host,
        json!({"headers": {"set": {"x-e": "set"}, "add": {"x-e": "added"}}}),
    );
    assert_eq!(host.request_headers("x-e"), vec!["added"]);
}

#[test]
fn a_value_the_gateway_refuses_is_skipped_with_a_warning() {
    let mut host = FakeHost::new();
    host.header("x-evil", "a\nb");
    run(
        &mut host,
        json!({"headers": {"add": {"x-copy": "$header.x-evil", "x-fine": "ok"}}}),
    );
    assert_eq!(host.request_header("x-copy"), None);
    assert_eq!(host.request_header("x-fine").as_deref(), Some("ok"));
    let warnings = log_warnings(&host);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("x-copy"));
    assert!(!warnings[0].contains("a\nb"), "values are not logged");
}

// --- variables -------------------------------------------------------------------------

#[test]
fn client_ip_is_the_peer_address_or_empty() {
    assert_eq!(
        resolved("$client_ip", |h| {
            h.client_ip("203.0.113.7");
        })
        .as_deref(),
        Some("203.0.113.7")
    );
    assert_eq!(
        resolved("for=$client_ip;by=gw", |h| {
            h.client_ip("2001:db8::1");
        })
        .as_deref(),
        Some("for=2001:db8::1;by=gw")
    );
    assert_eq!(
        resolved("[$client_ip]", |h| {
            h.unknown_client_ip();
        })
        .as_deref(),
        Some("[]")
    );
    // `$client_ipv6` is no variable; `$client_ip-x` is the address then `-x`.
    assert_eq!(
        resolved("$client_ipv6", |_| {}).as_deref(),
        Some("$client_ipv6")
    );
    assert_eq!(
        resolved("$client_ip-x", |_| {}).as_deref(),
        Some("127.0.0.1-x")
    );
}

#[test]
fn header_variables_are_case_insensitive_first_values() {
    let setup = |h: &mut FakeHost| {
        h.header("X-Tenant", "acme").header("x-tenant", "other");
    };
    assert_eq!(resolved("$header.X-TENANT", setup).as_deref(), Some("acme"));
    assert_eq!(
        resolved("t=$header.x-tenant.", setup).as_deref(),
        Some("t=acme.")
    );
    assert_eq!(
        resolved("[$header.x-missing]", setup).as_deref(),
        Some("[]")
    );
}

#[test]
fn query_variables_are_decoded_first_values() {
    let setup = |h: &mut FakeHost| {
        h.query("q=a%20b%2Bc+d&q=second&page.size=5&flag");
    };
    assert_eq!(resolved("$query.q", setup).as_deref(), Some("a b+c+d"));
    assert_eq!(resolved("$query.page.size", setup).as_deref(), Some("5"));
    assert_eq!(resolved("[$query.flag]", setup).as_deref(), Some("[]"));
    assert_eq!(resolved("[$query.Q]", setup).as_deref(), Some("[]"));
    assert_eq!(resolved("[$query.q]", |_| {}).as_deref(), Some("[]"));
}

#[test]
fn cookie_variables_read_the_cookie_header() {
    let setup = |h: &mut FakeHost| {
        h.header("cookie", "theme=dark; sso=tok3n==")
            .header("cookie", "lang=fr");
    };
    assert_eq!(
        resolved("Bearer $cookie.sso", setup).as_deref(),
        Some("Bearer tok3n==")
    );
    assert_eq!(resolved("$cookie.lang", setup).as_deref(), Some("fr"));
    assert_eq!(resolved("[$cookie.SSO]", setup).as_deref(), Some("[]"));
    assert_eq!(resolved("[$cookie.sso]", |_| {}).as_deref(), Some("[]"));
    assert_eq!(
        template::cookie(&["a=1;b = 2 ;c".to_owned()], "b").as_deref(),
        Some("2")
    );
}

#[test]
fn path_parameters_come_from_the_route() {
    assert_eq!(
        resolved("user-$path.id", |h| {
            h.path("/users/42").path_param("id", "42");
        })
        .as_deref(),
        Some("user-42")
    );
    // A name the route does not have is empty.
    assert_eq!(
        resolved("user-$path.other", |h| {
            h.path("/users/42").path_param("id", "42");
        })
        .as_deref(),
        Some("user-")
    );
}

#[test]
fn context_values_resolve_only_as_the_whole_value() {
    let setup = |h: &mut FakeHost| {
        h.context("auth.sub", "alice");
    };
    assert_eq!(
        resolved("context:auth.sub", setup).as_deref(),
        Some("alice")
    );
    assert_eq!(resolved("context:missing", setup).as_deref(), Some(""));
    assert_eq!(
        resolved("user context:auth.sub", setup).as_deref(),
        Some("user context:auth.sub")
    );
    assert_eq!(resolved("context:", setup).as_deref(), Some("context:"));
    // No `$` interpolation inside a context reference.
    assert_eq!(
        resolved("context:$header.x", |h| {
            h.context("$header.x", "literal key");
        })
        .as_deref(),
        Some("literal key")
    );
}

#[test]
fn unknown_dollar_expressions_are_kept() {
    for value in [
        "$5",
        "$unknown.x",
        "cost: 5$",
        "$$",
        "$header.",
        "$query.!",
        "a$",
    ] {
        assert_eq!(resolved(value, |_| {}).as_deref(), Some(value), "{value}");
    }
    assert_eq!(
        resolved("$unknown.x-$header.x-a", |h| {
            h.header("x-a", "1");
        })
        .as_deref(),
        Some("$unknown.x-1")
    );
}

#[test]
fn template_parsing() {
    use template::{Piece, Var};
    assert_eq!(
        Template::parse("Bearer $cookie.sso."),
        Template::Pieces(vec![
            Piece::Text("Bearer ".into()),
            Piece::Var(Var::Cookie("sso".into())),
            Piece::Text(".".into()),
        ])
    );
    assert_eq!(
        Template::parse("$header.X-A$query.b"),
        Template::Pieces(vec![
            Piece::Var(Var::Header("x-a".into())),
            Piece::Var(Var::Query("b".into())),
        ])
    );
    assert_eq!(Template::parse(""), Template::Pieces(vec![]));
    assert_eq!(Template::parse("context:k"), Template::Context("k".into()));
}

#[test]
fn variables_read_the_request_as_it_arrived() {
    let mut host = FakeHost::new();
    host.header("authorization", "Bearer abc")
        .query("token=t1&keep=1")
        .header("x-old", "renamed");
    run(
        &mut host,
        json!({
            "headers": {
                "remove": ["authorization"],
                "rename": {"x-old": "x-new"},
                "add": {"x-auth": "$header.authorization", "x-token": "$query.token", "x-was": "$header.x-old"},
                "set": {"x-new-seen": "[$header.x-new]"}
            },
            "querystring": {"remove": ["token"], "add": {"auth": "$header.authorization"}}
        }),
    );
    assert_eq!(host.request_header("authorization"), None);
    assert_eq!(host.request_header("x-auth").as_deref(), Some("Bearer abc"));
    assert_eq!(host.request_header("x-token").as_deref(), Some("t1"));
    assert_eq!(host.request_header("x-was").as_deref(), Some("renamed"));
    assert_eq!(host.request_header("x-new-seen").as_deref(), Some("[]"));
    assert_eq!(
        host.request_query().as_deref(),
        Some("keep=1&auth=Bearer%20abc")
    );
}

#[test]
fn skip_if_empty_skips_values_with_an_empty_variable() {
    let config = |skip: bool| {
        json!({
            "skip_if_empty": skip,
            "headers": {
                "add": {"x-auth": "Bearer $cookie.sso", "x-literal": "", "x-ip": "$client_ip"},
                "set": {"x-user": "context:auth.sub", "x-tenant": "$header.x-tenant"}
            },
            "querystring": {"add": {"user": "$query.u", "fixed": ""}},
            "body": {"add": {"/user": "$header.x-user", "/fixed": "f"}}
        })
    };
    let mut host = FakeHost::new();
    host.header("content-type", "application/json").body(b"{}");
    run(&mut host, config(true));
    assert_eq!(host.request_header("x-auth"), None);
    assert_eq!(host.request_header("x-user"), None);
    assert_eq!(host.request_header("x-tenant"), None);
    assert_eq!(host.request_header("x-literal").as_deref(), Some(""));
    assert_eq!(host.request_header("x-ip").as_deref(), Some("127.0.0.1"));
    assert_eq!(host.request_query().as_deref(), Some("fixed="));
    assert_eq!(host.request_body().unwrap(), br#"{"fixed":"f"}"#);

    let mut host = FakeHost::new();
    host.header("content-type", "application/json").body(b"{}");
    run(&mut host, config(false));
    assert_eq!(host.request_header("x-auth").as_deref(), Some("Bearer "));
    assert_eq!(host.request_header("x-user").as_deref(), Some(""));
    assert_eq!(host.request_header("x-tenant").as_deref(), Some(""));
    assert_eq!(host.request_query().as_deref(), Some("fixed=&user="));
    assert_eq!(host.request_body().unwrap(), br#"{"fixed":"f","user":""}"#);

    // Every variable present: written.
    let mut host = FakeHost::new();
    host.header("cookie", "sso=s").context("auth.sub", "alice");
    run(&mut host, config(true));
    assert_eq!(host.request_header("x-auth").as_deref(), Some("Bearer s"));
    assert_eq!(host.request_header("x-user").as_deref(), Some("alice"));
}

// --- query string ----------------------------------------------------------------------

#[test]
fn remove_drops_every_occurrence_and_keeps_the_rest_as_sent() {
    assert_eq!(
        query_after(
            Some("a=1&b=%7Ex+y&a=2&c&&d=%zz"),
            json!({"remove": ["a", "missing"]})
        )
        .as_deref(),
        Some("b=%7Ex+y&c&&d=%zz")
    );
    // Names are compared decoded, case-sensitively.
    assert_eq!(
        query_after(Some("%61=1&A=2&a%20b=3"), json!({"remove": ["a", "a b"]})).as_deref(),
        Some("A=2")
    );
    // Nothing left: the query goes away.
    assert_eq!(query_after(Some("a=1"), json!({"remove": ["a"]})), None);
    assert_eq!(query_after(None, json!({"remove": ["a"]})), None);
}

#[test]
fn rename_keeps_values_and_places() {
    assert_eq!(
        query_after(
            Some("x=0&old=1&y=2&old=%203"),
            json!({"rename": {"old": "new name"}})
        )
        .as_deref(),
        Some("x=0&new%20name=1&y=2&new%20name=%203")
    );
    assert_eq!(
        query_after(
            Some("new=stale&old=1&flag"),
            json!({"rename": {"old": "new", "flag": "f"}})
        )
        .as_deref(),
        Some("new=1&f")
    );
    assert_eq!(
        query_after(Some("new=kept"), json!({"rename": {"old": "new"}})).as_deref(),
        Some("new=kept")
    );
}

#[test]
fn add_replaces_the_first_occurrence_or_appends_encoded() {
    assert_eq!(
        query_after(Some("a=1&b=2&a=3"), json!({"add": {"a": "x y&z=é+"}})).as_deref(),
        Some("a=x%20y%26z%3D%C3%A9%2B&b=2")
    );
    assert_eq!(
        query_after(Some("b=2"), json!({"add": {"new key": "v"}})).as_deref(),
        Some("b=2&new%20key=v")
    );
    assert_eq!(
        query_after(None, json!({"add": {"a": "1", "b": ""}})).as_deref(),
        Some("a=1&b=")
    );
}

#[test]
fn query_operations_run_remove_rename_add() {
    assert_eq!(
        query_after(
            Some("a=1&b=2&c=3"),
            json!({"remove": ["a"], "rename": {"b": "a"}, "add": {"a": "added", "c": "set"}})
        )
        .as_deref(),
        Some("a=added&c=set")
    );
}

#[test]
fn query_encoding_helpers() {
    assert_eq!(query::decode("a%20b%2bc+%zz%4"), "a b+c+%zz%4");
    assert_eq!(query::decode("%C3%A9%FF"), "é\u{fffd}");
    assert_eq!(
        query::encode("aZ09-._~ /?&=+%é"),
        "aZ09-._~%20%2F%3F%26%3D%2B%25%C3%A9"
    );
}

// --- body ------------------------------------------------------------------------------

#[test]
fn body_operations_run_remove_rename_add() {
    let out = body_after(
        r#"{"id": 1, "secret": "s", "old": {"x": [1, 2]}, "keep": true}"#,
        json!({
            "remove": ["/secret", "/missing"],
            "rename": {"/old": "/new"},
            "add": {"/meta/source": "gateway", "/id": "replaced", "/new/x/-": "3"}
        }),
    );
    assert_eq!(
        out,
        r#"{"id": "replaced", "keep": true,"new":{"x": [1, 2,"3"]},"meta":{"source":"gateway"}}"#
    );
    serde_json::from_str::<Value>(&out).unwrap();
}

#[test]
fn body_add_values_are_interpolated_json_strings() {
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .header("x-name", "say \"hi\" \\ now")
        .body(b"{}");
    run(
        &mut host,
        json!({"body": {"add": {"/who": "$header.x-name", "/ip": "$client_ip", "/a~1b": "slash", "/c~0d": "tilde"}}}),
    );
    let out: Value = serde_json::from_slice(&host.request_body().unwrap()).unwrap();
    assert_eq!(
        out,
        json!({"who": "say \"hi\" \\ now", "ip": "127.0.0.1", "a/b": "slash", "c~d": "tilde"})
    );
}

#[test]
fn bodies_that_are_not_json_pass_through() {
    let config = json!({"body": {"add": {"/a": "1"}}});
    for (content_type, body) in [
        (Some("text/plain"), "{}"),
        (Some("application/jsonx"), "{}"),
        (Some("application/+json"), "{}"),
        (Some("text/json"), "{}"),
        (None, "{}"),
        (Some("application/json"), "{not json"),
        (Some("application/json"), "{} {}"),
        (Some("application/json"), ""),
    ] {
        let mut host = FakeHost::new();
        if let Some(t) = content_type {
            host.header("content-type", t);
        }
        host.body(body.as_bytes());
        run(&mut host, config.clone());
        assert_eq!(
            host.request_body().unwrap(),
            body.as_bytes(),
            "{content_type:?}"
        );
    }
    let mut host = FakeHost::new();
    host.header("content-type", "application/json");
    run(&mut host, config.clone());
    assert_eq!(host.request_body(), None);
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(b"{}");
    run(&mut host, config.clone());
    assert_eq!(host.request_body().unwrap(), b"{}");
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .header("content-encoding", "Identity")
        .body(b"{}");
    run(&mut host, config.clone());
    assert_eq!(host.request_body().unwrap(), br#"{"a":"1"}"#);
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .body(&[b'"', 0xff, b'"']);
    run(&mut host, config);
    assert_eq!(host.request_body().unwrap(), vec![b'"', 0xff, b'"']);
}

#[test]
fn json_media_types_are_recognized() {
    for yes in [
        "application/json",
        "Application/JSON; charset=utf-8",
        " application/json ;x=y",
        "application/vnd.api+json",
        "application/problem+json",
        "application/merge-patch+json",
    ] {
        assert!(json::is_json_media_type(yes), "{yes}");
    }
    for no in [
        "",
        "json",
        "text/json",
        "application/json-seq",
        "application/+json",
        "application/jsonp",
    ] {
        assert!(!json::is_json_media_type(no), "{no}");
    }
}

#[test]
fn content_length_follows_a_changed_body() {
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .header("content-length", "9")
        .body(br#"{"a": 1}"#);
    run(&mut host, json!({"body": {"add": {"/b": "xy"}}}));
    let body = host.request_body().unwrap();
    assert_eq!(body, br#"{"a": 1,"b":"xy"}"#);
    assert_eq!(
        host.request_headers("content-length"),
        vec![body.len().to_string()]
    );
    // Unchanged body: nothing is written.
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .header("content-length", "9")
        .body(br#"{"a": 1}"#);
    run(&mut host, json!({"body": {"remove": ["/b"]}}));
    assert_eq!(host.request_headers("content-length"), vec!["9"]);
    // Without Content-Length (chunked), none is added.
    let mut host = FakeHost::new();
    host.header("content-type", "application/json").body(b"{}");
    run(&mut host, json!({"body": {"add": {"/b": "x"}}}));
    assert_eq!(host.request_header("content-length"), None);
}

// --- JSON editing ----------------------------------------------------------------------

fn p(text: &str) -> Pointer {
    Pointer::parse(text).unwrap()
}

/// The JSON edits on a copy of `doc`: the new text, or `None` when the edit did nothing
/// (and left the copy as it was).
mod edit {
    use super::*;

    fn on(doc: &str, f: impl FnOnce(&mut String) -> bool) -> Option<String> {
        let mut copy = doc.to_owned();
        let changed = f(&mut copy);
        if !changed {
            assert_eq!(copy, doc, "a refused edit must leave the document alone");
        }
        changed.then_some(copy)
    }

    pub fn remove(doc: &str, pointer: &Pointer) -> Option<String> {
        on(doc, |d| json::remove(d, pointer))
    }

    pub fn set(doc: &str, pointer: &Pointer, value: &str) -> Option<String> {
        on(doc, |d| json::set(d, pointer, value))
    }

    pub fn rename(doc: &str, from: &Pointer, to: &Pointer) -> Option<String> {
        on(doc, |d| json::rename(d, from, to))
    }
}

#[test]
fn json_remove_cuts_members_and_elements_with_their_comma() {
    let doc = r#"{ "a" : 1 , "b" : [ 1 , 2 , 3 ] , "c" : { "d" : null } }"#;
    assert_eq!(
        edit::remove(doc, &p("/a")).unwrap(),
        r#"{ "b" : [ 1 , 2 , 3 ] , "c" : { "d" : null } }"#
    );
    assert_eq!(
        edit::remove(doc, &p("/c")).unwrap(),
        r#"{ "a" : 1 , "b" : [ 1 , 2 , 3 ] }"#
    );
    assert_eq!(
        edit::remove(doc, &p("/c/d")).unwrap(),
        r#"{ "a" : 1 , "b" : [ 1 , 2 , 3 ] , "c" : {  } }"#
    );
    assert_eq!(
        edit::remove(doc, &p("/b/1")).unwrap(),
        r#"{ "a" : 1 , "b" : [ 1 , 3 ] , "c" : { "d" : null } }"#
    );
    assert_eq!(
        edit::remove(doc, &p("/b/2")).unwrap(),
        r#"{ "a" : 1 , "b" : [ 1 , 2 ] , "c" : { "d" : null } }"#
    );
    for absent in ["/x", "/b/3", "/b/-", "/b/01", "/a/x", "/c/d/e", "/b/x"] {
        assert_eq!(edit::remove(doc, &p(absent)), None, "{absent}");
    }
    // A repeated name: every occurrence; an array index: once.
    assert_eq!(
        edit::remove(r#"{"a":1,"b":2,"a":3}"#, &p("/a")).unwrap(),
        r#"{"b":2}"#
    );
    assert_eq!(edit::remove("[1,2,3]", &p("/0")).unwrap(), "[2,3]");
    // Escaped names match their unescaped form.
    assert_eq!(
        edit::remove(r#"{"a\/b":1,"\u0063":2}"#, &p("/a~1b")).unwrap(),
        r#"{"\u0063":2}"#
    );
    assert_eq!(
        edit::remove(r#"{"a\/b":1,"\u0063":2}"#, &p("/c")).unwrap(),
        r#"{"a\/b":1}"#
    );
    // Scalars have no members.
    assert_eq!(edit::remove(r#""text""#, &p("/a")), None);
}

#[test]
fn json_set_replaces_appends_and_creates_objects() {
    let s = |doc: &str, ptr: &str| edit::set(doc, &p(ptr), r#""v""#);
    assert_eq!(s(r#"{"a":{"b":1}}"#, "/a/b").unwrap(), r#"{"a":{"b":"v"}}"#);
    assert_eq!(s(r#"{"a":{"b":1}}"#, "/a").unwrap(), r#"{"a":"v"}"#);
    assert_eq!(s(r#"{"a":{}}"#, "/a/b").unwrap(), r#"{"a":{"b":"v"}}"#);
    assert_eq!(s(r#"{ }"#, "/x/y/z").unwrap(), r#"{"x":{"y":{"z":"v"}} }"#);
    assert_eq!(s(r#"{"a":[1,2]}"#, "/a/0").unwrap(), r#"{"a":["v",2]}"#);
    assert_eq!(s(r#"{"a":[1,2]}"#, "/a/-").unwrap(), r#"{"a":[1,2,"v"]}"#);
    assert_eq!(s(r#"{"a":[1,2]}"#, "/a/2").unwrap(), r#"{"a":[1,2,"v"]}"#);
    assert_eq!(s(r#"{"a":[]}"#, "/a/-").unwrap(), r#"{"a":["v"]}"#);
    assert_eq!(s(r#"{"a":[]}"#, "/a/-/b").unwrap(), r#"{"a":[{"b":"v"}]}"#);
    assert_eq!(
        s(r#"{"a":[{"b":1}]}"#, "/a/0/c").unwrap(),
        r#"{"a":[{"b":1,"c":"v"}]}"#
    );
    // Numeric tokens name members of objects.
    assert_eq!(s(r#"{}"#, "/0").unwrap(), r#"{"0":"v"}"#);
    // Names are written escaped.
    assert_eq!(s(r#"{}"#, "/a\"b").unwrap(), r#"{"a\"b":"v"}"#);
    // Places that cannot exist.
    for ptr in ["/a/3", "/a/x", "/a/01", "/s/x", "/n/x"] {
        assert_eq!(s(r#"{"a":[1,2],"s":"str","n":null}"#, ptr), None, "{ptr}");
    }
    assert_eq!(s("42", "/a"), None);
    // The last of repeated names is the one replaced.
    assert_eq!(s(r#"{"a":1,"a":2}"#, "/a").unwrap(), r#"{"a":1,"a":"v"}"#);
}

#[test]
fn json_rename_moves_or_leaves_the_document_alone() {
    let doc = r#"{"a":{"x":1},"b":"s","list":[10,20]}"#;
    let r = |from: &str, to: &str| edit::rename(doc, &p(from), &p(to));
    assert_eq!(
        r("/a", "/c").unwrap(),
        r#"{"b":"s","list":[10,20],"c":{"x":1}}"#
    );
    assert_eq!(
        r("/a/x", "/b2/y").unwrap(),
        r#"{"a":{},"b":"s","list":[10,20],"b2":{"y":1}}"#
    );
    assert_eq!(r("/a", "/b").unwrap(), r#"{"b":{"x":1},"list":[10,20]}"#);
    assert_eq!(
        r("/list/0", "/first").unwrap(),
        r#"{"a":{"x":1},"b":"s","list":[20],"first":10}"#
    );
    assert_eq!(
        r("/a", "/a/inner").unwrap(),
        r#"{"b":"s","list":[10,20],"a":{"inner":{"x":1}}}"#
    );
    // Missing source, impossible destination, same place: nothing.
    assert_eq!(r("/missing", "/c"), None);
    assert_eq!(r("/a", "/b/x"), None);
    assert_eq!(r("/a", "/list/5"), None);
    assert_eq!(r("/a", "/a"), None);
}

#[test]
fn json_edits_keep_untouched_bytes() {
    let doc = "{\n  \"n\": 1.50e3,\n  \"s\": \"\\u00e9\",\n  \"z\": [ ]\n}\n";
    let out = edit::set(doc, &p("/z/-"), "true").unwrap();
    assert_eq!(
        out,
        "{\n  \"n\": 1.50e3,\n  \"s\": \"\\u00e9\",\n  \"z\": [true ]\n}\n"
    );
    let out = edit::remove(&out, &p("/s")).unwrap();
    assert_eq!(out, "{\n  \"n\": 1.50e3,\n  \"z\": [true ]\n}\n");
    serde_json::from_str::<Value>(&out).unwrap();
}

#[test]
fn json_scanning_handles_strings_with_brackets_and_escapes() {
    let doc = r#"{"a":"}]\",{[","b":{"c":"\\"},"d":[["]"],{"e":"}"}]}"#;
    assert_eq!(
        edit::remove(doc, &p("/b")).unwrap(),
        r#"{"a":"}]\",{[","d":[["]"],{"e":"}"}]}"#
    );
    assert_eq!(
        edit::remove(doc, &p("/d/1/e")).unwrap(),
        r#"{"a":"}]\",{[","b":{"c":"\\"},"d":[["]"],{}]}"#
    );
    assert_eq!(
        edit::set(doc, &p("/d/0/-"), "1").unwrap(),
        r#"{"a":"}]\",{[","b":{"c":"\\"},"d":[["]",1],{"e":"}"}]}"#
    );
}

#[test]
fn json_parse_accepts_only_one_valid_value() {
    assert!(json::parse(b" {\"a\": [1, 2.5e-3, null]} \n".to_vec()).is_some());
    assert!(json::parse(b"\"x\"".to_vec()).is_some());
    for bad in [
        &b""[..],
        b"{",
        b"{} x",
        b"{'a':1}",
        b"[1,]",
        b"\xef\xbb\xbf{}",
        b"{\"a\":\"\x01\"}",
    ] {
        assert!(
            json::parse(bad.to_vec()).is_none(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn pointers_unescape_tokens() {
    assert_eq!(p("/a~1b/~0c/"), p("/a~1b/~0c/"));
    assert_eq!(edit::set("{}", &p("/a~01"), "1").unwrap(), r#"{"a~1":1}"#);
    assert_eq!(edit::set("{}", &p("/"), "1").unwrap(), r#"{"":1}"#);
}

#[test]
fn large_bodies_are_edited_in_place() {
    // 8 MiB of small elements: scanned entry by entry, never collected.
    let mut doc = String::with_capacity(8 << 20);
    doc.push_str("{\"items\":[0");
    while doc.len() < (8 << 20) - 64 {
        doc.push_str(",0");
    }
    doc.push_str("],\"tail\":true}");
    let elements = doc.matches('0').count();
    assert!(json::set(&mut doc, &p("/items/-"), "1"));
    assert!(json::remove(&mut doc, &p("/items/0")));
    assert!(json::set(&mut doc, &p("/items/5"), "2"));
    assert!(!json::set(
        &mut doc,
        &p(&format!("/items/{}", elements + 1)),
        "3"
    ));
    assert!(json::set(&mut doc, &p(&format!("/items/{elements}")), "4"));
    assert!(json::rename(&mut doc, &p("/tail"), &p("/end")));
    assert!(doc.starts_with("{\"items\":[0,0,0,0,0,2,0"));
    assert!(doc.ends_with(",0,1,4],\"end\":true}"));
    assert!(json::parse(doc.into_bytes()).is_some());
}
