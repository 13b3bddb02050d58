//! Response caching for plugins (`barbacane:cache`): the types the host hands to the
//! gateway's shared state, and the coalescing of concurrent misses.
//!
//! The data plane implements [`ResponseCache`] in process or over Redis (crate
//! `barbacane-state`); this crate keeps no entries. What it does keep is the table of keys
//! being filled: the first request that misses a key gets a [`Lease`] and goes to the
//! upstream, later requests for that key wait (bounded) until the lease is given back, then
//! read what it stored. So a popular entry expiring costs one upstream request, not one per
//! client waiting for it.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// A cache key: the SHA-256 of the plugin's key, its name and the artifact's namespace.
pub type CacheKey = [u8; 32];

/// A stored response.
#[derive(Debug, Clone)]
pub struct CachedResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers (hop-by-hop fields are never stored).
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// When it was stored (Unix time, ms), for `Age`.
    pub stored_at_ms: u64,
    /// When it stops being fresh, as the host computed it when storing it; `None` for an
    /// entry read back from a shared store (another gateway may have written it). Workers
    /// keep their own copies only of entries whose end they know (`near_cache.rs`).
    pub expires_at: Option<std::time::Instant>,
}

impl CachedResponse {
    /// Bytes of memory the entry holds, roughly (what a byte-bounded store weighs it as).
    pub fn weight(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 32)
            .sum();
        (self.body.len() + headers + 128) as u64
    }
}

/// Why the cache could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// The shared store cannot be reached (Redis down, timed out).
    Unavailable(String),
}

/// What [`ResponseCache::get`] returns.
pub type CacheGet = Result<Option<Arc<CachedResponse>>, CacheError>;
/// The future of a [`ResponseCache::get`].
pub type CacheGetFuture = Pin<Box<dyn Future<Output = CacheGet> + Send + 'static>>;
/// The future of a [`ResponseCache::put`].
pub type CachePutFuture = Pin<Box<dyn Future<Output = Result<(), CacheError>> + Send + 'static>>;

/// A store of responses with a time to live. Implementations must not block the calling
/// thread and must bound their own waiting (an answer that does not come quickly is
/// [`CacheError::Unavailable`]); they enforce the TTL (an expired entry is never returned)
/// and their own memory bound.
pub trait ResponseCache: Send + Sync + std::fmt::Debug + 'static {
    /// The entry under `key`, if any and fresh.
    fn get(&self, key: &CacheKey) -> CacheGetFuture;

    /// Stores `response` under `key` for `ttl`.
    fn put(&self, key: &CacheKey, response: Arc<CachedResponse>, ttl: Duration) -> CachePutFuture;

    /// [`ResponseCache::get`] without a future, for stores that answer at once (in process);
    /// `None` when this one must be awaited.
    fn get_now(&self, _key: &CacheKey) -> Option<CacheGet> {
        None
    }
}

/// A [`ResponseCache`] with the table of keys being filled. One per process (or per test
/// gateway), shared by every snapshot, so entries survive reloads (their keys carry the
/// artifact's fingerprint, so a new artifact does not see an older one's entries).
#[derive(Debug)]
pub struct SharedCache {
    store: Arc<dyn ResponseCache>,
    filling: Mutex<HashMap<CacheKey, Arc<Notify>>>,
}

/// How a lookup ended.
pub(crate) enum Lookup {
    /// A fresh entry.
    Hit(Arc<CachedResponse>),
    /// No entry, and this request fills it: the lease is given back when it stores the
    /// response or ends without storing it, waking the requests waiting for the key.
    Fill(Lease),
    /// No entry, and another request is (still) filling it, or the store is unavailable:
    /// go to the upstream without waiting further.
    Miss,
}

/// The right to fill one key; dropping it wakes the requests waiting for that key.
pub(crate) struct Lease {
    cache: Arc<SharedCache>,
    key: CacheKey,
    done: Arc<Notify>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        {
            let mut filling = self
                .cache
                .filling
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if filling
                .get(&self.key)
                .is_some_and(|n| Arc::ptr_eq(n, &self.done))
            {
                filling.remove(&self.key);
            }
        }
        self.done.notify_waiters();
    }
}

