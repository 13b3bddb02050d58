//! NATS: one `async_nats::Client` per URL string, publishing (core or JetStream) and core
//! subscriptions.
//!
//! The client reconnects by itself, forever, and re-subscribes open subscriptions. While it
//! is disconnected a publish fails at once with [`PublishError::Unavailable`] instead of being
//! queued in the client's buffer (a message the caller was told failed should not be sent
//! minutes later); if the loss is not noticed yet, the caller's timeout bounds the wait.
//!
//! Core NATS acknowledges nothing, and async-nats' `flush` only writes to the socket, which
//! succeeds for a while after the server died. So a core publish is confirmed by a
//! [`Barrier`]: a request to a subject nobody listens on, which the server answers ("no
//! responders") after processing everything the connection sent before it. Publishes waiting
//! at the same time share one barrier round trip. This needs a server that answers "no
//! responders" (NATS 2.2 or later) and a client allowed to publish to `_INBOX.>`.

use crate::pool::Slot;
use crate::stats::{Counters, Health};
use crate::subscription::{self, Subscription};
use crate::{Ack, BrokerOptions, Event, NatsMessage, PublishError, SubscriptionError};
use async_nats::client::{PublishErrorKind as CorePublishErrorKind, RequestErrorKind};
use async_nats::connection::State;
use async_nats::jetstream::context::PublishErrorKind as JsPublishErrorKind;
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use futures_util::StreamExt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// A pooled NATS connection, its JetStream context and its barrier.
#[derive(Debug, Clone)]
pub(crate) struct NatsConn {
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    barrier: Barrier,
}

type Confirmation = oneshot::Sender<Result<(), PublishError>>;

/// Confirms that the server has processed what this connection sent: callers queue, one task
/// sends a barrier request for everyone queued so far and answers them all when the server
/// replies; callers arriving meanwhile wait for the next round. A round in flight when the
/// connection drops fails at once (its reply will never come), so it does not hold up the
/// rounds after the reconnection.
#[derive(Debug, Clone)]
struct Barrier {
    queue: mpsc::UnboundedSender<Confirmation>,
}

impl Barrier {
    /// Starts the barrier task of `client` (on the current runtime); it ends with the
    /// connection's last handle. `limit` bounds one round trip; `drops` changes each time the
    /// connection is lost.
    fn start(
        client: async_nats::Client,
        limit: Duration,
        mut drops: watch::Receiver<u64>,
    ) -> Barrier {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Confirmation>();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                // Everyone queued by now sent their message before this barrier goes out.
                let mut round = vec![first];
                while let Ok(next) = waiting.try_recv() {
                    round.push(next);
                }
                drops.borrow_and_update();
                let request = async_nats::Request::new().timeout(Some(limit));
                let outcome = tokio::select! {
                    reply = client.send_request(client.new_inbox(), request) => match reply {
                        Ok(_) => Ok(()),
                        Err(e) => match e.kind() {
                            RequestErrorKind::NoResponders => Ok(()),
                            RequestErrorKind::TimedOut => Err(PublishError::Timeout),
                            _ => Err(PublishError::Unavailable(e.to_string())),
                        },
                    },
                    Ok(()) = drops.changed() => Err(PublishError::Unavailable(
                        "the NATS connection was lost before the server confirmed".to_owned(),
                    )),
                };
                for waiter in round {
                    let _ = waiter.send(outcome.clone());
                }
            }
        });
        Barrier { queue }
    }

    /// Waits until the server has processed everything sent on the connection before this
    /// call.
    async fn confirm(&self) -> Result<(), PublishError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || PublishError::Unavailable("the NATS connection is closed".to_owned());
        self.queue.send(tx).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

