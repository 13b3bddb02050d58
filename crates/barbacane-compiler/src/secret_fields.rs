//! W1001: configuration fields meant for secrets that hold literal values. A literal key or
//! password ends up in the artifact in clear (and in every copy of it); a secret reference
//! (`env://`, `file://`, `vault://`, `aws-sm://`, `k8s://`) or a hash keeps it out. A
//! warning, not an error: specs written for the earlier implementation use literals and must
//! keep compiling. The message never includes the value.
//!
//! Two rules: the official plugins' secret fields, by name and place ([`FIELDS`]); for any
//! other plugin, a member at any depth whose name says it holds a secret ([`NAMES`]).

use barbacane_artifact::PluginUse;
use barbacane_plugin_abi::secret_ref::{SCHEMES, is_reference};
use barbacane_spec::{Code, Diagnostic};
use serde_json::Value;

/// The secret fields of official plugins: plugin, list key (`None`: a top-level field),
/// field, accepted non-literal prefixes beyond references.
const FIELDS: &[(&str, Option<&str>, &str, &[&str])] = &[
    ("apikey-auth", Some("keys"), "key", &["sha256:"]),
    (
        "basic-auth",
        Some("credentials"),
        "password",
        &["$argon2", "$2a$", "$2b$", "$2x$", "$2y$"],
    ),
    ("oauth2-auth", None, "client_secret", &[]),
    ("lambda", None, "secret_access_key", &[]),
    ("lambda", None, "session_token", &[]),
];

/// Member names (compared in lowercase, `-` read as `_`) that hold a secret in any other
/// plugin's configuration.
const NAMES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_secret",
    "secret_key",
    "secret_access_key",
    "private_key",
    "private_key_pem",
    "token",
    "access_token",
    "api_token",
    "auth_token",
    "bearer_token",
    "session_token",
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

/// `(pointer, field, value)` of every member named like a secret, at any depth.
fn named<'a>(value: &'a Value, at: &str, out: &mut Vec<(String, String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (name, v) in map {
                let pointer = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
                let normal = name.to_ascii_lowercase().replace('-', "_");
                match v {
                    Value::String(s) if NAMES.contains(&normal.as_str()) => {
                        out.push((pointer, name.clone(), s));
                    }
                    _ => named(v, &pointer, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                named(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Warns about each literal secret of `used`, configured at `pointer` in `file`.
pub(crate) fn check(used: &PluginUse, file: &str, pointer: &str, diags: &mut Vec<Diagnostic>) {
    let listed: Vec<_> = FIELDS.iter().filter(|f| used.name == f.0).collect();
    let mut found: Vec<(String, String, &str, &[&str])> = Vec::new();
    for (_, list, field, hashes) in &listed {
        for (at, value) in values(&used.config, *list, field) {
            found.push((at, (*field).to_owned(), value, hashes));
        }
    }
    if listed.is_empty() {
        let mut all = Vec::new();
        named(&used.config, "", &mut all);
        found.extend(all.into_iter().map(|(at, f, v)| (at, f, v, &[][..])));
    }
    for (at, field, value, hashes) in found {
        if value.is_empty() || is_reference(value) || hashes.iter().any(|p| value.starts_with(p)) {
            continue;
        }
        diags.push(Diagnostic::warning(
            Code::W1001,
            file,
            format!("{pointer}/config{at}"),
            format!("`{field}` holds a literal secret: the artifact will carry it in clear"),
            format!(
                "use a secret reference ({}){}",
                SCHEMES
                    .iter()
                    .map(|s| format!("`{s}...`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if hashes.is_empty() {
                    String::new()
                } else {
                    format!(" or a hash (`{}...`)", hashes.join("...`, `"))
                }
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(name: &str, config: Value) -> Vec<(String, String)> {
        let mut diags = Vec::new();
        let used = PluginUse {
            name: name.into(),
            config,
        };
        check(&used, "api.yaml", "/x", &mut diags);
        diags
            .into_iter()
            .map(|d| (d.json_pointer, d.message))
            .collect()
    }

    #[test]
    fn members_named_like_secrets_of_other_plugins_are_checked_at_any_depth() {
        let found = warnings(
            "my-plugin",
            serde_json::json!({
                "upstream": {"Client-Secret": "cs-literal-1", "url": "https://x"},
                "password": "vault://kv/app#password",
                "tokens": [{"token": "tok-literal-2"}],
                "private_key": "k8s://ns/tls/key",
                "secret": "aws-sm://db#pw",
                "passwd": ""
            }),
        );
        let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/x/config/tokens/0/token",
                "/x/config/upstream/Client-Secret"
            ]
        );
        for (_, message) in &found {
            assert!(!message.contains("literal-"), "{message}");
        }
    }

    #[test]
    fn official_fields_accept_every_reference_scheme_and_lambda_is_checked() {
        let refs = [
            "vault://kv/a#k",
            "aws-sm://a#k",
            "k8s://ns/s/k",
            "env://A",
            "file:///a",
        ];
        for r in refs {
            assert!(
                warnings("oauth2-auth", serde_json::json!({"client_secret": r})).is_empty(),
                "{r}"
            );
        }
        let found = warnings(
            "lambda",
            serde_json::json!({"access_key_id": "AKID", "secret_access_key": "sk-literal"}),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "/x/config/secret_access_key");
    }
}
