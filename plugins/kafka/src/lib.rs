//! `kafka`: produces the request body to a Kafka topic (`acks=all`) and answers once the
//! record is acknowledged.
//!
//! Config (keys of the reference implementation, then ours):
//! - `brokers` (required): bootstrap brokers, `host:port` comma-separated; producers are
//!   pooled by the gateway per broker list and shared by every route.
//! - `topic` (required): a literal topic, or `{name}` for the route's template variables.
//! - `key`: the record key, `$request.header.NAME`, `$request.path.NAME`, text with `{name}`
//!   or a literal; records with one key land on one partition (the Java client's murmur2
//!   partitioner), records without one are spread.
//! - `ack_response` `{body, headers, status}`: the answer after the acknowledgement (`202
//!   {"status":"accepted"}` by default).
//! - `include_metadata` (false): add `partition` and `offset` to an object `ack_response`
//!   body.
//! - `headers_from_request`: request headers copied onto the record (the request's
//!   `Content-Type` always is).
//! - `timeout_ms` (5000): how long to wait for the acknowledgement.
//!
//! Brokers that cannot be reached, or no acknowledgement in time: `503
//! urn:barbacane:error:broker-unavailable` with `Retry-After: 1`; a record the broker refuses
//! (unknown topic, too large): `502 urn:barbacane:error:broker-rejected`.

use barbacane_plugin_sdk::events::{self, KafkaRecord};
use barbacane_plugin_sdk::log;
use barbacane_plugin_sdk::prelude::*;
use event_dispatch::{AckResponse, Template, failure, forwarded_headers, missing};
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_dispatcher]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    brokers: String,
    topic: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    ack_response: AckResponse,
    #[serde(default)]
    include_metadata: bool,
    #[serde(default)]
    headers_from_request: Vec<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(skip)]
    templates: Option<(Template, Option<Template>)>,
}

fn default_timeout_ms() -> u64 {
    5000
}

/// Kafka's topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn valid_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Dispatcher for Kafka {
    fn init(&mut self) -> Result<(), String> {
        let host_port = |b: &str| {
            b.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        };
        if !self.brokers.split(',').map(str::trim).all(host_port) {
            return Err(format!(
                "brokers `{}` must be host:port, comma-separated",
                self.brokers
            ));
        }
        let topic = Template::parse(&self.topic).map_err(|e| format!("topic {e}"))?;
        if topic.is_constant() && !valid_topic(&self.topic) {
            return Err(format!("`{}` is not a valid Kafka topic name", self.topic));
        }
        let key = self
            .key
            .as_deref()
            .map(Template::parse)
            .transpose()
            .map_err(|e| format!("key {e}"))?;
        self.templates = Some((topic, key));
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err("timeout_ms must be between 1 and 60000".into());
        }
        Ok(())
    }

    fn dispatch(&mut self, request: &mut Request) -> OutgoingResponse {
        let Some((topic, key)) = &self.templates else {
            return event_dispatch::misconfigured("the plugin was not initialized");
        };
        let topic = match topic.render(request) {
            Ok(t) if valid_topic(&t) => t,
            Ok(_) => return missing("valid value for the Kafka topic"),
            Err(what) => return missing(&what),
        };
        let key = match key.as_ref().map(|k| k.render(request)).transpose() {
            Ok(k) => k,
            Err(what) => return missing(&what),
        };
        let record = KafkaRecord {
            brokers: self.brokers.clone(),
            topic,
            key,
            headers: forwarded_headers(request, &self.headers_from_request),
            timeout_ms: Some(self.timeout_ms),
            payload: request.body().unwrap_or_default(),
        };
        match events::kafka_publish(&record) {
            Ok(ack) => self.ack_response.respond(&ack, self.include_metadata),
            Err(e) => {
                log::warn(&format!("producing to Kafka failed: {e}"));
                failure("Kafka", &e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barbacane_plugin_sdk::events::Ack;
    use barbacane_plugin_sdk::testing::{FakeHost, dispatcher_from};
    use serde_json::{Value, json};

    #[test]
    fn produces_with_a_key_from_the_request_and_reports_metadata() {
        let mut kafka: Kafka = dispatcher_from(&json!({
            "brokers": "127.0.0.1:9092",
            "topic": "orders.placed",
            "key": "$request.path.orderId",
            "include_metadata": true,
        }))
        .unwrap();
        let mut host = FakeHost::new();
        host.path_param("orderId", "o-17")
            .body(b"{}")
            .kafka(|_, _| {
                Ok(Ack {
                    partition: Some(1),
                    offset: Some(99),
                    ..Ack::default()
                })
            });
        let r = host.dispatch(&mut kafka);
        assert_eq!(r.status, 202);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({"status": "accepted", "partition": 1, "offset": 99})
        );
        let (broker, head, payload) = host.published().remove(0);
        assert_eq!(broker, "kafka");
        assert_eq!(head["topic"], "orders.placed");
        assert_eq!(head["key"], "o-17");
        assert_eq!(head["brokers"], "127.0.0.1:9092");
        assert_eq!(payload, b"{}");
    }

    #[test]
    fn without_metadata_the_ack_body_is_as_configured() {
        let mut kafka: Kafka = dispatcher_from(&json!({
            "brokers": "k:9092", "topic": "t",
            "ack_response": {"body": {"queued": true}}
        }))
        .unwrap();
        let mut host = FakeHost::new();
        host.kafka(|_, _| {
            Ok(Ack {
                partition: Some(0),
                offset: Some(1),
                ..Ack::default()
            })
        });
        assert_eq!(host.dispatch(&mut kafka).body, br#"{"queued":true}"#);
        // No key configured: none sent.
        assert!(host.published()[0].1.get("key").is_none());
    }

    #[test]
    fn bad_configurations_are_refused() {
        for config in [
            json!({"brokers": "k", "topic": "t"}),
            json!({"brokers": "k:9092,", "topic": "t"}),
            json!({"brokers": "k:9092", "topic": "bad topic"}),
            json!({"brokers": "k:9092", "topic": "t", "key": "{x"}),
            json!({"brokers": "k:9092", "topic": "t", "acks": 1}),
        ] {
            assert!(dispatcher_from::<Kafka>(&config).is_err(), "{config}");
        }
    }
}
