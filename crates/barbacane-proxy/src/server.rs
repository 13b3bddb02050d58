//! Accepting connections: HTTP/1.1 and HTTP/2 (prior-knowledge h2c) on one port, keep-alive
//! with an idle timeout, graceful shutdown; per-core workers (one thread, one
//! single-threaded runtime and one socket each).

use arc_swap::{ArcSwap, Guard};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};

use crate::conn::{Prefixed, TimedBody, first_bytes};
use crate::{ServeConfig, Snapshot, pipeline};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The data plane's shared state: the live snapshot and the serving configuration.
#[derive(Debug)]
pub struct Gateway {
    snapshot: ArcSwap<Snapshot>,
    config: ServeConfig,
}

impl Gateway {
    /// A gateway serving `snapshot`.
    pub fn new(snapshot: Snapshot, config: ServeConfig) -> Arc<Gateway> {
        Arc::new(Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            config,
        })
    }

    /// The live snapshot. Requests hold it for their whole life, so a swap never changes the
    /// configuration under an in-flight request.
    pub fn snapshot(&self) -> Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// The live snapshot as an owned handle (for requests that outlive a quick lookup).
    pub fn snapshot_arc(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the live snapshot atomically.
    pub fn swap(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    /// The serving configuration.
    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// Binds the traffic listener: one socket per worker sharing the address
    /// (`SO_REUSEPORT`: the kernel spreads new connections across them) on Linux, one socket
    /// shared by every worker elsewhere.
    pub async fn bind(self: &Arc<Self>) -> std::io::Result<Listening> {
        let workers = self.config.worker_count();
        let first = bind_socket(self.config.listen, workers > 1)?;
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..workers {
            let next = if cfg!(target_os = "linux") {
                bind_socket(addr, true)?
            } else {
                sockets[0].try_clone()?
            };
            sockets.push(next);
        }
        Ok(Listening {
            addr,
            sockets,
            gateway: Arc::clone(self),
        })
    }
}

/// A listening socket, not yet registered with any runtime.
fn bind_socket(addr: SocketAddr, share: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    #[cfg(target_os = "linux")]
    if share {
        socket.set_reuseport(true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = share;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// A bound, not yet serving, listener.
#[derive(Debug)]
pub struct Listening {
    addr: SocketAddr,
    /// One per worker.
    sockets: Vec<std::net::TcpListener>,
    gateway: Arc<Gateway>,
}

impl Listening {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting and gives in-flight requests
    /// up to the configured grace period.
    ///
    /// Each worker is a thread running a single-threaded tokio runtime with its own socket:
    /// the connections it accepts, their requests, the upstream connections and the plugin
    /// calls those make are all driven on that thread (no cross-thread wakeup on the request
    /// path). The caller's runtime only waits for `shutdown` and for the workers to drain.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Listening {
            sockets, gateway, ..
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut finished = Vec::with_capacity(sockets.len());
        for (index, socket) in sockets.into_iter().enumerate() {
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let gateway = Arc::clone(&gateway);
            let stop = stop_rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("barbacane-worker-{index}"))
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(worker(socket, gateway, stop)),
                        Err(e) => tracing::error!(worker = index, error = %e, "cannot start a worker runtime"),
                    }
                    drop(done_tx);
                });
            match spawned {
                Ok(_) => finished.push(done_rx),
                Err(e) => {
                    tracing::error!(worker = index, error = %e, "cannot start a worker thread")
                }
            }
        }
        if finished.is_empty() {
            tracing::error!("no traffic worker could start");
            return;
        }
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop_tx.send(true);
        for done in finished {
            // Resolves (with an error) when the worker thread drops its sender.
            let _ = done.await;
        }
    }
}

/// One worker: accepts on its socket until told to stop, then drains its connections.
///
/// Each connection must send its first bytes within `header_timeout`, its request bodies
/// may not stall longer than `body_timeout`, and the worker holds at most its share of
/// `max_connections` (more are answered 503 and closed). On stop, the listener closes and,
/// for up to a second, every HTTP/1 response carries `Connection: close` (a client with a
/// request already on its way gets an answer instead of a reset), then the remaining
/// connections are shut down gracefully within the grace period.
async fn worker(
    socket: std::net::TcpListener,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
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
    let config = &gateway.config;
    let builder = Arc::new(connection_builder(config));
    let cap = config
        .connection_cap()
        .div_ceil(config.worker_count())
        .max(1);
    let open = Arc::new(AtomicUsize::new(0));
    let draining = Arc::new(AtomicBool::new(false));
    let mut refused = 0u64;
    let graceful = GracefulShutdown::new();
    let stop_signal = stop.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        let Some((stream, peer)) = next_connection(&listener, stopped.as_mut()).await else {
            break;
        };
        if open.load(Ordering::Relaxed) >= cap {
            if refused == 0 {
                tracing::warn!(
                    cap,
                    "connection cap reached; refusing new connections with 503"
                );
            }
            refused += 1;
            tokio::spawn(refuse(stream));
            continue;
        } else if refused > 0 {
            tracing::info!(refused, "below the connection cap again");
            refused = 0;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (gw, builder, draining, open) = (
            Arc::clone(&gateway),
            Arc::clone(&builder),
            Arc::clone(&draining),
            Arc::clone(&open),
        );
        let watcher = graceful.watcher();
        let mut stop = stop_signal.clone();
        tokio::spawn(async move {
            let (header_timeout, body_timeout) = (gw.config.header_timeout, gw.config.body_timeout);
            let mut stream = stream;
            // A connection still silent when the worker stops is simply closed.
            let prefix = tokio::select! {
                prefix = first_bytes(&mut stream, header_timeout) => prefix,
                _ = stop.wait_for(|s| *s) => None,
            };
            if let Some(prefix) = prefix {
                let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let gw = Arc::clone(&gw);
                    let draining = Arc::clone(&draining);
                    req.extensions_mut().insert(pipeline::ClientAddr(peer));
                    let http1 = req.version() < http::Version::HTTP_2;
                    let req = req.map(|body| TimedBody::new(body, body_timeout));
                    async move {
                        let mut response = pipeline::handle(&gw, req).await;
                        if http1 && draining.load(Ordering::Relaxed) {
                            response.headers_mut().insert(
                                http::header::CONNECTION,
                                http::HeaderValue::from_static("close"),
                            );
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let io = TokioIo::new(Prefixed::new(prefix, stream));
                let conn = builder.serve_connection(io, service).into_owned();
                if let Err(e) = watcher.watch(conn).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(listener);
    draining.store(true, Ordering::Relaxed);
    let grace = gateway.config.shutdown_grace;
    let started = tokio::time::Instant::now();
    let window = grace.min(Duration::from_secs(1));
    while open.load(Ordering::Relaxed) > 0 && started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rest = grace.saturating_sub(started.elapsed());
    if tokio::time::timeout(rest, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(?grace, "grace period over; closing remaining connections");
    }
}

/// Answers a connection over the cap with a 503 problem and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BODY: &str = "{\"type\":\"urn:barbacane:error:overloaded\",\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"The gateway has too many open connections; try again shortly.\"}";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
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
