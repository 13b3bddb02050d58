//! Compiled schemas shared by the operations of one artifact.
//!
//! jsonschema compiles, for each validator, every definition its schema reaches. Compiling
//! each operation's schema on its own therefore costs (operations x definitions) time and
//! memory for descriptions whose schemas reference each other (entity graphs such as
//! Microsoft Graph). So the schemas that reach the artifact's shared definitions are compiled
//! together, once, as one document: `{"$defs": definitions, "properties": {"0": schema0,
//! "1": schema1, ...}}`; a value is checked against schema `k` as the instance `{"k": value}`,
//! which only `properties/k` applies to. Schemas that reach no definition (most parameters)
//! get their own validator and are checked directly.

use jsonschema::Validator;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::SchemaError;
use crate::coerce::Shape;

/// One compiled schema.
#[derive(Clone)]
pub(crate) enum Compiled {
    /// Its own validator.
    Own(Arc<Validator>),
    /// Entry `key` of the artifact's shared document.
    Shared {
        document: Arc<Validator>,
        key: Arc<str>,
    },
}

impl Compiled {
    /// The violations of `value` (at most `max`), as (JSON pointer into the value, message);
    /// empty when it is valid.
    pub(crate) fn errors(&self, value: Value, max: usize) -> Vec<(String, String)> {
        match self {
            Compiled::Own(v) => {
                if v.is_valid(&value) {
                    return Vec::new();
                }
                v.iter_errors(&value)
                    .take(max)
                    .map(|e| (e.instance_path().to_string(), e.masked().to_string()))
                    .collect()
            }
            Compiled::Shared { document, key } => {
                let mut wrapper = Map::new();
                wrapper.insert(key.to_string(), value);
                let wrapped = Value::Object(wrapper);
                if document.is_valid(&wrapped) {
                    return Vec::new();
                }
                let prefix = format!("/{key}");
                document
                    .iter_errors(&wrapped)
                    .take(max)
                    .map(|e| {
                        let path = e.instance_path().to_string();
                        let path = path.strip_prefix(&prefix).unwrap_or(&path).to_owned();
                        (path, e.masked().to_string())
                    })
                    .collect()
            }
        }
    }
}

/// Every schema of an artifact's operations, compiled; build it once per artifact with
/// [`SchemaCache::for_operations`] and hand it to
/// [`crate::OperationValidator::build_cached`].
#[derive(Default)]
pub struct SchemaCache {
    /// Schema text (`$ref`s name shared definitions, so equal text is an equal schema).
    compiled: HashMap<String, (Compiled, Shape)>,
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCache")
            .field("schemas", &self.compiled.len())
            .finish()
    }
}

impl SchemaCache {
    /// Compiles every schema `operations` carry: those reaching `definitions` in one shared
    /// document, the others one by one.
    pub fn for_operations<'o>(
        operations: impl IntoIterator<Item = &'o barbacane_artifact::Operation>,
        definitions: &BTreeMap<String, Value>,
    ) -> Result<SchemaCache, SchemaError> {
        let mut cache = SchemaCache::default();
        // (text, schema, location) of the schemas for the shared document.
        let mut shared: Vec<(String, &Value, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for op in operations {
            for (schema, location) in crate::schemas_of(op) {
                let text = schema.to_string();
                if !seen.insert(text.clone()) {
                    continue;
                }
                if definitions.is_empty() || !crate::definitions::reaches_any(schema) {
                    let own = Arc::new(crate::operation::compile(schema, location)?);
                    let shape = Shape::of_with(Some(schema), Some(definitions));
                    cache.compiled.insert(text, (Compiled::Own(own), shape));
                } else {
                    shared.push((text, schema, location));
                }
            }
        }
        if shared.is_empty() {
            return Ok(cache);
        }
        let properties: Map<String, Value> = shared
            .iter()
            .enumerate()
            .map(|(i, (_, schema, _))| (i.to_string(), (*schema).clone()))
            .collect();
        let document = serde_json::json!({ "$defs": definitions, "properties": properties });
        let document = match crate::operation::compile(&document, String::new()) {
            Ok(v) => Arc::new(v),
            Err(_) => {
                // Name the schema at fault.
                for (_, schema, location) in &shared {
                    let whole = crate::definitions::self_contained(schema, definitions);
                    crate::operation::compile(&whole, location.clone())?;
                }
                return Err(SchemaError {
                    location: "shared schema definitions".into(),
                    message: "the operations' schemas do not compile together".into(),
                });
            }
        };
        for (i, (text, schema, _)) in shared.into_iter().enumerate() {
            let compiled = Compiled::Shared {
                document: document.clone(),
                key: i.to_string().into(),
            };
            let shape = Shape::of_with(Some(schema), Some(definitions));
            cache.compiled.insert(text, (compiled, shape));
        }
        Ok(cache)
    }

    /// The compiled schema and coercion shape of `schema`, compiled on its own when this
    /// cache was not built from its operation.
    pub(crate) fn get(
        &mut self,
        schema: &Value,
        definitions: &BTreeMap<String, Value>,
        location: impl FnOnce() -> String,
    ) -> Result<(Compiled, Shape), SchemaError> {
        let key = schema.to_string();
        if let Some(found) = self.compiled.get(&key) {
            return Ok(found.clone());
        }
        let whole = crate::definitions::self_contained(schema, definitions);
        let compiled = Compiled::Own(Arc::new(crate::operation::compile(&whole, location())?));
        let shape = Shape::of_with(Some(schema), Some(definitions));
        self.compiled.insert(key, (compiled.clone(), shape.clone()));
        Ok((compiled, shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shared_schemas_report_paths_inside_the_value() {
        let op: barbacane_artifact::Operation = serde_json::from_value(json!({
            "spec": "s.yaml", "pointer": "/p", "method": "POST", "path": "/x",
            "parameters": [
                {"name": "q", "in": "query", "required": false, "style": "form", "explode": true,
                 "schema": {"type": "integer"}}
            ],
            "request_body": {"required": true, "content": [
                {"media_type": "application/json", "schema": {"$ref": "#/$defs/A"}}
            ]},
            "dispatch": {"name": "mock", "config": {}}
        }))
        .unwrap();
        let definitions = BTreeMap::from([(
            "A".to_owned(),
            json!({"type": "object", "properties": {"n": {"type": "integer"}, "a": {"$ref": "#/$defs/A"}}}),
        )]);
        let mut cache = SchemaCache::for_operations([&op], &definitions).unwrap();
        let (body, _) = cache
            .get(&json!({"$ref": "#/$defs/A"}), &definitions, String::new)
            .unwrap();
        assert!(matches!(body, Compiled::Shared { .. }));
        assert!(body.errors(json!({"n": 1, "a": {"n": 2}}), 4).is_empty());
        let errors = body.errors(json!({"n": 1, "a": {"n": "x"}}), 4);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "/a/n");
        let (param, _) = cache
            .get(&json!({"type": "integer"}), &definitions, String::new)
            .unwrap();
        assert!(matches!(param, Compiled::Own(_)));
        assert_eq!(param.errors(json!("x"), 4)[0].0, "");
    }
}
