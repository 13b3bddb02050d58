//! Turning parameter strings into typed JSON values, guided by the schema.
//!
//! The shape is derived once from the schema at build time; coercion only tries the
//! types the schema allows, and leaves a string alone when nothing fits so the schema check
//! reports the mismatch.

use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// The JSON types a schema allows, as a bitset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Types(u8);

impl Types {
    const INTEGER: u8 = 1;
    const NUMBER: u8 = 2;
    const BOOLEAN: u8 = 4;
    const NULL: u8 = 8;
    const STRING: u8 = 16;
    const ARRAY: u8 = 32;
    const OBJECT: u8 = 64;
    pub(crate) const ANY: Types = Types(0);

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn of(schema: &Value, root: Defs<'_>) -> Types {
        let schema = deref(schema, root);
        let mut bits = 0;
        let mut add = |t: &str| {
            bits |= match t {
                "integer" => Self::INTEGER,
                "number" => Self::NUMBER,
                "boolean" => Self::BOOLEAN,
                "null" => Self::NULL,
                "string" => Self::STRING,
                "array" => Self::ARRAY,
                "object" => Self::OBJECT,
                _ => 0,
            }
        };
        match schema.get("type") {
            Some(Value::String(t)) => add(t),
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).for_each(&mut add),
            _ => {
                // No `type`: look through combinators so `oneOf: [{type: integer}, ...]` still
                // coerces.
                for key in ["allOf", "anyOf", "oneOf"] {
                    if let Some(Value::Array(items)) = schema.get(key) {
                        for item in items {
                            bits |= Types::of(item, root).0;
                        }
                    }
                }
            }
        }
        Types(bits)
    }

    pub(crate) fn is_array(self) -> bool {
        self.has(Self::ARRAY)
    }

    pub(crate) fn is_object(self) -> bool {
        self.has(Self::OBJECT) && !self.has(Self::ARRAY)
    }

    /// Converts one string to the first allowed type it parses as.
    pub(crate) fn coerce(self, raw: &str) -> Value {
        if self.0 == 0 {
            return Value::String(raw.to_owned());
        }
        if self.has(Self::INTEGER) {
            if let Ok(i) = raw.parse::<i64>() {
                return Value::Number(i.into());
            }
            if let Ok(u) = raw.parse::<u64>() {
                return Value::Number(u.into());
            }
        }
        if self.has(Self::NUMBER) || self.has(Self::INTEGER) {
            // Integers too large for i64/u64, and numbers: the schema decides integrality.
            if let Some(n) = raw
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && is_json_number(raw))
                .and_then(Number::from_f64)
            {
                return Value::Number(n);
            }
        }
        if self.has(Self::BOOLEAN) {
            match raw {
                "true" => return Value::Bool(true),
                "false" => return Value::Bool(false),
                _ => {}
            }
        }
        if self.has(Self::NULL) && (raw.is_empty() || raw == "null") && !self.has(Self::STRING) {
            return Value::Null;
        }
        Value::String(raw.to_owned())
    }
}

/// Only JSON-style numerals count as numbers (`inf`, `1e`, `0x1` or ` 1` stay strings).
fn is_json_number(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// Where `#/$defs/NAME` references resolve: the schema's own `$defs` (a self-contained
/// schema), then the artifact's shared definitions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defs<'a> {
    root: &'a Value,
    shared: Option<&'a BTreeMap<String, Value>>,
}

impl<'a> Defs<'a> {
    fn get(self, name: &str) -> Option<&'a Value> {
        self.root
            .get("$defs")
            .and_then(|d| d.get(name))
            .or_else(|| self.shared.and_then(|m| m.get(name)))
    }
}

/// Follows a bundled `#/$defs/...` reference (the only kind the compiler emits).
fn deref<'a>(schema: &'a Value, root: Defs<'a>) -> &'a Value {
    let mut current = schema;
    for _ in 0..16 {
        match current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            Some(name) => match root.get(name) {
                Some(target) => current = target,
                None => break,
            },
            None => break,
        }
    }
    current
}

