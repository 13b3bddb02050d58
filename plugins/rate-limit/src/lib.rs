//! `rate-limit`: limits how many requests a client (or an API key, a tenant...) makes per
//! sliding window, with the counters kept by the gateway (`barbacane:ratelimit`), and tells
//! clients where they stand with the `RateLimit-Policy` and `RateLimit` fields of
//! draft-ietf-httpapi-ratelimit-headers.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `quota` | integer >= 1 | **required** | requests allowed per window |
//! | `window` | integer >= 1 (seconds) | **required** | length of the sliding window |
//! | `policy_name` | string | `"default"` | names the policy in the response fields and in the counters' keys: 1 to 64 printable ASCII characters (space included), without `"` or `\` |
//! | `partition_key` | string | `"client_ip"` | what is counted separately: `client_ip` (the client's address, see `trusted_proxies`), `header:<name>` (the first value of that request header, e.g. `header:x-api-key`) or `context:<key>` (a request context value an earlier plugin set, e.g. an authenticated subject). A missing or empty header or context value falls back to the client's address. |
//! | `trusted_proxies` | array of CIDR strings | `[]` | proxies in front of the gateway whose `X-Forwarded-For` entries are believed (`10.0.0.0/8`, `fd00::/8`; a bare address is that address alone) |
//! | `fail_open` | bool | `false` | when the gateway's rate limiter is unavailable (its shared store cannot be reached), let requests through instead of answering 503 |
//!
//! The configuration is refused when `quota` or `window` is 0 (or `quota` is over
//! `i64::MAX`, `window` over `i64::MAX / 1000`), when `policy_name` is empty, longer than
//! 64 characters or holds a character outside printable ASCII, `"` or `\`, when
//! `partition_key` has another form, names an invalid header (not an RFC 9110 token) or an
//! empty context key, and when an entry of `trusted_proxies` is not an address or a CIDR.
//!
//! # Behaviour
//!
//! **Partition.** `on_request` first works out whom the request is counted against:
//!
//! - `client_ip`: the peer address of the connection. When that peer is in
//!   `trusted_proxies`, the `X-Forwarded-For` entries (every field line, comma-separated) are
//!   walked from right to left, skipping addresses in `trusted_proxies`; the first other
//!   address is the client. Entries the proxies did not add (anything left of the first
//!   untrusted address) are never read, so a client cannot choose its address by sending
//!   `X-Forwarded-For`; and the header is ignored altogether when the peer is not trusted.
//!   When every entry is trusted, or the walk meets an entry that is not an address
//!   (`unknown`, a host name), the peer's own address is used. Entries may carry a port
//!   (`203.0.113.7:4711`, `[2001:db8::1]:4711`); IPv4-mapped IPv6 addresses count as IPv4.
//!   A peer the gateway does not know (never the case on a TCP connection) is counted as
//!   `unknown`, one bucket for all such requests.
//! - `header:<name>` / `context:<key>`: that value (its exact bytes), or the client address
//!   as above when it is missing or empty. Without another middleware guaranteeing the
//!   value (authentication before this one in the chain), a client can switch to the
//!   address-based count by leaving the header out, and start a new count by changing its
//!   value: partition by a header only when it is checked.
//!
//! The counter's key is `{policy_name}:{quota}:{window}:{kind}:{value}`, `kind` being `ip`,
//! `header` or `context` (the source of the value, so a header value can never share the
//! count of an address) and `value` the address in its canonical text form, or for `header`
//! and `context` the lowercase hex SHA-256 of the value: keys stay short, and API keys or
//! tokens used as partitions never reach the limiter's store (e.g. Redis) in clear. Uses
//! with the same `policy_name`, `quota`, `window` and kind of partition share their
//! counters: across operations, and across gateways sharing a store. Changing `quota` or
//! `window` starts new counters.
//!
//! **Allowed** (the unit was taken): the request goes on. On the response (whatever its
//! status), two list fields get this policy as a member:
//!
//! ```text
//! RateLimit-Policy: "default";q=100;w=10
//! RateLimit: "default";r=99;t=10
//! ```
//!
//! `q` is the quota, `w` the window in seconds, `r` the requests left in the window and `t`
//! the seconds (rounded up) until the oldest counted request leaves the window, i.e. until
//! at least one more request is allowed. When the response already has either field
//! (another `rate-limit` in the chain, or the upstream's own policies), this policy is
//! appended as a further list member of a single field line:
//! `RateLimit: "per-ip";r=9;t=1, "per-key";r=99;t=10`.
//!
//! **Refused** (the quota is spent): `429 urn:barbacane:error:rate-limited`, an RFC 9457
//! problem whose `detail` gives the policy (`Rate limit exceeded: 100 requests per 10 s
//! (policy "default")`), with `Retry-After` (`t`, at least 1), `RateLimit-Policy` and
//! `RateLimit` (`r=0`). A refused request consumes nothing. Middlewares earlier in the chain
//! still see the 429 in `on_response` (and an earlier `rate-limit` adds its policy to it).
//!
//! **Limiter unavailable** (the gateway cannot reach its shared store): with `fail_open`,
//! the request goes on without `RateLimit` fields; without, it is answered
//! `503 urn:barbacane:error:rate-limit-unavailable` with `Retry-After: 1`. The plugin does
//! not log outages (the gateway logs them once, not per request).
//!
//! **Limiter refusing the arguments** (a bug: the configuration checks make it impossible):
//! `500 urn:barbacane:error:rate-limit-failed`, logged as an error, whatever `fail_open`
//! says: a limit that can never be applied must not be silently skipped.
//!
//! Everything happens in `on_request`: the members of an allowed request are handed to the
//! gateway (`ratelimit::report`), which adds them to the response after the `on_response`
//! chain (in reverse chain order, as `on_response` hooks would), and the plugin asks the
//! gateway not to call its `on_response` at all (`hooks::skip_on_response`): one call into
//! the plugin per request instead of two. Give each use in a chain its own `policy_name` so
//! their fields can be told apart.
//!
//! **The gateway decides by itself** when it can: `init` hands it the whole policy
//! (`ratelimit::host_policy`: the bucket prefix, quota, window, partition, trusted proxies,
//! `fail_open`, the members of both fields and the 429 and 503 bodies built here), and the
//! gateway then takes each unit, adds the fields and answers refusals exactly as above,
//! without entering the plugin (an instance checkout and a host call per request cost more
//! than the decision). Partitions by `context:` stay with `on_request`: the context is
//! written by other plugins during the request. The client address is worked out by the same
//! code in both places (the `barbacane-client-ip` crate).
//!
//! Capabilities: `request`, `response`, `context`, `ratelimit`, `log`.