impl SharedCache {
    /// Wraps a store.
    pub fn new(store: Arc<dyn ResponseCache>) -> Arc<SharedCache> {
        Arc::new(SharedCache {
            store,
            filling: Mutex::new(HashMap::new()),
        })
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn ResponseCache> {
        &self.store
    }

    async fn get(&self, key: &CacheKey) -> CacheGet {
        match self.store.get_now(key) {
            Some(answer) => answer,
            None => self.store.get(key).await,
        }
    }

    /// Looks `key` up. On a miss, the first request becomes the key's filler; the others
    /// wait up to `wait` for it, then look again once (a hit, or they fill it themselves
    /// if the filler gave up, or they go without the cache).
    pub(crate) async fn lookup(self: &Arc<Self>, key: &CacheKey, wait: Duration) -> Lookup {
        let mut waited = false;
        loop {
            match self.get(key).await {
                Ok(Some(found)) => return Lookup::Hit(found),
                Ok(None) => {}
                Err(CacheError::Unavailable(_)) => return Lookup::Miss,
            }
            let notified = {
                let mut filling = self
                    .filling
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match filling.get(key) {
                    None => {
                        let done = Arc::new(Notify::new());
                        filling.insert(*key, Arc::clone(&done));
                        return Lookup::Fill(Lease {
                            cache: Arc::clone(self),
                            key: *key,
                            done,
                        });
                    }
                    Some(_) if waited || wait.is_zero() => return Lookup::Miss,
                    // Created under the lock: `notify_waiters` from the lease's drop (which
                    // takes the lock first) reaches it even before it is polled.
                    Some(done) => Arc::clone(done).notified_owned(),
                }
            };
            if tokio::time::timeout(wait, notified).await.is_err() {
                return Lookup::Miss;
            }
            waited = true;
        }
    }

    /// Stores a response (the lease, if the caller holds one, is given back by the caller
    /// afterwards, so requests waiting for the key find the entry).
    pub(crate) async fn put(
        &self,
        key: &CacheKey,
        response: Arc<CachedResponse>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.store.put(key, response, ttl).await
    }

    /// Keys being filled right now (for tests and metrics).
    pub fn filling(&self) -> usize {
        self.filling
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

impl Lease {
    /// The key this lease fills.
    pub(crate) fn key(&self) -> &CacheKey {
        &self.key
    }
}

/// Where one plugin's keys live in the cache: its name and the artifact's namespace, so
/// plugins never share entries by accident and a new artifact starts with an empty cache.
///
/// A key is `SHA-256(block || key)`, `block` being one 64-byte SHA-256 block (the digest of
/// namespace and plugin, then zeros): its compression is done once here, so each lookup
/// hashes only the plugin's own key (one block for keys under 56 bytes).
///
/// It also identifies the space in the workers' near caches ([`crate::near_cache`]): `id` is
/// unique in the process, and `generation` moves when an entry may have been replaced while
/// still fresh, which drops every near copy of the space's entries.
pub(crate) struct KeySpace {
    absorbed: sha2::Sha256,
    id: u64,
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeySpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySpace")
    }
}

impl KeySpace {
    pub(crate) fn new(namespace: &str, plugin: &str) -> KeySpace {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(namespace.as_bytes());
        h.update([0]);
        h.update(plugin.as_bytes());
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&h.finalize());
        let mut absorbed = Sha256::new();
        absorbed.update(block);
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        KeySpace {
            absorbed,
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// This space's id in the process (keys of the near caches start with it).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The current generation: read it before looking an entry up to copy it, so a
    /// replacement that lands in between is seen.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// An entry was stored outside the miss protocol (without the key's lease), so it may
    /// have replaced a fresh one: near copies taken before now are dropped. Called after the
    /// store has the new entry.
    pub(crate) fn replaced(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The cache key of the plugin's `key`.
    pub(crate) fn key(&self, key: &[u8]) -> CacheKey {
        use sha2::Digest;
        let mut h = self.absorbed.clone();
        h.update(key);
        h.finalize().into()
    }
}

/// Whether `ttl` is a usable time to live.
pub(crate) fn ttl_of(ttl_ms: i64) -> Option<Duration> {
    u64::try_from(ttl_ms)
        .ok()
        .filter(|t| (1..=MAX_TTL_MS).contains(t))
        .map(Duration::from_millis)
}

/// Longest time to live: one year.
pub(crate) const MAX_TTL_MS: u64 = 365 * 24 * 3600 * 1000;

/// Hop-by-hop fields (RFC 9110 §7.6.1) and fields that describe one connection: never stored.
pub(crate) fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

#[cfg(test)]
mod tests {
    use super::KeySpace;

    #[test]
    fn a_key_belongs_to_one_plugin_of_one_artifact() {
        let key = KeySpace::new("sha256:aa", "cache").key(b"GET\n/pets");
        assert_eq!(key, KeySpace::new("sha256:aa", "cache").key(b"GET\n/pets"));
        assert_ne!(key, KeySpace::new("sha256:ab", "cache").key(b"GET\n/pets"));
        assert_ne!(key, KeySpace::new("sha256:aa", "cache2").key(b"GET\n/pets"));
        assert_ne!(key, KeySpace::new("sha256:aa", "cache").key(b"GET\n/pets/"));
        // The namespace and the plugin name cannot run into each other.
        assert_ne!(
            KeySpace::new("a", "bc").key(b"k"),
            KeySpace::new("ab", "c").key(b"k")
        );
        // Long keys hash past the first block like short ones.
        let long = vec![b'x'; 300];
        assert_ne!(
            KeySpace::new("n", "p").key(&long),
            KeySpace::new("n", "p").key(&long[..299])
        );
    }
}
