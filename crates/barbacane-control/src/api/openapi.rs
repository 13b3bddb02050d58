//! `GET /openapi.yaml` and `GET /openapi.json`: this API's own description, the document the
//! tests keep true (every route in the table is in it, and nothing else).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

use crate::error::ApiError;

/// The document as written.
pub const YAML: &str = include_str!("../../openapi.yaml");

/// The document as YAML.
pub async fn yaml() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], YAML).into_response()
}

/// The document as JSON (converted once).
pub async fn json() -> Result<Response, ApiError> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    let converted = JSON.get_or_init(|| {
        serde_saphyr::from_str::<serde_json::Value>(YAML)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
    });
    match converted {
        Ok(text) => {
            Ok(([(header::CONTENT_TYPE, "application/json")], text.clone()).into_response())
        }
        Err(e) => Err(ApiError::Internal(format!(
            "openapi.yaml does not convert: {e}"
        ))),
    }
}
