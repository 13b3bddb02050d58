//! Accepting connections: HTTP/1.1 and HTTP/2 (prior-knowledge h2c) on one port, keep-alive
//! with an idle timeout, graceful shutdown.

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
use tokio::net::TcpListener;

use crate::{ServeConfig, Snapshot, pipeline};

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

    /// Binds the traffic listener.
    pub async fn bind(self: &Arc<Self>) -> std::io::Result<Listening> {
        let listener = TcpListener::bind(self.config.listen).await?;
        Ok(Listening {
            addr: listener.local_addr()?,
            listener,
            gateway: Arc::clone(self),
        })
    }
}

/// A bound, not yet serving, listener.
#[derive(Debug)]
pub struct Listening {
    addr: SocketAddr,
    listener: TcpListener,
    gateway: Arc<Gateway>,
}

impl Listening {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting and gives in-flight requests
    /// up to the configured grace period.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Listening {
            listener, gateway, ..
        } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(gateway.config.idle_timeout)
            // Above our own limit so the limits phase, not hyper, answers with a problem;
            // only a flood of several times the limit meets hyper's bare 431.
            .max_headers(
                gateway
                    .config
                    .limits
                    .max_header_count
                    .saturating_mul(2)
                    .max(gateway.config.limits.max_header_count + 32),
            )
            .max_buf_size(64 * 1024 + gateway.config.limits.max_header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(
                u32::try_from(gateway.config.limits.max_header_bytes * 2).unwrap_or(u32::MAX),
            )
            .keep_alive_interval(gateway.config.idle_timeout / 2)
            .keep_alive_timeout(Duration::from_secs(20));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let Some((stream, peer)) = next_connection(&listener, shutdown.as_mut()).await else {
                break;
            };
            let _ = stream.set_nodelay(true);
            let gw = Arc::clone(&gateway);
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let gw = Arc::clone(&gw);
                req.extensions_mut().insert(pipeline::ClientAddr(peer));
                async move { Ok::<_, Infallible>(pipeline::handle(&gw, req).await) }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn.into_owned());
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!("shutting down: draining in-flight requests");
        if tokio::time::timeout(gateway.config.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?gateway.config.shutdown_grace, "grace period over; closing remaining connections");
        }
    }
}

/// The next accepted connection, or `None` once `shutdown` completes. Accept errors (out of
/// file descriptors and similar) back off briefly instead of spinning.
pub(crate) async fn next_connection(
    listener: &TcpListener,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => return Some(pair),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => return None,
        }
    }
}
