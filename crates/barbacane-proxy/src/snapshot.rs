//! Everything one artifact needs at run time, built once, off the request path.

use barbacane_artifact::{
    Artifact, ArtifactError, CONFIG_MEMBER, CompiledConfig, Header, Operation, PublicKey,
    SignatureStatus, verify_header,
};
use barbacane_router::{Method, Router, RouterBuilder};
use barbacane_validator::OperationValidator;
use std::path::Path;
use std::time::SystemTime;

use crate::dispatch::Dispatcher;
use crate::exit_code;

/// Why an artifact could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read artifact `{path}`: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid, intact artifact.
    #[error("artifact is invalid or has been tampered with: {0}")]
    Artifact(#[from] ArtifactError),
    /// `--require-signature` is set and the artifact is unsigned or its signature invalid.
    #[error("artifact signature rejected ({status}): {reason}")]
    Signature {
        /// `unsigned` or `invalid`.
        status: &'static str,
        /// Why.
        reason: String,
    },
    /// `oci:DIR[:TAG]` does not name a usable OCI layout holding an artifact.
    #[error("cannot read artifact `{reference}` from its OCI layout: {source}")]
    Layout {
        /// The reference as given.
        reference: String,
        /// Why.
        source: barbacane_evidence::oci::LayoutError,
    },
    /// A secret reference of the configuration cannot be resolved (or is malformed).
    #[error("{0}")]
    Secrets(#[from] crate::secrets::SecretErrors),
    /// The artifact is intact but an operation cannot be prepared.
    #[error("operation {method} {path} cannot be loaded: {reason}")]
    Operation {
        /// Method.
        method: String,
        /// Path template.
        path: String,
        /// Why.
        reason: String,
    },
}

impl LoadError {
    /// The documented process exit code for this failure at startup.
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadError::Read { .. } | LoadError::Layout { .. } | LoadError::Artifact(_) => {
                exit_code::ARTIFACT_INVALID
            }
            LoadError::Operation { .. } => exit_code::CONFIG_INVALID,
            LoadError::Signature { .. } => exit_code::SIGNATURE_REJECTED,
            LoadError::Secrets(_) => exit_code::SECRET_UNRESOLVED,
        }
    }
}

/// The bytes of the artifact `path` names: a `.bca` file, or `oci:DIR[:TAG]`, the artifact
/// of an OCI image layout (see `barbacane_evidence::oci`), every digest checked.
pub fn read_source(path: &Path) -> Result<Vec<u8>, LoadError> {
    let text = path.to_string_lossy();
    if let Some(reference) = text.strip_prefix("oci:") {
        let (dir, tag) = barbacane_evidence::oci::parse_reference(reference);
        return barbacane_evidence::oci::read_layout(&dir, tag.as_deref()).map_err(|source| {
            LoadError::Layout {
                reference: text.into_owned(),
                source,
            }
        });
    }
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// How artifacts are checked when loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Public keys whose signatures are trusted (`--trusted-key`).
    pub trusted_keys: Vec<PublicKey>,
    /// Refuse unsigned artifacts and artifacts whose signature does not verify.
    pub require_signature: bool,
    /// Bounds of each (plugin, configuration) pair's pool of instances
    /// (`--plugin-instances`, `--plugin-wait`).
    pub plugin_pool: barbacane_wasm::PoolOptions,
    /// Where plugins' quotas are kept (`--state`); the process's in-memory limiter when
    /// `None`. Either way it outlives snapshots, so counts survive reloads.
    pub rate_limiter: Option<std::sync::Arc<dyn barbacane_wasm::RateLimiter>>,
    /// Where plugins' cached responses are kept (`--state`, `--cache-memory`); the
    /// process's in-memory cache when `None`. It outlives snapshots; entries are keyed by
    /// the artifact's fingerprint, so a new artifact starts cold.
    pub response_cache: Option<std::sync::Arc<barbacane_wasm::SharedCache>>,
}

/// One route's runtime state.
#[derive(Debug)]
pub(crate) struct RouteEntry {
    pub(crate) validator: OperationValidator,
    pub(crate) dispatcher: Dispatcher,
    /// The middleware chain, each plugin bound to its configuration (`init` already proven).
    pub(crate) middlewares: Vec<barbacane_wasm::Prepared>,
    /// A middleware of the chain asked for whole request bodies (`core.buffer_bodies`).
    pub(crate) buffers_request: bool,
    /// `Deprecation`, `Sunset` and `Link` for a deprecated operation (empty otherwise).
    pub(crate) lifecycle: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Index of its counters in [`Snapshot::route_metrics`].
    pub(crate) metrics: usize,
    /// The spec that declared it (`barbacane.api` on spans).
    pub(crate) api: Box<str>,
    /// Its `operationId`.
    pub(crate) operation_id: Option<Box<str>>,
    /// `x-barbacane-observability.trace_sampling`: the ratio new traces are recorded at.
    pub(crate) trace_sampling: Option<f64>,
}

