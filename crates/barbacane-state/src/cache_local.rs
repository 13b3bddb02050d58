//! Cached responses in process: bounded in bytes (each entry weighs its body, headers and a
//! fixed overhead), evicted by quick_cache's S3-FIFO policy (frequently read entries survive
//! a scan of one-off ones), each with its own time to live. Reads take a shard's read lock
//! only; an expired entry is dropped when it is next read, or evicted by newer ones.

use barbacane_wasm::{
    CacheGet, CacheGetFuture, CacheKey, CachePutFuture, CachedResponse, ResponseCache,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default bound of the in-process cache: 128 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 128 << 20;

#[derive(Clone)]
struct Entry {
    response: Arc<CachedResponse>,
    expires_at: Instant,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<CacheKey, Entry> for Weight {
    fn weight(&self, _key: &CacheKey, entry: &Entry) -> u64 {
        entry.response.weight()
    }
}

/// The in-process [`ResponseCache`].
pub struct LocalCache {
    entries: quick_cache::sync::Cache<CacheKey, Entry, Weight>,
    max_bytes: u64,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("max_bytes", &self.max_bytes)
            .field("bytes", &self.entries.weight())
            .finish()
    }
}

impl LocalCache {
    /// A cache holding at most about `max_bytes` of responses (an entry larger than a
    /// shard's share is not kept).
    pub fn new(max_bytes: u64) -> LocalCache {
        let max_bytes = max_bytes.max(1 << 16);
        let estimated = usize::try_from(max_bytes / 4096)
            .unwrap_or(usize::MAX)
            .max(64);
        LocalCache {
            entries: quick_cache::sync::Cache::with_weighter(estimated, max_bytes, Weight),
            max_bytes,
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }

    /// Entries held now (expired ones included until they are read or evicted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn lookup(&self, key: &CacheKey) -> Option<Arc<CachedResponse>> {
        let entry = self.entries.get(key)?;
        if entry.expires_at <= Instant::now() {
            self.entries.remove(key);
            return None;
        }
        Some(entry.response)
    }
}

impl ResponseCache for LocalCache {
    fn get(&self, key: &CacheKey) -> CacheGetFuture {
        let found = self.lookup(key);
        Box::pin(async move { Ok(found) })
    }

    fn get_now(&self, key: &CacheKey) -> Option<CacheGet> {
        Some(Ok(self.lookup(key)))
    }

    fn put(&self, key: &CacheKey, response: Arc<CachedResponse>, ttl: Duration) -> CachePutFuture {
        self.entries.insert(
            *key,
            Entry {
                response,
                expires_at: Instant::now() + ttl,
            },
        );
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn response(body: &'static [u8]) -> Arc<CachedResponse> {
        Arc::new(CachedResponse {
            status: http::StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: Bytes::from_static(body),
            stored_at_ms: 0,
            expires_at: None,
        })
    }

    #[tokio::test]
    async fn entries_expire_and_memory_stays_bounded() {
        let cache = LocalCache::new(1 << 20);
        cache
            .put(&[1; 32], response(b"a"), Duration::from_millis(30))
            .await
            .unwrap();
        assert_eq!(cache.get(&[1; 32]).await.unwrap().unwrap().body, "a");
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(cache.get(&[1; 32]).await.unwrap().is_none(), "expired");

        static BODY: [u8; 4096] = [b'x'; 4096];
        for i in 0..2_000u32 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_be_bytes());
            cache
                .put(&key, response(&BODY), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(cache.bytes() <= 1 << 20, "{} bytes held", cache.bytes());
        assert!(cache.len() > 100, "{} entries", cache.len());
    }
}
