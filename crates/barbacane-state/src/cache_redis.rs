//! Cached responses in Redis (`serve --state redis://...`): every gateway sharing the Redis
//! shares the entries. One `GET` per lookup and one `SET ... PX` per store, each bounded by
//! the connection's answer timeout; Redis enforces the time to live and its own memory
//! policy (`maxmemory`). An unreachable Redis makes lookups misses (the request goes to the
//! upstream), never errors for the client.

use barbacane_wasm::{
    CacheError, CacheGetFuture, CacheKey, CachePutFuture, CachedResponse, ResponseCache,
};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::cache_codec;
use crate::redis_conn::RedisConn;

/// The Redis [`ResponseCache`].
pub struct RedisCache {
    conn: Arc<RedisConn>,
    prefix: String,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("server", &self.conn.display())
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache over an open connection (shared with the quotas), keys under
    /// `barbacane:cache:`.
    pub fn on(conn: Arc<RedisConn>) -> RedisCache {
        RedisCache::on_with_prefix(conn, "barbacane:cache:")
    }

    /// [`RedisCache::on`] with another key prefix (tests share one Redis).
    pub fn on_with_prefix(conn: Arc<RedisConn>, prefix: &str) -> RedisCache {
        RedisCache {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, key: &CacheKey) -> String {
        let mut out = String::with_capacity(self.prefix.len() + 64);
        out.push_str(&self.prefix);
        for b in key {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

impl ResponseCache for RedisCache {
    fn get(&self, key: &CacheKey) -> CacheGetFuture {
        let conn = Arc::clone(&self.conn);
        let key = self.key(key);
        Box::pin(async move {
            let (mut c, ticket) = conn.current().await.map_err(CacheError::Unavailable)?;
            let mut cmd = redis::cmd("GET");
            cmd.arg(&key);
            let call = cmd.query_async::<Option<Vec<u8>>>(&mut c);
            let found = conn
                .answer(ticket, call)
                .await
                .map_err(CacheError::Unavailable)?;
            Ok(found.and_then(|bytes| cache_codec::decode(bytes.into()).map(Arc::new)))
        })
    }

    fn put(&self, key: &CacheKey, response: Arc<CachedResponse>, ttl: Duration) -> CachePutFuture {
        let conn = Arc::clone(&self.conn);
        let key = self.key(key);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        Box::pin(async move {
            let bytes = cache_codec::encode(&response);
            let (mut c, ticket) = conn.current().await.map_err(CacheError::Unavailable)?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(bytes).arg("PX").arg(ttl_ms);
            let call = cmd.query_async::<()>(&mut c);
            conn.answer(ticket, call)
                .await
                .map_err(CacheError::Unavailable)
        })
    }
}
