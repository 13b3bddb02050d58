//! `opa-authz` inside a real gateway. A 20-rule Rego policy bundled by the compiler and
//! evaluated in the gateway decides by method, path, path and query parameters, a header
//! and the claims `jwt-auth` put in the context (Ed25519 tokens signed in the test with
//! ring); and the `opa_url` mode against an OPA stand-in: a real HTTP server started by the
//! test that speaks the OPA Data API (`POST /v1/data/<path>` with `{"input": ...}`,
//! answered `{"result": ...}`, `{}` for an undefined document). It is a stand-in, not OPA:
//! its one "policy" is written in Rust below.

use barbacane_compiler::{CompileOptions, MemoryFs, compile};
use barbacane_test::{TestGateway, TestResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::common::assert_problem;

/// Twenty rules (`default` included) over everything the input carries.
pub(crate) const POLICY: &str = r#"package barbacane.authz

default allow := false

roles := split(object.get(input.context, "auth.roles", ""), " ")

sub := object.get(input.context, "auth.sub", "")

tenant := object.get(input.context, "auth.claims.tenant", "")

reading if input.request.method in {"GET", "HEAD"}

writing if input.request.method in {"POST", "PUT", "PATCH"}

is_admin if "admin" in roles

is_reader if "reader" in roles

public_path if input.request.path == "/health"

public_path if startswith(input.request.path, "/public/")

debugging if input.request.query.debug == "true"

owns if input.request.params.owner == sub

same_tenant if input.request.headers["x-tenant"] == tenant

frozen if input.request.headers["x-frozen"] == "yes"

allow if {
	public_path
	reading
}

allow if {
	is_admin
	not debugging
}

allow if {
	is_reader
	reading
	not debugging
}

allow if {
	writing
	owns
	same_tenant
	not frozen
}

allow if {
	input.request.method == "DELETE"
	owns
	is_reader
	tenant == "acme"
}

allow if {
	input.request.path == "/orders/echo"
	input.body.amount < 100
}
"#;

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-middlewares:
  - name: jwt-auth
    config: {public_key_jwk: JWK, issuer: "https://idp.test", groups_claim: roles}
  - name: opa-authz
    config: {policy: ../policies/authz.rego, deny_message: "Not for you."}
paths:
  /public/{page}:
    get:
      x-barbacane-middlewares:
        - name: opa-authz
          config: {policy: ../policies/authz.rego}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /users/{owner}/notes:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
    put:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
    delete:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /orders/echo:
    post:
      x-barbacane-middlewares:
        - name: opa-authz
          config: {policy: ../policies, include_body: true, include_claims: false}
      requestBody:
        content:
          application/json:
            schema: {type: object}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

struct Issuer {
    pair: Ed25519KeyPair,
}

impl Issuer {
    fn new() -> Issuer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Issuer {
            pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        }
    }

    fn jwk(&self) -> String {
        let x = URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref());
        json!({"kty": "OKP", "crv": "Ed25519", "x": x}).to_string()
    }

    fn token(&self, sub: &str, roles: &[&str], tenant: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": "https://idp.test", "sub": sub, "roles": roles,
            "tenant": tenant, "exp": now + 300, "iat": now});
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", part(&json!({"alg": "EdDSA"})), part(&claims));
        let sig = self.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// Compiles `spec` (in `specs/`) with the policy in `policies/`, as a project would lay
/// them out.
pub(crate) fn compile_project(spec: &str) -> Vec<u8> {
    let mut fs = MemoryFs::default();
    fs.insert("p/specs/api.yaml", spec.as_bytes().to_vec());
    fs.insert("p/policies/authz.rego", POLICY.as_bytes().to_vec());
    let options = CompileOptions {
        specs: vec!["/p/specs/api.yaml".into()],
        ..Default::default()
    };
    compile(&fs, &options).unwrap().artifact
}

async fn call(
    gw: &TestGateway,
    method: &str,
    target: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut request = gw.request(method, target);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    gw.send(request.body(Full::new(Bytes::new())).unwrap())
        .await
}

