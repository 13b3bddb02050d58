//! One traffic worker: a thread with its own single-threaded runtime and listening socket.
//! It accepts connections and drives each on this thread (requests, upstream exchanges and
//! plugins included), guards them (first-bytes deadline, body inactivity, connection cap,
//! HTTP/2 idle timeout) and drains them on stop without leaving a request unanswered.

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::conn::{Prefixed, TimedBody, first_bytes, is_h2_preface};
use crate::{Gateway, ServeConfig, pipeline};

/// What every connection of a worker shares.
struct Shared {
    gateway: Arc<Gateway>,
    builder: auto::Builder<TokioExecutor>,
    /// Set once the listener closed: HTTP/1 responses carry `Connection: close`.
    draining: AtomicBool,
    /// Connections open on this worker.
    open: AtomicUsize,
    /// Connections over the cap being answered and closed.
    refusing: AtomicUsize,
    /// Turns true when every connection must finish.
    close: watch::Receiver<bool>,
}

/// One worker's listener while it is open; the workers of a server share the count. Dropped
/// (also when a worker fails to start) it counts as closed.
pub(crate) struct OpenListener(Arc<AtomicUsize>);

impl OpenListener {
    /// One per listener of a server.
    pub(crate) fn group(listeners: usize) -> Vec<OpenListener> {
        let open = Arc::new(AtomicUsize::new(listeners));
        (0..listeners)
            .map(|_| OpenListener(Arc::clone(&open)))
            .collect()
    }

