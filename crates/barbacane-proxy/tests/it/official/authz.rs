//! `acl` and `oauth2-auth` inside a real gateway: `acl` behind `apikey-auth` and
//! `basic-auth` (consumers, groups from scopes and roles, static groups), and `oauth2-auth`
//! against a real RFC 7662 introspection server started by the test, which checks the
//! client's Basic credentials and the form body (active, inactive, expired, audience,
//! scopes, cached answers, endpoint failing or down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use barbacane_test::{TestGateway, compile_yaml};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::common::assert_problem;

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

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn acl_admits_and_refuses_authenticated_consumers() {
    let keys = "[{key: k-ada, id: ada, scopes: [admin]}, {key: k-bob, id: bob, scopes: [viewer]}, \
                {key: k-eve, id: eve, scopes: [admin]}]";
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
security: [{{key: []}}]
components:
  securitySchemes:
    key: {{type: apiKey, in: header, name: X-API-Key}}
    basic: {{type: http, scheme: basic}}
paths:
  /staff:
    get:
      x-barbacane-middlewares:
        - name: apikey-auth
          config: {{keys: {keys}}}
        - name: acl
          config: {{allow: [admin], deny_consumers: [eve]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /premium:
    get:
      x-barbacane-middlewares:
        - name: apikey-auth
          config: {{keys: {keys}}}
        - name: acl
          config: {{allow: [premium], consumer_groups: {{bob: [premium]}}, hide_consumer_in_errors: true, message: Premium only}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /editors:
    get:
      security: [{{basic: []}}]
      x-barbacane-middlewares:
        - name: basic-auth
          config:
            credentials:
              - {{username: carol, password: pw1, roles: [editor]}}
              - {{username: dan, password: pw2, roles: [editor, banned]}}
              - {{username: gus, password: pw3}}
        - name: acl
          config: {{allow: [editor], deny: [banned]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /unguarded:
    get:
      security: []
      x-barbacane-middlewares:
        - name: acl
          config: {{allow_consumers: [ada]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
    );
    let artifact = compile_yaml(&[("api.yaml", &spec)]).unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;

    // Authentication first: no key is apikey-auth's 401, not acl's 403.
    assert_problem(&send(&gw, "/staff", &[]).await, 401, "unauthorized");
    // A group from the key's scopes.
    assert_eq!(
        send(&gw, "/staff", &[("x-api-key", "k-ada")])
            .await
            .status(),
        200
    );
    let r = send(&gw, "/staff", &[("x-api-key", "k-bob")]).await;
    assert_problem(&r, 403, "acl-denied");
    assert_eq!(r.json()["consumer"], "bob");
    assert_eq!(r.json()["detail"], "Access denied by ACL policy");
    // deny_consumers wins over a matching group.
    assert_problem(
        &send(&gw, "/staff", &[("x-api-key", "k-eve")]).await,
        403,
        "acl-denied",
    );

    // A static group; the consumer hidden; the configured message.
    assert_eq!(
        send(&gw, "/premium", &[("x-api-key", "k-bob")])
            .await
            .status(),
        200
    );
    let r = send(&gw, "/premium", &[("x-api-key", "k-ada")]).await;
    assert_problem(&r, 403, "acl-denied");
    assert!(r.json().get("consumer").is_none(), "{}", r.text());
    assert_eq!(r.json()["detail"], "Premium only");

    // Groups from basic-auth's roles; deny wins over allow.
    let basic = |user_pass: &str| format!("Basic {}", b64(user_pass));
    assert_eq!(
        send(&gw, "/editors", &[("authorization", &basic("carol:pw1"))])
            .await
            .status(),
        200
    );
    for who in ["dan:pw2", "gus:pw3"] {
        assert_problem(
            &send(&gw, "/editors", &[("authorization", &basic(who))]).await,
            403,
            "acl-denied",
        );
    }

    // Without an authentication plugin there is no consumer: identity headers a client
    // sends are not one.
    let r = send(
        &gw,
        "/unguarded",
        &[
            ("x-auth-consumer", "ada"),
            ("x-auth-consumer-groups", "admin"),
        ],
    )
    .await;
    assert_problem(&r, 403, "acl-denied");
    assert!(r.json().get("consumer").is_none());
}

/// The introspection server's answer to `token`.
fn introspection_answer(token: &str, proper: bool) -> (u16, serde_json::Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let active = |sub: &str, scope: &str, aud: serde_json::Value, exp: u64| {
        serde_json::json!({
            "active": true, "sub": sub, "client_id": "web", "scope": scope, "aud": aud, "exp": exp,
        })
    };
    match token {
        _ if !proper => (401, serde_json::json!({"error": "invalid_client"})),
        "alice" => (
            200,
            active("alice", "pets:read pets:write", "pets".into(), now + 300),
        ),
        "reader" => (
            200,
            active(
                "reader",
                "pets:read",
                serde_json::json!(["pets"]),
                now + 300,
            ),
        ),
        "foreign" => (200, active("x", "pets:read", "other".into(), now + 300)),
        "stale" => (200, active("x", "pets:read", "pets".into(), now - 10)),
        "boom" => (500, serde_json::json!({"error": "server_error"})),
        _ => (200, serde_json::json!({"active": false})),
    }
}

/// What the introspection server saw: each request's token, and whether its client
/// credentials and form were right.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// A small RFC 7662 endpoint on loopback. Expects `Basic gw:s3cret` and
/// `token=...&token_type_hint=access_token`; answers by token.
async fn introspection_server() -> (String, Seen, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&s);
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let (head, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let form: HashMap<String, String> = String::from_utf8_lossy(&body)
                            .split('&')
                            .filter_map(|p| p.split_once('='))
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        let header = |n: &str| head.headers.get(n).and_then(|v| v.to_str().ok());
                        let proper = head.method == http::Method::POST
                            && head.uri.path() == "/introspect"
                            && header("authorization")
                                == Some(&format!("Basic {}", b64("gw:s3cret")))
                            && header("content-type") == Some("application/x-www-form-urlencoded")
                            && form.get("token_type_hint").map(String::as_str)
                                == Some("access_token");
                        let token = form.get("token").cloned().unwrap_or_default();
                        seen.lock().unwrap().push((token.clone(), proper));
                        let (status, answer) = introspection_answer(&token, proper);
                        let mut response =
                            http::Response::new(Full::new(Bytes::from(answer.to_string())));
                        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen, task)
}

#[tokio::test]
async fn oauth2_tokens_are_introspected_and_remembered() {
    let (endpoint, seen, server) = introspection_server().await;
    // An address nothing listens on: bound, then released.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/introspect", l.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client.secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
security: [{{bearer: []}}]
components:
  securitySchemes:
    bearer: {{type: http, scheme: bearer}}
paths:
  /pets:
    get:
      x-barbacane-middlewares:
        - name: oauth2-auth
          config: {{introspection_endpoint: "{endpoint}", client_id: gw, client_secret: "file://{secret}", audience: pets, required_scopes: "pets:read", timeout: 2}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /pets/admin:
    get:
      x-barbacane-middlewares:
        - name: oauth2-auth
          config: {{introspection_endpoint: "{endpoint}", client_id: gw, client_secret: s3cret, required_scopes: "pets:read pets:write"}}
        - name: acl
          config: {{allow_consumers: [alice]}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
  /down:
    get:
      x-barbacane-middlewares:
        - name: oauth2-auth
          config: {{introspection_endpoint: "{down}", client_id: gw, client_secret: s3cret, timeout: 1}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#,
        secret = secret.display(),
    );
    let artifact = compile_yaml(&[("api.yaml", &spec)]).unwrap();
    assert!(!String::from_utf8_lossy(&artifact).contains("s3cret\n"));
    // One instance per (plugin, configuration), so what one request learnt the next sees.
    let options = barbacane_proxy::LoadOptions {
        plugin_pool: barbacane_wasm::PoolOptions {
            max_instances: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let gw = TestGateway::from_artifact_with(&artifact, Default::default(), &options).await;
    let bearer = |t: &str| format!("Bearer {t}");
    let count = |token: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == token)
            .count()
    };

    let r = send(&gw, "/pets", &[]).await;
    assert_problem(&r, 401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    assert!(seen.lock().unwrap().is_empty());

    // Active, audience and scope right: through, and the answer remembered.
    for _ in 0..2 {
        assert_eq!(
            send(&gw, "/pets", &[("authorization", &bearer("alice"))])
                .await
                .status(),
            200
        );
    }
    assert_eq!(count("alice"), 1, "{:?}", seen.lock().unwrap());
    assert!(seen.lock().unwrap().iter().all(|(_, proper)| *proper));

    let invalid = |r: &barbacane_test::TestResponse| {
        assert_problem(r, 401, "unauthorized");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer realm="api", error="invalid_token""#)
        );
    };
    for token in ["revoked", "foreign", "stale"] {
        invalid(&send(&gw, "/pets", &[("authorization", &bearer(token))]).await);
    }
    // Refusals are remembered too (briefly).
    invalid(&send(&gw, "/pets", &[("authorization", &bearer("revoked"))]).await);
    assert_eq!(count("revoked"), 1);

    // Scopes, then the consumer the token names reaching acl.
    let r = send(&gw, "/pets/admin", &[("authorization", &bearer("reader"))]).await;
    assert_problem(&r, 403, "insufficient-scope");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains(r#"error="insufficient_scope", scope="pets:read pets:write""#)
    );
    assert_eq!(
        send(&gw, "/pets/admin", &[("authorization", &bearer("alice"))])
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&gw, "/pets", &[("authorization", &bearer("reader"))])
            .await
            .status(),
        200
    );

    // The endpoint failing, or not there at all: 503, and not remembered.
    for _ in 0..2 {
        let r = send(&gw, "/pets", &[("authorization", &bearer("boom"))]).await;
        assert_problem(&r, 503, "introspection-unavailable");
        assert_eq!(r.header("retry-after"), Some("5"));
    }
    assert_eq!(count("boom"), 2);
    let r = send(&gw, "/down", &[("authorization", &bearer("alice"))]).await;
    assert_problem(&r, 503, "introspection-unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
    server.abort();
}
