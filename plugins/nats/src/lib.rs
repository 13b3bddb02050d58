//! `nats`: publishes the request body to a NATS subject and answers once the server has it.
//!
//! Config (keys of the reference implementation, then ours):
//! - `url` (required): the server, e.g. `nats://127.0.0.1:4222`; connections are pooled by
//!   the gateway per URL and shared by every route.
//! - `subject` (required): a literal subject, `{name}` for the route's template variables
//!   (`events.{orderId}`), or `$request.header.NAME` / `$request.path.NAME`.
//! - `ack_response` `{body, headers, status}`: the answer after the acknowledgement (`202
//!   {"status":"accepted"}` by default).
//! - `headers_from_request`: request headers copied onto the message (the request's
//!   `Content-Type` always is).
//! - `jetstream` (false): publish through JetStream and wait for the stream's
//!   acknowledgement (`stream` and `sequence` are then added to an object `ack_response`
//!   body); without it, a core publish confirmed by a round trip to the server.
//! - `timeout_ms` (5000): how long to wait for the server.
//!
//! A server that cannot be reached, or does not answer in time: `503
//! urn:barbacane:error:broker-unavailable` with `Retry-After: 1`; a JetStream publish no
//! stream captures: `502 urn:barbacane:error:broker-rejected`.

use barbacane_plugin_sdk::events::{self, NatsMessage};
use barbacane_plugin_sdk::log;
use barbacane_plugin_sdk::prelude::*;
use event_dispatch::{AckResponse, Template, failure, forwarded_headers, missing};
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_dispatcher]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nats {
    url: String,
    subject: String,
    #[serde(default)]
    ack_response: AckResponse,
    #[serde(default)]
    headers_from_request: Vec<String>,
    #[serde(default)]
    jetstream: bool,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(skip)]
    template: Option<Template>,
}

fn default_timeout_ms() -> u64 {
    5000
}

impl Dispatcher for Nats {
    fn init(&mut self) -> Result<(), String> {
        if !self.url.starts_with("nats://") && !self.url.starts_with("tls://") {
            return Err(format!("url `{}` is not a nats:// or tls:// URL", self.url));
        }
        let template = Template::parse(&self.subject).map_err(|e| format!("subject {e}"))?;
        if template.is_constant() && !valid_subject(&self.subject) {
            return Err(format!("`{}` is not a valid NATS subject", self.subject));
        }
        self.template = Some(template);
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err("timeout_ms must be between 1 and 60000".into());
        }
        Ok(())
    }

    fn dispatch(&mut self, request: &mut Request) -> OutgoingResponse {
        let Some(template) = &self.template else {
            return event_dispatch::misconfigured("the plugin was not initialized");
        };
        let subject = match template.render(request) {
            Ok(s) => s,
            Err(what) => return missing(&what),
        };
        if !valid_subject(&subject) {
            return missing("valid value for the NATS subject");
        }
        let message = NatsMessage {
            url: self.url.clone(),
            subject,
            headers: forwarded_headers(request, &self.headers_from_request),
            jetstream: self.jetstream,
            timeout_ms: Some(self.timeout_ms),
            payload: request.body().unwrap_or_default(),
        };
        match events::nats_publish(&message) {
            Ok(ack) => self.ack_response.respond(&ack, self.jetstream),
            Err(e) => {
                log::warn(&format!("publishing to NATS failed: {e}"));
                failure("NATS", &e)
            }
        }
    }
}

/// A publishable subject: tokens separated by `.`, none empty, no whitespace and no
/// wildcard (`*`, `>`).
fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token != "*"
                && token != ">"
                && !token.bytes().any(|b| b.is_ascii_whitespace())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use barbacane_plugin_sdk::events::{Ack, PublishError, PublishErrorKind};
    use barbacane_plugin_sdk::testing::{FakeHost, dispatcher_from};
    use serde_json::{Value, json};

    fn plugin(config: Value) -> Nats {
        dispatcher_from(&config).unwrap()
    }

    #[test]
    fn publishes_the_body_with_forwarded_headers_and_acknowledges() {
        let mut nats = plugin(json!({
            "url": "nats://127.0.0.1:4222",
            "subject": "orders.{region}",
            "headers_from_request": ["X-Tenant"],
        }));
        let mut host = FakeHost::new();
        host.path_param("region", "eu")
            .header("x-tenant", "acme")
            .header("content-type", "application/json")
            .body(br#"{"id":1}"#)
            .nats(|_, _| Ok(Ack::default()));
        let r = host.dispatch(&mut nats);
        assert_eq!(r.status, 202);
        assert_eq!(r.body, br#"{"status":"accepted"}"#);
        let published = host.published();
        assert_eq!(published.len(), 1);
        let (broker, head, payload) = &published[0];
        assert_eq!(*broker, "nats");
        assert_eq!(head["subject"], "orders.eu");
        assert_eq!(head["url"], "nats://127.0.0.1:4222");
        assert_eq!(head["jetstream"], false);
        assert_eq!(head["timeout_ms"], 5000);
        assert_eq!(
            head["headers"],
            json!([["x-tenant", "acme"], ["content-type", "application/json"]])
        );
        assert_eq!(payload, br#"{"id":1}"#);
    }

    #[test]
    fn jetstream_acknowledgements_carry_the_sequence() {
        let mut nats = plugin(json!({
            "url": "nats://n:4222", "subject": "s", "jetstream": true,
            "ack_response": {"body": {"ok": true}, "headers": {"x-a": "b"}}
        }));
        let mut host = FakeHost::new();
        host.nats(|_, _| {
            Ok(Ack {
                stream: Some("ORDERS".into()),
                sequence: Some(7),
                ..Ack::default()
            })
        });
        let r = host.dispatch(&mut nats);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"ok": true, "stream": "ORDERS", "sequence": 7}));
        assert!(r.headers.contains(&("x-a".into(), "b".into())));
    }

    #[test]
    fn broker_failures_are_problems() {
        let mut nats = plugin(json!({"url": "nats://n:4222", "subject": "s"}));
        let mut host = FakeHost::new();
        host.nats(|_, _| {
            Err(PublishError {
                kind: PublishErrorKind::Unavailable,
                message: "connection refused".into(),
            })
        });
        let r = host.dispatch(&mut nats);
        assert_eq!(r.status, 503);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "urn:barbacane:error:broker-unavailable");
    }

    #[test]
    fn subjects_from_headers_must_be_present_and_valid() {
        let mut nats =
            plugin(json!({"url": "nats://n:4222", "subject": "$request.header.X-Topic"}));
        let mut host = FakeHost::new();
        host.nats(|_, _| Ok(Ack::default()));
        assert_eq!(host.dispatch(&mut nats).status, 400);
        host.next_request().header("x-topic", "a.>");
        assert_eq!(host.dispatch(&mut nats).status, 400);
        host.next_request().header("x-topic", "a.b");
        assert_eq!(host.dispatch(&mut nats).status, 202);
    }

    #[test]
    fn bad_configurations_are_refused() {
        for config in [
            json!({"url": "http://n", "subject": "s"}),
            json!({"url": "nats://n", "subject": "a..b"}),
            json!({"url": "nats://n", "subject": "a.{x"}),
            json!({"url": "nats://n", "subject": "s", "timeout_ms": 0}),
            json!({"url": "nats://n", "subject": "s", "unknown": 1}),
        ] {
            assert!(dispatcher_from::<Nats>(&config).is_err(), "{config}");
        }
    }
}
