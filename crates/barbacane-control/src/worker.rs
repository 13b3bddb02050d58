//! The compile worker pool: `N` tasks that claim pending compilations (`FOR UPDATE SKIP
//! LOCKED`), compile on a blocking thread, store the artifact, and record the outcome.
//!
//! Claims are leases (owner = this process's instance id), renewed every third of the lease
//! while compiling, so that any number of control planes can share one database: only a
//! lease that expired (its owner crashed or hung) is requeued, by whichever process notices
//! first ([`crate::db::compilations::recover`], run at start and every half lease), and an
//! outcome is written only by the lease's current owner (a late one is discarded, its
//! artifact bytes deleted: no orphans). When the database fails while recording an outcome,
//! the worker retries until it succeeds, its lease is gone, or the server stops.

use barbacane_artifact::sha256_hex;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::compile::{self, Job, SourceFile};
use crate::db::artifacts::{self, BuiltFrom, NewArtifact};
use crate::db::compilations::{self, Compilation};
use crate::db::specs;
use crate::error::is_unavailable;
use crate::plugin::resolve::resolve;
use crate::storage::{ArtifactStore, StoreError};

/// How long an idle worker sleeps between polls when nobody wakes it (covers compilations
/// queued by another process).
const POLL: Duration = Duration::from_secs(1);
/// First delay after a database error (doubles up to [`MAX_BACKOFF`]).
const BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the workers need.
#[derive(Debug, Clone)]
pub struct Workers {
    /// The database.
    pub pool: PgPool,
    /// Where artifact bytes go.
    pub store: Arc<dyn ArtifactStore>,
    /// Notified when a compilation is queued.
    pub wake: Arc<Notify>,
    /// This process's identity as a lease owner.
    pub owner: Uuid,
    /// How long a claim holds without renewal.
    pub lease: Duration,
    /// Signs artifacts and their provenance attestations (`--signing-key`); unsigned
    /// artifacts and unsigned attestation envelopes without it.
    pub signing_key: Option<Arc<barbacane_artifact::PrivateKey>>,
}

/// Default compile lease.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

