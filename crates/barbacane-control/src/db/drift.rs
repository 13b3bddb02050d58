//! `drift_observations`, `drift_findings`, `drift_finding_events` (append-only history).

use barbacane_drift::{Assessment, FindingKind};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// What the drift pass reads of a node.
#[derive(Debug, Clone, FromRow)]
pub struct NodeRow {
    /// Node id.
    pub id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: Value,
    /// `online`, `deploying` or `offline`.
    pub status: String,
    /// Reported artifact hash.
    pub artifact_hash: Option<String>,
    /// Reported content hash.
    pub content_hash: Option<String>,
    /// Reported signature status (`provenance.signature`).
    pub signature: Option<String>,
    /// Last heard from.
    pub last_seen: Option<DateTime<Utc>>,
    /// `connected` or `standalone`.
    pub mode: String,
    /// A standalone node's latest poll: `serving`, `unreachable`, `invalid`.
    pub observation: Option<String>,
    /// Why that poll was not usable.
    pub observation_error: Option<String>,
}

macro_rules! node_columns {
    () => {
        "SELECT id, project_id, name, labels, status, artifact_hash, content_hash, \
         metadata->'provenance'->'signature'->>'status' AS signature, last_seen, mode, \
         observation, observation_error FROM data_planes"
    };
}

/// Every node.
pub async fn nodes(pool: &PgPool) -> Result<Vec<NodeRow>, sqlx::Error> {
    sqlx::query_as(concat!(node_columns!(), " ORDER BY id"))
        .fetch_all(pool)
        .await
}

/// One node, as the drift pass reads it.
pub async fn node(pool: &PgPool, id: Uuid) -> Result<Option<NodeRow>, sqlx::Error> {
    sqlx::query_as(concat!(node_columns!(), " WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Whether the finding has no `resolved` event.
pub async fn is_open(pool: &PgPool, finding: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM drift_finding_events WHERE finding_id = $1 \
         AND event = 'resolved')",
    )
    .bind(finding)
    .fetch_one(pool)
    .await
}

/// `artifact_hash` -> recorded `content_hash` of a project's artifacts, and of the hashes an
/// operator blessed (a blessed artifact built elsewhere is known, not `unknown-artifact`).
pub async fn known(
    pool: &PgPool,
    project: Uuid,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT artifact_hash, content_hash FROM known_good WHERE project_id = $1 \
         UNION ALL SELECT artifact_hash, content_hash FROM artifacts WHERE project_id = $1",
    )
    .bind(project)
    .fetch_all(pool)
    .await
}

/// The recorded content hash of an artifact.
pub async fn artifact_content(
    pool: &PgPool,
    artifact: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT content_hash FROM artifacts WHERE id = $1")
        .bind(artifact)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

/// Whether the node rejected this deployment.
pub async fn rejected(pool: &PgPool, deployment: Uuid, node: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, String>(
        "SELECT state FROM deployment_nodes WHERE deployment_id = $1 AND data_plane_id = $2",
    )
    .bind(deployment)
    .bind(node)
    .fetch_optional(pool)
    .await
    .map(|s| s.as_deref() == Some("rejected"))
}

/// The node's open findings: (id, kind).
pub async fn open(pool: &PgPool, node: Uuid) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT f.id, f.kind FROM drift_findings f WHERE f.data_plane_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM drift_finding_events e WHERE e.finding_id = f.id AND e.event = 'resolved')",
    )
    .bind(node)
    .fetch_all(pool)
    .await
}

