//! `barbacane:nats` and `barbacane:kafka`: `publish(head_ptr, head_len, body_ptr, body_len)
//! -> i32`.
//!
//! The head is JSON: for NATS `{"url", "subject", "headers": [[name, value], ...],
//! "jetstream", "timeout_ms"}`, for Kafka `{"brokers", "topic", "key", "headers",
//! "timeout_ms"}`; the body is the payload. The result slot receives
//! `{"ack": {"stream", "sequence"}}` (NATS) or `{"ack": {"partition", "offset"}}` (Kafka), or
//! `{"error": {"kind", "message"}}` with kind `unavailable`, `timeout`, `rejected` or
//! `invalid`; the function returns the result's length.
//!
//! Like `barbacane:http.call`, the guest waits on its fiber while the broker answers, and the
//! wait does not count against its 100 ms budget.

use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

use crate::events::{
    DEFAULT_PUBLISH_TIMEOUT, KafkaPublish, MAX_PUBLISH_TIMEOUT, NatsPublish, PublishAck,
    PublishError,
};
use crate::memory::read_bytes;
use crate::state::HostState;

#[derive(Clone, Copy)]
enum Broker {
    Nats,
    Kafka,
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>, nats: bool) -> wasmtime::Result<()> {
    let (module, broker) = if nats {
        ("barbacane:nats", Broker::Nats)
    } else {
        ("barbacane:kafka", Broker::Kafka)
    };
    linker.func_wrap_async(
        module,
        "publish",
        move |mut caller: Caller<'_, HostState>, (hptr, hlen, bptr, blen): (i32, i32, i32, i32)| {
            Box::new(async move {
                let head = read_bytes(&mut caller, hptr, hlen)?;
                let body = read_bytes(&mut caller, bptr, blen)?;
                let outcome = match prepare(&caller, broker, &head, body) {
                    Ok(future) => future.await,
                    Err(e) => Err(e),
                };
                let ticks = caller.data().deadline_ticks;
                caller.as_context_mut().set_epoch_deadline(ticks);
                let result = match outcome {
                    Ok(PublishAck::Nats { stream, sequence }) => {
                        json!({"ack": {"stream": stream, "sequence": sequence}})
                    }
                    Ok(PublishAck::Kafka { partition, offset }) => {
                        json!({"ack": {"partition": partition, "offset": offset}})
                    }
                    Err(e) => json!({"error": {"kind": e.kind(), "message": e.message()}}),
                };
                Ok(caller.data_mut().give(result.to_string().into_bytes()))
            })
        },
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct NatsHead {
    url: String,
    subject: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    jetstream: bool,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct KafkaHead {
    brokers: String,
    topic: String,
    key: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    timeout_ms: Option<u64>,
}

fn timeout(ms: Option<u64>) -> Duration {
    ms.map_or(DEFAULT_PUBLISH_TIMEOUT, Duration::from_millis)
        .min(MAX_PUBLISH_TIMEOUT)
}

fn prepare(
    caller: &Caller<'_, HostState>,
    broker: Broker,
    head: &[u8],
    body: Vec<u8>,
) -> Result<crate::events::PublishFuture, PublishError> {
    let state = caller.data();
    if state.in_init {
        return Err(PublishError::Invalid(
            "publishing is not allowed during init".into(),
        ));
    }
    let Some(bus) = state.events.clone() else {
        return Err(PublishError::Invalid(
            "this gateway gives plugins no broker client".into(),
        ));
    };
    let malformed = |e: serde_json::Error| PublishError::Invalid(format!("malformed head: {e}"));
    Ok(match broker {
        Broker::Nats => {
            let h: NatsHead = serde_json::from_slice(head).map_err(malformed)?;
            if h.subject.is_empty() || h.subject.contains([' ', '\t', '\r', '\n']) {
                return Err(PublishError::Invalid(format!(
                    "`{}` is not a NATS subject",
                    h.subject
                )));
            }
            bus.nats_publish(NatsPublish {
                url: h.url,
                subject: h.subject,
                headers: h.headers,
                payload: body.into(),
                jetstream: h.jetstream,
                timeout: timeout(h.timeout_ms),
            })
        }
        Broker::Kafka => {
            let h: KafkaHead = serde_json::from_slice(head).map_err(malformed)?;
            if h.topic.is_empty() {
                return Err(PublishError::Invalid("empty Kafka topic".into()));
            }
            bus.kafka_publish(KafkaPublish {
                brokers: h.brokers,
                topic: h.topic,
                key: h.key.map(String::into_bytes),
                headers: h
                    .headers
                    .into_iter()
                    .map(|(n, v)| (n, v.into_bytes()))
                    .collect(),
                payload: body,
                timeout: timeout(h.timeout_ms),
            })
        }
    })
}
