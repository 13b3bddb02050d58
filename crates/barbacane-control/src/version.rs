//! API versioning through the `Accept` header.
//!
//! `application/vnd.barbacane.v1+json` asks for version 1 explicitly; `application/json`,
//! `application/*`, `*/*` or no `Accept` at all mean the current version (1). A request that
//! accepts nothing this API produces (e.g. only `application/vnd.barbacane.v2+json`) gets
//! 406. When version 1 was asked for by name, JSON responses carry that media type back.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The vendor media type of the current version.
pub const V1: &str = "application/vnd.barbacane.v1+json";

/// Media types this API produces (besides the vendor type).
const PRODUCED: &[&str] = &[
    "application/json",
    "application/problem+json",
    "application/octet-stream",
    "text/plain",
    "application/vnd.cyclonedx+json",
    "application/vnd.dsse.envelope.v1+json",
];

/// What an `Accept` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    /// The current version, under its plain media type.
    Current,
    /// Version 1 by its vendor media type.
    V1,
    /// Nothing acceptable.
    None,
}

/// Reads an `Accept` value (media ranges with optional `q`; `q=0` excludes a range).
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Negotiated::Current;
    };
    let mut result = Negotiated::None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let excluded = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        if excluded {
            continue;
        }
        if media == V1 {
            return Negotiated::V1;
        }
        if media == "*/*" || media == "application/*" || PRODUCED.contains(&media.as_str()) {
            result = Negotiated::Current;
        }
    }
    result
}

/// Middleware: 406 for unacceptable requests; echoes the vendor type when asked for by name.
pub async fn negotiate_version(request: Request, next: Next) -> Response {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let negotiated = negotiate(accept);
    if negotiated == Negotiated::None {
        return ApiError::NotAcceptable(accept.unwrap_or_default().to_owned()).into_response();
    }
    let mut response = next.run(request).await;
    if negotiated == Negotiated::V1 {
        let headers = response.headers_mut();
        if headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes) == Some(b"application/json")
        {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(V1));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert_eq!(negotiate(None), Negotiated::Current);
        assert_eq!(negotiate(Some("application/json")), Negotiated::Current);
        assert_eq!(negotiate(Some("*/*")), Negotiated::Current);
        assert_eq!(negotiate(Some(V1)), Negotiated::V1);
        assert_eq!(
            negotiate(Some(
                "application/json;q=0.5, application/vnd.barbacane.v1+json"
            )),
            Negotiated::V1
        );
        assert_eq!(
            negotiate(Some("application/vnd.barbacane.v2+json")),
            Negotiated::None
        );
        assert_eq!(
            negotiate(Some(
                "application/vnd.barbacane.v2+json, application/json;q=0.1"
            )),
            Negotiated::Current
        );
        assert_eq!(negotiate(Some("application/json;q=0")), Negotiated::None);
        assert_eq!(negotiate(Some("text/html")), Negotiated::None);
    }
}
