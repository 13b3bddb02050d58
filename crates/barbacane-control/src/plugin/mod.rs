//! The plugin registry's checks: a package is `plugin.toml` + a `.wasm` + `config-schema.json`,
//! judged by the same contract the data plane enforces (`barbacane-plugin-abi`), with every
//! problem reported at once.

pub mod resolve;
pub mod wasm;

use barbacane_artifact::sha256_hex;
use barbacane_plugin_abi::PluginManifest;
use barbacane_spec::source::parse;
use serde_json::Value;
use std::path::Path;

use crate::compile::{MANIFEST_PATH, is_built_in, manifest_text};

/// A package as uploaded.
#[derive(Debug, Clone, Default)]
pub struct Package {
    /// `plugin.toml` text.
    pub manifest: Option<Vec<u8>>,
    /// The `.wasm` file name, if the upload named it.
    pub wasm_name: Option<String>,
    /// The module.
    pub wasm: Option<Vec<u8>>,
    /// `config-schema.json`.
    pub schema: Option<Vec<u8>>,
}

/// A package that passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The parsed manifest.
    pub manifest: PluginManifest,
    /// The manifest text.
    pub manifest_text: String,
    /// The configuration schema.
    pub schema: Value,
    /// `config-schema.json` as uploaded.
    pub schema_raw: Vec<u8>,
    /// The module.
    pub wasm: Vec<u8>,
    /// Its SHA-256.
    pub wasm_sha256: String,
}

/// Longest plugin name the registry accepts.
const MAX_NAME: usize = 64;

/// Checks everything; `Err` lists every problem.
pub fn check(package: Package) -> Result<Checked, Vec<String>> {
    let mut errors = Vec::new();
    let manifest = match &package.manifest {
        None => {
            errors.push("missing part: plugin.toml".to_owned());
            None
        }
        Some(bytes) => match parse_manifest(bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let schema = match &package.schema {
        None => {
            errors.push("missing part: config-schema.json".to_owned());
            None
        }
        Some(bytes) => match check_schema(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    match (&package.wasm, &manifest) {
        (None, _) => errors.push("missing part: the .wasm module".to_owned()),
        (Some(bytes), Some(m)) => {
            let expected = m.wasm.rsplit('/').next().unwrap_or(&m.wasm);
            if let Some(name) = &package.wasm_name
                && name != expected
            {
                errors.push(format!(
                    "plugin.toml names the module `{}` but `{name}` was uploaded",
                    m.wasm
                ));
            }
            errors.extend(wasm::check(bytes, m));
        }
        (Some(_), None) => {}
    }
    match (
        manifest,
        schema,
        package.wasm,
        package.manifest,
        package.schema,
    ) {
        (Some(manifest), Some(schema), Some(wasm), Some(text), Some(schema_raw))
            if errors.is_empty() =>
        {
            Ok(Checked {
                manifest,
                manifest_text: String::from_utf8_lossy(&text).into_owned(),
                schema,
                schema_raw,
                wasm_sha256: sha256_hex(&wasm),
                wasm,
            })
        }
        _ => Err(errors),
    }
}

/// The ABI's `plugin.toml` rules, plus the registry's: a name of at most 64 characters that
/// starts with a letter and is not a built-in plugin's.
fn parse_manifest(bytes: &[u8]) -> Result<PluginManifest, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "plugin.toml is not UTF-8".to_owned())?;
    if text.contains('\0') {
        return Err("plugin.toml holds a NUL character, which cannot be stored".to_owned());
    }
    let manifest = PluginManifest::parse(text).map_err(|e| e.to_string())?;
    if manifest.name.len() > MAX_NAME
        || !manifest.name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(format!(
            "plugin.toml: name `{}` must start with a letter and have at most {MAX_NAME} characters",
            manifest.name
        ));
    }
    if is_built_in(&manifest.name) {
        return Err(format!(
            "plugin.toml: `{}` is the name of a built-in or official plugin",
            manifest.name
        ));
    }
    if !usable_as_manifest_key(&manifest.name) {
        return Err(format!(
            "plugin.toml: `{}` cannot be a key of the barbacane.yaml compilations use (YAML \
             does not read it as a name)",
            manifest.name
        ));
    }
    Ok(manifest)
}

/// Whether `name` reads back as itself from the `barbacane.yaml` a compilation generates
/// (`null` does not: YAML reads it as a null key).
fn usable_as_manifest_key(name: &str) -> bool {
    let text = manifest_text([name]);
    parse(MANIFEST_PATH, Path::new(MANIFEST_PATH), text.as_bytes())
        .ok()
        .and_then(|v| v.get("plugins")?.get(name)?.get("path").cloned())
        .is_some_and(|p| p == Value::String(format!("plugins/{name}")))
}

/// `config-schema.json` must be JSON, a valid JSON Schema (checked against its meta-schema),
/// and compile into a validator (what the compiler will do with every use's config).
/// A string holding U+0000 is refused here, before it reaches Postgres (`jsonb` cannot hold
/// it).
fn check_schema(bytes: &[u8]) -> Result<Value, String> {
    if let Some(at) = crate::api::extract::find_nul(bytes) {
        return Err(format!(
            "config-schema.json holds U+0000 in a string (byte {at}), which cannot be stored"
        ));
    }
    let schema: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("config-schema.json is not JSON: {e}"))?;
    if !schema.is_object() && !schema.is_boolean() {
        return Err("config-schema.json must be a JSON Schema object".to_owned());
    }
    jsonschema::meta::validate(&schema)
        .map_err(|e| format!("config-schema.json is not a valid JSON Schema: {e}"))?;
    jsonschema::validator_for(&schema)
        .map_err(|e| format!("config-schema.json does not compile: {e}"))?;
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_checked() {
        assert!(check_schema(br#"{"type":"object"}"#).is_ok());
        assert!(check_schema(b"{").is_err());
        assert!(check_schema(br#"{"type": 12}"#).is_err());
        assert!(check_schema(br#"{"pattern": "("}"#).is_err());
        assert!(check_schema(b"[1]").is_err());
    }

    #[test]
    fn every_missing_part_is_reported() {
        let errors = check(Package::default()).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn registry_name_rules() {
        let m = |name: &str| {
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"a.wasm\"\n"
            )
        };
        assert!(parse_manifest(m("tenant").as_bytes()).is_ok());
        // Built-in and official names are taken.
        assert!(parse_manifest(m("mock").as_bytes()).is_err());
        assert!(parse_manifest(m("cors").as_bytes()).is_err());
        assert!(parse_manifest(m("http-upstream").as_bytes()).is_err());
        assert!(parse_manifest(m("null").as_bytes()).is_err());
        assert!(parse_manifest(m("true").as_bytes()).is_ok());
        assert!(parse_manifest(m("9lives").as_bytes()).is_err());
        assert!(parse_manifest(m(&"a".repeat(65)).as_bytes()).is_err());
        assert!(parse_manifest(b"not toml [").is_err());
    }
}