use std::net::IpAddr;

use barbacane_client_ip::{Cidr, canonical};
use barbacane_plugin_sdk::hooks;
use barbacane_plugin_sdk::log;
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::ratelimit::{self, RateLimitError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const RATELIMIT_POLICY: &str = "ratelimit-policy";
const RATELIMIT: &str = "ratelimit";
const X_FORWARDED_FOR: &str = "x-forwarded-for";
/// Longest `policy_name`, in characters.
pub const MAX_POLICY_NAME: usize = 64;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    quota: u64,
    window: u64,
    #[serde(default = "default_policy_name")]
    policy_name: String,
    #[serde(default = "default_partition_key")]
    partition_key: String,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    fail_open: bool,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
}

fn default_policy_name() -> String {
    "default".into()
}

fn default_partition_key() -> String {
    "client_ip".into()
}

/// The configuration, checked, with what every request needs precomputed.
#[derive(Debug, Default)]
struct Policy {
    partition: Partition,
    proxies: Vec<Cidr>,
    /// `{policy_name}:{quota}:{window}:`.
    key_prefix: String,
    window_ms: u64,
    /// This policy's `RateLimit-Policy` member.
    policy_member: String,
    /// `"{policy_name}"`, as a Structured Field string.
    name_item: String,
    /// The 429's `detail`.
    detail: String,
}

