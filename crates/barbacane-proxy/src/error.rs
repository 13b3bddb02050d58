use barbacane_router::{MethodSet, PathError};
use barbacane_validator::{FailureKind, ValidationFailure};
use http::StatusCode;

/// Who is at fault, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request was wrong.
    Client,
    /// Something behind the gateway failed.
    Upstream,
    /// The gateway itself failed.
    Internal,
}

/// Everything that can end a request early. Each variant knows its status and problem type;
/// `problem::respond` is the one place that turns it into a response.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The path could not be normalized.
    #[error("invalid request path: {0}")]
    BadPath(PathError),
    /// An HTTP/1.1 request without a `Host` field, or any request with more than one
    /// (RFC 9112 section 3.2).
    #[error("the request must carry exactly one Host header field")]
    BadHost,
    /// No route matches the path.
    #[error("no route matches the request path")]
    RouteNotFound,
    /// The path matches but not the method.
    #[error("method not allowed")]
    MethodNotAllowed(MethodSet),
    /// Parameters or body do not match the spec.
    #[error("request validation failed: {0}")]
    Validation(ValidationFailure),
    /// The body exceeds the limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Too many or too large header fields.
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// The request target is too long.
    #[error("request URI too long")]
    UriTooLong,
    /// Reading the request body failed (client went away or sent a malformed body).
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    /// The request body sent nothing for `--body-timeout`.
    #[error("the request body stalled")]
    BodyTimeout,
    /// The upstream could not be reached or broke the exchange.
    #[error("upstream failed: {0}")]
    BadGateway(String),
    /// The upstream did not answer within the dispatch timeout.
    #[error("upstream did not answer in time")]
    UpstreamTimeout,
    /// The circuit breaker is open for this upstream.
    #[error("upstream circuit breaker is open")]
    CircuitOpen,
    /// A plugin trapped, timed out or broke the ABI on the request path.
    #[error("plugin failed: {0}")]
    PluginFailed(String),
    /// Every instance of a plugin on the route is busy (past the wait) or the engine has no
    /// room for another: the request is refused, to be retried.
    #[error("plugin overloaded: {0}")]
    PluginOverloaded(String),
    /// A bug or an unexpected state in the gateway.
    #[error("internal error: {0}")]
    Internal(String),
    /// An event stream route asked for something other than `text/event-stream`.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// The broker behind an event stream cannot be reached.
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(String),
}

impl GatewayError {
    /// The error for a plugin that could not start for this request.
    pub(crate) fn plugin_start(error: barbacane_wasm::WasmError) -> GatewayError {
        match error {
            barbacane_wasm::WasmError::Overloaded { .. } => {
                GatewayError::PluginOverloaded(error.to_string())
            }
            other => GatewayError::PluginFailed(other.to_string()),
        }
    }

    /// Seconds after which a client may retry (`Retry-After`), for errors that are
    /// expected to pass.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            GatewayError::PluginOverloaded(_) | GatewayError::BrokerUnavailable(_) => Some(1),
            _ => None,
        }
    }

    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::BadPath(_) | GatewayError::BodyRead(_) | GatewayError::BadHost => {
                StatusCode::BAD_REQUEST
            }
            GatewayError::RouteNotFound => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::Validation(f) if f.kind == FailureKind::UnsupportedMediaType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            GatewayError::Validation(_) => StatusCode::BAD_REQUEST,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            GatewayError::UriTooLong => StatusCode::URI_TOO_LONG,
            GatewayError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            GatewayError::Internal(_) | GatewayError::PluginFailed(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            GatewayError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            GatewayError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::CircuitOpen
            | GatewayError::PluginOverloaded(_)
            | GatewayError::BrokerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
        }
    }

    /// The `<name>` of `urn:barbacane:error:<name>`.
    pub fn problem_name(&self) -> &'static str {
        match self {
            GatewayError::BadPath(_) => "invalid-path",
            GatewayError::BadHost => "invalid-host",
            GatewayError::BodyRead(_) => "bad-request",
            GatewayError::RouteNotFound => "route-not-found",
            GatewayError::MethodNotAllowed(_) => "method-not-allowed",
            GatewayError::Validation(f) if f.kind == FailureKind::UnsupportedMediaType => {
                "unsupported-media-type"
            }
            GatewayError::Validation(_) => "validation-failed",
            GatewayError::BodyTooLarge { .. } => "payload-too-large",
            GatewayError::HeadersTooLarge => "header-fields-too-large",
            GatewayError::UriTooLong => "uri-too-long",
            GatewayError::BodyTimeout => "request-timeout",
            GatewayError::Internal(_) => "internal-error",
            GatewayError::PluginFailed(_) => "plugin-failed",
            GatewayError::PluginOverloaded(_) => "plugin-overloaded",
            GatewayError::BadGateway(_) => "bad-gateway",
            GatewayError::UpstreamTimeout => "upstream-timeout",
            GatewayError::CircuitOpen => "circuit-open",
            GatewayError::NotAcceptable(_) => "not-acceptable",
            GatewayError::BrokerUnavailable(_) => "broker-unavailable",
        }
    }

    /// Fault axis.
    pub fn fault(&self) -> Fault {
        match self {
            GatewayError::Internal(_)
            | GatewayError::PluginFailed(_)
            | GatewayError::PluginOverloaded(_) => Fault::Internal,
            GatewayError::BadGateway(_)
            | GatewayError::UpstreamTimeout
            | GatewayError::CircuitOpen
            | GatewayError::BrokerUnavailable(_) => Fault::Upstream,
            _ => Fault::Client,
        }
    }

    /// A one-line detail safe for production (never echoes request content).
    pub fn public_detail(&self) -> &'static str {
        match self {
            GatewayError::BadPath(_) => "The request path is malformed.",
            GatewayError::BadHost => "The request must carry exactly one Host header field.",
            GatewayError::RouteNotFound => "No route matches the request path.",
            GatewayError::MethodNotAllowed(_) => "The route does not support this method.",
            GatewayError::Validation(f) if f.kind == FailureKind::UnsupportedMediaType => {
                "The request content type is not accepted by this operation."
            }
            GatewayError::Validation(_) => "The request does not match the API specification.",
            GatewayError::BodyTooLarge { .. } => "The request body is too large.",
            GatewayError::HeadersTooLarge => "The request header fields are too large.",
            GatewayError::UriTooLong => "The request URI is too long.",
            GatewayError::BodyRead(_) => "The request body could not be read.",
            GatewayError::BodyTimeout => "The request body stopped arriving.",
            GatewayError::Internal(_) => "The gateway failed to process the request.",
            GatewayError::PluginFailed(_) => "A plugin failed while processing the request.",
            GatewayError::PluginOverloaded(_) => {
                "The gateway is at capacity for this route; try again shortly."
            }
            GatewayError::BadGateway(_) => "The upstream service could not be reached.",
            GatewayError::UpstreamTimeout => "The upstream service did not answer in time.",
            GatewayError::CircuitOpen => "The upstream service is unavailable; try again later.",
            GatewayError::NotAcceptable(_) => {
                "This route streams events: ask for them with `Accept: text/event-stream`."
            }
            GatewayError::BrokerUnavailable(_) => {
                "The message broker cannot be reached; try again shortly."
            }
        }
    }
}
