use super::*;
use barbacane_plugin_sdk::http::{HttpError, HttpErrorKind, HttpResponse};
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::json;

const URL: &str = "http://127.0.0.1:8181/v1/data/authz/allow";

fn plugin(config: Value) -> OpaAuthz {
    middleware_from(&config).unwrap()
}

/// The problem of a `Respond`: status, `type` suffix, body.
fn refused(action: Action) -> (u16, String, Value, OutgoingResponse) {
    let Action::Respond(r) = action else {
        panic!("expected a refusal, got {action:?}");
    };
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let name = body["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:barbacane:error:")
        .to_owned();
    (r.status, name, body, r)
}

/// A stand-in for the gateway's engine: allows GETs, and DELETEs by admins.
fn rules(_policy: &str, _query: &str, input: &Value) -> Result<Option<Value>, String> {
    let method = &input["request"]["method"];
    let admin = input["context"]["auth.roles"]
        .as_str()
        .is_some_and(|r| r.split(' ').any(|r| r == "admin"));
    Ok(Some(json!(
        method == "GET" || (method == "DELETE" && admin)
    )))
}

#[test]
fn the_bundled_policy_gets_request_and_context() {
    let mut host = FakeHost::new();
    host.method("DELETE")
        .path("/orders/7")
        .path_param("id", "7")
        .query("force=yes%21")
        .header("x-tenant", "acme")
        .context("auth.roles", "ops admin")
        .policy_evaluator(rules);
    let mut p = plugin(json!({"policy": "policies/authz.rego"}));
    assert_eq!(host.on_request(&mut p), Action::Continue);
    let calls = host.policy_calls();
    assert_eq!(calls.len(), 1);
    let (policy, query, input) = &calls[0];
    assert_eq!(policy, "policies/authz.rego");
    assert_eq!(query, DEFAULT_QUERY);
    assert_eq!(input["request"]["path"], "/orders/7");
    assert_eq!(input["request"]["params"]["id"], "7");
    assert_eq!(input["request"]["query"]["force"], "yes!");
    assert_eq!(input["request"]["headers"]["x-tenant"], "acme");
    assert!(input.get("body").is_none());
}

#[test]
fn anything_but_true_is_a_403_that_names_no_rule() {
    let mut host = FakeHost::new();
    host.method("DELETE")
        .context("auth.roles", "ops")
        .policy_evaluator(rules);
    let mut p = plugin(json!({"policy": "authz.rego", "deny_message": "No."}));
    let (status, name, body, _) = refused(host.on_request(&mut p));
    assert_eq!((status, name.as_str()), (403, "opa-denied"));
    assert_eq!(body["detail"], "No.");
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");

    for value in [json!("true"), json!({"allow": true}), json!(1)] {
        let mut host = FakeHost::new();
        host.policy_evaluator(move |_, _, _| Ok(Some(value.clone())));
        let mut p = plugin(json!({"policy": "authz.rego"}));
        assert_eq!(refused(host.on_request(&mut p)).0, 403);
    }
    let mut host = FakeHost::new();
    host.policy_evaluator(|_, _, _| Ok(None));
    let mut p = plugin(json!({"policy": "authz.rego"}));
    assert_eq!(refused(host.on_request(&mut p)).0, 403, "undefined denies");
}

#[test]
fn without_claims_the_context_stays_out() {
    let mut host = FakeHost::new();
    host.method("DELETE")
        .context("auth.roles", "admin")
        .policy_evaluator(rules);
    let mut p = plugin(json!({"policy": "authz.rego", "include_claims": false}));
    assert_eq!(refused(host.on_request(&mut p)).0, 403);
    assert!(host.policy_calls()[0].2.get("context").is_none());
}

#[test]
fn a_json_body_is_parsed_into_the_input() {
    let mut host = FakeHost::new();
    host.method("POST")
        .header("content-type", "application/json; charset=utf-8")
        .body(br#"{"amount": 12}"#)
        .policy_evaluator(|_, _, input| Ok(Some(json!(input["body"]["amount"] == 12))));
    let mut p = plugin(json!({"policy": "authz.rego", "include_body": true, "query": "data.x.ok"}));
    assert_eq!(host.buffered_bodies(), (true, false));
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.policy_calls()[0].1, "data.x.ok");
}

