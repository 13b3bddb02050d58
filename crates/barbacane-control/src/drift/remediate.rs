//! *Converge*, human-gated (seed 004). A proposal states exactly what would change; only a
//! recorded approval acts, and the only code that acts ([`approve`]) writes the approval and
//! the deployment in one transaction whose schema refuses a deployment without an
//! `approved` decision. Nothing converges automatically; the next observation verifies.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::remediations::{Decision, Proposal, Remediation};
use crate::db::{artifacts, data_planes, drift, remediations};
use crate::error::ApiError;
use crate::hub::session::deploy_message;
use crate::state::AppState;

/// Finding kinds a deployment cannot fix.
const NOT_REMEDIABLE: [(&str, &str); 2] = [
    (
        "unreachable",
        "an unreachable node cannot be sent anything; bring it back, the next observation resolves it",
    ),
    (
        "no-desired-state",
        "there is nothing to converge to; deploy an artifact or set a known-good first",
    ),
];

/// Who acts, as recorded.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The name they gave.
    pub name: Option<String>,
    /// The first 16 hex digits of SHA-256 of the admin token used.
    pub token_fingerprint: Option<String>,
}

/// `POST /drift/findings/{id}/remediations`: a proposal and its dry run. Changes nothing.
pub async fn propose(
    state: &AppState,
    finding: Uuid,
    actor: &Actor,
) -> Result<Remediation, ApiError> {
    let pool = state.pool();
    let f = drift::finding(pool, finding)
        .await?
        .ok_or_else(|| ApiError::not_found("finding", finding.to_string()))?;
    if f.resolved_at.is_some() {
        return Err(ApiError::Conflict(
            "the finding is resolved; there is nothing to remediate".into(),
        ));
    }
    if let Some((_, why)) = NOT_REMEDIABLE.iter().find(|(k, _)| *k == f.kind) {
        return Err(ApiError::Conflict(format!(
            "a `{}` finding cannot be remediated: {why}",
            f.kind
        )));
    }
    // What the node should run *now* (the finding recorded the desired state of when it
    // opened; a newer deployment or known-good may have replaced it since).
    let Some(to_hash) = current_desired(pool, f.data_plane_id).await? else {
        return Err(ApiError::Conflict(
            "the node has no desired artifact; deploy one or set a known-good first".into(),
        ));
    };
    let node = data_planes::get(pool, f.project_id, f.data_plane_id)
        .await?
        .ok_or_else(|| ApiError::not_found("data plane", f.data_plane_id.to_string()))?;
    let to = artifacts::by_hash(pool, f.project_id, &to_hash).await?;
    let from = match &node.artifact_hash {
        Some(h) => artifacts::by_hash(pool, f.project_id, h).await?,
        None => None,
    };
    let action = match (node.mode.as_str(), &to) {
        ("connected", Some(_)) => "deploy",
        _ => "manual",
    };
    let changes = dry_run_changes(state, &node, from.as_ref(), to.as_ref(), &f.kind).await;
    let dry_run = json!({
        "node": {"id": node.id, "name": node.name, "mode": node.mode},
        "finding": {"id": f.id, "kind": f.kind},
        "from": {"artifact_hash": node.artifact_hash, "content_hash": node.content_hash,
                 "artifact_id": from.as_ref().map(|a| a.0)},
        "to": {"artifact_hash": to_hash, "content_hash": to.as_ref().and_then(|a| a.1.clone()),
               "artifact_id": to.as_ref().map(|a| a.0)},
        "action": action,
        "changes": changes,
    });
    let r = remediations::create(
        pool,
        &Proposal {
            finding_id: f.id,
            project_id: f.project_id,
            data_plane_id: node.id,
            from_hash: node.artifact_hash.as_deref(),
            to_hash: &to_hash,
            to_artifact_id: to.as_ref().map(|a| a.0),
            dry_run: &dry_run,
            proposed_by: actor.name.as_deref(),
            token_fingerprint: actor.token_fingerprint.as_deref(),
        },
    )
    .await?;
    tracing::info!(event = "remediation_proposed", remediation = %r.id, finding = %f.id,
        node = %node.name, action, "remediation proposed");
    Ok(r)
}

