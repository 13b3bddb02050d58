use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value as Json, json};

fn policy(config: Json) -> Cel {
    middleware_from(&config).unwrap()
}

/// A plugin with only `expression`.
fn expr(expression: &str) -> Cel {
    policy(json!({ "expression": expression }))
}

/// Why `config` is refused.
fn refused(config: Json) -> String {
    match middleware_from::<Cel>(&config) {
        Ok(_) => panic!("{config} was accepted"),
        Err(why) => why,
    }
}

/// What the expression reads.
fn uses(expression: &str) -> Uses {
    expr(expression).compiled.unwrap().uses
}

fn fields(expression: &str) -> Vec<String> {
    let uses = uses(expression);
    assert!(!uses.whole, "{expression} uses request whole");
    uses.fields.into_iter().collect()
}

/// The problem body of a `Respond`, after checking its status and content type.
fn problem_of(action: &Action, status: u16) -> Json {
    let Action::Respond(r) = action else {
        panic!("expected an answer, got {action:?}");
    };
    assert_eq!(r.status, status);
    assert_eq!(
        r.headers,
        vec![(
            "content-type".to_owned(),
            "application/problem+json".to_owned()
        )]
    );
    let body: Json = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["status"], status);
    body
}

/// Evaluates `expression` over the request `host` holds: `Ok(true)` when it goes on,
/// `Ok(false)` on a 403, `Err(detail)` on a 500.
fn eval(host: &mut FakeHost, expression: &str) -> Result<bool, String> {
    let mut plugin = expr(expression);
    match host.on_request(&mut plugin) {
        Action::Continue => Ok(true),
        action @ Action::Respond(_) => {
            let Action::Respond(r) = &action else {
                unreachable!()
            };
            if r.status == 403 {
                let body = problem_of(&action, 403);
                assert_eq!(body["type"], "urn:barbacane:error:cel-denied");
                Ok(false)
            } else {
                let body = problem_of(&action, 500);
                assert_eq!(body["type"], "urn:barbacane:error:cel-evaluation");
                Err(body["detail"].as_str().unwrap().to_owned())
            }
        }
        Action::RespondAsIs => panic!("cel builds its own answers"),
    }
}

/// `eval` over a fresh host prepared by `setup`, expecting a decision.
fn holds(setup: impl FnOnce(&mut FakeHost), expression: &str) -> bool {
    let mut host = FakeHost::new();
    setup(&mut host);
    eval(&mut host, expression).unwrap_or_else(|e| panic!("{expression}: {e}"))
}

fn none(_: &mut FakeHost) {}

// --- access control ----------------------------------------------------------------------

