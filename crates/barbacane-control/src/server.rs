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
            "recovered compilations left running by a previous process"
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
    let workers = Workers { pool, store, wake }.spawn(config.workers, rx.clone());
    let app = routes::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut stop = rx;
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, workers = config.workers, "control plane listening");
    Ok(Running {
        addr,
        state,
        shutdown,
        http,
        workers,
    })
}
