//! Everything one artifact needs at run time, built once, off the request path.

use barbacane_artifact::{
    Artifact, ArtifactError, CONFIG_MEMBER, CompiledConfig, Header, Operation,
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
            LoadError::Read { .. } | LoadError::Artifact(_) => exit_code::ARTIFACT_INVALID,
            LoadError::Operation { .. } => exit_code::CONFIG_INVALID,
        }
    }
}

/// One route's runtime state.
#[derive(Debug)]
pub(crate) struct RouteEntry {
    pub(crate) validator: OperationValidator,
    pub(crate) dispatcher: Dispatcher,
}

/// A loaded artifact: header, router, validators and dispatchers, swapped in as one unit.
#[derive(Debug)]
pub struct Snapshot {
    header: Header,
    pub(crate) router: Router<RouteEntry>,
    loaded_at: SystemTime,
}

impl Snapshot {
    /// Reads, verifies and prepares the artifact at `path`.
    pub fn load_file(path: &Path) -> Result<Snapshot, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Snapshot::from_bytes(&bytes)
    }

    /// Verifies and prepares an artifact held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, LoadError> {
        let artifact = Artifact::from_bytes(bytes)?;
        let config: CompiledConfig = artifact.member_json(CONFIG_MEMBER)?;
        let mut builder = RouterBuilder::new();
        for op in &config.operations {
            let fail = |reason: String| LoadError::Operation {
                method: op.method.clone(),
                path: op.path.clone(),
                reason,
            };
            let method = Method::from_bytes(op.method.as_bytes())
                .ok_or_else(|| fail("unknown method".into()))?;
            let entry = prepare(op).map_err(fail)?;
            builder
                .insert(&op.path, method, entry)
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(Snapshot {
            header: artifact.header().clone(),
            router: builder.build(),
            loaded_at: SystemTime::now(),
        })
    }

    /// The artifact's provenance header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// When this snapshot was built.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// Number of routes.
    pub fn route_count(&self) -> usize {
        self.router.len()
    }
}

fn prepare(op: &Operation) -> Result<RouteEntry, String> {
    if let Some(m) = op.middlewares.first() {
        return Err(format!(
            "middleware `{}` needs the WASM plugin runtime, which this data plane does not have yet",
            m.name
        ));
    }
    Ok(RouteEntry {
        validator: OperationValidator::build(op).map_err(|e| e.to_string())?,
        dispatcher: Dispatcher::build(&op.dispatch.name, &op.dispatch.config)?,
    })
}
