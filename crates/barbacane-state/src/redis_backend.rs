//! Quotas in Redis (`serve --state redis://HOST:PORT[/DB]`): every gateway pointed at the
//! same Redis shares one count per key. A take is one `EVALSHA` of a Lua script that applies
//! [`crate::window`]'s rule atomically on the server, with the server's clock (so gateways
//! whose clocks differ agree), over a hash of slot counts that expires with the window.
//!
//! The gateway never waits on Redis for long and never stops serving because of it: a take
//! that gets no answer within [`TAKE_TIMEOUT`], or finds no connection, is
//! [`LimitError::Unavailable`] (the plugin's `fail_open` decides what that means). A warning
//! is logged once when Redis becomes unreachable and an info line when it is back; in
//! between, one background task reconnects with a backoff from 100 ms to 2 s.

use barbacane_wasm::{Decision, LimitError, LimitFuture, RateLimiter};
use redis::aio::MultiplexedConnection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest wait for one take.
pub const TAKE_TIMEOUT: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

/// A `--state` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUrlError(pub String);

impl std::fmt::Display for StateUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateUrlError {}

/// The Redis [`RateLimiter`].
pub struct RedisLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    script: redis::Script,
    prefix: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    down: AtomicBool,
    reconnecting: AtomicBool,
    display: String,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("server", &self.inner.display)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter for `url` (`redis://[user:password@]host[:port][/db]`). Nothing is
    /// contacted yet: the first take connects (and is unavailable until it has).
    pub fn new(url: &str) -> Result<RedisLimiter, StateUrlError> {
        RedisLimiter::with_prefix(url, "barbacane:rl:")
    }

    /// [`RedisLimiter::new`] with another key prefix (tests share one Redis).
    pub fn with_prefix(url: &str, prefix: &str) -> Result<RedisLimiter, StateUrlError> {
        if url.starts_with("rediss://") {
            return Err(StateUrlError(
                "rediss:// (Redis over TLS) is not supported yet: use redis:// on a private network or a TLS tunnel".into(),
            ));
        }
        if !url.starts_with("redis://") {
            return Err(StateUrlError(format!(
                "`{}` is not a redis:// URL",
                redact(url)
            )));
        }
        let client = redis::Client::open(url)
            .map_err(|e| StateUrlError(format!("`{}`: {e}", redact(url))))?;
        Ok(RedisLimiter {
            inner: Arc::new(Inner {
                client,
                script: redis::Script::new(SCRIPT),
                prefix: prefix.to_owned(),
                conn: Mutex::new(None),
                down: AtomicBool::new(false),
                reconnecting: AtomicBool::new(false),
                display: redact(url),
            }),
        })
    }

    /// Connects now, waiting up to `timeout`; true when connected. (Startup calls it so that
    /// the first requests find a connection; a failure only logs.)
    pub async fn connect(&self, timeout: Duration) -> bool {
        Inner::start_reconnect(&self.inner);
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.inner.current().is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

/// The URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Inner {
    fn current(&self) -> Option<MultiplexedConnection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn lost(self: &Arc<Self>, why: &str) {
        *self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(server = %self.display, error = why,
                "shared state unreachable: quotas are unavailable until it is back (plugins' fail_open decides)");
        }
        Inner::start_reconnect(self);
    }

    /// One reconnecting task at a time, on the runtime of the request that noticed.
    fn start_reconnect(this: &Arc<Self>) {
        if this.reconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            this.reconnecting.store(false, Ordering::SeqCst);
            return;
        };
        let inner = Arc::clone(this);
        handle.spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(TAKE_TIMEOUT);
                match inner
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(conn) => {
                        *inner
                            .conn
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(conn);
                        if inner.down.swap(false, Ordering::SeqCst) {
                            tracing::info!(server = %inner.display, "shared state reachable again");
                        }
                        break;
                    }
                    Err(e) => {
                        if !inner.down.swap(true, Ordering::SeqCst) {
                            tracing::warn!(server = %inner.display, error = %e,
                                "shared state unreachable: quotas are unavailable until it is back (plugins' fail_open decides)");
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
            inner.reconnecting.store(false, Ordering::SeqCst);
        });
    }
}

impl RateLimiter for RedisLimiter {
    fn take(&self, key: &str, quota: u64, window: Duration) -> LimitFuture {
        let inner = Arc::clone(&self.inner);
        let key = format!("{}{key}", inner.prefix);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        Box::pin(async move {
            let Some(mut conn) = inner.current() else {
                Inner::start_reconnect(&inner);
                return Err(LimitError::Unavailable(format!(
                    "no connection to {}",
                    inner.display
                )));
            };
            let mut invocation = inner.script.key(&key);
            invocation.arg(quota).arg(window_ms);
            let call = invocation.invoke_async::<(u64, u64, u64)>(&mut conn);
            match tokio::time::timeout(TAKE_TIMEOUT, call).await {
                Ok(Ok((allowed, remaining, reset_ms))) => Ok(Decision {
                    allowed: allowed == 1,
                    limit: quota,
                    remaining,
                    reset: Duration::from_millis(reset_ms),
                }),
                Ok(Err(e)) => {
                    let why = e.to_string();
                    if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                        inner.lost(&why);
                    }
                    Err(LimitError::Unavailable(why))
                }
                Err(_) => {
                    inner.lost("no answer within the take timeout");
                    Err(LimitError::Unavailable(format!(
                        "{} did not answer within {} ms",
                        inner.display,
                        TAKE_TIMEOUT.as_millis()
                    )))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_passwords_never_shown() {
        assert!(RedisLimiter::new("redis://127.0.0.1:6379/3").is_ok());
        let e = RedisLimiter::new("http://x").unwrap_err();
        assert!(e.0.contains("not a redis:// URL"), "{e}");
        let e = RedisLimiter::new("rediss://h").unwrap_err();
        assert!(e.0.contains("not supported"), "{e}");
        assert_eq!(
            redact("redis://user:s3cret@host:6379/1"),
            "redis://***@host:6379/1"
        );
        let l = RedisLimiter::new("redis://user:s3cret@host:6379/1").unwrap();
        assert!(!format!("{l:?}").contains("s3cret"));
    }
}
