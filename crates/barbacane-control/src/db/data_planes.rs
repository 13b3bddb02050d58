//! `data_planes`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A data plane as listed.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct DataPlane {
    /// Its id.
    pub id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// Its name (unique in the project).
    pub name: String,
    /// `{"key": "value"}`.
    pub labels: Value,
    /// `online`, `offline` or `deploying`.
    pub status: String,
    /// Drift's sync axis (`Synced`, `OutOfSync`, `Unknown`), from the latest pass.
    pub sync: String,
    /// Drift's health axis (`Healthy`, `Degraded`, `Unreachable`, `Unknown`).
    pub health: String,
    /// The `artifact_hash` it last reported.
    pub artifact_hash: Option<String>,
    /// The `content_hash` it last reported.
    pub content_hash: Option<String>,
    /// The artifact it last applied from a deployment.
    pub artifact_id: Option<Uuid>,
    /// Gateway version, hostname, reported provenance.
    pub metadata: Value,
    /// When its current (or last) connection opened.
    pub connected_at: Option<DateTime<Utc>>,
    /// When it was last heard from.
    pub last_seen: Option<DateTime<Utc>>,
    /// `connected` (over the WebSocket) or `standalone` (polled).
    pub mode: String,
    /// A standalone node's admin listener.
    pub admin_url: Option<String>,
    /// The reference of its admin token (never the token).
    pub admin_token_ref: Option<String>,
    /// A standalone node's latest poll: `serving`, `unreachable` or `invalid`.
    pub observation: Option<String>,
    /// Why the latest poll was not usable.
    pub observation_error: Option<String>,
    /// Findings open on it now.
    pub open_findings: i64,
    /// `ConfigurationDrift` while a finding is open, else `None`.
    pub condition: Option<String>,
    /// When it first registered.
    pub created_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, project_id, name, labels, status, sync, health, artifact_hash, content_hash, artifact_id, metadata, connected_at, last_seen, mode, admin_url, admin_token_ref, observation, observation_error, created_at, \
         (SELECT count(*) FROM drift_findings f WHERE f.data_plane_id = data_planes.id AND NOT EXISTS \
           (SELECT 1 FROM drift_finding_events e WHERE e.finding_id = f.id AND e.event = 'resolved')) \
           AS open_findings, \
         CASE WHEN EXISTS (SELECT 1 FROM drift_findings f WHERE f.data_plane_id = data_planes.id \
           AND NOT EXISTS (SELECT 1 FROM drift_finding_events e WHERE e.finding_id = f.id \
           AND e.event = 'resolved')) THEN 'ConfigurationDrift' END AS condition"
    };
}

/// What a node says when it connects.
#[derive(Debug)]
pub struct Registration<'a> {
    /// The key's project.
    pub project_id: Uuid,
    /// The node's name.
    pub name: &'a str,
    /// Its labels.
    pub labels: &'a Value,
    /// The hash it serves, if any.
    pub artifact_hash: Option<&'a str>,
    /// The content hash it serves, if it reported one.
    pub content_hash: Option<&'a str>,
    /// Version, hostname, provenance.
    pub metadata: &'a Value,
    /// The key it connected with.
    pub api_key_id: Uuid,
}

/// Registers (or re-registers) a node as online; returns its row.
pub async fn register(pool: &PgPool, r: &Registration<'_>) -> Result<DataPlane, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO data_planes (id, project_id, name, labels, status, artifact_hash, metadata, ",
        "api_key_id, connected_at, last_seen, content_hash) ",
        "VALUES ($1, $2, $3, $4, 'online', $5, $6, $7, now(), now(), $8) ",
        "ON CONFLICT (project_id, name) DO UPDATE SET labels = EXCLUDED.labels, status = 'online', ",
        "artifact_hash = EXCLUDED.artifact_hash, content_hash = EXCLUDED.content_hash, ",
        "metadata = EXCLUDED.metadata, ",
        "api_key_id = EXCLUDED.api_key_id, connected_at = now(), last_seen = now(), ",
        // A node that connects is a connected node, even if it was registered standalone.
        "mode = 'connected', admin_url = NULL, admin_token_ref = NULL, observation = NULL, ",
        "observation_error = NULL RETURNING ",
        columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(r.project_id)
    .bind(r.name)
    .bind(r.labels)
    .bind(r.artifact_hash)
    .bind(r.metadata)
    .bind(r.api_key_id)
    .bind(r.content_hash)
    .fetch_one(pool)
    .await
}

/// Registers a standalone node (polled at `admin_url`); `None` when the name is taken.
pub async fn register_standalone(
    pool: &PgPool,
    project_id: Uuid,
    name: &str,
    labels: &Value,
    admin_url: &str,
    admin_token_ref: &str,
) -> Result<Option<DataPlane>, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO data_planes (id, project_id, name, labels, status, mode, admin_url, ",
        "admin_token_ref) VALUES ($1, $2, $3, $4, 'offline', 'standalone', $5, $6) ",
        "ON CONFLICT (project_id, name) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(labels)
    .bind(admin_url)
    .bind(admin_token_ref)
    .fetch_optional(pool)
    .await
}

