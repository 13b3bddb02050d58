//! One module per subcommand; each returns the process exit code.

mod admin;
pub use admin::DEFAULT_LISTEN as ADMIN_DEFAULT_LISTEN;
pub mod compile;
pub mod dev;
pub mod evidence;
pub mod inspect;
pub mod keys;
pub mod serve;
pub mod validate;
mod watch;

use barbacane_compiler::CompileOptions;
use barbacane_proxy::{Limits, ServeConfig};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::{ModuleCacheArgs, ServeOptions, SpecArgs};

/// Exit code when the compiler reports errors.
pub const EXIT_DIAGNOSTICS: i32 = 1;

/// Logs to stderr through a writer thread: a request never waits on the terminal or the
/// pipe (the access log writes a line per request). When the writer falls 128k lines
/// behind, new lines are dropped rather than slowing requests. The returned guard flushes
/// what is queued when dropped.
pub fn init_tracing(
    filter: Option<&str>,
    format: crate::cli::LogFormat,
) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => f.to_owned(),
        None => std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
    };
    // The NATS client logs message headers, payloads and connection credentials at TRACE:
    // never let a broad `trace` filter reach it (an explicit `async_nats=...` still wins).
    let filter = if filter.contains("trace") && !filter.contains("async_nats") {
        EnvFilter::new(format!("{filter},async_nats=debug"))
    } else {
        EnvFilter::new(filter)
    };
    // Buffered: the writer thread drains every queued line, then flushes once, so a busy
    // gateway makes one write(2) per batch instead of one per line.
    let (writer, guard) = tracing_appender::non_blocking(std::io::BufWriter::with_capacity(
        64 << 10,
        std::io::stderr(),
    ));
    barbacane_proxy::access_log::install(
        Box::new(writer.clone()),
        match format {
            crate::cli::LogFormat::Text => barbacane_proxy::access_log::AccessFormat::Text,
            crate::cli::LogFormat::Json => barbacane_proxy::access_log::AccessFormat::Json,
        },
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    match format {
        crate::cli::LogFormat::Text => builder.init(),
        // Fields at the top level next to `timestamp`, `level`, `target` and `message`, so
        // log shippers index them without unnesting.
        crate::cli::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    guard
}

/// Build time: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn build_time() -> Result<u64, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds")),
        Err(_) => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}

fn compile_options(args: &SpecArgs) -> Result<CompileOptions, String> {
    Ok(CompileOptions {
        specs: args.specs.clone(),
        manifest: args.manifest.clone(),
        base_path: args.base_path.clone(),
        allow_plaintext_upstream: args.allow_plaintext_upstream,
        lenient_patterns: args.lenient_patterns,
        allow_unenforced_security: args.allow_unenforced_security,
        build_time: build_time()?,
        ..Default::default()
    })
}

fn serve_config(options: &ServeOptions, dev: bool) -> ServeConfig {
    ServeConfig {
        listen: options.listen,
        dev,
        limits: Limits {
            max_body_bytes: options.max_body_bytes,
            max_header_count: options.max_header_count,
            max_header_bytes: options.max_header_bytes,
            max_uri_bytes: options.max_uri_bytes,
        },
        idle_timeout: Duration::from_secs(options.idle_timeout.max(1)),
        shutdown_grace: Duration::from_secs(options.shutdown_grace),
        header_timeout: Duration::from_secs(options.header_timeout),
        body_timeout: Duration::from_secs(options.body_timeout),
        max_connections: options.max_connections.unwrap_or(0),
        metrics_on_traffic: options.metrics_on_traffic,
        workers: options.workers.unwrap_or(0),
        share_port: options.share_port,
        idle_yield: !options.no_idle_yield,
        tls: None,
        tracer: None,
    }
}

/// The span exporter (`--otlp-endpoint`), or `None` when spans are not exported.
fn tracer(
    options: &ServeOptions,
    instance: Option<&str>,
) -> Result<Option<std::sync::Arc<barbacane_proxy::otel::Tracer>>, String> {
    use barbacane_proxy::otel::{OtlpConfig, OtlpProtocol, Tracer};
    let Some(endpoint) = options.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let protocol: OtlpProtocol = options.otlp_protocol.parse()?;
    let mut config = OtlpConfig::new(endpoint, protocol)?;
    for header in &options.otlp_headers {
        config.add_header(header)?;
    }
    if protocol == OtlpProtocol::HttpProtobuf && endpoint.trim_end_matches('/').ends_with(":4317") {
        tracing::warn!(
            endpoint,
            "port 4317 is OTLP's gRPC port; pass --otlp-protocol grpc if the collector speaks gRPC there"
        );
    }
    let tracer = Tracer::start(
        config,
        options.trace_sampling,
        &options.service_name,
        instance,
    )
    .map_err(|e| format!("cannot start the OTLP exporter: {e}"))?;
    tracing::info!(
        endpoint,
        protocol = %options.otlp_protocol,
        sampling = options.trace_sampling,
        "exporting spans over OTLP"
    );
    Ok(Some(tracer))
}