#[test]
fn true_lets_the_request_through_unchanged() {
    let mut host = FakeHost::new();
    host.method("GET")
        .path("/orders")
        .header("x-tenant", "acme");
    let mut plugin = expr(r#"request.method == "GET""#);
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    assert_eq!(host.response_status(), None);
    assert_eq!(host.request_method(), "GET");
    assert_eq!(host.request_path(), "/orders");
    assert_eq!(host.request_header("x-tenant").as_deref(), Some("acme"));
    assert_eq!(host.context_value("x-tenant"), None);
}

#[test]
fn false_answers_403_cel_denied_with_the_deny_message() {
    let mut host = FakeHost::new();
    host.method("DELETE");
    let mut plugin = expr(r#"request.method == "GET""#);
    let action = host.on_request(&mut plugin);
    let body = problem_of(&action, 403);
    assert_eq!(body["type"], "urn:barbacane:error:cel-denied");
    assert_eq!(body["detail"], "Access denied by policy");
    assert!(body["title"].is_string());
    assert_eq!(body.get("code"), None);
    assert_eq!(host.response_status(), Some(403));

    let mut plugin = policy(json!({
        "expression": "request.method == 'GET'",
        "deny_message": "Read-only API",
    }));
    let body = problem_of(&host.on_request(&mut plugin), 403);
    assert_eq!(body["detail"], "Read-only API");
}

#[test]
fn one_instance_decides_each_request_on_its_own() {
    let mut plugin = expr("request.headers['x-role'] == 'admin'");
    let mut host = FakeHost::new();
    host.header("x-role", "admin");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    host.next_request();
    host.header("x-role", "user");
    problem_of(&host.on_request(&mut plugin), 403);
    host.next_request();
    host.header("X-Role", "admin");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    // No header: the key is missing, which fails the evaluation.
    host.next_request();
    problem_of(&host.on_request(&mut plugin), 500);
}

// --- the request variable -------------------------------------------------------------

#[test]
fn method_path_and_query() {
    let setup = |h: &mut FakeHost| {
        h.method("POST").path("/orders/7").query("expand=items&x=1");
    };
    assert!(holds(setup, "request.method == 'POST'"));
    assert!(holds(setup, "request.path == '/orders/7'"));
    assert!(holds(setup, "request.path.startsWith('/orders/')"));
    assert!(holds(setup, r#"request.path.matches("^/orders/[0-9]+$")"#));
    assert!(holds(setup, "request.query == 'expand=items&x=1'"));
    assert!(holds(setup, "request.query.contains('expand=items')"));
    assert!(!holds(setup, "request.method in ['GET', 'HEAD']"));
    // No query: "".
    assert!(holds(none, "request.query == ''"));
    assert!(holds(
        none,
        "request.method == 'GET' && request.path == '/'"
    ));
}

#[test]
fn headers_by_lowercase_name_repeated_values_joined() {
    let setup = |h: &mut FakeHost| {
        h.header("X-Tenant", "acme")
            .header("accept", "text/html")
            .header("Accept", "application/json");
    };
    assert!(holds(setup, "request.headers['x-tenant'] == 'acme'"));
    assert!(holds(
        setup,
        "request.headers.accept == 'text/html, application/json'"
    ));
    assert!(holds(setup, "size(request.headers) == 2"));
    assert!(holds(setup, "'x-tenant' in request.headers"));
    assert!(!holds(setup, "'X-Tenant' in request.headers"));
    assert!(holds(setup, "!has(request.headers.authorization)"));
    assert!(holds(
        setup,
        "request.headers.?authorization.orValue('none') == 'none'"
    ));
    assert!(holds(
        setup,
        "request.headers.exists(n, n.startsWith('x-'))"
    ));
    assert!(holds(
        setup,
        r#"request.headers[?"x-tenant"].orValue("") == "acme""#
    ));
    assert!(holds(
        none,
        r#"request.headers[?"x-tenant"].orValue("") == """#
    ));
    assert!(holds(none, "request.headers == {}"));
}

#[test]
fn a_missing_key_fails_the_evaluation() {
    let mut host = FakeHost::new();
    let detail = eval(&mut host, "request.headers['x-tenant'] == 'acme'").unwrap_err();
    assert_eq!(detail, "the expression failed: No such key: x-tenant");
    let logs = host.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0], (1, detail));
}

#[test]
fn client_ip_is_the_peer_or_empty() {
    let setup = |h: &mut FakeHost| {
        h.client_ip("203.0.113.7");
    };
    assert!(holds(setup, "request.client_ip == '203.0.113.7'"));
    assert!(holds(setup, "request.client_ip.startsWith('203.0.113.')"));
    assert!(holds(
        |h| {
            h.unknown_client_ip();
        },
        "request.client_ip == ''"
    ));
}

#[test]
fn path_params_are_empty() {
    assert!(holds(
        |h| {
            h.path("/orders/7");
        },
        "request.path_params == {} && size(request.path_params) == 0"
    ));
}

#[test]
fn body_is_text_and_empty_without_one() {
    let setup = |h: &mut FakeHost| {
        h.body(b"hello world");
    };
    assert!(holds(setup, "request.body == 'hello world'"));
    assert!(holds(setup, "request.body.contains('world')"));
    assert!(holds(setup, "size(request.body) == 11"));
    assert!(holds(none, "request.body == ''"));
    // Invalid UTF-8 is replaced.
    assert!(holds(
        |h| {
            h.body(b"a\xffb");
        },
        "request.body == 'a\u{fffd}b'"
    ));
}

#[test]
fn body_json_for_json_content_types() {
    let body = br#"{"amount": 150, "currency": "EUR", "items": [{"sku": "a"}, {"sku": "b"}], "rate": 1.5, "gift": false, "note": null}"#;
    let json_body = |content_type: &'static str| {
        move |h: &mut FakeHost| {
            h.header("content-type", content_type).body(body);
        }
    };
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
        "application/vnd.acme.order+json;v=2",
    ] {
        let setup = json_body(content_type);
        assert!(
            holds(setup, "request.body_json.amount > 100"),
            "{content_type}"
        );
    }
    let setup = json_body("application/json");
    assert!(holds(setup, "request.body_json.amount == 150"));
    assert!(holds(setup, "request.body_json.currency == 'EUR'"));
    assert!(holds(setup, "request.body_json.items.all(i, has(i.sku))"));
    assert!(holds(setup, "size(request.body_json.items) == 2"));
    assert!(holds(setup, "request.body_json.rate == 1.5"));
    assert!(holds(setup, "request.body_json.gift == false"));
    assert!(holds(setup, "request.body_json.note == null"));
    // Not JSON by its content type: {}.
    for content_type in [
        "text/plain",
        "application/jsonx",
        "application/+json",
        "json",
    ] {
        assert!(
            holds(json_body(content_type), "request.body_json == {}"),
            "{content_type}"
        );
    }
    assert!(holds(
        |h| {
            h.body(body);
        },
        "request.body_json == {}"
    ));
    // No body.
    assert!(holds(
        |h| {
            h.header("content-type", "application/json");
        },
        "request.body_json == {}"
    ));
}

