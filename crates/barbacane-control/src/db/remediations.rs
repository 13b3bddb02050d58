//! `remediations` (proposals with their dry run) and `remediation_decisions` (one recorded
//! human decision each). A deployment made for a remediation references its decision, and
//! the schema only admits an `approved` one (migration 0008).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A proposal and, once made, its decision.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Remediation {
    /// Its id.
    pub id: Uuid,
    /// The finding it addresses.
    pub finding_id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// The node.
    pub data_plane_id: Uuid,
    /// The node's name.
    pub data_plane: String,
    /// `connected` or `standalone`.
    pub mode: String,
    /// What the node serves (`artifact_hash`).
    pub from_hash: Option<String>,
    /// A standalone node's admin listener.
    pub admin_url: Option<String>,
    /// What it should serve.
    pub to_hash: String,
    /// The desired artifact, when the control plane holds it.
    pub to_artifact_id: Option<Uuid>,
    /// Exactly what approving would change.
    pub dry_run: Value,
    /// Who proposed it (as they said).
    pub proposed_by: Option<String>,
    /// Fingerprint of the admin token that proposed it.
    pub token_fingerprint: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// `proposed`, `approved` or `rejected`.
    pub state: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Their comment.
    pub comment: Option<String>,
    /// Fingerprint of the admin token that decided.
    pub decision_token_fingerprint: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// What the approval did (`{"action": "deployed", "deployment_id"}` or
    /// `{"action": "manual_action_required", "commands": [...]}`).
    pub outcome: Option<Value>,
}

const SELECT: &str = "SELECT r.id, r.finding_id, r.project_id, r.data_plane_id, \
     n.name AS data_plane, n.mode, r.from_hash, n.admin_url, r.to_hash, r.to_artifact_id, r.dry_run, \
     r.proposed_by, r.token_fingerprint, r.created_at, \
     COALESCE(d.decision, 'proposed') AS state, d.decided_by, d.comment, \
     d.token_fingerprint AS decision_token_fingerprint, d.decided_at, d.outcome \
     FROM remediations r JOIN data_planes n ON n.id = r.data_plane_id \
     LEFT JOIN remediation_decisions d ON d.remediation_id = r.id";

/// A new proposal.
#[derive(Debug)]
pub struct Proposal<'a> {
    /// Finding.
    pub finding_id: Uuid,
    /// Project.
    pub project_id: Uuid,
    /// Node.
    pub data_plane_id: Uuid,
    /// From.
    pub from_hash: Option<&'a str>,
    /// To.
    pub to_hash: &'a str,
    /// The desired artifact, if held.
    pub to_artifact_id: Option<Uuid>,
    /// The dry run.
    pub dry_run: &'a Value,
    /// Who.
    pub proposed_by: Option<&'a str>,
    /// Token fingerprint.
    pub token_fingerprint: Option<&'a str>,
}

/// Records a proposal and queues its `remediation_proposed` webhook deliveries.
pub async fn create(pool: &PgPool, p: &Proposal<'_>) -> Result<Remediation, sqlx::Error> {
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO remediations (id, finding_id, project_id, data_plane_id, from_hash, to_hash, \
         to_artifact_id, dry_run, proposed_by, token_fingerprint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(p.finding_id)
    .bind(p.project_id)
    .bind(p.data_plane_id)
    .bind(p.from_hash)
    .bind(p.to_hash)
    .bind(p.to_artifact_id)
    .bind(p.dry_run)
    .bind(p.proposed_by)
    .bind(p.token_fingerprint)
    .execute(&mut *tx)
    .await?;
    let event = serde_json::json!({
        "event": "remediation_proposed", "remediation_id": id, "finding_id": p.finding_id,
        "project_id": p.project_id, "dry_run": p.dry_run,
    });
    super::webhooks::enqueue(&mut tx, p.project_id, "remediation_proposed", &event).await?;
    tx.commit().await?;
    get(pool, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// One remediation.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Remediation>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A finding's remediations, newest first.
pub async fn for_finding(pool: &PgPool, finding: Uuid) -> Result<Vec<Remediation>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.finding_id = $1 ORDER BY r.created_at DESC, r.id"
    )))
    .bind(finding)
    .fetch_all(pool)
    .await
}

/// The latest `limit` remediations (of one project, or of all), newest first: the audit
/// trail of proposals and decisions.
pub async fn recent(
    pool: &PgPool,
    project: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Remediation>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1::uuid IS NULL OR r.project_id = $1) \
         ORDER BY GREATEST(r.created_at, d.decided_at) DESC NULLS LAST, r.id LIMIT $2"
    )))
    .bind(project)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A decision to record.
#[derive(Debug)]
pub struct Decision<'a> {
    /// `approved` or `rejected`.
    pub decision: &'static str,
    /// Who.
    pub decided_by: &'a str,
    /// Why.
    pub comment: &'a str,
    /// Token fingerprint.
    pub token_fingerprint: Option<&'a str>,
    /// What it does.
    pub outcome: &'a Value,
}

/// Records the decision inside `tx`; false when one was already recorded (a remediation is
/// decided once).
pub async fn decide(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    d: &Decision<'_>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO remediation_decisions (remediation_id, decision, decided_by, comment, \
         token_fingerprint, outcome) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (remediation_id) DO NOTHING",
    )
    .bind(id)
    .bind(d.decision)
    .bind(d.decided_by)
    .bind(d.comment)
    .bind(d.token_fingerprint)
    .bind(d.outcome)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The deployment an approved remediation makes: one node, the desired artifact, and the
/// approval it acts on (the foreign key refuses anything but an `approved` decision).
pub async fn deploy(
    tx: &mut Transaction<'_, Postgres>,
    r: &Remediation,
    artifact_id: Uuid,
    deployment_id: Uuid,
    connected: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deployments (id, artifact_id, target, project_id, labels, artifact_hash, \
         data_plane_id, remediation_id, remediation_decision) \
         VALUES ($1, $2, 'data-plane', $3, '{}', $4, $5, $6, 'approved')",
    )
    .bind(deployment_id)
    .bind(artifact_id)
    .bind(r.project_id)
    .bind(&r.to_hash)
    .bind(r.data_plane_id)
    .bind(r.id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO deployment_nodes (deployment_id, data_plane_id, state) VALUES ($1, $2, $3)",
    )
    .bind(deployment_id)
    .bind(r.data_plane_id)
    .bind(if connected { "pending" } else { "offline" })
    .execute(&mut **tx)
    .await
    .map(drop)
}
