//! Request validation, compiled once per artifact load and run on the hot path.
//!
//! An [`OperationValidator`] is built from an operation's parameters and request body
//! (JSON Schema 2020-12, as the compiler emits them). Building fails if any schema cannot be
//! compiled: a check is never silently dropped. At request time, [`OperationValidator::validate_head`] and
//! [`OperationValidator::validate_body`] check, in order and stopping at the first category that fails:
//! path parameters, query parameters, headers, cookies, the content type (415), the body.
//!
//! Parameter values are deserialized per OpenAPI `style`/`explode` and coerced from strings
//! to the schema's types before the schema check, so `?page=2` satisfies `type: integer`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod body;
mod cache;
mod coerce;
mod content;
mod definitions;
mod error;
mod message;
mod multipart;
mod operation;
mod params;

pub use cache::SchemaCache;
pub use error::{FailureKind, FieldError, SchemaError, ValidationFailure};
pub use message::MessageValidator;
pub use operation::{OperationValidator, RequestParts};

/// Compiles one operation schema as [`OperationValidator::build_with_definitions`] does
/// (its `#/$defs/NAME` references resolved in `definitions`), for compile-time checks that
/// meet the same schema many times and compile it once.
pub fn check_schema(
    schema: &serde_json::Value,
    definitions: &std::collections::BTreeMap<String, serde_json::Value>,
    location: String,
) -> Result<(), SchemaError> {
    let schema = definitions::self_contained(schema, definitions);
    operation::compile(&schema, location).map(|_| ())
}

/// Every schema of `op` a validator compiles, with where it sits (`parameter query.page`,
/// `body application/json`, `body application/jsonl items`).
pub fn schemas_of(
    op: &barbacane_artifact::Operation,
) -> impl Iterator<Item = (&serde_json::Value, String)> {
    let params = op.parameters.iter().filter_map(|p| {
        let schema = p.schema.as_ref()?;
        Some((
            schema,
            format!("parameter {}.{}", p.location.as_str(), p.name),
        ))
    });
    let media = op.request_body.iter().flat_map(|b| b.content.iter());
    let bodies = media.clone().filter_map(|m| {
        let schema = m.schema.as_ref()?;
        body_schema_is_checked(&m.media_type).then(|| (schema, format!("body {}", m.media_type)))
    });
    let items = media.filter_map(|m| {
        let schema = m.item_schema.as_ref()?;
        item_schema_is_checked(&m.media_type)
            .then(|| (schema, format!("body {} items", m.media_type)))
    });
    let messages = op.event.iter().flat_map(|e| {
        e.messages.iter().filter_map(|m| {
            let schema = m.schema.as_ref()?;
            Some((schema, format!("message {}", m.name)))
        })
    });
    params.chain(bodies).chain(items).chain(messages)
}

/// Whether a body schema of this media type (or range) is compiled and enforced; others get
/// the content-type check only.
pub(crate) fn body_schema_is_checked(media_type: &str) -> bool {
    content::Content::of(media_type) != content::Content::Opaque || media_type.ends_with("/*")
}

/// Whether an `itemSchema` of this media type is enforced: JSON Lines
/// (`application/jsonl`, `application/x-ndjson`, `application/x-jsonlines`) and JSON text
/// sequences (`application/json-seq`); other sequential types (`text/event-stream`) get the
/// content-type check only.
pub(crate) fn item_schema_is_checked(media_type: &str) -> bool {
    body::sequence_separator(media_type).is_some()
}

/// Checks `value` against a JSON Schema 2020-12 document (compile-time use: plugin
/// configurations against their `config-schema.json`). Returns every violation as
/// `(JSON pointer into value, message)`, or the schema's own compile error.
pub fn check_value(
    schema: &serde_json::Value,
    value: &serde_json::Value,
) -> Result<Vec<(String, String)>, SchemaError> {
    let validator = operation::compile(schema, "config-schema.json".into())?;
    Ok(validator
        .iter_errors(value)
        .map(|e| (e.instance_path().to_string(), e.masked().to_string()))
        .collect())
}
