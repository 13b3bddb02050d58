//! The drift engine's loop for connected nodes: every interval, *observe* (what each node
//! last reported through the hub), *diff* (`barbacane-drift`, pure), and record the result
//! as append-only history, logging `drift_detected` / `drift_resolved`. Level-triggered:
//! each pass re-reads desired and observed state, so a crash or a restart loses nothing and
//! never opens a finding twice. Nothing here changes a node: converging is a person's call.

use barbacane_drift::{Desired, Known, Observed, SignatureState, diff, transitions};
use chrono::Utc;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::watch;

use crate::db::{deployments, drift};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Nodes assessed.
    pub assessed: usize,
    /// Findings opened.
    pub opened: usize,
    /// Findings resolved.
    pub resolved: usize,
}

/// Runs [`pass`] every `interval` until `stop`; a failing pass (Postgres down) is logged and
/// the next one tries again.
pub async fn run(pool: PgPool, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(e) = pass(&pool, interval).await {
                    tracing::warn!(error = %e, "drift pass failed; retrying at the next interval");
                }
            }
            () = stopped(&mut stop) => return,
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One pass over every node. A node that went offline is reported `unreachable` only once
/// it has been silent for a whole `interval` (a control plane that just restarted sees every
/// node offline until it reconnects: no false alarm).
pub async fn pass(pool: &PgPool, interval: Duration) -> Result<PassReport, sqlx::Error> {
    let mut report = PassReport::default();
    let mut known_by_project: BTreeMap<uuid::Uuid, Known> = BTreeMap::new();
    let silent_since = Utc::now()
        - chrono::Duration::from_std(interval).unwrap_or_else(|_| chrono::Duration::seconds(30));
    for node in drift::nodes(pool).await? {
        let (observed, result) = match (node.status.as_str(), &node.artifact_hash) {
            ("offline", _) if node.last_seen.is_some_and(|s| s > silent_since) => continue,
            ("offline", _) => (Observed::Unreachable, "unreachable"),
            (_, Some(hash)) => (
                Observed::Serving {
                    artifact_hash: hash.clone(),
                    content_hash: node.content_hash.clone(),
                    signature: match node.signature.as_deref() {
                        Some("verified") => SignatureState::Verified,
                        Some("invalid") => SignatureState::Invalid,
                        _ => SignatureState::Unsigned,
                    },
                },
                "serving",
            ),
            // Connected but serving nothing yet: nothing to compare.
            (_, None) => (Observed::Invalid, "invalid"),
        };
        let known = match known_by_project.entry(node.project_id) {
            std::collections::btree_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let known = Known {
                    artifacts: drift::known(pool, node.project_id)
                        .await?
                        .into_iter()
                        .collect(),
                };
                e.insert(known).clone()
            }
        };
        let deployment = deployments::desired_for(pool, node.project_id, &node.labels).await?;
        let (desired, rejected) = match &deployment {
            Some(d) => (
                d.artifact_hash.clone().map(|artifact_hash| Desired {
                    artifact_hash,
                    content_hash: None,
                }),
                drift::rejected(pool, d.id, node.id).await?,
            ),
            None => (None, false),
        };
        let desired = match (desired, &deployment) {
            (Some(mut d), Some(dep)) => {
                d.content_hash = drift::artifact_content(pool, dep.artifact_id).await?;
                Some(d)
            }
            (d, _) => d,
        };
        let assessment = diff(desired.as_ref(), &observed, &known, rejected);
        let open = drift::open(pool, node.id).await?;
        let open_kinds: BTreeSet<_> = open
            .iter()
            .filter_map(|(_, k)| serde_json::from_value(serde_json::Value::String(k.clone())).ok())
            .collect();
        let (opened, resolved_kinds) = transitions(&open_kinds, &assessment.findings);
        let resolved: Vec<(uuid::Uuid, String)> = open
            .iter()
            .filter(|(_, k)| resolved_kinds.iter().any(|r| drift::kind_name(*r) == *k))
            .cloned()
            .collect();
        let still_open: Vec<uuid::Uuid> = open
            .iter()
            .filter(|(id, _)| !resolved.iter().any(|(r, _)| r == id))
            .map(|(id, _)| *id)
            .collect();
        drift::record(
            pool,
            &node,
            result,
            &assessment,
            &opened,
            &resolved,
            &still_open,
        )
        .await?;
        for kind in &opened {
            tracing::warn!(event = "drift_detected", project = %node.project_id, node = %node.name,
                kind = %drift::kind_name(*kind), desired = ?desired.as_ref().map(|d| &d.artifact_hash),
                observed = ?node.artifact_hash, "drift detected");
        }
        for (_, kind) in &resolved {
            tracing::info!(event = "drift_resolved", project = %node.project_id, node = %node.name,
                kind = %kind, "drift resolved");
        }
        report.assessed += 1;
        report.opened += opened.len();
        report.resolved += resolved.len();
    }
    Ok(report)
}
