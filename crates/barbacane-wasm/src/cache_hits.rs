//! Cache hits served by the host on a caching middleware's behalf
//! (`barbacane:cache.serve_hits`).
//!
//! A caching middleware's hit is the same work every time: build the key, look it up, answer
//! with the entry plus `Age` and `X-Cache: HIT`. Entering the plugin for it costs an instance
//! checkout, a fiber and a handful of host calls, which is more than the rest of a cached
//! request. So a plugin may declare its key rule during `init`; the gateway then computes the
//! key itself before the plugin's `on_request`, answers fresh hits natively, does not call
//! the plugin at all for methods it does not cache, and hands the lookup's outcome (a lease
//! to fill the key, or "go without the cache") to the plugin's own `lookup` of the same key,
//! so a miss costs one lookup, not two.
//!
//! The key is the documented one (`docs/plugin-abi.md`, "Response cache"), the same bytes
//! the SDK's `cache::HitRule::key` builds inside the plugin:
//!
//! ```text
//! METHOD "\n" path ["?" query] ("\n" name ":" value ("," value)*)* ["\nauthorized"]
//! ```
//!
//! one `name:values` group per `vary` header in the rule's order (values in request order,
//! invalid UTF-8 replaced as the SDK's text getters do), and `\nauthorized` when the request
//! carries `Authorization` and the rule does not vary on it.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{CacheKey, KeySpace, Lookup, SharedCache};
use crate::state::{ExchangeState, ResponseState};

/// The key rule a middleware declared with `serve_hits`.
#[derive(Debug)]
pub(crate) struct HitRule {
    methods: Vec<Method>,
    vary: Vec<HeaderName>,
    /// How long a miss waits for another request filling the key.
    wait: Duration,
    /// `vary` lists `authorization`: authorized requests are not kept apart.
    varies_on_authorization: bool,
}

/// The rule as the guest passes it (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    methods: Vec<String>,
    #[serde(default)]
    vary: Vec<String>,
    #[serde(default)]
    wait_ms: u32,
}

/// Longest wait a rule may ask for (as `lookup`'s own bound).
const MAX_WAIT_MS: u32 = 60_000;

impl HitRule {
    /// Parses a rule: `{"methods": [...], "vary": [...], "wait_ms": N}`.
    pub(crate) fn parse(json: &[u8]) -> Result<HitRule, String> {
        let raw: RawRule = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        if raw.methods.is_empty() {
            return Err("methods: at least one method".into());
        }
        if raw.wait_ms > MAX_WAIT_MS {
            return Err(format!("wait_ms: at most {MAX_WAIT_MS}"));
        }
        let methods = raw
            .methods
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()).map_err(|_| format!("`{m}` is not a method")))
            .collect::<Result<Vec<_>, _>>()?;
        let vary = raw
            .vary
            .iter()
            .map(|n| {
                HeaderName::from_bytes(n.as_bytes())
                    .ok()
                    // The key names the header as written; only lowercase names mean the
                    // same in both.
                    .filter(|h| h.as_str() == n)
                    .ok_or_else(|| format!("vary: `{n}` is not a lowercase header name"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HitRule {
            varies_on_authorization: vary.contains(&http::header::AUTHORIZATION),
            methods,
            vary,
            wait: Duration::from_millis(u64::from(raw.wait_ms)),
        })
    }

    /// Whether requests with this method are cached at all.
    pub(crate) fn applies_to(&self, method: &Method) -> bool {
        self.methods.contains(method)
    }

    /// The plugin's key for a request (see the module docs), appended to `key`.
    pub(crate) fn key(&self, request: Head<'_>, key: &mut Vec<u8>) {
        key.extend_from_slice(request.method.as_str().as_bytes());
        key.push(b'\n');
        key.extend_from_slice(request.uri.path().as_bytes());
        if let Some(query) = request.uri.query() {
            key.push(b'?');
            key.extend_from_slice(query.as_bytes());
        }
        for name in &self.vary {
            key.push(b'\n');
            key.extend_from_slice(name.as_str().as_bytes());
            key.push(b':');
            for (i, value) in request.headers.get_all(name).iter().enumerate() {
                if i > 0 {
                    key.push(b',');
                }
                key.extend_from_slice(text(value).as_bytes());
            }
        }
        if !self.varies_on_authorization
            && request.headers.contains_key(http::header::AUTHORIZATION)
        {
            key.extend_from_slice(b"\nauthorized");
        }
    }
}

/// What the key is built from: the request as the middleware would see it.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target (only its path and query are read).
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
}

