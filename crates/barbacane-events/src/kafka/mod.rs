//! Kafka: one rskafka client per broker-list string, one batching producer per topic and
//! partition, and consumers starting at the latest offsets.
//!
//! Every produce asks for `acks=all` (rskafka always sends `-1`). Records produced
//! concurrently to one partition are aggregated by rskafka's `BatchProducer` for
//! [`BrokerOptions::kafka_linger`], in requests of at most about 7 KiB: rskafka does not set
//! `TCP_NODELAY` and writes through an 8 KiB buffer, so a larger request is held by Nagle's
//! algorithm until the broker's delayed acknowledgement (40 ms on Linux). A single record over
//! 7 KiB goes alone and pays that delay (measured on tansu: 16 publishers, 4 KiB records, 340
//! msg/s); keep records small, or expect ~40 ms per large one. The producer is not idempotent: rskafka 0.6 has no producer ids or sequence numbers, so a batch
//! retried after a lost answer can be written twice (at-least-once).
//!
//! rskafka retries a failing request by itself (reconnecting, re-reading metadata) for up to
//! [`BrokerOptions::kafka_retry_deadline`]; beyond that, or at the caller's timeout, the
//! whole client is dropped and the next call builds a new one, so an outage heals without the
//! caller doing anything.

mod batch;
mod consumer;
pub mod partitioner;

pub(crate) use consumer::subscribe_latest;

use crate::pool::Slot;
use crate::stats::Counters;
use crate::{Ack, BrokerOptions, KafkaRecord, PublishError};
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::producer::{BatchProducer, BatchProducerBuilder};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::{Instant, timeout_at};

type Producer = BatchProducer<batch::Batch>;

/// A pooled Kafka client and what was built on it.
#[derive(Debug)]
pub(crate) struct Cluster {
    client: Client,
    topics: Mutex<HashMap<String, Arc<Topic>>>,
    linger: Duration,
    max_record_bytes: usize,
    create_missing: Option<i32>,
}

#[derive(Debug, Default)]
struct Topic {
    /// The partition count from metadata; 0 until read.
    partitions: AtomicI32,
    /// Held while reading metadata, so concurrent publishes read it once.
    refresh: tokio::sync::Mutex<()>,
    round_robin: AtomicUsize,
    producers: Mutex<HashMap<i32, Arc<OnceCell<Arc<Producer>>>>>,
}

/// Builds the client for `brokers` (`host:port`, comma-separated) and reads the cluster's
/// metadata once.
pub(crate) async fn connect(
    brokers: &str,
    options: &BrokerOptions,
) -> Result<Arc<Cluster>, PublishError> {
    let bootstrap: Vec<String> = brokers
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| b.strip_prefix("kafka://").unwrap_or(b).to_owned())
        .collect();
    if bootstrap.is_empty() {
        return Err(PublishError::Rejected("no Kafka broker given".to_owned()));
    }
    reachable(&bootstrap, options.connect_timeout)
        .await
        .map_err(|e| {
            PublishError::Unavailable(format!(
                "cannot connect to Kafka at {}: {e}",
                crate::stats::redact(brokers)
            ))
        })?;
    let client = ClientBuilder::new(bootstrap)
        .client_id(options.client_name.as_str())
        .backoff_config(rskafka::BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(options.kafka_retry_deadline),
        })
        .build()
        .await
        .map_err(|e| {
            PublishError::Unavailable(format!(
                "cannot connect to Kafka at {}: {e}",
                crate::stats::redact(brokers)
            ))
        })?;
    Ok(Arc::new(Cluster {
        client,
        topics: Mutex::new(HashMap::new()),
        linger: options.kafka_linger,
        max_record_bytes: options.kafka_max_record_bytes,
        create_missing: options.kafka_create_missing_topics,
    }))
}

/// Fails unless one of `bootstrap` accepts a TCP connection: rskafka would retry a refused
/// connection until its deadline, and a broker that is down should be reported as such at
/// once rather than as a timeout.
async fn reachable(bootstrap: &[String], limit: Duration) -> Result<(), String> {
    let mut last = String::new();
    for broker in bootstrap {
        match tokio::time::timeout(limit, tokio::net::TcpStream::connect(broker.as_str())).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {limit:?}"),
        }
    }
    Err(last)
}

/// Produces `record` and waits for its acknowledgement, until `deadline`.
pub(crate) async fn publish(
    slot: &Slot<Arc<Cluster>>,
    brokers: &str,
    options: &BrokerOptions,
    counters: &Counters,
    record: KafkaRecord,
    deadline: Instant,
) -> Result<Ack, PublishError> {
    let size = record.payload.len()
        + record.key.as_ref().map_or(0, Vec::len)
        + record
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > options.kafka_max_record_bytes {
        return Err(PublishError::Rejected(format!(
            "record of {size} bytes is larger than the limit ({} bytes)",
            options.kafka_max_record_bytes
        )));
    }
    let (cluster, generation) =
        timeout_at(deadline, slot.get(counters, || connect(brokers, options)))
            .await
            .map_err(|_| PublishError::Timeout)??;
    let topic = record.topic.clone();
    let result = timeout_at(deadline, cluster.produce(record))
        .await
        .unwrap_or(Err(PublishError::Timeout));
    if result.is_err() {
        // Partition counts and leaders may have changed: read them again next time.
        cluster.forget(&topic);
    }
    if let Err(PublishError::Unavailable(_) | PublishError::Timeout) = &result {
        slot.reset(&generation);
    }
    result
}

impl Cluster {
    fn topic(&self, name: &str) -> Arc<Topic> {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(topics.entry(name.to_owned()).or_default())
    }

