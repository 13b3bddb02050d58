//! `groups_claim`: where a token's groups are, and how a string value is split.

use jwt_verify::token::{array_names, is_name};
use serde_json::{Map, Value};

/// The claim `groups_claim` names: a JSON Pointer (RFC 6901) when it starts with `/`
/// (`/realm_access/roles`), else a top-level claim by its exact name (which may hold `/`,
/// like the namespaced claims `https://example.com/roles`).
pub fn find<'a>(claims: &'a Map<String, Value>, groups_claim: &str) -> Option<&'a Value> {
    let Some(pointer) = groups_claim.strip_prefix('/') else {
        return claims.get(groups_claim);
    };
    let mut tokens = pointer
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"));
    let first = tokens.next()?;
    let mut value = claims.get(&first)?;
    for token in tokens {
        value = match value {
            Value::Object(map) => map.get(&token)?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The groups of a claim's value: an array's strings; a string split by `separator`, or
/// the whole string as one group without one. Groups are trimmed; empty ones and ones
/// holding whitespace (they reach the context joined by spaces) are skipped.
pub fn groups(value: Option<&Value>, separator: Option<&str>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => array_names(items),
        Some(Value::String(s)) => {
            let parts: Vec<&str> = match separator {
                Some(sep) => s.split(sep).collect(),
                None => vec![s],
            };
            parts
                .into_iter()
                .map(str::trim)
                .filter(|g| is_name(g))
                .map(str::to_owned)
                .collect()
        }
        _ => Vec::new(),
    }
}
