//! `compilations`: the queue the workers drain.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgPool};
use uuid::Uuid;

/// How many times a compilation may be started before a crash-looping one is given up.
pub const MAX_ATTEMPTS: i32 = 3;

/// A compilation request and its outcome.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Compilation {
    /// Its id.
    pub id: Uuid,
    /// The project compiled.
    pub project_id: Uuid,
    /// The spec compiled (`None` for a whole-project compilation or a deleted spec).
    pub spec_id: Option<Uuid>,
    /// The spec revisions compiled, pinned at request time.
    pub revision_ids: Vec<Uuid>,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// The artifact produced.
    pub artifact_id: Option<Uuid>,
    /// The compiler's diagnostics (warnings on success, errors on failure).
    pub diagnostics: Value,
    /// The registry plugin versions compiled with, `{"<name>": "<version>"}`.
    pub plugins: Value,
    /// How many times a worker started it.
    pub attempts: i32,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, project_id, spec_id, revision_ids, status, artifact_id, diagnostics, \
                       plugins, attempts, created_at, started_at, finished_at";

/// Queues a compilation.
pub async fn enqueue(
    pool: &PgPool,
    project_id: Uuid,
    spec_id: Option<Uuid>,
    revision_ids: &[Uuid],
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO compilations (id, project_id, spec_id, revision_ids) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(spec_id)
    .bind(revision_ids)
    .fetch_one(pool)
    .await
}

/// One compilation.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Compilation>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM compilations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Claims the oldest pending compilation: `FOR UPDATE SKIP LOCKED` lets any number of workers
/// (in any number of processes) claim concurrently without ever claiming the same row.
pub async fn claim(pool: &PgPool) -> Result<Option<Compilation>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE compilations SET status = 'running', started_at = now(), \
         attempts = attempts + 1 \
         WHERE id = (SELECT id FROM compilations WHERE status = 'pending' \
                     ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING {COLUMNS}"
    )))
    .fetch_optional(pool)
    .await
}

/// Records success (see also [`crate::db::artifacts::record_build`], which does it with the
/// artifact's rows in one transaction).
pub async fn succeed(
    pool: &PgPool,
    id: Uuid,
    artifact_id: Uuid,
    diagnostics: &Value,
    plugins: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE compilations SET status = 'succeeded', artifact_id = $2, diagnostics = $3, \
         plugins = $4, finished_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(artifact_id)
    .bind(diagnostics)
    .bind(plugins)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Records failure, with the plugin versions it was attempted with.
pub async fn fail(
    pool: &PgPool,
    id: Uuid,
    diagnostics: &Value,
    plugins: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE compilations SET status = 'failed', diagnostics = $2, plugins = $3, \
         finished_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(diagnostics)
    .bind(plugins)
    .execute(pool)
    .await
    .map(|_| ())
}

/// At startup: compilations a crashed server left `running` go back to `pending`, unless they
/// were already started [`MAX_ATTEMPTS`] times (then they fail with that reason, so a spec
/// that crashes the compiler cannot crash-loop the server). Returns (requeued, failed).
///
/// This assumes one control-plane process per database; see `docs/control-plane.md`.
pub async fn recover(pool: &PgPool) -> Result<(u64, u64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let failed = sqlx::query(
        "UPDATE compilations SET status = 'failed', finished_at = now(), \
         diagnostics = jsonb_build_array(jsonb_build_object( \
           'severity', 'error', 'code', 'interrupted', \
           'message', 'the server stopped during this compilation ' || attempts || ' times; given up')) \
         WHERE status = 'running' AND attempts >= $1",
    )
    .bind(MAX_ATTEMPTS)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let requeued = sqlx::query(
        "UPDATE compilations SET status = 'pending', started_at = NULL WHERE status = 'running'",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((requeued, failed))
}

/// Counts compilations by status (for tests and health detail).
pub async fn count_by_status(pool: &PgPool, status: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM compilations WHERE status = $1")
        .bind(status)
        .fetch_one(pool)
        .await
}
