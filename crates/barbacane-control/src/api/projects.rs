//! `/projects`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::{JsonBody, parse_id};
use crate::db::projects::{self, Project};
use crate::error::{ApiError, is_foreign_key_violation, is_unique_violation};
use crate::state::AppState;

/// `POST /projects` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Unique, 1-128 characters, no control characters.
    pub name: String,
}

/// Checks the name and creates the project (the API's and the UI's one path).
pub async fn create_project(state: &AppState, name: &str) -> Result<Project, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "`name` must be 1 to 128 characters without control characters".into(),
        ));
    }
    projects::create(state.pool(), name).await.map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::AlreadyExists(format!("a project named `{name}` already exists"))
        } else {
            e.into()
        }
    })
}

/// `POST /projects` → 201 `{"id"}`.
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewProject>,
) -> Result<Response, ApiError> {
    let project = create_project(&state, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/projects/{}", project.id))],
        Json(json!({"id": project.id, "name": project.name, "created_at": project.created_at})),
    )
        .into_response())
}

/// `GET /projects`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Project>>, ApiError> {
    Ok(Json(projects::list(state.pool()).await?))
}

/// `GET /projects/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Project>, ApiError> {
    let uuid = parse_id("project", &id)?;
    projects::get(state.pool(), uuid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("project", id))
}

/// `DELETE /projects/{id}` → 204; 409 while one of its artifacts is deployed.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let uuid = parse_id("project", &id)?;
    let artifacts = projects::delete(state.pool(), uuid).await.map_err(|e| {
        if is_foreign_key_violation(&e) {
            ApiError::InUse(format!(
                "project `{id}` has an artifact that is deployed; remove the deployment first"
            ))
        } else {
            e.into()
        }
    })?;
    let artifacts = artifacts.ok_or_else(|| ApiError::not_found("project", &id))?;
    for artifact in artifacts {
        state.store().delete(artifact).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