/// A loaded artifact: header, router, validators and dispatchers, swapped in as one unit.
#[derive(Debug)]
pub struct Snapshot {
    header: Header,
    /// Recomputed from the verified members (`Artifact::content_hash`).
    content_hash: String,
    pub(crate) router: Router<RouteEntry>,
    /// Each route's counters (`RouteEntry::metrics` indexes this).
    route_metrics: Vec<crate::metrics::RouteMetrics>,
    loaded_at: SystemTime,
    signature: SignatureStatus,
}

impl Snapshot {
    /// Reads, verifies and prepares the artifact at `path`.
    pub fn load_file(path: &Path, options: &LoadOptions) -> Result<Snapshot, LoadError> {
        Snapshot::from_bytes_with(&read_source(path)?, options)
    }

    /// Verifies and prepares an artifact held in memory, without signature requirements.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, LoadError> {
        Snapshot::from_bytes_with(bytes, &LoadOptions::default())
    }

    /// Verifies (checksums, then signature per `options`) and prepares an artifact.
    pub fn from_bytes_with(bytes: &[u8], options: &LoadOptions) -> Result<Snapshot, LoadError> {
        // The signature covers the header (member checksums included), so it is checked on the
        // header alone, before any per-member or per-input work: with --require-signature, a
        // hostile file costs one header parse and one signature check, nothing more.
        let signature = verify_header(
            &barbacane_artifact::read_header(bytes)?,
            &options.trusted_keys,
        );
        if options.require_signature && !matches!(signature, SignatureStatus::Verified { .. }) {
            let (status, reason) = match &signature {
                SignatureStatus::Invalid { reason, .. } => ("invalid", reason.clone()),
                _ => (
                    "unsigned",
                    "the artifact is not signed and --require-signature is set".to_owned(),
                ),
            };
            return Err(LoadError::Signature { status, reason });
        }
        let artifact = Artifact::from_bytes(bytes)?;
        match &signature {
            SignatureStatus::Verified { .. } | SignatureStatus::Unsigned => {}
            SignatureStatus::Invalid { reason, key_id } => {
                tracing::warn!(key_id = key_id.as_deref().unwrap_or("-"), reason = %reason, "artifact signature does not verify");
            }
        }
        let config: CompiledConfig = artifact.member_json(CONFIG_MEMBER)?;
        // Resolved before any plugin's `init` runs (they read secrets there), while the
        // modules compile.
        let references = crate::secrets::collect(&config);
        let resolving = std::thread::spawn(move || crate::secrets::resolve_all(references));
        let mut builder = RouterBuilder::new();
        let mut route_metrics = Vec::with_capacity(config.operations.len());
        let mut plugins = crate::plugins::PluginSet::new(
            &artifact,
            options.plugin_pool,
            options
                .rate_limiter
                .clone()
                .unwrap_or_else(barbacane_state::local),
            options
                .response_cache
                .clone()
                .unwrap_or_else(barbacane_state::local_cache),
            &config.policies,
        );
        let secrets = resolving.join().map_err(|_| {
            crate::secrets::SecretErrors(vec![crate::secrets::SecretError {
                reference: "-".into(),
                reason: "the resolving thread failed".into(),
            }])
        })??;
        if !secrets.is_empty() {
            tracing::info!(
                event = "secrets_resolved",
                count = secrets.len(),
                "secret references resolved"
            );
        }
        plugins.set_secrets(std::sync::Arc::new(secrets));
        // Every operation's schemas compiled at once (those reaching shared definitions in
        // one document), so big descriptions load in time and memory linear in their size.
        let mut schemas = barbacane_validator::SchemaCache::for_operations(
            &config.operations,
            &config.definitions,
        )
        .map_err(|e| {
            let culprit = config.operations.iter().find(|op| {
                OperationValidator::build_with_definitions(op, &config.definitions).is_err()
            });
            LoadError::Operation {
                method: culprit.map_or_else(|| "-".to_owned(), |op| op.method.clone()),
                path: culprit.map_or_else(|| "-".to_owned(), |op| op.path.clone()),
                reason: format!("{}: {}", e.location, e.message),
            }
        })?;
        for op in &config.operations {
            let fail = |reason: String| LoadError::Operation {
                method: op.method.clone(),
                path: op.path.clone(),
                reason,
            };
            let method = Method::from_bytes(op.method.as_bytes())
                .ok_or_else(|| fail("unknown method".into()))?;
            let mut entry =
                prepare(op, &config.definitions, &mut schemas, &mut plugins).map_err(fail)?;
            entry.metrics = route_metrics.len();
            route_metrics.push(
                crate::metrics::RouteMetrics::new(&op.method, &op.path)
                    .deprecated(op.deprecated)
                    .slo(
                        op.observability
                            .latency_slo_ms
                            .map(std::time::Duration::from_millis),
                    )
                    .detailed_validation_logs(op.observability.detailed_validation_logs),
            );
            builder
                .insert(&op.path, method, entry)
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(Snapshot {
            header: artifact.header().clone(),
            content_hash: artifact.content_hash().to_owned(),
            router: builder.build(),
            route_metrics,
            loaded_at: SystemTime::now(),
            signature,
        })
    }

    /// No artifact yet: a connected node started without `--artifact` serves this (no
    /// routes; its traffic listener stays closed) until a deployment is applied. Its header
    /// is blank: `artifact_hash` is empty.
    pub fn placeholder() -> Snapshot {
        Snapshot {
            header: Header {
                format_version: 0,
                artifact_hash: String::new(),
                build_timestamp: String::new(),
                compiler_version: String::new(),
                inputs: Vec::new(),
                provenance_commit: None,
                provenance_source: None,
                metadata: Default::default(),
                members: Vec::new(),
                content_hash: None,
                signature: None,
            },
            content_hash: String::new(),
            router: RouterBuilder::new().build(),
            route_metrics: Vec::new(),
            loaded_at: SystemTime::now(),
            signature: SignatureStatus::Unsigned,
        }
    }

    /// Each route's counters.
    pub fn route_metrics(&self) -> &[crate::metrics::RouteMetrics] {
        &self.route_metrics
    }

    /// Whether this is the [`Snapshot::placeholder`] (nothing loaded yet).
    pub fn is_placeholder(&self) -> bool {
        self.header.artifact_hash.is_empty()
    }

    /// The content hash of the loaded members, as computed at load (never the stored one).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The artifact's provenance header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// When this snapshot was built.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// The signature verification result.
    pub fn signature(&self) -> &SignatureStatus {
        &self.signature
    }

    /// Number of routes.
    pub fn route_count(&self) -> usize {
        self.router.len()
    }
}

