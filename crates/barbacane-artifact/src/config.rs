//! The compiled configuration (`config.json` member): everything the data plane executes.
//!
//! Schemas in here are already JSON Schema 2020-12, self-contained (referenced schemas are
//! under `$defs`), so the data plane never sees OpenAPI dialects or `$ref`s to other files.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Name of the member that holds the [`CompiledConfig`].
pub const CONFIG_MEMBER: &str = "config.json";

/// The routing table and everything attached to each route.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompiledConfig {
    /// All operations of all specs, sorted by path then method.
    pub operations: Vec<Operation>,
    /// Schemas shared by the operations' schemas, which reference them as `#/$defs/NAME`
    /// (each stored once however many operations use it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub definitions: BTreeMap<String, Value>,
    /// Checks the spec asks for that this artifact does not enforce (`--lenient-patterns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_checks: Vec<SkippedCheck>,
    /// Rego policies, by the name plugin configurations use (`opa-authz`'s `policy`, rewritten
    /// by the compiler to the bundle's logical name). The data plane compiles each once per
    /// artifact load.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, PolicyBundle>,
}

/// A Rego policy as bundled: its files and the rules configurations evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyBundle {
    /// The members holding its `.rego` files (`policies/<logical name>`), sorted.
    pub files: Vec<String>,
    /// The rules evaluated (`data.barbacane.authz.allow`), each compiled as an entry point.
    pub queries: Vec<String>,
}

/// A check written in a spec and not enforced, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedCheck {
    /// The spec file (display name).
    pub file: String,
    /// JSON pointer of the skipped keyword, e.g. `.../schema/properties/name/pattern`.
    pub pointer: String,
    /// What is skipped, e.g. the pattern as written.
    pub check: String,
    /// Why it could not be enforced.
    pub reason: String,
}

/// One operation: a (path template, method) pair and what to do with matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Logical name of the spec that declared it.
    pub spec: String,
    /// JSON pointer of the operation inside that spec, e.g. `/paths/~1pets/get`.
    pub pointer: String,
    /// `operationId`, when the spec gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Uppercase method, e.g. `GET`.
    pub method: String,
    /// Path template as served (base path included), e.g. `/v1/pets/{id}`.
    pub path: String,
    /// Path, query, header and cookie parameters (path-level and operation-level merged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Request body rules, when the operation declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBody>,
    /// The dispatcher that produces the response.
    pub dispatch: PluginUse,
    /// Middlewares in order (the operation's own list, or the global one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<PluginUse>,
    /// `deprecated: true` in the spec.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// The `Deprecation` date of a deprecated operation (seconds since the epoch):
    /// `x-barbacane-sunset`'s `deprecated_since`, else the build time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated_since: Option<u64>,
    /// The `Sunset` date (`x-barbacane-sunset`), seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sunset: Option<u64>,
    /// The deprecation policy `Link` (`x-barbacane-sunset`'s `link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sunset_link: Option<String>,
    /// For an operation of an AsyncAPI document: its action, channel and messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventOperation>,
    /// `x-barbacane-observability` (the operation's keys over the root's).
    #[serde(default, skip_serializing_if = "Observability::is_default")]
    pub observability: Observability,
}

/// `x-barbacane-observability` of an operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observability {
    /// `trace_sampling`: the ratio new traces of this operation are recorded at (overrides
    /// `--trace-sampling`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_sampling: Option<f64>,
    /// `latency_slo_ms`: a response slower than this counts in
    /// `barbacane_slo_violation_total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_slo_ms: Option<u64>,
    /// `detailed_validation_logs`: a refused request logs each validation error (field and
    /// reason, never the value) at `info`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detailed_validation_logs: bool,
}

impl Observability {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Observability::default()
    }
}

