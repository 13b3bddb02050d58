//! W1001: configuration fields meant for secrets that hold literal values. A literal key or
//! password ends up in the artifact in clear (and in every copy of it); a secret reference
//! (`env://`, `file://`) or a hash keeps it out. A warning, not an error: specs written for
//! the earlier implementation use literals and must keep compiling. The message never
//! includes the value.

use barbacane_artifact::PluginUse;
use barbacane_spec::{Code, Diagnostic};
use serde_json::Value;

/// Prefixes that are not literals, per (plugin, field).
const REFERENCES: &[&str] = &["env://", "file://"];

/// The secret fields of official plugins: plugin, list key (`None`: a top-level field),
/// field, accepted non-literal prefixes beyond references.
const FIELDS: &[(&str, Option<&str>, &str, &[&str])] = &[
    ("apikey-auth", Some("keys"), "key", &["sha256:"]),
    ("basic-auth", Some("credentials"), "password", &["$argon2"]),
    ("oauth2-auth", None, "client_secret", &[]),
];

/// The string values of `field` in `config`, with their pointers below `config`.
fn values<'a>(config: &'a Value, list: Option<&str>, field: &str) -> Vec<(String, &'a str)> {
    let Some(list) = list else {
        return config
            .get(field)
            .and_then(Value::as_str)
            .map(|v| (format!("/{field}"), v))
            .into_iter()
            .collect();
    };
    let Some(items) = config.get(list).and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let value = item.get(field).and_then(Value::as_str)?;
            Some((format!("/{list}/{i}/{field}"), value))
        })
        .collect()
}

/// Warns about each literal secret of `used`, configured at `pointer` in `file`.
pub(crate) fn check(used: &PluginUse, file: &str, pointer: &str, diags: &mut Vec<Diagnostic>) {
    for (plugin, list, field, hashes) in FIELDS {
        if used.name != *plugin {
            continue;
        }
        for (at, value) in values(&used.config, *list, field) {
            let safe = REFERENCES
                .iter()
                .chain(hashes.iter())
                .any(|p| value.starts_with(p));
            if !safe {
                diags.push(Diagnostic::warning(
                    Code::W1001,
                    file,
                    format!("{pointer}/config{at}"),
                    format!(
                        "`{field}` holds a literal secret: the artifact will carry it in clear"
                    ),
                    format!(
                        "use a secret reference (`env://NAME`, `file:///path`){}",
                        if hashes.is_empty() {
                            String::new()
                        } else {
                            format!(" or a hash (`{}...`)", hashes.join("...`, `"))
                        }
                    ),
                ));
            }
        }
    }
}
