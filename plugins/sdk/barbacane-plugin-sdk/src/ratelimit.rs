//! Shared rate limiting (`ratelimit` capability): the gateway keeps the counters, so every
//! instance of a plugin (and, with a shared backend, every gateway node) counts against the
//! same buckets. A plugin's instance memory is per instance and cannot do that.
//!
//! A bucket is named by a key the plugin chooses (the gateway prefixes it with the plugin's
//! name, so plugins never share buckets) and allows `quota` units per sliding window of
//! `window_ms` milliseconds. [`take`] takes one unit, atomically:
//!
//! ```
//! use barbacane_plugin_sdk::ratelimit::{self, Decision};
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! let first = ratelimit::take("tenant:acme", 2, 60_000).unwrap();
//! assert_eq!(first, Decision { allowed: true, limit: 2, remaining: 1, reset_ms: 60_000 });
//! assert!(ratelimit::take("tenant:acme", 2, 60_000).unwrap().allowed);
//! // The quota is spent: refused until the first unit leaves the window.
//! # host.advance_ms(15_000);
//! let third = ratelimit::take("tenant:acme", 2, 60_000).unwrap();
//! assert!(!third.allowed);
//! assert_eq!(third.remaining, 0);
//! assert_eq!(third.reset_ms, 45_000);
//! ```

use crate::host;

/// The longest key the gateway accepts, in bytes (before its plugin-name prefix).
pub const MAX_KEY_BYTES: usize = 512;

/// The limiter's answer to a [`take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the unit was granted (the request is within the quota). A refused take
    /// consumes nothing.
    pub allowed: bool,
    /// The quota: units per window.
    pub limit: u64,
    /// Units left in the window after this take (0 when refused).
    pub remaining: u64,
    /// Milliseconds until the oldest counted unit leaves the window, i.e. until at least one
    /// unit is free again.
    pub reset_ms: u64,
}

/// Why a [`take`] was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitError {
    /// The limiter's shared state (e.g. Redis) cannot be reached; nothing was counted. The
    /// message is the gateway's.
    Unavailable(String),
    /// The arguments were refused: an empty key or one over [`MAX_KEY_BYTES`], a quota or
    /// window below 1 (or above `i64::MAX`).
    Invalid(String),
}

impl std::fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateLimitError::Unavailable(m) => write!(f, "rate limiter unavailable: {m}"),
            RateLimitError::Invalid(m) => write!(f, "invalid rate limit: {m}"),
        }
    }
}

impl std::error::Error for RateLimitError {}

/// Takes one unit from the bucket `key`, which allows `quota` units per sliding window of
/// `window_ms` milliseconds. Keys name buckets across requests, instances and (with a shared
/// backend) gateway nodes: put in them everything that must not share a count (e.g. the
/// quota and window, so a changed configuration starts afresh).
pub fn take(key: &str, quota: u64, window_ms: u64) -> Result<Decision, RateLimitError> {
    let (Ok(quota), Ok(window_ms)) = (i64::try_from(quota), i64::try_from(window_ms)) else {
        return Err(RateLimitError::Invalid(
            "the quota and the window must be at most i64::MAX".into(),
        ));
    };
    match host::ratelimit_take(key, quota, window_ms) {
        Ok((allowed, remaining, reset_ms)) => Ok(Decision {
            allowed,
            limit: quota.unsigned_abs(),
            remaining,
            reset_ms,
        }),
        Err((-2, message)) => Err(RateLimitError::Invalid(message)),
        Err((_, message)) => Err(RateLimitError::Unavailable(message)),
    }
}

/// Hands the gateway this request's members of the `RateLimit-Policy` and `RateLimit`
/// response fields (draft-ietf-httpapi-ratelimit-headers), e.g. `"default";q=100;w=10` and
/// `"default";r=99;t=10`. The gateway adds them to whatever response the request gets (the
/// dispatcher's, a later middleware's answer, an error), after the `on_response` chain, each
/// field as one line joining members already there: a rate-limiting middleware needs no
/// `on_response` of its own (see [`crate::hooks::skip_on_response`]). `false` when either
/// is empty or not a valid field value (nothing is recorded then).
pub fn report(policy_member: &str, limit_member: &str) -> bool {
    host::ratelimit_report(policy_member, limit_member)
}

/// A rate-limit policy the gateway can apply by itself, declared with [`host_policy`]: the
/// bucket of each request is `bucket` followed by its partition (`ip:<address>`, `ip:unknown`
/// or `header:<lowercase hex SHA-256 of the value>`), and the answers are built from the
/// members and bodies given here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostPolicy {
    /// The start of every bucket's key (before the partition).
    pub bucket: String,
    /// Units per window.
    pub quota: u64,
    /// The sliding window, in milliseconds.
    pub window_ms: u64,
    /// `client_ip`, or `header:<lowercase name>` (the first value; missing or empty: the
    /// client's address).
    pub partition: String,
    /// Proxies whose `X-Forwarded-For` entries are believed (CIDRs or addresses).
    pub trusted_proxies: Vec<String>,
    /// Whether requests go on (without fields) when the limiter is unavailable; otherwise
    /// they are answered 503 with `unavailable_body`.
    pub fail_open: bool,
    /// The `RateLimit-Policy` member, e.g. `"default";q=100;w=10`.
    pub policy: String,
    /// The policy's name as a Structured Field string (`"default"`): `RateLimit` members are
    /// `<name>;r=<remaining>;t=<seconds to reset, rounded up>`.
    pub name: String,
    /// The body of a 429 (`application/problem+json`, with `Retry-After`, both fields).
    pub refused_body: String,
    /// The body of a 503 (`application/problem+json`, with `Retry-After: 1`).
    pub unavailable_body: String,
}

