//! One Redis connection shared by the state kept there (quotas, cached responses), and what
//! happens when Redis goes away: calls fail fast ([`ANSWER_TIMEOUT`], or at once without a
//! connection), a warning is logged once when Redis becomes unreachable and an info line
//! when it is back, and in between one background task reconnects with a backoff from
//! 100 ms to 2 s. The gateway never stops serving because of Redis.

use redis::aio::MultiplexedConnection;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest wait for one answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A `--state` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUrlError(pub String);

impl std::fmt::Display for StateUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateUrlError {}

/// A lazily connected, self-healing connection to one Redis.
pub struct RedisConn {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    down: AtomicBool,
    reconnecting: AtomicBool,
    display: String,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConn")
            .field("server", &self.display)
            .finish_non_exhaustive()
    }
}

impl RedisConn {
    /// A connection to `url`: `redis://[user:password@]host[:port][/db]`, or `rediss://...`
    /// for TLS, verified against `tls_ca` (PEM) when given, else the system's roots. Nothing
    /// is contacted yet.
    pub fn open(url: &str, tls_ca: Option<Vec<u8>>) -> Result<RedisConn, StateUrlError> {
        let tls = url.starts_with("rediss://");
        if !tls && !url.starts_with("redis://") {
            return Err(StateUrlError(format!(
                "`{}` is not a redis:// or rediss:// URL",
                redact(url)
            )));
        }
        if tls_ca.is_some() && !tls {
            return Err(StateUrlError(format!(
                "a TLS CA is given but `{}` is not a rediss:// URL",
                redact(url)
            )));
        }
        let bad = |e: redis::RedisError| StateUrlError(format!("`{}`: {e}", redact(url)));
        let client = match tls_ca {
            Some(root_cert) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            )
            .map_err(bad)?,
            None => redis::Client::open(url).map_err(bad)?,
        };
        Ok(RedisConn {
            client,
            conn: Mutex::new(None),
            down: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
            display: redact(url),
        })
    }

    /// The server, without its password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Connects now, waiting up to `timeout`; true when connected. (Startup calls it so that
    /// the first requests find a connection; a failure only logs.)
    pub async fn connect(self: &Arc<Self>, timeout: Duration) -> bool {
        RedisConn::start_reconnect(self);
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.slot().is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    fn slot(&self) -> Option<MultiplexedConnection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The connection, or why there is none (a reconnection is then under way).
    pub(crate) fn current(self: &Arc<Self>) -> Result<MultiplexedConnection, String> {
        self.slot().ok_or_else(|| {
            RedisConn::start_reconnect(self);
            format!("no connection to {}", self.display)
        })
    }

    /// Awaits one command's answer, at most [`ANSWER_TIMEOUT`]; a dropped connection or a
    /// timeout marks Redis as down (and starts reconnecting).
    pub(crate) async fn answer<T>(
        self: &Arc<Self>,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(ANSWER_TIMEOUT, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                let why = e.to_string();
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.lost(&why);
                }
                Err(why)
            }
            Err(_) => {
                self.lost("no answer within the timeout");
                Err(format!(
                    "{} did not answer within {} ms",
                    self.display,
                    ANSWER_TIMEOUT.as_millis()
                ))
            }
        }
    }

    fn lost(self: &Arc<Self>, why: &str) {
        *self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(server = %self.display, error = why,
                "shared state unreachable: quotas and the shared cache are unavailable until it is back (plugins' fail_open decides)");
        }
        RedisConn::start_reconnect(self);
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
                    .set_response_timeout(ANSWER_TIMEOUT);
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
                                "shared state unreachable: quotas and the shared cache are unavailable until it is back (plugins' fail_open decides)");
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

/// The URL without its password, for logs and errors.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown_and_tls_options_are_checked() {
        assert_eq!(
            redact("redis://user:s3cret@host:6379/1"),
            "redis://***@host:6379/1"
        );
        let c = RedisConn::open("rediss://user:s3cret@host:6380/1", None).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = RedisConn::open("redis://h", Some(b"pem".to_vec())).unwrap_err();
        assert!(e.0.contains("not a rediss:// URL"), "{e}");
    }
}
