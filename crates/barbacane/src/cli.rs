//! Command-line interface (every flag is documented in `docs/cli.md`).

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Barbacane: your OpenAPI spec is the gateway configuration.
#[derive(Debug, Parser)]
#[command(name = "barbacane", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (e.g. `info`, `debug`, `barbacane_proxy=trace`); overrides RUST_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log lines as human-readable text or as JSON objects (one per line: `timestamp`,
    /// `level`, `target`, `message` and the event's fields), on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "BARBACANE_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile specs into a sealed `.bca` artifact.
    Compile(CompileArgs),
    /// Run every compiler check without writing an artifact.
    Validate(SpecArgs),
    /// Print an artifact's provenance header, routes and inputs.
    Inspect(InspectArgs),
    /// Serve an artifact.
    Serve(ServeArgs),
    /// Compile, serve, and recompile + swap whenever a spec changes.
    Dev(DevArgs),
    /// Make an Ed25519 key pair for signing artifacts.
    Keygen(KeygenArgs),
    /// Check an artifact offline: integrity, its signature against trusted keys, and its
    /// provenance attestation.
    Verify(VerifyArgs),
    /// Print an artifact's CycloneDX 1.6 bill of materials (JSON).
    Sbom(SbomArgs),
    /// Print the OCI labels an image carrying an artifact should have.
    OciLabels(OciLabelsArgs),
    /// Write an artifact, its SBOM and its attestation as an OCI artifact in an OCI image
    /// layout, ready for `oras` or `skopeo` to push.
    OciLayout(OciLayoutArgs),
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The artifact.
    pub artifact: PathBuf,
    /// Write the BOM here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFormat {
    /// One `--label=KEY=VALUE` argument per line, for `podman build` / `docker build`.
    Args,
    /// A JSON object, to merge into an image config's `config.Labels`.
    Json,
}

#[derive(Debug, Args)]
pub struct OciLabelsArgs {
    /// The artifact.
    pub artifact: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LabelFormat::Args)]
    pub format: LabelFormat,
}

#[derive(Debug, Args)]
pub struct OciLayoutArgs {
    /// The artifact.
    pub artifact: PathBuf,
    /// The layout directory (created if missing; other tags in it are kept).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// The tag of the manifest (`org.opencontainers.image.ref.name`).
    #[arg(long, default_value = "latest", value_name = "TAG")]
    pub tag: String,
    /// The artifact's provenance attestation (DSSE envelope from `compile --attestation`),
    /// added as a layer; refused if it is about another file.
    #[arg(long, value_name = "FILE")]
    pub attestation: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key (private, PKCS#8 PEM, mode 0600) and PREFIX.pub (public, PEM).
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact: a `.bca` file or `oci:DIR[:TAG]`.
    pub artifact: PathBuf,
    /// A public key whose signatures are trusted; repeatable. With at least one, the artifact
    /// must carry a valid signature by one of them.
    #[arg(long = "trusted-key", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    /// Also check this provenance attestation (DSSE envelope): its signature by a trusted
    /// key, its subject against the file, its dependencies against the header's inputs.
    #[arg(long, value_name = "FILE", requires = "trusted_keys")]
    pub attestation: Option<PathBuf>,
}

/// The inputs of a compilation.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// An OpenAPI 3.0/3.1/3.2 document (YAML or JSON); repeat for several specs.
    #[arg(long = "spec", value_name = "FILE", required = true)]
    pub specs: Vec<PathBuf>,
    /// The project manifest (`barbacane.yaml`) declaring plugins.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Prefix every route with this static path (overrides `x-barbacane-base-path`).
    #[arg(long, value_name = "PATH")]
    pub base_path: Option<String>,
    /// Print diagnostics as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Accept `http://` upstream URLs (development only; E1031 otherwise).
    #[arg(long)]
    pub allow_plaintext_upstream: bool,
    /// Skip (with warning W1003) each schema `pattern` that cannot be compiled even after
    /// translating its regex dialect, instead of failing (E1005). `inspect` lists every
    /// skipped check; the flag is recorded in the artifact's fingerprint.
    #[arg(long)]
    pub lenient_patterns: bool,
    /// Compile operations whose OpenAPI `security` requirement no middleware checks (one
    /// warning W1004 per spec instead of E1032 per operation): for an upstream that
    /// authenticates requests itself. Recorded in the artifact's fingerprint.
    #[arg(long)]
    pub allow_unenforced_security: bool,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Where to write the artifact.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Source revision recorded as `provenance_commit` (e.g. a Git SHA).
    #[arg(long, value_name = "REV")]
    pub provenance_commit: Option<String>,
    /// Where the sources came from, recorded as `provenance_source` (a URI).
    #[arg(long, value_name = "URI")]
    pub provenance_source: Option<String>,
    /// Extra provenance metadata; repeatable.
    #[arg(long = "provenance", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub provenance: Vec<(String, String)>,
    /// Sign the artifact header with this Ed25519 private key (PKCS#8 PEM, see `keygen`).
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Also write an in-toto / SLSA v1 provenance attestation of the artifact here, in a DSSE
    /// envelope signed with `--signing-key`.
    #[arg(long, value_name = "FILE", requires = "signing_key")]
    pub attestation: Option<PathBuf>,
    #[command(flatten)]
    pub cache: ModuleCacheArgs,
}