/// The `artifact_hash` node `id` should run now.
async fn current_desired(pool: &sqlx::PgPool, id: Uuid) -> Result<Option<String>, ApiError> {
    let Some(row) = drift::node(pool, id).await? else {
        return Err(ApiError::not_found("data plane", id.to_string()));
    };
    let mut blessed = crate::db::known_good::latest(pool, row.project_id).await?;
    let (desired, _) = super::pass::desired(
        pool,
        &row,
        &barbacane_drift::Observed::Invalid,
        &mut blessed,
    )
    .await?;
    Ok(desired.map(|d| d.artifact_hash))
}

/// The routes and plugins that change, when both artifacts are held here; otherwise why
/// that cannot be said.
async fn dry_run_changes(
    state: &AppState,
    node: &data_planes::DataPlane,
    from: Option<&(Uuid, Option<String>)>,
    to: Option<&(Uuid, Option<String>)>,
    kind: &str,
) -> Value {
    if kind == "content-mismatch" {
        return json!({"unknown": "the node's content differs from the approved build of the same \
            artifact_hash (tampered or re-sealed); the control plane does not hold what the node \
            serves, so the whole approved artifact is restored"});
    }
    let (Some(from), Some(to)) = (from, to) else {
        return json!({"unknown": format!(
            "the control plane does not hold {}",
            if to.is_none() { "the desired artifact" } else { "the artifact the node serves" }
        )});
    };
    if node.content_hash.is_some() && node.content_hash != from.1 {
        return json!({"unknown": "the node's content differs from the control plane's build of its artifact"});
    }
    let load = |id: Uuid| async move {
        let bytes = state.store().get(id).await.ok().flatten()?;
        barbacane_artifact::Artifact::from_bytes(&bytes).ok()
    };
    match (load(from.0).await, load(to.0).await) {
        (Some(a), Some(b)) => {
            super::dry_run::changes(&a, &b).unwrap_or_else(|e| json!({"unknown": e}))
        }
        _ => json!({"unknown": "an artifact could not be read from the store"}),
    }
}

/// `POST /remediations/{id}/approve`: records the approval and, in the same transaction, the
/// deployment it makes (connected node, artifact held here); otherwise records the exact
/// manual commands. Then tells a connected node.
pub async fn approve(
    state: &AppState,
    id: Uuid,
    actor: &Actor,
    by: &str,
    comment: &str,
    server: &str,
) -> Result<Remediation, ApiError> {
    let pool = state.pool();
    let r = pending(state, id).await?;
    // Approving acts on the world as it is now: the finding must still hold and the node's
    // desired artifact must still be the one proposed.
    if !drift::is_open(pool, r.finding_id).await? {
        return Err(ApiError::Conflict(
            "the finding was resolved since the proposal; nothing to remediate".into(),
        ));
    }
    let now = current_desired(pool, r.data_plane_id).await?;
    if now.as_deref() != Some(r.to_hash.as_str()) {
        return Err(ApiError::Conflict(format!(
            "the node's desired artifact changed since the proposal (now {}); propose again",
            now.as_deref().unwrap_or("none")
        )));
    }
    let connected = state.hub().is_connected(r.data_plane_id);
    let deployment_id = Uuid::new_v4();
    let outcome = match (r.mode.as_str(), r.to_artifact_id) {
        ("connected", Some(artifact)) => json!({
            "action": "deployed", "deployment_id": deployment_id, "artifact_id": artifact,
            "node_connected": connected,
        }),
        _ => json!({
            "action": "manual_action_required",
            "commands": manual_commands(&r, server),
        }),
    };
    let mut tx = pool.begin().await?;
    let decided = remediations::decide(
        &mut tx,
        id,
        &Decision {
            decision: "approved",
            decided_by: by,
            comment,
            token_fingerprint: actor.token_fingerprint.as_deref(),
            outcome: &outcome,
        },
    )
    .await?;
    if !decided {
        return Err(ApiError::Conflict(
            "the remediation was already decided".into(),
        ));
    }
    if let (Some(artifact), "deployed") =
        (r.to_artifact_id, outcome["action"].as_str().unwrap_or(""))
    {
        remediations::deploy(&mut tx, &r, artifact, deployment_id, connected)
            .await
            .map_err(|e| {
                if crate::error::is_foreign_key_violation(&e) {
                    ApiError::Conflict(
                        "the desired artifact or the node was deleted meanwhile".into(),
                    )
                } else {
                    e.into()
                }
            })?;
    }
    let event = json!({"event": "remediation_approved", "remediation_id": id,
        "finding_id": r.finding_id, "project_id": r.project_id, "approved_by": by, "outcome": outcome});
    crate::db::webhooks::enqueue(&mut tx, r.project_id, "remediation_approved", &event).await?;
    tx.commit().await?;
    tracing::info!(event = "remediation_approved", remediation = %id, approved_by = %by,
        node = %r.data_plane, action = %outcome["action"], "remediation approved");
    if outcome["action"] == "deployed"
        && let Some(d) = crate::db::deployments::get(pool, deployment_id).await?
        && state.hub().send(r.data_plane_id, deploy_message(&d))
    {
        data_planes::set_status(pool, r.data_plane_id, "deploying").await?;
    }
    remediations::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("remediation", id.to_string()))
}

