//! The connection to Redis shared by the state kept there (quotas, cached responses), and what
//! happens when Redis goes away: calls fail fast ([`ANSWER_TIMEOUT`], or at once without a
//! connection), a warning is logged once when Redis becomes unreachable and an info line
//! when it is back, and in between the gateway reconnects with a backoff from 100 ms to 2 s.
//! The gateway never stops serving because of Redis.
//!
//! Each thread that calls Redis has its own multiplexed connection, opened on that thread's
//! runtime: on the data plane's single-threaded workers the connection's driver task then
//! runs on the worker that sends the commands, so a command and its answer never wake
//! another thread (one shared connection driven elsewhere cost two cross-thread wakeups per
//! call). What is about Redis rather than one connection stays process-wide: whether it is
//! down, the once-per-outage warning, and which outage each connection has outlived.

use redis::aio::MultiplexedConnection;
use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

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

/// A lazily connected, self-healing connection to one Redis, one per calling thread.
pub struct RedisConn {
    client: redis::Client,
    /// Which of this thread's [`Slot`]s is this connection's.
    id: u64,
    down: AtomicBool,
    /// Outages reported so far: a connection made before the current outage began failing
    /// later reports nothing (its failure is that outage's, already reported).
    outages: AtomicU64,
    display: String,
}

/// One thread's connection to one Redis, and its reconnection.
struct Slot {
    /// The connection and the outage count when it was made.
    conn: Mutex<Option<(MultiplexedConnection, u64)>>,
    reconnecting: AtomicBool,
    /// Woken when a connection is made.
    ready: Notify,
}

impl Slot {
    fn get(&self) -> Option<(MultiplexedConnection, u64)> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, conn: Option<(MultiplexedConnection, u64)>) {
        *self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = conn;
    }
}

thread_local! {
    /// This thread's slots, by [`RedisConn::id`] (a process has one; tests a few).
    static SLOTS: RefCell<Vec<(u64, Arc<Slot>)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// What a command's answer needs to know about the connection it was sent on.
pub(crate) struct Ticket {
    slot: Arc<Slot>,
    made_in: u64,
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
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            down: AtomicBool::new(false),
            outages: AtomicU64::new(0),
            display: redact(url),
        })
    }

    /// The server, without its password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Connects this thread now, waiting up to `timeout`; true when connected. (Startup
    /// calls it to learn whether Redis is reachable; a failure only logs. Each worker
    /// thread connects on its first call.)
    pub async fn connect(self: &Arc<Self>, timeout: Duration) -> bool {
        let slot = self.slot();
        RedisConn::start_reconnect(self, &slot);
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if slot.get().is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// This thread's slot, made on first use.
    fn slot(&self) -> Arc<Slot> {
        SLOTS.with(|slots| {
            let mut slots = slots.borrow_mut();
            if let Some((_, slot)) = slots.iter().find(|(id, _)| *id == self.id) {
                return Arc::clone(slot);
            }
            let slot = Arc::new(Slot {
                conn: Mutex::new(None),
                reconnecting: AtomicBool::new(false),
                ready: Notify::new(),
            });
            slots.push((self.id, Arc::clone(&slot)));
            slot
        })
    }

    /// This thread's connection, or why there is none (a reconnection is then under way).
    /// A thread's first call, while Redis is thought reachable, waits for its connection to
    /// be made (at most [`ANSWER_TIMEOUT`]) rather than failing.
    pub(crate) async fn current(
        self: &Arc<Self>,
    ) -> Result<(MultiplexedConnection, Ticket), String> {
        let slot = self.slot();
        if let Some((conn, made_in)) = slot.get() {
            return Ok((conn, Ticket { slot, made_in }));
        }
        {
            let ready = slot.ready.notified();
            RedisConn::start_reconnect(self, &slot);
            if slot.get().is_none() && !self.down.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(ANSWER_TIMEOUT, ready).await;
            }
        }
        match slot.get() {
            Some((conn, made_in)) => Ok((conn, Ticket { slot, made_in })),
            None => Err(format!("no connection to {}", self.display)),
        }
    }

    /// Awaits one command's answer, at most [`ANSWER_TIMEOUT`]; a dropped connection or a
    /// timeout marks Redis as down (and starts reconnecting).
    pub(crate) async fn answer<T>(
        self: &Arc<Self>,
        ticket: Ticket,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(ANSWER_TIMEOUT, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                let why = e.to_string();
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.lost(&ticket, &why);
                }
                Err(why)
            }
            Err(_) => {
                self.lost(&ticket, "no answer within the timeout");
                Err(format!(
                    "{} did not answer within {} ms",
                    self.display,
                    ANSWER_TIMEOUT.as_millis()
                ))
            }
        }
    }

    fn lost(self: &Arc<Self>, ticket: &Ticket, why: &str) {
        ticket.slot.set(None);
        // A connection older than the current outage fails for a reason already reported.
        if ticket.made_in == self.outages.load(Ordering::SeqCst) {
            self.report_down(why);
        }
        RedisConn::start_reconnect(self, &ticket.slot);
    }

    fn report_down(&self, why: &str) {
        if !self.down.swap(true, Ordering::SeqCst) {
            self.outages.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(server = %self.display, error = why,
                "shared state unreachable: quotas and the shared cache are unavailable until it is back (plugins' fail_open decides)");
        }
    }

    /// One reconnecting task per slot at a time, on the runtime of the call that noticed
    /// (on a worker, that worker's own runtime: the connection's driver runs there).
    fn start_reconnect(this: &Arc<Self>, slot: &Arc<Slot>) {
        if slot.reconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            slot.reconnecting.store(false, Ordering::SeqCst);
            return;
        };
        let inner = Arc::clone(this);
        let slot = Arc::clone(slot);
        handle.spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(ANSWER_TIMEOUT);
                let made_in = inner.outages.load(Ordering::SeqCst);
                // An attempt begun during a reported outage reports nothing when it fails
                // (another thread may have reconnected meanwhile: that is not a new outage).
                let was_down = inner.down.load(Ordering::SeqCst);
                match inner
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(conn) => {
                        slot.set(Some((conn, made_in)));
                        slot.ready.notify_waiters();
                        if inner.down.swap(false, Ordering::SeqCst) {
                            tracing::info!(server = %inner.display, "shared state reachable again");
                        }
                        break;
                    }
                    Err(e) => {
                        if !was_down {
                            inner.report_down(&e.to_string());
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
            slot.reconnecting.store(false, Ordering::SeqCst);
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