/// How a parameter's value is shaped, derived from its schema.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// A single value.
    Primitive(Types),
    /// A list of values.
    Array(Types),
    /// Named properties.
    Object {
        properties: BTreeMap<String, Types>,
        /// Item types of the array-typed properties (form bodies repeat their keys).
        items: BTreeMap<String, Types>,
        additional: Types,
    },
}

impl Shape {
    pub(crate) fn of(schema: Option<&Value>) -> Shape {
        Shape::of_with(schema, None)
    }

    /// The shape of `schema`, whose `#/$defs/NAME` references may point into `shared`.
    pub(crate) fn of_with(
        schema: Option<&Value>,
        shared: Option<&BTreeMap<String, Value>>,
    ) -> Shape {
        let Some(root) = schema else {
            return Shape::Primitive(Types::ANY);
        };
        let schema = Defs { root, shared };
        let resolved = deref(root, schema);
        let types = Types::of(resolved, schema);
        if types.is_array() {
            let items = resolved
                .get("items")
                .map(|i| Types::of(i, schema))
                .unwrap_or(Types::ANY);
            Shape::Array(items)
        } else if types.is_object() {
            let props = resolved.get("properties").and_then(Value::as_object);
            let properties = props
                .map(|props| {
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), Types::of(v, schema)))
                        .collect()
                })
                .unwrap_or_default();
            let items = props
                .map(|props| {
                    props
                        .iter()
                        .filter_map(|(k, v)| {
                            let item = deref(v, schema).get("items")?;
                            Some((k.clone(), Types::of(item, schema)))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let additional = match resolved.get("additionalProperties") {
                Some(v @ Value::Object(_)) => Types::of(v, schema),
                _ => Types::ANY,
            };
            Shape::Object {
                properties,
                items,
                additional,
            }
        } else {
            Shape::Primitive(types)
        }
    }

    pub(crate) fn object_value<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Value {
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert(k.to_owned(), self.property_types(k).coerce(v));
        }
        Value::Object(map)
    }

    pub(crate) fn property_types(&self, name: &str) -> Types {
        match self {
            Shape::Object {
                properties,
                additional,
                ..
            } => properties.get(name).copied().unwrap_or(*additional),
            _ => Types::ANY,
        }
    }

    /// Item types of an array-typed property.
    pub(crate) fn property_item_types(&self, name: &str) -> Types {
        match self {
            Shape::Object { items, .. } => items.get(name).copied().unwrap_or(Types::ANY),
            _ => Types::ANY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coercion_follows_the_schema_types() {
        let t = |s: Value| {
            Types::of(
                &s,
                Defs {
                    root: &s,
                    shared: None,
                },
            )
        };
        assert_eq!(t(json!({"type": "integer"})).coerce("2"), json!(2));
        assert_eq!(t(json!({"type": "integer"})).coerce("2.5"), json!(2.5));
        assert_eq!(t(json!({"type": "integer"})).coerce("two"), json!("two"));
        assert_eq!(t(json!({"type": "number"})).coerce("1e3"), json!(1000.0));
        assert_eq!(t(json!({"type": "number"})).coerce("inf"), json!("inf"));
        assert_eq!(t(json!({"type": "boolean"})).coerce("true"), json!(true));
        assert_eq!(t(json!({"type": "boolean"})).coerce("yes"), json!("yes"));
        assert_eq!(
            t(json!({"type": ["integer", "null"]})).coerce(""),
            json!(null)
        );
        assert_eq!(t(json!({"type": "string"})).coerce("12"), json!("12"));
        assert_eq!(
            t(json!({"oneOf": [{"type": "integer"}, {"type": "string"}]})).coerce("7"),
            json!(7)
        );
    }

    #[test]
    fn shapes_see_through_defs() {
        let schema = json!({"$ref": "#/$defs/Ids", "$defs": {"Ids": {"type": "array", "items": {"type": "integer"}}}});
        assert!(matches!(Shape::of(Some(&schema)), Shape::Array(t) if t.coerce("1") == json!(1)));
    }

    #[test]
    fn json_number_grammar() {
        for ok in ["0", "-1", "1.5", "1e10", "2E-3"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e", "0x10", " 1", "NaN"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
