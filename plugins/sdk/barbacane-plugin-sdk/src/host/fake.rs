//! The native stand-in for the gateway: one thread-local exchange that the SDK's accessors
//! read and write, driven by [`crate::testing::FakeHost`].

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use super::Side;
use crate::http::{HttpError, HttpRequest, HttpResponse};
use crate::ratelimit;

/// A message's headers: lowercase names, values in order (repeats allowed).
pub(crate) type Headers = Vec<(String, Vec<u8>)>;

/// A signature checker standing in for the gateway's `crypto.verify`.
pub(crate) type Verifier = Box<dyn FnMut(&str, &[u8], &[u8], &[u8]) -> Result<bool, String>>;
pub(crate) type BcryptChecker = Box<dyn FnMut(&[u8], &[u8]) -> Result<bool, String>>;

/// A policy engine standing in for the gateway's `policy.eval`: policy, rule, full input.
pub(crate) type PolicyEvaluator =
    Box<dyn FnMut(&str, &str, &serde_json::Value) -> Result<Option<serde_json::Value>, String>>;

/// A broker standing in for NATS or Kafka: gets the JSON head and the payload.
pub(crate) type BrokerHandler = Box<
    dyn FnMut(&serde_json::Value, &[u8]) -> Result<crate::events::Ack, crate::events::PublishError>,
>;

/// An HTTP handler standing in for the network.
pub(crate) type HttpHandler = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse, HttpError>>;

