//! Hot reload: load a new artifact completely, off the request path, then swap it in as one
//! snapshot. A failed load changes nothing but `last_error`.

use barbacane_artifact::rfc3339;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Gateway, LoadOptions, Snapshot};

/// Where the served artifact comes from, and how it is checked.
#[derive(Debug, Clone)]
pub struct ArtifactSource {
    /// The artifact file, re-read on every reload.
    pub path: PathBuf,
    /// Signature requirements.
    pub options: LoadOptions,
}

/// The last reload that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadFailure {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Why.
    pub error: String,
}

/// The result of a successful reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadOutcome {
    /// Hash of the artifact now serving.
    pub artifact_hash: String,
    /// Whether its header (hash, provenance, signature, checksums) differs from the one
    /// served before.
    pub changed: bool,
}

/// Builds the next snapshot (blocking work: read, verify, compile plugins).
pub type Loader = Arc<dyn Fn() -> Result<Snapshot, String> + Send + Sync>;

/// Reloads the gateway's snapshot from its artifact source. Reloads are serialized.
pub struct Reloader {
    gateway: Arc<Gateway>,
    load: Loader,
    last_error: Mutex<Option<ReloadFailure>>,
    serial: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader for `gateway`, reading `source`.
    pub fn new(gateway: Arc<Gateway>, source: ArtifactSource) -> Arc<Reloader> {
        let load: Loader = Arc::new(move || {
            Snapshot::load_file(&source.path, &source.options).map_err(|e| e.to_string())
        });
        Reloader::with_loader(gateway, load)
    }

    /// A reloader for `gateway` whose snapshots come from `load` (`barbacane dev` compiles
    /// the specs there).
    pub fn with_loader(gateway: Arc<Gateway>, load: Loader) -> Arc<Reloader> {
        Arc::new(Reloader {
            gateway,
            load,
            last_error: Mutex::new(None),
            serial: tokio::sync::Mutex::new(()),
        })
    }

    /// The gateway being reloaded.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Loads the artifact again (verify, build router, validators, dispatchers) on a blocking
    /// thread, then swaps it in. On failure the current snapshot keeps serving and the error
    /// is recorded for `/_admin/provenance`.
    pub async fn reload(&self) -> Result<ReloadOutcome, String> {
        let _one_at_a_time = self.serial.lock().await;
        let load = Arc::clone(&self.load);
        let loaded = tokio::task::spawn_blocking(move || load())
            .await
            .map_err(|e| format!("reload task failed: {e}"))
            .and_then(|r| r);
        match loaded {
            Ok(snapshot) => {
                let changed = self.gateway.snapshot().header() != snapshot.header();
                let artifact_hash = snapshot.header().artifact_hash.clone();
                self.gateway.swap(snapshot);
                self.gateway.metrics().reloads[0]
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Ok(mut last) = self.last_error.lock() {
                    *last = None;
                }
                tracing::info!(event = "artifact_loaded", %artifact_hash, changed, "artifact reloaded");
                Ok(ReloadOutcome {
                    artifact_hash,
                    changed,
                })
            }
            Err(error) => {
                tracing::error!(%error, "reload rejected; the current artifact keeps serving");
                self.gateway.metrics().reloads[1]
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(ReloadFailure {
                        at: rfc3339(now),
                        error: error.clone(),
                    });
                }
                Err(error)
            }
        }
    }

    /// The last failed reload since the last successful one.
    pub fn last_error(&self) -> Option<ReloadFailure> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("last_error", &self.last_error())
            .finish()
    }
}
