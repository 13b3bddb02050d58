//! What callers hand in and get back: messages, records, acknowledgements, events.

use bytes::Bytes;

/// A message to publish on NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsMessage {
    /// The subject to publish on.
    pub subject: String,
    /// Headers, in order; a name may repeat. Empty means a message without headers.
    pub headers: Vec<(String, String)>,
    /// The payload.
    pub payload: Bytes,
    /// Publish through JetStream and wait for the stream's acknowledgement (`PubAck`) instead
    /// of a core publish.
    pub jetstream: bool,
}

/// A record to produce on Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The key; with one, the partition is chosen as the Java client's default partitioner
    /// would (murmur2 of the key), without, round-robin.
    pub key: Option<Vec<u8>>,
    /// Headers. Kafka allows a name to repeat, but the client used here keeps one value per
    /// name: for a repeated name the last value wins.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The value.
    pub payload: Vec<u8>,
}

/// What the broker acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// A NATS publish. For a core publish both fields are `None` (the server processed the
    /// message; core NATS stores nothing); for JetStream they are the stream that stored the
    /// message and its sequence there.
    Nats {
        /// The JetStream stream that stored the message.
        stream: Option<String>,
        /// The message's sequence in that stream.
        sequence: Option<u64>,
    },
    /// A Kafka produce acknowledged by all in-sync replicas (`acks=all`).
    Kafka {
        /// The partition the record went to.
        partition: i32,
        /// Its offset in that partition.
        offset: i64,
    },
}

/// One message received by a [`Subscription`](crate::Subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// An identifier unique within the subscription, usable as an SSE `id`: for NATS the
    /// message's sequence number in this subscription (1, 2, ...), for Kafka
    /// `"{partition}-{offset}"`.
    pub id: String,
    /// The NATS subject or the Kafka topic.
    pub subject: String,
    /// Headers, a name possibly repeated. Kafka header values that are not UTF-8 are
    /// converted lossily.
    pub headers: Vec<(String, String)>,
    /// The payload (Kafka: the record's value, empty for a null value).
    pub payload: Bytes,
}
