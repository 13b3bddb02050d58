//! From the typed model to compiled operations: routes, extensions and bundled schemas.

use barbacane_artifact::{
    EventAction, EventMessage, EventOperation, MediaType, Operation, Parameter, PluginUse,
    RequestBody,
};
use barbacane_router::{InsertError, RouterBuilder};
use barbacane_spec::{
    Code, Diagnostic, DocumentSet, OperationDef, PatternChecker, SharedDefs, Spec,
    bundle_schema_shared,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

use crate::extensions::{Known, dispatcher, middlewares};

/// Compiles the operations of every spec into one routing table.
pub(crate) fn compile_operations(
    set: &DocumentSet,
    specs: &[Spec],
    base_path_flag: Option<&str>,
    known: &Known<'_>,
    patterns: &PatternChecker,
    shared: &mut SharedDefs,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Operation> {
    let mut router: RouterBuilder<usize> = RouterBuilder::new();
    let mut checked = SchemaChecks::default();
    let mut out: Vec<Operation> = Vec::new();
    for spec in specs {
        let Some(base) = base_path(spec, base_path_flag, diags) else {
            continue;
        };
        let global = spec
            .middlewares
            .as_ref()
            .map(|ext| middlewares(ext, known, diags));
        let global_limits = spec
            .ratelimit
            .as_ref()
            .map(|ext| rate_limits(ext, known, diags));
        let global_cache = spec
            .cache
            .as_ref()
            .map(|ext| cache_sugar(ext, known, diags));
        let mut unenforced = 0;
        for def in &spec.operations {
            let path = format!("{base}{}", collapse_empty_segments(def, diags));
            let path = if path.len() > 1 {
                path.trim_end_matches('/').to_owned()
            } else {
                path
            };
            let reserved = ["/__barbacane", "/_admin"]
                .iter()
                .any(|r| path == *r || path.starts_with(&format!("{r}/")));
            if reserved {
                diags.push(Diagnostic::error(
                    Code::E1006,
                    &def.file,
                    &def.pointer,
                    format!("path `{path}` is reserved for the gateway's own endpoints"),
                    "move the operation out of `/__barbacane/` and `/_admin/`",
                ));
            }
            // A conflict is reported, and the operation is still checked so that one run
            // shows every problem.
            if let Err(e) = router.insert(&path, def.method, out.len()) {
                diags.push(route_error(e, def, &path, &out));
            }
            // The route's own template variables (declared as parameters or not).
            let template = barbacane_router::Template::parse(&path).ok();
            let path_params: Vec<&str> = template
                .as_ref()
                .map(|t| t.param_names().iter().map(String::as_str).collect())
                .unwrap_or_default();
            let dispatch = match dispatcher(
                def.dispatch.as_ref().or(spec.dispatch.as_ref()),
                &def.file,
                &def.pointer,
                &path_params,
                known,
            ) {
                Ok(d) => {
                    if let Some(ext) = def.dispatch.as_ref().or(spec.dispatch.as_ref()) {
                        // A root default is reported once, not once per operation.
                        let mut found = Vec::new();
                        crate::secret_fields::check(&d, &ext.file, &ext.pointer, &mut found);
                        for w in found {
                            if !diags.iter().any(|x| {
                                x.code == w.code
                                    && x.file == w.file
                                    && x.json_pointer == w.json_pointer
                            }) {
                                diags.push(w);
                            }
                        }
                    }
                    d
                }
                Err(d) => {
                    diags.push(d);
                    dummy_dispatch()
                }
            };
            let mut chain = match &def.ratelimit {
                Some(ext) => rate_limits(ext, known, diags),
                None => global_limits.clone().unwrap_or_default(),
            };
            chain.extend(match &def.middlewares {
                Some(ext) => middlewares(ext, known, diags),
                None => global.clone().unwrap_or_default(),
            });
            chain.extend(match &def.cache {
                Some(ext) => cache_sugar(ext, known, diags),
                None => global_cache.clone().unwrap_or_default(),
            });
            // `x-barbacane-middlewares: []` on the operation itself: its author took every
            // middleware off it on purpose.
            let opted_out = def
                .middlewares
                .as_ref()
                .is_some_and(|m| m.value.as_array().is_some_and(Vec::is_empty));
            if crate::security::check(
                def.security.as_ref(),
                spec.security.as_ref(),
                &spec.security_schemes,
                &chain,
                known,
                (&def.file, &def.pointer, opted_out),
                diags,
            ) {
                unenforced += 1;
            }
            let life = crate::lifecycle::lifecycle(
                def.deprecated,
                def.sunset.as_ref(),
                known.build_time,
                diags,
            );
            let operation = Operation {
                spec: spec.logical.clone(),
                pointer: def.pointer.clone(),
                operation_id: def.operation_id.clone(),
                method: def.method.as_str().to_owned(),
                path,
                parameters: parameters(set, spec, def, patterns, shared, diags),
                request_body: request_body(set, spec, def, patterns, shared, diags),
                dispatch,
                middlewares: chain,
                deprecated: def.deprecated,
                deprecated_since: life.deprecated_since,
                sunset: life.sunset,
                sunset_link: life.link,
                event: event(set, spec, def, patterns, shared, diags),
                observability: crate::observability::observability(
                    spec.observability.as_ref(),
                    def.observability.as_ref(),
                    diags,
                ),
            };
            checked.add(&operation, def);
            out.push(operation);
        }
        if unenforced > 0 && known.allow_unenforced_security {
            diags.push(Diagnostic::warning(
                Code::W1004,
                &spec.display,
                "",
                format!(
                    "{unenforced} operation(s) declare an OpenAPI `security` requirement that no \
                     middleware checks; --allow-unenforced-security leaves it to the upstream"
                ),
                "add auth middlewares so the gateway enforces what the spec declares",
            ));
        }
    }
    check_schemas(checked, shared.defs(), diags);
    out.sort_by(|a, b| {
        (a.path.as_str(), a.method.as_str()).cmp(&(b.path.as_str(), b.method.as_str()))
    });
    out
}

/// The operation's path without empty segments (`//openapi` -> `/openapi`), with a warning:
/// requests are normalized the same way, so the route is what such a path can only mean.
/// A trailing `/` is left to the caller (it is trimmed for every path).
fn collapse_empty_segments<'d>(
    def: &'d OperationDef,
    diags: &mut Vec<Diagnostic>,
) -> std::borrow::Cow<'d, str> {
    let inner = def.path.trim_end_matches('/');
    if !inner.contains("//") {
        return std::borrow::Cow::Borrowed(&def.path);
    }
    let mut out = String::with_capacity(def.path.len());
    for segment in def.path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    let pointer = def
        .pointer
        .rsplit_once('/')
        .map_or(def.pointer.as_str(), |(item, _)| item);
    if diags
        .iter()
        .any(|d| d.code == Code::W1002 && d.json_pointer == pointer && d.file == def.file)
    {
        return std::borrow::Cow::Owned(out);
    }
    diags.push(Diagnostic::warning(
        Code::W1002,
        &def.file,
        pointer,
        format!(
            "path `{}` has empty segments; it is routed as `{out}`",
            def.path
        ),
        "remove the doubled `/` from the path",
    ));
    std::borrow::Cow::Owned(out)
}

