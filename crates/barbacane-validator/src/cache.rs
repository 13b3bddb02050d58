//! Compiled schemas shared by the operations of one artifact: large descriptions use the
//! same body or parameter schema in many operations, and each is compiled once.

use jsonschema::Validator;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::SchemaError;
use crate::coerce::Shape;

/// Compiled schemas by their text (`$ref`s name shared definitions, so equal text means an
/// equal schema within one artifact). Use one cache per artifact.
#[derive(Default)]
pub struct SchemaCache {
    compiled: HashMap<String, (Arc<Validator>, Shape)>,
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCache")
            .field("schemas", &self.compiled.len())
            .finish()
    }
}

impl SchemaCache {
    /// The compiled validator and coercion shape of `schema`.
    pub(crate) fn get(
        &mut self,
        schema: &Value,
        definitions: &BTreeMap<String, Value>,
        location: impl FnOnce() -> String,
    ) -> Result<(Arc<Validator>, Shape), SchemaError> {
        let key = schema.to_string();
        if let Some((validator, shape)) = self.compiled.get(&key) {
            return Ok((validator.clone(), shape.clone()));
        }
        let whole = crate::definitions::self_contained(schema, definitions);
        let validator = Arc::new(crate::operation::compile(&whole, location())?);
        let shape = Shape::of(Some(&whole));
        self.compiled
            .insert(key, (validator.clone(), shape.clone()));
        Ok((validator, shape))
    }
}
