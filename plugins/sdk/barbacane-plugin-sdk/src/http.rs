//! Outbound HTTP through the gateway's pooled client (`http` capability). The call is
//! asynchronous in the gateway: the plugin waits, the gateway's threads do not.
//!
//! ```
//! use barbacane_plugin_sdk::http::{self, HttpRequest, HttpResponse};
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! # host.http(|_| Ok(HttpResponse { status: 200, headers: vec![], body: b"pong".to_vec() }));
//! let response = http::call(&HttpRequest::new("GET", "https://internal.example/ping")).unwrap();
//! assert_eq!(response.status, 200);
//! assert_eq!(response.body, b"pong");
//! ```

use serde::{Deserialize, Serialize};

use crate::host;

/// An outbound request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body (sent as the call's second argument, not in the JSON head).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Time limit for the whole exchange; the gateway's default (30 s) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: &str, url: &str) -> HttpRequest {
        HttpRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }
}

/// A response to an outbound request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body.
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why an outbound request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// No answer within the time limit.
    Timeout,
    /// Could not connect, TLS failed, or the connection broke.
    Connect,
    /// The request itself was refused (bad URL, method or header).
    Invalid,
    /// The response body exceeded the gateway's limit (8 MiB).
    TooLarge,
}

impl HttpErrorKind {
    /// The wire name: `timeout`, `connect`, `invalid`, `too-large`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpErrorKind::Timeout => "timeout",
            HttpErrorKind::Connect => "connect",
            HttpErrorKind::Invalid => "invalid",
            HttpErrorKind::TooLarge => "too-large",
        }
    }

    fn parse(s: &str) -> HttpErrorKind {
        match s {
            "timeout" => HttpErrorKind::Timeout,
            "invalid" => HttpErrorKind::Invalid,
            "too-large" => HttpErrorKind::TooLarge,
            _ => HttpErrorKind::Connect,
        }
    }
}

/// A failed outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// What kind of failure.
    pub kind: HttpErrorKind,
    /// The gateway's description.
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for HttpError {}

#[derive(Deserialize)]
struct WireError {
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct WireResult {
    #[serde(default)]
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    error: Option<WireError>,
}

/// Sends `request` and waits for the whole response.
pub fn call(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let head = serde_json::to_vec(request).map_err(|e| HttpError {
        kind: HttpErrorKind::Invalid,
        message: e.to_string(),
    })?;
    let result = host::http_call(&head, &request.body);
    let wire: WireResult = serde_json::from_slice(&result).map_err(|e| HttpError {
        kind: HttpErrorKind::Connect,
        message: format!("unreadable answer from the gateway: {e}"),
    })?;
    if let Some(error) = wire.error {
        return Err(HttpError {
            kind: HttpErrorKind::parse(&error.kind),
            message: error.message,
        });
    }
    Ok(HttpResponse {
        status: wire.status,
        headers: wire.headers,
        body: host::http_response_body().unwrap_or_default(),
    })
}

/// Why [`send_detached`] did not take a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetachError {
    /// The gateway's background queue is full: the request was dropped (and counted).
    QueueFull,
    /// The request cannot be sent (bad URL, method or header).
    Invalid,
}

/// Hands `request` to the gateway to send in the background, and returns at once: the
/// plugin never learns the answer (failures are counted and logged by the gateway). The
/// gateway bounds how many such requests are in flight; past that they are dropped.
pub fn send_detached(request: &HttpRequest) -> Result<(), DetachError> {
    let head = serde_json::to_vec(request).map_err(|_| DetachError::Invalid)?;
    match host::http_send_detached(&head, &request.body) {
        0 => Ok(()),
        -1 => Err(DetachError::QueueFull),
        _ => Err(DetachError::Invalid),
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn encode_head(response: &HttpResponse) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_default()
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn encode_error(kind: &str, message: &str) -> Vec<u8> {
    serde_json::json!({"error": {"kind": kind, "message": message}})
        .to_string()
        .into_bytes()
}
