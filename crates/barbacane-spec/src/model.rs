//! The typed model of an OpenAPI document, as far as the gateway needs it.

use serde_json::Value;
use std::path::PathBuf;

pub use barbacane_artifact::{ParamLocation, ParamStyle};
pub use barbacane_router::Method;

/// Which schema dialect a spec's schemas are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAPI 3.0.x: an extended subset of JSON Schema draft 4/5 (`nullable`, boolean
    /// `exclusiveMinimum`/`exclusiveMaximum`, no type arrays).
    OpenApi30,
    /// OpenAPI 3.1.x: JSON Schema 2020-12.
    OpenApi31,
    /// AsyncAPI 3.0's Schema Object: a superset of JSON Schema draft-07 (tuple `items` lists,
    /// `additionalItems`, `dependencies`, `$ref` siblings ignored).
    Draft07,
}

/// Which kind of document a spec is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecKind {
    /// OpenAPI 3.x: `paths`.
    OpenApi,
    /// AsyncAPI 3.0: `channels` and `operations`.
    AsyncApi,
}

/// An `x-barbacane-*` value as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// Display name of the file holding it.
    pub file: String,
    /// JSON pointer of the extension value.
    pub pointer: String,
    /// The raw value.
    pub value: Value,
}

/// One parsed root spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Canonical path of the root file.
    pub path: PathBuf,
    /// Display name of the root file.
    pub display: String,
    /// Logical name of the root file.
    pub logical: String,
    /// OpenAPI or AsyncAPI.
    pub kind: SpecKind,
    /// The `openapi` (or `asyncapi`) version string.
    pub version: String,
    /// Schema dialect implied by the version.
    pub dialect: Dialect,
    /// `info.title`.
    pub title: Option<String>,
    /// Root `x-barbacane-base-path`.
    pub base_path: Option<Extension>,
    /// Root `x-barbacane-dispatch`: the dispatcher of every operation without its own.
    pub dispatch: Option<Extension>,
    /// Root `x-barbacane-middlewares` (the global chain).
    pub middlewares: Option<Extension>,
    /// Root `x-barbacane-ratelimit` (sugar for `rate-limit` middlewares).
    pub ratelimit: Option<Extension>,
    /// Root `x-barbacane-cache` (sugar for a `cache` middleware).
    pub cache: Option<Extension>,
    /// Root `x-barbacane-observability` (defaults for every operation).
    pub observability: Option<Extension>,
    /// Root `security` requirements.
    pub security: Option<Extension>,
    /// `components.securitySchemes`: name -> kind (`http:bearer`, `http:basic`, `apiKey`,
    /// `oauth2`, `openIdConnect`, `mutualTLS`, or `other` for anything else, `$ref`s included).
    pub security_schemes: std::collections::BTreeMap<String, String>,
    /// Every operation, in document order of paths then methods.
    pub operations: Vec<OperationDef>,
    /// Warnings found while reading the document (errors fail the parse instead).
    pub warnings: Vec<crate::Diagnostic>,
}

/// One operation of a path item.
#[derive(Debug, Clone)]
pub struct OperationDef {
    /// Path template as written in the spec.
    pub path: String,
    /// HTTP method.
    pub method: Method,
    /// Display name of the file holding the operation (path items may be `$ref`ed).
    pub file: String,
    /// JSON pointer of the operation object.
    pub pointer: String,
    /// `operationId`.
    pub operation_id: Option<String>,
    /// Path-level and operation-level parameters merged (operation wins on `(name, in)`).
    pub parameters: Vec<ParameterDef>,
    /// The request body, if declared.
    pub body: Option<BodyDef>,
    /// `x-barbacane-dispatch` on the operation (replaces the root's default).
    pub dispatch: Option<Extension>,
    /// `x-barbacane-middlewares` on the operation (replaces the global list).
    pub middlewares: Option<Extension>,
    /// `x-barbacane-ratelimit` on the operation (replaces the root one).
    pub ratelimit: Option<Extension>,
    /// `x-barbacane-cache` on the operation (replaces the root one; `false` turns it off).
    pub cache: Option<Extension>,
    /// `x-barbacane-sunset` (with `deprecated: true`): the operation's sunset date.
    pub sunset: Option<Extension>,
    /// `x-barbacane-observability` on the operation (its keys win over the root's).
    pub observability: Option<Extension>,
    /// `security` on the operation (replaces the root's; `[]` makes it public).
    pub security: Option<Extension>,
    /// `deprecated`.
    pub deprecated: bool,
    /// For an AsyncAPI operation: its action, channel and messages.
    pub event: Option<EventDef>,
}

/// What an AsyncAPI operation does and carries.
#[derive(Debug, Clone)]
pub struct EventDef {
    /// `send`: clients publish through the gateway (`POST` on the channel address);
    /// `receive`: clients subscribe through it (`GET`, a Server-Sent Events stream).
    pub action: barbacane_artifact::EventAction,
    /// The channel's `address` as written.
    pub address: String,
    /// The operation's messages (or, without `messages`, the channel's), in order.
    pub messages: Vec<MessageDef>,
}

/// One AsyncAPI message.
#[derive(Debug, Clone)]
pub struct MessageDef {
    /// The message's key in its channel (or `name`, when given).
    pub name: String,
    /// `contentType`, else the document's `defaultContentType`, else `application/json`.
    pub content_type: String,
    /// The payload schema, when it is one the gateway can check.
    pub payload: Option<SchemaLocation>,
}

/// Where a schema sits in the document set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaLocation {
    /// Canonical path of the file.
    pub path: PathBuf,
    /// Display name of the file.
    pub file: String,
    /// JSON pointer of the schema.
    pub pointer: String,
}

/// A parameter with OpenAPI defaults applied.
#[derive(Debug, Clone)]
pub struct ParameterDef {
    /// Name.
    pub name: String,
    /// `in`.
    pub location: ParamLocation,
    /// `required` (always true for path parameters).
    pub required: bool,
    /// `style` (or the location's default).
    pub style: ParamStyle,
    /// `explode` (or the style's default).
    pub explode: bool,
    /// `allowEmptyValue`.
    pub allow_empty_value: bool,
    /// The schema, if any (under `content` for a `content` parameter).
    pub schema: Option<SchemaLocation>,
    /// For a parameter described with `content` instead of `schema`: its one media type
    /// (lowercase essence); the value is decoded per this type before the schema check.
    pub content_type: Option<String>,
}

/// A request body.
#[derive(Debug, Clone)]
pub struct BodyDef {
    /// `required`.
    pub required: bool,
    /// Media types in document order.
    pub content: Vec<MediaTypeDef>,
}

/// One `requestBody.content` entry.
#[derive(Debug, Clone)]
pub struct MediaTypeDef {
    /// Lowercase media type or range without parameters.
    pub media_type: String,
    /// Its schema, if any.
    pub schema: Option<SchemaLocation>,
    /// OpenAPI 3.2 `itemSchema`: the schema of each item of a sequential media type
    /// (JSON Lines, JSON text sequences).
    pub item_schema: Option<SchemaLocation>,
    /// Its `encoding` object (form and multipart bodies), by property name.
    pub encoding: std::collections::BTreeMap<String, barbacane_artifact::Encoding>,
    /// Further schemas a body of this type may match instead of `schema` (an AsyncAPI
    /// operation with several messages of one content type: the body is any of them).
    pub alternatives: Vec<SchemaLocation>,
}
