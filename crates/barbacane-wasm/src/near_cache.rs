//! Each worker thread's own copies of hot cache entries (the near cache), for the hits the
//! gateway serves itself ([`crate::cache_hits`]).
//!
//! Why by hand: reading the shared in-process store takes a shard's read lock and bumps the
//! entry's reference counts (the entry's, its body's, each header value's). With every
//! worker reading the same hot entries, each of those writes moves one cache line between
//! cores, on every hit: on the 2-core VM that, with the SHA-256 of the key, was most of what
//! a hit cost beyond the plain mock route. A worker answering from its own copy (headers and
//! small bodies in its own memory, keyed by the plain key bytes) does no shared write and
//! hashes nothing cryptographic. No crate offers this shape (a per-thread map with the
//! freshness and invalidation rules below), and it is small.
//!
//! What keeps it as correct as the shared store:
//! - only entries whose end of freshness the host knows are copied (the in-process store;
//!   entries read back from Redis are not), and a copy is never served past it;
//! - a copy carries its space's generation, read before the shared lookup it was copied
//!   from; a store that may replace a fresh entry moves it ([`KeySpace::replaced`]) after
//!   the new entry is in, so no worker serves the older one afterwards;
//! - an artifact reload starts new spaces: older copies are never found again and leave as
//!   they expire or are evicted.
//!
//! Bounded per thread ([`MAX_ENTRIES`], [`MAX_BYTES`]). A copy costs a few allocations, so
//! only one shared hit in [`ADMIT_EVERY`] is copied: a hot key gets its copy within a few
//! requests, and a working set wider than the bound does not pay a copy per request.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::cache::{CacheKey, CachedResponse, KeySpace};
use crate::state::ResponseState;

/// Copies one worker keeps at most.
pub(crate) const MAX_ENTRIES: usize = 256;
/// Bytes of copies (bodies, headers, keys) one worker keeps at most.
pub(crate) const MAX_BYTES: usize = 2 << 20;
/// An entry heavier than this is never copied.
const MAX_ENTRY_BYTES: usize = MAX_BYTES / 16;
/// Bodies up to this size are copied into the worker's memory; larger ones are shared with
/// the store (one reference count is nothing next to writing such a body out).
const COPY_BODY: usize = 16 << 10;
/// One shared hit in this many is copied.
pub(crate) const ADMIT_EVERY: u32 = 8;
/// Expired copies are swept at most this often when the near cache is full.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Copy {
    status: StatusCode,
    /// The stored headers with `X-Cache: HIT` and an `Age` of 0 (replaced when older).
    headers: HeaderMap,
    body: Bytes,
    /// The upstream's own `Age`, in seconds.
    upstream_age: u64,
    stored_at: Instant,
    expires_at: Instant,
    generation: u64,
    weight: usize,
}

struct Near {
    copies: HashMap<Box<[u8]>, Copy, foldhash::fast::RandomState>,
    bytes: usize,
    /// The key being looked up: the space's id, then the plugin's key bytes.
    key: Vec<u8>,
    /// Shared hits seen since the last copy.
    candidates: u32,
    swept_at: Option<Instant>,
}

thread_local! {
    static NEAR: RefCell<Near> = RefCell::new(Near {
        copies: HashMap::default(),
        bytes: 0,
        key: Vec::with_capacity(128),
        candidates: 0,
        swept_at: None,
    });
}