/// Where compiled plugin modules are cached (`compile` fills it, `serve` and `dev` read it).
#[derive(Debug, Clone, Args)]
pub struct ModuleCacheArgs {
    /// Cache compiled plugin modules in DIR [default: $XDG_CACHE_HOME/barbacane/modules or
    /// ~/.cache/barbacane/modules]. A cache that cannot be used is skipped with a warning.
    #[arg(long, value_name = "DIR", conflicts_with = "no_module_cache")]
    pub module_cache: Option<PathBuf>,
    /// Compile every plugin module at start, without reading or writing a cache.
    #[arg(long)]
    pub no_module_cache: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The artifact: a `.bca` file or `oci:DIR[:TAG]`.
    pub artifact: PathBuf,
    /// Print the header as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Serving options shared by `serve` and `dev`.
#[derive(Debug, Clone, Args)]
pub struct ServeOptions {
    /// Traffic listener address.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub max_body_bytes: u64,
    /// Most request header fields (431 beyond).
    #[arg(long, default_value_t = 100, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub max_header_count: usize,
    /// Largest total size of request headers in bytes (431 beyond).
    #[arg(long, default_value_t = 16_384, value_name = "BYTES")]
    pub max_header_bytes: usize,
    /// Longest request target (path + query) in bytes (414 beyond); at most 65534.
    #[arg(long, default_value_t = 8_192, value_name = "BYTES",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_534))]
    pub max_uri_bytes: usize,
    /// Seconds an idle keep-alive connection is kept open, 1 to 86400.
    #[arg(long, default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=86_400))]
    pub idle_timeout: u64,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT, 0 to 86400.
    #[arg(long, default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=86_400))]
    pub shutdown_grace: u64,
    /// Seconds a new connection has to send its first bytes (a request line, or the whole
    /// HTTP/2 preface) before it is closed.
    #[arg(long, default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a request body may send nothing before the request fails with 408.
    #[arg(long, default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=86_400))]
    pub body_timeout: u64,
    /// Open traffic connections at most; more are answered 503 and closed [default: half
    /// the open-file limit].
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    pub max_connections: Option<usize>,
    /// Also serve the metrics at `/__barbacane/metrics` on the traffic listener (no token
    /// there: for scrapers that cannot reach the admin listener).
    #[arg(long)]
    pub metrics_on_traffic: bool,
    /// Keep plugins' shared state (rate-limit quotas, cached responses) in this Redis
    /// instead of in process, so that every gateway pointed at it enforces one quota and
    /// shares one cache: `redis://[user:pass@]HOST[:PORT][/DB]`, or `rediss://` for TLS.
    /// Unreachable Redis never stops serving: quotas follow the plugins' `fail_open`, cache
    /// lookups miss.
    #[arg(long, value_name = "URL", env = "BARBACANE_STATE")]
    pub state: Option<String>,
    /// Verify a `rediss://` `--state` server against this CA (PEM) instead of the system's
    /// roots.
    #[arg(long, value_name = "FILE", requires = "state")]
    pub state_tls_ca: Option<PathBuf>,
    /// Memory for cached responses kept in process (without `--state`): bytes, or with a
    /// unit `KiB`, `MiB`, `GiB` (e.g. `512MiB`). Default 128MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "128MiB")]
    pub cache_memory: u64,
    /// Terminate TLS on the traffic listener with this PEM certificate chain (leaf first):
    /// TLS 1.2 minimum, 1.3 preferred, ALPN h2 and http/1.1. Reloaded on SIGHUP and when the
    /// file changes; a bad new pair is refused and the old one keeps serving.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`: a file, or a secret reference
    /// (`file:///path`, `env://NAME`, `vault://mount/path#key`, `aws-sm://name[#key]`,
    /// `k8s://namespace/name/key`; see docs/secrets.md). Unresolvable at startup: exit 13.
    #[arg(long, value_name = "FILE|REF", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require a client certificate signed by one of these CAs (PEM); its SHA-256 reaches
    /// plugins as `auth.client_cert.sha256` in the request context.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Traffic workers, each a thread with its own runtime and listener (default: one per CPU).
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub workers: Option<usize>,
    /// Let other processes listen on the same address and take a share of new connections
    /// (`SO_REUSEPORT`), e.g. to start a new gateway binary before stopping the old one.
    /// Without it, `serve` refuses to start when another process listens there.
    #[arg(long)]
    pub share_port: bool,
    /// Do not yield the core before a worker with no request in flight sleeps (by default
    /// it does once, so clients sharing its cores send their next requests first).
    #[arg(long)]
    pub no_idle_yield: bool,
    /// Instances of one plugin configuration alive at once (requests using it concurrently).
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub plugin_instances: usize,
    /// Milliseconds a request waits for a busy plugin's instance before 503 plugin-overloaded.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub plugin_wait_ms: u64,
    /// Export OpenTelemetry spans to this OTLP collector (`http://collector:4318` for
    /// http/protobuf, `http://collector:4317` for grpc). Batched from a thread of its own: a
    /// slow or dead collector never delays a request (spans are dropped, and counted).
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The OTLP protocol: `http/protobuf` (`POST <URL>/v1/traces`) or `grpc`.
    #[arg(long, value_name = "PROTOCOL", default_value = "http/protobuf",
          env = "OTEL_EXPORTER_OTLP_PROTOCOL", value_parser = ["http/protobuf", "http", "grpc"])]
    pub otlp_protocol: String,
    /// A header sent with every export (`NAME=VALUE`, repeatable; e.g. a collector's API key).
    #[arg(
        long = "otlp-header",
        value_name = "NAME=VALUE",
        requires = "otlp_endpoint"
    )]
    pub otlp_headers: Vec<String>,
    /// Share of new traces recorded (0.0 to 1.0). A request whose `traceparent` says
    /// sampled or not is recorded or not as its caller decided; an operation's
    /// `x-barbacane-observability.trace_sampling` overrides this for its new traces.
    #[arg(long, value_name = "RATIO", default_value_t = 1.0, value_parser = parse_ratio)]
    pub trace_sampling: f64,
    /// `service.name` of the exported spans.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "barbacane",
        env = "OTEL_SERVICE_NAME"
    )]
    pub service_name: String,
    #[command(flatten)]
    pub cache: ModuleCacheArgs,
}

