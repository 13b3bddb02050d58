//! Run plugin logic natively, without a gateway (not available on `wasm32`).
//!
//! [`FakeHost`] plays the gateway's part: it holds one request (and optionally a
//! response) that the SDK's accessors read and write, records logs, context and outbound
//! calls, answers outbound HTTP with a closure, and keeps the rate limiter's counters
//! ([`crate::ratelimit`]) on its own clock. It lives in a thread-local, so each test thread
//! has its own; creating a `FakeHost` resets it, and [`FakeHost::next_request`] starts
//! another request on the same host (counters, clock, logs and handlers kept).
//!
//! ```
//! use barbacane_plugin_sdk::prelude::*;
//! use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
//!
//! #[barbacane_middleware]
//! #[derive(serde::Deserialize)]
//! struct Tag {
//!     value: String,
//! }
//!
//! impl Middleware for Tag {
//!     fn on_request(&mut self, request: &mut Request) -> Action {
//!         request.set_header("x-tag", &self.value).unwrap();
//!         Action::Continue
//!     }
//! }
//!
//! let mut plugin: Tag = middleware_from(&serde_json::json!({"value": "blue"})).unwrap();
//! let mut host = FakeHost::new();
//! assert_eq!(host.on_request(&mut plugin), Action::Continue);
//! assert_eq!(host.request_header("x-tag").as_deref(), Some("blue"));
//! assert!(middleware_from::<Tag>(&serde_json::json!({})).is_err());
//! ```

use std::marker::PhantomData;

use crate::host::fake::{FakeResponse, STATE, State};
use crate::http::{HttpError, HttpRequest, HttpResponse};
use crate::{Action, Dispatcher, Middleware, OutgoingResponse, Request, Response};

/// The peer address a fresh request comes from.
const DEFAULT_CLIENT_IP: &str = "127.0.0.1";

/// The gateway, faked for one test thread.
#[derive(Debug)]
pub struct FakeHost {
    // The state is thread-local: keep the handle on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost::new()
    }
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with_borrow_mut(f)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A span a plugin recorded: name, attributes, whether it ended.
pub type RecordedSpan = (String, Vec<(String, String)>, bool);

/// Builds a middleware from a configuration as the gateway does: deserialize, then `init`.
pub fn middleware_from<M>(config: &serde_json::Value) -> Result<M, String>
where
    M: Middleware + serde::de::DeserializeOwned,
{
    build(config, M::init)
}

/// Builds a dispatcher from a configuration as the gateway does.
pub fn dispatcher_from<D>(config: &serde_json::Value) -> Result<D, String>
where
    D: Dispatcher + serde::de::DeserializeOwned,
{
    build(config, D::init)
}

fn build<T: serde::de::DeserializeOwned>(
    config: &serde_json::Value,
    init: fn(&mut T) -> Result<(), String>,
) -> Result<T, String> {
    let mut slot = None;
    let bytes = config.to_string();
    match crate::__private::init_from(&mut slot, bytes.as_bytes(), init) {
        0 => slot.ok_or_else(|| "init produced no plugin".to_owned()),
        _ => Err(with(|s| text(&s.output))),
    }
}

impl FakeHost {
    /// A fresh host holding `GET /` from `127.0.0.1`, with no headers, no body and no
    /// response; the clock reads `1_700_000_000_000` (ms), the rate limiter is up and empty.
    pub fn new() -> FakeHost {
        with(|s| {
            *s = State {
                method: "GET".into(),
                path: "/".into(),
                now_ms: 1_700_000_000_000,
                client_ip: Some(DEFAULT_CLIENT_IP.into()),
                ..State::default()
            }
        });
        FakeHost {
            _not_send: PhantomData,
        }
    }

    /// Starts another request on the same host: the request, the response, the context and
    /// the peer address are those of [`FakeHost::new`] again; the clocks, the rate limiter
    /// (its counters and availability), the logs, secrets, the HTTP handler and the
    /// recorded calls are kept, as they are in a gateway from one request to the next.
    ///
    /// ```
    /// use barbacane_plugin_sdk::{context, ratelimit};
    /// # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
    /// host.header("x-tenant", "acme").context("seen", "yes");
    /// assert_eq!(ratelimit::take("k", 2, 1_000).unwrap().remaining, 1);
    /// host.next_request();
    /// assert_eq!(host.request_header("x-tenant"), None);
    /// assert_eq!(context::get("seen"), None);
    /// assert_eq!(ratelimit::take("k", 2, 1_000).unwrap().remaining, 0);
    /// ```
    pub fn next_request(&mut self) -> &mut Self {
        with(|s| {
            let old = std::mem::take(s);
            *s = State {
                method: "GET".into(),
                path: "/".into(),
                client_ip: Some(DEFAULT_CLIENT_IP.into()),
                // What outlives a request in a gateway.
                logs: old.logs,
                now_ms: old.now_ms,
                monotonic_ns: old.monotonic_ns,
                random_seed: old.random_seed,
                buffered_bodies: old.buffered_bodies,
                cache: old.cache,
                cache_down: old.cache_down,
                hit_rule: old.hit_rule,
                host_policy: old.host_policy,
                secrets: old.secrets,
                http: old.http,
                http_calls: old.http_calls,
                detached: old.detached,
                detached_full: old.detached_full,
                nats: old.nats,
                kafka: old.kafka,
                published: old.published,
                ratelimit_down: old.ratelimit_down,
                buckets: old.buckets,
                ratelimit_takes: old.ratelimit_takes,
                verifier: old.verifier,
                bcrypt: old.bcrypt,
                ..State::default()
            }
        });
        self
    }

