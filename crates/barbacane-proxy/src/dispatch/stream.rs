//! AsyncAPI `receive` operations dispatched by `nats` or `kafka`: the client subscribes with
//! `GET` and `Accept: text/event-stream`, and each broker message that matches one of the
//! operation's message schemas is forwarded as a Server-Sent Event (`id`, `event` = the
//! message's name, `data` = the payload, one `data:` line per payload line).
//!
//! Native rather than a WASM dispatcher: a plugin call answers once, a stream does not end.
//! The subscription is made before the response starts (an unreachable broker is a 503, not
//! an empty stream). Memory per subscriber is bounded twice: the subscription holds at most
//! [`SUBSCRIPTION_BUFFER`] messages and the response at most `FRAME_BUFFER` frames; a
//! client that reads slower than messages arrive fills both (the subscription reports that
//! it lagged, or a frame waits more than `SLOW_CLIENT` for room) and the stream ends: a
//! slow client is disconnected, never allowed to grow memory. Messages that match no schema are skipped and counted, never forwarded.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use barbacane_artifact::EventOperation;
use barbacane_validator::MessageValidator;

use super::DispatchRequest;
use crate::body::Body;
use crate::error::GatewayError;

/// Messages a subscription holds for its client at most.
pub const SUBSCRIPTION_BUFFER: usize = 256;
/// Frames the response holds at most.
const FRAME_BUFFER: usize = 16;
/// How long a frame may wait for room in a full response buffer before the client is
/// considered too slow and disconnected (meanwhile the subscription buffers, up to
/// [`SUBSCRIPTION_BUFFER`]).
const SLOW_CLIENT: Duration = Duration::from_secs(5);
/// A comment line sent when nothing else was for this long, so idle streams survive
/// proxies and load balancers that close silent connections.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the event streams of this process did, for `/_admin/metrics`.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Streams open now.
    pub subscribers: AtomicU64,
    /// Messages forwarded.
    pub forwarded: AtomicU64,
    /// Messages skipped: their payload matched no message schema.
    pub invalid: AtomicU64,
    /// Streams ended because the client read too slowly.
    pub lagged: AtomicU64,
}

/// The process's stream counters.
pub fn stats() -> &'static StreamStats {
    static STATS: std::sync::OnceLock<StreamStats> = std::sync::OnceLock::new();
    STATS.get_or_init(StreamStats::default)
}

#[derive(Debug)]
enum Source {
    Nats { url: String, subject: String },
    Kafka { brokers: String, topic: String },
}

/// One `receive` route's stream.
#[derive(Debug)]
pub(crate) struct EventStream {
    source: Source,
    validator: Arc<MessageValidator>,
}

impl EventStream {
    /// The stream of a `receive` operation dispatched by `nats` or `kafka`; `None` for any
    /// other dispatcher (it is then dispatched as usual).
    pub(crate) fn build(
        dispatcher: &str,
        config: &Value,
        event: &EventOperation,
        definitions: &std::collections::BTreeMap<String, Value>,
    ) -> Option<Result<EventStream, String>> {
        let text = |key: &str| -> Result<String, String> {
            config
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("`{dispatcher}` stream: `{key}` is missing"))
        };
        let source = match dispatcher {
            "nats" => text("url").and_then(|url| {
                Ok(Source::Nats {
                    url,
                    subject: text("subject")?,
                })
            }),
            "kafka" => text("brokers").and_then(|brokers| {
                Ok(Source::Kafka {
                    brokers,
                    topic: text("topic")?,
                })
            }),
            _ => return None,
        };
        Some(source.and_then(|source| {
            let validator = MessageValidator::new(
                event
                    .messages
                    .iter()
                    .map(|m| (m.name.as_str(), m.schema.as_ref())),
                definitions,
            )
            .map_err(|e| e.to_string())?;
            Ok(EventStream {
                source,
                validator: Arc::new(validator),
            })
        }))
    }

    pub(crate) async fn dispatch(
        &self,
        request: DispatchRequest<'_>,
    ) -> Result<Response<Body>, GatewayError> {
        let accepts = request
            .parts
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|range| {
                let media = range.split(';').next().unwrap_or_default().trim();
                media.eq_ignore_ascii_case("text/event-stream")
            });
        if !accepts {
            return Err(GatewayError::NotAcceptable(
                "the route streams text/event-stream".into(),
            ));
        }
        let brokers = super::brokers::brokers().map_err(GatewayError::Internal)?;
        let params = request.params;
        let subscription = match &self.source {
            Source::Nats { url, subject } => {
                let subject = render(subject, |n| params(n))?;
                brokers
                    .nats_subscribe(url, &subject, SUBSCRIPTION_BUFFER)
                    .await
            }
            Source::Kafka {
                brokers: list,
                topic,
            } => {
                let topic = render(topic, |n| params(n))?;
                brokers
                    .kafka_subscribe_latest(list, &topic, SUBSCRIPTION_BUFFER)
                    .await
            }
        }
        .map_err(|e| GatewayError::BrokerUnavailable(e.to_string()))?;
        let (frames, receiver) = tokio::sync::mpsc::channel(FRAME_BUFFER);
        let validator = Arc::clone(&self.validator);
        tokio::spawn(forward(subscription, validator, frames));
        let mut response = Response::new(Body::Events(receiver));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Tells nginx-style buffering proxies to pass events on as they come.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        Ok(response)
    }
}