/// A standalone node to poll.
#[derive(Debug, Clone, FromRow)]
pub struct Standalone {
    /// Node id.
    pub id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its admin listener's base URL.
    pub admin_url: String,
    /// The reference of its admin token.
    pub admin_token_ref: String,
}

/// Every standalone node.
pub async fn standalone(pool: &PgPool) -> Result<Vec<Standalone>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, project_id, name, admin_url, admin_token_ref FROM data_planes \
         WHERE mode = 'standalone' AND admin_url IS NOT NULL AND admin_token_ref IS NOT NULL \
         ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// What one poll of a standalone node found.
#[derive(Debug, Clone)]
pub struct Polled {
    /// `serving`, `unreachable` or `invalid`.
    pub observation: &'static str,
    /// Why it is not `serving`.
    pub error: Option<String>,
    /// The validated provenance document (`serving` only).
    pub provenance: Option<Value>,
    /// Its `artifact_hash`.
    pub artifact_hash: Option<String>,
    /// Its `content_hash`.
    pub content_hash: Option<String>,
}

/// Stores a poll's result on the node: status (`online` when it answered), last seen, and
/// for a usable answer what it serves and its provenance.
pub async fn polled(pool: &PgPool, id: Uuid, p: &Polled) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE data_planes SET observation = $2, observation_error = $3, \
         status = CASE WHEN $2 = 'unreachable' THEN 'offline' ELSE 'online' END, \
         last_seen = CASE WHEN $2 = 'unreachable' THEN last_seen ELSE now() END, \
         artifact_hash = CASE WHEN $2 = 'serving' THEN $4 ELSE artifact_hash END, \
         content_hash = CASE WHEN $2 = 'serving' THEN $5 ELSE content_hash END, \
         metadata = CASE WHEN $2 = 'serving' THEN jsonb_build_object('provenance', $6::jsonb) \
           ELSE metadata END WHERE id = $1 AND mode = 'standalone'",
    )
    .bind(id)
    .bind(p.observation)
    .bind(&p.error)
    .bind(&p.artifact_hash)
    .bind(&p.content_hash)
    .bind(&p.provenance)
    .execute(pool)
    .await
    .map(drop)
}

/// The project a node belongs to.
pub async fn project_of(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT project_id FROM data_planes WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A heartbeat: the node is alive and serves `artifact_hash`.
pub async fn heartbeat(
    pool: &PgPool,
    id: Uuid,
    artifact_hash: Option<&str>,
    content_hash: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE data_planes SET last_seen = now(), status = CASE WHEN status = 'offline' \
         THEN 'online' ELSE status END, artifact_hash = COALESCE($2, artifact_hash), \
         content_hash = COALESCE($3, content_hash) WHERE id = $1",
    )
    .bind(id)
    .bind(artifact_hash)
    .bind(content_hash)
    .execute(pool)
    .await
    .map(drop)
}

/// Sets a connected node's status: `deploying` while a deployment it was told about is
/// pending, `online` again once it reported (an offline node stays offline).
pub async fn set_status(pool: &PgPool, id: Uuid, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE data_planes SET status = $2 WHERE id = $1 AND status <> 'offline'")
        .bind(id)
        .bind(status)
        .execute(pool)
        .await
        .map(drop)
}

/// Records the artifact a node applied.
pub async fn applied(pool: &PgPool, id: Uuid, artifact_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE data_planes SET artifact_id = $2 WHERE id = $1")
        .bind(id)
        .bind(artifact_id)
        .execute(pool)
        .await
        .map(drop)
}

/// Marks a node offline (its connection ended).
pub async fn offline(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE data_planes SET status = 'offline' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
}

/// At start: no node is connected to this process yet.
pub async fn all_offline(pool: &PgPool) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE data_planes SET status = 'offline' WHERE status <> 'offline' AND mode = 'connected'")
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
}

/// A project's nodes by name, optionally with one status and labels that all match.
pub async fn list(
    pool: &PgPool,
    project_id: Uuid,
    status: Option<&str>,
    labels: &Value,
) -> Result<Vec<DataPlane>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM data_planes WHERE project_id = $1 AND ($2::text IS NULL OR status = $2) ",
        "AND labels @> $3 ORDER BY name"
    ))
    .bind(project_id)
    .bind(status)
    .bind(labels)
    .fetch_all(pool)
    .await
}

/// One node of the project.
pub async fn get(
    pool: &PgPool,
    project_id: Uuid,
    id: Uuid,
) -> Result<Option<DataPlane>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM data_planes WHERE project_id = $1 AND id = $2"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Forgets a node of the project; false when there is none.
pub async fn delete(pool: &PgPool, project_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM data_planes WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
}