#[tokio::test]
async fn a_bundled_policy_decides_in_the_gateway() {
    let issuer = Issuer::new();
    let spec = SPEC.replace("JWK", &issuer.jwk());
    let gw = TestGateway::from_artifact(&compile_project(&spec), Default::default()).await;
    let admin = issuer.token("root", &["admin"], "acme");
    let reader = issuer.token("alice", &["reader"], "acme");
    let nobody = issuer.token("bob", &[], "acme");

    // Path and method, without authentication.
    assert_eq!(
        call(&gw, "GET", "/public/faq", None, &[]).await.status(),
        200
    );
    // Roles from the token's claims, through jwt-auth's context.
    let r = call(&gw, "GET", "/users/carol/notes", Some(&nobody), &[]).await;
    assert_problem(&r, 403, "opa-denied");
    assert_eq!(r.json()["detail"], "Not for you.");
    assert_eq!(r.json().as_object().unwrap().len(), 4, "{}", r.text());
    let target = "/users/carol/notes";
    assert_eq!(
        call(&gw, "GET", target, Some(&reader), &[]).await.status(),
        200
    );
    assert_eq!(
        call(&gw, "GET", target, Some(&admin), &[]).await.status(),
        200
    );
    // A query parameter.
    let r = call(
        &gw,
        "GET",
        "/users/carol/notes?debug=true",
        Some(&reader),
        &[],
    )
    .await;
    assert_problem(&r, 403, "opa-denied");
    // A path parameter, the subject, a header and a claim.
    let own = "/users/bob/notes";
    let tenant = [("x-tenant", "acme")];
    assert_eq!(
        call(&gw, "PUT", own, Some(&nobody), &tenant).await.status(),
        200
    );
    assert_eq!(
        call(&gw, "PUT", target, Some(&nobody), &tenant)
            .await
            .status(),
        403
    );
    let other = [("x-tenant", "globex")];
    assert_eq!(
        call(&gw, "PUT", own, Some(&nobody), &other).await.status(),
        403
    );
    let frozen = [("x-tenant", "acme"), ("x-frozen", "yes")];
    assert_eq!(
        call(&gw, "PUT", own, Some(&nobody), &frozen).await.status(),
        403
    );
    assert_eq!(
        call(&gw, "DELETE", own, Some(&nobody), &[]).await.status(),
        403
    );
    let own_reader = "/users/alice/notes";
    assert_eq!(
        call(&gw, "DELETE", own_reader, Some(&reader), &[])
            .await
            .status(),
        200
    );

    // The directory form, with the body: the policy reads the parsed JSON.
    let echo = |amount: u32| {
        gw.request("POST", "/orders/echo")
            .header("authorization", format!("Bearer {nobody}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!(r#"{{"amount": {amount}}}"#))))
            .unwrap()
    };
    assert_eq!(gw.send(echo(12)).await.status(), 200);
    assert_problem(&gw.send(echo(500)).await, 403, "opa-denied");
}

/// The OPA stand-in: allows when `input.method` is `GET` or the claims say `role: admin`;
/// any other document is undefined (`{}`). Counts the inputs it got.
struct OpaStandIn {
    addr: std::net::SocketAddr,
    inputs: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OpaStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OpaStandIn {
    async fn start() -> OpaStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inputs: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen = Arc::clone(&inputs);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let seen = Arc::clone(&seen);
                            async move {
                                let path = request.uri().path().to_owned();
                                let body = request.into_body().collect().await.unwrap().to_bytes();
                                let posted: Value =
                                    serde_json::from_slice(&body).unwrap_or_default();
                                let input = posted["input"].clone();
                                seen.lock().unwrap().push(input.clone());
                                let answer = if path == "/v1/data/authz/allow" {
                                    let allow = input["method"] == "GET"
                                        || input["claims"]["role"] == "admin";
                                    json!({"result": allow})
                                } else {
                                    json!({})
                                };
                                let response = http::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(answer.to_string())))
                                    .unwrap();
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        OpaStandIn { addr, inputs, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn server_spec(url: &str, timeout: f64) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /items/{{id}}:
    get:
      x-barbacane-middlewares:
        - name: opa-authz
          config: {{opa_url: "{url}", timeout: {timeout}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
    delete:
      x-barbacane-middlewares:
        - name: opa-authz
          config: {{opa_url: "{url}", timeout: {timeout}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
    )
}

#[tokio::test]
async fn an_opa_server_decides_when_opa_url_is_set() {
    let opa = OpaStandIn::start().await;
    let spec = server_spec(&opa.url("/v1/data/authz/allow"), 2.0);
    let artifact = barbacane_test::compile_yaml(&[("api.yaml", &spec)]).unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;

    assert_eq!(
        call(&gw, "GET", "/items/7?x=1", None, &[]).await.status(),
        200
    );
    assert_problem(
        &call(&gw, "DELETE", "/items/7", None, &[]).await,
        403,
        "opa-denied",
    );
    // The earlier implementation's claims header, honoured without an auth plugin.
    let admin = [("x-auth-claims", r#"{"role": "admin"}"#)];
    assert_eq!(
        call(&gw, "DELETE", "/items/7", None, &admin).await.status(),
        200
    );
    let inputs = opa.inputs.lock().unwrap().clone();
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs[0]["path"], "/items/7");
    assert_eq!(inputs[0]["query"], "x=1");
    assert_eq!(inputs[0]["request"]["params"]["id"], "7");
    assert_eq!(inputs[0]["client_ip"], "127.0.0.1");

    // An undefined document denies.
    let spec = server_spec(&opa.url("/v1/data/authz/nothing"), 2.0);
    let artifact = barbacane_test::compile_yaml(&[("api.yaml", &spec)]).unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    assert_problem(
        &call(&gw, "GET", "/items/7", None, &[]).await,
        403,
        "opa-denied",
    );
}

#[tokio::test]
async fn an_unreachable_opa_server_fails_closed_with_503() {
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let spec = server_spec(&format!("http://127.0.0.1:{port}/v1/data/authz/allow"), 1.0);
    let artifact = barbacane_test::compile_yaml(&[("api.yaml", &spec)]).unwrap();
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    let r = call(&gw, "GET", "/items/7", None, &[]).await;
    assert_problem(&r, 503, "opa-unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
}
