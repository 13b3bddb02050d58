//! `barbacane-control serve`.

use clap::Args;
use std::net::SocketAddr;

use super::exit;
use crate::db::PoolConfig;
use crate::server::{DEFAULT_MAX_UPLOAD_BYTES, ServeConfig, StartError, start};

/// What `serve` reads from the environment (its `--help` lists it).
pub const ENVIRONMENT: &str = "\
Environment:
  DATABASE_URL                              The Postgres URL (same as --database-url)
  BARBACANE_CONTROL_ADMIN_TOKEN             The admin bearer token; required for a
                                            non-loopback --listen (re-read on SIGHUP)
  BARBACANE_CONTROL_ADMIN_TOKENS_SECONDARY  More accepted tokens, comma-separated (rotation)
  BARBACANE_CONTROL_SIGNING_KEY             Same as --signing-key
  RUST_LOG                                  The log filter when --log-level is not given";

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address. A non-loopback address requires BARBACANE_CONTROL_ADMIN_TOKEN.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Postgres URL (or DATABASE_URL; one of the two is needed). Optional for the parser, so
    /// the usage line does not show a flag the environment usually gives as required.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Compile workers (compilations running at once), 1 to 256.
    #[arg(long, default_value_t = 2,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub workers: usize,
    /// Largest request body in bytes (413 beyond), 1 KiB to 1 GiB.
    #[arg(long, default_value_t = DEFAULT_MAX_UPLOAD_BYTES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..=(1 << 30)))]
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
    /// How often the drift engine polls standalone nodes and assesses every node: a
    /// duration such as `30s`, `2m`, `1h` (a bare number is seconds), from 1s to 24h.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_interval)]
    pub drift_interval: std::time::Duration,
    /// How long drift observations (and the per-pass `observed` events of findings) are
    /// kept; findings, their opening and resolution, are kept forever. `30d`, `12h`, ...
    #[arg(long, default_value = "30d", value_name = "DURATION", value_parser = parse_retention)]
    pub drift_retention: std::time::Duration,
    /// How long a compile claim holds without renewal (renewed every third of it while
    /// compiling). A process that dies loses its claims after this long; any other process on
    /// the same database then requeues them. `30s`, `2m`, ...
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_interval)]
    pub compile_lease: std::time::Duration,
    /// Serve HTTPS (and `wss://` to data planes) with this PEM certificate chain.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Sign every artifact this control plane compiles, and its provenance attestation,
    /// with this Ed25519 private key (PKCS#8 PEM, from `barbacane keygen`). Without it,
    /// artifacts are unsigned and attestations are envelopes without a signature.
    #[arg(long, value_name = "FILE", env = "BARBACANE_CONTROL_SIGNING_KEY")]
    pub signing_key: Option<std::path::PathBuf>,
    /// Log filter (default `info`, or RUST_LOG).
    #[arg(long)]
    pub log_level: Option<String>,
    /// Log lines as `text` or `json` (one object per line: `timestamp`, `level`, `target`,
    /// `message` and the event's fields).
    #[arg(long, default_value = "text", value_parser = ["text", "json"], env = "BARBACANE_LOG_FORMAT")]
    pub log_format: String,
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> i32 {
    let Some(database_url) = args.database_url else {
        eprintln!("error: no database: set DATABASE_URL or pass --database-url URL");
        return exit::USAGE;
    };
    init_tracing(args.log_level.as_deref(), args.log_format == "json");
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
        database_url,
        workers: args.workers,
        max_upload_bytes: args.max_upload_bytes,
        allow: args.allow,
        heartbeat: std::time::Duration::from_secs(args.heartbeat_seconds),
        drift_interval: args.drift_interval,
        drift_retention: args.drift_retention,
        compile_lease: args.compile_lease,
        signing_key: args.signing_key,
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

fn init_tracing(filter: Option<&str>, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
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

/// `30s`, `2m`, `1h`, `1500ms` or a bare number of seconds, between 1 s and 24 h.
pub fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    parse_duration(text, 1000, 86_400_000, "1s..24h")
}

/// `30d`, `12h`, ...: how long drift observations are kept, between 1 h and 10 years.
pub fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    parse_duration(text, 3_600_000, 3650 * 86_400_000, "1h..3650d")
}

/// A number with an optional unit (`ms`, `s` (default), `m`, `h`, `d`), in `min..=max` ms.
fn parse_duration(
    text: &str,
    min: u64,
    max: u64,
    range: &str,
) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 30s, 2m, 1h or 30d"))?;
    let millis = match unit {
        "" | "s" => n.checked_mul(1000),
        "ms" => Some(n),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(format!("`{text}`: the unit must be ms, s, m, h or d")),
    }
    .ok_or_else(|| format!("`{text}` is too long"))?;
    if !(min..=max).contains(&millis) {
        return Err(format!("`{text}` is outside {range}"));
    }
    Ok(std::time::Duration::from_millis(millis))
}

#[cfg(test)]
mod interval_tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("1500ms"), Ok(Duration::from_millis(1500)));
        for bad in [
            "",
            "s",
            "10x",
            "500ms",
            "25h",
            "-1s",
            "99999999999999999999h",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
