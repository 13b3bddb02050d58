//! OpenAPI schemas to self-contained JSON Schema 2020-12.
//!
//! Every `$ref` a schema reaches (internal or in another file, cycles included) becomes an
//! entry under the root's `$defs`, so the data plane compiles each schema without any
//! resolver. OpenAPI 3.0's dialect is translated on the way:
//! - `nullable: true` adds `"null"` to `type` (and to `enum` when present);
//! - boolean `exclusiveMinimum`/`exclusiveMaximum` become the numeric 2020-12 keywords;
//! - siblings of `$ref` are ignored, as 3.0 specifies;
//! - `format: int32`/`int64` add the matching bounds (3.0 and 3.1), which JSON Schema
//!   validators otherwise ignore.
//!
//! AsyncAPI 3.0's schemas are draft-07: tuple `items`, `additionalItems` and `dependencies`
//! are rewritten to their 2020-12 spellings, and `$ref` siblings are ignored.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::SchemaLocation;
use crate::pattern_check::PatternChecker;
use crate::pointer::push;
use crate::{Code, Diagnostic, Dialect, DocumentSet, Located};

/// Keywords whose value is a schema.
const SCHEMA_KEYWORDS: [&str; 10] = [
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "contains",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of schemas.
const SCHEMA_LIST_KEYWORDS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP_KEYWORDS: [&str; 5] = [
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// Produces a self-contained JSON Schema 2020-12 document for the schema at `at`; every
/// `pattern` must compile (after dialect translation), else E1005.
pub fn bundle_schema(
    set: &DocumentSet,
    at: &SchemaLocation,
    dialect: Dialect,
) -> Result<Value, Diagnostic> {
    bundle_schema_with(set, at, dialect, &PatternChecker::new(false))
}

/// [`bundle_schema`], with `patterns` deciding what each `pattern` (and `patternProperties`
/// key) becomes: translated from a foreign regex dialect, refused, or skipped.
pub fn bundle_schema_with(
    set: &DocumentSet,
    at: &SchemaLocation,
    dialect: Dialect,
    patterns: &PatternChecker,
) -> Result<Value, Diagnostic> {
    let mut shared = SharedDefs::default();
    let mut out = bundle_schema_shared(set, at, dialect, patterns, &mut shared)?;
    // A fresh table holds exactly what this schema reaches.
    if shared.defs.is_empty() {
        return Ok(out);
    }
    let defs = Value::Object(shared.defs.into_iter().collect());
    match &mut out {
        Value::Object(map) => {
            map.insert("$defs".into(), defs);
        }
        other => {
            out = json!({ "allOf": [other.take()], "$defs": defs });
        }
    }
    Ok(out)
}

/// Referenced schemas converted once per build and shared by every schema of it: each
/// `$ref` becomes `#/$defs/NAME` into this table, which the artifact stores once
/// (`CompiledConfig::definitions`) rather than once per operation. A description such as
/// Microsoft Graph, whose operations reach thousands of component schemas, would otherwise
/// repeat them in every operation.
#[derive(Debug, Default)]
pub struct SharedDefs {
    /// (dialect, canonical file, pointer) -> name.
    names: HashMap<(Dialect, std::path::PathBuf, String), String>,
    taken: HashSet<String>,
    defs: BTreeMap<String, Value>,
}

impl SharedDefs {
    /// The converted schemas by name.
    pub fn defs(&self) -> &BTreeMap<String, Value> {
        &self.defs
    }

    /// The table, for the artifact.
    pub fn into_defs(self) -> BTreeMap<String, Value> {
        self.defs
    }
}

/// Converts the schema at `at`, adding what it references to `shared`; the result's `$ref`s
/// point into `shared` (`#/$defs/NAME`), so it is not self-contained on its own.
pub fn bundle_schema_shared(
    set: &DocumentSet,
    at: &SchemaLocation,
    dialect: Dialect,
    patterns: &PatternChecker,
    shared: &mut SharedDefs,
) -> Result<Value, Diagnostic> {
    let file = set.file(&at.path).ok_or_else(|| missing(at))?;
    let root = set.at(file, &at.pointer).ok_or_else(|| missing(at))?;
    let mut bundler = Bundler {
        set,
        patterns,
        dialect,
        shared,
        queue: Vec::new(),
    };
    let mut first_error = None;
    let out = bundler
        .convert(&root)
        .map_err(|d| first_error.get_or_insert(d).clone());
    // Every name handed out is defined, even after an error, so that other schemas of the
    // build referencing it are not reported again for a missing definition (the build
    // fails on the first error anyway).
    while let Some((name, node_file, pointer)) = bundler.queue.pop() {
        let converted = set
            .file(&node_file)
            .and_then(|file| set.at(file, &pointer))
            .ok_or_else(|| missing(at))
            .and_then(|node| bundler.convert(&node));
        let converted = converted.unwrap_or_else(|d| {
            first_error.get_or_insert(d);
            Value::Bool(true)
        });
        bundler.shared.defs.insert(name, converted);
    }
    match first_error {
        Some(d) => Err(d),
        None => out,
    }
}

fn missing(at: &SchemaLocation) -> Diagnostic {
    Diagnostic::error(
        Code::E1004,
        &at.file,
        &at.pointer,
        "schema location does not exist",
        "check the schema's `$ref`",
    )
}

struct Bundler<'a> {
    set: &'a DocumentSet,
    patterns: &'a PatternChecker,
    dialect: Dialect,
    shared: &'a mut SharedDefs,
    /// Definitions named but not converted yet.
    queue: Vec<(String, std::path::PathBuf, String)>,
}

impl Bundler<'_> {
    fn convert(&mut self, node: &Located<'_>) -> Result<Value, Diagnostic> {
        let Some(map) = node.value.as_object() else {
            // Boolean schemas (3.1) pass through; anything else is an invalid schema.
            return match node.value {
                Value::Bool(_) => Ok(node.value.clone()),
                _ => Err(Diagnostic::error(
                    Code::E1005,
                    &node.file.display,
                    &node.pointer,
                    "schema is not a mapping",
                    "write the schema as a mapping, e.g. `{type: string}`",
                )),
            };
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            let name = self.reference(node, reference)?;
            let target = json!({ "$ref": format!("#/$defs/{name}") });
            // 3.0 and draft-07 (AsyncAPI) ignore the siblings of `$ref`.
            if self.dialect != Dialect::OpenApi31 || map.len() == 1 {
                return Ok(target);
            }
            // 3.1 allows siblings next to `$ref`: keep them, converted.
            let mut rest = map.clone();
            rest.remove("$ref");
            let mut converted = self.convert_map(node, &rest)?;
            converted.insert("$ref".into(), target["$ref"].clone());
            return Ok(Value::Object(converted));
        }
        Ok(Value::Object(self.convert_map(node, map)?))
    }

    fn convert_map(
        &mut self,
        node: &Located<'_>,
        map: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Diagnostic> {
        let mut out = Map::new();
        for (key, value) in map {
            if self.dialect == Dialect::Draft07
                && let Some((key, value)) = self.draft07(node, map, key, value)?
            {
                out.insert(key, value);
                continue;
            }
            let child = |k: &str| Located {
                file: node.file,
                pointer: push(&node.pointer, k),
                value,
            };
            if key == "pattern"
                && let Some(pattern) = value.as_str()
            {
                let at = push(&node.pointer, key);
                if let Some(p) = self.patterns.check(&node.file.display, &at, pattern)? {
                    out.insert(key.clone(), Value::String(p));
                }
                continue;
            }
            let converted = if SCHEMA_KEYWORDS.contains(&key.as_str()) && !value.is_boolean() {
                self.convert(&child(key))?
            } else if SCHEMA_LIST_KEYWORDS.contains(&key.as_str()) {
                match value.as_array() {
                    Some(items) => {
                        let base = push(&node.pointer, key);
                        let mut list = Vec::with_capacity(items.len());
                        for (i, item) in items.iter().enumerate() {
                            let located = Located {
                                file: node.file,
                                pointer: format!("{base}/{i}"),
                                value: item,
                            };
                            list.push(self.convert(&located)?);
                        }
                        Value::Array(list)
                    }
                    None => value.clone(),
                }
            } else if SCHEMA_MAP_KEYWORDS.contains(&key.as_str()) {
                match value.as_object() {
                    Some(entries) => {
                        let base = push(&node.pointer, key);
                        let mut converted = Map::new();
                        for (name, item) in entries {
                            let located = Located {
                                file: node.file,
                                pointer: push(&base, name),
                                value: item,
                            };
                            let name = if key == "patternProperties" {
                                match self.patterns.check(
                                    &node.file.display,
                                    &located.pointer,
                                    name,
                                )? {
                                    Some(p) => p,
                                    None => continue,
                                }
                            } else {
                                name.clone()
                            };
                            converted.insert(name, self.convert(&located)?);
                        }
                        Value::Object(converted)
                    }
                    None => value.clone(),
                }
            } else {
                value.clone()
            };
            out.insert(key.clone(), converted);
        }
        if self.dialect == Dialect::OpenApi30 {
            translate_30(&mut out);
        }
        integer_format_bounds(&mut out);
        Ok(out)
    }

    /// Draft-07 keywords that 2020-12 spells differently: a tuple `items` list becomes
    /// `prefixItems` (and `additionalItems` then becomes `items`; without a tuple it means
    /// nothing and is kept inert), `dependencies` becomes `dependentSchemas` (a property list
    /// as a schema requiring them). `Ok(None)`: the keyword is not one of them.
    fn draft07(
        &mut self,
        node: &Located<'_>,
        map: &Map<String, Value>,
        key: &str,
        value: &Value,
    ) -> Result<Option<(String, Value)>, Diagnostic> {
        let tuple = map.get("items").is_some_and(Value::is_array);
        match key {
            "items" if tuple => {
                let base = push(&node.pointer, key);
                let mut list = Vec::new();
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    list.push(self.convert(&Located {
                        file: node.file,
                        pointer: format!("{base}/{i}"),
                        value: item,
                    })?);
                }
                Ok(Some(("prefixItems".into(), Value::Array(list))))
            }
            "additionalItems" if tuple => {
                let located = Located {
                    file: node.file,
                    pointer: push(&node.pointer, key),
                    value,
                };
                Ok(Some(("items".into(), self.convert(&located)?)))
            }
            // Without a tuple `items`, draft-07 ignores `additionalItems`: keep it inert.
            "additionalItems" => Ok(Some(("x-draft07-additionalItems".into(), value.clone()))),
            "dependencies" => {
                let Some(entries) = value.as_object() else {
                    return Ok(None);
                };
                let base = push(&node.pointer, key);
                let mut schemas = Map::new();
                for (name, dep) in entries {
                    // A property list means "these are required too": the same as a schema
                    // requiring them.
                    let converted = if dep.is_array() {
                        json!({ "required": dep })
                    } else {
                        self.convert(&Located {
                            file: node.file,
                            pointer: push(&base, name),
                            value: dep,
                        })?
                    };
                    schemas.insert(name.clone(), converted);
                }
                Ok(Some(("dependentSchemas".into(), Value::Object(schemas))))
            }
            _ => Ok(None),
        }
    }

    fn reference(&mut self, node: &Located<'_>, reference: &str) -> Result<String, Diagnostic> {
        let target = self
            .set
            .resolve_ref(&node.file.path, reference)
            .map_err(|m| {
                Diagnostic::error(
                    Code::E1004,
                    &node.file.display,
                    &node.pointer,
                    format!("cannot resolve `$ref: {reference}`: {m}"),
                    "point the reference at an existing schema",
                )
            })?;
        let key = (
            self.dialect,
            target.file.path.clone(),
            target.pointer.clone(),
        );
        if let Some(name) = self.shared.names.get(&key) {
            return Ok(name.clone());
        }
        let base: String = target
            .pointer
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("root")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = base.clone();
        let mut n = 2;
        while self.shared.taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.shared.taken.insert(name.clone());
        self.shared.names.insert(key.clone(), name.clone());
        self.queue.push((name.clone(), key.1, key.2));
        Ok(name)
    }
}

fn translate_30(map: &mut Map<String, Value>) {
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match map.get(flag) {
            Some(Value::Bool(true)) => {
                if let Some(limit) = map.remove(bound) {
                    map.insert(flag.into(), limit);
                } else {
                    map.remove(flag);
                }
            }
            Some(Value::Bool(false)) => {
                map.remove(flag);
            }
            _ => {}
        }
    }
    if map.remove("nullable") == Some(Value::Bool(true)) {
        if let Some(Value::String(t)) = map.get("type") {
            let t = t.clone();
            map.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(values)) = map.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
}

fn integer_format_bounds(map: &mut Map<String, Value>) {
    let (min, max) = match map.get("format").and_then(Value::as_str) {
        Some("int32") => (json!(i32::MIN), json!(i32::MAX)),
        Some("int64") => (json!(i64::MIN), json!(i64::MAX)),
        _ => return,
    };
    if !map.contains_key("minimum") && !map.contains_key("exclusiveMinimum") {
        map.insert("minimum".into(), min);
    }
    if !map.contains_key("maximum") && !map.contains_key("exclusiveMaximum") {
        map.insert("maximum".into(), max);
    }
}
