//! The project manifest, `barbacane.yaml`:
//!
//! ```yaml
//! plugins:
//!   my-auth:
//!     path: plugins/my-auth.wasm
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use barbacane_spec::source::parse;
use barbacane_spec::{Code, Diagnostic, FileSystem};

/// The parsed manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugins by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginEntry>,
}

/// One plugin the project uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// The plugin directory, its `plugin.toml` or its `.wasm`, relative to the manifest.
    pub path: PathBuf,
}

/// A loaded manifest with its plugin binaries.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadedManifest {
    pub(crate) bytes: Vec<u8>,
    pub(crate) canonical: Option<PathBuf>,
    pub(crate) plugins: BTreeMap<String, crate::plugins::PluginSource>,
}

pub(crate) fn load(fs: &dyn FileSystem, path: &Path) -> Result<LoadedManifest, Vec<Diagnostic>> {
    let display = path.display().to_string();
    let err = |pointer: &str, message: String, hint: &str| {
        vec![Diagnostic::error(
            Code::E1015,
            &display,
            pointer,
            message,
            hint,
        )]
    };
    let canonical = fs.canonicalize(path).map_err(|e| {
        err(
            "",
            format!("cannot read manifest: {e}"),
            "check the --manifest path",
        )
    })?;
    let bytes = fs.read(&canonical).map_err(|e| {
        err(
            "",
            format!("cannot read manifest: {e}"),
            "check the --manifest path",
        )
    })?;
    let value = parse(&display, &canonical, &bytes).map_err(|mut d| {
        d.code = Code::E1015;
        vec![d]
    })?;
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| {
        err(
            "",
            format!("manifest is malformed: {e}"),
            "write `plugins: {NAME: {path: FILE.wasm}}`",
        )
    })?;
    let dir = canonical
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut plugins = BTreeMap::new();
    let mut diagnostics = Vec::new();
    for (name, entry) in manifest.plugins {
        match crate::plugins::load(fs, &display, &name, &dir.join(&entry.path)) {
            Ok(plugin) => {
                plugins.insert(name, plugin);
            }
            Err(d) => diagnostics.push(d),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    Ok(LoadedManifest {
        bytes,
        canonical: Some(canonical),
        plugins,
    })
}
