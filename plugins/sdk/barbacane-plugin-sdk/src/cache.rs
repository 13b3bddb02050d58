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
use crate::request::text;

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
