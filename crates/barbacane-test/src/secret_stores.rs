//! Stand-ins for the secret stores the gateway reads (`docs/secrets.md`): they are not
//! HashiCorp Vault or AWS Secrets Manager, but they speak the same wire protocol on a real
//! HTTP/1.1 listener on `127.0.0.1:0`, check what the real services check, and answer with
//! the real services' response shapes.
//!
//! - [`VaultStandIn`]: KV secrets engine version 2, `GET /v1/<mount>/data/<path>`; refuses
//!   a missing or wrong `X-Vault-Token` with 403 `{"errors":["permission denied"]}`, an
//!   unknown path with 404 `{"errors":[]}`; answers `{"data":{"data":{..},"metadata":{..}}}`.
//! - [`SecretsManagerStandIn`]: `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`
//!   (AWS JSON 1.1); recomputes the SigV4 signature from the known test credentials (its
//!   own signer, written from the AWS documentation, not the gateway's) and refuses a
//!   mismatch with 400 `InvalidSignatureException`; an unknown secret is 400
//!   `ResourceNotFoundException`; a found one is the `GetSecretValue` answer (`ARN`, `Name`,
//!   `SecretString`, `VersionId`, `VersionStages`, `CreatedDate`).
//!
//! Both run on their own thread and runtime, so synchronous tests (the CLI's) can use them.

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ring::{digest, hmac};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request as a stand-in received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path (and query).
    pub target: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

