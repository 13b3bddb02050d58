//! The gateway's response cache (`barbacane:cache`): entries kept by the host, in process
//! (bounded in bytes) or on a Redis shared by every gateway node, with concurrent misses for
//! one key coalesced. Declare `cache` in `plugin.toml`; ask for response bodies in `init`
//! ([`crate::buffering::response_body`]) so that responses can be stored.
//!
//! The flow of a caching middleware:
//!
//! ```
//! use barbacane_plugin_sdk::cache::{self, Lookup};
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! // on_request: a miss makes this request the key's filler
//! assert!(matches!(cache::lookup(b"GET /pets", 5_000), Lookup::Fill));
//! // on_response, once the upstream answered:
//! host.response(200, &[("content-type", "application/json")], b"[]");
//! assert_eq!(cache::store(b"GET /pets", 60_000), Ok(()));
//! // a later request hits: the stored response is now this request's response
//! host.next_request();
//! let Lookup::Hit(hit) = cache::lookup(b"GET /pets", 5_000) else { panic!() };
//! assert_eq!(hit.age_seconds(), 0);
//! assert_eq!(hit.header("content-type").as_deref(), Some("application/json"));
//! ```

use crate::host::{self, Side};
use crate::request::{Request, text};

/// How a lookup ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A fresh entry: it is now this request's response. Add headers through the [`Hit`]
    /// and answer with [`crate::Action::RespondAsIs`].
    Hit(Hit),
    /// No entry, and this request fills it: go on to the upstream, then [`store`] the
    /// response (requests waiting for the key are released when this request stores or
    /// ends).
    Fill,
    /// No entry, and another request is filling it but did not finish within the wait, or
    /// the cache is unavailable: go on without it.
    Miss,
}

/// A cache hit: the stored response, now the request's response.
#[derive(Debug, PartialEq, Eq)]
pub struct Hit {
    age: u32,
}

impl Hit {
    /// Seconds since the entry was stored.
    pub fn age_seconds(&self) -> u32 {
        self.age
    }

    /// The stored response's status.
    pub fn status(&self) -> u16 {
        host::status().unwrap_or(0)
    }

    /// The first value of one of the stored response's headers.
    pub fn header(&self, name: &str) -> Option<String> {
        host::header(Side::Response, name, 0).map(text)
    }

    /// Replaces a header of the response about to be sent (the stored entry is not changed).
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), crate::Refused> {
        if host::set_header(Side::Response, name, value.as_bytes(), false) {
            Ok(())
        } else {
            Err(crate::Refused)
        }
    }
}

/// Why a response was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The response body is not visible (streamed past the buffering bound, or the plugin
    /// did not ask for response bodies).
    NoBody,
    /// An empty key, a key over 16 KiB, or a TTL outside 1 ms to one year.
    Invalid,
    /// The cache cannot be reached.
    Unavailable,
}

/// Looks `key` up. When another request is filling the key, waits up to `wait_ms` (at most
/// 60,000) for it. The host hashes the key with the plugin's name and the artifact's
/// fingerprint, so keys may be long; they never leave the gateway in clear.
pub fn lookup(key: &[u8], wait_ms: u32) -> Lookup {
    let wait = i32::try_from(wait_ms.min(60_000)).unwrap_or(60_000);
    match host::cache_lookup(key, wait) {
        -1 => Lookup::Fill,
        age if age >= 0 => Lookup::Hit(Hit {
            age: u32::try_from(age).unwrap_or(u32::MAX),
        }),
        _ => Lookup::Miss,
    }
}

/// Stores the response as it is now (status, headers but hop-by-hop ones, body) under `key`
/// for `ttl_ms` milliseconds, and releases the requests waiting for the key.
pub fn store(key: &[u8], ttl_ms: u64) -> Result<(), StoreError> {
    match host::cache_store(key, i64::try_from(ttl_ms).unwrap_or(i64::MAX)) {
        0 => Ok(()),
        -1 => Err(StoreError::NoBody),
        -2 => Err(StoreError::Invalid),
        _ => Err(StoreError::Unavailable),
    }
}

/// A caching middleware's key rule: which methods it caches, which request headers are part
/// of the key, how long a miss waits for another request filling the key. Declared to the
/// gateway with [`serve_hits`] during `init`, it lets the gateway answer fresh hits without
/// calling the plugin; the plugin builds its own keys with [`HitRule::key`], so the gateway's
/// and the plugin's keys are the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRule {
    methods: Vec<String>,
    vary: Vec<String>,
    wait_ms: u32,
}

