//! Quotas in Redis (`serve --state redis://HOST:PORT[/DB]`): every gateway pointed at the
//! same Redis shares one count per key. A take is one `EVALSHA` of a Lua script that applies
//! [`crate::window`]'s rule atomically on the server, with the server's clock (so gateways
//! whose clocks differ agree), over a hash of slot counts that expires with the window.
//!
//! The gateway never waits on Redis for long and never stops serving because of it: a take
//! that gets no answer within [`crate::redis_conn::ANSWER_TIMEOUT`], or finds no connection, is
//! [`LimitError::Unavailable`] (the plugin's `fail_open` decides what that means). The
//! connection (and its outage handling) is [`RedisConn`]'s, shared with the response cache.

use barbacane_wasm::{Decision, LimitError, LimitFuture, RateLimiter};
use std::sync::Arc;
use std::time::Duration;

use crate::redis_conn::RedisConn;

const SCRIPT: &str = r"
local q = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = math.max(1, math.ceil(w / 60))
local lo = math.floor(math.max(0, now - w) / s)
local fields = redis.call('HGETALL', KEYS[1])
local n = 0
local oldest = nil
for i = 1, #fields, 2 do
  local slot = tonumber(fields[i])
  if slot < lo then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    n = n + tonumber(fields[i + 1])
    if oldest == nil or slot < oldest then oldest = slot end
  end
end
local allowed = 0
if n < q then
  local cur = math.floor(now / s)
  redis.call('HINCRBY', KEYS[1], string.format('%d', cur), 1)
  n = n + 1
  allowed = 1
  if oldest == nil or cur < oldest then oldest = cur end
end
redis.call('PEXPIRE', KEYS[1], w + s)
local reset = w
if oldest ~= nil then reset = (oldest + 1) * s + w - now end
return {allowed, math.max(0, q - n), reset}
";

/// The Redis [`RateLimiter`].
pub struct RedisLimiter {
    conn: Arc<RedisConn>,
    script: Arc<redis::Script>,
    prefix: String,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("server", &self.conn.display())
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter for `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` for
    /// TLS with the system's roots). Nothing is contacted yet: the first take connects (and
    /// is unavailable until it has).
    pub fn new(url: &str) -> Result<RedisLimiter, crate::StateUrlError> {
        Ok(RedisLimiter::on(Arc::new(RedisConn::open(url, None)?)))
    }

    /// [`RedisLimiter::new`] with another key prefix (tests share one Redis).
    pub fn with_prefix(url: &str, prefix: &str) -> Result<RedisLimiter, crate::StateUrlError> {
        Ok(RedisLimiter::on_with_prefix(
            Arc::new(RedisConn::open(url, None)?),
            prefix,
        ))
    }

    /// A limiter over an open connection (shared with the response cache).
    pub fn on(conn: Arc<RedisConn>) -> RedisLimiter {
        RedisLimiter::on_with_prefix(conn, "barbacane:rl:")
    }

    /// [`RedisLimiter::on`] with another key prefix.
    pub fn on_with_prefix(conn: Arc<RedisConn>, prefix: &str) -> RedisLimiter {
        RedisLimiter {
            conn,
            script: Arc::new(redis::Script::new(SCRIPT)),
            prefix: prefix.to_owned(),
        }
    }

    /// Connects now, waiting up to `timeout`; true when connected.
    pub async fn connect(&self, timeout: Duration) -> bool {
        self.conn.connect(timeout).await
    }
}

impl RateLimiter for RedisLimiter {
    fn take(&self, key: &str, quota: u64, window: Duration) -> LimitFuture {
        let conn = Arc::clone(&self.conn);
        let key = format!("{}{key}", self.prefix);
        let script = Arc::clone(&self.script);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        Box::pin(async move {
            let (mut c, ticket) = conn.current().await.map_err(LimitError::Unavailable)?;
            let mut invocation = script.key(&key);
            invocation.arg(quota).arg(window_ms);
            let call = invocation.invoke_async::<(u64, u64, u64)>(&mut c);
            let (allowed, remaining, reset_ms) = conn
                .answer(ticket, call)
                .await
                .map_err(LimitError::Unavailable)?;
            Ok(Decision {
                allowed: allowed == 1,
                limit: quota,
                remaining,
                reset: Duration::from_millis(reset_ms),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_passwords_never_shown() {
        assert!(RedisLimiter::new("redis://127.0.0.1:6379/3").is_ok());
        assert!(RedisLimiter::new("rediss://127.0.0.1:6380/3").is_ok());
        let e = RedisLimiter::new("http://x").unwrap_err();
        assert!(e.0.contains("not a redis:// or rediss:// URL"), "{e}");
        let l = RedisLimiter::new("redis://user:s3cret@host:6379/1").unwrap();
        assert!(!format!("{l:?}").contains("s3cret"));
    }
}
