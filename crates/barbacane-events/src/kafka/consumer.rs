//! Kafka subscriptions: one consumer per partition, each starting at that partition's latest
//! offset as read when the subscription opens, merged into one [`Subscription`].

use super::{Cluster, classify};
use crate::pool::Slot;
use crate::stats::Counters;
use crate::subscription::{self, Subscription};
use crate::{BrokerOptions, Event, PublishError, SubscriptionError};
use bytes::Bytes;
use futures_util::StreamExt;
use rskafka::client::consumer::{StartOffset, StreamConsumerBuilder};
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::record::RecordAndOffset;
use std::sync::Arc;

/// Subscribes to everything produced to `topic` after this returns.
pub(crate) async fn subscribe_latest(
    slot: &Slot<Arc<Cluster>>,
    brokers: &str,
    options: &BrokerOptions,
    counters: &Arc<Counters>,
    topic: String,
    buffer: usize,
) -> Result<Subscription, PublishError> {
    let (cluster, generation) = slot
        .get(counters, || super::connect(brokers, options))
        .await?;
    let result = open(&cluster, options, counters, topic, buffer).await;
    if let Err(PublishError::Unavailable(_)) = &result {
        slot.reset(&generation);
    }
    result
}

async fn open(
    cluster: &Cluster,
    options: &BrokerOptions,
    counters: &Arc<Counters>,
    topic: String,
    buffer: usize,
) -> Result<Subscription, PublishError> {
    let partitions = cluster.read_partition_count(&topic).await?;
    let max_wait_ms = i32::try_from(options.kafka_fetch_max_wait.as_millis()).unwrap_or(i32::MAX);
    let mut consumers = Vec::new();
    for partition in 0..partitions {
        let client = cluster
            .client
            .partition_client(topic.as_str(), partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| classify(&e))?;
        // Read now rather than by the consumer's first fetch, so that a record produced after
        // this function returns is always seen.
        let latest = client
            .get_offset(OffsetAt::Latest)
            .await
            .map_err(|e| classify(&e))?;
        let consumer = StreamConsumerBuilder::new(Arc::new(client), StartOffset::At(latest))
            .with_max_wait_ms(max_wait_ms)
            .with_max_batch_size(options.kafka_fetch_max_bytes)
            .build();
        consumers.push(consumer.map(move |item| (partition, item)).boxed());
    }
    let mut merged = futures_util::stream::select_all(consumers);
    let (mut feed, pending) = subscription::channel(buffer, counters.clone());
    let task = tokio::spawn(async move {
        while let Some((partition, item)) = merged.next().await {
            match item {
                Ok((record, _high_watermark)) => {
                    if !feed.push(event(&topic, partition, record)) {
                        return;
                    }
                }
                Err(e) => {
                    feed.finish(SubscriptionError::Broker(e.to_string()));
                    return;
                }
            }
        }
        feed.finish(SubscriptionError::Broker(
            "the Kafka consumer stopped".to_owned(),
        ));
    });
    Ok(pending.start(task.abort_handle()))
}

fn event(topic: &str, partition: i32, record: RecordAndOffset) -> Event {
    let RecordAndOffset { record, offset } = record;
    Event {
        id: format!("{partition}-{offset}"),
        subject: topic.to_owned(),
        headers: record
            .headers
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect(),
        payload: Bytes::from(record.value.unwrap_or_default()),
    }
}
