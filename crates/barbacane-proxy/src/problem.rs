//! The single rescue point: any [`GatewayError`] becomes an RFC 9457 problem response.

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response};
use serde::Serialize;

use crate::error::Fault;
use crate::{Body, GatewayError};

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldDetail<'a>>,
}

#[derive(Serialize)]
struct FieldDetail<'a> {
    location: &'a str,
    field: &'a str,
    reason: &'a str,
}

/// Builds the problem response for `error`. In `dev` mode the detail is the full error and
/// validation failures list each field; in production only fixed text goes out.
pub(crate) fn respond(
    error: &GatewayError,
    dev: bool,
    request_id: Option<&HeaderValue>,
) -> Response<Body> {
    let status = error.status();
    match error.fault() {
        Fault::Internal => tracing::error!(error = %error, "request failed inside the gateway"),
        Fault::Upstream => tracing::warn!(error = %error, "upstream failure"),
        Fault::Client => {}
    }
    let errors = match (dev, error) {
        (true, GatewayError::Validation(f)) => f
            .errors
            .iter()
            .map(|e| FieldDetail {
                location: e.location,
                field: &e.field,
                reason: &e.reason,
            })
            .collect(),
        _ => Vec::new(),
    };
    let problem = Problem {
        kind: format!("urn:barbacane:error:{}", error.problem_name()),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: if dev {
            error.to_string()
        } else {
            error.public_detail().to_owned()
        },
        instance: request_id
            .and_then(|v| v.to_str().ok())
            .map(|id| format!("urn:request:{id}")),
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Body::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let GatewayError::MethodNotAllowed(allowed) = error
        && let Ok(v) = HeaderValue::from_str(&allowed.allow_header())
    {
        headers.insert(ALLOW, v);
    }
    if let Some(seconds) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
