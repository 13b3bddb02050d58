//! Extracting the typed model from a root OpenAPI document.

use serde_json::{Map, Value};

use crate::model::SchemaLocation;
use crate::pointer::push;
use crate::{
    BodyDef, Code, Diagnostic, Dialect, DocumentSet, Extension, Located, MediaTypeDef, Method,
    OperationDef, ParamLocation, ParamStyle, ParameterDef, SourceFile, Spec, SpecKind,
};

/// Builds the model of one root spec, collecting every diagnostic rather than stopping at the
/// first.
pub fn parse_spec(set: &DocumentSet, root: &SourceFile) -> Result<Spec, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let Some(doc) = root.value.as_object() else {
        return Err(vec![Diagnostic::error(
            Code::E1001,
            &root.display,
            "",
            "document is not a mapping, so it cannot be an OpenAPI document",
            "start the document with `openapi: 3.1.0`",
        )]);
    };
    if doc.contains_key("asyncapi") && !doc.contains_key("openapi") {
        return crate::asyncapi::parse_asyncapi(set, root, doc);
    }
    let dialect = match version(root, doc) {
        Ok(d) => d,
        Err(d) => return Err(vec![d]),
    };
    let mut spec = Spec {
        path: root.path.clone(),
        display: root.display.clone(),
        logical: root.logical.clone(),
        kind: SpecKind::OpenApi,
        version: doc
            .get("openapi")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        dialect,
        title: doc
            .get("info")
            .and_then(|i| i.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        base_path: extension(root, "", doc, "x-barbacane-base-path"),
        dispatch: extension(root, "", doc, "x-barbacane-dispatch"),
        middlewares: extension(root, "", doc, "x-barbacane-middlewares"),
        ratelimit: extension(root, "", doc, "x-barbacane-ratelimit"),
        observability: extension(root, "", doc, "x-barbacane-observability"),
        cache: extension(root, "", doc, "x-barbacane-cache"),
        security: extension(root, "", doc, "security"),
        security_schemes: security_schemes(doc),
        operations: Vec::new(),
        warnings: Vec::new(),
    };
    let is_32 = spec.version.starts_with("3.2");
    match doc.get("paths") {
        None => {}
        Some(Value::Object(paths)) => {
            for (path, item) in paths {
                let pointer = push("/paths", path);
                if path.starts_with("x-") {
                    continue;
                }
                if !path.starts_with('/') {
                    diags.push(Diagnostic::error(
                        Code::E1006,
                        &root.display,
                        &pointer,
                        format!("path `{path}` does not start with `/`"),
                        "write paths as `/resource/{id}`",
                    ));
                    continue;
                }
                let located = Located {
                    file: root,
                    pointer,
                    value: item,
                };
                path_item(set, path, located, is_32, &mut spec.operations, &mut diags);
            }
        }
        Some(_) => diags.push(Diagnostic::error(
            Code::E1006,
            &root.display,
            "/paths",
            "`paths` is not a mapping",
            "make `paths` a mapping from path templates to path items",
        )),
    }
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok(spec)
    }
}

fn version(root: &SourceFile, doc: &Map<String, Value>) -> Result<Dialect, Diagnostic> {
    let raw = match doc.get("openapi") {
        Some(Value::String(v)) => v.as_str(),
        Some(_) => {
            return Err(Diagnostic::error(
                Code::E1002,
                &root.display,
                "/openapi",
                "`openapi` must be a version string such as \"3.1.0\"",
                "quote the version: `openapi: \"3.1.0\"`",
            ));
        }
        None => {
            let (code, message) = match doc.get("swagger") {
                Some(_) => (Code::E1002, "Swagger 2.0 documents are not OpenAPI 3.x"),
                None => (
                    Code::E1001,
                    "no `openapi` field: this is not an OpenAPI document",
                ),
            };
            return Err(Diagnostic::error(
                code,
                &root.display,
                "",
                message,
                "convert the document to OpenAPI 3.x and set e.g. `openapi: 3.1.0`",
            ));
        }
    };
    if raw.starts_with("3.0.") || raw == "3.0" {
        Ok(Dialect::OpenApi30)
    } else if ["3.1", "3.2"]
        .iter()
        .any(|v| raw == *v || raw.starts_with(&format!("{v}.")))
    {
        // 3.2 keeps 3.1's schema dialect (JSON Schema 2020-12); its new fields are gated on
        // `is_32` where they are read.
        Ok(Dialect::OpenApi31)
    } else {
        Err(Diagnostic::error(
            Code::E1002,
            &root.display,
            "/openapi",
            format!("OpenAPI version `{raw}` is not supported (3.0.x, 3.1.x and 3.2.x are)"),
            "set `openapi` to a 3.0.x, 3.1.x or 3.2.x version",
        ))
    }
}