/// The traffic listener's TLS settings (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
/// The traffic listener's TLS settings; `Err` carries the exit code (13 when `--tls-key` is
/// a secret reference that does not resolve, 10 otherwise) and the message.
fn tls(
    options: &ServeOptions,
) -> Result<Option<std::sync::Arc<barbacane_proxy::tls::Tls>>, (i32, String)> {
    match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => {
            barbacane_proxy::tls::Tls::load(barbacane_proxy::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: options.tls_client_ca.clone(),
            })
            .map(Some)
            .map_err(|e| {
                let secret = key
                    .to_str()
                    .is_some_and(barbacane_proxy::secrets::is_reference)
                    && e.starts_with("--tls-key: secret reference");
                let code = if secret {
                    barbacane_proxy::exit_code::SECRET_UNRESOLVED
                } else {
                    barbacane_proxy::exit_code::USAGE
                };
                (code, e)
            })
        }
        _ => Ok(None),
    }
}

/// The `--state` backend, or `None` for the in-process one.
/// Where plugins' shared state lives: quotas and cached responses in one Redis
/// (`--state`), or in process (the cache bounded by `--cache-memory`).
struct State {
    redis: Option<std::sync::Arc<barbacane_state::RedisConn>>,
    rate_limiter: Option<std::sync::Arc<dyn barbacane_wasm::RateLimiter>>,
    response_cache: std::sync::Arc<barbacane_wasm::SharedCache>,
}

impl State {
    /// How artifacts load plugins with this state.
    fn load_options(
        &self,
        plugin_pool: barbacane_wasm::PoolOptions,
    ) -> barbacane_proxy::LoadOptions {
        barbacane_proxy::LoadOptions {
            plugin_pool,
            rate_limiter: self.rate_limiter.clone(),
            response_cache: Some(std::sync::Arc::clone(&self.response_cache)),
            ..barbacane_proxy::LoadOptions::default()
        }
    }
}

fn state_backend(options: &ServeOptions) -> Result<State, String> {
    use std::sync::Arc;
    let Some(url) = options.state.as_deref() else {
        return Ok(State {
            redis: None,
            rate_limiter: None,
            response_cache: barbacane_state::local_cache_sized(options.cache_memory),
        });
    };
    let ca = match &options.state_tls_ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| format!("--state-tls-ca: cannot read `{}`: {e}", path.display()))?,
        ),
        None => None,
    };
    let conn =
        Arc::new(barbacane_state::RedisConn::open(url, ca).map_err(|e| format!("--state {e}"))?);
    Ok(State {
        rate_limiter: Some(Arc::new(barbacane_state::RedisLimiter::on(Arc::clone(
            &conn,
        )))),
        response_cache: barbacane_wasm::SharedCache::new(Arc::new(
            barbacane_state::RedisCache::on(Arc::clone(&conn)),
        )),
        redis: Some(conn),
    })
}

/// Connects the `--state` backend before serving (a Redis that is down only warns: quotas are
/// unavailable until it is back, and the plugins' `fail_open` decides).
fn connect_state(rt: &tokio::runtime::Runtime, state: &State) {
    if let Some(conn) = &state.redis {
        if rt.block_on(conn.connect(Duration::from_secs(2))) {
            tracing::info!(backend = ?conn, "shared state connected");
        } else {
            tracing::warn!(backend = ?conn, "shared state not reachable yet; reconnecting in the background");
        }
    }
}

/// The bounds of each plugin configuration's instance pool.
fn plugin_pool(options: &ServeOptions) -> barbacane_wasm::PoolOptions {
    barbacane_wasm::PoolOptions {
        max_instances: options.plugin_instances,
        wait: Duration::from_millis(options.plugin_wait_ms),
    }
}

/// Turns the compiled-module cache on (default directory, or `--module-cache`) or off
/// (`--no-module-cache`). Must run before any plugin is compiled.
fn configure_module_cache(args: &ModuleCacheArgs) {
    let dir = if args.no_module_cache {
        None
    } else {
        args.module_cache
            .clone()
            .or_else(barbacane_wasm::Runtime::default_module_cache)
    };
    barbacane_wasm::Runtime::set_module_cache(dir);
}

/// For the startup log: plugin modules read from the module cache and modules compiled,
/// as `-` when the cache is off.
fn module_cache_counts() -> (String, String) {
    match barbacane_wasm::Runtime::started().and_then(|r| r.module_cache_counts()) {
        Some((hits, misses)) => (hits.to_string(), misses.to_string()),
        None => ("-".into(), "-".into()),
    }
}

/// The runtime of the control tasks: signals, the admin listener, file watchers, reloads
/// (their blocking work goes to its blocking pool). Traffic runs on the gateway's own
/// per-core workers, not here.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
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