#[test]
fn an_evaluation_error_fails_closed() {
    let mut host = FakeHost::new();
    host.policy_evaluator(|_, _, _| Err("conflicting outputs".into()));
    let mut p = plugin(json!({"policy": "authz.rego"}));
    let (status, name, body, _) = refused(host.on_request(&mut p));
    assert_eq!((status, name.as_str()), (500, "opa-evaluation"));
    assert!(!body.to_string().contains("conflicting"), "{body}");
    assert!(host.logs().iter().any(|(_, l)| l.contains("conflicting")));
}

#[test]
fn configurations_need_exactly_one_source() {
    for config in [
        json!({}),
        json!({"policy": "a.rego", "opa_url": URL}),
        json!({"opa_url": URL, "timeout": 0}),
        json!({"policy": ""}),
    ] {
        assert!(middleware_from::<OpaAuthz>(&config).is_err(), "{config}");
    }
}

fn opa_answer(status: u16, body: &str) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    })
}

#[test]
fn an_opa_server_gets_both_input_shapes() {
    let mut host = FakeHost::new();
    host.method("GET")
        .path("/admin/users")
        .query("page=1")
        .header("x-auth-consumer", "alice")
        .client_ip("10.0.0.1")
        .context("auth.method", "jwt")
        .context("auth.claims.sub", "alice")
        .context("auth.claims.level", "3")
        .http(|_| opa_answer(200, r#"{"result": true}"#));
    let mut p = plugin(json!({"opa_url": URL, "timeout": 2}));
    assert_eq!(host.on_request(&mut p), Action::Continue);
    let calls = host.http_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].url, URL);
    assert_eq!(calls[0].timeout_ms, Some(2000));
    let sent: Value = serde_json::from_slice(&calls[0].body).unwrap();
    let input = &sent["input"];
    assert_eq!(input["method"], "GET");
    assert_eq!(input["path"], "/admin/users");
    assert_eq!(input["query"], "page=1");
    assert_eq!(input["headers"]["x-auth-consumer"], "alice");
    assert_eq!(input["client_ip"], "10.0.0.1");
    assert_eq!(input["claims"], json!({"sub": "alice", "level": 3}));
    assert_eq!(input["request"]["query"]["page"], "1");
    assert_eq!(input["context"]["auth.claims.sub"], "alice");
}

#[test]
fn the_claims_header_counts_only_without_an_auth_plugin() {
    let mut host = FakeHost::new();
    host.header("x-auth-claims", r#"{"sub":"bob","roles":["admin"]}"#)
        .http(|_| opa_answer(200, r#"{"result": false}"#));
    let mut p = plugin(json!({"opa_url": URL}));
    assert_eq!(refused(host.on_request(&mut p)).0, 403);
    let sent: Value = serde_json::from_slice(&host.http_calls()[0].body).unwrap();
    assert_eq!(sent["input"]["claims"]["roles"][0], "admin");

    let mut host = FakeHost::new();
    host.header("x-auth-claims", r#"{"sub":"bob"}"#)
        .context("auth.method", "apikey")
        .http(|_| opa_answer(200, r#"{"result": true}"#));
    let mut p = plugin(json!({"opa_url": URL}));
    assert_eq!(host.on_request(&mut p), Action::Continue);
    let sent: Value = serde_json::from_slice(&host.http_calls()[0].body).unwrap();
    assert_eq!(sent["input"]["claims"], json!({}));
}

#[test]
fn an_undefined_or_non_boolean_result_denies() {
    for answer in [
        r#"{}"#,
        r#"{"result": {"allow": true}}"#,
        r#"{"result": "true"}"#,
    ] {
        let mut host = FakeHost::new();
        host.http(move |_| opa_answer(200, answer));
        let mut p = plugin(json!({"opa_url": URL}));
        assert_eq!(refused(host.on_request(&mut p)).0, 403, "{answer}");
    }
}

#[test]
fn an_unreachable_or_broken_server_is_503() {
    let failures: Vec<Box<dyn Fn() -> Result<HttpResponse, HttpError>>> = vec![
        Box::new(|| {
            Err(HttpError {
                kind: HttpErrorKind::Connect,
                message: "refused".into(),
            })
        }),
        Box::new(|| opa_answer(500, r#"{"code": "internal_error"}"#)),
        Box::new(|| opa_answer(200, "not json")),
    ];
    for failure in failures {
        let mut host = FakeHost::new();
        host.http(move |_| failure());
        let mut p = plugin(json!({"opa_url": URL}));
        let (status, name, _, response) = refused(host.on_request(&mut p));
        assert_eq!((status, name.as_str()), (503, "opa-unavailable"));
        assert!(
            response
                .headers
                .iter()
                .any(|(n, v)| n == "retry-after" && v == "5")
        );
    }
}