/// The kebab-case name of a finding kind (as stored and served).
pub fn kind_name(kind: FindingKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Records one pass for a node, atomically: the observation, findings opened (with their
/// `opened` event), `observed` events for findings still holding, `resolved` events, the
/// node's current axes, and a webhook delivery per subscribed webhook for every finding
/// opened or resolved (the outbox: an alert is never lost between the event and its
/// delivery). Returns the ids of the findings opened.
pub async fn record(
    pool: &PgPool,
    node: &NodeRow,
    result: &str,
    assessment: &Assessment,
    opened: &[FindingKind],
    resolved: &[(Uuid, String)],
    still_open: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let sync = format!("{:?}", assessment.sync);
    let health = format!("{:?}", assessment.health);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO drift_observations (data_plane_id, result, artifact_hash, content_hash, sync, health, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(node.id)
    .bind(result)
    .bind(&node.artifact_hash)
    .bind(&node.content_hash)
    .bind(&sync)
    .bind(&health)
    .bind(&node.observation_error)
    .execute(&mut *tx)
    .await?;
    let mut new = Vec::new();
    for kind in opened {
        let finding = assessment.findings.iter().find(|f| f.kind == *kind);
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO drift_findings (id, project_id, data_plane_id, kind, desired_hash, observed_hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(node.project_id)
        .bind(node.id)
        .bind(kind_name(*kind))
        .bind(finding.and_then(|f| f.desired.clone()))
        .bind(finding.and_then(|f| f.observed.clone()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO drift_finding_events (finding_id, event) VALUES ($1, 'opened')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let payload = finding_event(
            "drift_detected",
            id,
            node,
            &kind_name(*kind),
            finding.and_then(|f| f.desired.as_deref()),
            finding.and_then(|f| f.observed.as_deref()),
        );
        super::webhooks::enqueue(&mut tx, node.project_id, "drift_detected", &payload).await?;
        new.push(id);
    }
    for (id, kind) in resolved {
        sqlx::query("INSERT INTO drift_finding_events (finding_id, event) VALUES ($1, 'resolved')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let payload = finding_event(
            "drift_resolved",
            *id,
            node,
            kind,
            None,
            node.artifact_hash.as_deref(),
        );
        super::webhooks::enqueue(&mut tx, node.project_id, "drift_resolved", &payload).await?;
    }
    for id in still_open {
        sqlx::query("INSERT INTO drift_finding_events (finding_id, event) VALUES ($1, 'observed')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE data_planes SET sync = $2, health = $3 WHERE id = $1")
        .bind(node.id)
        .bind(&sync)
        .bind(&health)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(new)
}

/// The body of a `drift_detected` / `drift_resolved` webhook delivery.
fn finding_event(
    event: &str,
    finding: Uuid,
    node: &NodeRow,
    kind: &str,
    desired: Option<&str>,
    observed: Option<&str>,
) -> Value {
    serde_json::json!({
        "event": event,
        "at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "project_id": node.project_id,
        "data_plane": {"id": node.id, "name": node.name, "mode": node.mode},
        "finding": {"id": finding, "kind": kind, "desired_hash": desired, "observed_hash": observed},
    })
}

/// A finding as of a point in time.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct FindingRow {
    /// Its id.
    pub id: Uuid,
    /// Project.
    pub project_id: Uuid,
    /// Node.
    pub data_plane_id: Uuid,
    /// Node name.
    pub data_plane: String,
    /// Kind.
    pub kind: String,
    /// Desired `artifact_hash`.
    pub desired_hash: Option<String>,
    /// Observed `artifact_hash`.
    pub observed_hash: Option<String>,
    /// When it opened.
    pub first_seen: DateTime<Utc>,
    /// When it was last seen holding.
    pub last_seen: Option<DateTime<Utc>>,
    /// When it resolved (as of `at`).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Passes that saw it.
    pub observations: i64,
}

/// Filters of `GET /drift/findings`.
#[derive(Debug, Default)]
pub struct Filter {
    /// Project.
    pub project: Option<Uuid>,
    /// Node.
    pub node: Option<Uuid>,
    /// Kind (kebab-case).
    pub kind: Option<String>,
    /// Only those open at `at`.
    pub open: bool,
    /// The point in time (default now).
    pub at: Option<DateTime<Utc>>,
    /// One finding.
    pub id: Option<Uuid>,
}

/// Findings as they stood at `filter.at`, newest first.
pub async fn findings(pool: &PgPool, filter: &Filter) -> Result<Vec<FindingRow>, sqlx::Error> {
    let rows: Vec<FindingRow> = sqlx::query_as(
        "SELECT f.id, f.project_id, f.data_plane_id, d.name AS data_plane, f.kind, f.desired_hash, \
         f.observed_hash, f.opened_at AS first_seen, \
         (SELECT max(e.at) FROM drift_finding_events e WHERE e.finding_id = f.id \
            AND e.event <> 'resolved' AND e.at <= $1) AS last_seen, \
         (SELECT min(e.at) FROM drift_finding_events e WHERE e.finding_id = f.id \
            AND e.event = 'resolved' AND e.at <= $1) AS resolved_at, \
         (SELECT count(*) FROM drift_finding_events e WHERE e.finding_id = f.id \
            AND e.event <> 'resolved' AND e.at <= $1) AS observations \
         FROM drift_findings f JOIN data_planes d ON d.id = f.data_plane_id \
         WHERE f.opened_at <= $1 AND ($2::uuid IS NULL OR f.project_id = $2) \
         AND ($3::uuid IS NULL OR f.data_plane_id = $3) AND ($4::text IS NULL OR f.kind = $4) \
         AND ($5::uuid IS NULL OR f.id = $5) \
         ORDER BY f.opened_at DESC, f.id",
    )
    .bind(filter.at.unwrap_or_else(Utc::now))
    .bind(filter.project)
    .bind(filter.node)
    .bind(&filter.kind)
    .bind(filter.id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| !filter.open || r.resolved_at.is_none())
        .collect())
}

/// One finding as it stands now.
pub async fn finding(pool: &PgPool, id: Uuid) -> Result<Option<FindingRow>, sqlx::Error> {
    let filter = Filter {
        id: Some(id),
        ..Filter::default()
    };
    Ok(findings(pool, &filter).await?.into_iter().next())
}

/// Deletes observations and per-pass `observed` finding events older than `retention`, in
/// batches (a long backlog never holds one long lock); findings and their `opened` and
/// `resolved` events stay. Returns the rows deleted.
pub async fn prune(pool: &PgPool, retention: std::time::Duration) -> Result<u64, sqlx::Error> {
    let seconds = retention.as_secs_f64();
    let mut total = 0;
    for query in [
        "DELETE FROM drift_observations WHERE id IN (SELECT id FROM drift_observations \
         WHERE observed_at < now() - make_interval(secs => $1) LIMIT 10000)",
        "DELETE FROM drift_finding_events WHERE ctid IN (SELECT ctid FROM drift_finding_events \
         WHERE event = 'observed' AND at < now() - make_interval(secs => $1) LIMIT 10000)",
    ] {
        loop {
            let n = sqlx::query(query)
                .bind(seconds)
                .execute(pool)
                .await?
                .rows_affected();
            total += n;
            if n < 10_000 {
                break;
            }
        }
    }
    Ok(total)
}
