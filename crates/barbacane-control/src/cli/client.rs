//! A small HTTP client for the API: hyper-util, with rustls for `https://` servers (system
//! roots, or only the CA of `--ca-cert`).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::posture::TOKEN_ENV;
use crate::version::V1;

/// What a client command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server cannot be reached.
    #[error("cannot reach {server}: {reason}")]
    Unreachable {
        /// The server URL.
        server: String,
        /// Why.
        reason: String,
    },
    /// The API answered an error.
    #[error("{status}: {detail}")]
    Api {
        /// The status.
        status: StatusCode,
        /// The problem's `detail` (or the body).
        detail: String,
        /// The problem body.
        problem: Value,
    },
    /// A local file or argument problem.
    #[error("{0}")]
    Usage(String),
    /// A compilation ended in failure.
    #[error("compilation failed")]
    CompilationFailed,
    /// `drift status --exit-code` found drift.
    #[error("drift is present")]
    DriftPresent,
    /// `compile --wait` gave up.
    #[error("{0}")]
    TimedOut(String),
}

/// A response with its body.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, CliError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| CliError::Usage(format!("the server sent invalid JSON: {e}")))
    }
}

/// The API client.
#[derive(Debug, Clone)]
pub struct Client {
    server: String,
    token: Option<String>,
    http: Hyper<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Client {
    /// A client for `server` (`http://` or `https://host:port`), with the token from the
    /// environment; `ca` replaces the system's roots for `https://`.
    pub fn new(server: &str, ca: Option<&std::path::Path>) -> Result<Client, CliError> {
        let parsed: Option<http::Uri> = server.parse().ok();
        let valid = parsed.as_ref().is_some_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some()
                && u.path_and_query()
                    .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty())
        });
        if !valid {
            return Err(CliError::Usage(format!(
                "--server `{server}` is not a URL like http://127.0.0.1:9090 or https://cp.example.com"
            )));
        }
        let tls = crate::tls::client_config(ca).map_err(CliError::Usage)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Client {
            server: server.trim_end_matches('/').to_owned(),
            token: std::env::var(TOKEN_ENV)
                .ok()
                .filter(|t| !t.trim().is_empty()),
            http: Hyper::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends a request; a non-2xx answer becomes [`CliError::Api`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply, CliError> {
        self.send_inner(method, path, content_type, body, None)
            .await
    }

    async fn send_inner(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        if_match: Option<String>,
    ) -> Result<Reply, CliError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server))
            .header(header::ACCEPT, V1);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        if let Some(tag) = if_match {
            builder = builder.header(header::IF_MATCH, tag);
        }
        if let Some(token) = &self.token
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            builder = builder.header(header::AUTHORIZATION, v);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CliError::Usage(format!("bad request: {e}")))?;
        let unreachable = |reason: String| CliError::Unreachable {
            server: self.server.clone(),
            reason,
        };
        let response = self.http.request(request).await.map_err(|e| {
            // The innermost cause says what happened (refused, TLS, DNS); hyper's outer
            // layers only say that the request failed.
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            if reason.contains("certificate") {
                reason.push_str(
                    " (the server's TLS certificate is not trusted: pass --ca-cert FILE with the \
                     CA that signed it, or set BARBACANE_CONTROL_CA)",
                );
            }
            unreachable(reason)
        })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        if status.is_success() {
            return Ok(Reply { status, body });
        }
        let problem: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut detail = problem.get("detail").and_then(Value::as_str).map_or_else(
            || String::from_utf8_lossy(&body).into_owned(),
            str::to_owned,
        );
        if status == StatusCode::UNAUTHORIZED {
            detail.push_str(if self.token.is_some() {
                " (the token in BARBACANE_CONTROL_ADMIN_TOKEN was refused)"
            } else {
                " (set BARBACANE_CONTROL_ADMIN_TOKEN to the control plane's admin token)"
            });
        }
        Err(CliError::Api {
            status,
            detail,
            problem,
        })
    }

    /// PUT with `If-Match: "<revision>"`.
    pub async fn send_with_if_match(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        revision: i64,
    ) -> Result<Reply, CliError> {
        self.send_inner(
            Method::PUT,
            path,
            Some(content_type),
            body,
            Some(format!("\"{revision}\"")),
        )
        .await
    }

    /// `POST path` with a JSON body, answered JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(
            Method::POST,
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await?
        .json()
    }

    /// `GET path`, answered JSON.
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None, Vec::new()).await?.json()
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `multipart/form-data` body: `(field, file name, bytes)` parts.
pub fn multipart(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("barbacane-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (field, file, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
