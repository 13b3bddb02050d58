//! Asynchronous compilation: `POST /specs/{id}/compile`, `POST /projects/{id}/compile`,
//! `GET /compilations/{id}`. A request pins the revisions current at that moment; the worker
//! pool compiles exactly those.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::extract::parse_id;
use crate::db::compilations::{self, Compilation};
use crate::db::{projects, specs};
use crate::error::ApiError;
use crate::state::AppState;

fn accepted(id: Uuid) -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/compilations/{id}"))],
        Json(json!({"id": id, "status": "pending"})),
    )
        .into_response()
}

/// `POST /specs/{id}/compile` → 202 `{"id"}`.
pub async fn compile_spec(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(accepted(enqueue_spec(&state, &id).await?))
}

/// Queues the compilation of a spec's current revision (the API's and the UI's one path).
pub async fn enqueue_spec(state: &AppState, id: &str) -> Result<Uuid, ApiError> {
    let spec_id = parse_id("spec", id)?;
    let spec = specs::get(state.pool(), spec_id)
        .await?
        .ok_or_else(|| ApiError::not_found("spec", id))?;
    let compilation = compilations::enqueue(
        state.pool(),
        spec.project_id,
        Some(spec.id),
        &[spec.revision_id],
    )
    .await?;
    state.wake_workers();
    Ok(compilation)
}

/// `POST /projects/{id}/compile` → 202 `{"id"}`: every spec of the project into one artifact.
pub async fn compile_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(accepted(enqueue_project(&state, &id).await?))
}

/// Queues the compilation of every spec of a project (the API's and the UI's one path).
pub async fn enqueue_project(state: &AppState, id: &str) -> Result<Uuid, ApiError> {
    let project_id = parse_id("project", id)?;
    if projects::get(state.pool(), project_id).await?.is_none() {
        return Err(ApiError::not_found("project", id));
    }
    let revisions = specs::current_revisions_of_project(state.pool(), project_id).await?;
    if revisions.is_empty() {
        // The project's state, not the request, is what is wrong: 409 like other operations
        // that do not apply to a resource as it stands.
        return Err(ApiError::Conflict(format!(
            "project `{id}` has no spec to compile"
        )));
    }
    let compilation = compilations::enqueue(state.pool(), project_id, None, &revisions).await?;
    state.wake_workers();
    Ok(compilation)
}

/// `GET /compilations/{id}` → `{"id", "status", "artifact_id", "diagnostics", ...}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Compilation>, ApiError> {
    let uuid = parse_id("compilation", &id)?;
    compilations::get(state.pool(), uuid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("compilation", id))
}
