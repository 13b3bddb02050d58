//! OpenAPI 3.0 / 3.1 / 3.2 and AsyncAPI 3.0 documents to a typed model.
//!
//! - [`source`]: reading files (through a [`FileSystem`], so the control plane can compile from
//!   stored inputs) and parsing YAML or JSON with line/column errors.
//! - [`DocumentSet`]: a root spec plus every file its relative `$ref`s reach, with logical
//!   (root-relative) names and reference resolution.
//! - [`parse_spec`]: the typed [`Spec`] model (operations with merged parameters, request
//!   bodies and the raw `x-barbacane-*` extensions, each with its JSON pointer).
//! - [`bundle_schema`]: an OpenAPI schema (either dialect) to a self-contained JSON Schema
//!   2020-12 document.
//!
//! Every problem is a [`Diagnostic`] with a stable [`Code`], the file and a JSON pointer.
// Diagnostics are large and only travel the cold, compile-time error path.
#![allow(clippy::result_large_err)]

mod asyncapi;
mod diagnostic;
mod docset;
mod model;
mod openapi;
mod pattern_check;
mod pattern_dialect;
pub mod pointer;
mod schema;
pub mod source;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use docset::{DocumentSet, Located};
pub use model::{
    BodyDef, Dialect, EventDef, Extension, MediaTypeDef, MessageDef, Method, OperationDef,
    ParamLocation, ParamStyle, ParameterDef, SchemaLocation, Spec, SpecKind,
};
pub use openapi::parse_spec;
pub use pattern_check::{PatternChecker, SkippedPattern};
pub use pattern_dialect::{PatternDialectError, translate_pattern};
pub use schema::{SharedDefs, bundle_schema, bundle_schema_shared, bundle_schema_with};
pub use source::{FileSystem, LocalFs, MemoryFs, SourceFile};