/// `components.securitySchemes` as name -> kind (see `Spec::security_schemes`).
fn security_schemes(doc: &Map<String, Value>) -> std::collections::BTreeMap<String, String> {
    let Some(schemes) = doc
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Value::as_object)
    else {
        return Default::default();
    };
    schemes
        .iter()
        .map(|(name, scheme)| {
            let kind = match scheme.get("type").and_then(Value::as_str) {
                Some("http") => match scheme
                    .get("scheme")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                {
                    Some("bearer") => "http:bearer",
                    Some("basic") => "http:basic",
                    _ => "other",
                },
                Some(t @ ("apiKey" | "oauth2" | "openIdConnect" | "mutualTLS")) => t,
                _ => "other",
            };
            (name.clone(), kind.to_owned())
        })
        .collect()
}

pub(crate) fn extension(
    file: &SourceFile,
    at: &str,
    obj: &Map<String, Value>,
    key: &str,
) -> Option<Extension> {
    obj.get(key).map(|value| Extension {
        file: file.display.clone(),
        pointer: push(at, key),
        value: value.clone(),
    })
}

fn path_item(
    set: &DocumentSet,
    path: &str,
    item: Located<'_>,
    is_32: bool,
    out: &mut Vec<OperationDef>,
    diags: &mut Vec<Diagnostic>,
) {
    let item = match set.deref(item) {
        Ok(i) => i,
        Err(d) => return diags.push(d),
    };
    let Some(map) = item.value.as_object() else {
        return diags.push(not_mapping(&item, "path item"));
    };
    let shared = parameters(set, &item, map, is_32, diags);
    for (method, pointer, op) in operations(&item, map, is_32, diags) {
        let Some(op_map) = op.as_object() else {
            diags.push(Diagnostic::error(
                Code::E1006,
                &item.file.display,
                &pointer,
                "operation is not a mapping",
                "write the operation as a mapping with `responses` and `x-barbacane-dispatch`",
            ));
            continue;
        };
        let located = Located {
            file: item.file,
            pointer: pointer.clone(),
            value: op,
        };
        let own = parameters(set, &located, op_map, is_32, diags);
        let mut merged = shared.clone();
        for p in own {
            merged.retain(|q: &ParameterDef| !(q.name == p.name && q.location == p.location));
            merged.push(p);
        }
        let body = op_map.get("requestBody").and_then(|b| {
            request_body(
                set,
                Located {
                    file: item.file,
                    pointer: push(&pointer, "requestBody"),
                    value: b,
                },
                is_32,
                diags,
            )
        });
        out.push(OperationDef {
            path: path.to_owned(),
            method,
            file: item.file.display.clone(),
            operation_id: op_map
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: merged,
            body,
            dispatch: extension(item.file, &pointer, op_map, "x-barbacane-dispatch"),
            middlewares: extension(item.file, &pointer, op_map, "x-barbacane-middlewares"),
            ratelimit: extension(item.file, &pointer, op_map, "x-barbacane-ratelimit"),
            cache: extension(item.file, &pointer, op_map, "x-barbacane-cache"),
            sunset: extension(item.file, &pointer, op_map, "x-barbacane-sunset"),
            observability: extension(item.file, &pointer, op_map, "x-barbacane-observability"),
            security: extension(item.file, &pointer, op_map, "security"),
            deprecated: op_map
                .get("deprecated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            event: None,
            pointer,
        });
    }
}

/// The operations of a path item: its method keys (`query` from OpenAPI 3.2 on) and, in 3.2,
/// the methods of `additionalOperations` (upper-case tokens such as `LINK` or `PURGE`).
fn operations<'v>(
    item: &Located<'v>,
    map: &'v Map<String, Value>,
    is_32: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(Method, String, &'v Value)> {
    let mut out = Vec::new();
    for (key, op) in map {
        match Method::from_openapi_key(key) {
            Some(Method::Query) if !is_32 => {}
            Some(method) => out.push((method, push(&item.pointer, key), op)),
            None => {}
        }
    }
    let Some(extra) = map.get("additionalOperations").filter(|_| is_32) else {
        return out;
    };
    let base = push(&item.pointer, "additionalOperations");
    let Some(extra) = extra.as_object() else {
        diags.push(Diagnostic::error(
            Code::E1006,
            &item.file.display,
            &base,
            "`additionalOperations` is not a mapping",
            "map HTTP method names to operations, e.g. `additionalOperations: {LINK: {...}}`",
        ));
        return out;
    };
    for (token, op) in extra {
        let pointer = push(&base, token);
        match Method::from_token(token) {
            Some(method) if !method.is_path_item_key() => out.push((method, pointer, op)),
            found => diags.push(Diagnostic::error(
                Code::E1006,
                &item.file.display,
                &pointer,
                match found {
                    Some(_) => format!(
                        "`{token}` has its own field in a path item; it may not appear in \
                         `additionalOperations`"
                    ),
                    None => format!("method `{token}` cannot be routed by this gateway"),
                },
                "use the path item's own field for standard methods; routable extension methods: \
                 COPY, LINK, LOCK, MKCOL, MOVE, PROPFIND, PROPPATCH, PURGE, REPORT, SEARCH, \
                 UNLINK, UNLOCK",
            )),
        }
    }
    out
}

pub(crate) fn not_mapping(node: &Located<'_>, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::E1006,
        &node.file.display,
        &node.pointer,
        format!("{what} is not a mapping"),
        format!("write the {what} as a mapping"),
    )
}