#[test]
fn body_json_of_any_json_value() {
    let setup = |h: &mut FakeHost| {
        h.header("content-type", "application/json")
            .body(b"[1, 18446744073709551615, -2.5]");
    };
    assert!(holds(setup, "request.body_json[0] == 1"));
    assert!(holds(
        setup,
        "request.body_json[1] == 18446744073709551615u"
    ));
    assert!(holds(setup, "request.body_json[2] == -2.5"));
}

#[test]
fn a_malformed_json_body_is_empty_and_logged() {
    let mut host = FakeHost::new();
    host.header("content-type", "application/json")
        .body(b"{\"amount\": ");
    assert_eq!(eval(&mut host, "request.body_json == {}"), Ok(true));
    let logs = host.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0, 3);
    assert!(logs[0].1.starts_with("body_json: "), "{logs:?}");
    // The raw body is still there.
    host.next_request();
    host.header("content-type", "application/json")
        .body(b"{\"amount\": ");
    assert_eq!(eval(&mut host, "request.body.startsWith('{')"), Ok(true));
}

#[test]
fn bodies_are_buffered_only_for_expressions_reading_them() {
    let buffered = |expression: &str| {
        let host = FakeHost::new();
        expr(expression);
        host.buffered_bodies()
    };
    assert_eq!(buffered("request.method == 'GET'"), (false, false));
    assert_eq!(
        buffered("request.headers['content-type'] == 'x'"),
        (false, false)
    );
    // A string literal "body" is not a field.
    assert_eq!(buffered("request.path == 'body'"), (false, false));
    assert_eq!(buffered("request.body == ''"), (true, false));
    assert_eq!(buffered("request.body_json.a == 1"), (true, false));
    assert_eq!(buffered("has(request.body)"), (true, false));
    assert_eq!(buffered("request['body_json'] == {}"), (true, false));
    // `request` as a whole: everything, the body included.
    assert_eq!(buffered("size(request) > 0"), (true, false));
}

// --- identity ------------------------------------------------------------------------

#[test]
fn consumer_from_the_context() {
    let setup = |h: &mut FakeHost| {
        h.context("auth.method", "apikey")
            .context("auth.consumer", "partner-1")
            .header("x-auth-consumer", "spoofed");
    };
    assert!(holds(setup, "request.consumer == 'partner-1'"));
}

#[test]
fn consumer_from_the_header_when_no_auth_plugin_ran() {
    let setup = |h: &mut FakeHost| {
        h.header("x-auth-consumer", "svc-billing")
            .header("x-auth-consumer", "other");
    };
    assert!(holds(setup, "request.consumer == 'svc-billing'"));
    assert!(holds(none, "request.consumer == ''"));
    // An auth plugin ran but found no consumer (a token without `sub`): the header is not
    // believed.
    assert!(holds(
        |h| {
            h.context("auth.method", "jwt")
                .header("x-auth-consumer", "admin");
        },
        "request.consumer == ''"
    ));
}

