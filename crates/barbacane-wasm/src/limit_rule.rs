//! Rate limits the host applies on a rate-limiting middleware's behalf
//! (`barbacane:ratelimit.host_policy`).
//!
//! A rate-limited request is the same work every time: find the client (or the header
//! value) it is counted by, take one unit from that bucket, add the `RateLimit` fields or
//! answer 429. Entering the plugin for it (an instance checkout, its request state, a host
//! call back out for the take) costs more than the decision itself, so a plugin may declare
//! its policy during `init`; the gateway then decides every request itself and does not call
//! the plugin. The declaration carries everything that makes the answers the plugin's own:
//! the bucket prefix, the members of both fields, and the 429 and 503 bodies the plugin
//! built, so a request gets byte-for-byte what the plugin would have answered and counts
//! against the same bucket (the documented key, `docs/plugin-abi.md`, "Rate limits").
//!
//! Only partitions the host sees as the plugin does are declared: the client address
//! (behind `trusted_proxies`, walked by `barbacane-client-ip`, the plugin's own code) and a
//! request header. A partition by request context is left to the plugin.

use barbacane_client_ip::Cidr;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cache_hits::Head;
use crate::limiter::{Decision, LimitError, RateLimiter};
use crate::state::{RateLimitFields, ResponseState};

/// A policy a middleware declared with `host_policy`, ready to decide requests.
#[derive(Debug)]
pub(crate) struct LimitRule {
    /// `{plugin}:{bucket}`: every bucket's name starts so (the host's plugin prefix and the
    /// plugin's own key prefix).
    bucket: String,
    quota: u64,
    window: Duration,
    partition: Partition,
    proxies: Vec<Cidr>,
    fail_open: bool,
    /// The `RateLimit-Policy` member.
    policy: HeaderValue,
    /// The policy's name as a Structured Field string (`"default"`).
    name: String,
    refused_body: Bytes,
    unavailable_body: Bytes,
}

#[derive(Debug)]
enum Partition {
    ClientIp,
    Header(HeaderName),
}

/// The policy as the guest passes it (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    bucket: String,
    quota: u64,
    window_ms: u64,
    partition: String,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    fail_open: bool,
    policy: String,
    name: String,
    refused_body: String,
    unavailable_body: String,
}

/// What the gateway does with a host-decided middleware for one request
/// ([`crate::Prepared::decide_limit`]).
#[derive(Debug)]
pub enum LimitStep {
    /// A unit was taken: these members go on the response; the middleware is not called.
    Allowed(RateLimitFields),
    /// The limiter is unavailable and the policy fails open: the request goes on without
    /// fields.
    Skipped,
    /// The quota is spent (429) or the limiter is unavailable and the policy fails closed
    /// (503): this answers the request (it counts as the middleware's short circuit).
    Respond(ResponseState),
}

impl LimitRule {
    /// Parses a declaration for `plugin` (see the module docs); `Err` gives the reason.
    pub(crate) fn parse(plugin: &str, json: &[u8]) -> Result<LimitRule, String> {
        let raw: RawPolicy = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        if raw.quota == 0 || i64::try_from(raw.quota).is_err() {
            return Err(format!("quota {} is not a positive i64", raw.quota));
        }
        if raw.window_ms == 0 || i64::try_from(raw.window_ms).is_err() {
            return Err(format!("window_ms {} is not a positive i64", raw.window_ms));
        }
        // The longest address (an IPv6 one) must still fit the bucket length the limiter
        // accepts from plugins.
        if raw.bucket.len() + 64 + 8 > crate::host::ratelimit::MAX_KEY {
            return Err("bucket: too long".into());
        }
        let partition = if raw.partition == "client_ip" {
            Partition::ClientIp
        } else if let Some(name) = raw.partition.strip_prefix("header:") {
            HeaderName::from_bytes(name.as_bytes())
                .ok()
                .filter(|h| h.as_str() == name)
                .map(Partition::Header)
                .ok_or_else(|| format!("partition: `{name}` is not a lowercase header name"))?
        } else {
            return Err(format!(
                "partition: `{}` is not `client_ip` or `header:<name>`",
                raw.partition
            ));
        };
        let proxies = raw
            .trusted_proxies
            .iter()
            .map(|p| Cidr::parse(p).ok_or_else(|| format!("trusted_proxies: `{p}` is not a CIDR")))
            .collect::<Result<Vec<_>, _>>()?;
        let field = |what: &str, value: &str| {
            HeaderValue::from_str(value)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{what}: not a field value"))
        };
        let policy = field("policy", &raw.policy)?;
        // The name is part of every `RateLimit` value.
        field("name", &raw.name)?;
        Ok(LimitRule {
            bucket: format!("{plugin}:{}", raw.bucket),
            quota: raw.quota,
            window: Duration::from_millis(raw.window_ms),
            partition,
            proxies,
            fail_open: raw.fail_open,
            policy,
            name: raw.name,
            refused_body: raw.refused_body.into(),
            unavailable_body: raw.unavailable_body.into(),
        })
    }