/// Every distinct schema the data plane will compile, with the first operation using it.
/// They are compiled together at the end ([`check_schemas`]): one document holding the shared
/// definitions once, so the check grows linearly with the description. Compiling each
/// operation's schema on its own repeats every definition it reaches, which is quadratic
/// for descriptions whose schemas reference each other (entity graphs).
#[derive(Default)]
struct SchemaChecks {
    seen: HashSet<String>,
    pending: Vec<PendingSchema>,
}

struct PendingSchema {
    schema: Value,
    location: String,
    file: String,
    pointer: String,
}

impl SchemaChecks {
    /// Records the operation's schemas that `OperationValidator::build_with_definitions` will
    /// compile.
    fn add(&mut self, op: &Operation, def: &OperationDef) {
        for (schema, location) in barbacane_validator::schemas_of(op) {
            if self.seen.insert(schema.to_string()) {
                self.pending.push(PendingSchema {
                    schema: schema.clone(),
                    location,
                    file: def.file.clone(),
                    pointer: def.pointer.clone(),
                });
            }
        }
    }
}

/// Fail closed: compiles every recorded schema with the shared definitions, as the data
/// plane will; E1005 at the first operation using a schema that does not compile.
fn check_schemas(
    checks: SchemaChecks,
    definitions: &BTreeMap<String, Value>,
    diags: &mut Vec<Diagnostic>,
) {
    if checks.pending.is_empty() {
        return;
    }
    let all: Vec<&Value> = checks.pending.iter().map(|p| &p.schema).collect();
    let document = serde_json::json!({ "$defs": definitions, "allOf": all });
    let empty = BTreeMap::new();
    if barbacane_validator::check_schema(&document, &empty, String::new()).is_ok() {
        return;
    }
    // Something does not compile: find which, one schema at a time.
    for p in &checks.pending {
        if let Err(e) = barbacane_validator::check_schema(&p.schema, definitions, String::new()) {
            diags.push(Diagnostic::error(
                Code::E1005,
                &p.file,
                &p.pointer,
                format!("{}: {}", p.location, e.message),
                "fix the schema so it is valid JSON Schema for the spec's OpenAPI version",
            ));
        }
    }
}