type Handler = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// A small HTTP/1.1 server answering with `handler`, on its own thread.
#[derive(Debug)]
struct Listener {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Listener {
    fn start(handler: Handler, content_type: &'static str) -> Listener {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        std_listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = std_listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)
                    .unwrap_or_else(|e| panic!("{e}"));
                let serve = async {
                    while let Ok((stream, _)) = listener.accept().await {
                        let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                        tokio::spawn(async move {
                            let service =
                                service_fn(move |req: http::Request<hyper::body::Incoming>| {
                                    let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                                    async move {
                                        let (head, body) = req.into_parts();
                                        let body = body
                                            .collect()
                                            .await
                                            .map(|c| c.to_bytes())
                                            .unwrap_or_default();
                                        let seen = Seen {
                                            method: head.method,
                                            target: head
                                                .uri
                                                .path_and_query()
                                                .map(|p| p.to_string())
                                                .unwrap_or_default(),
                                            headers: head.headers,
                                            body,
                                        };
                                        let (status, text) = handler(&seen);
                                        if let Ok(mut log) = log.lock() {
                                            log.push(seen);
                                        }
                                        let mut response =
                                            Response::new(Full::new(Bytes::from(text)));
                                        *response.status_mut() =
                                            StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                                        response.headers_mut().insert(
                                            "content-type",
                                            http::HeaderValue::from_static(content_type),
                                        );
                                        Ok::<_, std::convert::Infallible>(response)
                                    }
                                });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
        });
        Listener {
            addr,
            seen,
            stop: Some(stop),
        }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A stand-in for HashiCorp Vault's KV version 2 engine (see the module docs).
#[derive(Debug)]
pub struct VaultStandIn {
    listener: Listener,
}

impl VaultStandIn {
    /// Serves `secrets` (`"<mount>/<path>"` -> the secret's fields) to clients presenting
    /// `token`.
    pub fn start(token: &str, secrets: &[(&str, serde_json::Value)]) -> VaultStandIn {
        let token = token.to_owned();
        let secrets: HashMap<String, serde_json::Value> = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let handler: Handler = Arc::new(move |req: &Seen| {
            let presented = req
                .headers
                .get("x-vault-token")
                .and_then(|v| v.to_str().ok());
            if req.method != Method::GET || presented != Some(token.as_str()) {
                return (403, r#"{"errors":["permission denied"]}"#.to_owned());
            }
            let Some(rest) = req.target.strip_prefix("/v1/") else {
                return (404, r#"{"errors":[]}"#.to_owned());
            };
            // `<mount>/data/<path>`.
            let found = rest
                .split_once("/data/")
                .and_then(|(mount, path)| secrets.get(&format!("{mount}/{path}")));
            match found {
                None => (404, r#"{"errors":[]}"#.to_owned()),
                Some(data) => (
                    200,
                    serde_json::json!({
                        "request_id": "00000000-0000-0000-0000-000000000001",
                        "lease_id": "",
                        "renewable": false,
                        "lease_duration": 0,
                        "data": {
                            "data": data,
                            "metadata": {
                                "created_time": "2026-01-01T00:00:00.000000Z",
                                "custom_metadata": null,
                                "deletion_time": "",
                                "destroyed": false,
                                "version": 1
                            }
                        },
                        "wrap_info": null,
                        "warnings": null,
                        "auth": null,
                        "mount_type": "kv"
                    })
                    .to_string(),
                ),
            }
        });
        VaultStandIn {
            listener: Listener::start(handler, "application/json"),
        }
    }

    /// `http://127.0.0.1:PORT` (the `VAULT_ADDR`).
    pub fn url(&self) -> String {
        format!("http://{}", self.listener.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.listener.requests()
    }
}

/// The test credentials the Secrets Manager stand-in accepts.
pub const AWS_ACCESS_KEY_ID: &str = "AKIDSTANDIN";
/// See [`AWS_ACCESS_KEY_ID`].
pub const AWS_SECRET_ACCESS_KEY: &str = "standin/secret+KEY";
/// The region the stand-in signs for.
pub const AWS_REGION: &str = "eu-west-3";

/// A stand-in for AWS Secrets Manager's `GetSecretValue` (see the module docs).
#[derive(Debug)]
pub struct SecretsManagerStandIn {
    listener: Listener,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

/// Recomputes the request's SigV4 signature; `Err` says what does not match.
fn check_signature(req: &Seen) -> Result<(), String> {
    let header = |n: &str| {
        req.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("missing {n}"))
    };
    let auth = header("authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut credential = "";
    let mut signed = "";
    let mut signature = "";
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(format!("bad credential scope `{credential}`"));
    };
    if key_id != AWS_ACCESS_KEY_ID || region != AWS_REGION || service != "secretsmanager" {
        return Err("unknown key, region or service".into());
    }
    let names: Vec<&str> = signed.split(';').collect();
    for required in ["host", "x-amz-date", "x-amz-target"] {
        if !names.contains(&required) {
            return Err(format!("`{required}` is not signed"));
        }
    }
    let mut canonical = format!("{}\n/\n\n", req.method);
    for name in &names {
        canonical.push_str(&format!("{name}:{}\n", header(name)?.trim()));
    }
    canonical.push_str(&format!(
        "\n{signed}\n{}",
        hex(digest::digest(&digest::SHA256, &req.body).as_ref())
    ));
    let amz_date = header("x-amz-date")?;
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mut key = format!("AWS4{AWS_SECRET_ACCESS_KEY}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    if hex(&hmac_sha256(&key, &to_sign)) == signature {
        Ok(())
    } else {
        Err("signature mismatch".into())
    }
}

impl SecretsManagerStandIn {
    /// Serves `secrets` (name -> `SecretString`) to requests signed with the test
    /// credentials ([`AWS_ACCESS_KEY_ID`], [`AWS_SECRET_ACCESS_KEY`], [`AWS_REGION`]).
    pub fn start(secrets: &[(&str, &str)]) -> SecretsManagerStandIn {
        let secrets: HashMap<String, String> = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let error = |kind: &str, message: &str| {
            (
                400,
                serde_json::json!({"__type": kind, "message": message}).to_string(),
            )
        };
        let handler: Handler = Arc::new(move |req: &Seen| {
            let target = req
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok());
            let content_type = req
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok());
            if req.method != Method::POST
                || target != Some("secretsmanager.GetSecretValue")
                || content_type != Some("application/x-amz-json-1.1")
            {
                return error("UnknownOperationException", "");
            }
            if check_signature(req).is_err() {
                return error(
                    "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you provided.",
                );
            }
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let Some(id) = body.get("SecretId").and_then(|v| v.as_str()) else {
                return error("InvalidParameterException", "SecretId is required");
            };
            match secrets.get(id) {
                None => error(
                    "ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret.",
                ),
                Some(value) => (
                    200,
                    serde_json::json!({
                        "ARN": format!("arn:aws:secretsmanager:{AWS_REGION}:123456789012:secret:{id}-AbCdEf"),
                        "CreatedDate": 1.767225600e9,
                        "Name": id,
                        "SecretString": value,
                        "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
                        "VersionStages": ["AWSCURRENT"]
                    })
                    .to_string(),
                ),
            }
        });
        SecretsManagerStandIn {
            listener: Listener::start(handler, "application/x-amz-json-1.1"),
        }
    }

    /// `http://127.0.0.1:PORT` (the `AWS_ENDPOINT_URL_SECRETS_MANAGER`).
    pub fn url(&self) -> String {
        format!("http://{}", self.listener.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.listener.requests()
    }
}
