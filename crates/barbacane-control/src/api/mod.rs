//! HTTP handlers, one module per resource, plus the extractors they share.

pub mod api_keys;
pub mod artifacts;
pub mod compilations;
pub mod data_planes;
pub mod deployments;
pub mod drift;
pub mod extract;
pub mod health;
pub mod known_good;
pub mod openapi;
pub mod plugins;
pub mod projects;
pub mod remediations;
pub mod specs;
pub mod upload;
pub mod webhooks;

use crate::error::ApiError;

/// Fallback for paths no route matches. Authenticated first (the `Caller` extractor answers
/// 401/403): without a token, the API surface cannot be mapped by probing paths.
pub async fn route_not_found(_caller: crate::posture::Caller, uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

/// Fallback for a known path with another method (axum adds `Allow`); authenticated first.
pub async fn method_not_allowed(_caller: crate::posture::Caller) -> ApiError {
    ApiError::MethodNotAllowed
}

/// Middleware: a request target whose path or query decodes to invalid UTF-8 or holds a NUL
/// byte is answered 400 (problem+json) before any handler or query sees it: Postgres text
/// cannot hold NUL, and a lossy decoding would store U+FFFD.
pub async fn check_target(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = request.uri();
    let bad = |raw: &str| {
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
        decoded.contains(&0) || std::str::from_utf8(&decoded).is_err()
    };
    if bad(uri.path()) || uri.query().is_some_and(bad) {
        return ApiError::InvalidRequest(
            "the request target decodes to invalid UTF-8 or contains a NUL byte".into(),
        )
        .into_response();
    }
    next.run(request).await
}
