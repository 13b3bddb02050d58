//! Choosing the registry plugin versions a compilation uses (see [`crate::compile::choose`])
//! and reading their files as registered.

use barbacane_plugin_abi::PluginManifest;
use sqlx::PgPool;
use std::collections::BTreeMap;

use crate::compile::{PluginFiles, References, choose};
use crate::db::plugins;

/// For every referenced name the registry knows, the chosen version's files, by name. Names
/// nothing is registered under are left out: the compiler reports them where they are used
/// (`E1012`, `E1020`), as it reports requirements the chosen version does not meet (`E1021`).
pub async fn resolve(
    pool: &PgPool,
    references: &References,
) -> Result<Vec<PluginFiles>, sqlx::Error> {
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = references.keys().cloned().collect();
    let mut registered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, version) in plugins::versions_of(pool, &names).await? {
        registered.entry(name).or_default().push(version);
    }
    let mut out = Vec::new();
    for (name, requirements) in references {
        let Some(version) = registered
            .get(name)
            .and_then(|versions| choose(versions, requirements))
        else {
            continue;
        };
        // Deleted since it was listed: the compiler reports the unknown plugin.
        let Some(files) = plugins::files(pool, name, version).await? else {
            continue;
        };
        // Registered manifests parse; should one not, the compiler reports it (E1015) before
        // it looks for the module.
        let wasm_path = PluginManifest::parse(&files.manifest)
            .map(|m| m.wasm)
            .unwrap_or_else(|_| format!("{name}.wasm"));
        let schema = match files.config_schema_raw {
            Some(raw) => raw,
            // Registered before the bytes were kept: the stored JSON, serialized.
            None => serde_json::to_vec(&files.config_schema).unwrap_or_default(),
        };
        out.push(PluginFiles {
            name: name.clone(),
            version: version.to_owned(),
            manifest: files.manifest.into_bytes(),
            wasm_path,
            wasm: files.wasm,
            schema: Some(schema),
        });
    }
    Ok(out)
}