    /// This listener closed: waits until every other one is, for at most `limit`.
    async fn closed(self, limit: Duration) {
        let open = Arc::clone(&self.0);
        drop(self);
        let started = tokio::time::Instant::now();
        while open.load(Ordering::Acquire) > 0 && started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for OpenListener {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// Most connections over the cap answered at once per worker; more are closed unanswered.
const MAX_REFUSING: usize = 64;

/// Accepts on `socket` until `stop`, then drains. On stop: the connections already waiting
/// in the kernel's accept queue are taken (closing the socket would reset them), the socket
/// closes, and once every worker's has, for up to a second every HTTP/1 response carries
/// `Connection: close` (a request
/// already on its way gets an answer instead of a reset), then every connection is told to
/// finish (HTTP/2: GOAWAY) within the rest of the grace period.
pub(crate) async fn run(
    socket: std::net::TcpListener,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
    open_listener: OpenListener,
) {
    let listener = match socket
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(socket))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot register the listener with a worker");
            return;
        }
    };
    let config = gateway.config();
    let cap = config
        .connection_cap()
        .div_ceil(config.worker_count())
        .max(1);
    let (close_tx, close_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        builder: connection_builder(config),
        gateway: Arc::clone(&gateway),
        draining: AtomicBool::new(false),
        open: AtomicUsize::new(0),
        refusing: AtomicUsize::new(0),
        close: close_rx,
    });
    let mut refused = 0u64;
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    while let Some((stream, peer)) = next_connection(&listener, stopped.as_mut()).await {
        if shared.open.load(Ordering::Relaxed) >= cap {
            if refused == 0 {
                tracing::warn!(
                    cap,
                    "connection cap reached; refusing new connections with 503"
                );
            }
            refused += 1;
            // Refusals hold a socket for up to a second: past a bound, a flood is closed
            // at once instead of piling up tasks and file descriptors.
            if shared.refusing.load(Ordering::Relaxed) < MAX_REFUSING {
                shared.refusing.fetch_add(1, Ordering::Relaxed);
                let (shared, tls) = (Arc::clone(&shared), config.tls.is_some());
                tokio::spawn(async move {
                    refuse(stream, tls).await;
                    shared.refusing.fetch_sub(1, Ordering::Relaxed);
                });
            }
            continue;
        } else if refused > 0 {
            tracing::info!(refused, "below the connection cap again");
            refused = 0;
        }
        spawn_connection(&shared, stream, peer);
    }
    // Handshakes the kernel completed but nobody accepted yet would be reset by the close.
    while let Some(Ok((stream, peer))) = std::future::poll_fn(|cx| {
        Poll::Ready(match listener.poll_accept(cx) {
            Poll::Ready(accepted) => Some(accepted),
            Poll::Pending => None,
        })
    })
    .await
    {
        spawn_connection(&shared, stream, peer);
    }
    drop(listener);
    let grace = config.shutdown_grace;
    let started = tokio::time::Instant::now();
    let window = grace.min(Duration::from_secs(1));
    // `Connection: close` sends clients to reconnect: only once no worker's listener is open,
    // so that they are refused rather than accepted by a listener about to close (whose
    // close would reset them with a request unanswered).
    open_listener.closed(window).await;
    shared.draining.store(true, Ordering::Relaxed);
    while shared.open.load(Ordering::Relaxed) > 0 && started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Then every connection is told to finish (HTTP/1: close after the response in flight;
    // HTTP/2: GOAWAY, streams in flight complete) and gets the rest of the grace period.
    let _ = close_tx.send(true);
    while shared.open.load(Ordering::Relaxed) > 0 {
        if started.elapsed() >= grace {
            tracing::warn!(?grace, "grace period over; closing remaining connections");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Serves one accepted connection on this worker. The TLS handshake and the whole head of
/// the first request (or the HTTP/2 preface) share one deadline, `--header-timeout` after
/// accept, so a client cannot hold a socket by trickling bytes.
fn spawn_connection(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let open = Open::new(Arc::clone(shared));
    tokio::spawn(async move {
        let shared = &open.0;
        let config = shared.gateway.config();
        let deadline = tokio::time::Instant::now() + config.header_timeout;
        let mut close = shared.close.clone();
        let Some(tls) = config.tls.clone() else {
            let peer = Peer {
                addr: peer,
                client_cert: None,
                deadline,
            };
            return read_and_serve(shared, stream, peer, &mut close).await;
        };
        let handshake = tokio::select! {
            biased;
            s = accept_tls(&tls, stream, deadline) => s,
            _ = close.wait_for(|c| *c) => None,
        };
        if let Some((stream, client_cert)) = handshake {
            let peer = Peer {
                addr: peer,
                client_cert,
                deadline,
            };
            read_and_serve(shared, stream, peer, &mut close).await;
        }
    });
}

/// Waits for the first bytes, then serves. A connection accepted before the listener closed
/// may still send its request during the drain window (and is answered with `Connection:
/// close`); one still silent when connections are told to close is simply closed.
async fn read_and_serve<S>(
    shared: &Arc<Shared>,
    mut stream: S,
    peer: Peer,
    close: &mut watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let prefix = tokio::select! {
        biased;
        prefix = first_bytes(&mut stream, peer.deadline) => prefix,
        _ = close.wait_for(|c| *c) => None,
    };
    if let Some(prefix) = prefix {
        serve(shared, stream, prefix, peer, close).await;
    }
}

/// Who is on the other end of a connection.
struct Peer {
    addr: SocketAddr,
    /// Claims of the verified client certificate (with `--tls-client-ca`).
    client_cert: Option<pipeline::ClientCert>,
    /// When the head of the first request must be complete (`--header-timeout` after
    /// accept).
    deadline: tokio::time::Instant,
}

/// The TLS handshake, within `deadline`; a client speaking plaintext HTTP is answered 400
/// and closed. `None` when the handshake fails (logged at debug: scanners are common).
async fn accept_tls(
    tls: &crate::tls::Tls,
    stream: TcpStream,
    deadline: tokio::time::Instant,
) -> Option<(
    tokio_rustls::server::TlsStream<TcpStream>,
    Option<pipeline::ClientCert>,
)> {
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == crate::tls::HANDSHAKE => {}
        Ok(Ok(1)) => {
            crate::tls::refuse_plaintext(stream).await;
            return None;
        }
        _ => return None,
    }
    match tokio::time::timeout_at(deadline, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => {
            let cert = pipeline::ClientCert::of(stream.get_ref().1);
            Some((stream, cert))
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => None,
    }
}

/// One open connection, counted from accept until its task ends, however it ends (a panic
/// included: a leaked slot would eventually turn every new connection away).
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: Arc<Shared>) -> Open {
        shared.open.fetch_add(1, Ordering::Relaxed);
        let metrics = shared.gateway.metrics();
        metrics.connections_total.fetch_add(1, Ordering::Relaxed);
        let open = metrics.active_connections.fetch_add(1, Ordering::Relaxed) + 1;
        metrics.connections_high.fetch_max(open, Ordering::Relaxed);
        Open(shared)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0
            .gateway
            .metrics()
            .active_connections
            .fetch_sub(1, Ordering::Relaxed);
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Drives one connection until it ends, closing it when told to and, for HTTP/2, when idle.
async fn serve<S>(
    shared: &Arc<Shared>,
    stream: S,
    prefix: bytes::Bytes,
    peer: Peer,
    close: &mut watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Peer {
        addr: peer,
        client_cert,
        deadline,
    } = peer;
    let config = shared.gateway.config();
    let (body_timeout, idle) = (config.body_timeout, config.idle_timeout);
    let h2 = is_h2_preface(&prefix);
    let activity = Arc::new(Activity::default());
    let for_service = (Arc::clone(shared), Arc::clone(&activity));
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let (shared, activity) = (Arc::clone(&for_service.0), Arc::clone(&for_service.1));
        let in_flight = InFlight::start(activity);
        if let Some(cert) = &client_cert {
            req.extensions_mut().insert(cert.clone());
        }
        let http1 = req.version() < http::Version::HTTP_2;
        let req = req.map(|body| TimedBody::new(body, body_timeout));
        async move {
            let mut response = pipeline::handle_from(&shared.gateway, req, Some(peer)).await;
            drop(in_flight);
            if http1 && shared.draining.load(Ordering::Relaxed) {
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(response)
        }
    });
    let io = TokioIo::new(Prefixed::new(prefix, stream));
    let conn = shared.builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    // HTTP/2 has no idle timeout of its own (a client answering pings keeps a connection
    // without streams forever): one with no request started and none in flight for a whole
    // `idle_timeout` gets a GOAWAY. HTTP/1 idles out through hyper's header read timeout.
    let mut ticker = h2.then(|| tokio::time::interval_at(tokio::time::Instant::now() + idle, idle));
    let mut seen = 0u64;
    let mut closing = false;
    // HTTP/1: the first request's head must be complete by `deadline` (hyper's own header
    // timeout is the idle timeout, since hyper starts it while a keep-alive connection waits
    // for its next request). HTTP/2's preface is already complete here.
    let first_head = tokio::time::sleep_until(deadline);
    let mut first_head = std::pin::pin!(first_head);
    let mut head_pending = !h2;
    loop {
        tokio::select! {
            _ = first_head.as_mut(), if head_pending => {
                head_pending = false;
                if activity.started.load(Ordering::Relaxed) == 0 {
                    tracing::debug!(%peer, "request head not complete in time; closing");
                    return;
                }
            }
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = close.wait_for(|c| *c), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = async { if let Some(t) = ticker.as_mut() { t.tick().await; } }, if ticker.is_some() && !closing => {
                let started = activity.started.load(Ordering::Relaxed);
                if started == seen && activity.in_flight.load(Ordering::Relaxed) == 0 {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                seen = started;
            }
        }
    }
}

/// What a connection's requests are doing (for the HTTP/2 idle timeout).
#[derive(Debug, Default)]
struct Activity {
    started: AtomicU64,
    in_flight: AtomicUsize,
}

/// One request in flight; ends when dropped (also when the client cancels it).
struct InFlight(Arc<Activity>);

std::thread_local! {
    /// Requests in flight on this worker thread (every connection's), for [`before_park`].
    static IN_FLIGHT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs each time the worker's runtime is about to sleep waiting for the network or a timer
/// (`--no-idle-yield` leaves it out). With no request in flight, the worker yields its core
/// once first: a client sharing the core (a sidecar's application, a load generator) runs
/// now and its next requests are waiting when the runtime polls, instead of each waking the
/// sleeping worker on its own (a context switch per request). Not while requests are in
/// flight: they wait on upstreams or plugins, and yielding then only delays their answers
/// behind other threads. Measured in `docs/performance.md`.
pub(crate) fn before_park() {
    if IN_FLIGHT.with(std::cell::Cell::get) == 0 {
        std::thread::yield_now();
    }
}

impl InFlight {
    fn start(activity: Arc<Activity>) -> InFlight {
        IN_FLIGHT.with(|n| n.set(n.get() + 1));
        activity.started.fetch_add(1, Ordering::Relaxed);
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        IN_FLIGHT.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Answers a connection over the cap and closes it: a 503 problem on a plaintext listener, a
/// fatal TLS `internal_error` alert on a TLS listener (a client cannot read HTTP before a
/// handshake, and a handshake is the work the cap is there to refuse).
async fn refuse(stream: tokio::net::TcpStream, tls: bool) {
    const BODY: &str = "{\"type\":\"urn:barbacane:error:overloaded\",\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"The gateway has too many open connections; try again shortly.\"}";
    // An alert record: content type 21, legacy version TLS 1.2, length 2, fatal (2),
    // internal_error (80). Valid before any handshake message, in TLS 1.2 and 1.3.
    const TLS_ALERT: [u8; 7] = [21, 3, 3, 0, 2, 2, 80];
    if tls {
        crate::conn::write_and_linger(stream, &TLS_ALERT).await;
    } else {
        crate::conn::answer_and_close(
            stream,
            "503 Service Unavailable",
            "retry-after: 1\r\n",
            BODY,
        )
        .await;
    }
}

/// HTTP/1.1 and HTTP/2 settings of every traffic connection.
fn connection_builder(config: &ServeConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(config.idle_timeout)
        // Above our own limit so the limits phase, not hyper, answers with a problem;
        // only a flood of several times the limit meets hyper's bare 431.
        .max_headers(
            config
                .limits
                .max_header_count
                .saturating_mul(2)
                .max(config.limits.max_header_count + 32),
        )
        .max_buf_size(64 * 1024 + config.limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.limits.max_header_bytes * 2).unwrap_or(u32::MAX))
        .keep_alive_interval(config.idle_timeout / 2)
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// The next accepted connection, or `None` once `shutdown` completes. Accept errors (out of
/// file descriptors and similar) back off exponentially (10 ms to 1 s) instead of spinning,
/// and are logged once per burst.
pub(crate) async fn next_connection(
    listener: &TcpListener,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    let mut failures = 0u32;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    if failures > 1 {
                        tracing::info!(failures, "accepting again after a burst of accept errors");
                    }
                    return Some(pair);
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "accept failed; backing off (logged once per burst)");
                    }
                    let wait = Duration::from_millis(10u64 << failures.min(7)).min(Duration::from_secs(1));
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut shutdown => return None,
                    }
                }
            },
            () = &mut shutdown => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_flight_here() -> usize {
        IN_FLIGHT.with(std::cell::Cell::get)
    }

    #[test]
    fn requests_in_flight_are_counted_per_worker_thread() {
        let activity = Arc::new(Activity::default());
        assert_eq!(in_flight_here(), 0);
        let first = InFlight::start(Arc::clone(&activity));
        let second = InFlight::start(Arc::clone(&activity));
        assert_eq!(in_flight_here(), 2);
        // Another worker's thread has its own count: it may yield while this one is busy.
        let elsewhere = std::thread::spawn(in_flight_here).join().unwrap();
        assert_eq!(elsewhere, 0);
        drop(first);
        assert_eq!(in_flight_here(), 1);
        drop(second);
        assert_eq!(in_flight_here(), 0);
        assert_eq!(activity.in_flight.load(Ordering::Relaxed), 0);
        assert_eq!(activity.started.load(Ordering::Relaxed), 2);
    }
}
