//! `ui_sessions`: the web UI's logins (`ui::session`). Expiry is decided here, in SQL, on
//! the database's clock, so every control plane sharing the database agrees.

use sqlx::{FromRow, PgPool};

/// A live session.
#[derive(Debug, Clone, FromRow)]
pub struct UiSession {
    /// SHA-256 (hex) of the cookie value.
    pub id_sha256: String,
    /// The synchronizer token every form of this session carries.
    pub csrf_token: String,
    /// SHA-256 (hex) of the admin token that opened it; `None` when no token was configured.
    pub token_sha256: Option<String>,
    /// The first 16 hex digits of that digest, recorded next to decisions.
    pub token_fingerprint: Option<String>,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    /// Ends after this long without a request.
    pub idle: std::time::Duration,
    /// Ends this long after login, whatever happens.
    pub absolute: std::time::Duration,
}

/// Stores a new session; also deletes every expired one (logins are rare, so this keeps the
/// table small without a background task).
pub async fn create(
    pool: &PgPool,
    session: &UiSession,
    lifetime: Lifetime,
) -> Result<(), sqlx::Error> {
    prune(pool, lifetime).await?;
    sqlx::query(
        "INSERT INTO ui_sessions (id_sha256, csrf_token, token_sha256, token_fingerprint) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&session.id_sha256)
    .bind(&session.csrf_token)
    .bind(&session.token_sha256)
    .bind(&session.token_fingerprint)
    .execute(pool)
    .await
    .map(|_| ())
}

/// The session whose cookie hashes to `id_sha256`, if it has not expired; marks it used now.
pub async fn touch(
    pool: &PgPool,
    id_sha256: &str,
    lifetime: Lifetime,
) -> Result<Option<UiSession>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE ui_sessions SET last_seen = now() WHERE id_sha256 = $1 \
         AND last_seen > now() - make_interval(secs => $2) \
         AND created_at > now() - make_interval(secs => $3) \
         RETURNING id_sha256, csrf_token, token_sha256, token_fingerprint",
    )
    .bind(id_sha256)
    .bind(lifetime.idle.as_secs_f64())
    .bind(lifetime.absolute.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// The session whose cookie hashes to `id_sha256`, if it has not expired, without marking
/// it used (the live views' polling must not keep a session alive).
pub async fn check(
    pool: &PgPool,
    id_sha256: &str,
    lifetime: Lifetime,
) -> Result<Option<UiSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id_sha256, csrf_token, token_sha256, token_fingerprint FROM ui_sessions \
         WHERE id_sha256 = $1 AND last_seen > now() - make_interval(secs => $2) \
         AND created_at > now() - make_interval(secs => $3)",
    )
    .bind(id_sha256)
    .bind(lifetime.idle.as_secs_f64())
    .bind(lifetime.absolute.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Ends a session (logout).
pub async fn delete(pool: &PgPool, id_sha256: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ui_sessions WHERE id_sha256 = $1")
        .bind(id_sha256)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Deletes expired sessions; returns how many.
pub async fn prune(pool: &PgPool, lifetime: Lifetime) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM ui_sessions WHERE last_seen <= now() - make_interval(secs => $1) \
         OR created_at <= now() - make_interval(secs => $2)",
    )
    .bind(lifetime.idle.as_secs_f64())
    .bind(lifetime.absolute.as_secs_f64())
    .execute(pool)
    .await
    .map(|r| r.rows_affected())
}
