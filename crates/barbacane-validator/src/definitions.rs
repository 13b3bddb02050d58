//! Schemas that reference the artifact's shared `definitions` (`#/$defs/NAME`) made
//! self-contained for compilation: only the definitions a schema reaches are copied in.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

const PREFIX: &str = "#/$defs/";

/// `schema` with the definitions it reaches (transitively) under its `$defs`; borrowed when
/// it reaches none.
pub(crate) fn self_contained<'s>(
    schema: &'s Value,
    definitions: &BTreeMap<String, Value>,
) -> Cow<'s, Value> {
    if definitions.is_empty() {
        return Cow::Borrowed(schema);
    }
    let mut reached: BTreeMap<&str, &Value> = BTreeMap::new();
    let mut pending: Vec<&Value> = vec![schema];
    while let Some(node) = pending.pop() {
        refs(node, &mut |name| {
            if let Some((key, def)) = definitions.get_key_value(name)
                && !reached.contains_key(key.as_str())
            {
                reached.insert(key.as_str(), def);
                pending.push(def);
            }
        });
    }
    if reached.is_empty() {
        return Cow::Borrowed(schema);
    }
    let defs: Map<String, Value> = reached
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    Cow::Owned(match schema {
        Value::Object(map) if !map.contains_key("$defs") => {
            let mut map = map.clone();
            map.insert("$defs".into(), Value::Object(defs));
            Value::Object(map)
        }
        other => serde_json::json!({ "allOf": [other], "$defs": defs }),
    })
}

/// Whether `schema` references any shared definition.
pub(crate) fn reaches_any(schema: &Value) -> bool {
    let mut any = false;
    refs(schema, &mut |_| any = true);
    any
}

/// Calls `found` with the NAME of every `$ref: "#/$defs/NAME"` in `node`.
fn refs<'v>(node: &'v Value, found: &mut impl FnMut(&'v str)) {
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(PREFIX) {
                            found(name);
                        }
                    }
                    _ => refs(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_reached_definitions_are_copied() {
        let defs = BTreeMap::from([
            (
                "A".to_owned(),
                json!({"properties": {"b": {"$ref": "#/$defs/B"}}}),
            ),
            ("B".to_owned(), json!({"items": {"$ref": "#/$defs/A"}})),
            ("C".to_owned(), json!({"type": "string"})),
        ]);
        let schema = json!({"$ref": "#/$defs/A"});
        let out = self_contained(&schema, &defs);
        assert_eq!(
            out.as_ref()["$defs"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["A", "B"]
        );
        let plain = json!({"type": "integer"});
        assert!(matches!(self_contained(&plain, &defs), Cow::Borrowed(_)));
        let boolean = json!(true);
        assert!(matches!(self_contained(&boolean, &defs), Cow::Borrowed(_)));
    }
}
