//! `known_good`: operator-blessed desired state, recorded with who and when.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A blessing.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct KnownGood {
    /// Its id.
    pub id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// The blessed `artifact_hash`.
    pub artifact_hash: String,
    /// The artifact, when the control plane built it.
    pub artifact_id: Option<Uuid>,
    /// The blessed `content_hash` (`None` until pinned by an observation).
    pub content_hash: Option<String>,
    /// `given`, `recorded`, `observation` or `pending`.
    pub content_source: String,
    /// Why.
    pub note: String,
    /// Who (as they said).
    pub created_by: Option<String>,
    /// The first 16 hex digits of SHA-256 of the admin token used.
    pub token_fingerprint: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, project_id, artifact_hash, artifact_id, content_hash, content_source, note, created_by, token_fingerprint, created_at"
    };
}

/// What `POST /projects/{id}/known-good` records.
#[derive(Debug)]
pub struct NewKnownGood<'a> {
    /// The project.
    pub project_id: Uuid,
    /// The hash.
    pub artifact_hash: &'a str,
    /// The artifact, if built here.
    pub artifact_id: Option<Uuid>,
    /// The content hash, if known.
    pub content_hash: Option<&'a str>,
    /// Where it came from.
    pub content_source: &'static str,
    /// Why.
    pub note: &'a str,
    /// Who.
    pub created_by: Option<&'a str>,
    /// Token fingerprint.
    pub token_fingerprint: Option<&'a str>,
}

/// Records a blessing.
pub async fn create(pool: &PgPool, k: &NewKnownGood<'_>) -> Result<KnownGood, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO known_good (id, project_id, artifact_hash, artifact_id, content_hash, ",
        "content_source, note, created_by, token_fingerprint) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
        columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(k.project_id)
    .bind(k.artifact_hash)
    .bind(k.artifact_id)
    .bind(k.content_hash)
    .bind(k.content_source)
    .bind(k.note)
    .bind(k.created_by)
    .bind(k.token_fingerprint)
    .fetch_one(pool)
    .await
}

/// The project's newest blessing.
pub async fn latest(pool: &PgPool, project_id: Uuid) -> Result<Option<KnownGood>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM known_good WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(project_id)
    .fetch_optional(pool)
    .await
}

/// The project's blessings, newest first.
pub async fn list(pool: &PgPool, project_id: Uuid) -> Result<Vec<KnownGood>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM known_good WHERE project_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// Pins the content hash of a blessing made without one (first observation wins; a later
/// call changes nothing).
pub async fn pin(pool: &PgPool, id: Uuid, content_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE known_good SET content_hash = $2, content_source = 'observation' \
         WHERE id = $1 AND content_hash IS NULL",
    )
    .bind(id)
    .bind(content_hash)
    .execute(pool)
    .await
    .map(drop)
}
