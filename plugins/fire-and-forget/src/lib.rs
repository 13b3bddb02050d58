//! `fire-and-forget`: answers the client at once with a configured response and delivers the
//! request to `url` in the background.
//!
//! Config (the reference implementation's keys): `url` (required, `http://` or `https://`),
//! `timeout_ms` (5000: the background request's time limit), `response` `{status (202),
//! headers ({}), content_type ("application/json"), body ("")}`.
//!
//! The background request has the client's method, body and headers (minus `Host`,
//! `Content-Length` and hop-by-hop fields). The gateway bounds the deliveries in flight
//! (1024 per process); past that a request is dropped, never queued without bound. Drops
//! and failed deliveries are counted (`barbacane_background_deliveries_total{outcome}`) and
//! logged; the client's answer is the configured one either way, which is what
//! fire-and-forget means.

use barbacane_plugin_sdk::http::{self, DetachError, HttpRequest};
use barbacane_plugin_sdk::log;
use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The configuration of one use.
#[barbacane_dispatcher]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FireAndForget {
    url: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    response: Answer,
}

/// The answer the client gets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default)]
    body: String,
}

impl Default for Answer {
    fn default() -> Answer {
        Answer {
            status: default_status(),
            headers: BTreeMap::new(),
            content_type: default_content_type(),
            body: String::new(),
        }
    }
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_status() -> u16 {
    202
}

fn default_content_type() -> String {
    "application/json".into()
}

/// Fields that describe one connection, not the request.
const NOT_FORWARDED: [&str; 10] = [
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

impl Dispatcher for FireAndForget {
    fn init(&mut self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!("url `{}` is not an http(s) URL", self.url));
        }
        if !(100..=599).contains(&self.response.status) {
            return Err(format!(
                "response.status {} is not between 100 and 599",
                self.response.status
            ));
        }
        if !(1..=300_000).contains(&self.timeout_ms) {
            return Err("timeout_ms must be between 1 and 300000".into());
        }
        Ok(())
    }

    fn dispatch(&mut self, request: &mut Request) -> OutgoingResponse {
        let mut outbound = HttpRequest::new(&request.method(), &self.url);
        for name in request.header_names() {
            if NOT_FORWARDED.contains(&name.as_str()) {
                continue;
            }
            for value in request.header_values(&name) {
                outbound.headers.push((name.clone(), value));
            }
        }
        outbound.body = request.body().unwrap_or_default();
        outbound.timeout_ms = Some(self.timeout_ms);
        match http::send_detached(&outbound) {
            Ok(()) => {}
            Err(DetachError::QueueFull) => {}
            Err(DetachError::Invalid) => {
                log::warn("the background request could not be built from this request");
            }
        }
        let answer = &self.response;
        let mut response = OutgoingResponse::new(answer.status)
            .header("content-type", answer.content_type.as_str())
            .body(answer.body.clone());
        for (name, value) in &answer.headers {
            response = response.header(name.as_str(), value.as_str());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barbacane_plugin_sdk::testing::{FakeHost, dispatcher_from};
    use serde_json::json;

    #[test]
    fn answers_at_once_and_hands_the_request_over() {
        let mut plugin: FireAndForget = dispatcher_from(&json!({
            "url": "http://backend:3000/ingest",
            "timeout_ms": 2000,
            "response": {"status": 200, "body": "{\"queued\": true}", "headers": {"X-Queue-Status": "accepted"}}
        }))
        .unwrap();
        let mut host = FakeHost::new();
        host.method("POST")
            .header("content-type", "application/json")
            .header("host", "gateway")
            .header("connection", "keep-alive")
            .header("x-event", "a")
            .body(b"{\"event\":\"x\"}");
        let r = host.dispatch(&mut plugin);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"{\"queued\": true}");
        assert!(
            r.headers
                .contains(&("X-Queue-Status".into(), "accepted".into()))
        );
        let sent = host.detached_requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "POST");
        assert_eq!(sent[0].url, "http://backend:3000/ingest");
        assert_eq!(sent[0].timeout_ms, Some(2000));
        assert_eq!(sent[0].body, b"{\"event\":\"x\"}");
        let names: Vec<&str> = sent[0].headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "x-event"]);
    }

    #[test]
    fn defaults_are_an_empty_202_even_when_the_queue_is_full() {
        let mut plugin: FireAndForget =
            dispatcher_from(&json!({"url": "https://audit:9090/log"})).unwrap();
        let mut host = FakeHost::new();
        host.detached_queue_full(true);
        let r = host.dispatch(&mut plugin);
        assert_eq!(r.status, 202);
        assert!(r.body.is_empty());
        assert!(host.detached_requests().is_empty());
    }

    #[test]
    fn bad_configurations_are_refused() {
        for config in [
            json!({}),
            json!({"url": "ftp://x"}),
            json!({"url": "http://x", "response": {"status": 99}}),
            json!({"url": "http://x", "timeout_ms": 0}),
            json!({"url": "http://x", "retries": 3}),
        ] {
            assert!(
                dispatcher_from::<FireAndForget>(&config).is_err(),
                "{config}"
            );
        }
    }
}
