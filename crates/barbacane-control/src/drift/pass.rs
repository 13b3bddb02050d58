//! One drift pass: for every node, read what it should run and what it was last seen
//! running, *diff* (`barbacane-drift`, pure), and record the result as append-only history
//! (with the webhook deliveries it causes, in the same transaction), logging
//! `drift_detected` / `drift_resolved`. Level-triggered: each pass re-reads desired and
//! observed state, so a crash or a restart loses nothing and never opens a finding twice.

use barbacane_drift::{Desired, Known, Observed, SignatureState, diff, transitions};
use chrono::Utc;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::db::known_good::{self, KnownGood};
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
    /// Observations by result: serving, unreachable, invalid.
    pub results: [u64; 3],
}

/// One pass over every node. A connected node that went offline is reported `unreachable`
/// only once it has been silent for a whole `interval` (a control plane that just restarted
/// sees every node offline until it reconnects: no false alarm). A standalone node is judged
/// on its latest poll (see [`super::observe`]); one never polled yet is skipped.
pub async fn pass(pool: &PgPool, interval: Duration) -> Result<PassReport, sqlx::Error> {
    let mut report = PassReport::default();
    let mut known_by_project: BTreeMap<uuid::Uuid, Known> = BTreeMap::new();
    // The project's latest blessing, read once per pass (not once per node).
    let mut blessed_by_project: BTreeMap<uuid::Uuid, Option<KnownGood>> = BTreeMap::new();
    let silent_since = Utc::now()
        - chrono::Duration::from_std(interval).unwrap_or_else(|_| chrono::Duration::seconds(30));
    for node in drift::nodes(pool).await? {
        let Some((observed, result)) = observation(&node, silent_since) else {
            continue;
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
        let blessed = match blessed_by_project.entry(node.project_id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(known_good::latest(pool, node.project_id).await?)
            }
        };
        let (desired, rejected) = desired(pool, &node, &observed, blessed).await?;
        let assessment = diff(desired.as_ref(), &observed, &known, rejected);
        let open = drift::open(pool, node.id).await?;
        let open_kinds: BTreeSet<_> = open
            .iter()
            .filter_map(|(_, k)| serde_json::from_value(serde_json::Value::String(k.clone())).ok())
            .collect();
        let (opened, resolved_kinds) = transitions(&open_kinds, &assessment.findings, &observed);
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
        report.results[match result {
            "serving" => 0,
            "unreachable" => 1,
            _ => 2,
        }] += 1;
    }
    Ok(report)
}

/// The node's latest observation, or `None` when there is nothing to judge yet.
fn observation(
    node: &drift::NodeRow,
    silent_since: chrono::DateTime<Utc>,
) -> Option<(Observed, &'static str)> {
    let serving = |hash: &String| Observed::Serving {
        artifact_hash: hash.clone(),
        content_hash: node.content_hash.clone(),
        signature: match node.signature.as_deref() {
            Some("verified") => SignatureState::Verified,
            Some("invalid") => SignatureState::Invalid,
            _ => SignatureState::Unsigned,
        },
    };
    if node.mode == "standalone" {
        return match (node.observation.as_deref()?, &node.artifact_hash) {
            ("unreachable", _) => Some((Observed::Unreachable, "unreachable")),
            ("serving", Some(hash)) => Some((serving(hash), "serving")),
            _ => Some((Observed::Invalid, "invalid")),
        };
    }
    match (node.status.as_str(), &node.artifact_hash) {
        ("offline", _) if node.last_seen.is_some_and(|s| s > silent_since) => None,
        ("offline", _) => Some((Observed::Unreachable, "unreachable")),
        (_, Some(hash)) => Some((serving(hash), "serving")),
        // Connected but serving nothing yet: nothing to compare.
        (_, None) => Some((Observed::Invalid, "invalid")),
    }
}

/// What the node should run, and whether it rejected that deployment: the newest of the
/// deployment that targets it (connected nodes only: standalone ones are not sent any) and
/// the project's latest known-good. A known-good blessed without a content hash is pinned
/// here by the first observation of its artifact.
pub(crate) async fn desired(
    pool: &PgPool,
    node: &drift::NodeRow,
    observed: &Observed,
    blessed: &mut Option<KnownGood>,
) -> Result<(Option<Desired>, bool), sqlx::Error> {
    let deployment = if node.mode == "connected" {
        deployments::desired_for(pool, node.project_id, node.id, &node.labels).await?
    } else {
        None
    };
    let newer_deployment = matches!((&deployment, &*blessed),
        (Some(d), Some(b)) if b.created_at <= d.created_at);
    let in_force = if newer_deployment {
        None
    } else {
        blessed.as_mut()
    };
    match (deployment, in_force) {
        (Some(d), None) => {
            let desired = d.artifact_hash.clone().map(|artifact_hash| Desired {
                artifact_hash,
                content_hash: None,
            });
            let desired = match desired {
                Some(mut desired) => {
                    desired.content_hash = drift::artifact_content(pool, d.artifact_id).await?;
                    Some(desired)
                }
                None => None,
            };
            Ok((desired, drift::rejected(pool, d.id, node.id).await?))
        }
        (_, Some(b)) => {
            let mut content_hash = b.content_hash.clone();
            if let Observed::Serving {
                artifact_hash,
                content_hash: Some(seen),
                ..
            } = observed
                && content_hash.is_none()
                && *artifact_hash == b.artifact_hash
            {
                known_good::pin(pool, b.id, seen).await?;
                tracing::info!(project = %node.project_id, known_good = %b.id, content_hash = %seen,
                    node = %node.name, "known-good content hash pinned by observation");
                content_hash = Some(seen.clone());
                // The caller's copy is pinned too: later nodes of the pass compare with it.
                b.content_hash = content_hash.clone();
            }
            Ok((
                Some(Desired {
                    artifact_hash: b.artifact_hash.clone(),
                    content_hash,
                }),
                false,
            ))
        }
        (None, None) => Ok((None, false)),
    }
}