/// Looks up the key `write_key` builds in `space` among this thread's copies: a fresh,
/// current copy is the hit's response (with `Age` and `X-Cache: HIT`). Otherwise the key to
/// look up in the shared store.
pub(crate) fn hit(
    space: &KeySpace,
    write_key: impl FnOnce(&mut Vec<u8>),
) -> Result<ResponseState, CacheKey> {
    NEAR.with_borrow_mut(|near| {
        near.set_key(space, write_key);
        if near.copies.is_empty() {
            return Err(space.key(near.plugin_key()));
        }
        let now = Instant::now();
        match near.copies.get(near.key.as_slice()) {
            Some(copy) if copy.expires_at > now && copy.generation == space.generation() => {
                let mut headers = copy.headers.clone();
                let resident = now.saturating_duration_since(copy.stored_at).as_secs();
                let age = copy.upstream_age.saturating_add(resident);
                // In place: `insert` would first make room for one more field, and a clone
                // has none to spare.
                if let Some(slot) = headers.get_mut(http::header::AGE).filter(|_| age != 0) {
                    *slot = crate::cache_hits::age_value(age);
                }
                return Ok(ResponseState {
                    status: copy.status,
                    headers,
                    body: Some(copy.body.clone()),
                });
            }
            Some(_) => {
                let stale = near.copies.remove(near.key.as_slice());
                near.bytes -= stale.map_or(0, |c| c.weight);
            }
            None => {}
        }
        Err(space.key(near.plugin_key()))
    })
}

/// Offers `entry`, just read from the shared store for the key `write_key` builds, for a
/// copy (`generation`: the space's, read before that lookup; `upstream_age`: the entry's own
/// `Age`).
pub(crate) fn offer(
    space: &KeySpace,
    generation: u64,
    write_key: impl FnOnce(&mut Vec<u8>),
    entry: &CachedResponse,
    upstream_age: u64,
) {
    let Some(expires_at) = entry.expires_at else {
        return;
    };
    NEAR.with_borrow_mut(|near| {
        near.candidates += 1;
        if near.candidates < ADMIT_EVERY {
            return;
        }
        near.candidates = 0;
        near.set_key(space, write_key);
        let weight = near.key.len() + entry.weight() as usize;
        if weight > MAX_ENTRY_BYTES {
            return;
        }
        let now = Instant::now();
        let stored_ms = crate::host::cache::now_ms().saturating_sub(entry.stored_at_ms);
        let copy = Copy {
            status: entry.status,
            headers: own_headers(&entry.headers),
            body: if entry.body.len() <= COPY_BODY {
                Bytes::copy_from_slice(&entry.body)
            } else {
                entry.body.clone()
            },
            upstream_age,
            stored_at: now
                .checked_sub(Duration::from_millis(stored_ms))
                .unwrap_or(now),
            expires_at,
            generation,
            weight,
        };
        near.make_room(weight, now);
        near.bytes += weight;
        let key: Box<[u8]> = near.key.as_slice().into();
        if let Some(old) = near.copies.insert(key, copy) {
            near.bytes -= old.weight;
        }
    });
}

/// Bytes of the space's id at the start of a near key.
const ID_BYTES: usize = std::mem::size_of::<u64>();

impl Near {
    /// Makes `key` the space's id followed by the key `write_key` builds.
    fn set_key(&mut self, space: &KeySpace, write_key: impl FnOnce(&mut Vec<u8>)) {
        self.key.clear();
        self.key.extend_from_slice(&space.id().to_le_bytes());
        write_key(&mut self.key);
    }

    /// The plugin's own key bytes in `key` (what the shared store's key hashes).
    fn plugin_key(&self) -> &[u8] {
        &self.key[ID_BYTES..]
    }

    /// Frees room for a copy of `weight` bytes: expired copies first (at most once per
    /// [`SWEEP_EVERY`]), then any.
    fn make_room(&mut self, weight: usize, now: Instant) {
        let full = |n: &Near| n.copies.len() >= MAX_ENTRIES || n.bytes + weight > MAX_BYTES;
        if !full(self) {
            return;
        }
        if self
            .swept_at
            .is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY)
        {
            self.swept_at = Some(now);
            let mut freed = 0;
            self.copies.retain(|_, c| {
                let keep = c.expires_at > now;
                if !keep {
                    freed += c.weight;
                }
                keep
            });
            self.bytes -= freed;
        }
        // The map's order is its random hash's: any copy is as good a victim as another.
        while full(self) {
            let Some(victim) = self.copies.keys().next().cloned() else {
                break;
            };
            let removed = self.copies.remove(&victim);
            self.bytes -= removed.map_or(0, |c| c.weight);
        }
    }
}

