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

/// A project's latest `limit` compilations, newest first.
pub async fn for_project(
    pool: &PgPool,
    project_id: Uuid,
    limit: i64,
) -> Result<Vec<Compilation>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM compilations WHERE project_id = $1 \
         ORDER BY created_at DESC, id LIMIT $2"
    )))
    .bind(project_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Claims the oldest pending compilation: `FOR UPDATE SKIP LOCKED` lets any number of workers
/// (in any number of processes) claim concurrently without ever claiming the same row.
pub async fn claim(
    pool: &PgPool,
    owner: Uuid,
    lease: std::time::Duration,
) -> Result<Option<Compilation>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE compilations SET status = 'running', started_at = now(), \
         attempts = attempts + 1, lease_owner = $1, \
         lease_expires_at = now() + make_interval(secs => $2) \
         WHERE id = (SELECT id FROM compilations WHERE status = 'pending' \
                     ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING {COLUMNS}"
    )))
    .bind(owner)
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Extends `owner`'s lease on a running compilation; false when it is no longer its own
/// (expired and requeued, or finished elsewhere).
pub async fn renew(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    lease: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE compilations SET lease_expires_at = now() + make_interval(secs => $3) \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(owner)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1)
}

/// Records failure, with the plugin versions it was attempted with.
pub async fn fail(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    diagnostics: &Value,
    plugins: &Value,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE compilations SET status = 'failed', diagnostics = $2, plugins = $3, \
         finished_at = now(), lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $1 AND lease_owner = $4 AND status = 'running'",
    )
    .bind(id)
    .bind(diagnostics)
    .bind(plugins)
    .bind(owner)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1)
}

/// Compilations whose lease expired (their owner crashed, hung or lost the database) go
/// back to `pending`, unless they were already started [`MAX_ATTEMPTS`] times (then they
/// fail with that reason, so a spec that crashes the compiler cannot crash-loop the
/// server). Live leases of other processes are never touched, so any number of control
/// planes may share the database and run this at any time. Returns (requeued, failed).
pub async fn recover(pool: &PgPool) -> Result<(u64, u64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let failed = sqlx::query(
        "UPDATE compilations SET status = 'failed', finished_at = now(), \
         diagnostics = jsonb_build_array(jsonb_build_object( \
           'severity', 'error', 'code', 'interrupted', \
           'message', 'the server stopped during this compilation ' || attempts || ' times; given up')) \
         WHERE status = 'running' AND attempts >= $1 \
         AND (lease_expires_at IS NULL OR lease_expires_at < now())",
    )
    .bind(MAX_ATTEMPTS)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let requeued = sqlx::query(
        "UPDATE compilations SET status = 'pending', started_at = NULL, lease_owner = NULL, \
         lease_expires_at = NULL WHERE status = 'running' \
         AND (lease_expires_at IS NULL OR lease_expires_at < now())",
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

/// Deletes artifact bytes that no artifact row references and that were stored more than
/// `age` ago (a process killed between storing the bytes and recording the build). Returns
/// how many.
pub async fn sweep_orphan_blobs(
    pool: &PgPool,
    age: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM artifact_blobs b WHERE b.stored_at < now() - make_interval(secs => $1) \
         AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.id = b.artifact_id)",
    )
    .bind(age.as_secs_f64())
    .execute(pool)
    .await
    .map(|r| r.rows_affected())
}