    fn forget(&self, name: &str) {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    async fn produce(&self, record: KafkaRecord) -> Result<Ack, PublishError> {
        let topic = self.topic(&record.topic);
        let partitions = self.partition_count(&topic, &record.topic).await?;
        let partition = match &record.key {
            Some(key) => partitioner::partition_for_key(key, partitions),
            None => {
                let next = topic.round_robin.fetch_add(1, Ordering::Relaxed);
                (next % partitions as usize) as i32
            }
        };
        let producer = self.producer(&topic, &record.topic, partition).await?;
        let offset = producer
            .produce(Record {
                key: record.key,
                value: Some(record.payload),
                headers: record.headers.into_iter().collect(),
                timestamp: chrono::Utc::now(),
            })
            .await
            .map_err(|e| match e {
                rskafka::client::producer::Error::Client(e) => classify(&e),
                rskafka::client::producer::Error::TooLarge => {
                    PublishError::Rejected("record larger than the record limit".to_owned())
                }
                other => PublishError::Unavailable(other.to_string()),
            })?;
        Ok(Ack::Kafka { partition, offset })
    }

    async fn partition_count(&self, topic: &Topic, name: &str) -> Result<i32, PublishError> {
        let known = topic.partitions.load(Ordering::Acquire);
        if known > 0 {
            return Ok(known);
        }
        let _reading = topic.refresh.lock().await;
        let known = topic.partitions.load(Ordering::Acquire);
        if known > 0 {
            return Ok(known);
        }
        let count = self.read_partition_count(name).await?;
        topic.partitions.store(count, Ordering::Release);
        Ok(count)
    }

    /// The partition count of `name` from fresh metadata (creating the topic first when it
    /// is missing and [`BrokerOptions::kafka_create_missing_topics`] allows it).
    async fn read_partition_count(&self, name: &str) -> Result<i32, PublishError> {
        let mut count = self.listed_partitions(name).await?;
        if count == 0
            && let Some(partitions) = self.create_missing
        {
            self.create_topic(name, partitions).await?;
            // Metadata catches up with the creation shortly.
            for _ in 0..50 {
                count = self.listed_partitions(name).await?;
                if count > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if count == 0 {
            return Err(PublishError::Rejected(format!(
                "unknown Kafka topic `{name}`"
            )));
        }
        i32::try_from(count).map_err(|_| {
            PublishError::Unavailable(format!("topic `{name}` has too many partitions"))
        })
    }

    async fn listed_partitions(&self, name: &str) -> Result<usize, PublishError> {
        let topics = self.client.list_topics().await.map_err(|e| classify(&e))?;
        Ok(topics
            .iter()
            .find(|t| t.name == name)
            .map_or(0, |t| t.partitions.len()))
    }

    /// Creates `name` with the broker's defaults (-1: KIP-464, Kafka 2.4 and later), else with
    /// `partitions` partitions and one replica; a topic created meanwhile by someone else is
    /// fine.
    async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), PublishError> {
        let controller = self.client.controller_client().map_err(|e| classify(&e))?;
        let mut outcome = controller.create_topic(name, -1, -1, 5_000).await;
        if matches!(&outcome, Err(ClientError::ServerError { protocol_error, .. })
            if *protocol_error != ProtocolError::TopicAlreadyExists)
        {
            outcome = controller.create_topic(name, partitions, 1, 5_000).await;
        }
        match outcome {
            Ok(()) => {
                tracing::info!(topic = name, "created the missing Kafka topic");
                Ok(())
            }
            Err(ClientError::ServerError {
                protocol_error: ProtocolError::TopicAlreadyExists,
                ..
            }) => Ok(()),
            Err(e) => Err(PublishError::Rejected(format!(
                "topic `{name}` is missing and cannot be created: {e}"
            ))),
        }
    }

    async fn producer(
        &self,
        topic: &Topic,
        name: &str,
        partition: i32,
    ) -> Result<Arc<Producer>, PublishError> {
        let cell = {
            let mut producers = topic
                .producers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(producers.entry(partition).or_default())
        };
        let producer = cell
            .get_or_try_init(|| async {
                let client = self
                    .client
                    .partition_client(name, partition, UnknownTopicHandling::Error)
                    .await
                    .map_err(|e| classify(&e))?;
                Ok::<_, PublishError>(Arc::new(
                    BatchProducerBuilder::new(Arc::new(client))
                        .with_linger(self.linger)
                        .build(batch::Batch::new(self.max_record_bytes)),
                ))
            })
            .await?;
        Ok(Arc::clone(producer))
    }
}

/// What an rskafka error means for the caller.
pub(crate) fn classify(error: &ClientError) -> PublishError {
    match error {
        ClientError::ServerError {
            protocol_error:
                ProtocolError::UnknownTopicOrPartition
                | ProtocolError::InvalidTopicException
                | ProtocolError::MessageTooLarge
                | ProtocolError::RecordListTooLarge
                | ProtocolError::InvalidRecord
                | ProtocolError::CorruptMessage
                | ProtocolError::InvalidTimestamp
                | ProtocolError::PolicyViolation
                | ProtocolError::TopicAuthorizationFailed
                | ProtocolError::ClusterAuthorizationFailed
                | ProtocolError::UnsupportedForMessageFormat
                | ProtocolError::InvalidRequiredAcks,
            ..
        } => PublishError::Rejected(error.to_string()),
        ClientError::Timeout => PublishError::Timeout,
        // Other server errors (not leader, not enough replicas, ...) are the cluster's state,
        // as are connection and retry failures.
        _ => PublishError::Unavailable(error.to_string()),
    }
}