impl<'a> From<&'a ExchangeState> for Head<'a> {
    fn from(e: &'a ExchangeState) -> Head<'a> {
        Head {
            method: &e.method,
            uri: &e.uri,
            headers: &e.headers,
        }
    }
}

/// A header value as the SDK's text getters give it to the plugin.
fn text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// What the gateway does with a caching middleware for one request
/// ([`crate::Prepared::serve_cached`]).
#[derive(Debug)]
pub enum CacheStep {
    /// The method is not cached: the middleware is not called for this request.
    Bypass,
    /// A fresh entry answers the request (with `Age` and `X-Cache: HIT`); the middleware
    /// is not called (it counts as its short circuit).
    Hit(ResponseState),
    /// No fresh entry: call the middleware, handing it this lookup with
    /// [`crate::Call::hand_lookup`].
    Lookup(PreLookup),
}

/// A lookup the host made for a middleware: its own `lookup` of the same key returns this
/// outcome instead of looking again.
pub struct PreLookup {
    pub(crate) key: CacheKey,
    pub(crate) outcome: Lookup,
}

impl std::fmt::Debug for PreLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let outcome = match self.outcome {
            Lookup::Hit(_) => "hit",
            Lookup::Fill(_) => "fill",
            Lookup::Miss => "miss",
        };
        f.debug_struct("PreLookup")
            .field("outcome", &outcome)
            .finish()
    }
}

/// Looks `request` up under `rule` in the plugin's `space` of `cache`; a fresh hit is the entry with
/// `Age` and `X-Cache: HIT`.
pub(crate) async fn serve(
    rule: &HitRule,
    cache: &Arc<SharedCache>,
    space: &KeySpace,
    request: Head<'_>,
) -> CacheStep {
    if !rule.applies_to(request.method) {
        return CacheStep::Bypass;
    }
    let key = match crate::near_cache::hit(space, |key| rule.key(request, key)) {
        Ok(response) => return CacheStep::Hit(response),
        Err(key) => key,
    };
    let generation = space.generation();
    match cache.lookup(&key, rule.wait).await {
        Lookup::Hit(entry) => {
            // As a caching plugin answers a hit: the upstream's own `Age` plus the time the
            // entry has been resident (whole seconds, as `lookup` returns it).
            let upstream = entry
                .headers
                .get(http::header::AGE)
                .and_then(|a| a.to_str().ok())
                .and_then(|a| a.trim().parse::<u64>().ok())
                .unwrap_or(0);
            crate::near_cache::offer(
                space,
                generation,
                |key| rule.key(request, key),
                &entry,
                upstream,
            );
            let resident = crate::host::cache::now_ms().saturating_sub(entry.stored_at_ms) / 1000;
            // `lookup` gives the plugin an i32.
            let resident = resident.min(i32::MAX as u64);
            let mut headers = entry.headers.clone();
            mark_hit(&mut headers, upstream.saturating_add(resident));
            CacheStep::Hit(ResponseState {
                status: entry.status,
                headers,
                body: Some(entry.body.clone()),
            })
        }
        outcome => CacheStep::Lookup(PreLookup { key, outcome }),
    }
}

/// Adds what a hit carries: `Age` (seconds) and `X-Cache: HIT`.
pub(crate) fn mark_hit(headers: &mut HeaderMap, age: u64) {
    headers.insert(http::header::AGE, age_value(age));
    headers.insert(X_CACHE.clone(), HeaderValue::from_static("HIT"));
}

/// An `Age` value. Below [`AGES`] it points into a static table instead of allocating: a
/// hit's other fields are all shared or static, and this one changes every second.
pub(crate) fn age_value(age: u64) -> HeaderValue {
    let Ok(n) = usize::try_from(age) else {
        return HeaderValue::from(age);
    };
    if n >= AGES {
        return HeaderValue::from(age);
    }
    let (start, len) = match n {
        0..=9 => (n, 1),
        10..=99 => (10 + (n - 10) * 2, 2),
        100..=999 => (190 + (n - 100) * 3, 3),
        _ => (2890 + (n - 1000) * 4, 4),
    };
    match std::str::from_utf8(&AGE_DIGITS[start..start + len]) {
        Ok(digits) => HeaderValue::from_static(digits),
        Err(_) => HeaderValue::from(age),
    }
}

