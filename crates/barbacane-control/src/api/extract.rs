//! Request extractors whose every rejection is an [`ApiError`] (so even a malformed request
//! gets a problem+json answer, never axum's plain-text rejections).

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// Parses a path segment as a UUID; anything else names no resource (404).
pub fn parse_id(kind: &'static str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(kind, raw))
}

/// The request's media type, lowercased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Whether a media type is JSON (`application/json` or `...+json`).
pub fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The whole body, at most `--max-upload-bytes` (413 beyond).
#[derive(Debug)]
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|r| body_error(&r, state.max_upload_bytes()))
    }
}

fn body_error(rejection: &BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::InvalidRequest(format!("cannot read the request body: {rejection}"))
    }
}

/// A JSON body: `Content-Type` JSON (`application/json` or `+json`), else 415, also when the
/// header is absent (the document says so, and a client that forgets it learns at once
/// rather than when a proxy or another server reads the body as something else).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        let Body(bytes) = Body::from_request(req, state).await?;
        decode_json(&bytes).map(JsonBody)
    }
}

/// An optional JSON body: an empty (or blank) body is `None` whatever its `Content-Type`;
/// anything else is read as [`JsonBody`] reads it.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let Body(bytes) = Body::from_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        require_json(&headers)?;
        decode_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers) {
        Some(media) if is_json(&media) => Ok(()),
        got => Err(ApiError::UnsupportedMediaType {
            got: got.unwrap_or_else(|| "no Content-Type".to_owned()),
            expected: "application/json",
        }),
    }
}

/// Decodes a JSON body; a string holding U+0000 anywhere (a key or a value, at any depth) is
/// a 400 before any handler sees it: Postgres text and `jsonb` cannot hold NUL.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(at) = find_nul(bytes) {
        return Err(ApiError::InvalidRequest(format!(
            "invalid JSON body: a string holds U+0000 (byte {at}), which cannot be stored"
        )));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidRequest(format!("invalid JSON body: {e}")))
}

/// Where a JSON text holds U+0000: a raw NUL byte or a `\u0000` escape. In JSON a backslash
/// occurs only inside strings (keys included), so the escapes are found without parsing; an
/// escaped backslash is skipped whole, so `\\u0000` (an escaped backslash, then
/// `u0000`) is not a NUL.
pub fn find_nul(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0 => return Some(i),
            b'\\' => {
                if bytes.get(i + 1..i + 6) == Some(b"u0000") {
                    return Some(i);
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

/// Query parameters (400 when they do not parse).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::InvalidRequest(format!("invalid query: {}", e.body_text())))
    }
}

/// One part of a multipart body.
#[derive(Debug)]
pub struct Part {
    /// The form field name.
    pub field: String,
    /// The part's file name, if any.
    pub file_name: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

/// Most parts in one multipart body (a spec and its referenced files, a plugin package).
pub const MAX_PARTS: usize = 1000;

/// Reads every part of a `multipart/form-data` body (the whole body stays under the limit).
pub async fn multipart(req: Request, state: &AppState) -> Result<Vec<Part>, ApiError> {
    let limit = state.max_upload_bytes();
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::InvalidRequest(format!("invalid multipart body: {e}")))?;
    let mut parts = Vec::new();
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| multipart_error(&e, limit))?;
        let Some(field) = field else {
            return Ok(parts);
        };
        if parts.len() == MAX_PARTS {
            return Err(ApiError::InvalidRequest(format!(
                "a multipart body may hold at most {MAX_PARTS} parts"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_error(&e, limit))?;
        parts.push(Part {
            field: name,
            file_name,
            bytes,
        });
    }
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::InvalidRequest(format!("invalid multipart body: {}", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_in_keys_values_and_at_any_depth_but_not_in_an_escaped_backslash() {
        assert_eq!(find_nul(br#"{"a":"b\u0000"}"#), Some(7));
        assert_eq!(find_nul(br#"{"a\u0000":1}"#), Some(3));
        assert!(find_nul(br#"{"a":[{"b":{"c":["x\u0000y"]}}]}"#).is_some());
        assert!(find_nul(b"{\"a\":\"\0\"}").is_some());
        assert_eq!(find_nul(br#"{"a":"\\u0000"}"#), None);
        assert_eq!(find_nul(br#"{"a":"\u00001","b":"\\"}"#), Some(6));
        assert_eq!(find_nul(br#"{"a":"\u0001 \n \\ \""}"#), None);
        assert_eq!(find_nul(b"\\"), None);
    }

    #[test]
    fn decoding_refuses_nul_before_parsing() {
        let e = decode_json::<serde_json::Value>(br#"{"note":"a\u0000b"}"#).unwrap_err();
        assert!(
            matches!(&e, ApiError::InvalidRequest(m) if m.contains("U+0000")),
            "{e}"
        );
        assert!(decode_json::<serde_json::Value>(br#"{"note":"a\\u0000b"}"#).is_ok());
    }
}