fn parameters(
    set: &DocumentSet,
    owner: &Located<'_>,
    map: &Map<String, Value>,
    is_32: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ParameterDef> {
    let mut out: Vec<ParameterDef> = Vec::new();
    let Some(list) = map.get("parameters") else {
        return out;
    };
    let list_pointer = push(&owner.pointer, "parameters");
    let Some(items) = list.as_array() else {
        diags.push(Diagnostic::error(
            Code::E1006,
            &owner.file.display,
            &list_pointer,
            "`parameters` is not a list",
            "write `parameters` as a list of parameter objects",
        ));
        return out;
    };
    for (i, raw) in items.iter().enumerate() {
        let node = Located {
            file: owner.file,
            pointer: format!("{list_pointer}/{i}"),
            value: raw,
        };
        match set.deref(node).and_then(|p| parameter(&p, is_32)) {
            Ok(p) => {
                out.retain(|q| !(q.name == p.name && q.location == p.location));
                out.push(p);
            }
            Err(d) => diags.push(d),
        }
    }
    out
}

fn parameter(node: &Located<'_>, is_32: bool) -> Result<ParameterDef, Diagnostic> {
    let bad = |message: String, hint: &str| {
        Diagnostic::error(
            Code::E1006,
            &node.file.display,
            &node.pointer,
            message,
            hint,
        )
    };
    let map = node
        .value
        .as_object()
        .ok_or_else(|| not_mapping(node, "parameter"))?;
    let name = map.get("name").and_then(Value::as_str).ok_or_else(|| {
        bad(
            "parameter has no `name`".into(),
            "add `name: <parameter name>`",
        )
    })?;
    let location = match map.get("in").and_then(Value::as_str) {
        Some("path") => ParamLocation::Path,
        Some("query") => ParamLocation::Query,
        Some("header") => ParamLocation::Header,
        Some("cookie") => ParamLocation::Cookie,
        Some("querystring") if is_32 => ParamLocation::Querystring,
        other => {
            return Err(bad(
                format!(
                    "parameter `{name}` has invalid `in: {}`",
                    other.unwrap_or("<missing>")
                ),
                if is_32 {
                    "set `in` to path, query, querystring, header or cookie"
                } else {
                    "set `in` to path, query, header or cookie (`querystring` needs OpenAPI 3.2)"
                },
            ));
        }
    };
    let default_style = match location {
        ParamLocation::Path | ParamLocation::Header => ParamStyle::Simple,
        ParamLocation::Query | ParamLocation::Cookie | ParamLocation::Querystring => {
            ParamStyle::Form
        }
    };
    let style = match map.get("style").and_then(Value::as_str) {
        None => default_style,
        Some(s) => parse_style(s, location).ok_or_else(|| {
            bad(
                format!(
                    "style `{s}` is not allowed for {} parameter `{name}`",
                    location.as_str()
                ),
                "use a style the OpenAPI specification allows for this location",
            )
        })?,
    };
    let (schema_pointer, content_type) = match (map.get("schema"), map.get("content")) {
        (Some(_), Some(_)) => {
            return Err(bad(
                format!("parameter `{name}` has both `schema` and `content`"),
                "keep one: `schema` (with `style`/`explode`) or `content` with one media type",
            ));
        }
        (_, Some(content)) => {
            let entries = content.as_object().filter(|m| m.len() == 1);
            let Some((media_type, entry)) = entries.and_then(|m| m.iter().next()) else {
                return Err(bad(
                    format!("parameter `{name}`: `content` must map exactly one media type"),
                    "write e.g. `content: {application/json: {schema: {...}}}`",
                ));
            };
            let pointer = push(&push(&node.pointer, "content"), media_type);
            let essence = media_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let schema = entry.get("schema").map(|_| push(&pointer, "schema"));
            (schema, Some(essence))
        }
        (Some(_), None) => (Some(push(&node.pointer, "schema")), None),
        (None, None) => (None, None),
    };
    if location == ParamLocation::Querystring && content_type.is_none() {
        return Err(bad(
            format!("`in: querystring` parameter `{name}` has no `content`"),
            "describe the whole query string with `content`, e.g. `application/x-www-form-urlencoded`",
        ));
    }
    let schema = schema_pointer.map(|pointer| SchemaLocation {
        path: node.file.path.clone(),
        file: node.file.display.clone(),
        pointer,
    });
    Ok(ParameterDef {
        name: name.to_owned(),
        location,
        required: location == ParamLocation::Path
            || map
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        explode: map
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == ParamStyle::Form),
        style,
        allow_empty_value: map
            .get("allowEmptyValue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        schema,
        content_type,
    })
}

fn parse_style(style: &str, location: ParamLocation) -> Option<ParamStyle> {
    use ParamLocation::*;
    let parsed = match style {
        "simple" => ParamStyle::Simple,
        "label" => ParamStyle::Label,
        "matrix" => ParamStyle::Matrix,
        "form" => ParamStyle::Form,
        "spaceDelimited" => ParamStyle::SpaceDelimited,
        "pipeDelimited" => ParamStyle::PipeDelimited,
        "deepObject" => ParamStyle::DeepObject,
        _ => return None,
    };
    let allowed = match parsed {
        ParamStyle::Simple => matches!(location, Path | Header),
        ParamStyle::Label | ParamStyle::Matrix => location == Path,
        ParamStyle::Form => matches!(location, Query | Cookie | Querystring),
        ParamStyle::SpaceDelimited | ParamStyle::PipeDelimited | ParamStyle::DeepObject => {
            location == Query
        }
    };
    allowed.then_some(parsed)
}

fn request_body(
    set: &DocumentSet,
    node: Located<'_>,
    is_32: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<BodyDef> {
    let node = match set.deref(node) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let Some(map) = node.value.as_object() else {
        diags.push(not_mapping(&node, "request body"));
        return None;
    };
    let mut content = Vec::new();
    if let Some(media) = map.get("content").and_then(Value::as_object) {
        for (media_type, entry) in media {
            let essence = media_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let pointer = push(&push(&node.pointer, "content"), media_type);
            let schema = entry.get("schema").map(|_| SchemaLocation {
                path: node.file.path.clone(),
                file: node.file.display.clone(),
                pointer: push(&pointer, "schema"),
            });
            let item_schema = entry
                .get("itemSchema")
                .filter(|_| is_32)
                .map(|_| SchemaLocation {
                    path: node.file.path.clone(),
                    file: node.file.display.clone(),
                    pointer: push(&pointer, "itemSchema"),
                });
            let encoding = match entry.get("encoding") {
                Some(e) => match encoding(node.file, &push(&pointer, "encoding"), e) {
                    Ok(e) => e,
                    Err(d) => {
                        diags.push(d);
                        Default::default()
                    }
                },
                None => Default::default(),
            };
            content.push(MediaTypeDef {
                media_type: essence,
                schema,
                item_schema,
                encoding,
                alternatives: Vec::new(),
            });
        }
    }
    Some(BodyDef {
        required: map
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        content,
    })
}

/// A media type's `encoding` object: per property, its content types, `style` and `explode`.
fn encoding(
    file: &SourceFile,
    pointer: &str,
    value: &Value,
) -> Result<std::collections::BTreeMap<String, barbacane_artifact::Encoding>, Diagnostic> {
    let bad = |at: &str, message: String| {
        Diagnostic::error(
            Code::E1006,
            &file.display,
            at,
            message,
            "write `encoding: {PROPERTY: {contentType: TYPE, style: form, explode: true}}`",
        )
    };
    let Some(map) = value.as_object() else {
        return Err(bad(pointer, "`encoding` is not a mapping".into()));
    };
    let mut out = std::collections::BTreeMap::new();
    for (name, entry) in map {
        let at = push(pointer, name);
        let Some(entry) = entry.as_object() else {
            return Err(bad(&at, format!("encoding of `{name}` is not a mapping")));
        };
        let style = match entry.get("style").and_then(Value::as_str) {
            None => None,
            Some(s) => Some(
                parse_style(s, ParamLocation::Query)
                    .ok_or_else(|| bad(&push(&at, "style"), format!("unknown style `{s}`")))?,
            ),
        };
        out.insert(
            name.clone(),
            barbacane_artifact::Encoding {
                content_type: entry
                    .get("contentType")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase),
                style,
                explode: entry.get("explode").and_then(Value::as_bool),
            },
        );
    }
    Ok(out)
}
