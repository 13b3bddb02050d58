//! Where artifact bytes live. Metadata is always in Postgres (`artifacts`); the bytes go
//! through [`ArtifactStore`], so an S3-compatible store can replace [`PgArtifactStore`]
//! without touching the API or the workers.
//!
//! Order of writes: the bytes are put first, then the metadata row is inserted; on delete the
//! row goes first, then the bytes. A crash between the two leaves at worst unreferenced bytes,
//! never a row without bytes.

use sqlx::PgPool;

use crate::error::ApiError;
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// A boxed future, so the trait stays object-safe (`Arc<dyn ArtifactStore>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached right now (answered with 503).
    #[error("artifact store unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("artifact store: {0}")]
    Failed(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match ApiError::from(e) {
            ApiError::DatabaseUnavailable => StoreError::Unavailable("postgres".into()),
            other => StoreError::Failed(format!("{other:?}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(what) => ApiError::StorageUnavailable(what),
            StoreError::Failed(what) => ApiError::Internal(what),
        }
    }
}

/// Artifact bytes keyed by artifact id.
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `id` (overwrites).
    fn put<'a>(&'a self, id: Uuid, bytes: &'a [u8]) -> StoreFuture<'a, ()>;
    /// The bytes of `id`, if stored.
    fn get(&self, id: Uuid) -> StoreFuture<'_, Option<Vec<u8>>>;
    /// Removes `id` (no error when absent).
    fn delete(&self, id: Uuid) -> StoreFuture<'_, ()>;
}

/// The default store: a `bytea` column in the control plane's own database.
#[derive(Debug, Clone)]
pub struct PgArtifactStore {
    pool: PgPool,
}

impl PgArtifactStore {
    /// A store on `pool`.
    pub fn new(pool: PgPool) -> Self {
        PgArtifactStore { pool }
    }
}

impl ArtifactStore for PgArtifactStore {
    fn put<'a>(&'a self, id: Uuid, bytes: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO artifact_blobs (artifact_id, bytes) VALUES ($1, $2) \
                 ON CONFLICT (artifact_id) DO UPDATE SET bytes = EXCLUDED.bytes, stored_at = now()",
            )
            .bind(id)
            .bind(bytes)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn get(&self, id: Uuid) -> StoreFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT bytes FROM artifact_blobs WHERE artifact_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::from)
        })
    }

    fn delete(&self, id: Uuid) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("DELETE FROM artifact_blobs WHERE artifact_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }
}