    /// Sets the request method.
    pub fn method(&mut self, method: &str) -> &mut Self {
        with(|s| s.method = method.to_owned());
        self
    }

    /// Sets the request path.
    pub fn path(&mut self, path: &str) -> &mut Self {
        with(|s| s.path = path.to_owned());
        self
    }

    /// Sets a template variable of the matched route (`Request::path_param`).
    pub fn path_param(&mut self, name: &str, value: &str) -> &mut Self {
        with(|s| s.path_params.push((name.to_owned(), value.to_owned())));
        self
    }

    /// Sets the query string (without `?`).
    pub fn query(&mut self, query: &str) -> &mut Self {
        with(|s| s.query = Some(query.to_owned()));
        self
    }

    /// Adds a request header value.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        with(|s| {
            s.headers
                .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        });
        self
    }

    /// Makes the request body visible to the plugin.
    pub fn body(&mut self, body: &[u8]) -> &mut Self {
        with(|s| s.body = Some(body.to_vec()));
        self
    }

    /// Sets a context value, as an earlier plugin would.
    pub fn context(&mut self, key: &str, value: &str) -> &mut Self {
        with(|s| s.context.insert(key.to_owned(), value.to_owned()));
        self
    }

    /// Sets the clock (`clock::now_ms`).
    pub fn now_ms(&mut self, now: i64) -> &mut Self {
        with(|s| s.now_ms = now);
        self
    }

    /// Moves both clocks (`clock::now_ms`, `clock::monotonic_ns`) forward by `ms`
    /// milliseconds (backward when negative).
    pub fn advance_ms(&mut self, ms: i64) -> &mut Self {
        with(|s| {
            s.now_ms = s.now_ms.saturating_add(ms);
            s.monotonic_ns = s.monotonic_ns.saturating_add(ms.saturating_mul(1_000_000));
        });
        self
    }

    /// Sets the peer address [`Request::client_ip`] reports (`127.0.0.1` by default).
    pub fn client_ip(&mut self, ip: &str) -> &mut Self {
        with(|s| s.client_ip = Some(ip.to_owned()));
        self
    }

    /// Makes the peer address unknown ([`Request::client_ip`] is `None`).
    pub fn unknown_client_ip(&mut self) -> &mut Self {
        with(|s| s.client_ip = None);
        self
    }

    /// Takes the rate limiter down (`false`: every take answers
    /// [`crate::ratelimit::RateLimitError::Unavailable`] and counts nothing) or brings it back
    /// (`true`, the default) with the counters it had.
    pub fn ratelimit_available(&mut self, available: bool) -> &mut Self {
        with(|s| s.ratelimit_down = !available);
        self
    }

    /// Makes a secret reference resolvable.
    pub fn secret(&mut self, reference: &str, value: &str) -> &mut Self {
        with(|s| {
            s.secrets
                .insert(reference.to_owned(), value.as_bytes().to_vec())
        });
        self
    }

    /// Answers outbound HTTP calls with `handler`.
    pub fn http(
        &mut self,
        handler: impl FnMut(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
    ) -> &mut Self {
        with(|s| s.http = Some(Box::new(handler)));
        self
    }

    /// Acknowledges NATS publishes with `broker(head, payload)` (the head is the JSON the
    /// plugin sent: `url`, `subject`, `headers`, `jetstream`, `timeout_ms`).
    pub fn nats(
        &mut self,
        broker: impl FnMut(
            &serde_json::Value,
            &[u8],
        ) -> Result<crate::events::Ack, crate::events::PublishError>
        + 'static,
    ) -> &mut Self {
        with(|s| s.nats = Some(Box::new(broker)));
        self
    }

    /// Acknowledges Kafka publishes with `broker(head, payload)` (the head: `brokers`,
    /// `topic`, `key`, `headers`, `timeout_ms`).
    pub fn kafka(
        &mut self,
        broker: impl FnMut(
            &serde_json::Value,
            &[u8],
        ) -> Result<crate::events::Ack, crate::events::PublishError>
        + 'static,
    ) -> &mut Self {
        with(|s| s.kafka = Some(Box::new(broker)));
        self
    }

    /// Every publish so far: broker (`nats` or `kafka`), the JSON head, the payload.
    pub fn published(&self) -> Vec<(&'static str, serde_json::Value, Vec<u8>)> {
        with(|s| s.published.clone())
    }

    /// Answers `crypto::verify` with `verifier(alg, jwk, msg, sig)` (the gateway checks
    /// signatures natively; a test decides what is valid, or calls a real implementation).
    pub fn crypto_verifier(
        &mut self,
        verifier: impl FnMut(&str, &[u8], &[u8], &[u8]) -> Result<bool, String> + 'static,
    ) -> &mut Self {
        with(|s| s.verifier = Some(Box::new(verifier)));
        self
    }

    /// Answers `crypto::bcrypt_verify` with `checker(password, hash)` (the gateway checks
    /// bcrypt natively; a test calls a real implementation).
    pub fn bcrypt_checker(
        &mut self,
        checker: impl FnMut(&[u8], &[u8]) -> Result<bool, String> + 'static,
    ) -> &mut Self {
        with(|s| s.bcrypt = Some(Box::new(checker)));
        self
    }

    /// Answers `policy::eval` with `evaluator(policy, rule, input)`, `input` being the full
    /// input the gateway would evaluate (the plugin's object plus the `request` and
    /// `context` members it asked for). A test can run a real Rego engine in it.
    pub fn policy_evaluator(
        &mut self,
        evaluator: impl FnMut(
            &str,
            &str,
            &serde_json::Value,
        ) -> Result<Option<serde_json::Value>, String>
        + 'static,
    ) -> &mut Self {
        with(|s| s.policy = Some(Box::new(evaluator)));
        self
    }

    /// Every `policy::eval` so far: policy, rule, and the full input.
    pub fn policy_calls(&self) -> Vec<(String, String, serde_json::Value)> {
        with(|s| s.policy_calls.clone())
    }

    /// Sets the response `on_response` will see (as a dispatcher would have produced).
    pub fn response(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> &mut Self {
        with(|s| {
            s.response = Some(FakeResponse {
                status,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
                    .collect(),
                body: Some(body.to_vec()),
            })
        });
        self
    }

    /// Runs `on_request`. A `Respond` is also written into the host's response, as the
    /// gateway does.
    pub fn on_request<M: Middleware>(&mut self, plugin: &mut M) -> Action {
        with(|s| s.skip_on_response = false);
        let action = plugin.on_request(&mut Request::host());
        let address = std::ptr::from_mut(plugin) as usize;
        with(|s| {
            if std::mem::take(&mut s.skip_on_response) {
                s.skipped.push(address);
            }
        });
        if let Action::Respond(response) = &action {
            crate::__private::write_response(response);
        }
        action
    }

    /// Runs `on_response` over the response set with [`FakeHost::response`] (an empty 200
    /// when none was), as the gateway does: not at all when this plugin's `on_request` called
    /// [`crate::hooks::skip_on_response`] this request.
    pub fn on_response<M: Middleware>(&mut self, plugin: &mut M) {
        with(|s| {
            s.response.get_or_insert_with(|| FakeResponse {
                status: 200,
                headers: Vec::new(),
                body: Some(Vec::new()),
            });
        });
        let address = std::ptr::from_mut(plugin) as usize;
        if with(|s| s.skipped.contains(&address)) {
            return;
        }
        plugin.on_response(&mut Response::host());
    }

    /// What the gateway does after the `on_response` chain: adds the rate-limit members
    /// reported this request ([`crate::ratelimit::report`]) to the response, latest first,
    /// each field as one line joining the values already there.
    pub fn finish(&mut self) {
        with(|s| {
            let reports = std::mem::take(&mut s.ratelimit_reports);
            if reports.is_empty() {
                return;
            }
            let response = s.response.get_or_insert_with(|| FakeResponse {
                status: 200,
                headers: Vec::new(),
                body: Some(Vec::new()),
            });
            for (name, pick) in [("ratelimit-policy", 0usize), ("ratelimit", 1usize)] {
                let mut members: Vec<String> = response
                    .headers
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                members.extend(
                    reports
                        .iter()
                        .rev()
                        .map(|r| if pick == 0 { r.0.clone() } else { r.1.clone() }),
                );
                response.headers.retain(|(n, _)| n != name);
                response
                    .headers
                    .push((name.to_owned(), members.join(", ").into_bytes()));
            }
        });
    }

    /// The rate-limit members reported this request and not yet added by
    /// [`FakeHost::finish`]: (policy member, limit member), in report order.
    pub fn ratelimit_reports(&self) -> Vec<(String, String)> {
        with(|s| s.ratelimit_reports.clone())
    }

    /// Runs `dispatch`.
    pub fn dispatch<D: Dispatcher>(&mut self, plugin: &mut D) -> OutgoingResponse {
        plugin.dispatch(&mut Request::host())
    }

    /// Makes the response cache unavailable (lookups miss, stores fail) or available again.
    pub fn cache_available(&mut self, available: bool) -> &mut Self {
        with(|s| s.cache_down = !available);
        self
    }

    /// The key rule the plugin declared with [`crate::cache::serve_hits`] (its JSON), if any.
    pub fn hit_rule(&self) -> Option<String> {
        with(|s| s.hit_rule.clone())
    }

    /// The policy the plugin declared with [`crate::ratelimit::host_policy`] (its JSON), if
    /// any. The fake declines it, so the plugin's hooks still decide every request.
    pub fn host_policy(&self) -> Option<String> {
        with(|s| s.host_policy.clone())
    }

    /// How many responses the fake cache holds (expired ones included until looked up).
    pub fn cached_entries(&self) -> usize {
        with(|s| s.cache.len())
    }

    /// What the plugin asked for with [`crate::buffering`] (during `init`): (request bodies,
    /// response bodies).
    pub fn buffered_bodies(&self) -> (bool, bool) {
        with(|s| (s.buffered_bodies & 1 != 0, s.buffered_bodies & 2 != 0))
    }

    /// The request method now.
    pub fn request_method(&self) -> String {
        with(|s| s.method.clone())
    }

    /// The request path now.
    pub fn request_path(&self) -> String {
        with(|s| s.path.clone())
    }

    /// The query string now.
    pub fn request_query(&self) -> Option<String> {
        with(|s| s.query.clone())
    }

    /// The first value of a request header now.
    pub fn request_header(&self, name: &str) -> Option<String> {
        self.request_headers(name).into_iter().next()
    }

    /// Every value of a request header now.
    pub fn request_headers(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        with(|s| {
            s.headers
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| text(v))
                .collect()
        })
    }

    /// The request body now.
    pub fn request_body(&self) -> Option<Vec<u8>> {
        with(|s| s.body.clone())
    }

    /// The response status, if there is a response.
    pub fn response_status(&self) -> Option<u16> {
        with(|s| s.response.as_ref().map(|r| r.status))
    }

    /// The first value of a response header.
    pub fn response_header(&self, name: &str) -> Option<String> {
        self.response_headers(name).into_iter().next()
    }

    /// Every value of a response header.
    pub fn response_headers(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        with(|s| {
            s.response
                .as_ref()
                .map(|r| {
                    r.headers
                        .iter()
                        .filter(|(n, _)| *n == name)
                        .map(|(_, v)| text(v))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The response body.
    pub fn response_body(&self) -> Option<Vec<u8>> {
        with(|s| s.response.as_ref().and_then(|r| r.body.clone()))
    }

    /// A context value.
    pub fn context_value(&self, key: &str) -> Option<String> {
        with(|s| s.context.get(key).cloned())
    }

    /// Counter updates so far: name, labels (`name=value` lines), amount.
    pub fn counters(&self) -> Vec<(String, String, u64)> {
        with(|s| s.counters.clone())
    }

    /// Histogram observations so far: name, labels (`name=value` lines), value.
    pub fn histograms(&self) -> Vec<(String, String, f64)> {
        with(|s| s.histograms.clone())
    }

    /// Spans so far: name, attributes, whether it ended.
    pub fn spans(&self) -> Vec<RecordedSpan> {
        with(|s| s.spans.clone())
    }

    /// Makes the request traced (`telemetry::Span` records) or not (the default).
    pub fn traced(&mut self, traced: bool) -> &mut Self {
        with(|s| s.traced = traced);
        self
    }

    /// What the plugin logged: `(level, message)`, level 0 error .. 3 debug.
    pub fn logs(&self) -> Vec<(i32, String)> {
        with(|s| s.logs.clone())
    }

    /// The requests handed over with `http::send_detached` so far.
    pub fn detached_requests(&self) -> Vec<HttpRequest> {
        with(|s| s.detached.clone())
    }

    /// Makes `http::send_detached` answer that the gateway's queue is full.
    pub fn detached_queue_full(&mut self, full: bool) -> &mut Self {
        with(|s| s.detached_full = full);
        self
    }

    /// The outbound requests made so far (bodies included).
    pub fn http_calls(&self) -> Vec<HttpRequest> {
        with(|s| s.http_calls.clone())
    }

    /// The rate limiter takes made so far, refused ones included: `(key, quota, window_ms)`.
    pub fn ratelimit_takes(&self) -> Vec<(String, u64, u64)> {
        with(|s| {
            s.ratelimit_takes
                .iter()
                .map(|(k, q, w)| (k.clone(), q.unsigned_abs(), w.unsigned_abs()))
                .collect()
        })
    }
}