impl HitRule {
    /// A rule. Methods are matched exactly (write them in upper case); `vary` names are
    /// lowercased; `wait_ms` is capped at 60,000.
    pub fn new(methods: &[String], vary: &[String], wait_ms: u32) -> HitRule {
        HitRule {
            methods: methods.to_vec(),
            vary: vary.iter().map(|v| v.to_ascii_lowercase()).collect(),
            wait_ms: wait_ms.min(60_000),
        }
    }

    /// Whether requests with `method` are cached.
    pub fn caches(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }

    /// Whether `request` is looked up and stored apart from anonymous ones: it carries
    /// `Authorization` and the rule does not vary on it.
    pub fn authorized(&self, request: &Request) -> bool {
        request.header("authorization").is_some() && !self.vary.iter().any(|v| v == "authorization")
    }

    /// The key of `request`, as the gateway builds it (`docs/plugin-abi.md`): the method,
    /// the path and query as sent, each `vary` header with its values, and a marker for
    /// [`HitRule::authorized`] requests, separated by `\n` (which no header value, path or
    /// query contains): `GET\n/pets?kind=cat\naccept:text/html\nauthorized`.
    pub fn key(&self, request: &Request) -> Vec<u8> {
        let mut key = Vec::with_capacity(128);
        key.extend_from_slice(request.method().as_bytes());
        key.push(b'\n');
        key.extend_from_slice(request.path().as_bytes());
        if let Some(query) = request.query() {
            key.push(b'?');
            key.extend_from_slice(query.as_bytes());
        }
        for name in &self.vary {
            key.push(b'\n');
            key.extend_from_slice(name.as_bytes());
            key.push(b':');
            for (i, value) in request.header_values(name).iter().enumerate() {
                if i > 0 {
                    key.push(b',');
                }
                key.extend_from_slice(value.as_bytes());
            }
        }
        if self.authorized(request) {
            key.extend_from_slice(b"\nauthorized");
        }
        key
    }

    /// How long a miss waits for another request filling the key, in milliseconds.
    pub fn wait_ms(&self) -> u32 {
        self.wait_ms
    }
}

/// Asks the gateway to serve this middleware's fresh hits itself (during `init` only). From
/// then on, for each request, the gateway looks up [`HitRule::key`] before calling the
/// plugin: a fresh entry is answered at once with `Age` (the entry's own `Age` plus its
/// time in the cache) and `X-Cache: HIT`, and the plugin is not called; a method the rule
/// does not cache skips the plugin entirely; on a miss the plugin runs as usual and its
/// [`lookup`] of the same key returns the gateway's outcome without a second lookup. So the
/// plugin's `on_request` must treat a hit the same way (it still sees hits the gateway could
/// not serve, e.g. on a gateway without a cache). `Err` carries the gateway's reason.
pub fn serve_hits(rule: &HitRule) -> Result<(), String> {
    let json = serde_json::json!({
        "methods": rule.methods,
        "vary": rule.vary,
        "wait_ms": rule.wait_ms,
    });
    host::cache_serve_hits(json.to_string().as_bytes()).map_err(|(code, message)| {
        if message.is_empty() {
            format!("the gateway refused the cache rule ({code})")
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
    fn keys_are_the_documented_bytes() {
        let mut host = FakeHost::new();
        host.method("GET")
            .path("/pets")
            .query("b=2&a=1")
            .header("Accept", "text/html")
            .header("accept", "application/json")
            .header("authorization", "Bearer t");
        let rule = HitRule::new(&["GET".into()], &["Accept".into(), "X-Tenant".into()], 5);
        assert_eq!(
            String::from_utf8(rule.key(&Request::host())).unwrap(),
            "GET\n/pets?b=2&a=1\naccept:text/html,application/json\nx-tenant:\nauthorized"
        );
        let by_token = HitRule::new(&["GET".into()], &["authorization".into()], 5);
        assert!(!by_token.authorized(&Request::host()));
        assert_eq!(
            String::from_utf8(by_token.key(&Request::host())).unwrap(),
            "GET\n/pets?b=2&a=1\nauthorization:Bearer t"
        );
    }

    #[test]
    fn the_rule_reaches_the_gateway_as_json() {
        let host = FakeHost::new();
        let rule = HitRule::new(&["GET".into(), "HEAD".into()], &["Accept".into()], 90_000);
        assert!(rule.caches("HEAD") && !rule.caches("get"));
        serve_hits(&rule).unwrap();
        let sent: serde_json::Value = serde_json::from_str(&host.hit_rule().unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"methods": ["GET", "HEAD"], "vary": ["accept"], "wait_ms": 60000})
        );
        assert!(serve_hits(&HitRule::new(&[], &[], 0)).is_err());
    }
}