fn prepare(
    op: &Operation,
    definitions: &std::collections::BTreeMap<String, serde_json::Value>,
    schemas: &mut barbacane_validator::SchemaCache,
    plugins: &mut crate::plugins::PluginSet<'_>,
) -> Result<RouteEntry, String> {
    let middlewares = op
        .middlewares
        .iter()
        .map(|m| plugins.middleware(&m.name, &m.config))
        .collect::<Result<Vec<_>, _>>()?;
    let buffers_request = middlewares.iter().any(|m| m.body_needs().request);
    Ok(RouteEntry {
        buffers_request,
        lifecycle: lifecycle_fields(op),
        validator: OperationValidator::build_cached(op, definitions, schemas)
            .map_err(|e| e.to_string())?,
        dispatcher: match op
            .event
            .as_ref()
            .filter(|e| e.action == barbacane_artifact::EventAction::Receive)
            .and_then(|e| {
                crate::dispatch::stream::EventStream::build(
                    &op.dispatch.name,
                    &op.dispatch.config,
                    e,
                    definitions,
                )
            }) {
            Some(stream) => Dispatcher::Stream(Box::new(stream?)),
            None => Dispatcher::build(&op.dispatch.name, &op.dispatch.config, plugins)?,
        },
        middlewares,
        metrics: 0,
        api: op.spec.as_str().into(),
        operation_id: op.operation_id.as_deref().map(Into::into),
        trace_sampling: op.observability.trace_sampling,
    })
}

/// The API lifecycle fields of an operation's responses (seed 002 M10): `Deprecation`
/// (RFC 9745, a Structured Field date), `Sunset` (RFC 8594, an HTTP-date) and the policy
/// `Link` (`rel="deprecation"` and `rel="sunset"`). Built once per snapshot.
fn lifecycle_fields(op: &Operation) -> Vec<(http::HeaderName, http::HeaderValue)> {
    let mut out = Vec::new();
    if !op.deprecated {
        return out;
    }
    let mut push = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            out.push((http::HeaderName::from_static(name), v));
        }
    };
    push(
        "deprecation",
        format!("@{}", op.deprecated_since.unwrap_or(0)),
    );
    if let Some(sunset) = op.sunset {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(sunset);
        push("sunset", httpdate::fmt_http_date(at));
    }
    if let Some(link) = &op.sunset_link {
        push(
            "link",
            format!("<{link}>; rel=\"deprecation\", <{link}>; rel=\"sunset\""),
        );
    }
    out
}