#[derive(Default)]
pub(crate) struct State {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) path_params: Vec<(String, String)>,
    pub(crate) headers: Headers,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) response: Option<FakeResponse>,
    pub(crate) context: BTreeMap<String, String>,
    pub(crate) output: Vec<u8>,
    pub(crate) logs: Vec<(i32, String)>,
    pub(crate) now_ms: i64,
    pub(crate) monotonic_ns: i64,
    pub(crate) random_seed: u64,
    pub(crate) secrets: BTreeMap<String, Vec<u8>>,
    pub(crate) http: Option<HttpHandler>,
    pub(crate) http_calls: Vec<HttpRequest>,
    /// Requests handed over with `send_detached`.
    pub(crate) detached: Vec<HttpRequest>,
    /// `send_detached` answers "queue full".
    pub(crate) detached_full: bool,
    pub(crate) http_body: Option<Vec<u8>>,
    /// The peer address `barbacane:request.client_ip` reports.
    pub(crate) client_ip: Option<String>,
    /// The rate limiter answers `unavailable`.
    pub(crate) ratelimit_down: bool,
    /// Per key, when each counted unit was taken (`now_ms`), oldest first.
    pub(crate) buckets: BTreeMap<String, VecDeque<i64>>,
    /// Every `ratelimit.take`: key, quota, window in milliseconds.
    pub(crate) ratelimit_takes: Vec<(String, i64, i64)>,
    /// `ratelimit.report`s of this request, in order: (policy member, limit member).
    pub(crate) ratelimit_reports: Vec<(String, String)>,
    /// `core.skip_on_response` was called during the running `on_request`.
    pub(crate) skip_on_response: bool,
    /// The plugins (by address) whose `on_request` asked to skip `on_response` this request.
    pub(crate) skipped: Vec<usize>,
    /// Cached responses: key -> (response, stored at, expires at), in `now_ms`.
    pub(crate) cache: BTreeMap<Vec<u8>, (FakeResponse, i64, i64)>,
    /// Keys a request of this host is filling (released by `store` and `next_request`).
    pub(crate) cache_filling: std::collections::BTreeSet<Vec<u8>>,
    /// The cache answers "unavailable" (every lookup misses, stores fail).
    pub(crate) cache_down: bool,
    /// The key rule `cache.serve_hits` declared (JSON).
    pub(crate) hit_rule: Option<String>,
    /// The policy `ratelimit.host_policy` declared (JSON). The fake records it and declines
    /// (as a gateway without a limiter does), so the plugin's own hooks keep running.
    pub(crate) host_policy: Option<String>,
    /// What `core.buffer_bodies` was asked for (bit 0 request, bit 1 response).
    pub(crate) buffered_bodies: i32,
    /// What `crypto.verify` answers (none installed: an error).
    pub(crate) verifier: Option<Verifier>,
    /// What `crypto.bcrypt_verify` answers (none installed: an error).
    pub(crate) bcrypt: Option<BcryptChecker>,
    /// What `policy.eval` answers (none installed: an error).
    pub(crate) policy: Option<PolicyEvaluator>,
    /// Every `policy.eval`: policy, rule, full input.
    pub(crate) policy_calls: Vec<(String, String, serde_json::Value)>,
    /// The NATS and Kafka stand-ins.
    pub(crate) nats: Option<BrokerHandler>,
    pub(crate) kafka: Option<BrokerHandler>,
    /// Every publish: broker (`nats`, `kafka`), JSON head, payload.
    pub(crate) published: Vec<(&'static str, serde_json::Value, Vec<u8>)>,
    /// Counter updates: name, labels (as encoded), amount.
    pub(crate) counters: Vec<(String, String, u64)>,
    /// Histogram observations: name, labels (as encoded), value.
    pub(crate) histograms: Vec<(String, String, f64)>,
    /// The request is traced (`span_start` records).
    pub(crate) traced: bool,
    /// Spans: name, attributes, ended.
    pub(crate) spans: Vec<crate::testing::RecordedSpan>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FakeResponse {
    pub(crate) status: u16,
    pub(crate) headers: Headers,
    pub(crate) body: Option<Vec<u8>>,
}

thread_local! {
    pub(crate) static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with_borrow_mut(f)
}

/// The gateway's header rules, enough for tests to catch what it would refuse.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}

fn headers_of(state: &mut State, side: Side) -> Option<&mut Headers> {
    match side {
        Side::Request => Some(&mut state.headers),
        Side::Response => state.response.as_mut().map(|r| &mut r.headers),
    }
}

fn response(state: &mut State) -> &mut FakeResponse {
    state.response.get_or_insert_with(|| FakeResponse {
        status: 200,
        headers: Vec::new(),
        body: Some(Vec::new()),
    })
}

pub(crate) fn output(bytes: &[u8]) {
    with(|s| s.output = bytes.to_vec());
}

pub(crate) fn want_bodies(flags: i32) -> bool {
    STATE.with(|s| s.borrow_mut().buffered_bodies |= flags);
    true
}

pub(crate) fn random(buf: &mut [u8]) {
    // Deterministic (xorshift) so tests are repeatable.
    with(|s| {
        for b in buf {
            let mut x = s.random_seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.random_seed = x;
            *b = (x >> 24) as u8;
        }
    });
}

pub(crate) fn log(level: i32, message: &str) {
    with(|s| s.logs.push((level, message.to_owned())));
}

pub(crate) fn context_get(key: &str) -> Option<Vec<u8>> {
    with(|s| s.context.get(key).map(|v| v.clone().into_bytes()))
}

pub(crate) fn context_set(key: &str, value: &str) {
    with(|s| s.context.insert(key.to_owned(), value.to_owned()));
}

pub(crate) fn now_ms() -> i64 {
    with(|s| s.now_ms)
}

pub(crate) fn monotonic_ns() -> i64 {
    with(|s| s.monotonic_ns)
}

pub(crate) fn method() -> Vec<u8> {
    with(|s| s.method.clone().into_bytes())
}

pub(crate) fn path() -> Vec<u8> {
    with(|s| s.path.clone().into_bytes())
}

pub(crate) fn path_param(name: &str) -> Option<Vec<u8>> {
    with(|s| {
        s.path_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone().into_bytes())
    })
}

