//! What converging would change: the routes and plugins added, removed and changed between
//! the artifact a node serves and the one it should serve, when the control plane holds
//! both. Pure: two decoded artifacts in, a JSON description out.

use barbacane_artifact::{Artifact, CONFIG_MEMBER, CompiledConfig, InputKind};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Added, removed and changed keys between two maps.
fn compare(from: &BTreeMap<String, Value>, to: &BTreeMap<String, Value>) -> Value {
    let added: Vec<&String> = to.keys().filter(|k| !from.contains_key(*k)).collect();
    let removed: Vec<&String> = from.keys().filter(|k| !to.contains_key(*k)).collect();
    let changed: Vec<&String> = to
        .iter()
        .filter(|(k, v)| from.get(*k).is_some_and(|old| old != *v))
        .map(|(k, _)| k)
        .collect();
    json!({"added": added, "removed": removed, "changed": changed})
}

/// `METHOD /path` -> the compiled operation (parameters, body, plugins and their config).
fn routes(artifact: &Artifact) -> Result<BTreeMap<String, Value>, String> {
    let config: CompiledConfig = artifact
        .member_json(CONFIG_MEMBER)
        .map_err(|e| format!("cannot read the compiled routes: {e}"))?;
    Ok(config
        .operations
        .iter()
        .map(|op| {
            (
                format!("{} {}", op.method, op.path),
                serde_json::to_value(op).unwrap_or(Value::Null),
            )
        })
        .collect())
}

/// Plugin name -> its module's SHA-256.
fn plugins(artifact: &Artifact) -> BTreeMap<String, Value> {
    artifact
        .header()
        .inputs
        .iter()
        .filter(|i| i.kind == InputKind::Plugin)
        .map(|i| (i.name.clone(), Value::String(i.sha256.clone())))
        .collect()
}

/// `{"routes": {added, removed, changed}, "plugins": {...}}` from `from` to `to`.
pub fn changes(from: &Artifact, to: &Artifact) -> Result<Value, String> {
    Ok(json!({
        "routes": compare(&routes(from)?, &routes(to)?),
        "plugins": compare(&plugins(from), &plugins(to)),
    }))
}