    /// Appends the request's partition (`ip:<address>`, `ip:unknown` or
    /// `header:<hex SHA-256>`) to `key`, as the plugin forms it.
    fn partition(&self, request: Head<'_>, client_ip: Option<IpAddr>, key: &mut String) {
        if let Partition::Header(name) = &self.partition
            && let Some(value) = request.headers.get(name).filter(|v| !v.is_empty())
        {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            key.push_str("header:");
            for b in Sha256::digest(value.as_bytes()) {
                key.push(char::from(HEX[usize::from(b >> 4)]));
                key.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
            return;
        }
        match client_ip {
            Some(peer) => {
                let peer = barbacane_client_ip::canonical(peer);
                let ip = if self.proxies.iter().any(|c| c.contains(peer)) {
                    // Read as the plugin reads them (invalid UTF-8 replaced, so such an
                    // entry is not an address and ends the walk).
                    let lines: Vec<_> = request
                        .headers
                        .get_all(&X_FORWARDED_FOR)
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()))
                        .collect();
                    barbacane_client_ip::client_address(
                        peer,
                        &self.proxies,
                        lines.iter().map(AsRef::as_ref),
                    )
                } else {
                    peer
                };
                let _ = write!(key, "ip:{ip}");
            }
            None => key.push_str("ip:unknown"),
        }
    }

    /// Decides `request` against `limiter`.
    pub(crate) async fn decide(
        &self,
        limiter: &Arc<dyn RateLimiter>,
        request: Head<'_>,
        client_ip: Option<IpAddr>,
    ) -> LimitStep {
        // The bucket's name, built in this thread's buffer (no allocation per request).
        let taken = BUCKET.with(|buffer| {
            let mut key = buffer.borrow_mut();
            key.clear();
            key.push_str(&self.bucket);
            self.partition(request, client_ip, &mut key);
            limiter
                .take_now(&key, self.quota, self.window)
                .ok_or_else(|| limiter.take(&key, self.quota, self.window))
        });
        let outcome = match taken {
            Ok(outcome) => outcome,
            Err(pending) => pending.await,
        };
        match outcome {
            Ok(d) if d.allowed => LimitStep::Allowed(RateLimitFields {
                policy: self.policy.clone(),
                limit: self.limit_member(d.remaining, seconds(&d)),
            }),
            Ok(d) => LimitStep::Respond(self.refused(seconds(&d))),
            Err(LimitError::Unavailable(_)) if self.fail_open => LimitStep::Skipped,
            Err(LimitError::Unavailable(_)) => LimitStep::Respond(self.unavailable()),
        }
    }

    /// `"<name>";r=<remaining>;t=<seconds>`.
    fn limit_member(&self, remaining: u64, reset_s: u64) -> HeaderValue {
        // Written in this thread's buffer and copied once into the value (a `String` handed
        // over would cost a second allocation for its spare capacity).
        MEMBER.with(|buffer| {
            let mut member = buffer.borrow_mut();
            member.clear();
            let _ = write!(member, "{};r={remaining};t={reset_s}", self.name);
            // A checked name and two numbers: always a field value.
            HeaderValue::from_bytes(member.as_bytes())
                .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        })
    }

    fn refused(&self, reset_s: u64) -> ResponseState {
        let mut headers = problem_headers(4);
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(reset_s.max(1)));
        headers.insert(RATELIMIT_POLICY.clone(), self.policy.clone());
        headers.insert(RATELIMIT.clone(), self.limit_member(0, reset_s));
        ResponseState {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers,
            body: Some(self.refused_body.clone()),
        }
    }

    fn unavailable(&self) -> ResponseState {
        let mut headers = problem_headers(2);
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        ResponseState {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers,
            body: Some(self.unavailable_body.clone()),
        }
    }
}

/// Milliseconds until reset as whole seconds, rounded up (as the plugin reports them).
fn seconds(d: &Decision) -> u64 {
    u64::try_from(d.reset.as_millis())
        .unwrap_or(u64::MAX)
        .div_ceil(1000)
}

fn problem_headers(capacity: usize) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(capacity);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers
}

thread_local! {
    static BUCKET: RefCell<String> = const { RefCell::new(String::new()) };
    static MEMBER: RefCell<String> = const { RefCell::new(String::new()) };
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

#[cfg(test)]
mod tests;
