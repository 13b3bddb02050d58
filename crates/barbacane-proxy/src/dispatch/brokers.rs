//! The broker clients plugins publish through (`barbacane:nats`, `barbacane:kafka`): one
//! [`barbacane_events::Brokers`] per process, created on first use, so connections and
//! producers are pooled per broker set, shared by every route, and outlive reloads.

use std::sync::{Arc, OnceLock};

use barbacane_events::{BrokerOptions, Brokers};
use barbacane_wasm::{
    EventBus, KafkaPublish, NatsPublish, PublishAck, PublishError, PublishFuture,
};

/// The process's broker clients.
pub fn brokers() -> Result<&'static Brokers, String> {
    static BROKERS: OnceLock<Result<Brokers, String>> = OnceLock::new();
    BROKERS
        .get_or_init(|| Brokers::new(BrokerOptions::default()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| format!("cannot start the broker clients: {e}"))
}

/// [`EventBus`] over [`brokers`].
#[derive(Debug)]
pub(crate) struct PluginEventBus {
    brokers: &'static Brokers,
}

impl PluginEventBus {
    pub(crate) fn shared() -> Result<Arc<dyn EventBus>, String> {
        Ok(Arc::new(PluginEventBus {
            brokers: brokers()?,
        }))
    }
}

fn ack(a: barbacane_events::Ack) -> PublishAck {
    match a {
        barbacane_events::Ack::Nats { stream, sequence } => PublishAck::Nats { stream, sequence },
        barbacane_events::Ack::Kafka { partition, offset } => {
            PublishAck::Kafka { partition, offset }
        }
    }
}

fn error(e: barbacane_events::PublishError) -> PublishError {
    match e {
        barbacane_events::PublishError::Unavailable(m) => PublishError::Unavailable(m),
        barbacane_events::PublishError::Timeout => PublishError::Timeout,
        barbacane_events::PublishError::Rejected(m) => PublishError::Rejected(m),
    }
}

impl EventBus for PluginEventBus {
    fn nats_publish(&self, m: NatsPublish) -> PublishFuture {
        let brokers = self.brokers;
        Box::pin(async move {
            let message = barbacane_events::NatsMessage {
                subject: m.subject,
                headers: m.headers,
                payload: m.payload,
                jetstream: m.jetstream,
            };
            brokers
                .nats_publish(&m.url, message, m.timeout)
                .await
                .map(ack)
                .map_err(error)
        })
    }

    fn kafka_publish(&self, r: KafkaPublish) -> PublishFuture {
        let brokers = self.brokers;
        Box::pin(async move {
            let record = barbacane_events::KafkaRecord {
                topic: r.topic,
                key: r.key,
                headers: r.headers,
                payload: r.payload,
            };
            brokers
                .kafka_publish(&r.brokers, record, r.timeout)
                .await
                .map(ack)
                .map_err(error)
        })
    }
}
