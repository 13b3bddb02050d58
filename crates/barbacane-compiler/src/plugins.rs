//! Plugins declared in `barbacane.yaml`: their `plugin.toml`, WASM binary and
//! `config-schema.json`, checked once per compilation.
//!
//! An entry's `path` may name the plugin directory, its `plugin.toml`, or its `.wasm` (then
//! `plugin.toml` must sit next to it).

use barbacane_plugin_abi::{Capability, PluginManifest};
use barbacane_spec::{Code, Diagnostic, FileSystem};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One loaded plugin.
#[derive(Debug, Clone)]
pub(crate) struct PluginSource {
    pub(crate) manifest: PluginManifest,
    /// `plugin.toml` bytes.
    pub(crate) toml: Vec<u8>,
    pub(crate) wasm: Vec<u8>,
    pub(crate) schema: Option<Value>,
    /// `config-schema.json` as read (bundled byte for byte, so it matches its input hash).
    pub(crate) schema_raw: Option<Vec<u8>>,
    /// Every file read (canonical path, bytes): inputs of the artifact. For official
    /// plugins the paths are logical already (`official/<name>/<file>`).
    pub(crate) files: Vec<(PathBuf, Vec<u8>)>,
    /// An official plugin embedded in the compiler (not from `barbacane.yaml`).
    pub(crate) official: bool,
}

/// An official plugin, as if it had been declared: same checks, inputs named
/// `official/<name>/<file>` so the fingerprint does not depend on where the compiler is.
pub(crate) fn official(
    bundle: &barbacane_plugins::Bundle,
    file: &str,
    pointer: &str,
) -> Result<PluginSource, Diagnostic> {
    let fail = |message: String| {
        Diagnostic::error(
            Code::E1015,
            file,
            pointer,
            format!("official plugin `{}`: {message}", bundle.name),
            "this is a bug in the gateway build; report it",
        )
    };
    let manifest = PluginManifest::parse(bundle.manifest).map_err(|e| fail(e.to_string()))?;
    check_imports(bundle.name, &manifest, bundle.wasm).map_err(|(_, m, _)| fail(m))?;
    let schema = bundle
        .schema
        .map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| fail(format!("config-schema.json is not JSON: {e}")))?;
    let dir = Path::new("official").join(bundle.name);
    let mut files = vec![
        (dir.join("plugin.toml"), bundle.manifest.as_bytes().to_vec()),
        (dir.join(bundle.wasm_file), bundle.wasm.to_vec()),
    ];
    if let Some(raw) = bundle.schema {
        files.push((dir.join("config-schema.json"), raw.as_bytes().to_vec()));
    }
    Ok(PluginSource {
        manifest,
        toml: bundle.manifest.as_bytes().to_vec(),
        wasm: bundle.wasm.to_vec(),
        schema,
        schema_raw: bundle.schema.map(|s| s.as_bytes().to_vec()),
        files,
        official: true,
    })
}

pub(crate) fn load(
    fs: &dyn FileSystem,
    manifest_file: &str,
    name: &str,
    entry: &Path,
) -> Result<PluginSource, Diagnostic> {
    let pointer = format!("/plugins/{name}/path");
    let fail = |code: Code, message: String, hint: &str| {
        Diagnostic::error(code, manifest_file, &pointer, message, hint)
    };
    let canonical = fs.canonicalize(entry).map_err(|e| {
        fail(
            Code::E1015,
            format!("plugin `{name}`: cannot read `{}`: {e}", entry.display()),
            "point `path` at the plugin directory, its plugin.toml or its .wasm",
        )
    })?;
    let is_file = |p: &Path, ext: &str| p.extension().is_some_and(|e| e == ext);
    let dir = if is_file(&canonical, "wasm") || is_file(&canonical, "toml") {
        canonical
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    } else {
        canonical.clone()
    };
    let read = |p: PathBuf| fs.canonicalize(&p).and_then(|c| Ok((fs.read(&c)?, c)));
    let (toml, toml_path) = read(dir.join("plugin.toml")).map_err(|e| {
        fail(
            Code::E1015,
            format!(
                "plugin `{name}`: no readable plugin.toml in `{}`: {e}",
                dir.display()
            ),
            "every plugin ships a plugin.toml (name, version, type, capabilities, wasm)",
        )
    })?;
    let text = String::from_utf8_lossy(&toml);
    let manifest = PluginManifest::parse(&text).map_err(|e| {
        fail(
            Code::E1015,
            format!("plugin `{name}`: {e}"),
            "fix plugin.toml",
        )
    })?;
    if manifest.name != name {
        return Err(fail(
            Code::E1015,
            format!(
                "plugin declared as `{name}` is named `{}` in its plugin.toml",
                manifest.name
            ),
            "use the plugin's own name as its key in barbacane.yaml",
        ));
    }
    let (wasm, wasm_path) = read(dir.join(&manifest.wasm)).map_err(|e| {
        fail(
            Code::E1015,
            format!("plugin `{name}`: cannot read `{}`: {e}", manifest.wasm),
            "build the plugin, or fix `wasm` in plugin.toml",
        )
    })?;
    check_imports(name, &manifest, &wasm)
        .map_err(|(code, message, hint)| fail(code, message, hint))?;
    let mut files = vec![(toml_path, toml.clone()), (wasm_path, wasm.clone())];
    let (schema, schema_raw) = match read(dir.join("config-schema.json")) {
        Ok((bytes, path)) => {
            let schema: Value = serde_json::from_slice(&bytes).map_err(|e| {
                fail(
                    Code::E1015,
                    format!("plugin `{name}`: config-schema.json is not JSON: {e}"),
                    "fix config-schema.json",
                )
            })?;
            files.push((path, bytes.clone()));
            (Some(schema), Some(bytes))
        }
        Err(_) => (None, None),
    };
    Ok(PluginSource {
        manifest,
        toml,
        wasm,
        schema,
        schema_raw,
        files,
        official: false,
    })
}

/// Every import must be a host function of a declared capability (E1024).
fn check_imports(
    name: &str,
    manifest: &PluginManifest,
    wasm: &[u8],
) -> Result<(), (Code, String, &'static str)> {
    let imports = imports(wasm).map_err(|e| {
        (
            Code::E1015,
            format!("plugin `{name}`: not a valid WASM module: {e}"),
            "rebuild the plugin for wasm32-unknown-unknown",
        )
    })?;
    for (module, function) in imports {
        let capability = Capability::from_module(&module);
        if let Some(c) = capability.filter(|c| manifest.allows(*c))
            && !c.functions().contains(&function.as_str())
        {
            return Err((
                Code::E1024,
                format!(
                    "plugin `{name}` imports `{module}.{function}`, which the host does not provide (module `{module}` has: {})",
                    c.functions().join(", ")
                ),
                "rebuild the plugin against this gateway's ABI (docs/plugin-abi.md)",
            ));
        }
        if !capability.is_some_and(|c| manifest.allows(c)) {
            return Err((
                Code::E1024,
                format!(
                    "plugin `{name}` imports `{module}.{function}`, which its declared capabilities do not allow"
                ),
                "declare the capability in plugin.toml, or remove the import",
            ));
        }
    }
    Ok(())
}

/// `(module, name)` of every import.
fn imports(wasm: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(section) = payload.map_err(|e| e.to_string())? {
            for import in section.into_imports() {
                let import = import.map_err(|e| e.to_string())?;
                out.push((import.module.to_owned(), import.name.to_owned()));
            }
        }
    }
    Ok(out)
}
