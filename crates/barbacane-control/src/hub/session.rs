//! One node's connection: `hello` within 10 s, `welcome`, then heartbeats until the node
//! goes away, misses three heartbeats, sends something malformed, or the hub closes it.
//! A bad connection only ever closes itself.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

use super::protocol::{self, ControlMessage, Hello, NodeMessage, Outcome, PROTOCOL};
use crate::db::data_planes::{self, Registration};
use crate::db::deployments;
use crate::state::AppState;

/// How long a node has to say `hello`.
const HELLO_WITHIN: Duration = Duration::from_secs(10);

/// WebSocket close codes (RFC 6455 section 7.4.1).
mod close {
    /// Policy violation: the hub disconnected the node, or it broke the protocol order.
    pub const POLICY: u16 = 1008;
    /// Unsupported or malformed data.
    pub const INVALID: u16 = 1007;
}

/// Who connected.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The key's project.
    pub project_id: Uuid,
    /// The key.
    pub key_id: Uuid,
    /// The socket's address.
    pub addr: std::net::IpAddr,
}

/// Serves one connection to its end.
pub async fn run(mut socket: WebSocket, state: AppState, peer: Peer) {
    let hello = match tokio::time::timeout(HELLO_WITHIN, socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => match protocol::parse(&text) {
            Ok(Some(NodeMessage::Hello(hello))) => hello,
            Ok(_) => {
                return refuse(socket, close::POLICY, "the first message must be `hello`").await;
            }
            Err(e) => return refuse(socket, close::INVALID, &e).await,
        },
        Ok(Some(Ok(_))) => return refuse(socket, close::INVALID, "messages are JSON text").await,
        _ => return,
    };
    if let Err(reason) = check(&hello) {
        return refuse(socket, close::POLICY, &reason).await;
    }
    if let Some(claimed) = &hello.project_id
        && *claimed != peer.project_id.to_string()
    {
        return refuse(
            socket,
            close::POLICY,
            "the API key belongs to another project than --project-id",
        )
        .await;
    }
    let labels = json!(hello.labels);
    let metadata = json!({
        "version": hello.version,
        "hostname": hello.hostname,
        "provenance": hello.provenance,
        "address": peer.addr.to_string(),
    });
    let registered = data_planes::register(
        state.pool(),
        &Registration {
            project_id: peer.project_id,
            name: &hello.name,
            labels: &labels,
            artifact_hash: hello.artifact_hash.as_deref(),
            content_hash: hello.content_hash.as_deref(),
            metadata: &metadata,
            api_key_id: peer.key_id,
        },
    )
    .await;
    let node = match registered {
        Ok(node) => node,
        Err(e) => {
            tracing::warn!(error = %e, "cannot register a data plane");
            return refuse(
                socket,
                1011,
                "the control plane cannot register nodes right now",
            )
            .await;
        }
    };
    let hub = state.hub();
    let mut ticket = hub.join(node.id, peer.key_id, peer.project_id);
    tracing::info!(data_plane = %node.id, name = %hello.name, project = %peer.project_id, address = %peer.addr, "data plane connected");
    let welcome = ControlMessage::Welcome {
        protocol: PROTOCOL,
        data_plane_id: node.id,
        heartbeat_seconds: hub.heartbeat().as_secs().max(1),
    };
    let mut reason = "connection closed";
    if send(&mut socket, &welcome).await
        && catch_up(&mut socket, &state, &node, hello.artifact_hash.as_deref()).await
    {
        let silence = hub.heartbeat() * 3;
        loop {
            tokio::select! {
                received = tokio::time::timeout(silence, socket.recv()) => match received {
                    Err(_) => { reason = "three heartbeats missed"; break; }
                    Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break,
                    Ok(Some(Ok(Message::Text(text)))) => match protocol::parse(&text) {
                        Ok(Some(NodeMessage::Heartbeat { artifact_hash, content_hash })) => {
                            if let Err(e) = data_planes::heartbeat(state.pool(), node.id, artifact_hash.as_deref(), content_hash.as_deref()).await {
                                tracing::warn!(data_plane = %node.id, error = %e, "cannot record a heartbeat");
                            }
                        }
                        Ok(Some(NodeMessage::Hello(_))) => {
                            tracing::debug!(data_plane = %node.id, "repeated hello ignored");
                        }
                        Ok(Some(NodeMessage::DeploymentResult { deployment_id, outcome, artifact_hash, content_hash, reason })) => {
                            record_result(&state, node.id, deployment_id, outcome, (artifact_hash, content_hash), reason).await;
                        }
                        Ok(None) => tracing::debug!(data_plane = %node.id, "unknown message type ignored"),
                        Err(e) => {
                            tracing::warn!(data_plane = %node.id, error = %e, "malformed message; closing the connection");
                            close_with(&mut socket, close::INVALID, &e).await;
                            reason = "malformed message";
                            break;
                        }
                    },
                    // Pings are answered by the WebSocket layer; binary frames have no meaning.
                    Ok(Some(Ok(Message::Binary(_)))) => {
                        close_with(&mut socket, close::INVALID, "messages are JSON text").await;
                        reason = "binary message";
                        break;
                    }
                    Ok(Some(Ok(_))) => {}
                },
                Some(message) = ticket.inbox.recv() => {
                    if !send(&mut socket, &message).await {
                        reason = "sending to the node failed";
                        break;
                    }
                }
                () = closed(&mut ticket.closed) => {
                    close_with(&mut socket, close::POLICY, "disconnected by the control plane").await;
                    reason = "disconnected by the control plane";
                    break;
                }
            }
        }
    }
    if hub.leave(&ticket)
        && let Err(e) = data_planes::offline(state.pool(), node.id).await
    {
        tracing::warn!(data_plane = %node.id, error = %e, "cannot mark a data plane offline");
    }
    tracing::info!(data_plane = %node.id, reason, "data plane disconnected");
}

