//! Pooled broker clients for event dispatch: publish to NATS or Kafka and wait for the
//! broker's acknowledgement, or subscribe and read what arrives as a stream of [`Event`]s.
//!
//! This crate knows brokers only: nothing of HTTP, WASM or artifacts. The gateway's event
//! dispatchers call [`Brokers`]; an HTTP bridge answers 202 once a publish returned an
//! [`Ack`], and turns a [`Subscription`] into Server-Sent Events.
//!
//! # Runtime
//!
//! [`Brokers::new`] starts a small tokio runtime of its own (one worker thread named
//! `barbacane-events`). Broker connections and their background tasks live there, so they
//! survive whatever runtime or thread the caller is on (the data plane runs one
//! single-threaded runtime per worker). Each method spawns its work onto that runtime and
//! awaits the result, so it can be awaited from any executor; a caller that stops awaiting
//! cancels the work.
//!
//! # Pooling
//!
//! One NATS client per URL string and one Kafka client per broker-list string, made on first
//! use and shared by every caller; concurrent first uses wait for the same connection
//! attempt. Kafka adds one batching producer per topic and partition. The strings are the
//! keys as given: `nats://a:4222` and `nats://a:4222/` are two pools.
//!
//! # Delivery guarantees
//!
//! - NATS core (`jetstream: false`): the publish returns once the server has processed the
//!   message (confirmed by a round trip on the same connection, shared by concurrent
//!   publishes; needs NATS 2.2+ and permission to publish to `_INBOX.>`), which is as far
//!   as core NATS goes: subscribers connected at that moment get it, nothing is stored. Use
//!   JetStream (`jetstream: true`) for storage: the stream's `PubAck`, or
//!   [`PublishError::Rejected`] when no stream holds the subject.
//! - Kafka: `acks=all`; the partition is chosen like the Java client's default partitioner
//!   (murmur2 of the key, see [`kafka::partitioner`]) or round-robin without a key. Not
//!   idempotent (rskafka 0.6 has no idempotent producer): a batch retried after a lost answer
//!   may be stored twice. A header name given twice keeps its last value (rskafka keeps
//!   headers in a map). Records over 7 KiB cost ~40 ms each (see [`kafka`]).
//! - A [`PublishError::Timeout`] means "unknown": the message may still arrive.
//!
//! # Failures
//!
//! Every publish is bounded by the caller's timeout. Clients heal by themselves: async-nats
//! reconnects (a publish while disconnected fails at once with
//! [`PublishError::Unavailable`]), and a Kafka client that failed is rebuilt on next use.
//! Outages are logged once when they start and once when they end, with the broker's address
//! (credentials removed) and the error; this crate never logs payloads or header values.
//! async-nats does, at TRACE level: target `async_nats::connection` dumps outgoing headers,
//! incoming messages and the CONNECT credentials. Keep `async_nats` above TRACE outside of
//! debugging.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
pub mod kafka;
mod nats;
mod pool;
mod stats;
mod subscription;
#[cfg(feature = "test-support")]
pub mod test_support;
mod types;

pub use error::{PublishError, SubscriptionError};
pub use stats::BrokerStats;
pub use subscription::Subscription;
pub use types::{Ack, Event, KafkaRecord, NatsMessage};

use pool::Pool;
use stats::Counters;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Settings shared by every broker connection of a [`Brokers`].
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Longest wait to connect to a broker (TCP and handshake). Default 2 s.
    pub connect_timeout: Duration,
    /// Longest wait to open a subscription (connect, subscribe, read Kafka offsets). Default 5 s.
    pub subscribe_timeout: Duration,
    /// The client name the brokers see (NATS `name`, Kafka `client.id`). Default `barbacane`.
    pub client_name: String,
    /// Messages async-nats holds per subscription before dropping (a slow-consumer guard
    /// behind each [`Subscription`]'s own buffer). Default 8192.
    pub nats_subscription_capacity: usize,
    /// Longest pause between two NATS reconnection attempts (they start at once and double
    /// from 1 ms). Default 1 s.
    pub nats_max_reconnect_delay: Duration,
    /// How long a Kafka batch waits for more records before it is sent. Default 2 ms.
    pub kafka_linger: Duration,
    /// Most bytes (key, value, headers) in one Kafka record; a larger record is rejected.
    /// Default 1 MiB (Kafka's default `max.message.bytes`). Batches themselves stay near
    /// 7 KiB: see the [`kafka`] module.
    pub kafka_max_record_bytes: usize,
    /// How long rskafka retries one failing request (reconnecting, re-reading metadata)
    /// before giving up; a Kafka subscription ends after that long without its broker.
    /// Default 5 s.
    pub kafka_retry_deadline: Duration,
    /// Most bytes one Kafka fetch returns, per partition of a subscription. Default 1 MiB.
    pub kafka_fetch_max_bytes: i32,
    /// How long a Kafka fetch waits at the broker for new records (long poll). Default 500 ms.
    pub kafka_fetch_max_wait: Duration,
    /// Create a topic a publish names when the cluster does not have it, as Kafka producers
    /// do by default (a broker's `auto.create.topics.enable` is on unless turned off): with
    /// the broker's default partition count and replication factor, else this many
    /// partitions and one replica. `None`: a missing topic is refused (`Rejected`). The
    /// broker may still refuse (a creation policy or ACL): the publish is then `Rejected`.
    /// Default `Some(1)` (Kafka's `num.partitions` default).
    pub kafka_create_missing_topics: Option<i32>,
}

