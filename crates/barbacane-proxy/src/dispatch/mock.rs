//! The built-in `mock` dispatcher: a fixed response, fully prebuilt at load time.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::Body;

/// `mock` config: `status` (200), `body` (""), `content_type` (application/json), `headers`.
#[derive(Debug)]
pub(crate) struct MockResponse {
    status: StatusCode,
    body: Bytes,
    headers: HeaderMap,
}

impl MockResponse {
    pub(crate) fn build(config: &Value) -> Result<MockResponse, String> {
        let status = match config.get("status") {
            None => StatusCode::OK,
            Some(v) => v
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .ok_or_else(|| format!("mock status {v} is not a valid status code"))?,
        };
        let body = config
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content_type = config
            .get("content_type")
            .and_then(Value::as_str)
            .unwrap_or("application/json");
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(content_type)
                .map_err(|_| "mock content_type is not a valid header value".to_owned())?,
        );
        if let Some(extra) = config.get("headers").and_then(Value::as_object) {
            for (name, value) in extra {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("mock header name `{name}` is invalid"))?;
                let value = value
                    .as_str()
                    .and_then(|v| HeaderValue::from_str(v).ok())
                    .ok_or_else(|| format!("mock header `{name}` has an invalid value"))?;
                headers.append(name, value);
            }
        }
        Ok(MockResponse {
            status,
            body: Bytes::copy_from_slice(body.as_bytes()),
            headers,
        })
    }

    pub(crate) fn respond(&self) -> Response<Body> {
        // Cloning `Bytes` and a small `HeaderMap` is cheap next to building the response anew.
        let mut response = Response::new(Body::new(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}
