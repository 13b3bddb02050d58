//! Starting the control plane: posture checks, pool, migrations, crash recovery, workers,
//! then the HTTP listener.

use barbacane_posture::{Allowlist, BindRefused, Posture, check_bind};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::db::{self, PoolConfig};
use crate::posture::{TOKEN_ENV, token_source};
use crate::routes;
use crate::state::{AppState, StateConfig};
use crate::storage::PgArtifactStore;
use crate::worker::Workers;

/// Default largest request body: 10 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Postgres URL.
    pub database_url: String,
    /// Compile workers.
    pub workers: usize,
    /// Largest request body.
    pub max_upload_bytes: usize,
    /// `--allow` CIDRs.
    pub allow: Vec<String>,
    /// Pool settings.
    pub pool: PoolConfig,
    /// Heartbeat interval of connected data planes.
    pub heartbeat: std::time::Duration,
    /// Serve HTTPS (and `wss://`) with this PEM certificate chain and key.
    pub tls: Option<TlsFiles>,
    /// How often the drift engine assesses every node.
    pub drift_interval: std::time::Duration,
    /// How long drift observations are kept.
    pub drift_retention: std::time::Duration,
    /// How long a compile claim holds without renewal (`--compile-lease`).
    pub compile_lease: std::time::Duration,
    /// Signs artifacts and attestations (`--signing-key`, PKCS#8 PEM).
    pub signing_key: Option<std::path::PathBuf>,
}

/// `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: std::path::PathBuf,
    /// PEM private key.
    pub key: std::path::PathBuf,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Non-loopback bind without a token.
    #[error(transparent)]
    Posture(#[from] BindRefused),
    /// A bad flag value.
    #[error("{0}")]
    Config(String),
    /// Postgres unreachable or the migrations failed.
    #[error("database: {0}")]
    Database(String),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    state: AppState,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Re-reads the tokens from the environment (SIGHUP). On a non-loopback listener, finding
    /// no token keeps the previous ones: an unset variable never opens the door.
    pub fn reload_tokens(&self) {
        let tokens = token_source().load();
        if check_bind(self.addr, &tokens, TOKEN_ENV).is_err() {
            tracing::warn!("token reload found no token; keeping the previous ones");
            return;
        }
        tracing::info!(tokens = tokens.len(), "tokens reloaded");
        self.state.set_tokens(tokens);
    }

    /// Stops accepting, closes the data planes' connections (they reconnect to the next
    /// process), lets in-flight requests and compilations finish, then returns.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let closed = self.state.hub().disconnect_all();
        if closed > 0 {
            tracing::info!(nodes = closed, "data plane connections closed for shutdown");
        }
        for w in self.workers {
            let _ = w.await;
        }
        self.http
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    /// Waits for `signal`, then stops.
    pub async fn until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.stop().await
    }
}

/// Starts the server: refuses a non-loopback bind without a token, applies the migrations,
/// requeues compilations a crash left running, starts the workers and the listener.
pub async fn start(config: ServeConfig) -> Result<Running, StartError> {
    let tokens = token_source().load();
    check_bind(config.listen, &tokens, TOKEN_ENV)?;
    let allowlist = Allowlist::parse(config.allow.iter().map(String::as_str))
        .map_err(|e| StartError::Config(e.to_string()))?;
    let tls = config
        .tls
        .as_ref()
        .map(|t| crate::tls::server_config(&t.cert, &t.key))
        .transpose()
        .map_err(StartError::Config)?;
    let signing_key = config
        .signing_key
        .as_ref()
        .map(|path| {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| format!("--signing-key {}: {e}", path.display()))?;
            barbacane_artifact::parse_private_key(&pem)
                .map(|key| {
                    tracing::info!(key_id = %barbacane_artifact::key_id(&key.verifying_key()),
                        "artifacts and attestations are signed");
                    Arc::new(key)
                })
                .map_err(|e| format!("--signing-key {}: {e}", path.display()))
        })
        .transpose()
        .map_err(StartError::Config)?;
    let pool = db::pool(&config.database_url, &config.pool)
        .map_err(|e| StartError::Config(format!("DATABASE_URL: {e}")))?;
    db::migrate(&pool)
        .await
        .map_err(|e| StartError::Database(format!("cannot apply migrations: {e}")))?;
    let (requeued, failed) = db::compilations::recover(&pool)
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;
    if requeued + failed > 0 {
        tracing::warn!(
            requeued,
            failed,
            "recovered compilations whose lease had expired"
        );
    }
    // Nodes connected to a previous process are gone with it; they reconnect.
    let stale = db::data_planes::all_offline(&pool)
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;
    if stale > 0 {
        tracing::info!(
            nodes = stale,
            "data planes of the previous process marked offline until they reconnect"
        );
    }
    let store = Arc::new(PgArtifactStore::new(pool.clone()));
    let wake = Arc::new(Notify::new());
    let state = AppState::new(
        pool.clone(),
        store.clone(),
        StateConfig {
            posture: Posture { tokens, allowlist },
            max_upload_bytes: config.max_upload_bytes,
            heartbeat: config.heartbeat,
            scheme: if tls.is_some() { "https" } else { "http" },
            spec_check_wait: crate::state::SPEC_CHECK_WAIT,
        },
        wake.clone(),
    );
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let (shutdown, rx) = watch::channel(false);
    let mut workers = Workers {
        pool: pool.clone(),
        store,
        wake,
        owner: uuid::Uuid::new_v4(),
        lease: config.compile_lease,
        signing_key,
    }
    .spawn(config.workers, rx.clone());
    workers.push(tokio::spawn(crate::drift::run(
        pool.clone(),
        crate::drift::Schedule {
            interval: config.drift_interval,
            retention: config.drift_retention,
        },
        state.metrics().clone(),
        rx.clone(),
    )));
    workers.push(tokio::spawn(crate::drift::webhook::run(
        pool,
        state.metrics().clone(),
        rx.clone(),
    )));
    let mut stop = rx;
    let router = routes::router(state.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let http = match tls {
        None => {
            let app = router.into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
            })
        }
        Some(tls) => tokio::spawn(async move {
            serve_tls(listener, router, tls, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
            Ok(())
        }),
    };
    tracing::info!(%addr, scheme, workers = config.workers, "control plane listening");
    Ok(Running {
        addr,
        state,
        shutdown,
        http,
        workers,
    })
}

/// The API over TLS: a handshake per connection (a failed one closes that connection only,
/// so plaintext on the TLS port gets a closed connection, never a hang), then HTTP/1.1 with
/// upgrades (the data planes' WebSockets). Stops accepting on `shutdown` and lets open
/// requests finish.
async fn serve_tls(
    listener: TcpListener,
    router: axum::Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use tower::ServiceExt;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream));
            let stream = match handshake.await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    router.clone().oneshot(request)
                },
            );
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
