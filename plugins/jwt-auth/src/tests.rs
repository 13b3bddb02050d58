use super::*;
use barbacane_plugin_sdk::http::{HttpError, HttpErrorKind, HttpResponse};
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use base64::engine::general_purpose::STANDARD;
use jwt_verify::testing::{RSA_PKCS8, Signer, der, ring_verify};
use ring::signature::{self, Ed25519KeyPair, RsaKeyPair};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

/// The fake host's clock when it starts, in seconds (`FakeHost::new`).
const NOW: i64 = 1_700_000_000;

const JWKS_URL: &str = "https://idp.example/.well-known/jwks.json";

/// Every context key the plugin sets on an accepted request (claims aside).
const CONTEXT_KEYS: [&str; 5] = [
    "auth.sub",
    "auth.consumer",
    "auth.scopes",
    "auth.roles",
    "auth.method",
];

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64u(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// A fresh fake host whose `crypto.verify` is [`ring_verify`].
fn host() -> FakeHost {
    let mut host = FakeHost::new();
    host.crypto_verifier(ring_verify);
    host
}

/// Valid claims: alice, expiring in an hour.
fn claims() -> Value {
    json!({"sub": "alice", "iat": NOW, "exp": NOW + 3600})
}

/// `claims()` with `extra`'s members set (a `null` removes one).
fn claims_with(extra: Value) -> Value {
    let mut claims = claims();
    for (name, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn auth(config: Value) -> JwtAuth {
    middleware_from(&config).unwrap()
}

/// A plugin trusting `signer`'s key, with `extra`'s members added to the configuration.
fn trusting(signer: &Signer, extra: Value) -> JwtAuth {
    let mut config = json!({"public_key_jwk": signer.jwk});
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    auth(config)
}

/// Starts the next request on `host`, with [`ring_verify`] as its `crypto.verify`
/// (`FakeHost::next_request` forgets the verifier, unlike the HTTP handler).
fn next_request(host: &mut FakeHost) {
    host.next_request();
    host.crypto_verifier(ring_verify);
}

/// Starts the next request with `Authorization: <authorization>` and runs the plugin.
fn send_authorization(host: &mut FakeHost, plugin: &mut JwtAuth, authorization: &str) -> Action {
    next_request(host);
    host.header("authorization", authorization);
    host.on_request(plugin)
}

/// Starts the next request with `token` as its bearer token and runs the plugin.
fn send(host: &mut FakeHost, plugin: &mut JwtAuth, token: &str) -> Action {
    send_authorization(host, plugin, &format!("Bearer {token}"))
}

// --- answers ---------------------------------------------------------------------------

/// The problem body of an answer, checking the status, content type and challenge.
fn problem(host: &FakeHost, action: &Action, status: u16, challenge: Option<&str>) -> Value {
    let Action::Respond(r) = action else {
        panic!("expected a {status}, got {action:?}");
    };
    assert_eq!(r.status, status);
    assert_eq!(host.response_status(), Some(status));
    assert_eq!(
        host.response_header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let expected: Vec<String> = challenge.into_iter().map(str::to_owned).collect();
    assert_eq!(host.response_headers("www-authenticate"), expected);
    for key in CONTEXT_KEYS.iter().chain(&["auth.claims.sub"]) {
        assert_eq!(host.context_value(key), None, "{key}");
    }
    serde_json::from_slice(&r.body).unwrap()
}

/// Asserts the 401 of a request without a token.
fn assert_missing(host: &FakeHost, action: Action) {
    let body = problem(host, &action, 401, Some(r#"Bearer realm="api""#));
    assert_eq!(
        body,
        json!({
            "type": "urn:barbacane:error:unauthorized",
            "title": "Authentication required",
            "status": 401,
            "detail": "The request needs a bearer token.",
        })
    );
}

/// Asserts the 401 of a request with an invalid token.
fn assert_invalid(host: &FakeHost, action: Action) {
    let body = problem(
        host,
        &action,
        401,
        Some(r#"Bearer realm="api", error="invalid_token""#),
    );
    assert_eq!(
        body,
        json!({
            "type": "urn:barbacane:error:unauthorized",
            "title": "Authentication required",
            "status": 401,
            "detail": "The bearer token is invalid (invalid_token).",
        })
    );
}

/// Asserts the 503 of a JWK Set that cannot be fetched.
fn assert_unavailable(host: &FakeHost, action: Action) {
    let body = problem(host, &action, 503, None);
    assert_eq!(body["type"], "urn:barbacane:error:jwks-unavailable");
    assert_eq!(body["status"], 503);
    assert_eq!(host.response_headers("retry-after"), vec!["5"]);
}

/// Asserts the request was accepted for `sub`.
fn assert_accepted(host: &FakeHost, action: Action, sub: &str) {
    assert_eq!(action, Action::Continue);
    assert_eq!(host.response_status(), None);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some(sub));
    assert_eq!(host.context_value("auth.method").as_deref(), Some("jwt"));
}

/// The reasons logged at debug level.
fn debug_logs(host: &FakeHost) -> Vec<String> {
    host.logs()
        .into_iter()
        .filter(|(level, _)| *level == 3)
        .map(|(_, message)| message)
        .collect()
}

// --- the identity provider -------------------------------------------------------------

/// What the fake identity provider serves at `JWKS_URL`.
struct Idp {
    keys: Vec<Value>,
    /// `false`: connections are refused.
    up: bool,
    status: u16,
    /// Served instead of the JWK Set when set.
    body: Option<Vec<u8>>,
}

/// An identity provider serving `keys`, answering `host`'s outbound calls.
fn idp(host: &mut FakeHost, keys: Vec<Value>) -> Rc<RefCell<Idp>> {
    let idp = Rc::new(RefCell::new(Idp {
        keys,
        up: true,
        status: 200,
        body: None,
    }));
    let served = Rc::clone(&idp);
    host.http(move |request| {
        assert_eq!(request.url, JWKS_URL);
        let idp = served.borrow();
        if !idp.up {
            return Err(HttpError {
                kind: HttpErrorKind::Connect,
                message: "connection refused".into(),
            });
        }
        let body = idp
            .body
            .clone()
            .unwrap_or_else(|| json!({"keys": idp.keys}).to_string().into_bytes());
        Ok(HttpResponse {
            status: idp.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        })
    });
    idp
}

fn fetches(host: &FakeHost) -> usize {
    host.http_calls().len()
}

// --- the test verifier ---------------------------------------------------------------

#[test]
fn the_test_verifier_checks_the_rfc8037_ed25519_example() {
    // RFC 8037, appendix A: the example key (A.1, A.2) and the JWS it signs (A.4).
    let jwk = br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let sig = unb64u(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
    assert_eq!(ring_verify("EdDSA", jwk, input, &sig), Ok(true));
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert_eq!(ring_verify("EdDSA", jwk, input, &bad), Ok(false));
    assert_eq!(
        ring_verify("EdDSA", jwk, b"eyJhbGciOiJFZERTQSJ9.", &sig),
        Ok(false)
    );
    assert!(ring_verify("ES256", jwk, input, &sig).is_err());
    assert!(ring_verify("none", jwk, input, &sig).is_err());

    // The signing side: the example's private key gives its public key and its signature
    // (Ed25519 is deterministic).
    let seed = unb64u("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let signer = Signer::from_ed25519(pair);
    assert_eq!(
        signer.jwk["x"],
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    );
    assert_eq!((signer.sign)(input), sig);

    // What the plugin hands the gateway for that key.
    let key = keys::parse_jwk(&serde_json::from_slice(jwk).unwrap()).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&key.jwk).unwrap(),
        serde_json::from_slice::<Value>(jwk).unwrap()
    );
    assert_eq!(
        ring_verify("EdDSA", key.jwk.as_bytes(), input, &sig),
        Ok(true)
    );
}

// --- accepted tokens -----------------------------------------------------------------

#[test]
fn tokens_of_every_tested_algorithm_are_accepted() {
    let signers = [
        Signer::ed25519(),
        Signer::ecdsa("ES256"),
        Signer::ecdsa("ES384"),
        Signer::rsa("RS256"),
        Signer::rsa("RS384"),
        Signer::rsa("RS512"),
        Signer::rsa("PS256"),
        Signer::rsa("PS384"),
        Signer::rsa("PS512"),
    ];
    let mut host = host();
    for signer in &signers {
        let mut p = trusting(signer, json!({}));
        let action = send(&mut host, &mut p, &signer.token(&claims()));
        assert_accepted(&host, action, "alice");
        // Signed by another key of the same type: refused.
        let other = match signer.alg {
            "EdDSA" => Signer::ed25519(),
            "ES256" | "ES384" => Signer::ecdsa(signer.alg),
            _ => continue,
        };
        let action = send(&mut host, &mut p, &other.token(&claims()));
        assert_invalid(&host, action);
    }
}

#[test]
fn the_context_carries_the_identity_scopes_roles_and_claims() {
    let signer = Signer::ed25519();
    let mut p = trusting(&signer, json!({"groups_claim": "groups"}));
    let mut host = host();
    let token = signer.token(&claims_with(json!({
        "iss": "https://idp.example",
        "scope": "pets:read  pets:write",
        "groups": ["admin", "ops", 7, "two words", ""],
        "email": "alice@example.com",
        "email_verified": true,
        "tenant_id": 42,
        "ratio": 0.5,
        "address": {"country": "FR"},
        "amr": ["pwd"],
        "nothing": null,
    })));
    let action = send(&mut host, &mut p, &token);
    assert_accepted(&host, action, "alice");
    let value = |key: &str| host.context_value(key);
    assert_eq!(value("auth.consumer").as_deref(), Some("alice"));
    assert_eq!(
        value("auth.scopes").as_deref(),
        Some("pets:read pets:write")
    );
    assert_eq!(value("auth.roles").as_deref(), Some("admin ops"));
    for (claim, text) in [
        ("sub", "alice"),
        ("iss", "https://idp.example"),
        ("email", "alice@example.com"),
        ("email_verified", "true"),
        ("tenant_id", "42"),
        ("ratio", "0.5"),
        ("exp", "1700003600"),
        ("iat", "1700000000"),
        ("scope", "pets:read  pets:write"),
    ] {
        assert_eq!(
            value(&format!("auth.claims.{claim}")).as_deref(),
            Some(text),
            "{claim}"
        );
    }
    for claim in ["address", "amr", "nothing", "groups"] {
        assert_eq!(value(&format!("auth.claims.{claim}")), None, "{claim}");
    }
    // The request goes on unchanged.
    assert_eq!(
        host.request_header("authorization"),
        Some(format!("Bearer {token}"))
    );
}

#[test]
fn scopes_come_from_scope_or_scp_and_roles_from_a_string_too() {
    let signer = Signer::ecdsa("ES256");
    let mut p = trusting(&signer, json!({"groups_claim": "roles"}));
    let mut host = host();
    for (extra, scopes, roles) in [
        (json!({}), "", ""),
        (json!({"scp": ["a", "b c", "d"]}), "a d", ""),
        (json!({"scp": "a b"}), "a b", ""),
        (json!({"scope": "x", "scp": ["y"]}), "x", ""),
        (json!({"scope": 12}), "", ""),
        (json!({"roles": " admin\tops "}), "", "admin ops"),
        (json!({"roles": {"admin": true}}), "", ""),
    ] {
        let action = send(
            &mut host,
            &mut p,
            &signer.token(&claims_with(extra.clone())),
        );
        assert_accepted(&host, action, "alice");
        assert_eq!(
            host.context_value("auth.scopes").as_deref(),
            Some(scopes),
            "{extra}"
        );
        assert_eq!(
            host.context_value("auth.roles").as_deref(),
            Some(roles),
            "{extra}"
        );
    }
    // Without groups_claim, no roles.
    let mut p = trusting(&signer, json!({}));
    let action = send(
        &mut host,
        &mut p,
        &signer.token(&claims_with(json!({"roles": "admin"}))),
    );
    assert_accepted(&host, action, "alice");
    assert_eq!(host.context_value("auth.roles"), None);
    assert_eq!(
        host.context_value("auth.claims.roles").as_deref(),
        Some("admin")
    );
}

#[test]
fn a_token_without_sub_is_accepted_without_a_subject() {
    let signer = Signer::ed25519();
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    for sub in [json!(null), json!(42)] {
        let action = send(
            &mut host,
            &mut p,
            &signer.token(&claims_with(json!({"sub": sub}))),
        );
        assert_eq!(action, Action::Continue);
        assert_eq!(host.context_value("auth.sub"), None);
        assert_eq!(host.context_value("auth.consumer"), None);
        assert_eq!(host.context_value("auth.method").as_deref(), Some("jwt"));
    }
}

// --- reading the token ---------------------------------------------------------------

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let signer = Signer::ed25519();
    let token = signer.token(&claims());
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    for value in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer    {token}"),
        format!("  Bearer {token}  "),
    ] {
        let action = send_authorization(&mut host, &mut p, &value);
        assert_accepted(&host, action, "alice");
    }
}

#[test]
fn a_request_without_a_bearer_token_gets_the_bare_challenge() {
    let signer = Signer::ed25519();
    let token = signer.token(&claims());
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    host.next_request();
    let action = host.on_request(&mut p);
    assert_missing(&host, action);
    for value in [
        String::new(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Basic YWxpY2U6c2VjcmV0".to_owned(),
        format!("Token {token}"),
        format!("Bearer\t{token}"),
        format!("Bearertoken {token}"),
        token.clone(),
    ] {
        let action = send_authorization(&mut host, &mut p, &value);
        assert_missing(&host, action);
    }
    // Only the first field is read.
    host.next_request();
    host.header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .header("authorization", &format!("Bearer {token}"));
    let action = host.on_request(&mut p);
    assert_missing(&host, action);
    // Never from the query string.
    host.next_request();
    host.query(&format!("access_token={token}"));
    let action = host.on_request(&mut p);
    assert_missing(&host, action);
    assert!(host.logs().is_empty(), "{:?}", host.logs());
}

#[test]
fn malformed_tokens_are_invalid() {
    let signer = Signer::ed25519();
    let token = signer.token(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let (header, payload, sig) = (parts[0], parts[1], parts[2]);
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    let signed = |header: &str, payload: &str| {
        let input = format!("{header}.{payload}");
        format!("{input}.{}", b64u(&(signer.sign)(input.as_bytes())))
    };
    let json_part = |value: Value| b64u(value.to_string().as_bytes());
    for (bad, why) in [
        ("a.b".to_owned(), "2 parts"),
        (format!("{token}."), "4 parts"),
        (format!("{header}.{payload}"), "2 parts"),
        (format!("{header}.{payload}.{sig}.x.y"), "a JWE"),
        (format!("{header}.{payload}."), "the signature is empty"),
        (format!("{header}.{payload}.{sig}="), "not base64url"),
        (format!("{header}=.{payload}.{sig}"), "the header is not"),
        (
            format!("{header}.{payload}.+{}", &sig[1..]),
            "not base64url",
        ),
        (signed("e30", payload), "no `alg`"),
        (
            signed(&json_part(json!({"alg": 1})), payload),
            "not a string",
        ),
        (
            signed(&json_part(json!(["EdDSA"])), payload),
            "the header is not",
        ),
        (signed(&b64u(b"not json"), payload), "the header is not"),
        (
            signed(&json_part(json!({"alg": "EdDSA", "kid": 7})), payload),
            "`kid` is not a string",
        ),
        (
            signed(
                &json_part(json!({"alg": "EdDSA", "crit": ["exp"], "exp": 1})),
                payload,
            ),
            "`crit`",
        ),
        (
            signed(header, &b64u(b"Example of Ed25519 signing")),
            "the payload is not",
        ),
        (
            signed(header, &json_part(json!("alice"))),
            "the payload is not",
        ),
        (signed(header, "!!"), "the payload is not"),
    ] {
        let action = send(&mut host, &mut p, &bad);
        assert_invalid(&host, action);
        let logged = debug_logs(&host);
        let last = logged.last().unwrap();
        assert!(last.contains(why), "{bad}: {last}");
    }
    // None of these reasons echo the token.
    assert!(host.logs().iter().all(|(_, m)| !m.contains(sig)));
}

#[test]
fn a_tampered_token_is_invalid() {
    let signer = Signer::ecdsa("ES256");
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    let token = signer.token(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    // Another payload under the same signature.
    let forged = b64u(
        claims_with(json!({"sub": "mallory"}))
            .to_string()
            .as_bytes(),
    );
    let action = send(
        &mut host,
        &mut p,
        &format!("{}.{forged}.{}", parts[0], parts[2]),
    );
    assert_invalid(&host, action);
    assert_eq!(
        debug_logs(&host).last().unwrap(),
        "token refused: the signature does not verify"
    );
    // A flipped bit in the signature.
    let mut sig = unb64u(parts[2]);
    sig[5] ^= 0x40;
    let action = send(
        &mut host,
        &mut p,
        &format!("{}.{}.{}", parts[0], parts[1], b64u(&sig)),
    );
    assert_invalid(&host, action);
    // Another header (the `kid` added) under the same signature.
    let header = b64u(
        json!({"alg": "ES256", "typ": "JWT", "kid": "x"})
            .to_string()
            .as_bytes(),
    );
    let action = send(
        &mut host,
        &mut p,
        &format!("{header}.{}.{}", parts[1], parts[2]),
    );
    assert_invalid(&host, action);
    // The original still passes.
    let action = send(&mut host, &mut p, &token);
    assert_accepted(&host, action, "alice");
}

// --- algorithms ----------------------------------------------------------------------

/// A token with header `header`, `claims` and signature bytes `sig`.
fn raw_token(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64u(header.to_string().as_bytes()),
        b64u(claims.to_string().as_bytes()),
        b64u(sig)
    )
}

#[test]
fn alg_none_is_always_refused() {
    let signer = Signer::ed25519();
    let mut host = host();
    for mut p in [
        trusting(&signer, json!({})),
        auth(json!({"skip_signature_validation": true})),
    ] {
        for alg in ["none", "None", "NONE"] {
            let header = json!({"alg": alg, "typ": "JWT"});
            let unsecured = format!(
                "{}.{}.",
                b64u(header.to_string().as_bytes()),
                b64u(claims().to_string().as_bytes())
            );
            let action = send(&mut host, &mut p, &unsecured);
            assert_invalid(&host, action);
            let action = send(&mut host, &mut p, &raw_token(&header, &claims(), b"sig"));
            assert_invalid(&host, action);
        }
    }
    assert!(
        debug_logs(&host)
            .iter()
            .any(|m| m.contains("`none` (an unsecured JWS) is never accepted"))
    );
}

#[test]
fn hmac_tokens_are_refused_even_when_the_mac_is_right() {
    // The classic confusion: a token MACed (HS256) with the public key as the secret.
    let signer = Signer::rsa("RS256");
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    let jwk = keys::parse_jwk(&signer.jwk).unwrap().jwk;
    for secret in [jwk.as_bytes(), RSA_SPKI_PEM.as_bytes()] {
        let header = b64u(json!({"alg": "HS256", "typ": "JWT"}).to_string().as_bytes());
        let input = format!("{header}.{}", b64u(claims().to_string().as_bytes()));
        let mac = crypto::hmac("HS256", secret, input.as_bytes()).unwrap();
        let action = send(&mut host, &mut p, &format!("{input}.{}", b64u(&mac)));
        assert_invalid(&host, action);
    }
    for alg in ["HS384", "HS512"] {
        let token = raw_token(&json!({"alg": alg}), &claims(), &[1; 48]);
        let action = send(&mut host, &mut p, &token);
        assert_invalid(&host, action);
    }
    assert!(
        debug_logs(&host)
            .last()
            .unwrap()
            .contains("HMAC (shared secret) algorithm")
    );
    let mut skipping = auth(json!({"skip_signature_validation": true}));
    let token = raw_token(&json!({"alg": "HS256"}), &claims(), &[1; 32]);
    let action = send(&mut host, &mut skipping, &token);
    assert_invalid(&host, action);
}

#[test]
fn a_token_for_another_kind_of_key_is_invalid() {
    let ed = Signer::ed25519();
    let es256 = Signer::ecdsa("ES256");
    let es384 = Signer::ecdsa("ES384");
    let rsa = Signer::rsa("RS256");
    let mut host = host();
    let mut p = trusting(&ed, json!({}));
    for signer in [&es256, &es384, &rsa] {
        let action = send(&mut host, &mut p, &signer.token(&claims()));
        assert_invalid(&host, action);
        assert_eq!(
            debug_logs(&host).last().unwrap(),
            &format!("token refused: no key for {}", signer.alg)
        );
    }
    // The algorithm names another curve than the key's.
    let mut p = trusting(&es256, json!({}));
    let action = send(&mut host, &mut p, &es384.token(&claims()));
    assert_invalid(&host, action);
    // An Ed25519 signature presented as ES256, for the ES256 key.
    let header = json!({"alg": "ES256"});
    let input = format!(
        "{}.{}",
        b64u(header.to_string().as_bytes()),
        b64u(claims().to_string().as_bytes())
    );
    let token = format!("{input}.{}", b64u(&(ed.sign)(input.as_bytes())));
    let action = send(&mut host, &mut p, &token);
    assert_invalid(&host, action);
    // An unsupported algorithm.
    for alg in ["ES512", "RS1", "EdDSA ", "eddsa"] {
        let token = raw_token(&json!({"alg": alg}), &claims(), &[1; 64]);
        let action = send(&mut host, &mut p, &token);
        assert_invalid(&host, action);
    }
}

#[test]
fn a_gateway_that_cannot_verify_means_an_invalid_token() {
    let signer = Signer::ed25519();
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    next_request(&mut host);
    host.crypto_verifier(|_, _, _, _| Err("EdDSA needs an Ed25519 (OKP) key".into()))
        .header(
            "authorization",
            &format!("Bearer {}", signer.token(&claims())),
        );
    let action = host.on_request(&mut p);
    assert_invalid(&host, action);
    assert!(
        debug_logs(&host)
            .iter()
            .any(|m| m.contains("the gateway cannot verify with a key"))
    );
}

#[test]
fn algorithms_limits_what_is_accepted() {
    let rs = Signer::rsa("RS256");
    let ps = Signer::rsa("PS256");
    let mut host = host();
    let mut p = trusting(&rs, json!({"algorithms": ["PS256", "ES256"]}));
    let action = send(&mut host, &mut p, &rs.token(&claims()));
    assert_invalid(&host, action);
    assert!(
        debug_logs(&host)
            .last()
            .unwrap()
            .contains("RS256 is not in `algorithms`")
    );
    let action = send(&mut host, &mut p, &ps.token(&claims()));
    assert_accepted(&host, action, "alice");

    // A key's own `alg` binds it to one algorithm.
    let mut jwk = rs.jwk.clone();
    jwk["alg"] = json!("RS256");
    let mut p = auth(json!({"public_key_jwk": jwk}));
    let action = send(&mut host, &mut p, &ps.token(&claims()));
    assert_invalid(&host, action);
    let action = send(&mut host, &mut p, &rs.token(&claims()));
    assert_accepted(&host, action, "alice");
}

// --- keys and kid --------------------------------------------------------------------

#[test]
fn kid_selects_the_key() {
    let signer = Signer::ed25519();
    let mut host = host();
    let mut p = auth(json!({"public_key_jwk": signer.jwk_with_kid("k1")}));
    let action = send(&mut host, &mut p, &signer.token_kid("k1", &claims()));
    assert_accepted(&host, action, "alice");
    // A token without kid is checked with every fitting key.
    let action = send(&mut host, &mut p, &signer.token(&claims()));
    assert_accepted(&host, action, "alice");
    let action = send(&mut host, &mut p, &signer.token_kid("k2", &claims()));
    assert_invalid(&host, action);
    assert_eq!(
        debug_logs(&host).last().unwrap(),
        r#"token refused: no configured key with kid "k2" for EdDSA"#
    );
    // A configured key without kid serves any kid.
    let mut p = trusting(&signer, json!({}));
    let action = send(&mut host, &mut p, &signer.token_kid("anything", &claims()));
    assert_accepted(&host, action, "alice");
}

#[test]
fn a_pem_key_and_a_jwk_are_used_together() {
    let ed = Signer::from_ed25519(
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der(ED25519_PKCS8)).unwrap(),
    );
    let es = Signer::ecdsa("ES256");
    let mut host = host();
    let mut p = auth(json!({"public_key_jwk": es.jwk, "public_key_pem": ED25519_PEM}));
    for signer in [&ed, &es] {
        let action = send(&mut host, &mut p, &signer.token(&claims()));
        assert_accepted(&host, action, "alice");
    }
}

// --- claims --------------------------------------------------------------------------

/// Sends a token of `claims` signed by `signer` through `p`; whether it was accepted.
fn accepts(host: &mut FakeHost, p: &mut JwtAuth, signer: &Signer, claims: Value) -> bool {
    match send(host, p, &signer.token(&claims)) {
        Action::Continue => true,
        action => {
            assert_invalid(host, action);
            false
        }
    }
}

#[test]
fn exp_is_required_and_honoured_with_the_skew() {
    let signer = Signer::ed25519();
    let mut host = host();
    let mut p = trusting(&signer, json!({}));
    let mut at = |exp: Value| accepts(&mut host, &mut p, &signer, claims_with(json!({"exp": exp})));
    // The default skew is 60 s: valid while now < exp + 60.
    assert!(at(json!(NOW + 1)));
    assert!(at(json!(NOW)));
    assert!(at(json!(NOW - 59)));
    assert!(!at(json!(NOW - 60)));
    assert!(!at(json!(NOW - 61)));
    assert!(at(json!(NOW as f64 - 59.999)));
    assert!(!at(json!(NOW as f64 - 60.0)));
    assert!(!at(json!(null)));
    assert!(!at(json!("1700003600")));
    assert!(!at(json!(true)));
    assert!(!at(json!(0)));

    // The clock moves: 500 ms into the last second of validity, then past it.
    let mut p = trusting(&signer, json!({"clock_skew_seconds": 0}));
    let token = signer.token(&claims_with(json!({"exp": NOW + 10})));
    host.advance_ms(9_500);
    assert_eq!(send(&mut host, &mut p, &token), Action::Continue);
    host.advance_ms(500);
    let action = send(&mut host, &mut p, &token);
    assert_invalid(&host, action);
    assert_eq!(
        debug_logs(&host).last().unwrap(),
        "token refused: expired (`exp`)"
    );
}

#[test]
fn nbf_and_iat_must_not_be_in_the_future() {
    let signer = Signer::ecdsa("ES256");
    let mut host = host();
    let mut p = trusting(&signer, json!({"clock_skew_seconds": 30}));
    for claim in ["nbf", "iat"] {
        let mut at = |t: Value| accepts(&mut host, &mut p, &signer, claims_with(json!({claim: t})));
        assert!(at(json!(NOW - 1000)), "{claim}");
        assert!(at(json!(NOW)), "{claim}");
        assert!(at(json!(NOW + 30)), "{claim}");
        assert!(!at(json!(NOW + 31)), "{claim}");
        assert!(at(json!(NOW as f64 + 30.0)), "{claim}");
        assert!(!at(json!(NOW as f64 + 30.001)), "{claim}");
        assert!(!at(json!("soon")), "{claim}");
        assert!(at(json!(null)), "{claim}");
    }
    assert!(
        debug_logs(&host)
            .iter()
            .any(|m| m == "token refused: `nbf` is in the future")
    );
}

#[test]
fn iss_must_be_the_issuer_when_configured() {
    let signer = Signer::ed25519();
    let mut host = host();
    let mut p = trusting(&signer, json!({"issuer": "https://idp.example/"}));
    let mut with =
        |iss: Value| accepts(&mut host, &mut p, &signer, claims_with(json!({"iss": iss})));
    assert!(with(json!("https://idp.example/")));
    assert!(!with(json!("https://idp.example")));
    assert!(!with(json!("https://IDP.example/")));
    assert!(!with(json!(["https://idp.example/"])));
    assert!(!with(json!(null)));
    // Not configured: not looked at.
    let mut p = trusting(&signer, json!({}));
    assert!(accepts(
        &mut host,
        &mut p,
        &signer,
        claims_with(json!({"iss": "anyone"}))
    ));
}

#[test]
fn aud_must_contain_the_audience_when_configured() {
    let signer = Signer::rsa("PS256");
    let mut host = host();
    let mut p = trusting(&signer, json!({"audience": "pets-api"}));
    let mut with =
        |aud: Value| accepts(&mut host, &mut p, &signer, claims_with(json!({"aud": aud})));
    assert!(with(json!("pets-api")));
    assert!(with(json!(["billing", "pets-api"])));
    assert!(!with(json!(["billing"])));
    assert!(!with(json!([])));
    assert!(!with(json!("pets-api2")));
    assert!(!with(json!("pets")));
    assert!(!with(json!([["pets-api"]])));
    assert!(!with(json!(null)));
    assert!(
        debug_logs(&host)
            .last()
            .unwrap()
            .ends_with("`aud` does not contain the configured audience")
    );
    let mut p = trusting(&signer, json!({}));
    assert!(accepts(
        &mut host,
        &mut p,
        &signer,
        claims_with(json!({"aud": "other"}))
    ));
}

// --- scopes --------------------------------------------------------------------------

#[test]
fn a_token_without_every_required_scope_gets_403() {
    let signer = Signer::ed25519();
    let mut host = host();
    let mut p = trusting(
        &signer,
        json!({"required_scopes": ["pets:read", "pets:write"]}),
    );
    for extra in [
        json!({"scope": "pets:read pets:write"}),
        json!({"scope": "admin pets:write pets:read"}),
        json!({"scp": ["pets:write", "pets:read"]}),
    ] {
        let action = send(&mut host, &mut p, &signer.token(&claims_with(extra)));
        assert_accepted(&host, action, "alice");
    }
    for extra in [
        json!({}),
        json!({"scope": "pets:read"}),
        json!({"scope": "pets:read,pets:write"}),
        json!({"scope": ["pets:read pets:write"]}),
        json!({"scp": ["pets:read"]}),
        json!({"scope": "pets:read", "scp": ["pets:write"]}),
    ] {
        let action = send(&mut host, &mut p, &signer.token(&claims_with(extra)));
        let body = problem(
            &host,
            &action,
            403,
            Some(r#"Bearer realm="api", error="insufficient_scope", scope="pets:read pets:write""#),
        );
        assert_eq!(
            body,
            json!({
                "type": "urn:barbacane:error:insufficient-scope",
                "title": "Insufficient scope",
                "status": 403,
                "detail": "The bearer token lacks a scope this operation requires (insufficient_scope).",
            })
        );
    }
    // An invalid token is 401, whatever its scopes.
    let expired = claims_with(json!({"exp": NOW - 3600, "scope": "pets:read"}));
    let action = send(&mut host, &mut p, &signer.token(&expired));
    assert_invalid(&host, action);
}

// --- skip_signature_validation -------------------------------------------------------

#[test]
fn skip_signature_validation_warns_and_still_checks_the_claims() {
    let mut host = host();
    let mut p = auth(json!({"skip_signature_validation": true, "issuer": "idp"}));
    let warnings: Vec<(i32, String)> = host.logs().into_iter().filter(|(l, _)| *l == 1).collect();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].1.contains("NOT checked"), "{warnings:?}");
    assert!(warnings[0].1.contains("never use it in production"));

    let forged = raw_token(
        &json!({"alg": "RS256", "kid": "whatever"}),
        &claims_with(json!({"iss": "idp"})),
        b"not a signature",
    );
    let action = send(&mut host, &mut p, &forged);
    assert_accepted(&host, action, "alice");
    let expired = raw_token(
        &json!({"alg": "ES256"}),
        &claims_with(json!({"iss": "idp", "exp": NOW - 3600})),
        b"x",
    );
    let action = send(&mut host, &mut p, &expired);
    assert_invalid(&host, action);
    let wrong_issuer = raw_token(&json!({"alg": "EdDSA"}), &claims(), b"x");
    let action = send(&mut host, &mut p, &wrong_issuer);
    assert_invalid(&host, action);

    // With a key configured, the key is checked at init but never used, and no JWK Set is
    // fetched.
    let signer = Signer::ed25519();
    let mut p = auth(json!({
        "skip_signature_validation": true,
        "public_key_jwk": signer.jwk,
        "jwks_url": JWKS_URL,
    }));
    let action = send(&mut host, &mut p, &Signer::ed25519().token(&claims()));
    assert_accepted(&host, action, "alice");
    assert_eq!(fetches(&host), 0);
}

// --- the JWK Set ---------------------------------------------------------------------

fn jwks_plugin(extra: Value) -> JwtAuth {
    let mut config = json!({"jwks_url": JWKS_URL});
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    auth(config)
}

#[test]
fn the_jwk_set_is_fetched_by_the_first_request_then_cached() {
    let k1 = Signer::ed25519();
    let k2 = Signer::ecdsa("ES256");
    let mut host = host();
    let _idp = idp(
        &mut host,
        vec![k1.jwk_with_kid("k1"), k2.jwk_with_kid("k2")],
    );
    let mut p = jwks_plugin(json!({"timeout_ms": 2500}));
    assert_eq!(fetches(&host), 0, "init fetches nothing");

    let action = send(&mut host, &mut p, &k1.token_kid("k1", &claims()));
    assert_accepted(&host, action, "alice");
    let calls = host.http_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "GET");
    assert_eq!(calls[0].url, JWKS_URL);
    assert_eq!(calls[0].timeout_ms, Some(2500));
    assert!(calls[0].body.is_empty());
    assert_eq!(
        calls[0].headers,
        vec![(
            "accept".to_owned(),
            "application/jwk-set+json, application/json".to_owned()
        )]
    );

    // Served from the instance's copy.
    for token in [
        k2.token_kid("k2", &claims()),
        k1.token_kid("k1", &claims()),
        k2.token(&claims()),
    ] {
        host.advance_ms(10_000);
        let action = send(&mut host, &mut p, &token);
        assert_accepted(&host, action, "alice");
    }
    // A token for a kid the set has, signed by another key: refused, no fetch.
    let action = send(
        &mut host,
        &mut p,
        &Signer::ed25519().token_kid("k1", &claims()),
    );
    assert_invalid(&host, action);
    assert_eq!(fetches(&host), 1);
}

#[test]
fn the_jwk_set_is_fetched_again_after_jwks_refresh_seconds() {
    let old = Signer::ed25519();
    let new = Signer::ed25519();
    let mut host = host();
    let idp = idp(&mut host, vec![old.jwk_with_kid("old")]);
    let mut p = jwks_plugin(json!({"jwks_refresh_seconds": 120}));
    let old_token = old.token_kid("old", &claims());
    assert_eq!(send(&mut host, &mut p, &old_token), Action::Continue);
    assert_eq!(fetches(&host), 1);

    // The issuer rotates its keys.
    idp.borrow_mut().keys = vec![new.jwk_with_kid("new")];
    host.advance_ms(119_999);
    assert_eq!(send(&mut host, &mut p, &old_token), Action::Continue);
    assert_eq!(fetches(&host), 1);
    host.advance_ms(1);
    let action = send(&mut host, &mut p, &old_token);
    assert_invalid(&host, action);
    assert_eq!(fetches(&host), 2);
    let action = send(&mut host, &mut p, &new.token_kid("new", &claims()));
    assert_accepted(&host, action, "alice");
    assert_eq!(fetches(&host), 2);
}

#[test]
fn an_unknown_kid_fetches_again_at_most_every_30_seconds() {
    let k1 = Signer::ed25519();
    let k2 = Signer::ed25519();
    let mut host = host();
    let idp = idp(&mut host, vec![k1.jwk_with_kid("k1")]);
    let mut p = jwks_plugin(json!({}));
    assert_eq!(
        send(&mut host, &mut p, &k1.token_kid("k1", &claims())),
        Action::Continue
    );
    assert_eq!(fetches(&host), 1);

    // Right after a fetch, an unknown kid does not fetch.
    host.advance_ms(29_999);
    let action = send(&mut host, &mut p, &k2.token_kid("k2", &claims()));
    assert_invalid(&host, action);
    assert_eq!(fetches(&host), 1);

    // 30 s after the last fetch it does, once, however many kids are made up.
    host.advance_ms(1);
    for kid in ["random-1", "random-2", "random-3"] {
        let action = send(&mut host, &mut p, &k2.token_kid(kid, &claims()));
        assert_invalid(&host, action);
    }
    assert_eq!(fetches(&host), 2);
    host.advance_ms(15_000);
    let action = send(&mut host, &mut p, &k2.token_kid("random-4", &claims()));
    assert_invalid(&host, action);
    assert_eq!(fetches(&host), 2);

    // A key rotated in at the issuer is found by the next allowed fetch.
    idp.borrow_mut().keys.push(k2.jwk_with_kid("k2"));
    host.advance_ms(15_000);
    let action = send(&mut host, &mut p, &k2.token_kid("k2", &claims()));
    assert_accepted(&host, action, "alice");
    assert_eq!(fetches(&host), 3);
    // Known kids never fetch.
    for signer_kid in [(&k1, "k1"), (&k2, "k2")] {
        let action = send(
            &mut host,
            &mut p,
            &signer_kid.0.token_kid(signer_kid.1, &claims()),
        );
        assert_accepted(&host, action, "alice");
    }
    assert_eq!(fetches(&host), 3);
}

#[test]
fn the_previous_keys_are_kept_when_a_fetch_fails() {
    let k1 = Signer::ecdsa("ES256");
    let mut host = host();
    let idp = idp(&mut host, vec![k1.jwk_with_kid("k1")]);
    let mut p = jwks_plugin(json!({}));
    let token = k1.token_kid("k1", &claims_with(json!({"exp": NOW + 86_400})));
    assert_eq!(send(&mut host, &mut p, &token), Action::Continue);

    // Due for a refresh, and the issuer is down: the old keys still verify.
    idp.borrow_mut().up = false;
    host.advance_ms(300_000);
    let action = send(&mut host, &mut p, &token);
    assert_accepted(&host, action, "alice");
    assert_eq!(fetches(&host), 2);
    let warnings: Vec<String> = host
        .logs()
        .into_iter()
        .filter(|(level, _)| *level == 1)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        warnings,
        vec![format!(
            "fetching the JWK Set {JWKS_URL} failed: connect: connection refused; keeping the \
             key fetched before"
        )]
    );
    // No retry on every request: after 30 s at the earliest.
    host.advance_ms(29_000);
    assert_eq!(send(&mut host, &mut p, &token), Action::Continue);
    assert_eq!(fetches(&host), 2);
    host.advance_ms(1_000);
    assert_eq!(send(&mut host, &mut p, &token), Action::Continue);
    assert_eq!(fetches(&host), 3);

    // An unknown kid while the issuer is down: the fetch fails, the keys stay.
    host.advance_ms(30_000);
    let action = send(&mut host, &mut p, &k1.token_kid("k9", &claims()));
    assert_invalid(&host, action);
    assert_eq!(fetches(&host), 4);

    // Every kind of failed fetch keeps the keys.
    idp.borrow_mut().up = true;
    for (status, body) in [
        (500, None),
        (200, Some(b"<html>".to_vec())),
        (200, Some(br#"{"keys": "none"}"#.to_vec())),
        (
            200,
            Some(br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#.to_vec()),
        ),
        (200, Some(br#"{"keys": []}"#.to_vec())),
        (200, Some(vec![b' '; MAX_JWKS_BYTES + 1])),
    ] {
        idp.borrow_mut().status = status;
        idp.borrow_mut().body = body;
        host.advance_ms(300_000);
        let action = send(&mut host, &mut p, &token);
        assert_accepted(&host, action, "alice");
    }
    assert_eq!(fetches(&host), 10);
    let reasons: Vec<String> = host
        .logs()
        .into_iter()
        .filter(|(level, _)| *level == 1)
        .map(|(_, m)| m)
        .skip(3)
        .collect();
    for (reason, needle) in reasons.iter().zip([
        "the server answered 500",
        "the answer is not JSON",
        "not a JWK Set (no `keys` array)",
        "no usable signing key",
        "no usable signing key",
        "over 512 KiB",
    ]) {
        assert!(reason.contains(needle), "{reason}");
    }

    // The issuer is back: the next refresh replaces the keys.
    let k2 = Signer::ed25519();
    {
        let mut idp = idp.borrow_mut();
        idp.status = 200;
        idp.body = None;
        idp.keys = vec![k2.jwk_with_kid("k2")];
    }
    host.advance_ms(300_000);
    let action = send(&mut host, &mut p, &token);
    assert_invalid(&host, action);
    let action = send(&mut host, &mut p, &k2.token_kid("k2", &claims()));
    assert_accepted(&host, action, "alice");
    assert_eq!(fetches(&host), 11);
}

#[test]
fn no_keys_and_an_unreachable_jwk_set_is_503() {
    let k1 = Signer::ed25519();
    let mut host = host();
    let idp = idp(&mut host, vec![k1.jwk_with_kid("k1")]);
    idp.borrow_mut().up = false;
    let mut p = jwks_plugin(json!({}));
    let token = k1.token_kid("k1", &claims());
    let action = send(&mut host, &mut p, &token);
    assert_unavailable(&host, action);
    assert_eq!(fetches(&host), 1);
    assert!(host.logs().iter().any(|(level, m)| *level == 1
        && m.ends_with("failed: connect: connection refused; no keys to fall back on")));

    // At most one attempt per 5 s meanwhile.
    host.advance_ms(4_999);
    for token in [
        token.clone(),
        k1.token(&claims()),
        k1.token_kid("k2", &claims()),
    ] {
        let action = send(&mut host, &mut p, &token);
        assert_unavailable(&host, action);
    }
    assert_eq!(fetches(&host), 1);
    host.advance_ms(1);
    let action = send(&mut host, &mut p, &token);
    assert_unavailable(&host, action);
    assert_eq!(fetches(&host), 2);

    // A request without a token is still 401; a malformed one too (no fetch needed).
    host.next_request();
    let action = host.on_request(&mut p);
    assert_missing(&host, action);
    let action = send(&mut host, &mut p, "a.b.c");
    assert_invalid(&host, action);
    assert_eq!(fetches(&host), 2);

    // The issuer answers: requests go through.
    idp.borrow_mut().up = true;
    host.advance_ms(5_000);
    let action = send(&mut host, &mut p, &token);
    assert_accepted(&host, action, "alice");
    assert_eq!(fetches(&host), 3);
}

#[test]
fn a_configured_key_works_while_the_jwk_set_is_unreachable() {
    let local = Signer::ed25519();
    let remote = Signer::ecdsa("ES256");
    let mut host = host();
    let idp = idp(&mut host, vec![remote.jwk_with_kid("r")]);
    idp.borrow_mut().up = false;
    let mut p = jwks_plugin(json!({"public_key_jwk": local.jwk_with_kid("l")}));
    let action = send(&mut host, &mut p, &local.token_kid("l", &claims()));
    assert_accepted(&host, action, "alice");
    let action = send(&mut host, &mut p, &remote.token_kid("r", &claims()));
    assert_unavailable(&host, action);
    idp.borrow_mut().up = true;
    host.advance_ms(5_000);
    let action = send(&mut host, &mut p, &remote.token_kid("r", &claims()));
    assert_accepted(&host, action, "alice");
}

#[test]
fn unusable_keys_of_a_jwk_set_are_skipped() {
    let good = Signer::ecdsa("ES384");
    let mut host = host();
    let mut encryption = Signer::rsa("RS256").jwk_with_kid("enc");
    encryption["use"] = json!("enc");
    let mut verify_ops = good.jwk_with_kid("ops");
    verify_ops["key_ops"] = json!(["verify"]);
    let _idp = idp(
        &mut host,
        vec![
            encryption,
            json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"}),
            json!({"kty": "RSA", "kid": "short", "n": b64u(&[0xff; 128]), "e": "AQAB"}),
            json!("not a key"),
            verify_ops,
            good.jwk_with_kid("good"),
        ],
    );
    let mut p = jwks_plugin(json!({}));
    for kid in ["good", "ops"] {
        let action = send(&mut host, &mut p, &good.token_kid(kid, &claims()));
        assert_accepted(&host, action, "alice");
    }
    let action = send(
        &mut host,
        &mut p,
        &Signer::rsa("RS256").token_kid("enc", &claims()),
    );
    assert_invalid(&host, action);
    let skipped = debug_logs(&host);
    for needle in [
        r#"key 0 (kid "enc") skipped: its `use` is "enc""#,
        r#"key 1 (kid "hmac") skipped: `kty` `oct` is a shared secret"#,
        r#"key 2 (kid "p521") skipped: EC curve "P-521" is not supported"#,
        r#"key 3 (kid "short") skipped: its modulus has 1024 bits"#,
        r#"key 4 (kid "") skipped: not a JSON object"#,
    ] {
        assert!(
            skipped.iter().any(|m| m.contains(needle)),
            "{needle}: {skipped:?}"
        );
    }
}

// --- PEM keys ------------------------------------------------------------------------

#[test]
fn pem_public_keys_become_the_jwks_of_their_private_keys() {
    let rsa = RsaKeyPair::from_pkcs8(&der(RSA_PKCS8)).unwrap();
    let rsa_public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public());
    let rsa_jwk = json!({"kty": "RSA", "n": b64u(&rsa_public.n), "e": b64u(&rsa_public.e)});
    let p256 = Signer::from_ecdsa("ES256", &der(P256_PKCS8));
    let p384 = Signer::from_ecdsa("ES384", &der(P384_PKCS8));
    let ed = Signer::from_ed25519(
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der(ED25519_PKCS8)).unwrap(),
    );
    for (pem, jwk) in [
        (RSA_SPKI_PEM, &rsa_jwk),
        (RSA_PKCS1_PEM, &rsa_jwk),
        (P256_PEM, &p256.jwk),
        (P384_PEM, &p384.jwk),
        (ED25519_PEM, &ed.jwk),
    ] {
        assert_eq!(&pem::pem_to_jwk(pem).unwrap(), jwk, "{pem}");
    }
    // And the plugin accepts what those private keys sign.
    let mut host = host();
    for (pem, signer) in [
        (RSA_SPKI_PEM, Signer::rsa("PS384")),
        (RSA_PKCS1_PEM, Signer::rsa("RS256")),
        (P256_PEM, p256),
        (P384_PEM, p384),
        (ED25519_PEM, ed),
    ] {
        let mut p = auth(json!({"public_key_pem": pem}));
        let action = send(&mut host, &mut p, &signer.token(&claims()));
        assert_accepted(&host, action, "alice");
        let action = send(&mut host, &mut p, &Signer::ed25519().token(&claims()));
        assert_invalid(&host, action);
    }
}

#[test]
fn pem_text_around_the_key_is_checked() {
    // Surrounding whitespace and CRLF line ends are fine.
    let crlf = format!("\n  {}\n", RSA_SPKI_PEM.replace('\n', "\r\n"));
    assert_eq!(
        pem::pem_to_jwk(&crlf).unwrap(),
        pem::pem_to_jwk(RSA_SPKI_PEM).unwrap()
    );
    let body: String = ED25519_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for (text, needle) in [
        (String::new(), "not a PEM public key"),
        ("MCowBQYDK2VwAyEA".to_owned(), "not a PEM public key"),
        (
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"),
            "it is a private key",
        ),
        (
            format!("-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----"),
            "it is a private key",
        ),
        (
            format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"),
            "it is a certificate",
        ),
        (
            format!("-----BEGIN X509 CRL-----\n{body}\n-----END X509 CRL-----"),
            "is not a public key",
        ),
        (
            format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END RSA PUBLIC KEY-----"),
            "must end with `-----END PUBLIC KEY-----`",
        ),
        (format!("{ED25519_PEM}{ED25519_PEM}"), "not base64"),
        (format!("comment\n{ED25519_PEM}"), "not a PEM public key"),
        (
            format!("-----BEGIN PUBLIC KEY-----\n{body}!\n-----END PUBLIC KEY-----"),
            "not base64",
        ),
        // A PKCS#1 body under the SPKI label, and the reverse.
        (
            RSA_PKCS1_PEM.replace("RSA PUBLIC KEY", "PUBLIC KEY"),
            "unexpected DER element",
        ),
        (
            RSA_SPKI_PEM.replace("PUBLIC KEY", "RSA PUBLIC KEY"),
            "unexpected DER element",
        ),
    ] {
        let err = pem::pem_to_jwk(&text).unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

/// A PEM `PUBLIC KEY` of `der`.
fn spki_pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der)
    )
}

#[test]
fn malformed_der_is_refused() {
    let ed = STANDARD
        .decode(
            ED25519_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    // 30 2a | 30 05 06 03 2b6570 | 03 21 00 <32 bytes>
    assert_eq!(ed.len(), 44);
    let p256 = STANDARD
        .decode(
            P256_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let edit = |bytes: &[u8], at: usize, value: u8| {
        let mut copy = bytes.to_vec();
        copy[at] = value;
        copy
    };
    let mut trailing = ed.clone();
    trailing.push(0);
    let mut inner_trailing = ed.clone();
    inner_trailing[1] += 2;
    inner_trailing.extend([5, 0]);
    let mut params = ed.clone();
    params[1] += 2;
    params[3] += 2;
    params.splice(9..9, [5, 0]);
    let mut compressed = p256.clone();
    compressed[26] = 2;
    // One byte short, lengths adjusted.
    let mut short = ed[..43].to_vec();
    short[1] = 0x29;
    short[10] = 0x20;
    let p384 = STANDARD
        .decode(
            P384_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    for (bytes, needle) in [
        (ed[..43].to_vec(), "truncated"),
        (ed[..1].to_vec(), "truncated"),
        (trailing, "unexpected bytes after a DER element"),
        (inner_trailing, "unexpected bytes after a DER element"),
        (params, "unexpected bytes after a DER element"),
        (
            edit(&ed, 0, 0x31),
            "unexpected DER element (tag 0x31, expected 0x30)",
        ),
        (edit(&ed, 1, 0x80), "unsupported DER length"),
        (edit(&ed, 1, 0x84), "unsupported DER length"),
        (edit(&ed, 1, 0x2b), "truncated"),
        (edit(&ed, 11, 1), "unused bits"),
        (short, "an Ed25519 key is 32 bytes"),
        (edit(&ed, 8, 0x71), "Ed448 keys are not supported"),
        (edit(&ed, 8, 0x6e), "the key's algorithm is not supported"),
        (compressed, "compressed EC points are not supported"),
        (edit(&p256, 24, 0x43), "truncated"),
        (edit(&p256, 26, 0x05), "not a P-256 public point"),
        (edit(&p256, 22, 0x05), "the EC key's curve is not supported"),
        (edit(&p384, 19, 0x23), "P-521 keys are not supported"),
        (
            edit(&p256, 12, 0x02),
            "the key's algorithm is not supported",
        ),
    ] {
        let err = pem::pem_to_jwk(&spki_pem(&bytes)).unwrap_err();
        assert!(err.contains(needle), "{bytes:02x?}: {err}");
        assert!(err.ends_with("(in the PEM's DER)"), "{err}");
    }
}

#[test]
fn der_lengths_must_be_minimal_and_in_bounds() {
    // Long-form lengths.
    let mut long = vec![0x04, 0x81, 0x80];
    long.extend([7u8; 0x80]);
    let mut der = pem::Der::new(&long);
    assert_eq!(der.read(0x04).unwrap().len(), 0x80);
    assert!(der.is_empty());
    let mut two = vec![0x04, 0x82, 0x01, 0x00];
    two.extend([7u8; 0x100]);
    assert_eq!(pem::Der::new(&two).read(0x04).unwrap().len(), 0x100);
    for (bytes, needle) in [
        (vec![0x04, 0x81, 0x05, 1, 2, 3, 4, 5], "not minimal"),
        (vec![0x04, 0x82, 0x00, 0x90], "not minimal"),
        (vec![0x04, 0x82, 0x01], "truncated"),
        (vec![0x04, 0x83, 0xff, 0xff, 0xff], "truncated"),
        (vec![0x04, 0x02, 1], "truncated"),
        (vec![0x04], "truncated"),
        (vec![], "truncated"),
    ] {
        let err = pem::Der::new(&bytes).read(0x04).unwrap_err();
        assert!(err.contains(needle), "{bytes:02x?}: {err}");
    }
}

#[test]
fn rsa_integers_must_be_positive() {
    // SEQUENCE { INTEGER n, INTEGER e } with n negative, then empty.
    let mut n = vec![0x80u8];
    n.extend([1u8; 255]);
    let mut fields = vec![0x02, 0x82, 0x01, 0x00];
    fields.extend(&n);
    fields.extend([0x02, 0x03, 1, 0, 1]);
    let mut pkcs1 = vec![0x30, 0x82, 0x01, 0x09];
    pkcs1.extend(&fields);
    let pem = |der: &[u8]| {
        format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----",
            STANDARD.encode(der)
        )
    };
    assert!(
        pem::pem_to_jwk(&pem(&pkcs1))
            .unwrap_err()
            .contains("negative")
    );
    let empty = [0x30, 0x07, 0x02, 0x00, 0x02, 0x03, 1, 0, 1];
    assert!(
        pem::pem_to_jwk(&pem(&empty))
            .unwrap_err()
            .contains("empty DER INTEGER")
    );
    // A leading zero is stripped: the JWK's `n` is the magnitude.
    let mut positive = vec![0x02, 0x82, 0x01, 0x01, 0x00];
    positive.extend(&n);
    positive.extend([0x02, 0x03, 1, 0, 1]);
    let mut pkcs1 = vec![0x30, 0x82, 0x01, 0x0a];
    pkcs1.extend(&positive);
    let jwk = pem::pem_to_jwk(&pem(&pkcs1)).unwrap();
    assert_eq!(jwk, json!({"kty": "RSA", "n": b64u(&n), "e": "AQAB"}));
}

// --- JWKs ----------------------------------------------------------------------------

#[test]
fn jwks_are_reduced_to_their_public_parameters() {
    let rsa = Signer::rsa("RS256");
    let n = unb64u(rsa.jwk["n"].as_str().unwrap());
    // A leading zero byte, padding, other members: all tolerated, all gone.
    let mut padded_n = vec![0u8];
    padded_n.extend(&n);
    let key = keys::parse_jwk(&json!({
        "kty": "RSA",
        "kid": "r1",
        "alg": "PS256",
        "use": "sig",
        "key_ops": ["verify"],
        "n": format!("{}==", b64u(&padded_n)),
        "e": "AAEAAQ",
        "x5t": "ignored",
        "ext": true,
    }))
    .unwrap();
    assert_eq!(key.kid.as_deref(), Some("r1"));
    assert_eq!(key.alg, Some(Alg::Ps256));
    assert_eq!(key.key_type, keys::KeyType::Rsa);
    let public: Value = serde_json::from_str(&key.jwk).unwrap();
    assert_eq!(public, rsa.jwk);
    assert!(key.accepts(Alg::Ps256));
    assert!(!key.accepts(Alg::Rs256));
    assert!(!key.accepts(Alg::EdDsa));
}

#[test]
fn bad_jwks_are_refused_with_a_reason() {
    let ed = Signer::ed25519().jwk;
    let es = Signer::ecdsa("ES256").jwk;
    let rsa = Signer::rsa("RS256").jwk;
    let with = |base: &Value, extra: Value| {
        let mut jwk = base.clone();
        for (name, value) in extra.as_object().unwrap() {
            if value.is_null() {
                jwk.as_object_mut().unwrap().remove(name);
            } else {
                jwk[name] = value.clone();
            }
        }
        jwk
    };
    let x = es["x"].as_str().unwrap();
    for (jwk, needle) in [
        (json!([]), "not a JSON object"),
        (json!({}), "`kty` is missing"),
        (json!({"kty": 1}), "`kty` is not a string"),
        (
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            "`oct` is a shared secret",
        ),
        (
            json!({"kty": "RSA-PSS"}),
            r#"`kty` "RSA-PSS" is not supported"#,
        ),
        (with(&ed, json!({"d": "AA"})), "private key material (`d`)"),
        (with(&rsa, json!({"p": "AA"})), "private key material (`p`)"),
        (with(&ed, json!({"use": "enc"})), r#"its `use` is "enc""#),
        (
            with(&ed, json!({"key_ops": ["sign"]})),
            "`key_ops` do not include `verify`",
        ),
        (
            with(&ed, json!({"key_ops": "verify"})),
            "`key_ops` do not include `verify`",
        ),
        (with(&ed, json!({"kid": 3})), "`kid` is not a string"),
        (
            with(&ed, json!({"alg": "ES256"})),
            "needs an EC P-256 key, not an Ed25519 (OKP) key",
        ),
        (with(&es, json!({"alg": "ES384"})), "needs an EC P-384 key"),
        (
            with(&rsa, json!({"alg": "HS256"})),
            "HMAC (shared secret) algorithm",
        ),
        (
            with(&rsa, json!({"alg": "RSA-OAEP"})),
            r#""RSA-OAEP" is not a supported algorithm"#,
        ),
        (
            with(&ed, json!({"crv": "Ed448"})),
            r#"OKP curve "Ed448" is not supported"#,
        ),
        (
            with(&ed, json!({"crv": null})),
            r#"OKP curve "" is not supported"#,
        ),
        (with(&ed, json!({"x": null})), "`x` is missing"),
        (with(&ed, json!({"x": "a+b/"})), "`x` is not base64url"),
        (
            with(&ed, json!({"x": b64u(&[1; 31])})),
            "an Ed25519 key is 32 bytes",
        ),
        (
            with(&es, json!({"crv": "P-384"})),
            "the coordinates of a P-384 key are 48 bytes",
        ),
        (with(&es, json!({"y": x[..40].to_owned()})), "32 bytes each"),
        (
            with(&es, json!({"crv": "secp256k1"})),
            r#"EC curve "secp256k1" is not supported"#,
        ),
        (with(&rsa, json!({"e": null})), "`e` is missing"),
        (
            with(&rsa, json!({"n": b64u(&[0xff; 255])})),
            "its modulus has 2040 bits",
        ),
        (
            with(&rsa, json!({"n": b64u(&[0xff; 1025])})),
            "its modulus has 8200 bits",
        ),
        (with(&rsa, json!({"e": "AQAA"})), "exponent `e` must be odd"),
        (with(&rsa, json!({"e": "AQ"})), "exponent `e` must be odd"),
        (with(&rsa, json!({"e": ""})), "exponent `e` must be odd"),
        (
            with(&rsa, json!({"e": b64u(&[3, 0, 0, 0, 1])})),
            "at most 33 bits",
        ),
    ] {
        let err = keys::parse_jwk(&jwk).unwrap_err();
        assert!(err.contains(needle), "{jwk}: {err}");
    }
    // The edges that pass: 2048 and 8192 bits, e = 3 and 33 bits.
    for jwk in [
        with(&rsa, json!({"n": b64u(&[0x80; 256])})),
        with(&rsa, json!({"n": b64u(&[0xff; 1024])})),
        with(&rsa, json!({"e": "Aw"})),
        with(&rsa, json!({"e": b64u(&[1, 0, 0, 0, 1])})),
    ] {
        assert!(keys::parse_jwk(&jwk).is_ok(), "{jwk}");
    }
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let signer = Signer::ed25519();
    let p = trusting(&signer, json!({}));
    assert_eq!(p.issuer, None);
    assert_eq!(p.audience, None);
    assert_eq!(p.clock_skew_seconds, 60);
    assert!(!p.skip_signature_validation);
    assert_eq!(p.jwks_url, None);
    assert_eq!(p.groups_claim, None);
    assert_eq!(p.jwks_refresh_seconds, 300);
    assert_eq!(p.algorithms, None);
    assert_eq!(p.timeout_ms, 5000);
    assert!(p.required_scopes.is_empty());
    assert_eq!(p.policy.algorithms, Alg::ALL.to_vec());
    assert_eq!(p.policy.refresh_ms, 300_000);
    assert_eq!(p.policy.static_keys.len(), 1);
    assert_eq!(
        p.policy.scope_challenge,
        r#"Bearer realm="api", error="insufficient_scope", scope="""#
    );
}

#[test]
fn jwks_urls_must_be_https_or_loopback() {
    for url in [
        "https://idp.example/jwks",
        "HTTPS://idp.example:8443/realms/x/protocol/openid-connect/certs",
        "https://[2001:db8::1]/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://LOCALHOST:9000",
        "http://[::1]:8080/jwks",
    ] {
        let config = json!({"jwks_url": url});
        assert!(middleware_from::<JwtAuth>(&config).is_ok(), "{url}");
    }
    for (url, needle) in [
        ("http://idp.example/jwks", "keys must be fetched over https"),
        ("http://127.0.0.2/jwks", "keys must be fetched over https"),
        (
            "http://localhost.example/jwks",
            "keys must be fetched over https",
        ),
        ("http://[::2]/jwks", "keys must be fetched over https"),
        ("ftp://idp.example/jwks", "the scheme must be https"),
        ("idp.example/jwks", "not an absolute URL"),
        ("https:///jwks", "no host"),
        ("https://user:pw@idp.example/jwks", "credentials"),
        ("http://idp.example@localhost/jwks", "credentials"),
        ("https://[::1/jwks", "malformed IPv6 host"),
        ("https://idp.example/a b", "whitespace"),
    ] {
        let err = middleware_from::<JwtAuth>(&json!({"jwks_url": url})).unwrap_err();
        assert!(err.contains(&format!("jwks_url `{url}`")), "{err}");
        assert!(err.contains(needle), "{url}: {err}");
    }
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = host();
    let ed = Signer::ed25519().jwk;
    let mut private = ed.clone();
    private["d"] = json!("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
    let with = |extra: Value| {
        let mut config = json!({"public_key_jwk": ed});
        for (name, value) in extra.as_object().unwrap() {
            config[name] = value.clone();
        }
        config
    };
    for (config, needle) in [
        (
            json!({}),
            "no key: configure jwks_url, public_key_jwk or public_key_pem",
        ),
        (json!({"issuer": "x"}), "no key"),
        (
            json!({"public_key_jwk": {"kty": "EC"}}),
            "public_key_jwk: EC curve",
        ),
        (
            json!({"public_key_jwk": private}),
            "public_key_jwk: it holds private key material (`d`)",
        ),
        (
            json!({"public_key_jwk": "key"}),
            "public_key_jwk: not a JSON object",
        ),
        (
            json!({"public_key_pem": "key"}),
            "public_key_pem: not a PEM public key",
        ),
        (
            json!({"public_key_pem": RSA_SPKI_PEM.replace("MIIB", "MIIC")}),
            "public_key_pem: ",
        ),
        (with(json!({"algorithms": []})), "algorithms is empty"),
        (with(json!({"algorithms": ["none"]})), "algorithms: `none`"),
        (
            with(json!({"algorithms": ["EdDSA", "HS256"]})),
            "algorithms: `HS256` is an HMAC",
        ),
        (
            with(json!({"algorithms": ["ES512"]})),
            "`ES512` (P-521) is not supported",
        ),
        (
            with(json!({"algorithms": ["eddsa"]})),
            r#"algorithms: "eddsa" is not a supported algorithm"#,
        ),
        (
            with(json!({"algorithms": ["ES256", "RS256"]})),
            "public_key_jwk: no algorithm of `algorithms` (ES256, RS256) verifies with an Ed25519 (OKP) key",
        ),
        (
            json!({"public_key_pem": P256_PEM, "algorithms": ["ES384"]}),
            "public_key_pem: no algorithm of `algorithms` (ES384) verifies with an EC P-256 key",
        ),
        (with(json!({"issuer": ""})), "issuer is empty"),
        (with(json!({"audience": ""})), "audience is empty"),
        (with(json!({"groups_claim": ""})), "groups_claim is empty"),
        (
            with(json!({"required_scopes": ["a b"]})),
            r#"required_scopes: "a b" is not a scope"#,
        ),
        (
            with(json!({"required_scopes": [""]})),
            r#"required_scopes: "" is not a scope"#,
        ),
        (
            with(json!({"required_scopes": ["say\"hi\""]})),
            "is not a scope",
        ),
        (
            with(json!({"required_scopes": ["caf\u{e9}"]})),
            "is not a scope",
        ),
        (
            with(json!({"jwks_refresh_seconds": 0})),
            "jwks_refresh_seconds must be at least 1",
        ),
        (
            with(json!({"jwks_refresh_seconds": u64::MAX})),
            "jwks_refresh_seconds is too large",
        ),
        (
            with(json!({"timeout_ms": 0})),
            "timeout_ms must be 1 to 300000",
        ),
        (
            with(json!({"timeout_ms": 300_001})),
            "timeout_ms must be 1 to 300000",
        ),
        (
            with(json!({"clock_skew_seconds": -1})),
            "invalid configuration",
        ),
        (
            with(json!({"jwks_url": "http://idp.example"})),
            "keys must be fetched over https",
        ),
        (
            with(json!({"header_name": "x"})),
            "unknown field `header_name`",
        ),
        (
            with(json!({"algorithms": "RS256"})),
            "invalid configuration",
        ),
    ] {
        let err = middleware_from::<JwtAuth>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    }
}

#[test]
fn the_configuration_schema_matches_the_plugin() {
    let schema: Value = serde_json::from_str(include_str!("../config-schema.json")).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    let names: Vec<&str> = properties.keys().map(String::as_str).collect();
    let mut expected = vec![
        "algorithms",
        "audience",
        "clock_skew_seconds",
        "groups_claim",
        "issuer",
        "jwks_refresh_seconds",
        "jwks_url",
        "public_key_jwk",
        "public_key_pem",
        "required_scopes",
        "skip_signature_validation",
        "timeout_ms",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(properties["clock_skew_seconds"]["default"], 60);
    assert_eq!(properties["skip_signature_validation"]["default"], false);
    assert_eq!(properties["jwks_refresh_seconds"]["default"], 300);
    assert_eq!(properties["timeout_ms"]["default"], 5000);
    assert_eq!(properties["timeout_ms"]["maximum"], MAX_TIMEOUT_MS);
    let algs: Vec<&str> = properties["algorithms"]["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let all: Vec<&str> = Alg::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(algs, all);
    assert_eq!(
        properties["public_key_jwk"]["properties"]["alg"]["enum"],
        json!(all)
    );
}

// --- test keys -------------------------------------------------------------------------
//
// Generated for these tests with OpenSSL 3.0 (`openssl genpkey`, then `openssl pkcs8
// -topk8 -nocrypt -outform DER` for the private keys and `openssl pkey -pubout` / `openssl
// rsa -RSAPublicKey_out` for the public ones). They protect nothing.

/// The EC P-256 test key's PKCS#8 (DER, base64).
const P256_PKCS8: &str = "\
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyueO5xTb8GzEzNEtXduhL4GE8sPGJHPP3y+FC96S\
    pxKhRANCAAQ7V53rUsmXpkDSl49mt8D9fy8qjjNHfPbAoQpXYe1rpC9H+JPQG96BwUGDsRridjd2ogeXQQrosuJC\
    zBLNFcI8";

/// The EC P-384 test key's PKCS#8 (DER, base64).
const P384_PKCS8: &str = "\
    MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBBNwCUm7DU1wBTYEJXTaWxKaJV+L9o678y5EzTDQ42\
    GU3c1kaOyug8NsZfFyH99TuhZANiAARq/XvVchNTWPNISb5FXgh6G0LuWLhE+jmlB/GZv2p90yM6PQ3Xaa7q7/cn\
    Ve7NPyHLjynhkd5RHrbp1QV3AhiE489ieZzejmANAbX3S7gGqPXiGZdv5dMVC7CTc19lUyk=";

/// The Ed25519 test key's PKCS#8 (DER, base64).
const ED25519_PKCS8: &str = "\
    MC4CAQAwBQYDK2VwBCIEIF3XpWq0M42b478e6b/+CD3PhAWs9bQ3NOZmlwMJOaJ7";

const RSA_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1TO1L/emiSTTZRyOK68y
DqhXwMbXgr4aRpeF9ga4dPebwFDIQU5TDLcB6UTJ5P3JBZbLE7I7AXDp8jFVFwuY
5A7rv/OTSRIQoIfjoKRB9t96Uw1ncuDDfL7La0qGRhgK0x8b4YpBnq1Ctx/J30LQ
rq4Qm7akAPhYoPbuJiTAOmGBX+lq4pzLNRadP3Cg9A+eOGD2H7CB/gYI3H71+dL5
3IMDJ2/UZ4yhBk2eZE9K2aB2gcLIw6EDOHOpEWxhMIEkKgYSz0TJw6YpPrcfoIFV
4uJj67nzYFUVFpEgDO9S1tpvrTV/E4lQ8IgCHgSl8ZNqvALe0IyfeRwRVZwttpPn
mQIDAQAB
-----END PUBLIC KEY-----
";

const RSA_PKCS1_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA1TO1L/emiSTTZRyOK68yDqhXwMbXgr4aRpeF9ga4dPebwFDIQU5T
DLcB6UTJ5P3JBZbLE7I7AXDp8jFVFwuY5A7rv/OTSRIQoIfjoKRB9t96Uw1ncuDD
fL7La0qGRhgK0x8b4YpBnq1Ctx/J30LQrq4Qm7akAPhYoPbuJiTAOmGBX+lq4pzL
NRadP3Cg9A+eOGD2H7CB/gYI3H71+dL53IMDJ2/UZ4yhBk2eZE9K2aB2gcLIw6ED
OHOpEWxhMIEkKgYSz0TJw6YpPrcfoIFV4uJj67nzYFUVFpEgDO9S1tpvrTV/E4lQ
8IgCHgSl8ZNqvALe0IyfeRwRVZwttpPnmQIDAQAB
-----END RSA PUBLIC KEY-----
";

const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEO1ed61LJl6ZA0pePZrfA/X8vKo4z
R3z2wKEKV2Hta6QvR/iT0BvegcFBg7Ea4nY3dqIHl0EK6LLiQswSzRXCPA==
-----END PUBLIC KEY-----
";

const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEav171XITU1jzSEm+RV4IehtC7li4RPo5
pQfxmb9qfdMjOj0N12mu6u/3J1XuzT8hy48p4ZHeUR626dUFdwIYhOPPYnmc3o5g
DQG190u4Bqj14hmXb+XTFQuwk3NfZVMp
-----END PUBLIC KEY-----
";

const ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAyAeEafVQIZIA0DWbcqfH58WoR+pdcdEWVEkq3GXHeXg=
-----END PUBLIC KEY-----
";

#[test]
fn a_reused_token_is_verified_once_and_its_claims_every_time() {
    use std::cell::Cell;
    let signer = Signer::ecdsa("ES256");
    let mut p = trusting(&signer, json!({}));
    let mut host = host();
    let calls = Rc::new(Cell::new(0));
    let counting = |host: &mut FakeHost, calls: &Rc<Cell<usize>>| {
        let calls = Rc::clone(calls);
        host.crypto_verifier(move |alg, jwk, msg, sig| {
            calls.set(calls.get() + 1);
            ring_verify(alg, jwk, msg, sig)
        });
    };
    let token = signer.token(&claims());
    for _ in 0..3 {
        host.next_request();
        counting(&mut host, &calls);
        host.header("authorization", &format!("Bearer {token}"));
        let action = host.on_request(&mut p);
        assert_accepted(&host, action, "alice");
    }
    assert_eq!(calls.get(), 1, "one signature check for three uses");
    // Claims are checked on every use: an expired token is refused the second time too,
    // when its signature comes from the cache.
    let short = signer.token(&claims_with(json!({"exp": 1})));
    for _ in 0..2 {
        let action = send(&mut host, &mut p, &short);
        assert_invalid(&host, action);
    }
    // A different signature over the same input is checked, never taken from the cache.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let action = send(&mut host, &mut p, &forged);
    assert_invalid(&host, action);
}
