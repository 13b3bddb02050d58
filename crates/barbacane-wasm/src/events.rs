//! Broker publishing for plugins (`barbacane:nats`, `barbacane:kafka`): the types the host
//! hands to the gateway's broker clients. The data plane implements [`EventBus`] over its
//! pooled connections (one per broker set, shared by every route), so this crate knows no
//! broker protocol.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Default and largest time a publish may wait for the broker's acknowledgement.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest `timeout_ms` a plugin may ask for (1 minute).
pub const MAX_PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// A message for a NATS subject.
#[derive(Debug, Clone)]
pub struct NatsPublish {
    /// Server URL(s), e.g. `nats://127.0.0.1:4222`: the connection's pool key.
    pub url: String,
    /// Subject.
    pub subject: String,
    /// Message headers.
    pub headers: Vec<(String, String)>,
    /// Payload.
    pub payload: bytes::Bytes,
    /// Publish through JetStream and wait for its acknowledgement; otherwise a core publish
    /// confirmed by a round trip to the server.
    pub jetstream: bool,
    /// Time limit.
    pub timeout: Duration,
}

/// A record for a Kafka topic.
#[derive(Debug, Clone)]
pub struct KafkaPublish {
    /// Bootstrap brokers, comma-separated `host:port`: the producer's pool key.
    pub brokers: String,
    /// Topic.
    pub topic: String,
    /// Record key (chooses the partition).
    pub key: Option<Vec<u8>>,
    /// Record headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Value.
    pub payload: Vec<u8>,
    /// Time limit.
    pub timeout: Duration,
}

/// What the broker acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishAck {
    /// NATS: the JetStream stream and sequence, when published through JetStream.
    Nats {
        /// Stream name.
        stream: Option<String>,
        /// Sequence in the stream.
        sequence: Option<u64>,
    },
    /// Kafka: where the record was written.
    Kafka {
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
    },
}

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The broker cannot be reached (connecting failed, connection lost).
    Unavailable(String),
    /// No acknowledgement within the time limit.
    Timeout,
    /// The broker refused the message (unknown topic, no stream for the subject, too large).
    Rejected(String),
    /// The request cannot be sent as given (bad URL, empty subject...).
    Invalid(String),
}

impl PublishError {
    /// The wire name the guest sees: `unavailable`, `timeout`, `rejected`, `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            PublishError::Unavailable(_) => "unavailable",
            PublishError::Timeout => "timeout",
            PublishError::Rejected(_) => "rejected",
            PublishError::Invalid(_) => "invalid",
        }
    }

    /// A description safe to show the plugin.
    pub fn message(&self) -> String {
        match self {
            PublishError::Timeout => "no acknowledgement within the time limit".into(),
            PublishError::Unavailable(m) | PublishError::Rejected(m) | PublishError::Invalid(m) => {
                m.clone()
            }
        }
    }
}

/// A publish in flight.
pub type PublishFuture = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// The gateway's broker clients, as plugins see them.
pub trait EventBus: Send + Sync + 'static {
    /// Publishes to NATS; resolves once the server has the message.
    fn nats_publish(&self, message: NatsPublish) -> PublishFuture;
    /// Publishes to Kafka with `acks=all`; resolves once the record is acknowledged.
    fn kafka_publish(&self, record: KafkaPublish) -> PublishFuture;
}