/// `x-barbacane-ratelimit` as resolved `rate-limit` middlewares.
fn rate_limits(
    ext: &barbacane_spec::Extension,
    known: &Known<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<PluginUse> {
    let uses = crate::ratelimit_sugar::expand(ext, diags);
    let list = barbacane_spec::Extension {
        value: Value::Array(
            uses.into_iter()
                .map(|u| serde_json::json!({"name": u.name, "config": u.config}))
                .collect(),
        ),
        ..ext.clone()
    };
    if list.value.as_array().is_some_and(Vec::is_empty) {
        return Vec::new();
    }
    middlewares(&list, known, diags)
}

/// `x-barbacane-cache` as a resolved `cache` middleware, last in the chain (so that
/// authentication and rate limits before it apply to hits too): `true` for the plugin's
/// defaults, a mapping for its configuration, `false` for none (an operation opting out of
/// the root's).
fn cache_sugar(
    ext: &barbacane_spec::Extension,
    known: &Known<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<PluginUse> {
    let config = match &ext.value {
        Value::Bool(false) => return Vec::new(),
        Value::Bool(true) => Value::Object(serde_json::Map::new()),
        Value::Object(_) => ext.value.clone(),
        _ => {
            diags.push(Diagnostic::error(
                Code::E1042,
                &ext.file,
                &ext.pointer,
                "`x-barbacane-cache` is not `true`, `false` or a mapping",
                "write `x-barbacane-cache: {ttl: 60}` (keys of the `cache` plugin), or `true` for its defaults",
            ));
            return Vec::new();
        }
    };
    let list = barbacane_spec::Extension {
        value: serde_json::json!([{"name": "cache", "config": config}]),
        ..ext.clone()
    };
    let before = diags.len();
    let uses = middlewares(&list, known, diags);
    // Problems point into the extension as written, not into the list made of it.
    let made = format!("{}/0/config", ext.pointer);
    for d in &mut diags[before..] {
        if let Some(rest) = d.json_pointer.strip_prefix(&made) {
            d.json_pointer = format!("{}{rest}", ext.pointer);
        }
    }
    uses
}

fn dummy_dispatch() -> PluginUse {
    PluginUse {
        name: "mock".into(),
        config: Value::Null,
    }
}

fn base_path(spec: &Spec, flag: Option<&str>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let (raw, file, pointer) = match (flag, &spec.base_path) {
        (Some(flag), _) => (flag.to_owned(), "--base-path".to_owned(), String::new()),
        (None, Some(ext)) => match ext.value.as_str() {
            Some(s) => (s.to_owned(), ext.file.clone(), ext.pointer.clone()),
            None => {
                diags.push(Diagnostic::error(
                    Code::E1013,
                    &ext.file,
                    &ext.pointer,
                    "`x-barbacane-base-path` is not a string",
                    "write `x-barbacane-base-path: /prefix`",
                ));
                return None;
            }
        },
        (None, None) => return Some(String::new()),
    };
    let trimmed = raw.trim_end_matches('/');
    let valid = trimmed.is_empty()
        || (trimmed.starts_with('/')
            && !trimmed.contains(['{', '}', '?', '#'])
            && !trimmed
                .split('/')
                .skip(1)
                .any(|s| s.is_empty() || s == "." || s == ".."));
    if !valid {
        diags.push(Diagnostic::error(
            Code::E1013,
            file,
            pointer,
            format!("base path `{raw}` is invalid"),
            "use a static prefix such as `/api/v1` (no parameters, no empty or dot segments)",
        ));
        return None;
    }
    Some(trimmed.to_owned())
}

fn route_error(
    e: InsertError,
    def: &OperationDef,
    path: &str,
    existing: &[Operation],
) -> Diagnostic {
    match e {
        InsertError::Template(t) => Diagnostic::error(
            Code::E1006,
            &def.file,
            def.pointer
                .rsplit_once('/')
                .map(|(p, _)| p)
                .unwrap_or(&def.pointer),
            format!("invalid path template `{path}`: {t}"),
            "write parameters as `{name}` with a literal between two parameters",
        ),
        InsertError::Conflict {
            existing: template,
            method,
        } => {
            let first = existing
                .iter()
                .find(|o| o.path == template && o.method == method.as_str())
                .map(|o| format!(" (declared in {}#{})", o.spec, o.pointer))
                .unwrap_or_default();
            Diagnostic::error(
                Code::E1010,
                &def.file,
                &def.pointer,
                format!(
                    "routing conflict: {method} {path} matches the same requests as {method} {template}{first}"
                ),
                "remove one of the operations, or give one of them a distinct path or base path",
            )
        }
    }
}

/// Bundles one schema into the shared definitions; a failure is a diagnostic and no schema.
fn bundler<'a>(
    set: &'a DocumentSet,
    spec: &'a Spec,
    patterns: &'a PatternChecker,
    shared: &'a mut SharedDefs,
    diags: &'a mut Vec<Diagnostic>,
) -> impl FnMut(&barbacane_spec::SchemaLocation) -> Option<Value> + 'a {
    move |at| match bundle_schema_shared(set, at, spec.dialect, patterns, shared) {
        Ok(v) => Some(v),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

fn parameters(
    set: &DocumentSet,
    spec: &Spec,
    def: &OperationDef,
    patterns: &PatternChecker,
    shared: &mut SharedDefs,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Parameter> {
    let mut bundle = bundler(set, spec, patterns, shared, diags);
    def.parameters
        .iter()
        .map(|p| Parameter {
            name: p.name.clone(),
            location: p.location,
            required: p.required,
            style: p.style,
            explode: p.explode,
            allow_empty_value: p.allow_empty_value,
            schema: p.schema.as_ref().and_then(&mut bundle),
            content_type: p.content_type.clone(),
        })
        .collect()
}

fn request_body(
    set: &DocumentSet,
    spec: &Spec,
    def: &OperationDef,
    patterns: &PatternChecker,
    shared: &mut SharedDefs,
    diags: &mut Vec<Diagnostic>,
) -> Option<RequestBody> {
    let body = def.body.as_ref()?;
    let mut bundle = bundler(set, spec, patterns, shared, diags);
    Some(RequestBody {
        required: body.required,
        content: body
            .content
            .iter()
            .map(|m| {
                let mut schema = m.schema.as_ref().and_then(&mut bundle);
                if !m.alternatives.is_empty() {
                    // An AsyncAPI body is any one of its messages: `anyOf`, not `oneOf`, so
                    // that a payload valid for two overlapping messages is still accepted.
                    let mut any: Vec<Value> = schema.into_iter().collect();
                    any.extend(m.alternatives.iter().filter_map(&mut bundle));
                    schema = Some(serde_json::json!({ "anyOf": any }));
                }
                MediaType {
                    media_type: m.media_type.clone(),
                    encoding: m.encoding.clone(),
                    schema,
                    item_schema: m.item_schema.as_ref().and_then(&mut bundle),
                }
            })
            .collect(),
    })
}

/// An AsyncAPI operation's action and messages; a `receive` operation keeps its payload
/// schemas, which the data plane checks each message against before forwarding it.
fn event(
    set: &DocumentSet,
    spec: &Spec,
    def: &OperationDef,
    patterns: &PatternChecker,
    shared: &mut SharedDefs,
    diags: &mut Vec<Diagnostic>,
) -> Option<EventOperation> {
    let event = def.event.as_ref()?;
    let mut bundle = bundler(set, spec, patterns, shared, diags);
    let receive = event.action == EventAction::Receive;
    Some(EventOperation {
        action: event.action,
        address: event.address.clone(),
        messages: event
            .messages
            .iter()
            .map(|m| EventMessage {
                name: m.name.clone(),
                content_type: m.content_type.clone(),
                schema: if receive {
                    m.payload.as_ref().and_then(&mut bundle)
                } else {
                    None
                },
            })
            .collect(),
    })
}
