//! Outbound HTTP for plugins (`barbacane:http`): the types the host hands to the gateway's
//! client. The data plane implements [`HttpClient`] with its own pooled client, so this
//! crate needs no HTTP stack and plugins share the gateway's connections.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Largest response body a plugin may receive (8 MiB); past it the call fails with
/// [`OutboundError::TooLarge`].
pub const MAX_RESPONSE_BODY: usize = 8 << 20;

/// Default and largest time limit of one outbound call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `timeout_ms` a plugin may ask for (5 minutes).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// A request a plugin sends.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Method.
    pub method: Method,
    /// Absolute `http` or `https` URI.
    pub uri: Uri,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Time limit for the whole exchange, body included.
    pub timeout: Duration,
}

/// The answer to an [`OutboundRequest`].
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (at most [`MAX_RESPONSE_BODY`]).
    pub body: Bytes,
}

/// Why an outbound request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// No complete answer within the time limit.
    Timeout,
    /// Connecting, TLS or the exchange failed.
    Connect(String),
    /// The request cannot be sent (bad URI scheme, ...).
    Invalid(String),
    /// The response body exceeded [`MAX_RESPONSE_BODY`].
    TooLarge,
}

impl OutboundError {
    /// The wire name the guest sees: `timeout`, `connect`, `invalid`, `too-large`.
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundError::Timeout => "timeout",
            OutboundError::Connect(_) => "connect",
            OutboundError::Invalid(_) => "invalid",
            OutboundError::TooLarge => "too-large",
        }
    }

    /// A description safe to show the plugin.
    pub fn message(&self) -> String {
        match self {
            OutboundError::Timeout => "no answer within the time limit".into(),
            OutboundError::Connect(m) | OutboundError::Invalid(m) => m.clone(),
            OutboundError::TooLarge => {
                format!("the response body is larger than {MAX_RESPONSE_BODY} bytes")
            }
        }
    }
}

/// The future an [`HttpClient`] returns.
pub type OutboundFuture =
    Pin<Box<dyn Future<Output = Result<OutboundResponse, OutboundError>> + Send + 'static>>;

/// The gateway's HTTP client as plugins use it. Implementations must enforce
/// `request.timeout` and [`MAX_RESPONSE_BODY`], and must not block the calling thread.
pub trait HttpClient: Send + Sync + std::fmt::Debug + 'static {
    /// Sends one request.
    fn send(&self, request: OutboundRequest) -> OutboundFuture;
}
