//! `projects`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A project: a named group of specs compiled together.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Project {
    /// Its id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Inserts a project; a duplicate name is a unique violation.
pub async fn create(pool: &PgPool, name: &str) -> Result<Project, sqlx::Error> {
    sqlx::query_as("INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING id, name, created_at")
        .bind(Uuid::new_v4())
        .bind(name)
        .fetch_one(pool)
        .await
}

/// Every project, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<Project>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM projects ORDER BY name")
        .fetch_all(pool)
        .await
}

/// One project.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Project>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM projects WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Deletes a project with its specs, compilations and artifact records, returning the ids of
/// the artifacts it had (their bytes are the artifact store's to delete), or `None` when it
/// did not exist. Fails with a foreign-key violation while one of its artifacts is deployed.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<Option<Vec<Uuid>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let artifacts: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM artifacts WHERE project_id = $1")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((done.rows_affected() == 1).then_some(artifacts))
}
