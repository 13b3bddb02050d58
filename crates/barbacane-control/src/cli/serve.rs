//! `barbacane-control serve`.

use clap::Args;
use std::net::SocketAddr;

use super::exit;
use crate::db::PoolConfig;
use crate::server::{DEFAULT_MAX_UPLOAD_BYTES, ServeConfig, StartError, start};

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address. A non-loopback address requires BARBACANE_CONTROL_ADMIN_TOKEN.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Postgres URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Compile workers (compilations running at once).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: usize,
    /// Only these peer addresses may use the API (CIDR, repeatable).
    #[arg(long = "allow", value_name = "CIDR")]
    pub allow: Vec<String>,
    /// Most database connections.
    #[arg(long, default_value_t = 16)]
    pub max_db_connections: u32,
    /// Seconds between the heartbeats of connected data planes (told to each node); a node
    /// silent for three of them is marked offline.
    #[arg(long, default_value_t = 30,
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=3600))]
    pub heartbeat_seconds: u64,
    /// Seconds between two drift passes over every node.
    #[arg(long, default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=86_400))]
    pub drift_interval: u64,
    /// Serve HTTPS (and `wss://` to data planes) with this PEM certificate chain.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Log filter (default `info`, or RUST_LOG).
    #[arg(long)]
    pub log_level: Option<String>,
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> i32 {
    init_tracing(args.log_level.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::CONFIG;
        }
    };
    let config = ServeConfig {
        listen: args.listen,
        database_url: args.database_url,
        workers: args.workers,
        max_upload_bytes: args.max_upload_bytes,
        allow: args.allow,
        heartbeat: std::time::Duration::from_secs(args.heartbeat_seconds),
        drift_interval: std::time::Duration::from_secs(args.drift_interval),
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::TlsFiles { cert, key }),
            _ => None,
        },
        pool: PoolConfig {
            max_connections: args.max_db_connections.max(2),
            ..PoolConfig::default()
        },
    };
    runtime.block_on(async {
        let running = match start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return match e {
                    StartError::Posture(_) => exit::POSTURE,
                    StartError::Config(_) => exit::CONFIG,
                    StartError::Database(_) => exit::DATABASE,
                    StartError::Bind { .. } => exit::BIND,
                };
            }
        };
        let running = std::sync::Arc::new(running);
        let reloader = running.clone();
        let hup = tokio::spawn(async move { reload_on_sighup(&reloader).await });
        shutdown_signal().await;
        hup.abort();
        let _ = hup.await;
        let Ok(running) = std::sync::Arc::try_unwrap(running) else {
            eprintln!("error: the server is still referenced at shutdown");
            return exit::FAILED;
        };
        match running.stop().await {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("error: {e}");
                exit::FAILED
            }
        }
    })
}

fn init_tracing(filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Re-reads the tokens on every SIGHUP (rotation without restart).
async fn reload_on_sighup(running: &crate::server::Running) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            running.reload_tokens();
        }
    }
    #[cfg(not(unix))]
    let _ = running;
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}