/// Connects to `url` (one server, or several separated by commas). Fails at once, without
/// retrying, when no server answers: the next call tries again.
pub(crate) async fn connect(
    url: &str,
    options: &BrokerOptions,
    health: Arc<Health>,
    counters: Arc<Counters>,
) -> Result<NatsConn, PublishError> {
    let servers: Vec<&str> = url.split(',').map(str::trim).collect();
    let lost = Arc::new(AtomicBool::new(false));
    let (dropped, drops) = watch::channel(0u64);
    let slow = Arc::new(AtomicBool::new(false));
    let max_delay = options.nats_max_reconnect_delay;
    let client = async_nats::ConnectOptions::new()
        .name(&options.client_name)
        .connection_timeout(options.connect_timeout)
        .subscription_capacity(options.nats_subscription_capacity)
        .max_reconnects(None)
        .reconnect_delay_callback(move |attempts| reconnect_delay(attempts, max_delay))
        .event_callback(move |event| {
            let (health, counters, lost) = (health.clone(), counters.clone(), lost.clone());
            let (dropped, slow) = (dropped.clone(), slow.clone());
            async move {
                match event {
                    async_nats::Event::Disconnected => {
                        lost.store(true, Ordering::Relaxed);
                        dropped.send_modify(|n| *n += 1);
                        health.down_because("connection lost; reconnecting");
                    }
                    async_nats::Event::Connected => {
                        if lost.swap(false, Ordering::Relaxed) {
                            counters.reconnected();
                        }
                        health.ok();
                    }
                    // Reported per dropped message: warn once per connection.
                    async_nats::Event::SlowConsumer(sid) if first_time(&slow) => {
                        tracing::warn!(
                            target = %health.target(),
                            sid,
                            "NATS subscription dropped messages: the broker runtime is not keeping up (logged once)"
                        );
                    }
                    _ => {}
                }
            }
        })
        .connect(servers.as_slice())
        .await
        .map_err(|e| {
            PublishError::Unavailable(format!("cannot connect to NATS at {}: {e}", crate::stats::redact(url)))
        })?;
    let jetstream = async_nats::jetstream::new(client.clone());
    let barrier = Barrier::start(client.clone(), options.connect_timeout, drops);
    Ok(NatsConn {
        client,
        jetstream,
        barrier,
    })
}

/// Whether `flag` was still down (and raises it).
fn first_time(flag: &AtomicBool) -> bool {
    !flag.swap(true, Ordering::Relaxed)
}

/// No pause before the first attempt, then 2, 4, 8 ... ms up to `max`.
fn reconnect_delay(attempts: usize, max: Duration) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exponent = u32::try_from(attempts - 1).unwrap_or(u32::MAX).min(32);
    Duration::from_millis(2_u64.saturating_pow(exponent)).min(max)
}

async fn conn(
    slot: &Slot<NatsConn>,
    url: &str,
    options: &BrokerOptions,
    counters: &Arc<Counters>,
) -> Result<NatsConn, PublishError> {
    let (conn, _) = slot
        .get(counters, || {
            connect(url, options, slot.health.clone(), counters.clone())
        })
        .await?;
    Ok(conn)
}

/// Publishes `msg`, core (then confirmed by the barrier) or through JetStream (then
/// acknowledged by the stream).
pub(crate) async fn publish(
    slot: &Slot<NatsConn>,
    url: &str,
    options: &BrokerOptions,
    counters: &Arc<Counters>,
    msg: NatsMessage,
) -> Result<Ack, PublishError> {
    let conn = conn(slot, url, options, counters).await?;
    if conn.client.connection_state() != State::Connected {
        return Err(PublishError::Unavailable(format!(
            "not connected to NATS at {}",
            slot.health.target()
        )));
    }
    let headers = header_map(&msg.headers)?;
    if msg.jetstream {
        let sent = conn
            .jetstream
            .publish_with_headers(msg.subject, headers, msg.payload)
            .await
            .map_err(jetstream_error)?;
        let ack = sent.await.map_err(jetstream_error)?;
        return Ok(Ack::Nats {
            stream: Some(ack.stream),
            sequence: Some(ack.sequence),
        });
    }
    let sent = if headers.is_empty() {
        conn.client.publish(msg.subject, msg.payload).await
    } else {
        conn.client
            .publish_with_headers(msg.subject, headers, msg.payload)
            .await
    };
    sent.map_err(|e| match e.kind() {
        CorePublishErrorKind::MaxPayloadExceeded | CorePublishErrorKind::InvalidSubject => {
            PublishError::Rejected(e.to_string())
        }
        CorePublishErrorKind::Send => PublishError::Unavailable(e.to_string()),
    })?;
    conn.barrier.confirm().await?;
    Ok(Ack::Nats {
        stream: None,
        sequence: None,
    })
}

