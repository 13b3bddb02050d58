//! `webhooks`, `webhook_deliveries` (the outbox) and `webhook_attempts` (the delivery log).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A webhook.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The signing secret's reference (`env://VAR`, `file:///path`).
    pub secret_ref: String,
    /// The events it receives.
    pub events: Vec<String>,
    /// Only this project's events (`None`: every project).
    pub project_id: Option<Uuid>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, url, secret_ref, events, project_id, created_at"
    };
}

/// Adds a webhook.
pub async fn create(
    pool: &PgPool,
    url: &str,
    secret_ref: &str,
    events: &[String],
    project_id: Option<Uuid>,
) -> Result<Webhook, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO webhooks (id, url, secret_ref, events, project_id) VALUES ($1, $2, $3, $4, $5) ",
        "RETURNING ",
        columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(url)
    .bind(secret_ref)
    .bind(events)
    .bind(project_id)
    .fetch_one(pool)
    .await
}

/// Every webhook, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<Webhook>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM webhooks ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
}

/// One webhook.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Webhook>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM webhooks WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Removes a webhook and its deliveries; false when there is none.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// Queues `payload` for every webhook subscribed to `event` (for this project or for all),
/// inside the caller's transaction.
pub async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    event: &str,
    payload: &Value,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event, payload) \
         SELECT gen_random_uuid(), id, $1, $2 FROM webhooks \
         WHERE $1 = ANY (events) AND (project_id IS NULL OR project_id = $3)",
    )
    .bind(event)
    .bind(payload)
    .bind(project_id)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}

/// A delivery due now, leased to this sender.
#[derive(Debug, Clone, FromRow)]
pub struct Due {
    /// The delivery.
    pub id: Uuid,
    /// Target URL.
    pub url: String,
    /// Secret reference.
    pub secret_ref: String,
    /// Event name.
    pub event: String,
    /// Body.
    pub payload: Value,
    /// Attempts made so far.
    pub attempts: i32,
}

/// Leases up to `limit` due deliveries for `lease` seconds (another sender, or this one
/// after a crash, takes them again only once the lease ran out).
pub async fn claim_due(pool: &PgPool, limit: i64, lease: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "WITH due AS (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
           AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2) \
         FROM due, webhooks w WHERE d.id = due.id AND w.id = d.webhook_id \
         RETURNING d.id, w.url, w.secret_ref, d.event, d.payload, d.attempts",
    )
    .bind(limit)
    .bind(lease as f64)
    .fetch_all(pool)
    .await
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// 2xx: done.
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// Out of attempts.
    Failed,
}

/// Logs attempt number `attempt` and moves the delivery on.
pub async fn record_attempt(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    status: Option<u16>,
    error: Option<&str>,
    duration_ms: i32,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(attempt)
    .bind(status.map(i32::from))
    .bind(error)
    .bind(duration_ms)
    .execute(&mut *tx)
    .await?;
    let (state, next) = match outcome {
        Outcome::Delivered => ("delivered", None),
        Outcome::Retry(at) => ("pending", Some(at)),
        Outcome::Failed => ("failed", None),
    };
    // Only the attempt that follows the recorded ones moves the delivery on: a late recorder
    // (its lease expired and another sender went ahead) never turns `delivered` back.
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $2, attempts = $3, \
         next_attempt_at = COALESCE($4, next_attempt_at), \
         delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END \
         WHERE id = $1 AND state = 'pending' AND attempts = $3 - 1",
    )
    .bind(id)
    .bind(state)
    .bind(attempt)
    .bind(next)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A delivery with its attempts, as `GET /webhooks/{id}/deliveries` lists it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Delivery {
    /// Its id (also sent as `X-Barbacane-Delivery`).
    pub id: Uuid,
    /// Event name.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When a 2xx came back.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body sent.
    pub payload: Value,
    /// Each attempt: `{attempt, at, status, error, duration_ms}`.
    pub log: Value,
}

/// The webhook's deliveries, newest first (at most `limit`).
pub async fn deliveries(
    pool: &PgPool,
    webhook: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.event, d.state, d.attempts, \
         CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at, \
         d.created_at, d.delivered_at, d.payload, \
         COALESCE((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at, \
           'status', a.status, 'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.attempt) \
           FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS log \
         FROM webhook_deliveries d WHERE d.webhook_id = $1 \
         ORDER BY d.created_at DESC, d.id LIMIT $2",
    )
    .bind(webhook)
    .bind(limit)
    .fetch_all(pool)
    .await
}
