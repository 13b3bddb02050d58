//! `GET /health`: open (no token), and honest: 503 while Postgres does not answer.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::time::Duration;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// How long the database gets to answer a health check.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `200 {"status":"ok","database":"ok"}`, or `503 database-unavailable`.
pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(PING_TIMEOUT, db::ping(state.pool())).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ok", "database": "ok"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database error");
            Err(ApiError::DatabaseUnavailable)
        }
        Err(_) => Err(ApiError::DatabaseUnavailable),
    }
}
