//! Accepting connections: HTTP/1.1 and HTTP/2 (prior-knowledge h2c) on one port, keep-alive
//! with an idle timeout, graceful shutdown; per-core workers (one thread, one
//! single-threaded runtime and one socket each).

use arc_swap::{ArcSwap, Guard};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpSocket;
use tokio::sync::{oneshot, watch};

use crate::{ServeConfig, Snapshot};

/// The data plane's shared state: the live snapshot and the serving configuration.
#[derive(Debug)]
pub struct Gateway {
    snapshot: ArcSwap<Snapshot>,
    config: ServeConfig,
    metrics: crate::metrics::GatewayMetrics,
}

impl Gateway {
    /// A gateway serving `snapshot`.
    pub fn new(snapshot: Snapshot, config: ServeConfig) -> Arc<Gateway> {
        Arc::new(Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            config,
            metrics: crate::metrics::GatewayMetrics::default(),
        })
    }

    /// Gateway-wide counters.
    pub fn metrics(&self) -> &crate::metrics::GatewayMetrics {
        &self.metrics
    }

    /// The Prometheus exposition of this gateway and its live snapshot.
    pub fn render_metrics(&self) -> String {
        let snapshot = self.snapshot();
        let mut text = crate::metrics::render(
            &self.metrics,
            &crate::metrics::ArtifactLabels {
                artifact_hash: &snapshot.header().artifact_hash,
                content_hash: snapshot.content_hash(),
            },
            snapshot.route_metrics().iter(),
        );
        if let Some(tracer) = &self.config.tracer {
            crate::metrics::render_spans(&mut text, tracer.stats());
        }
        text
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
    ///
    /// Sockets of other processes with `SO_REUSEPORT` on the same address would silently take
    /// a share of the connections: unless [`ServeConfig::share_port`] allows it, binding
    /// fails with [`std::io::ErrorKind::AddrInUse`] when another process listens there.
    pub async fn bind(self: &Arc<Self>) -> std::io::Result<Listening> {
        let workers = self.config.worker_count();
        if workers > 1 && !self.config.share_port && self.config.listen.port() != 0 {
            refuse_if_taken(self.config.listen)?;
        }
        let first = bind_socket(self.config.listen, workers > 1 || self.config.share_port)?;
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

/// Fails when another socket listens on `addr`: a bind without `SO_REUSEPORT` is refused
/// by any listener there, whether or not it set the option (the probe never listens).
fn refuse_if_taken(addr: SocketAddr) -> std::io::Result<()> {
    match bind_socket_unlistened(addr, false) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another process is listening on this address (an older gateway still \
             running?); stop it first, or pass --share-port to share connections with it",
        )),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// A socket bound to `addr` (`share`: with `SO_REUSEPORT` on Linux), not listening yet.
fn bind_socket_unlistened(addr: SocketAddr, share: bool) -> std::io::Result<TcpSocket> {
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
    Ok(socket)
}

/// A listening socket, not yet registered with any runtime.
fn bind_socket(addr: SocketAddr, share: bool) -> std::io::Result<std::net::TcpListener> {
    bind_socket_unlistened(addr, share)?
        .listen(1024)?
        .into_std()
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
        let open_listeners = crate::worker::OpenListener::group(sockets.len());
        for (index, (socket, open_listener)) in sockets.into_iter().zip(open_listeners).enumerate()
        {
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let gateway = Arc::clone(&gateway);
            let stop = stop_rx.clone();
            let idle_yield = gateway.config().idle_yield;
            let spawned = std::thread::Builder::new()
                .name(format!("barbacane-worker-{index}"))
                .spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    runtime.enable_all();
                    if idle_yield {
                        runtime.on_thread_park(crate::worker::before_park);
                    }
                    match runtime.build() {
                        Ok(rt) => rt.block_on(crate::worker::run(socket, gateway, stop, open_listener)),
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
        // While serving, memory freed by bursts of connections is handed back.
        tokio::select! {
            () = shutdown => {}
            () = crate::trim::after_bursts(Arc::clone(&gateway)) => {}
        }
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop_tx.send(true);
        for done in finished {
            // Resolves (with an error) when the worker thread drops its sender.
            let _ = done.await;
        }
    }
}
