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
    let made = deploy_artifact(&state, project_id, &body.artifact_id, body.labels).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/deployments/{}", made.deployment.id))],
        Json(json!({"deployment_id": made.deployment.id, "nodes": made.nodes, "notified": made.notified})),
    )
        .into_response())
}

/// A deployment just made.
#[derive(Debug)]
pub struct Deployed {
    /// The record.
    pub deployment: deployments::Deployment,
    /// Nodes it targets.
    pub nodes: usize,
    /// Connected nodes told at once.
    pub notified: usize,
}

/// Records a deployment of `artifact_id` (an artifact of the project) to the project's nodes
/// whose labels include `labels`, and tells the connected ones (the API's and the UI's one
/// path).
pub async fn deploy_artifact(
    state: &AppState,
    project_id: uuid::Uuid,
    artifact_id: &str,
    labels: Map<String, Value>,
) -> Result<Deployed, ApiError> {
    if labels.values().any(|v| !v.is_string()) {
        return Err(ApiError::InvalidRequest(
            "`labels` values must be strings".into(),
        ));
    }
    let raw_artifact = artifact_id;
    let artifact_id = parse_id("artifact", raw_artifact)?;
    let artifact = match artifacts::get(state.pool(), artifact_id).await? {
        Some((a, _)) if a.project_id == project_id => a,
        // The path's project exists; what is missing is in the body: the project's state does
        // not hold this artifact (409, so a 404 always means the path).
        _ => {
            return Err(ApiError::Conflict(format!(
                "project has no artifact `{raw_artifact}`"
            )));
        }
    };
    let labels = Value::Object(labels);
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
    Ok(Deployed {
        deployment,
        nodes: nodes.len(),
        notified,
    })
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