fn jetstream_error(e: async_nats::jetstream::context::PublishError) -> PublishError {
    match e.kind() {
        JsPublishErrorKind::StreamNotFound => {
            PublishError::Rejected("no JetStream stream for this subject".to_owned())
        }
        JsPublishErrorKind::TimedOut => PublishError::Timeout,
        JsPublishErrorKind::BrokenPipe => PublishError::Unavailable(e.to_string()),
        JsPublishErrorKind::MaxAckPending => PublishError::Unavailable(e.to_string()),
        JsPublishErrorKind::WrongLastMessageId
        | JsPublishErrorKind::WrongLastSequence
        | JsPublishErrorKind::MaxPayloadExceeded
        | JsPublishErrorKind::Other => PublishError::Rejected(e.to_string()),
    }
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, PublishError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_str(name)
            .map_err(|_| PublishError::Rejected(format!("invalid NATS header name `{name}`")))?;
        // The value is not echoed: header values may be secrets.
        let value = HeaderValue::from_str(value).map_err(|_| {
            PublishError::Rejected(format!("invalid value for NATS header `{name}`"))
        })?;
        map.append(name, value);
    }
    Ok(map)
}

/// A core subscription to `subject`, registered with the server before this returns.
pub(crate) async fn subscribe(
    slot: &Slot<NatsConn>,
    url: &str,
    options: &BrokerOptions,
    counters: &Arc<Counters>,
    subject: String,
    buffer: usize,
) -> Result<Subscription, PublishError> {
    let conn = conn(slot, url, options, counters).await?;
    let mut subscriber = conn
        .client
        .subscribe(subject)
        .await
        .map_err(|e| match e.kind() {
            async_nats::client::SubscribeErrorKind::Other => {
                PublishError::Unavailable(e.to_string())
            }
            _ => PublishError::Rejected(e.to_string()),
        })?;
    // Once confirmed, the server has registered the subscription: anything published after
    // we return reaches it.
    conn.barrier.confirm().await?;
    let (mut feed, pending) = subscription::channel(buffer, counters.clone());
    let task = tokio::spawn(async move {
        let mut sequence: u64 = 0;
        while let Some(message) = subscriber.next().await {
            sequence += 1;
            if !feed.push(event(sequence, message)) {
                return;
            }
        }
        feed.finish(SubscriptionError::Broker(
            "the NATS client closed the subscription".to_owned(),
        ));
    });
    Ok(pending.start(task.abort_handle()))
}

fn event(sequence: u64, message: async_nats::Message) -> Event {
    let mut headers = Vec::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            for value in values {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        // async-nats keeps headers in a hash map: sort by name so the order is stable
        // (values of one name keep their order).
        headers.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Event {
        id: sequence.to_string(),
        subject: message.subject.to_string(),
        headers,
        payload: message.payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_doubles_up_to_the_cap() {
        let max = Duration::from_secs(1);
        assert_eq!(reconnect_delay(1, max), Duration::ZERO);
        assert_eq!(reconnect_delay(2, max), Duration::from_millis(2));
        assert_eq!(reconnect_delay(5, max), Duration::from_millis(16));
        assert_eq!(reconnect_delay(11, max), max);
        assert_eq!(reconnect_delay(usize::MAX, max), max);
    }

    #[test]
    fn invalid_headers_are_rejected_without_echoing_values() {
        let err = header_map(&[("ok".into(), "bad\r\nvalue-secret".into())]).unwrap_err();
        assert!(
            matches!(&err, PublishError::Rejected(m) if !m.contains("secret")),
            "{err}"
        );
        assert!(header_map(&[("bad name:".into(), "v".into())]).is_err());
        let map = header_map(&[("a".into(), "1".into()), ("a".into(), "2".into())]).unwrap();
        assert_eq!(map.get_all("a").count(), 2);
    }
}