pub(crate) fn query() -> Option<Vec<u8>> {
    with(|s| s.query.clone().map(String::into_bytes))
}

pub(crate) fn body(side: Side) -> Option<Vec<u8>> {
    with(|s| match side {
        Side::Request => s.body.clone(),
        Side::Response => s.response.as_ref().and_then(|r| r.body.clone()),
    })
}

pub(crate) fn header(side: Side, name: &str, index: usize) -> Option<Vec<u8>> {
    let name = name.to_ascii_lowercase();
    with(|s| {
        headers_of(s, side)?
            .iter()
            .filter(|(n, _)| *n == name)
            .nth(index)
            .map(|(_, v)| v.clone())
    })
}

pub(crate) fn header_count(side: Side, name: &str) -> usize {
    let name = name.to_ascii_lowercase();
    with(|s| headers_of(s, side).map_or(0, |h| h.iter().filter(|(n, _)| *n == name).count()))
}

pub(crate) fn header_names(side: Side) -> Vec<u8> {
    with(|s| {
        let mut names: Vec<&str> = Vec::new();
        let Some(headers) = headers_of(s, side) else {
            return Vec::new();
        };
        for (n, _) in headers.iter() {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        names.join("\n").into_bytes()
    })
}

pub(crate) fn set_header(side: Side, name: &str, value: &[u8], append: bool) -> bool {
    if !valid_name(name) || !valid_value(value) {
        return false;
    }
    let name = name.to_ascii_lowercase();
    with(|s| {
        let headers = match side {
            Side::Request => &mut s.headers,
            Side::Response => &mut response(s).headers,
        };
        if !append {
            headers.retain(|(n, _)| *n != name);
        }
        headers.push((name, value.to_vec()));
    });
    true
}

pub(crate) fn remove_header(side: Side, name: &str) {
    let name = name.to_ascii_lowercase();
    with(|s| {
        if let Some(h) = headers_of(s, side) {
            h.retain(|(n, _)| *n != name);
        }
    });
}

pub(crate) fn set_body(side: Side, body: &[u8]) -> bool {
    with(|s| match side {
        Side::Request => s.body = Some(body.to_vec()),
        Side::Response => response(s).body = Some(body.to_vec()),
    });
    true
}

pub(crate) fn set_path(path: &str) -> bool {
    let ok = path.starts_with('/') && !path.contains(['?', '#', ' ']);
    if ok {
        with(|s| s.path = path.to_owned());
    }
    ok
}

pub(crate) fn set_query(query: &str) -> bool {
    let ok = !query.contains(['#', ' ']);
    if ok {
        with(|s| s.query = (!query.is_empty()).then(|| query.to_owned()));
    }
    ok
}

pub(crate) fn set_method(method: &str) -> bool {
    let ok = valid_name(method);
    if ok {
        with(|s| s.method = method.to_owned());
    }
    ok
}

pub(crate) fn client_ip() -> Option<Vec<u8>> {
    with(|s| s.client_ip.clone().map(String::into_bytes))
}

pub(crate) fn status() -> Option<u16> {
    with(|s| s.response.as_ref().map(|r| r.status))
}

pub(crate) fn set_status(code: u16) -> bool {
    let ok = (100..=599).contains(&code);
    if ok {
        with(|s| response(s).status = code);
    }
    ok
}

pub(crate) fn http_call(head: &[u8], body: &[u8]) -> Vec<u8> {
    let Ok(mut request) = serde_json::from_slice::<HttpRequest>(head) else {
        return crate::http::encode_error("invalid", "malformed request head");
    };
    request.body = body.to_vec();
    let handler = with(|s| {
        s.http_calls.push(request.clone());
        s.http.take()
    });
    let Some(mut handler) = handler else {
        return crate::http::encode_error("connect", "the fake host has no HTTP handler");
    };
    let result = handler(&request);
    with(|s| {
        s.http = Some(handler);
        match result {
            Ok(response) => {
                s.http_body = Some(response.body.clone());
                crate::http::encode_head(&response)
            }
            Err(e) => {
                s.http_body = None;
                crate::http::encode_error(e.kind.as_str(), &e.message)
            }
        }
    })
}

fn broker_publish(broker: &'static str, head: &[u8], body: &[u8]) -> Vec<u8> {
    use crate::events::{PublishError, PublishErrorKind, encode_result};
    let Ok(head) = serde_json::from_slice::<serde_json::Value>(head) else {
        return encode_result(&Err(PublishError {
            kind: PublishErrorKind::Invalid,
            message: "malformed head".into(),
        }));
    };
    let handler = with(|s| {
        s.published.push((broker, head.clone(), body.to_vec()));
        if broker == "nats" {
            s.nats.take()
        } else {
            s.kafka.take()
        }
    });
    let Some(mut handler) = handler else {
        return encode_result(&Err(PublishError {
            kind: PublishErrorKind::Unavailable,
            message: format!("the fake host has no {broker} broker"),
        }));
    };
    let result = handler(&head, body);
    with(|s| {
        if broker == "nats" {
            s.nats = Some(handler);
        } else {
            s.kafka = Some(handler);
        }
    });
    encode_result(&result)
}

pub(crate) fn nats_publish(head: &[u8], body: &[u8]) -> Vec<u8> {
    broker_publish("nats", head, body)
}

pub(crate) fn kafka_publish(head: &[u8], body: &[u8]) -> Vec<u8> {
    broker_publish("kafka", head, body)
}

pub(crate) fn http_send_detached(head: &[u8], body: &[u8]) -> i32 {
    let Ok(mut request) = serde_json::from_slice::<HttpRequest>(head) else {
        return -2;
    };
    request.body = body.to_vec();
    with(|s| {
        if s.detached_full {
            -1
        } else {
            s.detached.push(request);
            0
        }
    })
}

pub(crate) fn http_response_body() -> Option<Vec<u8>> {
    with(|s| s.http_body.clone())
}

pub(crate) fn secret(reference: &str) -> Option<Vec<u8>> {
    with(|s| s.secrets.get(reference).cloned())
}

/// The gateway's limiter, in memory: an exact sliding window (a log of the units taken) per
/// key, on the fake clock.
pub(crate) fn cache_lookup(key: &[u8], _wait_ms: i32) -> i32 {
    with(|s| {
        if s.cache_down || key.is_empty() {
            return -2;
        }
        let now = s.now_ms;
        if let Some((response, stored, expires)) = s.cache.get(key).cloned() {
            if expires > now {
                s.response = Some(response);
                return i32::try_from((now - stored).max(0) / 1000).unwrap_or(i32::MAX);
            }
            s.cache.remove(key);
        }
        if s.cache_filling.insert(key.to_vec()) {
            -1
        } else {
            -2
        }
    })
}

pub(crate) fn cache_store(key: &[u8], ttl_ms: i64) -> i32 {
    with(|s| {
        if key.is_empty() || ttl_ms < 1 {
            return -2;
        }
        if s.cache_down {
            return -3;
        }
        let Some(response) = s.response.clone().filter(|r| r.body.is_some()) else {
            return -1;
        };
        let now = s.now_ms;
        s.cache
            .insert(key.to_vec(), (response, now, now.saturating_add(ttl_ms)));
        s.cache_filling.remove(key);
        0
    })
}

/// Records the rule; refuses what the gateway refuses first (no method).
pub(crate) fn cache_serve_hits(rule: &[u8]) -> Result<(), (i32, String)> {
    let value: serde_json::Value = serde_json::from_slice(rule).map_err(|e| (-2, e.to_string()))?;
    if value["methods"].as_array().is_none_or(Vec::is_empty) {
        return Err((-2, "methods: at least one method".into()));
    }
    with(|s| s.hit_rule = Some(String::from_utf8_lossy(rule).into_owned()));
    Ok(())
}

/// Records the policy and declines it: the fake runs the plugin's hooks.
pub(crate) fn ratelimit_host_policy(policy: &[u8]) -> Result<(), (i32, String)> {
    with(|s| s.host_policy = Some(String::from_utf8_lossy(policy).into_owned()));
    Err((-1, String::new()))
}

pub(crate) fn ratelimit_take(key: &str, quota: i64, window_ms: i64) -> super::RateLimitAnswer {
    with(|s| {
        s.ratelimit_takes.push((key.to_owned(), quota, window_ms));
        if key.is_empty() || key.len() > ratelimit::MAX_KEY_BYTES {
            return Err((-2, "the key must be 1 to 512 bytes long".into()));
        }
        if quota < 1 || window_ms < 1 {
            return Err((-2, "the quota and the window must be >= 1".into()));
        }
        if s.ratelimit_down {
            return Err((-1, "the fake rate limiter is down".into()));
        }
        let now = s.now_ms;
        let log = s.buckets.entry(key.to_owned()).or_default();
        // A unit taken at `t` counts while `now - t < window_ms`.
        while log
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= window_ms)
        {
            log.pop_front();
        }
        let quota = quota.unsigned_abs();
        let allowed = (log.len() as u64) < quota;
        if allowed {
            log.push_back(now);
        }
        let reset_ms = log.front().map_or(0, |&t| {
            t.saturating_add(window_ms)
                .saturating_sub(now)
                .clamp(0, window_ms)
        });
        Ok((
            allowed,
            quota.saturating_sub(log.len() as u64),
            reset_ms.unsigned_abs(),
        ))
    })
}

