//! The security middlewares inside a real gateway, with `rate-limit` partitioned by the
//! authenticated consumer: apikey-auth (a key given as a secret reference and one as a
//! SHA-256 digest), basic-auth, ip-restriction, bot-detection.

use barbacane_test::{TestGateway, compile_yaml};
use bytes::Bytes;
use http_body_util::Full;

use crate::common::assert_problem;

fn sha256_hex(s: &str) -> String {
    barbacane_artifact::sha256_hex(s.as_bytes())
}

async fn send(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
) -> barbacane_test::TestResponse {
    let mut r = gw.request("GET", path);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    gw.send(r.body(Full::new(Bytes::new())).unwrap()).await
}

#[tokio::test]
async fn api_keys_and_basic_credentials_guard_their_routes() {
    // Alice's key is a secret reference: a file the plugin reads through the gateway.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("alice.key");
    std::fs::write(&secret, "s3cret-from-file\n").unwrap();
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /keyed:
    get:
      x-barbacane-middlewares:
        - name: apikey-auth
          config:
            keys:
              - {{key: "file://{secret}", id: alice, scopes: [read, write]}}
              - {{key: "sha256:{digest}", id: bob}}
        - name: rate-limit
          config: {{quota: 2, window: 60, partition_key: "context:auth.consumer", policy_name: per-consumer-{pid}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /basic:
    get:
      x-barbacane-middlewares:
        - name: basic-auth
          config: {{realm: staff, credentials: [{{username: carol, password: "pa:ss", roles: [admin]}}]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /internal:
    get:
      x-barbacane-middlewares:
        - name: ip-restriction
          config: {{allow: ["10.0.0.0/8"]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /humans:
    get:
      x-barbacane-middlewares:
        - name: bot-detection
          config: {{deny: ["*bot*"], block_empty_ua: true}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#,
        digest = sha256_hex("bobs-key"),
        secret = secret.display(),
        pid = std::process::id(),
    );
    let artifact = compile_yaml(&[("api.yaml", &spec)]).unwrap();
    // The artifact holds the reference and the digest, never the keys.
    let text = String::from_utf8_lossy(&artifact);
    assert!(!text.contains("s3cret-from-file") && !text.contains("bobs-key"));
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;

    let r = send(&gw, "/keyed", &[]).await;
    assert_problem(&r, 401, "unauthorized");
    assert!(
        r.header("www-authenticate").unwrap().starts_with("ApiKey"),
        "{:?}",
        r.head.headers
    );
    assert_problem(
        &send(&gw, "/keyed", &[("x-api-key", "wrong")]).await,
        401,
        "unauthorized",
    );
    assert_eq!(
        send(&gw, "/keyed", &[("x-api-key", "s3cret-from-file")])
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&gw, "/keyed", &[("x-api-key", "bobs-key")])
            .await
            .status(),
        200
    );
    // Quotas are per authenticated consumer: alice spends hers, bob still has his.
    assert_eq!(
        send(&gw, "/keyed", &[("x-api-key", "s3cret-from-file")])
            .await
            .status(),
        200
    );
    assert_problem(
        &send(&gw, "/keyed", &[("x-api-key", "s3cret-from-file")]).await,
        429,
        "rate-limited",
    );
    assert_eq!(
        send(&gw, "/keyed", &[("x-api-key", "bobs-key")])
            .await
            .status(),
        200
    );

    use base64::Engine;
    let basic = |user_pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    };
    let r = send(&gw, "/basic", &[]).await;
    assert_problem(&r, 401, "unauthorized");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("realm=\"staff\"")
    );
    assert_problem(
        &send(&gw, "/basic", &[("authorization", &basic("carol:nope"))]).await,
        401,
        "unauthorized",
    );
    assert_eq!(
        send(&gw, "/basic", &[("authorization", &basic("carol:pa:ss"))])
            .await
            .status(),
        200
    );

    // The test client connects from 127.0.0.1: not in 10.0.0.0/8.
    assert_problem(&send(&gw, "/internal", &[]).await, 403, "ip-denied");

    assert_problem(
        &send(&gw, "/humans", &[("user-agent", "Googlebot/2.1")]).await,
        403,
        "bot-denied",
    );
    assert_problem(&send(&gw, "/humans", &[]).await, 403, "bot-denied");
    assert_eq!(
        send(&gw, "/humans", &[("user-agent", "Mozilla/5.0")])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn bcrypt_passwords_are_checked_by_the_gateway() {
    use base64::Engine as _;
    // Cost 10, as `htpasswd -B` makes them: too slow for the plugin's budget inside WASM,
    // checked natively by the host's `crypto.bcrypt_verify`.
    let hash = bcrypt::hash_with_salt("correct horse", 10, *b"barbacane-salt16")
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /basic:
    get:
      x-barbacane-middlewares:
        - name: basic-auth
          config: {{credentials: [{{username: dave, password: "{hash}"}}]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
    );
    let gw = TestGateway::from_specs(&[("api.yaml", &spec)]).await;
    let basic = |user: &str, password: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    };
    let good = basic("dave", "correct horse");
    for _ in 0..2 {
        let r = send(&gw, "/basic", &[("authorization", &good)]).await;
        assert_eq!(r.status(), 200, "{}", r.text());
    }
    for bad in [
        basic("dave", "correct horsE"),
        basic("eve", "correct horse"),
    ] {
        let r = send(&gw, "/basic", &[("authorization", &bad)]).await;
        assert_problem(&r, 401, "unauthorized");
    }
}
