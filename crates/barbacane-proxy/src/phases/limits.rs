//! Phase 1: request limits (414, 431, early 413) and the Host rule (400), before any parsing
//! work.

use http::Version;
use http::header::{CONTENT_LENGTH, HOST};
use http::request::Parts;

use crate::{GatewayError, Limits};

pub(crate) fn check(parts: &Parts, limits: &Limits) -> Result<(), GatewayError> {
    let target = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > limits.max_uri_bytes {
        return Err(GatewayError::UriTooLong);
    }
    if parts.headers.len() > limits.max_header_count {
        return Err(GatewayError::HeadersTooLarge);
    }
    let mut bytes = 0usize;
    for (name, value) in &parts.headers {
        bytes += name.as_str().len() + value.len();
    }
    if bytes > limits.max_header_bytes {
        return Err(GatewayError::HeadersTooLarge);
    }
    // RFC 9112 section 3.2: an HTTP/1.1 request has exactly one Host; none may have two (an
    // HTTP/2 request names its authority in `:authority` and may omit Host).
    let mut hosts = parts.headers.get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() || (first.is_none() && parts.version == Version::HTTP_11) {
        return Err(GatewayError::BadHost);
    }
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_body_bytes) {
        return Err(GatewayError::BodyTooLarge {
            limit: limits.max_body_bytes,
        });
    }
    Ok(())
}