pub(crate) fn ratelimit_report(policy: &str, limit: &str) -> bool {
    let valid = |v: &str| {
        !v.trim().is_empty()
            && v.bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
    };
    if !valid(policy) || !valid(limit) {
        return false;
    }
    with(|s| {
        s.ratelimit_reports
            .push((policy.to_owned(), limit.to_owned()))
    });
    true
}

pub(crate) fn skip_on_response() {
    with(|s| s.skip_on_response = true);
}

pub(crate) fn crypto_verify(alg: &str, jwk: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, String> {
    with(|s| match s.verifier.as_mut() {
        Some(v) => v(alg, jwk, msg, sig),
        None => Err("no verifier installed: FakeHost::crypto_verifier".into()),
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

pub(crate) fn crypto_hmac(alg: &str, key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    // HMAC-SHA256 (RFC 2104) for tests only, a few lines over sha2; the gateway computes
    // every HMAC natively (ring), HS384/HS512 included.
    if alg != "HS256" {
        return None;
    }
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = pad(0x36);
    inner.extend_from_slice(msg);
    let mut outer = pad(0x5c);
    outer.extend_from_slice(&sha256(&inner));
    Some(sha256(&outer).to_vec())
}

pub(crate) fn crypto_sha256(bytes: &[u8]) -> [u8; 32] {
    sha256(bytes)
}

pub(crate) fn crypto_constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a == b
}

pub(crate) fn crypto_bcrypt_verify(password: &[u8], hash: &[u8]) -> Result<bool, String> {
    with(|s| match s.bcrypt.as_mut() {
        Some(check) => check(password, hash),
        None => Err("no bcrypt checker installed: FakeHost::bcrypt_checker".into()),
    })
}

/// The input the gateway would evaluate: `input` plus the `request` (bit 0 of `with`) and
/// `context` (bit 1) members, built as the gateway builds them.
fn policy_members(s: &State, object: &mut serde_json::Map<String, serde_json::Value>, with: i32) {
    use serde_json::{Map, Value};
    if with & 1 != 0 {
        let mut headers = Map::new();
        for (name, value) in &s.headers {
            let value = String::from_utf8_lossy(value);
            match headers.get_mut(name) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                _ => {
                    headers.insert(name.clone(), Value::String(value.into_owned()));
                }
            }
        }
        let raw = s.query.clone().unwrap_or_default();
        let mut query = Map::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            query
                .entry(form_decode(name))
                .or_insert_with(|| Value::String(form_decode(value)));
        }
        let params: Map<String, Value> = s
            .path_params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut request = Map::new();
        request.insert("method".into(), s.method.clone().into());
        request.insert("path".into(), s.path.clone().into());
        request.insert("params".into(), Value::Object(params));
        request.insert("query".into(), Value::Object(query));
        request.insert("query_string".into(), raw.into());
        request.insert("headers".into(), Value::Object(headers));
        if let Some(ip) = &s.client_ip {
            request.insert("client_ip".into(), ip.clone().into());
        }
        object.insert("request".into(), Value::Object(request));
    }
    if with & 2 != 0 {
        let context = s
            .context
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        object.insert("context".into(), Value::Object(context));
    }
}

/// Form-style percent-decoding (`+` is a space); broken escapes are kept.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).map(|d| (hex(d[0]), hex(d[1]))) {
                Some((Some(h), Some(l))) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn policy_eval(
    policy: &str,
    query: &str,
    input: &[u8],
    flags: i32,
) -> Result<Option<String>, String> {
    let mut object = if input.is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice(input) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err("input is not a JSON object".into()),
        }
    };
    with(|s| {
        policy_members(s, &mut object, flags);
        let input = serde_json::Value::Object(object);
        s.policy_calls
            .push((policy.to_owned(), query.to_owned(), input.clone()));
        match s.policy.as_mut() {
            Some(evaluate) => evaluate(policy, query, &input).map(|v| v.map(|v| v.to_string())),
            None => Err("no evaluator installed: FakeHost::policy_evaluator".into()),
        }
    })
}

