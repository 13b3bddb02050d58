//! `jwt-auth` inside a real gateway: tokens signed in the test (ES256 and EdDSA, with ring),
//! the JWKS served by a real HTTP server the test starts (fetched once, then cached), claims
//! reaching the next plugin (`rate-limit` partitioned by `context:auth.sub`), and the RFC 6750
//! rejections.

use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, compile_yaml};
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::common::assert_problem;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Keys {
    es: EcdsaKeyPair,
    ed: Ed25519KeyPair,
    rng: ring::rand::SystemRandom,
}

impl Keys {
    fn new() -> Keys {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let es = EcdsaKeyPair::from_pkcs8(
            alg,
            EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap().as_ref(),
            &rng,
        )
        .unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref())
            .unwrap();
        Keys { es, ed, rng }
    }

    fn jwks(&self) -> String {
        let p = self.es.public_key().as_ref();
        format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"es","alg":"ES256","x":"{}","y":"{}"}},{{"kty":"OKP","crv":"Ed25519","kid":"ed","alg":"EdDSA","x":"{}"}}]}}"#,
            b64(&p[1..33]),
            b64(&p[33..]),
            b64(self.ed.public_key().as_ref())
        )
    }

    fn token(&self, alg: &str, kid: &str, claims: &serde_json::Value) -> String {
        let header = b64(format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#).as_bytes());
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let sig = match alg {
            "ES256" => self
                .es
                .sign(&self.rng, input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => self.ed.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }
}

async fn get(gw: &TestGateway, token: Option<&str>) -> barbacane_test::TestResponse {
    let mut r = gw.request("GET", "/me");
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    gw.send(r.body(Full::new(Bytes::new())).unwrap()).await
}

#[tokio::test]
async fn tokens_are_checked_against_a_fetched_jwks() {
    let keys = Keys::new();
    let idp = CaptureServer::start(Reply::new(200, "application/json", &keys.jwks())).await;
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
security: [{{bearer: []}}]
components:
  securitySchemes:
    bearer: {{type: http, scheme: bearer}}
paths:
  /me:
    get:
      x-barbacane-middlewares:
        - name: jwt-auth
          config: {{jwks_url: "{jwks}/jwks.json", issuer: "https://idp.test", audience: api}}
        - name: rate-limit
          config: {{quota: 2, window: 60, partition_key: "context:auth.sub", policy_name: per-sub-{pid}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#,
        jwks = idp.url(),
        pid = std::process::id(),
    );
    let artifact = compile_yaml(&[("api.yaml", &spec)]).unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    let claims = |sub: &str, exp: u64| serde_json::json!({"iss": "https://idp.test", "aud": "api", "sub": sub, "exp": exp, "iat": now()});

    let r = get(&gw, None).await;
    assert_problem(&r, 401, "unauthorized");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));

    let alice = keys.token("ES256", "es", &claims("alice", now() + 300));
    assert_eq!(get(&gw, Some(&alice)).await.status(), 200);
    let bob = keys.token("EdDSA", "ed", &claims("bob", now() + 300));
    assert_eq!(get(&gw, Some(&bob)).await.status(), 200);
    // Claims reach the next plugin: alice's quota is hers.
    assert_eq!(get(&gw, Some(&alice)).await.status(), 200);
    assert_problem(&get(&gw, Some(&alice)).await, 429, "rate-limited");
    assert_eq!(get(&gw, Some(&bob)).await.status(), 200);

    let invalid = |r: &barbacane_test::TestResponse| {
        assert_eq!(r.status(), 401, "{}", r.text());
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .contains("invalid_token"),
            "{:?}",
            r.head.headers
        );
    };
    invalid(
        &get(
            &gw,
            Some(&keys.token("ES256", "es", &claims("carol", now() - 600))),
        )
        .await,
    );
    let mut wrong_aud = claims("carol", now() + 300);
    wrong_aud["aud"] = "other".into();
    invalid(&get(&gw, Some(&keys.token("ES256", "es", &wrong_aud))).await);
    // A tampered payload keeps the signature of another.
    let parts: Vec<&str> = alice.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("mallory", now() + 300).to_string().as_bytes()),
        parts[2]
    );
    invalid(&get(&gw, Some(&forged)).await);
    // `alg: none` never passes.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims("mallory", now() + 300).to_string().as_bytes())
    );
    invalid(&get(&gw, Some(&none)).await);
    // The JWKS was fetched once per plugin instance at most, not per request.
    let fetches = idp.requests().len();
    assert!((1..=4).contains(&fetches), "{fetches} JWKS fetches");
}