/// What requests are counted by.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Partition {
    #[default]
    ClientIp,
    /// A request header (lowercase name).
    Header(String),
    /// A request context key.
    Context(String),
}

/// 1 to 64 printable ASCII characters without `"` or `\`: a valid Structured Field string
/// as it is, with no escaping.
fn valid_policy_name(name: &str) -> bool {
    (1..=MAX_POLICY_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// An RFC 9110 token (header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_partition(key: &str) -> Result<Partition, String> {
    if key == "client_ip" {
        return Ok(Partition::ClientIp);
    }
    if let Some(name) = key.strip_prefix("header:") {
        if !is_token(name) {
            return Err(format!(
                "partition_key `{key}`: `{name}` is not a valid header name"
            ));
        }
        return Ok(Partition::Header(name.to_ascii_lowercase()));
    }
    if let Some(context_key) = key.strip_prefix("context:") {
        if context_key.is_empty() {
            return Err(format!("partition_key `{key}`: the context key is empty"));
        }
        return Ok(Partition::Context(context_key.to_owned()));
    }
    Err(format!(
        "partition_key `{key}`: expected `client_ip`, `header:<name>` or `context:<key>`"
    ))
}

/// Lowercase hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Milliseconds to whole seconds, rounded up.
fn seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

impl RateLimit {
    /// The client's address: the peer, or what the trusted proxies in front of it saw.
    fn client_address(&self, request: &Request) -> Option<IpAddr> {
        let peer = canonical(request.client_ip()?.parse().ok()?);
        if !self.policy.proxies.iter().any(|c| c.contains(peer)) {
            return Some(peer);
        }
        let values = request.header_values(X_FORWARDED_FOR);
        Some(barbacane_client_ip::client_address(
            peer,
            &self.policy.proxies,
            values.iter().map(String::as_str),
        ))
    }

    /// `kind:value` of the request's partition.
    fn partition(&self, request: &Request) -> String {
        let value = match &self.policy.partition {
            Partition::ClientIp => None,
            Partition::Header(name) => request
                .header_bytes(name, 0)
                .filter(|v| !v.is_empty())
                .map(|v| format!("header:{}", sha256_hex(&v))),
            Partition::Context(key) => context::get(key)
                .filter(|v| !v.is_empty())
                .map(|v| format!("context:{}", sha256_hex(v.as_bytes()))),
        };
        value.unwrap_or_else(|| match self.client_address(request) {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        })
    }

    /// This policy's `RateLimit` member.
    fn ratelimit_member(&self, remaining: u64, reset_s: u64) -> String {
        format!("{};r={remaining};t={reset_s}", self.policy.name_item)
    }

    fn too_many_requests(&self, reset_ms: u64) -> OutgoingResponse {
        let reset_s = seconds(reset_ms);
        OutgoingResponse::problem_with_detail(
            429,
            "rate-limited",
            "Too many requests",
            Some(&self.policy.detail),
        )
        .header("retry-after", reset_s.max(1).to_string())
        .header(RATELIMIT_POLICY, self.policy.policy_member.as_str())
        .header(RATELIMIT, self.ratelimit_member(0, reset_s))
    }
}

impl RateLimit {
    /// Hands the gateway this policy when it can decide requests as `on_request` does (every
    /// partition but `context:`, whose values other plugins set during the request): it then
    /// answers them itself, with the same buckets, fields and bodies, without calling the
    /// plugin. A gateway that declines leaves `on_request` to decide.
    fn declare_to_host(&self) {
        let partition = match &self.policy.partition {
            Partition::ClientIp => "client_ip".to_owned(),
            Partition::Header(name) => format!("header:{name}"),
            Partition::Context(_) => return,
        };
        let declared = ratelimit::HostPolicy {
            bucket: self.policy.key_prefix.clone(),
            quota: self.quota,
            window_ms: self.policy.window_ms,
            partition,
            trusted_proxies: self.trusted_proxies.clone(),
            fail_open: self.fail_open,
            policy: self.policy.policy_member.clone(),
            name: self.policy.name_item.clone(),
            refused_body: body_text(self.too_many_requests(0)),
            unavailable_body: body_text(unavailable()),
        };
        let _ = ratelimit::host_policy(&declared);
    }
}

fn body_text(response: OutgoingResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

fn unavailable() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        503,
        "rate-limit-unavailable",
        "The rate limit cannot be checked",
        Some("The gateway's rate limiter is unavailable; try again shortly."),
    )
    .header("retry-after", "1")
}