pub(crate) fn policy_input(flags: i32) -> String {
    let mut object = serde_json::Map::new();
    with(|s| policy_members(s, &mut object, flags));
    serde_json::Value::Object(object).to_string()
}

/// The gateway's metric name rule.
fn metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The gateway's label rule: `name=value` lines with valid names.
fn metric_labels(labels: &str) -> bool {
    labels
        .split('\n')
        .filter(|l| !l.is_empty())
        .all(|l| l.split_once('=').is_some_and(|(n, _)| metric_name(n)))
}

pub(crate) fn metric_counter_inc(name: &str, labels: &str, by: u64) -> bool {
    if !metric_name(name) || !metric_labels(labels) {
        return false;
    }
    with(|s| s.counters.push((name.to_owned(), labels.to_owned(), by)));
    true
}

pub(crate) fn metric_histogram_observe(name: &str, labels: &str, value: f64) -> bool {
    if !metric_name(name) || !metric_labels(labels) || !value.is_finite() {
        return false;
    }
    with(|s| {
        s.histograms
            .push((name.to_owned(), labels.to_owned(), value))
    });
    true
}

pub(crate) fn span_start(name: &str) -> i32 {
    with(|s| {
        if !s.traced || name.is_empty() {
            return 0;
        }
        s.spans.push((name.to_owned(), Vec::new(), false));
        i32::try_from(s.spans.len()).unwrap_or(0)
    })
}

fn open_span(s: &mut State, span: i32) -> Option<&mut crate::testing::RecordedSpan> {
    let index = usize::try_from(span).ok()?.checked_sub(1)?;
    s.spans.get_mut(index).filter(|span| !span.2)
}

pub(crate) fn span_set_attribute(span: i32, key: &str, value: &str) {
    with(|s| {
        if let Some(span) = open_span(s, span) {
            span.1.push((key.to_owned(), value.to_owned()));
        }
    });
}

pub(crate) fn span_end(span: i32) {
    with(|s| {
        if let Some(span) = open_span(s, span) {
            span.2 = true;
        }
    });
}