/// A ratio between 0 and 1.
fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("`{s}` is not a ratio between 0.0 and 1.0")),
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The artifact to serve: a `.bca` file, or `oci:DIR[:TAG]` for the artifact in an OCI
    /// image layout (see `oci-layout`). Optional in connected mode (`--control-plane`): the
    /// node then waits for a deployment before opening its traffic listener.
    #[arg(
        long,
        value_name = "FILE|oci:DIR[:TAG]",
        required_unless_present = "control_plane"
    )]
    pub artifact: Option<PathBuf>,
    /// Development mode: problem responses include field-level details.
    #[arg(long)]
    pub dev: bool,
    /// Reload the artifact when its file changes (also on SIGHUP and POST /_admin/reload).
    #[arg(long)]
    pub watch: bool,
    /// A public key whose artifact signatures are trusted (PEM); repeatable.
    #[arg(long = "trusted-key", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    /// Refuse unsigned artifacts and artifacts whose signature does not verify (exit 16).
    #[arg(long)]
    pub require_signature: bool,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub options: ServeOptions,
}

/// Connected mode: register with a control plane (`docs/connected-mode.md`).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The control plane (`http://HOST:PORT`, or its `ws://.../ws/data-plane` URL). Without
    /// it the gateway runs standalone.
    #[arg(long, value_name = "URL")]
    pub control_plane: Option<String>,
    /// The project the API key belongs to (checked by the control plane).
    #[arg(long, value_name = "ID", requires = "control_plane")]
    pub project_id: Option<String>,
    /// A project API key with `data-plane:connect` (never logged).
    #[arg(
        long,
        env = "BARBACANE_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// This node's name in the project [default: the host name].
    #[arg(long, value_name = "NAME", requires = "control_plane")]
    pub data_plane_name: Option<String>,
    /// For an https:// control plane: trust only this CA (PEM) [default: the system's roots].
    #[arg(long, value_name = "FILE", requires = "control_plane")]
    pub control_plane_ca: Option<PathBuf>,
    /// A label of this node (`key=value`); repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_key_value, requires = "control_plane")]
    pub labels: Vec<(String, String)>,
}

/// The admin listener (`/_admin/*`), separate from traffic.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Admin listener address. A non-loopback address requires a token (exit 15 otherwise).
    #[arg(long, default_value = crate::cmd::ADMIN_DEFAULT_LISTEN, value_name = "ADDR")]
    pub admin_listen: SocketAddr,
    /// Environment variable holding the admin bearer token.
    #[arg(long, default_value = "BARBACANE_ADMIN_TOKEN", value_name = "NAME")]
    pub admin_token_env: String,
    /// Environment variable holding extra accepted tokens, comma-separated (rotation).
    #[arg(
        long,
        default_value = "BARBACANE_ADMIN_TOKENS_SECONDARY",
        value_name = "NAME"
    )]
    pub admin_secondary_tokens_env: String,
    /// Only these peer addresses may use the admin API (CIDR or address); repeatable.
    #[arg(long = "admin-allow", value_name = "CIDR")]
    pub admin_allow: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub options: ServeOptions,
}

/// A size in bytes: a number, optionally followed by `B`, `KiB`, `MiB` or `GiB` (also `K`,
/// `M`, `G`, `KB`, `MB`, `GB`, read as binary units).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 134217728, 512MiB, 2GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown size unit `{other}` (use KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift)
        .filter(|b| *b >= 1 << 16)
        .ok_or_else(|| format!("`{s}` is out of range (at least 64KiB)"))
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}
