//! `cache`: serves responses from the gateway's response cache (`barbacane:cache`) and
//! stores cacheable upstream responses in it. The entries live in the host: in process,
//! bounded in bytes (`serve --cache-memory`), or on the Redis of `serve --state`, shared by
//! every gateway node. Concurrent misses for one key are coalesced: one request goes
//! upstream, the others wait for its answer (up to `lock_timeout_ms`).
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `ttl` | integer, 1 to 31,536,000 (seconds) | `300` | longest time an entry is served; an upstream `s-maxage` or `max-age` shortens it, never lengthens it |
//! | `vary` | array of header names | `[]` | request headers whose values are part of the key |
//! | `methods` | array of methods | `["GET", "HEAD"]` | methods whose responses are cached (matched exactly, so write them in upper case) |
//! | `cacheable_status` | array of status codes | `[200, 301, 404]` | statuses that may be stored |
//! | `store_set_cookie` | bool | `false` | also store responses carrying `Set-Cookie` (ours) |
//! | `lock_timeout_ms` | integer, 0 to 60,000 | `5000` | how long a miss waits for another request already fetching the key; 0: no coalescing (ours) |
//!
//! The configuration is refused when a `vary` entry or a method is not an RFC 9110 token,
//! or a status is outside 100-599.
//!
//! # Behaviour
//!
//! **Key**: the method, the path, the query string as sent (parameter order matters) and,
//! for each `vary` header, its values. A request carrying `Authorization` (when `vary` does
//! not list `authorization`) is looked up and stored apart from anonymous ones: only
//! responses explicitly shareable are stored for it (see below), and an anonymous entry is
//! never served to it. The host hashes the key with the plugin's name and the artifact's
//! fingerprint: a new artifact starts with an empty cache.
//!
//! **Hit**: the stored response is answered at once (later middlewares and the dispatcher
//! do not run; earlier middlewares' `on_response` do), with `X-Cache: HIT` and `Age` (the
//! seconds since it was stored, plus the upstream's own `Age` when it sent one).
//! The plugin declares its key rule to the gateway at `init` (`cache::serve_hits`), so the
//! gateway answers hits itself, without calling into the plugin, and does not call it at
//! all for methods it does not cache; the plugin runs on misses only.
//!
//! **Miss**: the request goes on; the response gets `X-Cache: MISS` and is stored when all
//! of these hold:
//!
//! - its status is in `cacheable_status`;
//! - its `Cache-Control` has none of `no-store`, `private`, `no-cache` (the gateway does not
//!   revalidate, so a response that must be revalidated is not kept);
//! - it has no `Set-Cookie`, unless `store_set_cookie`;
//! - for a request with `Authorization` (not a `vary` header): its `Cache-Control` has
//!   `public`, `s-maxage` or `must-revalidate` (RFC 9111 §3.5);
//! - its `Vary` names only headers listed in `vary` (`Vary: *` is never stored): an entry
//!   keyed without a header the upstream varies on could be served to the wrong client;
//! - its freshness is positive: `ttl`, or the upstream's `s-maxage` (else `max-age`) when
//!   smaller, minus the upstream's `Age`;
//! - its body reached the gateway whole (bodies over 8 MiB stream through unstored).
//!
//! `Expires` and the request's own `Cache-Control` are not interpreted (a client cannot
//! force misses on a shared cache). Headers middlewares later in the chain added to the
//! response are part of the entry; those added by earlier ones are not (they run again on
//! every hit). Put authentication and rate limits before `cache` in the chain, so that hits
//! are authenticated and counted too.
//!
//! **Methods** not listed pass through untouched (no `X-Cache`). The cache being
//! unavailable (Redis down) makes lookups misses: requests go upstream, nothing fails.
//!
//! Capabilities: `request`, `response`, `cache`, `log`.

use barbacane_plugin_sdk::cache::{self, HitRule, Lookup};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{buffering, hooks, log};
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    #[serde(default = "default_ttl")]
    ttl: u64,
    #[serde(default)]
    vary: Vec<String>,
    #[serde(default = "default_methods")]
    methods: Vec<String>,
    #[serde(default = "default_statuses")]
    cacheable_status: Vec<u16>,
    #[serde(default)]
    store_set_cookie: bool,
    #[serde(default = "default_lock_timeout")]
    lock_timeout_ms: u32,
    /// The key rule, built by `init` and declared to the gateway.
    #[serde(skip)]
    rule: Option<HitRule>,
    /// What `on_response` does for the request in flight (the instance serves one request
    /// from `on_request` to `on_response`).
    #[serde(skip)]
    pending: Pending,
}

fn default_ttl() -> u64 {
    300
}

fn default_methods() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}

fn default_statuses() -> Vec<u16> {
    vec![200, 301, 404]
}

fn default_lock_timeout() -> u32 {
    5000
}

/// Longest `ttl`: one year.
const MAX_TTL: u64 = 365 * 24 * 3600;

#[derive(Debug, Default)]
enum Pending {
    /// Not cached (method not listed), or answered from the cache.
    #[default]
    Nothing,
    /// Missed: store the response under this key if it is cacheable.
    Store { key: Vec<u8>, authorized: bool },
}