#[test]
fn claims_from_the_context_as_json_or_text() {
    let setup = |h: &mut FakeHost| {
        h.context("auth.method", "jwt")
            .context("auth.claims.email", "ada@example.com")
            .context("auth.claims.exp", "1700000000")
            .context("auth.claims.email_verified", "true")
            .context("auth.claims.tier", "gold")
            .header("x-auth-claims", r#"{"tier": "spoofed"}"#);
    };
    assert!(holds(setup, "request.claims.email == 'ada@example.com'"));
    assert!(holds(setup, "request.claims.exp > 1600000000"));
    assert!(holds(setup, "request.claims.email_verified"));
    assert!(holds(setup, "request.claims['tier'] == 'gold'"));
    // Only the claims the expression names are looked up.
    assert!(holds(
        setup,
        "request.claims.email != '' && size(request.claims) == 1"
    ));
    assert!(holds(setup, "!has(request.claims.iss)"));
}

#[test]
fn claims_from_the_header_when_no_auth_plugin_ran() {
    let setup = |h: &mut FakeHost| {
        h.header(
            "x-auth-claims",
            r#"{"sub": "svc", "roles": ["admin", "ops"], "level": 3}"#,
        );
    };
    assert!(holds(setup, "request.claims.sub == 'svc'"));
    assert!(holds(setup, "'admin' in request.claims.roles"));
    assert!(holds(setup, "request.claims.level >= 3"));
    // Every member, named or not.
    assert!(holds(setup, "size(request.claims) == 3"));
    // Not a JSON object: {}.
    for header in ["[1, 2]", "not json", "\"sub\""] {
        assert!(
            holds(
                |h| {
                    h.header("x-auth-claims", header);
                },
                "request.claims == {}"
            ),
            "{header}"
        );
    }
    assert!(holds(none, "request.claims == {}"));
    // Once an auth plugin ran, the header is never read.
    assert!(holds(
        |h| {
            h.context("auth.method", "apikey")
                .header("x-auth-claims", r#"{"sub": "admin"}"#);
        },
        "request.claims == {}"
    ));
}

#[test]
fn context_values_the_expression_names() {
    let setup = |h: &mut FakeHost| {
        h.context("auth.sub", "ada")
            .context("auth.scopes", "orders:read orders:write")
            .context("tenant", "acme")
            .context("unnamed", "x");
    };
    assert!(holds(setup, "request.context['auth.sub'] == 'ada'"));
    assert!(holds(
        setup,
        "request.context['auth.scopes'].split(' ').exists(s, s == 'orders:write')"
    ));
    assert!(holds(setup, "request.context.tenant == 'acme'"));
    assert!(holds(setup, "'tenant' in request.context"));
    // The authentication keys, and the keys named, when set.
    assert!(holds(
        setup,
        "request.context == {'auth.sub': 'ada', 'auth.scopes': 'orders:read orders:write', 'tenant': 'acme'}"
    ));
    assert!(holds(setup, "!('missing' in request.context)"));
    assert!(holds(none, "request.context == {}"));
}

// --- functions -------------------------------------------------------------------------

#[test]
fn the_strings_extension_and_macros() {
    let setup = |h: &mut FakeHost| {
        h.header("x-roles", "Admin, Ops");
    };
    assert!(holds(
        setup,
        "request.headers['x-roles'].lowerAscii().split(', ').exists(r, r == 'admin')"
    ));
    assert!(holds(
        setup,
        "request.headers['x-roles'].split(',').map(r, r.trim()) == ['Admin', 'Ops']"
    ));
    assert!(holds(setup, "['a', 'b'].join('-') == 'a-b'"));
    assert!(holds(setup, "[1, 2, 3].filter(x, x > 1).size() == 2"));
    assert!(holds(setup, "'abc'.indexOf('c') == 2"));
    assert!(holds(setup, "int('42') == 42 && string(7) == '7'"));
    assert!(holds(setup, "type(request.method) == string"));
}

// --- failures ------------------------------------------------------------------------

#[test]
fn a_non_bool_result_answers_500() {
    let mut host = FakeHost::new();
    for (expression, kind) in [
        ("request.method", "string"),
        ("1 + 1", "int"),
        ("request.headers", "map"),
        ("[true]", "list"),
        ("null", "null"),
        ("1.5", "float"),
    ] {
        assert_eq!(
            eval(&mut host, expression),
            Err(format!("the expression returned {kind}, expected bool")),
            "{expression}"
        );
    }
}

#[test]
fn an_evaluation_error_answers_500_in_both_modes() {
    let mut host = FakeHost::new();
    for (expression, why) in [
        ("request.path > 3", "no matching overload"),
        ("1 / 0 == 1", "Division by zero"),
        ("request.path.matches('[')", "not a valid regex"),
        ("request.body_json.amount > 1", "No such key: amount"),
    ] {
        let detail = eval(&mut host, expression).unwrap_err();
        assert!(detail.starts_with("the expression failed: "), "{detail}");
        assert!(detail.contains(why), "{expression}: {detail}");
    }
    let mut plugin = policy(json!({
        "expression": "request.headers.tenant == 'acme'",
        "on_match": {"set_context": {"tier": "gold"}},
    }));
    let body = problem_of(&host.on_request(&mut plugin), 500);
    assert_eq!(body["type"], "urn:barbacane:error:cel-evaluation");
    assert_eq!(body["detail"], "the expression failed: No such key: tenant");
    assert_eq!(host.context_value("tier"), None);
}

#[test]
fn a_long_detail_is_cut() {
    let mut host = FakeHost::new();
    let long = "\u{e9}".repeat(400);
    host.header("x-long", &long);
    let detail = eval(
        &mut host,
        "request.headers[request.headers['x-long']] == ''",
    )
    .unwrap_err();
    assert!(
        detail.len() <= MAX_DETAIL + '…'.len_utf8(),
        "{}",
        detail.len()
    );
    assert!(detail.ends_with('…'), "{detail}");
    assert_eq!(host.logs()[0].1, detail);
    assert_eq!(shortened("short".into()), "short");
    let exact = "a".repeat(MAX_DETAIL);
    assert_eq!(shortened(exact.clone()), exact);
}

// --- on_match ------------------------------------------------------------------------

#[test]
fn on_match_sets_context_when_true() {
    let mut plugin = policy(json!({
        "expression": "request.headers['x-plan'] == 'premium'",
        "deny_message": "unused",
        "on_match": {"set_context": {"tier": "premium", "quota.class": "large"}},
    }));
    let mut host = FakeHost::new();
    host.header("x-plan", "premium").context("tier", "basic");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    assert_eq!(host.context_value("tier").as_deref(), Some("premium"));
    assert_eq!(host.context_value("quota.class").as_deref(), Some("large"));
    assert_eq!(host.response_status(), None);
    // False: the request goes on, the context untouched.
    host.next_request();
    host.header("x-plan", "free").context("tier", "basic");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
    assert_eq!(host.context_value("tier").as_deref(), Some("basic"));
    assert_eq!(host.context_value("quota.class"), None);
}

#[test]
fn the_last_use_in_a_chain_wins() {
    let mut first = policy(json!({
        "expression": "true",
        "on_match": {"set_context": {"tier": "silver"}},
    }));
    let mut second = policy(json!({
        "expression": "request.context.tier == 'silver'",
        "on_match": {"set_context": {"tier": "gold"}},
    }));
    let mut host = FakeHost::new();
    assert_eq!(host.on_request(&mut first), Action::Continue);
    assert_eq!(host.on_request(&mut second), Action::Continue);
    assert_eq!(host.context_value("tier").as_deref(), Some("gold"));
}

#[test]
fn on_match_deny_answers_the_configured_problem() {
    let mut plugin = policy(json!({
        "expression": "request.headers['x-tenant'] == 'suspended-co'",
        "on_match": {"deny": {"status": 423, "code": "tenant_suspended", "message": "The tenant is suspended"}},
    }));
    let mut host = FakeHost::new();
    host.header("x-tenant", "suspended-co");
    let body = problem_of(&host.on_request(&mut plugin), 423);
    assert_eq!(body["type"], "urn:barbacane:error:tenant_suspended");
    assert_eq!(body["code"], "tenant_suspended");
    assert_eq!(body["detail"], "The tenant is suspended");
    assert!(body["title"].is_string());
    // False: the request goes on.
    host.next_request();
    host.header("x-tenant", "acme");
    assert_eq!(host.on_request(&mut plugin), Action::Continue);
}

#[test]
fn on_match_deny_defaults_to_403_and_the_code() {
    let mut plugin = policy(json!({
        "expression": "request.method == 'DELETE'",
        "on_match": {"deny": {"code": "no_deletes"}},
    }));
    let mut host = FakeHost::new();
    host.method("DELETE");
    let body = problem_of(&host.on_request(&mut plugin), 403);
    assert_eq!(body["type"], "urn:barbacane:error:no_deletes");
    assert_eq!(body["code"], "no_deletes");
    assert_eq!(body["detail"], "no_deletes");
}

#[test]
fn on_match_deny_wins_over_set_context() {
    let mut plugin = policy(json!({
        "expression": "true",
        "on_match": {"set_context": {"tier": "gold"}, "deny": {"status": 400, "code": "bad"}},
    }));
    let mut host = FakeHost::new();
    problem_of(&host.on_request(&mut plugin), 400);
    assert_eq!(host.context_value("tier"), None);
}

#[test]
fn an_empty_on_match_changes_nothing() {
    for on_match in [json!({}), json!({"set_context": {}})] {
        let mut plugin = policy(json!({"expression": "true", "on_match": on_match}));
        let mut host = FakeHost::new();
        assert_eq!(host.on_request(&mut plugin), Action::Continue);
        let mut plugin = policy(json!({"expression": "false", "on_match": on_match}));
        assert_eq!(host.on_request(&mut plugin), Action::Continue);
    }
}

// --- configuration ---------------------------------------------------------------------

#[test]
fn a_parse_error_refuses_the_configuration() {
    let why = refused(json!({"expression": "request.method =="}));
    assert!(why.starts_with("expression does not parse: "), "{why}");
    assert!(why.contains("1:18"), "{why}");
    for expression in ["", "1 +", "request.method == 'GET", "(true", "a ? b"] {
        let why = refused(json!({ "expression": expression }));
        assert!(why.starts_with("expression does not parse: "), "{why}");
    }
}

#[test]
fn another_variable_refuses_the_configuration() {
    let why = refused(json!({"expression": "reqest.method == 'GET'"}));
    assert_eq!(
        why,
        "the expression uses `reqest`, which is not a variable: the request is `request` (e.g. `request.method`)"
    );
    refused(json!({"expression": "method == 'GET'"}));
    refused(json!({"expression": "[1].exists(x, y > 0)"}));
    // A macro's variable is only known inside it.
    refused(json!({"expression": "[1].exists(x, x > 0) && x > 0"}));
    // Macro variables, type names and namespaces are not refused.
    expr("[1].exists(x, x > 0) && [2].all(y, y == 2)");
    expr("type(request.method) == string && type(1) == int");
}

#[test]
fn an_unknown_field_refuses_the_configuration() {
    let why = refused(json!({"expression": "request.methd == 'GET'"}));
    assert_eq!(
        why,
        "`request` has no field `methd`; its fields are method, path, query, headers, body, body_json, client_ip, path_params, consumer, claims, context"
    );
    refused(json!({"expression": "request['hedaers'] == {}"}));
    // A presence test is fine, and false.
    assert!(holds(none, "!has(request.tenant)"));
    assert!(holds(none, "request.?tenant.orValue('none') == 'none'"));
    assert!(holds(none, "!('tenant' in request)"));
}

#[test]
fn deny_status_must_be_a_client_error() {
    for status in [399, 500, 503, 200] {
        let why = refused(json!({
            "expression": "true",
            "on_match": {"deny": {"status": status, "code": "x"}},
        }));
        assert_eq!(
            why,
            format!("on_match.deny.status {status} is not a client error status (400-499)")
        );
    }
    for status in [400, 429, 499] {
        policy(json!({
            "expression": "true",
            "on_match": {"deny": {"status": status, "code": "x"}},
        }));
    }
}

#[test]
fn deny_code_must_be_snake_case() {
    for code in [
        "",
        "Tenant",
        "tenant-suspended",
        "_tenant",
        "tenant_",
        "tenant__suspended",
        "1tenant",
        "tenant suspended",
        "t\u{e9}nant",
        &"a".repeat(MAX_CODE + 1),
    ] {
        let why = refused(json!({
            "expression": "true",
            "on_match": {"deny": {"code": code}},
        }));
        assert!(why.starts_with("on_match.deny.code "), "{code}: {why}");
    }
    for code in [
        "x",
        "tenant_suspended",
        "rule_2",
        "a1_b2_c3",
        &"a".repeat(MAX_CODE),
    ] {
        policy(json!({
            "expression": "true",
            "on_match": {"deny": {"code": code}},
        }));
    }
    // `code` is required.
    refused(json!({"expression": "true", "on_match": {"deny": {"status": 403}}}));
}

#[test]
fn other_configuration_errors() {
    assert_eq!(
        refused(json!({"expression": "true", "on_match": {"set_context": {"": "x"}}})),
        "on_match.set_context: a context key is empty"
    );
    // Required, typed, no unknown keys.
    refused(json!({}));
    refused(json!({"expression": 1}));
    refused(json!({"expression": "true", "deny_messages": "x"}));
    refused(json!({"expression": "true", "on_match": {"deny": {"code": "x", "why": "y"}}}));
    refused(json!({"expression": "true", "on_match": {"tag": {}}}));
    refused(json!({"expression": "true", "on_match": {"set_context": {"a": 1}}}));
}

#[test]
fn the_schema_agrees_with_the_plugin() {
    let schema: Json = serde_json::from_str(include_str!("../config-schema.json")).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["expression"]));
    assert_eq!(
        schema["properties"]["deny_message"]["default"],
        default_deny_message()
    );
    let deny = &schema["properties"]["on_match"]["properties"]["deny"];
    assert_eq!(
        deny["properties"]["status"]["default"],
        default_deny_status()
    );
    assert_eq!(deny["properties"]["status"]["minimum"], 400);
    assert_eq!(deny["properties"]["status"]["maximum"], 499);
    assert_eq!(deny["properties"]["code"]["maxLength"], MAX_CODE);
    assert_eq!(deny["required"], json!(["code"]));
}

