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

/// A JSON body (`Content-Type` JSON or absent).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if let Some(media) = media_type(req.headers())
            && !is_json(&media)
        {
            return Err(ApiError::UnsupportedMediaType {
                got: media,
                expected: "application/json",
            });
        }
        let Body(bytes) = Body::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid JSON body: {e}")))
    }
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
