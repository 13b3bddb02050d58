//! `specs`, `spec_revisions` and `spec_files`.

use barbacane_artifact::sha256_hex;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// One file of a revision, as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Path relative to the project root (`api.yaml`, `schemas/pet.yaml`).
    pub path: String,
    /// Whether this is the spec itself (exactly one per revision).
    pub is_root: bool,
    /// The bytes.
    pub content: Vec<u8>,
}

/// A stored file.
#[derive(Debug, Clone, FromRow)]
pub struct StoredFile {
    /// Revision it belongs to.
    pub revision_id: Uuid,
    /// Path relative to the project root.
    pub path: String,
    /// Whether it is the root spec.
    pub is_root: bool,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// A spec with its current revision.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Spec {
    /// Its id.
    pub id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// The root file's path, unique in the project.
    pub name: String,
    /// Current revision number (1, 2, ...); also the ETag.
    pub revision: i32,
    /// Current revision id.
    pub revision_id: Uuid,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When the current revision was added.
    pub updated_at: DateTime<Utc>,
}

/// A revision without its files.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Revision {
    /// Its id.
    pub id: Uuid,
    /// The spec.
    pub spec_id: Uuid,
    /// 1, 2, ...
    pub revision: i32,
    /// Plugins its `x-barbacane-*` extensions use.
    pub plugins: Vec<String>,
    /// Creation time (whole seconds: it is the build time of artifacts compiled from it).
    pub created_at: DateTime<Utc>,
}

/// What adding a revision did.
#[derive(Debug, Clone)]
pub enum Update {
    /// The revision was added.
    Added(Revision),
    /// The spec does not exist.
    NotFound,
    /// The spec's current revision is not the expected one.
    Stale {
        /// The current revision number.
        current: i32,
    },
}

const SPEC_COLUMNS: &str = "s.id, s.project_id, s.name, s.current_revision AS revision, \
     r.id AS revision_id, s.created_at, s.updated_at";

/// Creates a spec with revision 1. A duplicate name in the project is a unique violation;
/// an unknown project a foreign-key violation.
pub async fn create(
    pool: &PgPool,
    project_id: Uuid,
    name: &str,
    files: &[NewFile],
    plugins: &[String],
) -> Result<Revision, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let spec_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO specs (id, project_id, name, current_revision) VALUES ($1, $2, $3, 1)",
    )
    .bind(spec_id)
    .bind(project_id)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    let revision = insert_revision(&mut tx, spec_id, 1, files, plugins).await?;
    tx.commit().await?;
    Ok(revision)
}

/// Adds a revision if the current one is `expected` (`None`: whatever it is). The check and
/// the increment are one conditional UPDATE, so two concurrent writers cannot both win.
pub async fn add_revision(
    pool: &PgPool,
    spec_id: Uuid,
    expected: Option<i32>,
    files: &[NewFile],
    plugins: &[String],
) -> Result<Update, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let next: Option<i32> = sqlx::query_scalar(
        "UPDATE specs SET current_revision = current_revision + 1, updated_at = now() \
         WHERE id = $1 AND ($2::INTEGER IS NULL OR current_revision = $2) \
         RETURNING current_revision",
    )
    .bind(spec_id)
    .bind(expected)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(next) = next else {
        let current: Option<i32> =
            sqlx::query_scalar("SELECT current_revision FROM specs WHERE id = $1")
                .bind(spec_id)
                .fetch_optional(&mut *tx)
                .await?;
        return Ok(match current {
            Some(current) => Update::Stale { current },
            None => Update::NotFound,
        });
    };
    let revision = insert_revision(&mut tx, spec_id, next, files, plugins).await?;
    tx.commit().await?;
    Ok(Update::Added(revision))
}