#[test]
fn is_snake_case_matches_the_schema_pattern() {
    // `^[a-z][a-z0-9]*(_[a-z0-9]+)*$`, spelled out.
    for (code, ok) in [
        ("a", true),
        ("a_b", true),
        ("a_1", true),
        ("ab12_cd_3", true),
        ("a__b", false),
        ("_a", false),
        ("a_", false),
        ("A", false),
        ("a-b", false),
        ("1a", false),
    ] {
        assert_eq!(is_snake_case(code), ok, "{code}");
    }
}

// --- what is built -------------------------------------------------------------------

#[test]
fn only_the_fields_named_are_built() {
    assert_eq!(fields("request.method == 'GET'"), ["method"]);
    assert_eq!(
        fields("request.method == 'GET' && request.headers['x'] == request.path"),
        ["headers", "method", "path"]
    );
    assert_eq!(fields("request['client_ip'] == ''"), ["client_ip"]);
    assert_eq!(fields("has(request.consumer)"), ["consumer"]);
    assert_eq!(fields("request.?claims.orValue({}) == {}"), ["claims"]);
    assert_eq!(fields("request[?'context'].hasValue()"), ["context"]);
    assert_eq!(fields("true"), Vec::<String>::new());
    assert_eq!(fields("[1].exists(x, request.query == '')"), ["query"]);
    // A field name as a string elsewhere is not a use.
    assert_eq!(fields("request.headers['body'] == 'headers'"), ["headers"]);
    // A macro variable named `request` hides the request.
    assert_eq!(
        fields("[{'body': 1}].exists(request, request.body == 1) && request.method == 'GET'"),
        ["method"]
    );
}

#[test]
fn request_used_whole_builds_everything() {
    for expression in [
        "size(request) == 11",
        "request.all(k, k != '')",
        "[request][0].method == 'GET'",
        "request[request.method == 'GET' ? 'path' : 'query'] != ''",
        "{'r': request}.r.method == 'GET'",
        // The comprehension's range is outside its scope.
        "request.exists(request, request == 'body')",
    ] {
        let uses = uses(expression);
        assert!(uses.whole, "{expression}");
        assert!(FIELDS.iter().all(|f| uses.reads(f)));
    }
    let setup = |h: &mut FakeHost| {
        h.method("PUT");
    };
    assert!(holds(setup, "size(request) == 11"));
    assert!(holds(
        setup,
        "request[request.method == 'PUT' ? 'body' : 'query'] == ''"
    ));
}

#[test]
fn names_are_the_literals_and_fields_written() {
    let uses =
        uses("request.context['tenant'] == 'acme' && request.claims.email.endsWith('@x.io')");
    assert_eq!(
        uses.names.into_iter().collect::<Vec<_>>(),
        ["@x.io", "acme", "claims", "context", "email", "tenant"]
    );
}
