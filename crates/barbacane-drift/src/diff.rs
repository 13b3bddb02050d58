//! The diff: deterministic, total, and free of I/O.

use std::collections::BTreeSet;

use crate::model::{
    Assessment, Desired, Finding, FindingKind, Health, Known, Observed, SignatureState, Sync,
};

/// Assesses one node. `rejected_deploy`: the last deployment sent to it was rejected (its
/// report, stored by the connected-mode hub).
pub fn diff(
    desired: Option<&Desired>,
    observed: &Observed,
    known: &Known,
    rejected_deploy: bool,
) -> Assessment {
    let want = desired.map(|d| d.artifact_hash.clone());
    let mut findings = Vec::new();
    let finding = |kind, observed: Option<&String>| Finding {
        kind,
        desired: want.clone(),
        observed: observed.cloned(),
    };
    let (sync, health) = match observed {
        Observed::Unreachable => {
            findings.push(finding(FindingKind::Unreachable, None));
            (Sync::Unknown, Health::Unreachable)
        }
        Observed::Invalid => (Sync::Unknown, Health::Degraded),
        Observed::Serving {
            artifact_hash,
            content_hash,
            signature,
        } => {
            let mut health = Health::Healthy;
            if *signature == SignatureState::Invalid {
                findings.push(finding(FindingKind::SignatureInvalid, Some(artifact_hash)));
                health = Health::Degraded;
            }
            if !known.artifacts.contains_key(artifact_hash) {
                findings.push(finding(FindingKind::UnknownArtifact, Some(artifact_hash)));
            }
            let sync = match desired {
                None => {
                    findings.push(finding(FindingKind::NoDesiredState, Some(artifact_hash)));
                    Sync::Unknown
                }
                Some(d) if d.artifact_hash != *artifact_hash => {
                    findings.push(finding(FindingKind::HashMismatch, Some(artifact_hash)));
                    Sync::OutOfSync
                }
                Some(d) => {
                    // The approved content: what was pinned, else what the control plane
                    // recorded when it built this artifact.
                    let approved = d
                        .content_hash
                        .clone()
                        .or_else(|| known.artifacts.get(artifact_hash).cloned().flatten());
                    match (approved, content_hash) {
                        (Some(approved), Some(seen)) if approved != *seen => {
                            findings
                                .push(finding(FindingKind::ContentMismatch, Some(artifact_hash)));
                            Sync::OutOfSync
                        }
                        _ => Sync::Synced,
                    }
                }
            };
            (sync, health)
        }
    };
    if rejected_deploy {
        let seen = match observed {
            Observed::Serving { artifact_hash, .. } => Some(artifact_hash),
            _ => None,
        };
        findings.push(finding(FindingKind::RejectedDeploy, seen));
    }
    findings.sort_by_key(|f| f.kind);
    findings.dedup_by_key(|f| f.kind);
    Assessment {
        sync,
        health,
        findings,
    }
}

/// Which finding kinds open and which resolve, from those open before this pass, those that
/// hold now, and the observation they were derived from. A kind open before and still
/// holding stays open (its observation count grows elsewhere); it is never opened twice.
///
/// Only evidence resolves a finding: when the node could not be observed (unreachable, or an
/// unusable answer), nothing is known about what it serves, so findings about its content
/// stay open; only `unreachable` itself can resolve (a node that answers garbage is no
/// longer silent). Otherwise a tampered node could clear its own findings by answering
/// garbage.
pub fn transitions(
    open: &BTreeSet<FindingKind>,
    now: &[Finding],
    observed: &Observed,
) -> (Vec<FindingKind>, Vec<FindingKind>) {
    let usable = matches!(observed, Observed::Serving { .. });
    let holding: BTreeSet<FindingKind> = now.iter().map(|f| f.kind).collect();
    let opened = holding.difference(open).copied().collect();
    let resolved = open
        .difference(&holding)
        .copied()
        .filter(|k| usable || *k == FindingKind::Unreachable)
        .collect();
    (opened, resolved)
}
