use std::net::SocketAddr;
use std::time::Duration;

/// Request limits, checked before any routing work (`docs/configuration.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body in bytes (413 beyond). Default 1 MiB.
    pub max_body_bytes: u64,
    /// Most request header fields (431 beyond). Default 100.
    pub max_header_count: usize,
    /// Largest total size of header names and values in bytes (431 beyond). Default 16 KiB.
    pub max_header_bytes: usize,
    /// Longest request target (path and query) in bytes (414 beyond). Default 8 KiB.
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_header_count: 100,
            max_header_bytes: 16 * 1024,
            max_uri_bytes: 8 * 1024,
        }
    }
}

/// How the data plane serves.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Traffic listener address.
    pub listen: SocketAddr,
    /// Development mode: problem responses carry field-level details.
    pub dev: bool,
    /// Also serve the metrics at `/__barbacane/metrics` on the traffic listener (for
    /// scrapers that cannot reach the admin listener; no token there).
    pub metrics_on_traffic: bool,
    /// Request limits.
    pub limits: Limits,
    /// A keep-alive connection idle this long is closed (HTTP/1.1; also bounds how long a
    /// client may take to send a request head). Default 60 s.
    pub idle_timeout: Duration,
    /// On SIGTERM/SIGINT, in-flight requests get this long to finish. Default 30 s.
    pub shutdown_grace: Duration,
    /// A new connection must send its first bytes (an HTTP/1 request line, or the whole
    /// HTTP/2 preface) within this. Default 10 s.
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long fails (408); a steady slow upload is
    /// fine. Default 30 s.
    pub body_timeout: Duration,
    /// Open traffic connections at most (spread over the workers); more are answered 503
    /// and closed. `0` (the default): half the open-file limit.
    pub max_connections: usize,
    /// Traffic workers: each a thread with its own single-threaded runtime and listener, so
    /// a connection, its requests, their upstream exchanges and plugins stay on one thread.
    /// `0` (the default): one per available core.
    pub workers: usize,
    /// A worker with no request in flight yields its core once (`sched_yield`) before it
    /// sleeps waiting for the network. When the gateway shares cores with its clients (a
    /// sidecar, a load generator), they run at once and their next requests are waiting
    /// when the worker looks again, instead of each waking it on its own. On (the default);
    /// `--no-idle-yield` turns it off. Costs one system call per idle moment where no other
    /// thread wants the core.
    pub idle_yield: bool,
    /// Let other processes listen on the same address (`SO_REUSEPORT` on Linux), for a binary
    /// upgrade that starts the new gateway before stopping the old one. Off (the default),
    /// binding fails when another process listens there: the kernel would otherwise split
    /// new connections between them without a word, and half the traffic would meet
    /// whatever the other process runs.
    pub share_port: bool,
    /// Terminate TLS on the traffic listener (`--tls-cert`, `--tls-key`); plaintext when
    /// `None`.
    pub tls: Option<std::sync::Arc<crate::tls::Tls>>,
    /// Record sampled requests as OpenTelemetry spans and export them (`--otlp-endpoint`);
    /// `None`: no spans (the W3C trace context is still kept and propagated).
    pub tracer: Option<std::sync::Arc<crate::otel::Tracer>>,
}

impl ServeConfig {
    /// The connection cap `max_connections` resolves to.
    pub fn connection_cap(&self) -> usize {
        match self.max_connections {
            0 => crate::conn::default_max_connections(),
            n => n,
        }
    }

    /// The number of traffic workers `workers` resolves to.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            dev: false,
            metrics_on_traffic: false,
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 0,
            workers: 0,
            share_port: false,
            idle_yield: true,
            tls: None,
            tracer: None,
        }
    }
}
