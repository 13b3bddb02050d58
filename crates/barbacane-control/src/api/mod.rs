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
pub mod plugins;
pub mod projects;
pub mod remediations;
pub mod specs;
pub mod upload;
pub mod webhooks;

use crate::error::ApiError;

/// Fallback for paths no route matches.
pub async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

/// Fallback for a known path with another method (axum adds `Allow`).
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
