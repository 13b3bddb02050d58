//! `api_keys`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// An API key as listed: never the secret, never its hash.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ApiKey {
    /// Its id.
    pub id: Uuid,
    /// The project it belongs to (and the only one it can see).
    pub project_id: Uuid,
    /// A label for people.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The listed columns (a macro so queries stay `&'static str`, as sqlx wants).
macro_rules! columns {
    () => {
        "id, project_id, name, prefix, scopes, expires_at, created_at, revoked_at, last_used_at"
    };
}

/// What a new key is made of.
#[derive(Debug)]
pub struct NewKey<'a> {
    /// The project.
    pub project_id: Uuid,
    /// Its label.
    pub name: &'a str,
    /// Display prefix.
    pub prefix: &'a str,
    /// SHA-256 of the key, hex.
    pub sha256: &'a str,
    /// Scopes.
    pub scopes: &'a [String],
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Inserts a key; a missing project is a foreign-key violation.
pub async fn create(pool: &PgPool, key: &NewKey<'_>) -> Result<ApiKey, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO api_keys (id, project_id, name, prefix, sha256, scopes, expires_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(key.project_id)
    .bind(key.name)
    .bind(key.prefix)
    .bind(key.sha256)
    .bind(key.scopes)
    .bind(key.expires_at)
    .fetch_one(pool)
    .await
}

/// The keys of a project, newest first, revoked ones included.
pub async fn list(pool: &PgPool, project_id: Uuid) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM api_keys WHERE project_id = $1 ORDER BY created_at DESC, id"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// Revokes a key of the project; false when the project has no such key. Revoking twice is
/// idempotent (the first time is kept).
pub async fn revoke(pool: &PgPool, project_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) \
         WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The key with this hash if it is usable now (not revoked, not expired); marks it used.
pub async fn authenticate(pool: &PgPool, sha256: &str) -> Result<Option<ApiKey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE api_keys SET last_used_at = now() ",
        "WHERE sha256 = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) ",
        "RETURNING ",
        columns!()
    ))
    .bind(sha256)
    .fetch_optional(pool)
    .await
}