impl Default for BrokerOptions {
    fn default() -> BrokerOptions {
        BrokerOptions {
            connect_timeout: Duration::from_secs(2),
            subscribe_timeout: Duration::from_secs(5),
            client_name: "barbacane".to_owned(),
            nats_subscription_capacity: 8192,
            nats_max_reconnect_delay: Duration::from_secs(1),
            kafka_linger: Duration::from_millis(2),
            kafka_max_record_bytes: 1024 * 1024,
            kafka_create_missing_topics: Some(1),
            kafka_retry_deadline: Duration::from_secs(5),
            kafka_fetch_max_bytes: 1024 * 1024,
            kafka_fetch_max_wait: Duration::from_millis(500),
        }
    }
}

/// The broker clients of a process: cheap to clone (one shared state), `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use barbacane_events::{BrokerOptions, Brokers, NatsMessage};
/// use std::time::Duration;
///
/// let brokers = Brokers::new(BrokerOptions::default())?;
/// let ack = brokers
///     .nats_publish(
///         "nats://127.0.0.1:4222",
///         NatsMessage {
///             subject: "orders.created".into(),
///             headers: vec![("content-type".into(), "application/json".into())],
///             payload: r#"{"id":1}"#.into(),
///             jetstream: false,
///         },
///         Duration::from_secs(2),
///     )
///     .await?;
/// println!("{ack:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Brokers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handle: tokio::runtime::Handle,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    shared: Arc<Shared>,
}

/// What the tasks on the broker runtime share (never the runtime itself).
#[derive(Debug)]
struct Shared {
    options: BrokerOptions,
    counters: Arc<Counters>,
    nats: Pool<nats::NatsConn>,
    kafka: Pool<Arc<kafka::Cluster>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle may be dropped inside another runtime, where a blocking shutdown
        // would panic: let the broker thread wind down by itself.
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
    }
}