/// `POST /remediations/{id}/reject`: recorded; nothing else happens.
pub async fn reject(
    state: &AppState,
    id: Uuid,
    actor: &Actor,
    by: &str,
    comment: &str,
) -> Result<Remediation, ApiError> {
    let pool = state.pool();
    let r = pending(state, id).await?;
    let mut tx = pool.begin().await?;
    let outcome = json!({"action": "none"});
    let decided = remediations::decide(
        &mut tx,
        id,
        &Decision {
            decision: "rejected",
            decided_by: by,
            comment,
            token_fingerprint: actor.token_fingerprint.as_deref(),
            outcome: &outcome,
        },
    )
    .await?;
    if !decided {
        return Err(ApiError::Conflict(
            "the remediation was already decided".into(),
        ));
    }
    let event = json!({"event": "remediation_rejected", "remediation_id": id,
        "finding_id": r.finding_id, "project_id": r.project_id, "rejected_by": by});
    crate::db::webhooks::enqueue(&mut tx, r.project_id, "remediation_rejected", &event).await?;
    tx.commit().await?;
    tracing::info!(event = "remediation_rejected", remediation = %id, rejected_by = %by, "remediation rejected");
    remediations::get(pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("remediation", id.to_string()))
}

/// A remediation that may still be decided.
async fn pending(state: &AppState, id: Uuid) -> Result<Remediation, ApiError> {
    let r = remediations::get(state.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("remediation", id.to_string()))?;
    if r.state != "proposed" {
        return Err(ApiError::Conflict(format!(
            "the remediation was already {}",
            r.state
        )));
    }
    Ok(r)
}

/// What an operator runs on a node the control plane cannot deploy to.
fn manual_commands(r: &Remediation, server: &str) -> Vec<String> {
    let mut commands = Vec::new();
    match r.to_artifact_id {
        Some(artifact) => commands.push(format!(
            "barbacane-control artifact download {artifact} --output artifact.bca --server {server}"
        )),
        None => commands.push(format!(
            "# obtain the artifact whose artifact_hash is {} (the control plane does not hold it)",
            r.to_hash
        )),
    }
    commands.push(format!(
        "barbacane inspect artifact.bca   # check: artifact_hash {}",
        r.to_hash
    ));
    commands.push(format!(
        "# on node `{}`: replace the file given to `barbacane serve --artifact` with artifact.bca, then reload:",
        r.data_plane
    ));
    commands.push(
        format!(
            "curl -X POST -H \"Authorization: Bearer $BARBACANE_ADMIN_TOKEN\" {}/_admin/reload   # or: kill -HUP <pid>",
            r.admin_url.as_deref().unwrap_or("<admin_url>").trim_end_matches('/')
        ),
    );
    commands
}