fn failed() -> OutgoingResponse {
    OutgoingResponse::problem(
        500,
        "rate-limit-failed",
        "The rate limit could not be applied",
    )
}

impl Middleware for RateLimit {
    fn init(&mut self) -> Result<(), String> {
        if self.quota == 0 {
            return Err("quota must be at least 1".into());
        }
        if i64::try_from(self.quota).is_err() {
            return Err(format!("quota must be at most {}", i64::MAX));
        }
        let window_ms = self
            .window
            .checked_mul(1000)
            .filter(|ms| i64::try_from(*ms).is_ok());
        let window_ms = match (self.window, window_ms) {
            (0, _) => return Err("window must be at least 1 (seconds)".into()),
            (_, None) => {
                return Err(format!(
                    "window must be at most {} (seconds)",
                    i64::MAX / 1000
                ));
            }
            (_, Some(ms)) => ms,
        };
        let name = &self.policy_name;
        if !valid_policy_name(name) {
            return Err(format!(
                "policy_name `{name}`: use 1 to {MAX_POLICY_NAME} printable ASCII characters, \
                 without `\"` or `\\`"
            ));
        }
        let partition = parse_partition(&self.partition_key)?;
        let mut proxies = Vec::with_capacity(self.trusted_proxies.len());
        for entry in &self.trusted_proxies {
            let cidr = Cidr::parse(entry).ok_or_else(|| {
                format!(
                    "trusted_proxies: `{entry}` is not an address or a CIDR (e.g. 10.0.0.0/8, \
                     192.168.1.7, fd00::/8)"
                )
            })?;
            proxies.push(cidr);
        }
        let (quota, window) = (self.quota, self.window);
        let requests = if quota == 1 { "request" } else { "requests" };
        self.policy = Policy {
            partition,
            proxies,
            key_prefix: format!("{name}:{quota}:{window}:"),
            window_ms,
            policy_member: format!("\"{name}\";q={quota};w={window}"),
            name_item: format!("\"{name}\""),
            detail: format!(
                "Rate limit exceeded: {quota} {requests} per {window} s (policy \"{name}\")"
            ),
        };
        self.declare_to_host();
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        // Every outcome is settled here: the fields of an allowed request are reported to
        // the gateway, which adds them after the `on_response` chain.
        hooks::skip_on_response();
        let key = format!("{}{}", self.policy.key_prefix, self.partition(request));
        match ratelimit::take(&key, self.quota, self.policy.window_ms) {
            Ok(decision) if decision.allowed => {
                let member = self.ratelimit_member(decision.remaining, seconds(decision.reset_ms));
                // Built from checked configuration values and numbers: the host accepts them.
                let _ = ratelimit::report(&self.policy.policy_member, &member);
                Action::Continue
            }
            Ok(decision) => Action::Respond(self.too_many_requests(decision.reset_ms)),
            Err(RateLimitError::Unavailable(_)) => {
                if self.fail_open {
                    Action::Continue
                } else {
                    Action::Respond(unavailable())
                }
            }
            Err(RateLimitError::Invalid(message)) => {
                log::error(&format!(
                    "policy \"{}\": the rate limiter refused the request's key: {message}",
                    self.policy_name
                ));
                Action::Respond(failed())
            }
        }
    }

    /// Never called: `on_request` asks the gateway to skip it.
    fn on_response(&mut self, _response: &mut Response) {}
}

#[cfg(test)]
mod tests;
