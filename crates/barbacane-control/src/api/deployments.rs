//! `/projects/{id}/deploy`, `/projects/{id}/deployments`, `/deployments/{id}`: connected
//! mode's desired state and each node's outcome.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::extract::{JsonBody, parse_id};
use crate::db::{artifacts, deployments};
use crate::error::ApiError;
use crate::hub::session::deploy_message;
use crate::state::AppState;

/// `POST /projects/{id}/deploy` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    /// An artifact of the project.
    pub artifact_id: String,
    /// Only nodes whose labels include these (default: every node of the project).
    #[serde(default)]
    pub labels: Map<String, Value>,
}

/// `POST /projects/{id}/deploy` → 202 `{"deployment_id"}`: records the desired artifact and
/// tells the matching connected nodes; nodes that connect later get it when they register.
pub async fn deploy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewDeployment>,
) -> Result<Response, ApiError> {
    let project_id = parse_id("project", &id)?;
    if body.labels.values().any(|v| !v.is_string()) {
        return Err(ApiError::InvalidRequest(
            "`labels` values must be strings".into(),
        ));
    }
    let artifact_id = parse_id("artifact", &body.artifact_id)?;
    let artifact = match artifacts::get(state.pool(), artifact_id).await? {
        Some((a, _)) if a.project_id == project_id => a,
        _ => return Err(ApiError::not_found("artifact", &body.artifact_id)),
    };
    let labels = Value::Object(body.labels);
    let connected = state.hub().connected_in(project_id);
    let (deployment, nodes) = deployments::create(
        state.pool(),
        project_id,
        artifact_id,
        &artifact.artifact_hash,
        &labels,
        &connected,
    )
    .await?;
    let message = deploy_message(&deployment);
    let mut notified = 0;
    for node in nodes.iter().filter(|n| connected.contains(n)) {
        if state.hub().send(*node, message.clone()) {
            notified += 1;
            crate::db::data_planes::set_status(state.pool(), *node, "deploying").await?;
        }
    }
    tracing::info!(project = %project_id, deployment = %deployment.id, artifact = %artifact_id, nodes = nodes.len(), notified, "deployment created");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/deployments/{}", deployment.id))],
        Json(json!({"deployment_id": deployment.id, "nodes": nodes.len(), "notified": notified})),
    )
        .into_response())
}

/// `GET /projects/{id}/deployments`: newest first.
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<deployments::Deployment>>, ApiError> {
    let project_id = parse_id("project", &id)?;
    if crate::db::projects::get(state.pool(), project_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("project", id));
    }
    Ok(Json(deployments::list(state.pool(), project_id).await?))
}

/// `GET /deployments/{id}`: the deployment and each node's state.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_id("deployment", &id)?;
    let deployment = deployments::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment", &id))?;
    let nodes = deployments::nodes(state.pool(), uuid).await?;
    let mut body =
        serde_json::to_value(&deployment).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["nodes"] = serde_json::to_value(&nodes).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(body))
}