impl Middleware for Cache {
    fn init(&mut self) -> Result<(), String> {
        if !(1..=MAX_TTL).contains(&self.ttl) {
            return Err(format!("ttl must be 1 to {MAX_TTL} seconds"));
        }
        for name in &mut self.vary {
            if !is_token(name) {
                return Err(format!("vary: `{name}` is not a header name"));
            }
            name.make_ascii_lowercase();
        }
        if let Some(bad) = self.methods.iter().find(|m| !is_token(m)) {
            return Err(format!("methods: `{bad}` is not a method"));
        }
        if let Some(bad) = self
            .cacheable_status
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(format!("cacheable_status: {bad} is not a status code"));
        }
        if self.lock_timeout_ms > 60_000 {
            return Err("lock_timeout_ms must be at most 60000".into());
        }
        // Entries hold whole bodies: proxied ones must be buffered to be stored.
        buffering::response_body();
        let rule = HitRule::new(&self.methods, &self.vary, self.lock_timeout_ms);
        // The gateway answers fresh hits itself (no call into this plugin); should it refuse
        // the rule, this plugin answers them as before.
        if let Err(reason) = cache::serve_hits(&rule) {
            log::warn(&format!("hits are answered by the plugin: {reason}"));
        }
        self.rule = Some(rule);
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        self.pending = Pending::Nothing;
        let Some(rule) = &self.rule else {
            return Action::Continue;
        };
        if !rule.caches(&request.method()) {
            hooks::skip_on_response();
            return Action::Continue;
        }
        let authorized = rule.authorized(request);
        let key = rule.key(request);
        match cache::lookup(&key, self.lock_timeout_ms) {
            Lookup::Hit(mut hit) => {
                let upstream_age = hit
                    .header("age")
                    .and_then(|a| a.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                let age = upstream_age.saturating_add(u64::from(hit.age_seconds()));
                let _ = hit.set_header("age", &age.to_string());
                let _ = hit.set_header("x-cache", "HIT");
                // Nothing to store: the response is this one.
                hooks::skip_on_response();
                Action::RespondAsIs
            }
            Lookup::Fill | Lookup::Miss => {
                self.pending = Pending::Store { key, authorized };
                Action::Continue
            }
        }
    }

    fn on_response(&mut self, response: &mut Response) {
        let Pending::Store { key, authorized } = std::mem::take(&mut self.pending) else {
            return;
        };
        if let Some(ttl) = self.freshness(response, authorized) {
            match cache::store(&key, ttl.saturating_mul(1000)) {
                Ok(()) | Err(cache::StoreError::Unavailable) => {}
                Err(cache::StoreError::NoBody) => {
                    log::debug("response not stored: its body was not buffered (over 8 MiB)");
                }
                Err(cache::StoreError::Invalid) => log::warn("response not stored: invalid key"),
            }
        }
        let _ = response.set_header("x-cache", "MISS");
    }
}

impl Cache {
    /// How long the response may be served from the cache, in seconds; `None` when it must
    /// not be stored.
    fn freshness(&self, response: &Response, authorized: bool) -> Option<u64> {
        if !self.cacheable_status.contains(&response.status()) {
            return None;
        }
        let directives = CacheControl::parse(&response.header_values("cache-control"));
        if directives.no_store || directives.private || directives.no_cache {
            return None;
        }
        if !self.store_set_cookie && response.header("set-cookie").is_some() {
            return None;
        }
        if authorized
            && !(directives.public || directives.s_maxage.is_some() || directives.must_revalidate)
        {
            return None;
        }
        for value in response.header_values("vary") {
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if name == "*" || !self.vary.iter().any(|v| v.eq_ignore_ascii_case(name)) {
                    return None;
                }
            }
        }
        let mut ttl = self.ttl;
        if let Some(upstream) = directives.s_maxage.or(directives.max_age) {
            ttl = ttl.min(upstream);
        }
        let age = response
            .header("age")
            .and_then(|a| a.trim().parse::<u64>().ok())
            .unwrap_or(0);
        Some(ttl.saturating_sub(age)).filter(|t| *t > 0)
    }
}

/// The `Cache-Control` directives this plugin reads (RFC 9111 §5.2.2).
#[derive(Debug, Default, PartialEq, Eq)]
struct CacheControl {
    no_store: bool,
    no_cache: bool,
    private: bool,
    public: bool,
    must_revalidate: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

impl CacheControl {
    /// Every field line's directives, case-insensitive; arguments may be quoted. A
    /// `max-age` or `s-maxage` that is not a number counts as 0 (stale at once), as RFC 9111
    /// §4.2.1 asks of invalid freshness.
    fn parse(lines: &[String]) -> CacheControl {
        let mut cc = CacheControl::default();
        for directive in lines.iter().flat_map(|l| l.split(',')) {
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            let seconds = || arg.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
            match name.to_ascii_lowercase().as_str() {
                "no-store" => cc.no_store = true,
                "no-cache" => cc.no_cache = true,
                "private" => cc.private = true,
                "public" => cc.public = true,
                "must-revalidate" => cc.must_revalidate = true,
                "max-age" => cc.max_age = Some(seconds()),
                "s-maxage" => cc.s_maxage = Some(seconds()),
                _ => {}
            }
        }
        cc
    }
}

/// An RFC 9110 token (header names, methods).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests;
