//! `artifacts`, `artifact_revisions` and `deployments` (metadata; the bytes live in an
//! [`crate::storage::ArtifactStore`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgPool};
use uuid::Uuid;

/// An artifact's metadata.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Artifact {
    /// Its id.
    pub id: Uuid,
    /// The project it was compiled for.
    pub project_id: Uuid,
    /// The input fingerprint (`sha256:<hex>`), equal to a local `barbacane compile`'s.
    pub artifact_hash: String,
    /// SHA-256 of the `.bca` bytes.
    pub sha256: String,
    /// Size of the `.bca` in bytes.
    pub size: i64,
    /// Compiler version that built it.
    pub compiler_version: String,
    /// The hash of its members (`sha256:<hex>`).
    pub content_hash: Option<String>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A spec revision an artifact was built from.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct BuiltFrom {
    /// The spec (may since have been deleted).
    pub spec_id: Uuid,
    /// The revision id.
    pub revision_id: Uuid,
    /// The revision number.
    pub revision: i32,
}

/// What a finished compilation stores.
#[derive(Debug, Clone)]
pub struct NewArtifact {
    /// Id (already used as the store key).
    pub id: Uuid,
    /// Project.
    pub project_id: Uuid,
    /// Fingerprint.
    pub artifact_hash: String,
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// Size.
    pub size: i64,
    /// Compiler version.
    pub compiler_version: String,
    /// The provenance header as JSON.
    pub header: Value,
    /// Revisions it was built from.
    pub built_from: Vec<BuiltFrom>,
    /// The CycloneDX SBOM (JSON bytes).
    pub sbom: Vec<u8>,
    /// The DSSE envelope of the provenance attestation (JSON bytes).
    pub attestation: Vec<u8>,
}

const COLUMNS: &str =
    "id, project_id, artifact_hash, sha256, size, compiler_version, content_hash, created_at";

/// Records an artifact and marks its compilation succeeded (with its diagnostics and the
/// plugin versions used), atomically, if `owner` still holds the compilation's lease; false
/// (nothing written) when it does not.
pub async fn record_build(
    pool: &PgPool,
    artifact: &NewArtifact,
    compilation_id: Uuid,
    owner: Uuid,
    diagnostics: &Value,
    plugins: &Value,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO artifacts (id, project_id, artifact_hash, sha256, size, compiler_version, \
         header, content_hash, sbom, attestation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(artifact.id)
    .bind(artifact.project_id)
    .bind(&artifact.artifact_hash)
    .bind(&artifact.sha256)
    .bind(artifact.size)
    .bind(&artifact.compiler_version)
    .bind(&artifact.header)
    .bind(artifact.header.get("content_hash").and_then(Value::as_str))
    .bind(&artifact.sbom)
    .bind(&artifact.attestation)
    .execute(&mut *tx)
    .await?;
    for from in &artifact.built_from {
        sqlx::query(
            "INSERT INTO artifact_revisions (artifact_id, spec_id, revision_id, revision) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(artifact.id)
        .bind(from.spec_id)
        .bind(from.revision_id)
        .bind(from.revision)
        .execute(&mut *tx)
        .await?;
    }
    let owned = sqlx::query(
        "UPDATE compilations SET status = 'succeeded', artifact_id = $2, diagnostics = $3, \
         plugins = $4, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $1 AND lease_owner = $5 AND status = 'running'",
    )
    .bind(compilation_id)
    .bind(artifact.id)
    .bind(diagnostics)
    .bind(plugins)
    .bind(owner)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !owned {
        // The lease was lost: another process owns this compilation now. Nothing of this
        // build is kept (the transaction rolls back the artifact row).
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// Artifacts, optionally of one project, newest first.
pub async fn list(pool: &PgPool, project_id: Option<Uuid>) -> Result<Vec<Artifact>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM artifacts WHERE $1::UUID IS NULL OR project_id = $1 \
         ORDER BY created_at DESC, id"
    )))
    .bind(project_id)
    .fetch_all(pool)
    .await
}

#[derive(FromRow)]
struct WithHeader {
    #[sqlx(flatten)]
    artifact: Artifact,
    header: Value,
}

/// One artifact with its header.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<(Artifact, Value)>, sqlx::Error> {
    let row: Option<WithHeader> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS}, header FROM artifacts WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.artifact, r.header)))
}

/// The evidence recorded with an artifact's build: (project, SBOM, attestation), each
/// document `None` for artifacts built before evidence was recorded; `None` overall for an
/// unknown artifact.
pub async fn evidence(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<(Uuid, Option<Vec<u8>>, Option<Vec<u8>>)>, sqlx::Error> {
    sqlx::query_as("SELECT project_id, sbom, attestation FROM artifacts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The revisions an artifact was built from.
pub async fn built_from(pool: &PgPool, id: Uuid) -> Result<Vec<BuiltFrom>, sqlx::Error> {
    sqlx::query_as(
        "SELECT spec_id, revision_id, revision FROM artifact_revisions WHERE artifact_id = $1 \
         ORDER BY spec_id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Deletes an artifact's metadata. Fails with a foreign-key violation while a deployment
/// references it. Returns whether it existed.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM artifacts WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a deployment of an artifact (used by tests until deployments have an API).
pub async fn deploy(pool: &PgPool, artifact_id: Uuid, target: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO deployments (id, artifact_id, target) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(artifact_id)
    .bind(target)
    .fetch_one(pool)
    .await
}

/// The newest artifact of the project with this `artifact_hash`, with its content hash.
pub async fn by_hash(
    pool: &PgPool,
    project_id: Uuid,
    artifact_hash: &str,
) -> Result<Option<(Uuid, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, content_hash FROM artifacts WHERE project_id = $1 AND artifact_hash = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(project_id)
    .bind(artifact_hash)
    .fetch_optional(pool)
    .await
}