/// What an AsyncAPI operation becomes on the traffic listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventOperation {
    /// `send` (`POST`: the body is published) or `receive` (`GET`: a Server-Sent Events
    /// stream of the channel's messages).
    pub action: EventAction,
    /// The channel's `address` as written in the spec.
    pub address: String,
    /// The operation's messages, in order.
    pub messages: Vec<EventMessage>,
}

/// An AsyncAPI operation's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    /// Clients publish messages through the gateway.
    Send,
    /// Clients receive the channel's messages through the gateway.
    Receive,
}

/// One message an event operation carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    /// Its name (the `event` field of a Server-Sent Event).
    pub name: String,
    /// Its content type.
    pub content_type: String,
    /// The payload schema (JSON Schema 2020-12, `$ref`s into the shared definitions), kept for
    /// `receive` operations, whose messages are checked before they are forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// A dispatcher or middleware reference with its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginUse {
    /// Plugin name, e.g. `mock`.
    pub name: String,
    /// Plugin configuration (validated by the compiler).
    #[serde(default)]
    pub config: Value,
}

/// Where a parameter lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    /// A path template variable.
    Path,
    /// A query string parameter.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
    /// The whole query string as one value (OpenAPI 3.2 `in: querystring`, always with a
    /// `content` media type).
    Querystring,
}

impl ParamLocation {
    /// The OpenAPI `in` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
            ParamLocation::Querystring => "querystring",
        }
    }
}

/// OpenAPI serialization style of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ParamStyle {
    /// `simple` (path and header default): `a,b,c`.
    Simple,
    /// `label`: `.a.b.c`.
    Label,
    /// `matrix`: `;id=a,b`.
    Matrix,
    /// `form` (query and cookie default): `id=a&id=b` or `id=a,b`.
    Form,
    /// `spaceDelimited`: `a%20b`.
    SpaceDelimited,
    /// `pipeDelimited`: `a|b`.
    PipeDelimited,
    /// `deepObject`: `id[role]=admin`.
    DeepObject,
}

/// One parameter with its deserialization rules and schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// Name as written in the spec (headers are matched case-insensitively).
    pub name: String,
    /// Location.
    #[serde(rename = "in")]
    pub location: ParamLocation,
    /// Whether the request must carry it (always true for path parameters).
    pub required: bool,
    /// Serialization style (the location's default when the spec gives none).
    pub style: ParamStyle,
    /// `explode` (the style's default when the spec gives none).
    pub explode: bool,
    /// `allowEmptyValue` (query only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty_value: bool,
    /// JSON Schema 2020-12 for the deserialized value; `None` accepts anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Set for a parameter described with `content`: the media type its raw value is
    /// decoded as (JSON for `application/json` and `+json`, form pairs for
    /// `application/x-www-form-urlencoded`, the raw string otherwise); `style` and `explode`
    /// do not apply then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// Request body rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestBody {
    /// Whether a body must be present.
    pub required: bool,
    /// Accepted media types (keys of `requestBody.content`), each with an optional schema.
    pub content: Vec<MediaType>,
}

/// One accepted media type or media range (`application/json`, `image/*`, `*/*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaType {
    /// Media type or range, lowercase, without parameters.
    pub media_type: String,
    /// JSON Schema 2020-12 for the decoded body (JSON, form, multipart and text bodies);
    /// `None` accepts any body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// OpenAPI 3.2 `itemSchema`: JSON Schema 2020-12 for each item of a sequential body
    /// (JSON Lines, JSON text sequences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_schema: Option<Value>,
    /// The `encoding` object of form and multipart bodies, by property name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encoding: BTreeMap<String, Encoding>,
}

/// How one property of a form or multipart body is serialized (OpenAPI `encoding`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// Accepted content types of the property's value (a comma-separated list of types or
    /// ranges, lowercase), e.g. `application/json` for a JSON-encoded form field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `style` for form bodies (`form`, `spaceDelimited`, `pipeDelimited`, `deepObject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<ParamStyle>,
    /// `explode` for form bodies (default: true for `form`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explode: Option<bool>,
}
