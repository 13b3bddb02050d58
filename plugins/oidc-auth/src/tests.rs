use super::*;
use barbacane_plugin_sdk::http::{HttpError, HttpErrorKind, HttpResponse};
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use jwt_verify::testing::{Signer, ring_verify};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::rc::Rc;

/// The fake host's clock when it starts, in seconds.
const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://idp.example/realms/shop";
const DISCOVERY: &str = "https://idp.example/realms/shop/.well-known/openid-configuration";
const JWKS: &str = "https://keys.idp.example/certs";

/// What the fake OpenID Provider serves.
struct Idp {
    /// The discovery document (`None`: connection refused).
    discovery: Option<Value>,
    /// The JWK Set's keys (`None`: answered 500).
    keys: Option<Vec<Value>>,
}

fn idp(host: &mut FakeHost, keys: Vec<Value>) -> Rc<RefCell<Idp>> {
    let idp = Rc::new(RefCell::new(Idp {
        discovery: Some(json!({"issuer": ISSUER, "jwks_uri": JWKS, "token_endpoint": "x"})),
        keys: Some(keys),
    }));
    let served = Rc::clone(&idp);
    host.http(move |request| {
        let idp = served.borrow();
        let json = |status: u16, body: Value| {
            Ok(HttpResponse {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            })
        };
        match request.url.as_str() {
            DISCOVERY => match &idp.discovery {
                Some(document) => json(200, document.clone()),
                None => Err(HttpError {
                    kind: HttpErrorKind::Connect,
                    message: "connection refused".into(),
                }),
            },
            JWKS => match &idp.keys {
                Some(keys) => json(200, json!({ "keys": keys })),
                None => json(500, json!({})),
            },
            other => panic!("unexpected fetch of {other}"),
        }
    });
    idp
}

fn host() -> FakeHost {
    let mut host = FakeHost::new();
    host.crypto_verifier(ring_verify);
    host
}

fn oidc(extra: Value) -> OidcAuth {
    let mut config = json!({"issuer_url": ISSUER});
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    middleware_from(&config).unwrap()
}

