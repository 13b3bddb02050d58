//! The connected-mode protocol, version 1 (`docs/connected-mode.md`): JSON text messages,
//! each an object with a `type`. Unknown types are ignored (and logged), so either side can
//! add messages without breaking the other.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The protocol version this control plane speaks.
pub const PROTOCOL: u32 = 1;

/// Largest message accepted from a node.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// What a node sends.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeMessage {
    /// First message of every connection.
    Hello(Hello),
    /// Every `heartbeat_seconds`.
    Heartbeat {
        /// The hash it serves now.
        #[serde(default)]
        artifact_hash: Option<String>,
        /// The content hash of what it serves now.
        #[serde(default)]
        content_hash: Option<String>,
    },
    /// The outcome of a `deploy` (xDS's ACK / NACK).
    DeploymentResult {
        /// The deployment.
        deployment_id: Uuid,
        /// `applied` or `rejected`.
        outcome: Outcome,
        /// What the node serves now.
        #[serde(default)]
        artifact_hash: Option<String>,
        /// The content hash of what it serves now.
        #[serde(default)]
        content_hash: Option<String>,
        /// Why it was rejected.
        #[serde(default)]
        reason: Option<String>,
    },
}

/// A node's answer to a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It serves the announced artifact.
    Applied,
    /// It kept what it served.
    Rejected,
}

/// A node's registration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Hello {
    /// The protocol version the node speaks.
    pub protocol: u32,
    /// The project the node believes it belongs to; when given, it must be the key's.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Its name, unique in the project (1-128 characters).
    pub name: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The gateway's version.
    #[serde(default)]
    pub version: String,
    /// The machine's host name.
    #[serde(default)]
    pub hostname: String,
    /// The `artifact_hash` it serves, if it serves one.
    #[serde(default)]
    pub artifact_hash: Option<String>,
    /// The `content_hash` of what it serves (recomputed by the node from the members).
    #[serde(default)]
    pub content_hash: Option<String>,
    /// The loaded artifact's provenance (`/_admin/provenance`), if any.
    #[serde(default)]
    pub provenance: Option<Value>,
}

/// What the control plane sends.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    /// The answer to `hello`.
    Welcome {
        /// The protocol version the control plane speaks.
        protocol: u32,
        /// The node's id.
        data_plane_id: Uuid,
        /// How often the node must send a heartbeat; 3 missed ones mark it offline.
        heartbeat_seconds: u64,
    },
    /// Run this artifact: download it (with the node's key), verify it, swap it in, report.
    Deploy {
        /// The deployment.
        deployment_id: Uuid,
        /// The artifact.
        artifact_id: Uuid,
        /// Its `artifact_hash`: what the download must contain.
        artifact_hash: String,
        /// Where to download it, relative to the control plane's base URL.
        download: String,
    },
}

/// Parses a node's message: `Ok(None)` for a well-formed message of a type this version does
/// not know (ignored), `Err` for anything malformed.
pub fn parse(text: &str) -> Result<Option<NodeMessage>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or("a message needs a string `type`")?
        .to_owned();
    if !matches!(kind.as_str(), "hello" | "heartbeat" | "deployment_result") {
        return Ok(None);
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| format!("bad `{kind}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_and_unknown_types_are_ignored() {
        let hello =
            parse(r#"{"type":"hello","protocol":1,"name":"edge-1","labels":{"region":"eu"}}"#)
                .unwrap()
                .unwrap();
        match hello {
            NodeMessage::Hello(h) => {
                assert_eq!(h.name, "edge-1");
                assert_eq!(h.labels["region"], "eu");
                assert_eq!(h.artifact_hash, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(r#"{"type":"heartbeat","artifact_hash":"sha256:ab"}"#).unwrap(),
            Some(NodeMessage::Heartbeat {
                artifact_hash: Some("sha256:ab".into()),
                content_hash: None,
            })
        );
        assert_eq!(parse(r#"{"type":"telemetry","x":1}"#).unwrap(), None);
        for bad in ["nope", "[]", r#"{"kind":"hello"}"#, r#"{"type":"hello"}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn welcome_is_tagged() {
        let id = Uuid::nil();
        let text = serde_json::to_string(&ControlMessage::Welcome {
            protocol: PROTOCOL,
            data_plane_id: id,
            heartbeat_seconds: 30,
        })
        .unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"type":"welcome","protocol":1,"data_plane_id":"{id}","heartbeat_seconds":30}}"#
            )
        );
    }
}
