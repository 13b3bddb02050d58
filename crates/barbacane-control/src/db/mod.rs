//! Postgres access: the pool, the embedded migrations and one module of queries per table
//! family. Queries are checked by the tests against a real database (no compile-time
//! `query!`, so building needs no database).

pub mod api_keys;
pub mod artifacts;
pub mod compilations;
pub mod data_planes;
pub mod deployments;
pub mod drift;
pub mod known_good;
pub mod plugins;
pub mod projects;
pub mod remediations;
pub mod specs;
pub mod ui_sessions;
pub mod webhooks;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// The embedded, versioned migrations (`migrations/NNNN_*.sql`), applied at start.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Most open connections.
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// A pool that connects lazily: a Postgres that is down at some point never requires a
/// restart, requests answer 503 until it is back. Every connection is pinged before use, so
/// connections killed by a Postgres restart are replaced instead of failing a request.
pub fn pool(url: &str, config: &PoolConfig) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(true)
        .connect_lazy(url)
}

/// Applies every pending migration (idempotent; concurrent runs serialize on an advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Whether the database answers.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
