//! The plain data the diff works on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a node should run: the artifact last deployed to it, or an operator-blessed
/// known-good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// `sha256:<hex>` input fingerprint.
    pub artifact_hash: String,
    /// `sha256:<hex>` member hash, when known (recorded at build, or pinned by observation).
    pub content_hash: Option<String>,
}

/// The signature status a node reports for what it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureState {
    /// Verified against a trusted key.
    Verified,
    /// Not signed.
    Unsigned,
    /// Signed, but the signature does not verify.
    Invalid,
}

/// The latest observation of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observed {
    /// The node answered with what it serves.
    Serving {
        /// Its `artifact_hash`.
        artifact_hash: String,
        /// Its `content_hash`, if it reports one.
        content_hash: Option<String>,
        /// Its signature status.
        signature: SignatureState,
    },
    /// The node could not be reached (timeout, refused, missed heartbeats).
    Unreachable,
    /// The node answered something unusable (not JSON, too large, wrong schema, another
    /// project): an observation error.
    Invalid,
}

/// What the control plane knows of artifacts: `artifact_hash` -> the `content_hash` it
/// recorded when it built that artifact (`None` when it has no record of the content).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Built artifacts.
    pub artifacts: BTreeMap<String, Option<String>>,
}

/// Does the node run what it should?
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Sync {
    /// It runs the desired artifact (same `artifact_hash`, and the same `content_hash` when
    /// both are known).
    Synced,
    /// It runs something else.
    OutOfSync,
    /// Nothing to compare: no desired state, or no usable observation.
    Unknown,
}

/// Is the node serving?
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Health {
    /// It answers and serves a verified or unsigned artifact.
    Healthy,
    /// It answers, but with an invalid signature or an unusable observation.
    Degraded,
    /// It does not answer.
    Unreachable,
}

/// Kinds of finding, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Same `artifact_hash` as desired, different content: tampered or re-sealed.
    ContentMismatch,
    /// The signature of what it serves does not verify.
    SignatureInvalid,
    /// It serves another `artifact_hash`.
    HashMismatch,
    /// It serves an `artifact_hash` the control plane never built.
    UnknownArtifact,
    /// It rejected the last deployment sent to it.
    RejectedDeploy,
    /// It does not answer.
    Unreachable,
    /// There is nothing it should run (no deployment, no known-good).
    NoDesiredState,
}

/// A finding that holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Its kind.
    pub kind: FindingKind,
    /// The desired `artifact_hash`, if there is one.
    pub desired: Option<String>,
    /// The observed `artifact_hash`, if the node reported one.
    pub observed: Option<String>,
}

/// One node, assessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The sync axis.
    pub sync: Sync,
    /// The health axis.
    pub health: Health,
    /// What holds now, most severe first.
    pub findings: Vec<Finding>,
}

impl Assessment {
    /// `ConfigurationDrift` in the node list: some finding is open.
    pub fn drifted(&self) -> bool {
        !self.findings.is_empty()
    }
}