/// Ages with a static value: 0 to 9,999 seconds.
const AGES: usize = 10_000;

/// The decimal digits of 0, 1, ..., 9999, one after the other (38,890 bytes).
static AGE_DIGITS: [u8; 38_890] = {
    let mut table = [0u8; 38_890];
    let (mut n, mut at) = (0usize, 0usize);
    while n < AGES {
        let len = if n < 10 {
            1
        } else if n < 100 {
            2
        } else if n < 1000 {
            3
        } else {
            4
        };
        let (mut i, mut rest) = (len, n);
        while i > 0 {
            i -= 1;
            table[at + i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        at += len;
        n += 1;
    }
    table
};

static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(target: &str, headers: &[(&str, &[u8])]) -> ExchangeState {
        let mut e = ExchangeState {
            method: Method::GET,
            uri: target.parse().unwrap(),
            ..Default::default()
        };
        for (n, v) in headers {
            e.headers.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        e
    }

    fn key(rule: &HitRule, e: &ExchangeState) -> String {
        let mut k = Vec::new();
        rule.key(e.into(), &mut k);
        String::from_utf8(k).unwrap()
    }

    #[test]
    fn the_key_is_method_target_vary_groups_and_authorization() {
        let rule =
            HitRule::parse(br#"{"methods":["GET"],"vary":["accept","x-tenant"],"wait_ms":10}"#)
                .unwrap();
        let e = exchange(
            "/pets?b=2&a=1",
            &[
                ("accept", b"text/html"),
                ("accept", b"application/json"),
                ("authorization", b"Bearer x"),
            ],
        );
        assert_eq!(
            key(&rule, &e),
            "GET\n/pets?b=2&a=1\naccept:text/html,application/json\nx-tenant:\nauthorized"
        );
        // An empty query is still a query; no query is none.
        assert_eq!(
            key(&rule, &exchange("/p?", &[])),
            "GET\n/p?\naccept:\nx-tenant:"
        );
        assert_eq!(
            key(&rule, &exchange("/p", &[])),
            "GET\n/p\naccept:\nx-tenant:"
        );
    }

    #[test]
    fn varying_on_authorization_keys_by_its_value_instead() {
        let rule = HitRule::parse(br#"{"methods":["GET"],"vary":["authorization"]}"#).unwrap();
        let e = exchange("/p", &[("authorization", b"Basic YQ==")]);
        assert_eq!(key(&rule, &e), "GET\n/p\nauthorization:Basic YQ==");
    }

    #[test]
    fn invalid_utf8_is_replaced_as_the_sdk_does() {
        let rule = HitRule::parse(br#"{"methods":["GET"],"vary":["x-v"]}"#).unwrap();
        let e = exchange("/p", &[("x-v", b"a\xffb")]);
        assert_eq!(key(&rule, &e), "GET\n/p\nx-v:a\u{fffd}b");
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (rule, reason) in [
            (&br#"{"methods":[]}"#[..], "at least one method"),
            (br#"{"methods":["GET"],"vary":["Accept"]}"#, "lowercase"),
            (
                br#"{"methods":["GET"],"vary":["a b"]}"#,
                "not a lowercase header name",
            ),
            (br#"{"methods":["G T"]}"#, "not a method"),
            (br#"{"methods":["GET"],"wait_ms":60001}"#, "at most 60000"),
            (br#"{"methods":["GET"],"ttl":3}"#, "unknown field"),
        ] {
            let err = HitRule::parse(rule).unwrap_err();
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn ages_from_the_table_read_as_their_numbers() {
        for age in [
            0, 1, 9, 10, 42, 99, 100, 999, 1000, 4711, 9999, 10_000, 86_400,
        ] {
            assert_eq!(age_value(age).to_str().unwrap(), age.to_string());
        }
    }

    #[test]
    fn only_listed_methods_apply() {
        let rule = HitRule::parse(br#"{"methods":["GET","HEAD"]}"#).unwrap();
        assert!(rule.applies_to(&Method::HEAD));
        assert!(!rule.applies_to(&Method::POST));
    }
}