async fn insert_revision(
    tx: &mut Transaction<'_, Postgres>,
    spec_id: Uuid,
    number: i32,
    files: &[NewFile],
    plugins: &[String],
) -> Result<Revision, sqlx::Error> {
    let revision: Revision = sqlx::query_as(
        "INSERT INTO spec_revisions (id, spec_id, revision, plugins) VALUES ($1, $2, $3, $4) \
         RETURNING id, spec_id, revision, plugins, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(spec_id)
    .bind(number)
    .bind(plugins)
    .fetch_one(&mut **tx)
    .await?;
    for file in files {
        sqlx::query(
            "INSERT INTO spec_files (revision_id, path, is_root, sha256, content) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(revision.id)
        .bind(&file.path)
        .bind(file.is_root)
        .bind(sha256_hex(&file.content))
        .bind(&file.content)
        .execute(&mut **tx)
        .await?;
    }
    Ok(revision)
}

/// Specs, optionally of one project, by project then name.
pub async fn list(pool: &PgPool, project_id: Option<Uuid>) -> Result<Vec<Spec>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SPEC_COLUMNS} FROM specs s \
         JOIN spec_revisions r ON r.spec_id = s.id AND r.revision = s.current_revision \
         WHERE $1::UUID IS NULL OR s.project_id = $1 ORDER BY s.project_id, s.name"
    )))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// One spec.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Spec>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SPEC_COLUMNS} FROM specs s \
         JOIN spec_revisions r ON r.spec_id = s.id AND r.revision = s.current_revision \
         WHERE s.id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Every revision of a spec, newest first.
pub async fn history(pool: &PgPool, spec_id: Uuid) -> Result<Vec<Revision>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, spec_id, revision, plugins, created_at FROM spec_revisions \
         WHERE spec_id = $1 ORDER BY revision DESC",
    )
    .bind(spec_id)
    .fetch_all(pool)
    .await
}

/// One revision of a spec by number.
pub async fn revision(
    pool: &PgPool,
    spec_id: Uuid,
    number: i32,
) -> Result<Option<Revision>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, spec_id, revision, plugins, created_at FROM spec_revisions \
         WHERE spec_id = $1 AND revision = $2",
    )
    .bind(spec_id)
    .bind(number)
    .fetch_optional(pool)
    .await
}

/// Revisions by id (those that still exist), oldest spec name first.
pub async fn revisions(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<Revision>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, spec_id, revision, plugins, created_at FROM spec_revisions \
         WHERE id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// The files of some revisions, by revision then path.
pub async fn files(pool: &PgPool, revision_ids: &[Uuid]) -> Result<Vec<StoredFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT revision_id, path, is_root, sha256, content FROM spec_files \
         WHERE revision_id = ANY($1) ORDER BY revision_id, path",
    )
    .bind(revision_ids)
    .fetch_all(pool)
    .await
}

/// Current revision ids of every spec of a project.
pub async fn current_revisions_of_project(
    pool: &PgPool,
    project_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT r.id FROM specs s \
         JOIN spec_revisions r ON r.spec_id = s.id AND r.revision = s.current_revision \
         WHERE s.project_id = $1 ORDER BY s.name",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await
}

/// Deletes a spec and its revisions. Returns whether it existed.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM specs WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A spec whose current revision uses a plugin.
#[derive(Debug, Clone, FromRow)]
pub struct User {
    /// The spec.
    pub spec_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its current revision.
    pub revision_id: Uuid,
}

/// Specs whose current revision uses plugin `name`, by spec name.
pub async fn using_plugin(pool: &PgPool, name: &str) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id AS spec_id, s.name, r.id AS revision_id FROM specs s \
         JOIN spec_revisions r ON r.spec_id = s.id AND r.revision = s.current_revision \
         WHERE $1 = ANY(r.plugins) ORDER BY s.name",
    )
    .bind(name)
    .fetch_all(pool)
    .await
}

/// A file's name and digest, without its content.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct FileEntry {
    /// Revision it belongs to.
    #[serde(skip)]
    pub revision_id: Uuid,
    /// Path relative to the project root.
    pub path: String,
    /// Whether it is the root spec.
    pub is_root: bool,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: i32,
}

/// The file lists of some revisions, by revision then path.
pub async fn file_index(
    pool: &PgPool,
    revision_ids: &[Uuid],
) -> Result<Vec<FileEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT revision_id, path, is_root, sha256, octet_length(content) AS size \
         FROM spec_files WHERE revision_id = ANY($1) ORDER BY revision_id, path",
    )
    .bind(revision_ids)
    .fetch_all(pool)
    .await
}
