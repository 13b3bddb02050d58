//! `oidc-auth` inside a real gateway: an OpenID Provider played by two real HTTP servers the
//! test starts (the discovery document on one, the JWK Set it names on the other), Ed25519
//! tokens signed in the test with ring, the context reaching the upstream (`auth.roles`
//! from a JSON Pointer groups claim), the RFC 6750 refusals, and a provider that cannot be
//! reached (503, not 401).

use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, TestResponse, compile_yaml_with};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use crate::common::assert_problem;

/// An Ed25519 signing key of the provider, with its `kid`.
struct ProviderKey {
    kid: &'static str,
    pair: Ed25519KeyPair,
}

impl ProviderKey {
    fn generate(kid: &'static str) -> ProviderKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        ProviderKey { kid, pair }
    }

    fn public_jwk(&self) -> Value {
        let x = URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref());
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": self.kid, "x": x})
    }

    /// A compact JWS of `claims` with the header `header` (its `kid` added).
    fn sign(&self, mut header: Value, claims: &Value) -> String {
        header["kid"] = json!(self.kid);
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", part(&header), part(claims));
        let signature = self.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn call(gw: &TestGateway, target: &str, token: Option<&str>) -> TestResponse {
    let mut request = gw.request("GET", target);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    gw.send(request.body(Full::new(Bytes::new())).unwrap())
        .await
}

fn assert_invalid_token(r: &TestResponse) {
    assert_problem(r, 401, "unauthorized");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="api", error="invalid_token""#)
    );
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn tokens_are_checked_with_the_keys_the_discovery_document_names() {
    let key = ProviderKey::generate("k1");
    let stranger = ProviderKey::generate("k1");
    let jwks = CaptureServer::start(Reply::new(
        200,
        "application/json",
        &json!({"keys": [key.public_jwk()]}).to_string(),
    ))
    .await;
    let provider = CaptureServer::start(Reply::new(200, "application/json", "{}")).await;
    let issuer = format!("{}/realms/shop", provider.url());
    provider.set_reply(Reply::new(
        200,
        "application/json",
        &json!({"issuer": issuer, "jwks_uri": format!("{}/certs", jwks.url())}).to_string(),
    ));
    let upstream_server = CaptureServer::start(Reply::new(200, "application/json", "{}")).await;
    let upstream = upstream_server.url();
    let down = format!("http://127.0.0.1:{}/realms/shop", closed_port().await);
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
security: [{{oidc: []}}]
components:
  securitySchemes:
    oidc: {{type: openIdConnect, openIdConnectUrl: "{issuer}/.well-known/openid-configuration"}}
paths:
  /orders:
    get:
      x-barbacane-middlewares:
        - name: oidc-auth
          config:
            issuer_url: "{issuer}"
            audience: shop-api
            required_scopes: "orders:read"
            allow_query_token: true
            groups_claim: /realm_access/roles
        - name: request-transformer
          config: {{headers: {{add: {{x-roles: "context:auth.roles", x-sub: "context:auth.sub"}}}}}}
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{upstream}"}}}}
      responses: {{"200": {{description: ok}}}}
  /down:
    get:
      x-barbacane-middlewares:
        - name: oidc-auth
          config: {{issuer_url: "{down}", timeout: 1}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
    );
    let artifact = compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true
    })
    .unwrap_or_else(|d| panic!("spec does not compile: {d:#?}"));
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    let claims = |extra: Value| {
        let mut claims = json!({
            "iss": issuer,
            "sub": "alice",
            "aud": ["shop-api"],
            "scope": "openid orders:read",
            "realm_access": {"roles": ["buyer", "admin"]},
            "iat": unix_now(),
            "exp": unix_now() + 300,
        });
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let eddsa = json!({"alg": "EdDSA", "typ": "JWT"});

    assert_problem(&call(&gw, "/orders", None).await, 401, "unauthorized");
    let good = key.sign(eddsa.clone(), &claims(json!({})));
    let r = call(&gw, "/orders", Some(&good)).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let forwarded = upstream_server.requests();
    assert_eq!(forwarded[0].header("x-sub"), Some("alice"));
    assert_eq!(forwarded[0].header("x-roles"), Some("buyer admin"));
    let discovery = provider.requests();
    assert_eq!(
        discovery[0].target,
        "/realms/shop/.well-known/openid-configuration"
    );
    assert_eq!(jwks.requests()[0].target, "/certs");
    // The access_token query parameter, allowed on this route.
    let r = call(&gw, &format!("/orders?access_token={good}"), None).await;
    assert_eq!(r.status(), 200, "{}", r.text());

    // Refused: another key with the same kid, expired, another audience or issuer, alg none.
    assert_invalid_token(
        &call(
            &gw,
            "/orders",
            Some(&stranger.sign(eddsa.clone(), &claims(json!({})))),
        )
        .await,
    );
    let expired = json!({"exp": unix_now() - 600});
    assert_invalid_token(
        &call(
            &gw,
            "/orders",
            Some(&key.sign(eddsa.clone(), &claims(expired))),
        )
        .await,
    );
    let other_aud = json!({"aud": "billing"});
    assert_invalid_token(
        &call(
            &gw,
            "/orders",
            Some(&key.sign(eddsa.clone(), &claims(other_aud))),
        )
        .await,
    );
    let other_iss = json!({"iss": "https://other.example"});
    assert_invalid_token(
        &call(
            &gw,
            "/orders",
            Some(&key.sign(eddsa.clone(), &claims(other_iss))),
        )
        .await,
    );
    let none = key.sign(json!({"alg": "none"}), &claims(json!({})));
    assert_invalid_token(&call(&gw, "/orders", Some(&none)).await);
    // A valid token without the required scope: 403.
    let no_scope = key.sign(eddsa.clone(), &claims(json!({"scope": "openid"})));
    let r = call(&gw, "/orders", Some(&no_scope)).await;
    assert_problem(&r, 403, "insufficient-scope");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="api", error="insufficient_scope", scope="orders:read""#)
    );

    // A provider that cannot be reached: 503 with a detail, never 401.
    let r = call(&gw, "/down", Some(&good)).await;
    assert_problem(&r, 503, "oidc-discovery-unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
    let body: Value = serde_json::from_str(&r.text()).unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("discovery document")
    );
    // The documents were fetched per plugin instance, not per request.
    let fetched = provider.requests().len();
    assert!((1..=4).contains(&fetched), "{fetched} discovery fetches");
}