impl Workers {
    /// Starts `count` workers (at least one); they stop when `shutdown` turns true.
    pub fn spawn(&self, count: usize, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = (0..count.max(1))
            .map(|n| {
                let this = self.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move { this.run(n, shutdown).await })
            })
            .collect();
        let this = self.clone();
        tasks.push(tokio::spawn(async move { this.reap(shutdown).await }));
        tasks
    }

    /// Requeues compilations whose lease expired, every half lease.
    async fn reap(self, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.lease / 2);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*shutdown.borrow() {
            tokio::select! {
                _ = ticker.tick() => {
                    match compilations::recover(&self.pool).await {
                        Ok((0, 0)) => {}
                        Ok((requeued, failed)) => {
                            tracing::warn!(requeued, failed, "compilations whose lease expired were recovered");
                            self.wake.notify_waiters();
                        }
                        Err(e) => tracing::debug!(error = %e, "lease recovery failed; retrying"),
                    }
                    match compilations::sweep_orphan_blobs(&self.pool, self.lease * 4).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(blobs = n, "orphan artifact bytes deleted"),
                        Err(e) => tracing::debug!(error = %e, "orphan sweep failed; retrying"),
                    }
                }
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn run(self, n: usize, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = BACKOFF;
        while !*shutdown.borrow() {
            // Register interest before looking, so a wake-up between the claim and the wait
            // is not lost.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = match compilations::claim(&self.pool, self.owner, self.lease).await {
                Ok(Some(c)) => {
                    backoff = BACKOFF;
                    tracing::info!(worker = n, compilation = %c.id, "compiling");
                    self.process(c, &shutdown).await;
                    continue;
                }
                Ok(None) => POLL,
                Err(e) => {
                    tracing::warn!(worker = n, error = %e, "cannot claim a compilation");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    backoff
                }
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn process(&self, c: Compilation, shutdown: &watch::Receiver<bool>) {
        // Keep the lease while compiling (and recording).
        let renewal = {
            let (pool, owner, lease, id) = (self.pool.clone(), self.owner, self.lease, c.id);
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(lease / 3);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    match compilations::renew(&pool, id, owner, lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(compilation = %id, "compile lease lost; its outcome will be discarded");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(compilation = %id, error = %e, "cannot renew the compile lease")
                        }
                    }
                }
            })
        };
        let started = std::time::Instant::now();
        let (outcome, plugins) = self.build(&c, shutdown).await;
        crate::telemetry::compile_finished(outcome.is_ok(), started.elapsed());
        self.finish(&c, outcome, plugins, shutdown).await;
        renewal.abort();
    }

    /// Records the outcome, retrying through database outages; only while the lease is ours.
    async fn finish(
        &self,
        c: &Compilation,
        outcome: Result<Built, Value>,
        plugins: Value,
        shutdown: &watch::Receiver<bool>,
    ) {
        let mut backoff = BACKOFF;
        loop {
            let result = match &outcome {
                Ok(built) => self.record(c, built, &plugins).await,
                Err(diagnostics) => {
                    compilations::fail(&self.pool, c.id, self.owner, diagnostics, &plugins)
                        .await
                        .map_err(RecordError::from)
                        .and_then(|owned| {
                            if owned {
                                Ok(())
                            } else {
                                Err(RecordError::LeaseLost)
                            }
                        })
                }
            };
            match result {
                Ok(()) => return,
                Err(RecordError::LeaseLost) => {
                    tracing::warn!(compilation = %c.id, "the compile lease expired before the outcome was recorded; another process owns it now, this result is discarded");
                    if let Ok(built) = &outcome
                        && let Err(e) = self.store.delete(built.id).await
                    {
                        tracing::warn!(artifact = %built.id, error = ?e, "cannot delete the discarded artifact's bytes");
                    }
                    return;
                }
                Err(e) if !e.is_transient() => {
                    tracing::error!(compilation = %c.id, error = %e, "cannot record a compilation");
                    let reason = failure("internal-error", &format!("cannot record: {e}"));
                    if let Err(e) =
                        compilations::fail(&self.pool, c.id, self.owner, &reason, &plugins).await
                    {
                        tracing::error!(compilation = %c.id, error = %e, "cannot mark it failed");
                    }
                    return;
                }
                Err(e) if *shutdown.borrow() => {
                    tracing::warn!(compilation = %c.id, error = %e, "stopping with a compilation unrecorded; it is requeued at next start");
                    return;
                }
                Err(e) => {
                    tracing::warn!(compilation = %c.id, error = %e, "cannot record a compilation; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Loads the inputs and compiles; `Err` holds the diagnostics to record. Also returns the
    /// registry plugin versions used, `{"<name>": "<version>"}`.
    async fn build(
        &self,
        c: &Compilation,
        shutdown: &watch::Receiver<bool>,
    ) -> (Result<Built, Value>, Value) {
        let inputs = loop {
            match load(&self.pool, c).await {
                Ok(inputs) => break inputs,
                Err(LoadError::Missing(reason)) => {
                    return (Err(failure("missing-input", &reason)), json!({}));
                }
                Err(LoadError::Crashed(reason)) => {
                    return (Err(failure("compiler-crashed", &reason)), json!({}));
                }
                Err(LoadError::Db(e)) if is_unavailable(&e) && !*shutdown.borrow() => {
                    tracing::warn!(compilation = %c.id, error = %e, "cannot load inputs; retrying");
                    tokio::time::sleep(MAX_BACKOFF).await;
                }
                Err(LoadError::Db(e)) => {
                    let reason = format!("cannot load inputs: {e}");
                    return (Err(failure("internal-error", &reason)), json!({}));
                }
            }
        };
        let plugins: serde_json::Map<String, Value> = inputs
            .job
            .plugins
            .iter()
            .map(|p| (p.name.clone(), Value::String(p.version.clone())))
            .collect();
        let mut inputs = inputs;
        inputs.job.signing_key = self.signing_key.as_deref().cloned();
        let external = json!({
            "project_id": c.project_id,
            "compilation_id": c.id,
            "spec_revisions": inputs.built_from,
            "plugins": plugins,
        });
        (
            run_compiler(inputs, c.id, external).await,
            Value::Object(plugins),
        )
    }

    async fn record(
        &self,
        c: &Compilation,
        built: &Built,
        plugins: &Value,
    ) -> Result<(), RecordError> {
        self.store.put(built.id, &built.artifact).await?;
        let artifact = NewArtifact {
            id: built.id,
            project_id: c.project_id,
            artifact_hash: built.artifact_hash.clone(),
            sha256: sha256_hex(&built.artifact),
            size: i64::try_from(built.artifact.len()).unwrap_or(i64::MAX),
            compiler_version: built.compiler_version.clone(),
            header: built.header.clone(),
            built_from: built.built_from.clone(),
            sbom: built.sbom.clone(),
            attestation: built.attestation.clone(),
        };
        if artifacts::record_build(
            &self.pool,
            &artifact,
            c.id,
            self.owner,
            &built.warnings,
            plugins,
        )
        .await?
        {
            Ok(())
        } else {
            Err(RecordError::LeaseLost)
        }
    }
}

/// Runs the compiler on a blocking thread, then derives the build's evidence there too: the
/// SBOM and the provenance attestation (signed with the artifact's key when there is one).
async fn run_compiler(inputs: Inputs, compilation: Uuid, external: Value) -> Result<Built, Value> {
    let job = inputs.job;
    let result = tokio::task::spawn_blocking(move || {
        let started = Utc::now();
        let out = compile::run(&job)?;
        let finished = Utc::now();
        let id = Uuid::new_v4();
        let name = format!("{id}.bca");
        let sha = sha256_hex(&out.artifact);
        let sbom = barbacane_artifact::Artifact::from_bytes(&out.artifact)
            .map(|a| barbacane_evidence::sbom::sbom(&a, &name, &sha))
            .map(|doc| serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .unwrap_or_default();
        let (started, finished) = (rfc3339(started), rfc3339(finished));
        let attestation = barbacane_evidence::attestation::envelope(
            &barbacane_evidence::attestation::Build {
                subject_name: &name,
                subject_sha256: &sha,
                header: &out.header,
                external_parameters: external,
                builder_id: barbacane_evidence::attestation::CONTROL_PLANE_BUILDER,
                started_on: &started,
                finished_on: &finished,
                invocation_id: Some(compilation.to_string()),
            },
            job.signing_key.as_ref(),
        );
        Ok((id, out, sbom, attestation))
    })
    .await;
    match result {
        Ok(Ok((id, out, sbom, attestation))) => Ok(Built {
            id,
            artifact: out.artifact,
            header: serde_json::to_value(&out.header).unwrap_or(Value::Null),
            artifact_hash: out.header.artifact_hash,
            compiler_version: out.header.compiler_version,
            warnings: serde_json::to_value(&out.warnings).unwrap_or(json!([])),
            built_from: inputs.built_from,
            sbom,
            attestation,
        }),
        Ok(Err(diagnostics)) => Err(serde_json::to_value(
            &diagnostics as &Vec<barbacane_compiler::Diagnostic>,
        )
        .unwrap_or(json!([]))),
        Err(e) => Err(failure(
            "compiler-crashed",
            &format!("the compiler panicked: {e}"),
        )),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why an outcome could not be recorded (retried while transient).
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the compile lease is no longer ours")]
    LeaseLost,
}

impl RecordError {
    /// Whether waiting may help (the store or the database is unreachable).
    fn is_transient(&self) -> bool {
        match self {
            RecordError::Store(e) => matches!(e, StoreError::Unavailable(_)),
            RecordError::Db(e) => is_unavailable(e),
            RecordError::LeaseLost => false,
        }
    }
}

/// A successful build waiting to be stored.
struct Built {
    id: Uuid,
    artifact: Vec<u8>,
    header: Value,
    artifact_hash: String,
    compiler_version: String,
    warnings: Value,
    built_from: Vec<BuiltFrom>,
    sbom: Vec<u8>,
    attestation: Vec<u8>,
}

fn failure(code: &str, message: &str) -> Value {
    json!([{ "severity": "error", "code": code, "message": message }])
}

enum LoadError {
    Missing(String),
    Crashed(String),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for LoadError {
    fn from(e: sqlx::Error) -> Self {
        LoadError::Db(e)
    }
}

struct Inputs {
    job: Job,
    built_from: Vec<BuiltFrom>,
}

/// The pinned revisions' files, the registry plugins they reference (the versions chosen now,
/// recorded as `plugin/<name>` = `<version>` metadata), the build time (the newest revision's
/// creation second, so a recompilation of the same revisions with the same plugins gives a
/// byte-identical artifact) and the provenance.
async fn load(pool: &PgPool, c: &Compilation) -> Result<Inputs, LoadError> {
    let revisions = specs::revisions(pool, &c.revision_ids).await?;
    if revisions.len() != c.revision_ids.len() {
        return Err(LoadError::Missing(
            "a spec revision to compile no longer exists (its spec was deleted)".into(),
        ));
    }
    let files: Vec<SourceFile> = specs::files(pool, &c.revision_ids)
        .await?
        .into_iter()
        .map(|f| SourceFile {
            path: f.path,
            is_root: f.is_root,
            content: f.content,
        })
        .collect();
    let (files, used) = tokio::task::spawn_blocking(move || {
        let used = compile::references(&files);
        (files, used)
    })
    .await
    .map_err(|e| LoadError::Crashed(format!("reading the plugin references panicked: {e}")))?;
    let plugins = resolve(pool, &used).await?;
    let build_time: Option<DateTime<Utc>> = revisions.iter().map(|r| r.created_at).max();
    let mut metadata = BTreeMap::new();
    for r in &revisions {
        metadata.insert(format!("spec-revision/{}", r.spec_id), r.id.to_string());
    }
    for p in &plugins {
        metadata.insert(format!("plugin/{}", p.name), p.version.clone());
    }
    let provenance_source = match (c.spec_id, revisions.as_slice()) {
        (Some(spec), [only]) => format!("barbacane-control:spec/{spec}@{}", only.revision),
        _ => format!("barbacane-control:project/{}", c.project_id),
    };
    Ok(Inputs {
        job: Job {
            files,
            plugins,
            build_time: build_time.map_or(0, |t| u64::try_from(t.timestamp()).unwrap_or(0)),
            provenance_source: Some(provenance_source),
            metadata,
            signing_key: None,
        },
        built_from: revisions
            .iter()
            .map(|r| BuiltFrom {
                spec_id: r.spec_id,
                revision_id: r.id,
                revision: r.revision,
            })
            .collect(),
    })
}
