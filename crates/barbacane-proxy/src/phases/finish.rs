//! Last phase, on every response: standard headers.

use http::header::SERVER;
use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::Body;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: a well-formed incoming `X-Request-Id` is kept (so ids chain across
/// hops), anything else is replaced by a fresh UUID v4.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(v) = headers.get(&X_REQUEST_ID) {
        let b = v.as_bytes();
        let well_formed = !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:+/=~".contains(c));
        if well_formed {
            return v.clone();
        }
    }
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

pub(crate) static X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");

/// `Server`, `X-Request-Id` and `X-Trace-Id` (the W3C trace id the request carried or was
/// given, `crate::trace`).
pub(crate) fn finish(
    mut response: Response<Body>,
    request_id: HeaderValue,
    trace_id: &[u8; 32],
) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static(crate::SERVER));
    headers.insert(X_REQUEST_ID.clone(), request_id);
    if let Ok(v) = HeaderValue::from_bytes(trace_id) {
        headers.insert(X_TRACE_ID.clone(), v);
    }
    response
}
