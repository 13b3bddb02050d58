//! The data-plane hub: one session per connected node, keyed by the node's id, so that the
//! API can disconnect a node (`DELETE .../data-planes/{id}`) or every node of a revoked key.
//! The protocol is in `protocol.rs`, one connection's life in `session.rs`.

pub mod protocol;
pub mod session;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use protocol::ControlMessage;

/// Messages queued for one node before it is considered stuck (its connection is closed).
const OUTBOX: usize = 64;

/// The connected nodes of this process.
#[derive(Debug)]
pub struct Hub {
    sessions: Mutex<HashMap<Uuid, Session>>,
    heartbeat: Duration,
}

#[derive(Debug)]
struct Session {
    /// Distinguishes this connection from a later one of the same node.
    serial: u64,
    key_id: Uuid,
    project_id: Uuid,
    close: watch::Sender<bool>,
    outbox: mpsc::Sender<ControlMessage>,
}

/// A registered connection; dropping it does not unregister (see [`Hub::leave`]).
#[derive(Debug)]
pub struct Ticket {
    /// The node's id.
    pub data_plane_id: Uuid,
    serial: u64,
    /// Becomes true when the hub wants this connection closed.
    pub closed: watch::Receiver<bool>,
    /// Messages for the node.
    pub inbox: mpsc::Receiver<ControlMessage>,
}

impl Hub {
    /// A hub whose nodes heartbeat every `heartbeat`.
    pub fn new(heartbeat: Duration) -> Hub {
        Hub {
            sessions: Mutex::new(HashMap::new()),
            heartbeat,
        }
    }

    /// How often nodes send a heartbeat.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// Registers a connection of node `id`; an earlier connection of the same node is told
    /// to close (the newest one wins).
    pub fn join(&self, id: Uuid, key_id: Uuid, project_id: Uuid) -> Ticket {
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (close, closed) = watch::channel(false);
        let (outbox, inbox) = mpsc::channel(OUTBOX);
        if let Ok(mut sessions) = self.sessions.lock()
            && let Some(old) = sessions.insert(
                id,
                Session {
                    serial,
                    key_id,
                    project_id,
                    close,
                    outbox,
                },
            )
        {
            let _ = old.close.send(true);
        }
        Ticket {
            data_plane_id: id,
            serial,
            closed,
            inbox,
        }
    }

    /// Unregisters `ticket`'s connection; true if it was still the node's current one.
    pub fn leave(&self, ticket: &Ticket) -> bool {
        let Ok(mut sessions) = self.sessions.lock() else {
            return false;
        };
        match sessions.get(&ticket.data_plane_id) {
            Some(s) if s.serial == ticket.serial => {
                sessions.remove(&ticket.data_plane_id);
                true
            }
            _ => false,
        }
    }

    /// Tells node `id`'s connection to close, if it has one. The session unregisters itself
    /// (and marks the node offline) as it ends.
    pub fn disconnect(&self, id: Uuid) -> bool {
        self.sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&id).map(|s| s.close.send(true)))
            .is_some()
    }

    /// Tells every connection to close (shutdown); returns how many.
    pub fn disconnect_all(&self) -> usize {
        let Ok(sessions) = self.sessions.lock() else {
            return 0;
        };
        for session in sessions.values() {
            let _ = session.close.send(true);
        }
        sessions.len()
    }

    /// Tells every connection made with `key_id` to close; returns how many.
    pub fn disconnect_key(&self, key_id: Uuid) -> usize {
        let Ok(sessions) = self.sessions.lock() else {
            return 0;
        };
        let mut told = 0;
        for session in sessions.values().filter(|s| s.key_id == key_id) {
            let _ = session.close.send(true);
            told += 1;
        }
        told
    }

    /// Queues `message` for node `id`; false when it is not connected here. A node whose
    /// queue is full is disconnected (it will get the current state when it reconnects).
    pub fn send(&self, id: Uuid, message: ControlMessage) -> bool {
        let Ok(sessions) = self.sessions.lock() else {
            return false;
        };
        match sessions.get(&id) {
            Some(session) => match session.outbox.try_send(message) {
                Ok(()) => true,
                Err(_) => {
                    let _ = session.close.send(true);
                    false
                }
            },
            None => false,
        }
    }

    /// The nodes of `project_id` connected to this process.
    pub fn connected_in(&self, project_id: Uuid) -> Vec<Uuid> {
        self.sessions.lock().map_or_else(
            |_| Vec::new(),
            |s| {
                s.iter()
                    .filter(|(_, s)| s.project_id == project_id)
                    .map(|(id, _)| *id)
                    .collect()
            },
        )
    }

    /// Whether node `id` is connected to this process.
    pub fn is_connected(&self, id: Uuid) -> bool {
        self.sessions.lock().is_ok_and(|s| s.contains_key(&id))
    }

    /// Nodes connected to this process now.
    pub fn connected(&self) -> usize {
        self.sessions.lock().map_or(0, |s| s.len())
    }
}