fn claims_with(extra: Value) -> Value {
    let mut claims = json!({"iss": ISSUER, "sub": "alice", "iat": NOW, "exp": NOW + 3600});
    for (name, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// Runs the plugin on a new request with `Authorization: Bearer <token>`.
fn send(host: &mut FakeHost, plugin: &mut OidcAuth, token: &str) -> Action {
    host.next_request();
    host.crypto_verifier(ring_verify);
    host.header("authorization", &format!("Bearer {token}"));
    host.on_request(plugin)
}

fn urls(host: &FakeHost) -> Vec<String> {
    host.http_calls().into_iter().map(|c| c.url).collect()
}

/// The status and problem type of a refusal, and its `WWW-Authenticate`.
fn refusal(host: &FakeHost, action: &Action) -> (u16, String, Option<String>) {
    let Action::Respond(response) = action else {
        panic!("expected a refusal, got {action:?}");
    };
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(host.context_value("auth.sub"), None);
    (
        response.status,
        body["type"].as_str().unwrap().to_owned(),
        host.response_header("www-authenticate"),
    )
}

fn assert_invalid(host: &FakeHost, action: &Action) {
    assert_eq!(
        refusal(host, action),
        (
            401,
            "urn:barbacane:error:unauthorized".into(),
            Some(r#"Bearer realm="api", error="invalid_token""#.into())
        )
    );
}

/// Sends `token` and asserts it is accepted.
fn accepts(host: &mut FakeHost, plugin: &mut OidcAuth, token: &str) {
    let action = send(host, plugin, token);
    assert_accepted(host, &action);
}

/// Sends `token` and asserts it is an invalid token.
fn refuses(host: &mut FakeHost, plugin: &mut OidcAuth, token: &str) {
    let action = send(host, plugin, token);
    assert_invalid(host, &action);
}

fn assert_accepted(host: &FakeHost, action: &Action) {
    assert_eq!(*action, Action::Continue, "{:?}", host.logs());
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("alice"));
    assert_eq!(host.context_value("auth.method").as_deref(), Some("oidc"));
}

#[test]
fn keys_come_from_the_discovery_document_fetched_on_first_use() {
    let signer = Signer::ecdsa("ES256");
    let mut host = host();
    idp(&mut host, vec![signer.jwk_with_kid("k1")]);
    // A trailing slash is dropped before the well-known path.
    let mut p = oidc(json!({"issuer_url": format!("{ISSUER}/"), "issuer_override": ISSUER}));
    assert!(urls(&host).is_empty(), "nothing is fetched by init");
    let claims = claims_with(json!({"scope": "read write", "email": "a@x", "admin": false}));
    let action = send(&mut host, &mut p, &signer.token_kid("k1", &claims));
    assert_accepted(&host, &action);
    assert_eq!(urls(&host), vec![DISCOVERY, JWKS]);
    let calls = host.http_calls();
    assert!(
        calls
            .iter()
            .all(|c| c.method == "GET" && c.timeout_ms == Some(5000))
    );
    assert_eq!(
        host.context_value("auth.consumer").as_deref(),
        Some("alice")
    );
    assert_eq!(
        host.context_value("auth.scopes").as_deref(),
        Some("read write")
    );
    // Without groups_claim, the scopes are the groups (as the earlier implementation).
    assert_eq!(
        host.context_value("auth.roles").as_deref(),
        Some("read write")
    );
    assert_eq!(
        host.context_value("auth.claims.email").as_deref(),
        Some("a@x")
    );
    assert_eq!(
        host.context_value("auth.claims.admin").as_deref(),
        Some("false")
    );
    // Cached: the next request fetches nothing.
    let action = send(&mut host, &mut p, &signer.token_kid("k1", &claims));
    assert_accepted(&host, &action);
    assert_eq!(urls(&host).len(), 2);
}

#[test]
fn every_tested_algorithm_is_accepted_and_none_and_hmac_never() {
    let signers: Vec<Signer> = vec![
        Signer::rsa("RS256"),
        Signer::rsa("PS384"),
        Signer::ecdsa("ES256"),
        Signer::ecdsa("ES384"),
        Signer::ed25519(),
    ];
    let keys = signers
        .iter()
        .enumerate()
        .map(|(i, s)| s.jwk_with_kid(&i.to_string()))
        .collect();
    let mut host = host();
    idp(&mut host, keys);
    let mut p = oidc(json!({}));
    for (i, signer) in signers.iter().enumerate() {
        let action = send(
            &mut host,
            &mut p,
            &signer.token_kid(&i.to_string(), &claims_with(json!({}))),
        );
        assert_accepted(&host, &action);
    }
    // The RSA key, named by its kid, under another algorithm family: refused.
    let es = Signer::ecdsa("ES256");
    let action = send(
        &mut host,
        &mut p,
        &es.token_kid("0", &claims_with(json!({}))),
    );
    assert_invalid(&host, &action);
    for alg in ["none", "HS256", "HS512"] {
        let token = es.token_with(json!({"alg": alg, "kid": "2"}), &claims_with(json!({})));
        let action = send(&mut host, &mut p, &token);
        assert_invalid(&host, &action);
    }
}

#[test]
fn a_discovery_document_of_another_issuer_is_refused() {
    let signer = Signer::ed25519();
    let mut host = host();
    let idp = idp(&mut host, vec![signer.jwk.clone()]);
    idp.borrow_mut().discovery = Some(json!({"issuer": "https://evil.example", "jwks_uri": JWKS}));
    let mut p = oidc(json!({}));
    let action = send(&mut host, &mut p, &signer.token(&claims_with(json!({}))));
    let (status, problem_type, _) = refusal(&host, &action);
    assert_eq!(status, 503);
    assert_eq!(
        problem_type,
        "urn:barbacane:error:oidc-discovery-unavailable"
    );
    assert_eq!(host.response_header("retry-after").as_deref(), Some("5"));
    assert_eq!(
        urls(&host),
        vec![DISCOVERY],
        "its jwks_uri is never fetched"
    );
    assert!(host.logs().iter().any(|(level, m)| *level == 1
        && m.contains(r#"its issuer "https://evil.example" is not the configured one"#)));
    // A document without jwks_uri, or with a plaintext one, is refused too.
    for document in [
        json!({"issuer": ISSUER}),
        json!({"issuer": ISSUER, "jwks_uri": "http://keys.idp.example/certs"}),
    ] {
        idp.borrow_mut().discovery = Some(document);
        host.advance_ms(5_000);
        let action = send(&mut host, &mut p, &signer.token(&claims_with(json!({}))));
        assert_eq!(refusal(&host, &action).0, 503);
    }
}

#[test]
fn issuer_override_is_the_issuer_of_tokens() {
    let signer = Signer::ed25519();
    let external = "https://login.example.com/realms/shop";
    let mut host = host();
    let idp = idp(&mut host, vec![signer.jwk.clone()]);
    let mut p = oidc(json!({"issuer_override": external}));
    // The document may name the internal issuer (issuer_url) or the external one.
    for issuer in [ISSUER, external] {
        idp.borrow_mut().discovery = Some(json!({"issuer": issuer, "jwks_uri": JWKS}));
        let mut p = oidc(json!({"issuer_override": external}));
        let token = signer.token(&claims_with(json!({"iss": external})));
        let action = send(&mut host, &mut p, &token);
        assert_accepted(&host, &action);
    }
    // Tokens must name the override, not issuer_url.
    let token = signer.token(&claims_with(json!({"iss": ISSUER})));
    let action = send(&mut host, &mut p, &token);
    assert_invalid(&host, &action);
    // Without an override, the document and iss must name issuer_url.
    idp.borrow_mut().discovery = Some(json!({"issuer": ISSUER, "jwks_uri": JWKS}));
    let mut p = oidc(json!({}));
    let action = send(
        &mut host,
        &mut p,
        &signer.token(&claims_with(json!({"iss": external}))),
    );
    assert_invalid(&host, &action);
    let action = send(&mut host, &mut p, &signer.token(&claims_with(json!({}))));
    assert_accepted(&host, &action);
}

#[test]
fn an_unreachable_provider_means_503_until_it_answers() {
    let signer = Signer::ed25519();
    let mut host = host();
    let idp = idp(&mut host, vec![signer.jwk.clone()]);
    idp.borrow_mut().discovery = None;
    let mut p = oidc(json!({"timeout": 0.25}));
    let token = signer.token(&claims_with(json!({})));
    let action = send(&mut host, &mut p, &token);
    let (status, problem_type, challenge) = refusal(&host, &action);
    assert_eq!((status, challenge), (503, None));
    assert_eq!(
        problem_type,
        "urn:barbacane:error:oidc-discovery-unavailable"
    );
    let Action::Respond(response) = &action else {
        unreachable!()
    };
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("discovery document")
    );
    assert_eq!(host.http_calls()[0].timeout_ms, Some(250));
    // At most one attempt per 5 s meanwhile.
    let action = send(&mut host, &mut p, &token);
    assert_eq!(refusal(&host, &action).0, 503);
    assert_eq!(urls(&host).len(), 1);
    // The discovery document is back, the JWK Set is not: 503 jwks-unavailable.
    idp.borrow_mut().discovery = Some(json!({"issuer": ISSUER, "jwks_uri": JWKS}));
    idp.borrow_mut().keys = None;
    host.advance_ms(5_000);
    let action = send(&mut host, &mut p, &token);
    assert_eq!(
        refusal(&host, &action),
        (503, "urn:barbacane:error:jwks-unavailable".into(), None)
    );
    assert_eq!(urls(&host), vec![DISCOVERY, DISCOVERY, JWKS]);
    // Both back.
    idp.borrow_mut().keys = Some(vec![signer.jwk.clone()]);
    host.advance_ms(5_000);
    let action = send(&mut host, &mut p, &token);
    assert_accepted(&host, &action);
}

#[test]
fn keys_are_refreshed_rotated_and_kept_when_the_provider_fails() {
    let k1 = Signer::ecdsa("ES256");
    let k2 = Signer::ecdsa("ES256");
    let mut host = host();
    let idp = idp(&mut host, vec![k1.jwk_with_kid("k1")]);
    let mut p = oidc(json!({"jwks_refresh_seconds": 60}));
    let t1 = k1.token_kid("k1", &claims_with(json!({})));
    let t2 = k2.token_kid("k2", &claims_with(json!({})));
    accepts(&mut host, &mut p, &t1);
    assert_eq!(urls(&host).len(), 2);
    // k2 rotated in at the provider: an unknown kid fetches both documents again.
    idp.borrow_mut().keys = Some(vec![k1.jwk_with_kid("k1"), k2.jwk_with_kid("k2")]);
    host.advance_ms(30_000);
    accepts(&mut host, &mut p, &t2);
    assert_eq!(urls(&host).len(), 4);
    // Unknown kids fetch at most once per 30 s.
    let t3 = Signer::ecdsa("ES256").token_kid("k3", &claims_with(json!({})));
    refuses(&mut host, &mut p, &t3);
    host.advance_ms(1_000);
    refuses(&mut host, &mut p, &t3);
    assert_eq!(urls(&host).len(), 4);
    // The provider is down when the keys are due: they are kept.
    idp.borrow_mut().discovery = None;
    host.advance_ms(60_000);
    accepts(&mut host, &mut p, &t2);
    assert!(
        host.logs()
            .iter()
            .any(|(level, m)| *level == 1 && m.contains("using its jwks_uri from before"))
    );
    // Only the discovery document failed: its jwks_uri from before was used, and the new
    // set (k1 removed) applies.
    idp.borrow_mut().keys = Some(vec![k2.jwk_with_kid("k2")]);
    host.advance_ms(60_000);
    accepts(&mut host, &mut p, &t2);
    refuses(&mut host, &mut p, &t1);
    // Both fail: the keys fetched before are kept.
    idp.borrow_mut().keys = None;
    host.advance_ms(60_000);
    accepts(&mut host, &mut p, &t2);
    assert!(
        host.logs()
            .iter()
            .any(|(level, m)| *level == 1 && m.contains("keeping the key fetched before"))
    );
}

#[test]
fn a_query_token_is_read_only_when_allowed() {
    let signer = Signer::ed25519();
    let mut host = host();
    idp(&mut host, vec![signer.jwk.clone()]);
    let token = signer.token(&claims_with(json!({})));
    for (allowed, accepted) in [(false, false), (true, true)] {
        let mut p = oidc(json!({"allow_query_token": allowed}));
        host.next_request();
        host.crypto_verifier(ring_verify);
        host.query(&format!("page=2&access_token={token}"));
        let action = host.on_request(&mut p);
        if accepted {
            assert_accepted(&host, &action);
        } else {
            assert_eq!(
                refusal(&host, &action),
                (
                    401,
                    "urn:barbacane:error:unauthorized".into(),
                    Some(r#"Bearer realm="api""#.into())
                )
            );
        }
    }
    // The header wins over the query parameter.
    let mut p = oidc(json!({"allow_query_token": true}));
    host.next_request();
    host.crypto_verifier(ring_verify);
    host.query(&format!("access_token={token}"));
    host.header("authorization", "Bearer not.a.token");
    let action = host.on_request(&mut p);
    assert_invalid(&host, &action);
}

#[test]
fn required_scopes_audience_and_clock_skew() {
    let signer = Signer::ed25519();
    let mut host = host();
    idp(&mut host, vec![signer.jwk.clone()]);
    let mut p = oidc(json!({
        "required_scopes": " orders:read  orders:write ",
        "audience": "shop-api",
        "clock_skew_seconds": 30,
    }));
    let with = |extra: Value| {
        let mut claims = claims_with(
            json!({"aud": ["other", "shop-api"], "scp": ["orders:read", "orders:write", "x"]}),
        );
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        signer.token(&claims)
    };
    accepts(&mut host, &mut p, &with(json!({})));
    assert_eq!(
        host.context_value("auth.scopes").as_deref(),
        Some("orders:read orders:write x")
    );
    let action = send(&mut host, &mut p, &with(json!({"scp": "orders:read"})));
    assert_eq!(
        refusal(&host, &action),
        (
            403,
            "urn:barbacane:error:insufficient-scope".into(),
            Some(r#"Bearer realm="api", error="insufficient_scope", scope="orders:read orders:write""#.into())
        )
    );
    refuses(&mut host, &mut p, &with(json!({"aud": "other"})));
    accepts(&mut host, &mut p, &with(json!({"exp": NOW - 29})));
    refuses(&mut host, &mut p, &with(json!({"exp": NOW - 30})));
    refuses(&mut host, &mut p, &with(json!({"nbf": NOW + 31})));
}

#[test]
fn groups_come_from_groups_claim_by_name_or_pointer() {
    let signer = Signer::ed25519();
    let mut host = host();
    idp(&mut host, vec![signer.jwk.clone()]);
    let claims = claims_with(json!({
        "scope": "read",
        "realm_access": {"roles": ["admin", "ops", "has space", 7]},
        "https://example.com/groups": "a, b,,c",
        "team": "blue team",
        "list": [["x"]],
    }));
    let token = signer.token(&claims);
    for (config, roles) in [
        (json!({"groups_claim": "/realm_access/roles"}), "admin ops"),
        (json!({"groups_claim": "realm_access"}), ""),
        (json!({"groups_claim": "/realm_access/roles/1"}), "ops"),
        (json!({"groups_claim": "https://example.com/groups"}), ""),
        (
            json!({"groups_claim": "https://example.com/groups", "groups_claim_separator": ","}),
            "a b c",
        ),
        (json!({"groups_claim": "/team"}), ""),
        (
            json!({"groups_claim": "team", "groups_claim_separator": " "}),
            "blue team",
        ),
        (json!({"groups_claim": "/missing/deep"}), ""),
        (json!({"groups_claim": "list"}), ""),
        (json!({}), "read"),
    ] {
        let mut p = oidc(config.clone());
        accepts(&mut host, &mut p, &token);
        assert_eq!(
            host.context_value("auth.roles").as_deref(),
            Some(roles),
            "{config}"
        );
    }
    // A string without a separator is one group.
    let single = signer.token(&claims_with(json!({"group": "admins"})));
    let mut p = oidc(json!({"groups_claim": "group"}));
    accepts(&mut host, &mut p, &single);
    assert_eq!(host.context_value("auth.roles").as_deref(), Some("admins"));
}

#[test]
fn defaults_and_refused_configurations() {
    let p = oidc(json!({}));
    assert_eq!(p.clock_skew_seconds, 60);
    assert_eq!(p.jwks_refresh_seconds, 300);
    assert_eq!(p.timeout, 5.0);
    assert!(!p.allow_query_token);
    assert_eq!(p.provider.discovery_url, format!("{ISSUER}{WELL_KNOWN}"));
    assert_eq!(p.provider.timeout_ms, 5000);
    assert_eq!(p.policy.refresh_ms, 300_000);
    for (config, needle) in [
        (json!({}), "issuer_url"),
        (json!({"issuer_url": "http://idp.example"}), "https"),
        (
            json!({"issuer_url": "https://u:p@idp.example"}),
            "credentials",
        ),
        (json!({"issuer_url": "idp.example"}), "absolute URL"),
        (
            json!({"issuer_url": ISSUER, "audience": ""}),
            "audience is empty",
        ),
        (
            json!({"issuer_url": ISSUER, "issuer_override": ""}),
            "issuer_override is empty",
        ),
        (
            json!({"issuer_url": ISSUER, "groups_claim_separator": ""}),
            "separator is empty",
        ),
        (
            json!({"issuer_url": ISSUER, "required_scopes": "a \"b\""}),
            "required_scopes",
        ),
        (
            json!({"issuer_url": ISSUER, "jwks_refresh_seconds": 9}),
            "at least 10",
        ),
        (json!({"issuer_url": ISSUER, "timeout": 0}), "timeout"),
        (json!({"issuer_url": ISSUER, "timeout": 301}), "timeout"),
        (
            json!({"issuer_url": ISSUER, "jwks_url": JWKS}),
            "unknown field",
        ),
    ] {
        let err = middleware_from::<OidcAuth>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
    // Loopback providers may be plain HTTP (local development).
    assert!(
        middleware_from::<OidcAuth>(&json!({"issuer_url": "http://127.0.0.1:8080/realms/x"}))
            .is_ok()
    );
}

#[test]
fn the_configuration_schema_matches_the_plugin() {
    let schema: Value = serde_json::from_str(include_str!("../config-schema.json")).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    let names: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "allow_query_token",
            "audience",
            "clock_skew_seconds",
            "groups_claim",
            "groups_claim_separator",
            "issuer_override",
            "issuer_url",
            "jwks_refresh_seconds",
            "required_scopes",
            "timeout",
        ]
    );
    assert_eq!(schema["required"], json!(["issuer_url"]));
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(properties["clock_skew_seconds"]["default"], 60);
    assert_eq!(properties["jwks_refresh_seconds"]["default"], 300);
    assert_eq!(
        properties["jwks_refresh_seconds"]["minimum"],
        MIN_REFRESH_SECONDS
    );
    assert_eq!(properties["timeout"]["default"], 5);
    assert_eq!(properties["timeout"]["maximum"], MAX_TIMEOUT_SECONDS);
    assert_eq!(properties["allow_query_token"]["default"], false);
    for (name, property) in properties {
        assert!(property["description"].is_string(), "{name}");
    }
}