impl Brokers {
    /// Starts the broker runtime. Nothing is connected until first use.
    ///
    /// # Errors
    ///
    /// The runtime's thread could not be started.
    pub fn new(options: BrokerOptions) -> std::io::Result<Brokers> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("barbacane-events")
            .enable_all()
            .build()?;
        Ok(Brokers {
            inner: Arc::new(Inner {
                handle: runtime.handle().clone(),
                runtime: Mutex::new(Some(runtime)),
                shared: Arc::new(Shared {
                    options,
                    counters: Arc::new(Counters::default()),
                    nats: Pool::new("nats"),
                    kafka: Pool::new("kafka"),
                }),
            }),
        })
    }

    /// Publishes `msg` through the NATS server(s) at `url` (`nats://host:port`, several
    /// separated by commas) and waits for the broker, at most `timeout`: for a core publish
    /// until the server has processed the message, for JetStream until the stream's `PubAck`.
    ///
    /// # Errors
    ///
    /// [`PublishError::Unavailable`] when the server cannot be reached or the connection is
    /// down, [`PublishError::Timeout`], and [`PublishError::Rejected`] for an invalid subject
    /// or header, a payload over the server's limit, or (JetStream) no stream for the subject.
    pub async fn nats_publish(
        &self,
        url: &str,
        msg: NatsMessage,
        timeout: Duration,
    ) -> Result<Ack, PublishError> {
        let shared = Arc::clone(&self.inner.shared);
        let url = url.to_owned();
        self.run(Box::pin(async move {
            let slot = shared.nats.slot(&url);
            let work = nats::publish(&slot, &url, &shared.options, &shared.counters, msg);
            let result = tokio::time::timeout(timeout, work)
                .await
                .unwrap_or(Err(PublishError::Timeout));
            shared.record(&slot.health, &result);
            result
        }))
        .await
    }

    /// Produces `record` on the Kafka cluster reached through `brokers` (`host:port`, several
    /// separated by commas) with `acks=all`, and waits at most `timeout` for the
    /// acknowledgement.
    ///
    /// # Errors
    ///
    /// [`PublishError::Unavailable`] when the cluster cannot be reached,
    /// [`PublishError::Timeout`], and [`PublishError::Rejected`] for an unknown topic or a
    /// record over [`BrokerOptions::kafka_max_record_bytes`] or the broker's limit.
    pub async fn kafka_publish(
        &self,
        brokers: &str,
        record: KafkaRecord,
        timeout: Duration,
    ) -> Result<Ack, PublishError> {
        let shared = Arc::clone(&self.inner.shared);
        let brokers = brokers.to_owned();
        self.run(Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let slot = shared.kafka.slot(&brokers);
            let result = kafka::publish(
                &slot,
                &brokers,
                &shared.options,
                &shared.counters,
                record,
                deadline,
            )
            .await;
            shared.record(&slot.health, &result);
            result
        }))
        .await
    }

    /// Subscribes to `subject` (wildcards allowed) on the NATS server(s) at `url`. The
    /// subscription is registered with the server before this returns; at most `buffer`
    /// events (at least 1) wait for the reader, beyond that it ends with
    /// [`SubscriptionError::Lagged`]. Messages published while the client is reconnecting
    /// are not seen (core NATS).
    ///
    /// # Errors
    ///
    /// As for [`nats_publish`](Self::nats_publish), within
    /// [`BrokerOptions::subscribe_timeout`].
    pub async fn nats_subscribe(
        &self,
        url: &str,
        subject: &str,
        buffer: usize,
    ) -> Result<Subscription, PublishError> {
        let shared = Arc::clone(&self.inner.shared);
        let (url, subject) = (url.to_owned(), subject.to_owned());
        self.run(Box::pin(async move {
            let slot = shared.nats.slot(&url);
            let work = nats::subscribe(
                &slot,
                &url,
                &shared.options,
                &shared.counters,
                subject,
                buffer,
            );
            let result = tokio::time::timeout(shared.options.subscribe_timeout, work)
                .await
                .unwrap_or(Err(PublishError::Timeout));
            shared.note(&slot.health, result.as_ref().err());
            result
        }))
        .await
    }

    /// Subscribes to every partition of `topic` on the Kafka cluster reached through
    /// `brokers`, from the latest offsets at the time of the call: every record produced
    /// after this returns is seen, none before. No consumer group is joined and no offset is
    /// committed. At most `buffer` events (at least 1) wait for the reader, beyond that it
    /// ends with [`SubscriptionError::Lagged`]; it also ends when the cluster stays
    /// unreachable for [`BrokerOptions::kafka_retry_deadline`].
    ///
    /// # Errors
    ///
    /// As for [`kafka_publish`](Self::kafka_publish), within
    /// [`BrokerOptions::subscribe_timeout`].
    pub async fn kafka_subscribe_latest(
        &self,
        brokers: &str,
        topic: &str,
        buffer: usize,
    ) -> Result<Subscription, PublishError> {
        let shared = Arc::clone(&self.inner.shared);
        let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
        self.run(Box::pin(async move {
            let slot = shared.kafka.slot(&brokers);
            let work = kafka::subscribe_latest(
                &slot,
                &brokers,
                &shared.options,
                &shared.counters,
                topic,
                buffer,
            );
            let result = tokio::time::timeout(shared.options.subscribe_timeout, work)
                .await
                .unwrap_or(Err(PublishError::Timeout));
            shared.note(&slot.health, result.as_ref().err());
            result
        }))
        .await
    }

    /// The counters so far.
    pub fn stats(&self) -> BrokerStats {
        self.inner.shared.counters.snapshot()
    }

    /// Runs `work` on the broker runtime and waits for it; dropping the returned future
    /// aborts the work.
    /// Runs `work` on the broker runtime. Boxed by the caller: the publish futures are
    /// several KiB, and a future passed by value is copied at every layer that holds it
    /// (measured: 12% of a NATS publish route's CPU in `memmove` before this).
    async fn run<T>(
        &self,
        work: std::pin::Pin<Box<dyn Future<Output = Result<T, PublishError>> + Send + 'static>>,
    ) -> Result<T, PublishError>
    where
        T: Send + 'static,
    {
        let task = AbortOnDrop(self.inner.handle.spawn(work));
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(PublishError::Unavailable(
                "the broker task panicked".to_owned(),
            )),
            Err(_) => Err(PublishError::Unavailable(
                "the broker runtime stopped".to_owned(),
            )),
        }
    }
}

impl Shared {
    /// Counts a publish and feeds the endpoint's outage state.
    fn record(&self, health: &stats::Health, result: &Result<Ack, PublishError>) {
        match result {
            Ok(_) => self.counters.published(),
            Err(_) => self.counters.failed(),
        }
        self.note(health, result.as_ref().err());
    }

    fn note(&self, health: &stats::Health, error: Option<&PublishError>) {
        match error {
            None => health.ok(),
            Some(error) => health.failed(error),
        }
    }
}

/// A spawned task's handle that aborts the task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