/// Fields the gateway adds to every response after the chain (`Server`, `X-Request-Id`,
/// `X-Trace-Id`, and one to spare). A `HeaderMap`'s clone keeps its index table's size, so
/// sizing the copy's table for them spares every hit a rehash into a larger one.
const ADDED_LATER: usize = 4;

/// `headers` in new allocations of this thread (a clone would share the store's reference
/// counts), plus `X-Cache: HIT` and an `Age` placeholder.
fn own_headers(headers: &HeaderMap) -> HeaderMap {
    let mut own = HeaderMap::with_capacity(headers.len() + 2 + ADDED_LATER);
    for (name, value) in headers {
        let name =
            HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let mut copied =
            HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copied.set_sensitive(value.is_sensitive());
        own.append(name, copied);
    }
    crate::cache_hits::mark_hit(&mut own, 0);
    own
}

/// This thread's copies and their bytes (tests).
#[cfg(test)]
pub(crate) fn held() -> (usize, usize) {
    NEAR.with_borrow(|near| (near.copies.len(), near.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheGet, CacheGetFuture, CachePutFuture, ResponseCache, SharedCache};
    use crate::cache_hits::{CacheStep, Head, HitRule, serve};
    use http::{Method, Uri};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A store that counts its reads.
    #[derive(Debug, Default)]
    struct Counting {
        entries: Mutex<HashMap<CacheKey, Arc<CachedResponse>>>,
        reads: AtomicUsize,
    }

    impl ResponseCache for Counting {
        fn get(&self, key: &CacheKey) -> CacheGetFuture {
            let found = self.get_now(key).expect("answers at once");
            Box::pin(async move { found })
        }
        fn put(
            &self,
            key: &CacheKey,
            response: Arc<CachedResponse>,
            _: Duration,
        ) -> CachePutFuture {
            self.entries.lock().unwrap().insert(*key, response);
            Box::pin(async { Ok(()) })
        }
        fn get_now(&self, key: &CacheKey) -> Option<CacheGet> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Some(Ok(self.entries.lock().unwrap().get(key).cloned()))
        }
    }

    fn entry(body: &'static str, expires_at: Option<Instant>) -> Arc<CachedResponse> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.insert("x-origin", HeaderValue::from_static("1"));
        headers.insert("age", HeaderValue::from_static("5"));
        Arc::new(CachedResponse {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(body.as_bytes()),
            stored_at_ms: crate::host::cache::now_ms(),
            expires_at,
        })
    }

    struct Fixture {
        store: Arc<Counting>,
        cache: Arc<SharedCache>,
        space: KeySpace,
        rule: HitRule,
        uri: Uri,
        headers: HeaderMap,
    }

    impl Fixture {
        fn new(space: &str) -> Fixture {
            let store = Arc::new(Counting::default());
            Fixture {
                cache: SharedCache::new(store.clone()),
                store,
                space: KeySpace::new("sha256:test", space),
                rule: HitRule::parse(br#"{"methods":["GET"]}"#).unwrap(),
                uri: "/pets?a=1".parse().unwrap(),
                headers: HeaderMap::new(),
            }
        }
        fn head(&self) -> Head<'_> {
            Head {
                method: &Method::GET,
                uri: &self.uri,
                headers: &self.headers,
            }
        }
        fn store(&self, entry: Arc<CachedResponse>) {
            let mut raw = Vec::new();
            self.rule.key(self.head(), &mut raw);
            self.store
                .entries
                .lock()
                .unwrap()
                .insert(self.space.key(&raw), entry);
        }
        /// Serves one request: its response, and whether it read the shared store.
        async fn serve(&self) -> (ResponseState, bool) {
            let before = self.store.reads.load(Ordering::SeqCst);
            let step = serve(&self.rule, &self.cache, &self.space, self.head()).await;
            let read = self.store.reads.load(Ordering::SeqCst) > before;
            match step {
                CacheStep::Hit(response) => (response, read),
                other => panic!("not a hit: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_hot_entry_is_served_from_the_workers_copy_with_the_same_fields() {
        let f = Fixture::new("hot");
        f.store(entry("rex", Some(Instant::now() + Duration::from_secs(60))));
        for _ in 0..ADMIT_EVERY {
            assert!(f.serve().await.1, "read from the store until copied");
        }
        assert_eq!(held().0, 1);
        for _ in 0..3 {
            let (response, read) = f.serve().await;
            assert!(!read, "the copy answers");
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.body.as_deref(), Some(&b"rex"[..]));
            assert_eq!(response.headers["x-cache"], "HIT");
            assert_eq!(response.headers["x-origin"], "1");
            assert_eq!(response.headers["content-type"], "text/plain");
            // The upstream's own age plus the (zero) seconds it has been resident.
            assert_eq!(response.headers["age"], "5");
            assert_eq!(response.headers.get_all("age").iter().count(), 1);
        }
    }

    #[tokio::test]
    async fn a_copy_is_never_served_past_the_entrys_freshness() {
        let f = Fixture::new("expiring");
        f.store(entry(
            "old",
            Some(Instant::now() + Duration::from_millis(300)),
        ));
        for _ in 0..ADMIT_EVERY {
            f.serve().await;
        }
        assert!(!f.serve().await.1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        // The store still holds it (this one does not expire entries): the copy is dropped
        // and the store answers.
        assert!(f.serve().await.1);
        assert_eq!(held().0, 0, "the stale copy is gone");
    }

    #[tokio::test]
    async fn replacing_an_entry_drops_every_copy_of_the_space() {
        let f = Fixture::new("replaced");
        f.store(entry("v1", Some(Instant::now() + Duration::from_secs(60))));
        for _ in 0..ADMIT_EVERY {
            f.serve().await;
        }
        assert!(!f.serve().await.1);
        f.store(entry("v2", Some(Instant::now() + Duration::from_secs(60))));
        f.space.replaced();
        let (response, read) = f.serve().await;
        assert!(read);
        assert_eq!(response.body.as_deref(), Some(&b"v2"[..]));
    }

    #[tokio::test]
    async fn entries_read_back_from_a_shared_store_are_never_copied() {
        let f = Fixture::new("shared");
        f.store(entry("redis", None));
        for _ in 0..3 * ADMIT_EVERY {
            assert!(f.serve().await.1);
        }
        assert_eq!(held().0, 0);
    }

    #[test]
    fn copies_stay_within_the_bounds() {
        let space = KeySpace::new("sha256:test", "bounded");
        let fresh = Some(Instant::now() + Duration::from_secs(60));
        let small = entry("a", fresh);
        for i in 0..(MAX_ENTRIES * 2) as u32 * ADMIT_EVERY {
            offer(
                &space,
                0,
                |k| k.extend_from_slice(&i.to_le_bytes()),
                &small,
                0,
            );
        }
        let (entries, bytes) = held();
        assert_eq!(entries, MAX_ENTRIES);
        assert!(bytes <= MAX_BYTES);

        // Heavy entries fill the bytes first; one over the per-entry bound is never kept.
        let heavy = Arc::new(CachedResponse {
            body: Bytes::from(vec![b'x'; MAX_ENTRY_BYTES - 1024]),
            ..(*entry("", fresh)).clone()
        });
        for i in 0..64 * ADMIT_EVERY {
            offer(
                &space,
                0,
                |k| k.extend_from_slice(&(i + 1_000_000).to_le_bytes()),
                &heavy,
                0,
            );
        }
        assert!(held().1 <= MAX_BYTES, "{:?}", held());
        let too_heavy = Arc::new(CachedResponse {
            body: Bytes::from(vec![b'x'; MAX_ENTRY_BYTES]),
            ..(*entry("", fresh)).clone()
        });
        let other = KeySpace::new("sha256:test", "too-heavy");
        for _ in 0..ADMIT_EVERY {
            offer(&other, 0, |k| k.push(1), &too_heavy, 0);
        }
        let found = hit(&other, |k| k.push(1));
        assert!(found.is_err());
    }
}
