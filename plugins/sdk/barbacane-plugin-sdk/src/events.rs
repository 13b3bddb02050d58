//! Publishing to brokers through the gateway's pooled connections (`nats` and `kafka`
//! capabilities). A publish returns once the broker acknowledged the message; the plugin
//! waits, the gateway's threads do not.
//!
//! ```
//! use barbacane_plugin_sdk::events::{self, Ack, NatsMessage};
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! # host.nats(|_, _| Ok(Ack::default()));
//! let mut message = NatsMessage::new("nats://127.0.0.1:4222", "orders.placed");
//! message.payload = br#"{"id":1}"#.to_vec();
//! events::nats_publish(&message).unwrap();
//! ```

use serde::{Deserialize, Serialize};

use crate::host;

/// A message for a NATS subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsMessage {
    /// Server URL, e.g. `nats://127.0.0.1:4222` (connections are pooled per URL).
    pub url: String,
    /// Subject.
    pub subject: String,
    /// Headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Publish through JetStream and wait for the stream's acknowledgement (a stream must
    /// capture the subject); otherwise a core publish, confirmed by a round trip.
    #[serde(default)]
    pub jetstream: bool,
    /// Time limit; the gateway's default (5 s) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Payload (sent as the call's second argument, not in the JSON head).
    #[serde(skip)]
    pub payload: Vec<u8>,
}

impl NatsMessage {
    /// A message without headers or payload.
    pub fn new(url: &str, subject: &str) -> NatsMessage {
        NatsMessage {
            url: url.to_owned(),
            subject: subject.to_owned(),
            headers: Vec::new(),
            jetstream: false,
            timeout_ms: None,
            payload: Vec::new(),
        }
    }
}

/// A record for a Kafka topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// Bootstrap brokers, comma-separated `host:port` (producers are pooled per list).
    pub brokers: String,
    /// Topic.
    pub topic: String,
    /// Record key (records with one key go to one partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Time limit; the gateway's default (5 s) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Value (sent as the call's second argument, not in the JSON head).
    #[serde(skip)]
    pub payload: Vec<u8>,
}

impl KafkaRecord {
    /// A record without key, headers or value.
    pub fn new(brokers: &str, topic: &str) -> KafkaRecord {
        KafkaRecord {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            key: None,
            headers: Vec::new(),
            timeout_ms: None,
            payload: Vec::new(),
        }
    }
}

/// What the broker acknowledged (fields of the other broker are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// NATS JetStream: the stream that stored the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// NATS JetStream: its sequence in the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Kafka: the partition written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Kafka: the record's offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

/// Why a publish failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishErrorKind {
    /// The broker cannot be reached.
    Unavailable,
    /// No acknowledgement within the time limit.
    Timeout,
    /// The broker refused the message (unknown topic, no stream for the subject...).
    Rejected,
    /// The message cannot be sent as given.
    Invalid,
}

impl PublishErrorKind {
    /// The wire name: `unavailable`, `timeout`, `rejected`, `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishErrorKind::Unavailable => "unavailable",
            PublishErrorKind::Timeout => "timeout",
            PublishErrorKind::Rejected => "rejected",
            PublishErrorKind::Invalid => "invalid",
        }
    }

    fn parse(s: &str) -> PublishErrorKind {
        match s {
            "timeout" => PublishErrorKind::Timeout,
            "rejected" => PublishErrorKind::Rejected,
            "invalid" => PublishErrorKind::Invalid,
            _ => PublishErrorKind::Unavailable,
        }
    }
}

/// A failed publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishError {
    /// What kind of failure.
    pub kind: PublishErrorKind,
    /// The gateway's description.
    pub message: String,
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for PublishError {}

#[derive(Deserialize)]
struct WireError {
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct WireResult {
    ack: Option<Ack>,
    error: Option<WireError>,
}

/// Calls one broker's import: each public function names only its own, so a plugin imports
/// only the capability it declares.
fn publish(
    call: fn(&[u8], &[u8]) -> Vec<u8>,
    head: Result<Vec<u8>, serde_json::Error>,
    payload: &[u8],
) -> Result<Ack, PublishError> {
    let head = head.map_err(|e| PublishError {
        kind: PublishErrorKind::Invalid,
        message: e.to_string(),
    })?;
    let result = call(&head, payload);
    let wire: WireResult = serde_json::from_slice(&result).map_err(|e| PublishError {
        kind: PublishErrorKind::Unavailable,
        message: format!("unreadable answer from the gateway: {e}"),
    })?;
    match (wire.ack, wire.error) {
        (_, Some(e)) => Err(PublishError {
            kind: PublishErrorKind::parse(&e.kind),
            message: e.message,
        }),
        (Some(ack), None) => Ok(ack),
        (None, None) => Ok(Ack::default()),
    }
}

/// Publishes `message` and waits for the server's acknowledgement.
pub fn nats_publish(message: &NatsMessage) -> Result<Ack, PublishError> {
    publish(
        host::nats_publish,
        serde_json::to_vec(message),
        &message.payload,
    )
}

/// Produces `record` (`acks=all`) and waits for the acknowledgement.
pub fn kafka_publish(record: &KafkaRecord) -> Result<Ack, PublishError> {
    publish(
        host::kafka_publish,
        serde_json::to_vec(record),
        &record.payload,
    )
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn encode_result(result: &Result<Ack, PublishError>) -> Vec<u8> {
    match result {
        Ok(ack) => serde_json::json!({ "ack": ack }),
        Err(e) => serde_json::json!({"error": {"kind": e.kind.as_str(), "message": e.message}}),
    }
    .to_string()
    .into_bytes()
}
