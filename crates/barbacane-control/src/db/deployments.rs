//! `deployments` and `deployment_nodes` (connected mode).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A deployment.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Deployment {
    /// Its id.
    pub id: Uuid,
    /// The project.
    pub project_id: Option<Uuid>,
    /// The artifact to run.
    pub artifact_id: Uuid,
    /// Its `artifact_hash`.
    pub artifact_hash: Option<String>,
    /// Nodes whose labels include these (`{}`: every node of the project).
    pub labels: Value,
    /// The one node it targets (a remediation), instead of a label selector.
    pub data_plane_id: Option<Uuid>,
    /// The approved remediation it acts on.
    pub remediation_id: Option<Uuid>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// One node's outcome.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct NodeState {
    /// The node.
    pub data_plane_id: Uuid,
    /// Its name.
    pub name: String,
    /// `pending`, `applied`, `rejected` or `offline`.
    pub state: String,
    /// Why it was rejected (or the hash mismatch).
    pub reason: Option<String>,
    /// The hash it reported after applying.
    pub reported_hash: Option<String>,
    /// When the state last changed.
    pub updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, project_id, artifact_id, artifact_hash, labels, data_plane_id, remediation_id, created_at"
    };
}

/// Records a deployment and a `pending` (connected) or `offline` row for every node of the
/// project whose labels match; returns it with the matching nodes' ids.
pub async fn create(
    pool: &PgPool,
    project_id: Uuid,
    artifact_id: Uuid,
    artifact_hash: &str,
    labels: &Value,
    connected: &[Uuid],
) -> Result<(Deployment, Vec<Uuid>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let deployment: Deployment = sqlx::query_as(concat!(
        "INSERT INTO deployments (id, artifact_id, target, project_id, labels, artifact_hash) ",
        "VALUES ($1, $2, 'data-planes', $3, $4, $5) RETURNING ",
        columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(artifact_id)
    .bind(project_id)
    .bind(labels)
    .bind(artifact_hash)
    .fetch_one(&mut *tx)
    .await?;
    let nodes: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM data_planes WHERE project_id = $1 AND labels @> $2 AND mode = 'connected' \
         ORDER BY name",
    )
    .bind(project_id)
    .bind(labels)
    .fetch_all(&mut *tx)
    .await?;
    for node in &nodes {
        let state = if connected.contains(node) {
            "pending"
        } else {
            "offline"
        };
        sqlx::query(
            "INSERT INTO deployment_nodes (deployment_id, data_plane_id, state) VALUES ($1, $2, $3)",
        )
        .bind(deployment.id)
        .bind(node)
        .bind(state)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((deployment, nodes))
}

/// The project's deployments, newest first.
pub async fn list(pool: &PgPool, project_id: Uuid) -> Result<Vec<Deployment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE project_id = $1 ORDER BY created_at DESC, id"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// One deployment.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Deployment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Its nodes' states, by node name.
pub async fn nodes(pool: &PgPool, id: Uuid) -> Result<Vec<NodeState>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.data_plane_id, d.name, n.state, n.reason, n.reported_hash, n.updated_at \
         FROM deployment_nodes n JOIN data_planes d ON d.id = n.data_plane_id \
         WHERE n.deployment_id = $1 ORDER BY d.name",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// The deployment a node should run now: the newest of its project that targets it, by
/// name (a remediation) or by labels its labels include.
pub async fn desired_for(
    pool: &PgPool,
    project_id: Uuid,
    node: Uuid,
    node_labels: &Value,
) -> Result<Option<Deployment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE project_id = $1 AND (data_plane_id = $3 OR ",
        "(data_plane_id IS NULL AND $2 @> labels)) ",
        "ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(project_id)
    .bind(node_labels)
    .bind(node)
    .fetch_optional(pool)
    .await
}

/// Sets a node's state for a deployment (inserting the row for a node that registered
/// after the deployment was made).
pub async fn set_state(
    pool: &PgPool,
    deployment_id: Uuid,
    data_plane_id: Uuid,
    state: &str,
    reason: Option<&str>,
    reported_hash: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deployment_nodes (deployment_id, data_plane_id, state, reason, reported_hash) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (deployment_id, data_plane_id) DO UPDATE SET \
         state = EXCLUDED.state, reason = EXCLUDED.reason, reported_hash = EXCLUDED.reported_hash, \
         updated_at = now()",
    )
    .bind(deployment_id)
    .bind(data_plane_id)
    .bind(state)
    .bind(reason)
    .bind(reported_hash)
    .execute(pool)
    .await
    .map(drop)
}