/// `{name}` replaced by the route's template variable `name`.
fn render<'p>(
    template: &str,
    params: impl Fn(&str) -> Option<&'p str>,
) -> Result<String, GatewayError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(GatewayError::Internal(format!(
                "`{template}`: `{{` without `}}`"
            )));
        };
        let name = &after[..close];
        let value = params(name).ok_or_else(|| {
            GatewayError::Internal(format!("`{template}` names `{name}`, not a path parameter"))
        })?;
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One subscriber's task: broker messages in, SSE frames out, until the client goes away,
/// the subscription ends or the client lags.
async fn forward(
    mut subscription: barbacane_events::Subscription,
    validator: Arc<MessageValidator>,
    frames: tokio::sync::mpsc::Sender<Bytes>,
) {
    let counters = stats();
    counters.subscribers.fetch_add(1, Ordering::Relaxed);
    // The stream starts with a comment, so the client knows it is subscribed.
    if frames
        .send(Bytes::from_static(b": subscribed\n\n"))
        .await
        .is_ok()
    {
        loop {
            let next = tokio::time::timeout(KEEP_ALIVE, subscription.next());
            let frame = tokio::select! {
                () = frames.closed() => break,
                next = next => match next {
                    Err(_) => Bytes::from_static(b": keep-alive\n\n"),
                    Ok(None) => break,
                    Ok(Some(Err(barbacane_events::SubscriptionError::Lagged { .. }))) => {
                        counters.lagged.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Ok(Some(Err(_))) => break,
                    Ok(Some(Ok(event))) => match validator.classify(&event.payload) {
                        Some(name) => {
                            counters.forwarded.fetch_add(1, Ordering::Relaxed);
                            frame(&event.id, name, &event.payload)
                        }
                        None => {
                            counters.invalid.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    },
                },
            };
            // A response buffer that stays full is a client that reads too slowly: drop it.
            match tokio::time::timeout(SLOW_CLIENT, frames.send(frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    counters.lagged.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    counters.subscribers.fetch_sub(1, Ordering::Relaxed);
}

/// One Server-Sent Event. Field values never hold a line break (the `id` and name come from
/// the broker and the spec: breaks are dropped), and the payload is split into `data:` lines
/// so that a multi-line payload survives.
fn frame(id: &str, name: &str, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + id.len() + name.len() + 32);
    let mut field = |key: &[u8], value: &[u8]| {
        out.put_slice(key);
        out.put_slice(b": ");
        out.extend(value.iter().copied().filter(|b| *b != b'\n' && *b != b'\r'));
        out.put_u8(b'\n');
    };
    field(b"id", id.as_bytes());
    field(b"event", name.as_bytes());
    let text = String::from_utf8_lossy(payload);
    for line in text.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.trim_end_matches('\r').as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_one_event_each() {
        assert_eq!(
            &frame("0-7", "placed", b"{\"a\":1}")[..],
            b"id: 0-7\nevent: placed\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(
            &frame("1\n2", "m", b"line1\r\nline2")[..],
            b"id: 12\nevent: m\ndata: line1\ndata: line2\n\n"
        );
    }

    #[test]
    fn subjects_take_path_parameters() {
        let params = |n: &str| (n == "region").then_some("eu");
        assert_eq!(render("orders.{region}.>", params).unwrap(), "orders.eu.>");
        assert!(render("orders.{nope}", params).is_err());
    }
}