/// Tells a node that just registered what it should run, if that is not what it runs: the
/// newest deployment of its project whose labels it has. Returns false if the socket failed.
async fn catch_up(
    socket: &mut WebSocket,
    state: &AppState,
    node: &data_planes::DataPlane,
    serving: Option<&str>,
) -> bool {
    let desired =
        deployments::desired_for(state.pool(), node.project_id, node.id, &node.labels).await;
    let Ok(Some(desired)) = desired else {
        return true;
    };
    let Some(hash) = desired.artifact_hash.clone() else {
        return true;
    };
    if serving == Some(hash.as_str()) {
        let _ = deployments::set_state(
            state.pool(),
            desired.id,
            node.id,
            "applied",
            None,
            Some(&hash),
        )
        .await;
        return true;
    }
    let _ = deployments::set_state(state.pool(), desired.id, node.id, "pending", None, None).await;
    let _ = data_planes::set_status(state.pool(), node.id, "deploying").await;
    send(socket, &deploy_message(&desired)).await
}

/// The `deploy` message of a deployment.
pub fn deploy_message(d: &deployments::Deployment) -> ControlMessage {
    ControlMessage::Deploy {
        deployment_id: d.id,
        artifact_id: d.artifact_id,
        artifact_hash: d.artifact_hash.clone().unwrap_or_default(),
        download: format!("/artifacts/{}/download", d.artifact_id),
    }
}

/// Stores a node's report; an `applied` whose hash is not the announced one is flagged.
async fn record_result(
    state: &AppState,
    node: Uuid,
    deployment_id: Uuid,
    outcome: Outcome,
    (reported, content): (Option<String>, Option<String>),
    reason: Option<String>,
) {
    let (announced, artifact_id) = match deployments::get(state.pool(), deployment_id).await {
        Ok(Some(d)) => (d.artifact_hash, d.artifact_id),
        _ => {
            tracing::warn!(data_plane = %node, %deployment_id, "result for an unknown deployment ignored");
            return;
        }
    };
    let (state_name, reason) = match outcome {
        Outcome::Applied if reported.is_some() && reported != announced => (
            "rejected",
            Some(format!(
                "the node reports {} instead of the announced {}",
                reported.as_deref().unwrap_or("-"),
                announced.as_deref().unwrap_or("-")
            )),
        ),
        Outcome::Applied => ("applied", None),
        Outcome::Rejected => ("rejected", reason.or(Some("no reason given".into()))),
    };
    // What the node serves is stored before the deployment's state: whoever sees `applied`
    // (a drift pass, a CLI waiting on the rollout) also sees the hash the node reported.
    if let Some(hash) = &reported {
        let _ = data_planes::heartbeat(state.pool(), node, Some(hash), content.as_deref()).await;
    }
    if state_name == "applied" {
        let _ = data_planes::applied(state.pool(), node, artifact_id).await;
    }
    let _ = data_planes::set_status(state.pool(), node, "online").await;
    if let Err(e) = deployments::set_state(
        state.pool(),
        deployment_id,
        node,
        state_name,
        reason.as_deref(),
        reported.as_deref(),
    )
    .await
    {
        tracing::warn!(data_plane = %node, %deployment_id, error = %e, "cannot record a deployment result");
    }
    tracing::info!(data_plane = %node, %deployment_id, outcome = state_name, reason = reason.as_deref().unwrap_or(""), "deployment result");
}

/// A node's `hello` within bounds: the protocol it speaks, a usable name, sane labels.
fn check(hello: &Hello) -> Result<(), String> {
    if hello.protocol != PROTOCOL {
        return Err(format!(
            "protocol {} is not supported; this control plane speaks {PROTOCOL}",
            hello.protocol
        ));
    }
    let name = hello.name.as_str();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err("`name` must be 1 to 128 characters without control characters".into());
    }
    if hello.labels.len() > 64
        || hello
            .labels
            .iter()
            .any(|(k, v)| k.is_empty() || k.len() > 128 || v.len() > 256)
    {
        return Err("at most 64 labels, keys of 1-128 and values of at most 256 bytes".into());
    }
    Ok(())
}

/// Resolves when the hub asks for the connection to close (the watch guard is dropped
/// before the caller awaits anything else).
async fn closed(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

async fn send(socket: &mut WebSocket, message: &ControlMessage) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..end].to_owned().into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn refuse(mut socket: WebSocket, code: u16, reason: &str) {
    tracing::warn!(reason, "data plane connection refused");
    close_with(&mut socket, code, reason).await;
}
