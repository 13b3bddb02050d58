//! `http-log`: one JSON access record per request, shipped to `endpoint` in the background
//! (`http.send_detached`): the client's response never waits for the log endpoint, and the
//! gateway bounds the deliveries in flight (past that a record is dropped and counted in
//! `barbacane_background_deliveries_total{outcome="dropped"}`, never queued without bound).
//!
//! Keys are the reference implementation's (`endpoint`, `method`, `timeout_ms`,
//! `content_type`, `include_headers`, `include_body`, `custom_fields`) plus `batch_size` and
//! `batch_max_wait_ms`. A record holds `timestamp` (RFC 3339 ms), `method`, `path` (never the
//! query: it carries tokens too often), `status`, `duration_ms`, `client_ip`, `trace_id`
//! (from `traceparent`), `request_id` (`x-request-id`), optionally the headers (credentials
//! redacted) and body sizes, then the custom fields.

use barbacane_plugin_sdk::http::{self, DetachError, HttpRequest};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, log};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpLog {
    endpoint: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default)]
    include_headers: bool,
    #[serde(default)]
    include_body: bool,
    #[serde(default)]
    custom_fields: BTreeMap<String, String>,
    #[serde(default = "default_batch_size")]
    batch_size: usize,
    #[serde(default = "default_batch_max_wait_ms")]
    batch_max_wait_ms: i64,
    /// The request being served (an instance serves one request at a time).
    #[serde(skip)]
    current: Option<Pending>,
    /// Records held for the next batch, and when the oldest was made (`now_ms`).
    #[serde(skip)]
    batch: Vec<Value>,
    #[serde(skip)]
    batch_since: i64,
}

/// What `on_request` saw.
#[derive(Debug)]
struct Pending {
    started_ns: i64,
    record: Map<String, Value>,
}

fn default_method() -> String {
    "POST".into()
}
fn default_timeout_ms() -> u64 {
    2000
}
fn default_content_type() -> String {
    "application/json".into()
}
fn default_batch_size() -> usize {
    1
}
fn default_batch_max_wait_ms() -> i64 {
    1000
}

/// Header values never shipped to a log endpoint.
const REDACTED: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

fn headers(names: Vec<String>, values: impl Fn(&str) -> Vec<String>) -> Value {
    let mut out = Map::new();
    for name in names {
        let value = if REDACTED.contains(&name.as_str()) {
            Value::from("[redacted]")
        } else {
            Value::from(values(&name).join(", "))
        };
        out.insert(name, value);
    }
    Value::Object(out)
}

impl Middleware for HttpLog {
    fn init(&mut self) -> Result<(), String> {
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err(format!(
                "endpoint `{}` is not an http(s) URL",
                self.endpoint
            ));
        }
        if !matches!(self.method.as_str(), "POST" | "PUT") {
            return Err(format!("method `{}` must be POST or PUT", self.method));
        }
        if !(100..=10_000).contains(&self.timeout_ms) {
            return Err("timeout_ms must be between 100 and 10000".into());
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err("batch_size must be between 1 and 1000".into());
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let mut record = Map::new();
        record.insert("method".into(), request.method().into());
        record.insert("path".into(), request.path().into());
        if let Some(ip) = request.client_ip() {
            record.insert("client_ip".into(), ip.into());
        }
        if let Some(trace) = request
            .header("traceparent")
            .and_then(|t| t.split('-').nth(1).map(str::to_owned))
        {
            record.insert("trace_id".into(), trace.into());
        }
        if let Some(id) = request.header("x-request-id") {
            record.insert("request_id".into(), id.into());
        }
        if self.include_headers {
            record.insert(
                "request_headers".into(),
                headers(request.header_names(), |n| request.header_values(n)),
            );
        }
        if self.include_body {
            let size = request
                .header("content-length")
                .and_then(|v| v.parse::<u64>().ok());
            record.insert("request_size".into(), size.into());
        }
        self.current = Some(Pending {
            started_ns: clock::monotonic_ns(),
            record,
        });
        Action::Continue
    }

    fn on_response(&mut self, response: &mut Response) {
        let Some(Pending {
            started_ns,
            mut record,
        }) = self.current.take()
        else {
            return;
        };
        let now_ms = clock::now_ms();
        let elapsed_ns = clock::monotonic_ns().saturating_sub(started_ns).max(0);
        record.insert("timestamp".into(), rfc3339_ms(now_ms).into());
        record.insert("status".into(), response.status().into());
        record.insert(
            "duration_ms".into(),
            json!((elapsed_ns as f64 / 1e6 * 1000.0).round() / 1000.0),
        );
        if self.include_headers {
            record.insert(
                "response_headers".into(),
                headers(response.header_names(), |n| response.header_values(n)),
            );
        }
        if self.include_body {
            let size = response
                .header("content-length")
                .and_then(|v| v.parse::<u64>().ok())
                .or_else(|| response.body().map(|b| b.len() as u64));
            record.insert("response_size".into(), size.into());
        }
        for (k, v) in &self.custom_fields {
            record.insert(k.clone(), v.clone().into());
        }
        if self.batch.is_empty() {
            self.batch_since = now_ms;
        }
        self.batch.push(Value::Object(record));
        if self.batch.len() >= self.batch_size
            || now_ms.saturating_sub(self.batch_since) >= self.batch_max_wait_ms
        {
            self.flush();
        }
    }
}

impl HttpLog {
    /// Sends what is held: one object, or an array when batching.
    fn flush(&mut self) {
        let records = std::mem::take(&mut self.batch);
        let body = if self.batch_size == 1 && records.len() == 1 {
            serde_json::to_vec(&records[0])
        } else {
            serde_json::to_vec(&records)
        };
        let Ok(body) = body else {
            return;
        };
        let mut request = HttpRequest::new(&self.method, &self.endpoint);
        request
            .headers
            .push(("content-type".into(), self.content_type.clone()));
        request.body = body;
        request.timeout_ms = Some(self.timeout_ms);
        match http::send_detached(&request) {
            Ok(()) | Err(DetachError::QueueFull) => {}
            Err(DetachError::Invalid) => log::warn("http-log: the log request could not be built"),
        }
    }
}

/// `2026-12-07T10:00:00.123Z` from milliseconds since the epoch (civil-from-days, proleptic
/// Gregorian).
fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