/// During `init`: asks the gateway to apply `policy` itself. When it accepts, the plugin's
/// hooks are no longer called for requests (the gateway takes each unit, adds the fields
/// and answers refusals as described by the policy), so they must decide exactly as the
/// policy says: they still run on a gateway that declines (`Err`, with its reason; e.g. one
/// without a limiter).
pub fn host_policy(policy: &HostPolicy) -> Result<(), String> {
    let json = serde_json::to_string(policy).map_err(|e| e.to_string())?;
    host::ratelimit_host_policy(json.as_bytes()).map_err(|(code, message)| {
        if message.is_empty() {
            format!("the gateway declined the policy ({code})")
        } else {
            message
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeHost;

    #[test]
    fn reports_are_kept_for_the_gateway_in_order() {
        let mut host = FakeHost::new();
        assert!(report("\"a\";q=1;w=1", "\"a\";r=0;t=1"));
        assert!(report("\"b\";q=2;w=1", "\"b\";r=1;t=1"));
        assert!(!report("", "\"c\";r=1;t=1"));
        assert!(!report("\"c\";q=1;w=1", "bad\nvalue"));
        assert_eq!(
            host.ratelimit_reports(),
            vec![
                ("\"a\";q=1;w=1".to_owned(), "\"a\";r=0;t=1".to_owned()),
                ("\"b\";q=2;w=1".to_owned(), "\"b\";r=1;t=1".to_owned()),
            ]
        );
        // After the chain, latest report first, each field one line.
        host.finish();
        assert_eq!(
            host.response_headers("ratelimit-policy"),
            vec!["\"b\";q=2;w=1, \"a\";q=1;w=1"]
        );
        assert_eq!(
            host.response_headers("ratelimit"),
            vec!["\"b\";r=1;t=1, \"a\";r=0;t=1"]
        );
        assert!(host.ratelimit_reports().is_empty());
    }

    #[test]
    fn the_fake_counts_a_sliding_window_per_key() {
        let mut host = FakeHost::new();
        for remaining in [2, 1, 0] {
            let d = take("a", 3, 1_000).unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
            assert_eq!(d.limit, 3);
            host.advance_ms(100);
        }
        // Three units taken at +0, +100, +200; now +300: refused, and a refusal costs nothing.
        for _ in 0..2 {
            let d = take("a", 3, 1_000).unwrap();
            assert_eq!(
                d,
                Decision {
                    allowed: false,
                    limit: 3,
                    remaining: 0,
                    reset_ms: 700
                }
            );
        }
        // Another key has its own bucket.
        assert_eq!(take("b", 3, 1_000).unwrap().remaining, 2);
        // At +1000 the first unit leaves the window: exactly one is free again.
        host.advance_ms(700);
        let d = take("a", 3, 1_000).unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_ms, 100);
        assert!(!take("a", 3, 1_000).unwrap().allowed);
        // A whole window later everything is free.
        host.advance_ms(1_000);
        assert_eq!(take("a", 3, 1_000).unwrap().remaining, 2);
        assert_eq!(
            host.ratelimit_takes().first(),
            Some(&("a".to_owned(), 3, 1_000))
        );
    }

    #[test]
    fn the_fake_refuses_what_the_gateway_refuses() {
        let mut host = FakeHost::new();
        for (key, quota, window) in [
            ("", 1, 1),
            ("k", 0, 1),
            ("k", 1, 0),
            ("k", u64::MAX, 1),
            ("k", 1, u64::MAX),
        ] {
            assert!(
                matches!(take(key, quota, window), Err(RateLimitError::Invalid(_))),
                "{key:?} {quota} {window}"
            );
        }
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(take(&long, 1, 1), Err(RateLimitError::Invalid(_))));
        assert!(take(&long[..MAX_KEY_BYTES], 1, 1).is_ok());

        host.ratelimit_available(false);
        let err = take("k", 5, 1_000).unwrap_err();
        assert!(matches!(err, RateLimitError::Unavailable(_)));
        assert!(err.to_string().starts_with("rate limiter unavailable: "));
        host.ratelimit_available(true);
        // Nothing was counted while the limiter was away.
        assert_eq!(take("k", 5, 1_000).unwrap().remaining, 4);
    }

    #[test]
    fn the_fake_keeps_its_counters_across_requests_but_not_hosts() {
        let mut host = FakeHost::new();
        assert_eq!(take("k", 2, 1_000).unwrap().remaining, 1);
        host.next_request();
        assert_eq!(take("k", 2, 1_000).unwrap().remaining, 0);
        let _host = FakeHost::new();
        assert_eq!(take("k", 2, 1_000).unwrap().remaining, 1);
    }
}
