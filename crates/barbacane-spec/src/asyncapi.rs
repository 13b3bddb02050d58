//! AsyncAPI 3.0 documents to the same typed model as OpenAPI ones.
//!
//! An operation becomes a route on its channel's `address` (a `/` is put in front of an
//! address that lacks one, so `orders.{id}` is served as `/orders.{id}`):
//! - `action: send` -> `POST`: clients publish; the body must be one of the operation's
//!   messages (its payload schema, for its content type), message `headers` are header
//!   parameters;
//! - `action: receive` -> `GET`: clients subscribe (a Server-Sent Events stream).
//!
//! Channel `parameters` are path parameters. AsyncAPI 3.0's Parameter Object has no schema
//! (`enum`, `default`, `description`, `examples`), which are JSON Schema keywords too, so the
//! parameter object itself is the schema; a `schema` key (AsyncAPI 2 style, found in
//! existing specs) wins when present.
//!
//! Security: an operation's `security` list (alternatives, as in AsyncAPI) is the requirement
//! checked against its chain (E1032), else that of the servers the channel is served on,
//! counting only servers HTTP clients reach (`http`, `https`, `ws`, `wss`): a broker server's
//! scheme is about the gateway's connection to the broker, not about clients.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use crate::model::{EventDef, MessageDef, SchemaLocation};
use crate::openapi::{extension, not_mapping};
use crate::pointer::push;
use crate::{
    BodyDef, Code, Diagnostic, Dialect, DocumentSet, Extension, Located, MediaTypeDef, Method,
    OperationDef, ParamLocation, ParamStyle, ParameterDef, SourceFile, Spec, SpecKind,
};
use barbacane_artifact::EventAction;

/// Schema formats whose schemas are JSON Schema (draft-07 and AsyncAPI's superset of it).
fn is_json_schema_format(format: &str) -> bool {
    let essence = format
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/vnd.aai.asyncapi"
            | "application/vnd.aai.asyncapi+json"
            | "application/vnd.aai.asyncapi+yaml"
            | "application/schema+json"
            | "application/schema+yaml"
    )
}

/// Builds the model of one AsyncAPI root document.
pub(crate) fn parse_asyncapi(
    set: &DocumentSet,
    root: &SourceFile,
    doc: &Map<String, Value>,
) -> Result<Spec, Vec<Diagnostic>> {
    let version = match doc.get("asyncapi") {
        Some(Value::String(v)) if v == "3.0" || v.starts_with("3.0.") => v.clone(),
        Some(Value::String(v)) => {
            return Err(vec![Diagnostic::error(
                Code::E1002,
                &root.display,
                "/asyncapi",
                format!("AsyncAPI version `{v}` is not supported (3.0.x is)"),
                "convert the document to AsyncAPI 3.0 (`asyncapi: 3.0.0`); 2.x documents can be \
                 converted with the AsyncAPI converter",
            )]);
        }
        _ => {
            return Err(vec![Diagnostic::error(
                Code::E1002,
                &root.display,
                "/asyncapi",
                "`asyncapi` must be a version string such as \"3.0.0\"",
                "quote the version: `asyncapi: \"3.0.0\"`",
            )]);
        }
    };
    let mut diags = Vec::new();
    let schemes = security_schemes(set, root, doc);
    let servers = servers(set, root, doc, &mut diags);
    let default_content_type = doc
        .get("defaultContentType")
        .and_then(Value::as_str)
        .unwrap_or("application/json")
        .to_owned();
    let mut spec = Spec {
        path: root.path.clone(),
        display: root.display.clone(),
        logical: root.logical.clone(),
        kind: SpecKind::AsyncApi,
        version,
        dialect: Dialect::Draft07,
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
        security: None,
        security_schemes: schemes.kinds,
        operations: Vec::new(),
        warnings: Vec::new(),
    };
    let context = Context {
        set,
        default_content_type: &default_content_type,
        servers: &servers,
        scheme_names: &schemes.names,
    };
    match doc.get("operations") {
        None => {}
        Some(Value::Object(operations)) => {
            for (id, op) in operations {
                if id.starts_with("x-") {
                    continue;
                }
                let node = Located {
                    file: root,
                    pointer: push("/operations", id),
                    value: op,
                };
                if let Some(def) = context.operation(id, node, &mut diags) {
                    spec.operations.push(def);
                }
            }
        }
        Some(_) => diags.push(Diagnostic::error(
            Code::E1006,
            &root.display,
            "/operations",
            "`operations` is not a mapping",
            "make `operations` a mapping from operation ids to operations",
        )),
    }
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        spec.warnings = diags;
        Ok(spec)
    }
}

struct Schemes {
    /// Scheme name -> kind, as `Spec::security_schemes`.
    kinds: BTreeMap<String, String>,
    /// (canonical file, pointer) of each component scheme -> its name, for `$ref`s.
    names: BTreeMap<(std::path::PathBuf, String), String>,
}

/// `components.securitySchemes`, with AsyncAPI's kinds mapped to the ones E1032 judges.
fn security_schemes(set: &DocumentSet, root: &SourceFile, doc: &Map<String, Value>) -> Schemes {
    let mut out = Schemes {
        kinds: BTreeMap::new(),
        names: BTreeMap::new(),
    };
    let Some(schemes) = doc
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Value::as_object)
    else {
        return out;
    };
    for (name, scheme) in schemes {
        let pointer = push("/components/securitySchemes", name);
        let node = Located {
            file: root,
            pointer: pointer.clone(),
            value: scheme,
        };
        let kind = set
            .deref(node)
            .map(|n| scheme_kind(n.value))
            .unwrap_or("other");
        out.kinds.insert(name.clone(), kind.to_owned());
        out.names.insert((root.path.clone(), pointer), name.clone());
    }
    out
}

fn scheme_kind(scheme: &Value) -> &'static str {
    match scheme.get("type").and_then(Value::as_str) {
        Some("httpApiKey") => "apiKey",
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
        Some("oauth2") => "oauth2",
        Some("openIdConnect") => "openIdConnect",
        Some("X509") => "mutualTLS",
        // `apiKey` (in user/password), `userPassword`, SASL and `gssapi` authenticate a
        // broker connection.
        _ => "other",
    }
}

/// The document's servers, and where each is declared (its entry under `servers` and, for a
/// `$ref`ed one, its definition), so channel `servers` `$ref`s find them.
#[derive(Default)]
struct Servers {
    list: Vec<ServerInfo>,
    by_location: BTreeMap<(std::path::PathBuf, String), usize>,
}

/// A server: whether HTTP clients reach it, and its security list.
struct ServerInfo {
    http_facing: bool,
    /// The server's `security` list: (canonical file, pointer, value).
    security: Option<(std::path::PathBuf, String, Value)>,
}

fn servers(
    set: &DocumentSet,
    root: &SourceFile,
    doc: &Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
) -> Servers {
    let mut out = Servers::default();
    let Some(servers) = doc.get("servers").and_then(Value::as_object) else {
        return out;
    };
    for (name, server) in servers {
        let pointer = push("/servers", name);
        let node = Located {
            file: root,
            pointer: pointer.clone(),
            value: server,
        };
        let server = match set.deref(node) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let protocol = server
            .value
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let info = ServerInfo {
            http_facing: matches!(protocol.as_str(), "http" | "https" | "ws" | "wss"),
            security: server.value.get("security").map(|s| {
                (
                    server.file.path.clone(),
                    push(&server.pointer, "security"),
                    s.clone(),
                )
            }),
        };
        let index = out.list.len();
        out.list.push(info);
        out.by_location.insert((root.path.clone(), pointer), index);
        out.by_location
            .insert((server.file.path.clone(), server.pointer.clone()), index);
    }
    out
}

struct Context<'a> {
    set: &'a DocumentSet,
    default_content_type: &'a str,
    servers: &'a Servers,
    scheme_names: &'a BTreeMap<(std::path::PathBuf, String), String>,
}

impl Context<'_> {
    fn operation(
        &self,
        id: &str,
        node: Located<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<OperationDef> {
        let op = match self.set.deref(node.clone()) {
            Ok(op) => op,
            Err(d) => {
                diags.push(d);
                return None;
            }
        };
        let Some(map) = op.value.as_object() else {
            diags.push(not_mapping(&op, "operation"));
            return None;
        };
        let error = |at: &str, message: String, hint: &str| {
            Diagnostic::error(Code::E1006, &op.file.display, at, message, hint)
        };
        let action = match map.get("action").and_then(Value::as_str) {
            Some("send") => EventAction::Send,
            Some("receive") => EventAction::Receive,
            other => {
                diags.push(error(
                    &push(&op.pointer, "action"),
                    format!(
                        "operation `{id}` has action `{}`",
                        other.unwrap_or("<missing>")
                    ),
                    "set `action` to `send` (clients publish through the gateway) or `receive` \
                     (clients subscribe through it)",
                ));
                return None;
            }
        };
        let Some(channel_ref) = map.get("channel") else {
            diags.push(error(
                &op.pointer,
                format!("operation `{id}` has no `channel`"),
                "add `channel: {$ref: '#/channels/NAME'}`",
            ));
            return None;
        };
        let channel_node = Located {
            file: op.file,
            pointer: push(&op.pointer, "channel"),
            value: channel_ref,
        };
        let channel = match self.set.deref(channel_node) {
            Ok(c) => c,
            Err(d) => {
                diags.push(d);
                return None;
            }
        };
        let Some(channel_map) = channel.value.as_object() else {
            diags.push(not_mapping(&channel, "channel"));
            return None;
        };
        let address = match channel_map.get("address") {
            Some(Value::String(a)) if !a.is_empty() => a.clone(),
            Some(Value::String(_) | Value::Null) | None => {
                diags.push(error(
                    &push(&channel.pointer, "address"),
                    format!(
                        "operation `{id}` uses a channel without an `address`, so it has no route"
                    ),
                    "give the channel an `address` such as `/events/orders` (or `orders.{id}`)",
                ));
                return None;
            }
            Some(_) => {
                diags.push(error(
                    &push(&channel.pointer, "address"),
                    "channel `address` is not a string".into(),
                    "write the address as a string such as `/events/orders/{orderId}`",
                ));
                return None;
            }
        };
        let path = if address.starts_with('/') {
            address.clone()
        } else {
            format!("/{address}")
        };
        let mut parameters = self.channel_parameters(&channel, channel_map, diags);
        let messages = self.messages(&op, map, &channel, channel_map, diags);
        let body = match action {
            EventAction::Send => {
                parameters.extend(self.header_parameters(&messages));
                Some(body(&messages))
            }
            EventAction::Receive => None,
        };
        let security = match map.get("security") {
            Some(list) => self.requirements(op.file, &push(&op.pointer, "security"), list, diags),
            None => self.server_requirements(&channel, channel_map),
        };
        Some(OperationDef {
            path,
            method: match action {
                EventAction::Send => Method::Post,
                EventAction::Receive => Method::Get,
            },
            file: op.file.display.clone(),
            operation_id: Some(id.to_owned()),
            parameters,
            body,
            dispatch: extension(op.file, &op.pointer, map, "x-barbacane-dispatch"),
            middlewares: extension(op.file, &op.pointer, map, "x-barbacane-middlewares"),
            ratelimit: extension(op.file, &op.pointer, map, "x-barbacane-ratelimit"),
            cache: extension(op.file, &op.pointer, map, "x-barbacane-cache"),
            sunset: extension(op.file, &op.pointer, map, "x-barbacane-sunset"),
            observability: extension(op.file, &op.pointer, map, "x-barbacane-observability"),
            security,
            deprecated: map
                .get("x-barbacane-deprecated")
                .or_else(|| map.get("deprecated"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            event: Some(EventDef {
                action,
                address,
                messages: messages.into_iter().map(|m| m.def).collect(),
            }),
            pointer: op.pointer.clone(),
        })
    }

    /// The channel's `parameters` as path parameters.
    fn channel_parameters(
        &self,
        channel: &Located<'_>,
        map: &Map<String, Value>,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<ParameterDef> {
        let Some(params) = map.get("parameters") else {
            return Vec::new();
        };
        let base = push(&channel.pointer, "parameters");
        let Some(params) = params.as_object() else {
            diags.push(Diagnostic::error(
                Code::E1006,
                &channel.file.display,
                &base,
                "channel `parameters` is not a mapping",
                "map each `{name}` of the address to a parameter object",
            ));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, param) in params {
            let node = Located {
                file: channel.file,
                pointer: push(&base, name),
                value: param,
            };
            let param = match self.set.deref(node) {
                Ok(p) => p,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            if !param.value.is_object() {
                diags.push(not_mapping(&param, "parameter"));
                continue;
            }
            let pointer = if param.value.get("schema").is_some() {
                push(&param.pointer, "schema")
            } else {
                param.pointer.clone()
            };
            out.push(ParameterDef {
                name: name.clone(),
                location: ParamLocation::Path,
                required: true,
                style: ParamStyle::Simple,
                explode: false,
                allow_empty_value: false,
                schema: Some(SchemaLocation {
                    path: param.file.path.clone(),
                    file: param.file.display.clone(),
                    pointer,
                }),
                content_type: None,
            });
        }
        out
    }

    /// The operation's messages (its `messages` list, else every message of the channel).
    fn messages(
        &self,
        op: &Located<'_>,
        map: &Map<String, Value>,
        channel: &Located<'_>,
        channel_map: &Map<String, Value>,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Message> {
        let mut nodes = Vec::new();
        match map.get("messages") {
            Some(Value::Array(list)) => {
                let base = push(&op.pointer, "messages");
                for (i, item) in list.iter().enumerate() {
                    nodes.push(Located {
                        file: op.file,
                        pointer: format!("{base}/{i}"),
                        value: item,
                    });
                }
            }
            Some(_) => diags.push(Diagnostic::error(
                Code::E1006,
                &op.file.display,
                push(&op.pointer, "messages"),
                "operation `messages` is not a list",
                "list `$ref`s to the channel's messages, e.g. `- $ref: '#/channels/c/messages/m'`",
            )),
            None => {
                if let Some(messages) = channel_map.get("messages").and_then(Value::as_object) {
                    let base = push(&channel.pointer, "messages");
                    for (key, item) in messages {
                        nodes.push(Located {
                            file: channel.file,
                            pointer: push(&base, key),
                            value: item,
                        });
                    }
                }
            }
        }
        nodes
            .into_iter()
            .filter_map(|node| self.message(node, diags))
            .collect()
    }

    fn message(&self, node: Located<'_>, diags: &mut Vec<Diagnostic>) -> Option<Message> {
        let message = match self.set.deref(node) {
            Ok(m) => m,
            Err(d) => {
                diags.push(d);
                return None;
            }
        };
        let Some(map) = message.value.as_object() else {
            diags.push(not_mapping(&message, "message"));
            return None;
        };
        let name = map
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| crate::pointer::tokens(&message.pointer).and_then(|mut t| t.pop()))
            .unwrap_or_default();
        let content_type = map
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or(self.default_content_type)
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let payload = map.get("payload").and_then(|payload| {
            let at = push(&message.pointer, "payload");
            match payload.get("schemaFormat").and_then(Value::as_str) {
                None => Some(at),
                Some(format) if is_json_schema_format(format) => {
                    payload.get("schema").is_some().then(|| push(&at, "schema"))
                }
                Some(format) => {
                    diags.push(Diagnostic::warning(
                        Code::W1005,
                        &message.file.display,
                        push(&at, "schemaFormat"),
                        format!(
                            "message `{name}`: payload schema format `{format}` is not JSON \
                             Schema; its payloads are not validated by the gateway"
                        ),
                        "describe the payload with a JSON Schema (AsyncAPI's default format) to \
                         have the gateway validate it",
                    ));
                    None
                }
            }
        });
        let headers = map.get("headers").map(|h| Located {
            file: message.file,
            pointer: push(&message.pointer, "headers"),
            value: h,
        });
        let headers = headers.and_then(|h| match self.set.deref(h) {
            Ok(h) => Some((h.file, h.pointer, h.value)),
            Err(d) => {
                diags.push(d);
                None
            }
        });
        Some(Message {
            def: MessageDef {
                name,
                content_type,
                payload: payload.map(|pointer| SchemaLocation {
                    path: message.file.path.clone(),
                    file: message.file.display.clone(),
                    pointer,
                }),
            },
            has_payload: map.contains_key("payload"),
            headers: headers.map(|(file, pointer, value)| MessageHeaders {
                file: file.path.clone(),
                display: file.display.clone(),
                pointer,
                value: value.clone(),
            }),
        })
    }

    /// Message `headers` (a schema of `type: object`) as header parameters: a header is
    /// required when every message requires it, and checked against its schema when only one
    /// message declares it (several messages' rules for one header are not merged).
    fn header_parameters(&self, messages: &[Message]) -> Vec<ParameterDef> {
        let mut seen: BTreeMap<String, (usize, usize, Option<SchemaLocation>)> = BTreeMap::new();
        for message in messages {
            let Some(headers) = &message.headers else {
                continue;
            };
            let Some(properties) = headers.value.get("properties").and_then(Value::as_object)
            else {
                continue;
            };
            let required: Vec<&str> = headers
                .value
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in properties.keys() {
                let entry = seen.entry(name.clone()).or_insert((0, 0, None));
                entry.0 += 1;
                if required.contains(&name.as_str()) {
                    entry.1 += 1;
                }
                entry.2 = Some(SchemaLocation {
                    path: headers.file.clone(),
                    file: headers.display.clone(),
                    pointer: push(&push(&headers.pointer, "properties"), name),
                });
            }
        }
        seen.into_iter()
            .filter(|(name, _)| {
                // As in OpenAPI, these are the gateway's and the client's business.
                !["content-type", "accept", "authorization"]
                    .contains(&name.to_ascii_lowercase().as_str())
            })
            .map(|(name, (declared, required, schema))| ParameterDef {
                name,
                location: ParamLocation::Header,
                required: required == messages.len(),
                style: ParamStyle::Simple,
                explode: false,
                allow_empty_value: false,
                schema: if declared == 1 { schema } else { None },
                content_type: None,
            })
            .collect()
    }

    /// A `security` list (Security Scheme Objects or `$ref`s to them: any one may be met) as
    /// OpenAPI requirement alternatives, which E1032 understands.
    fn requirements(
        &self,
        file: &SourceFile,
        pointer: &str,
        list: &Value,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Extension> {
        let Some(items) = list.as_array() else {
            diags.push(Diagnostic::error(
                Code::E1006,
                &file.display,
                pointer,
                "`security` is not a list",
                "list security schemes, e.g. `- $ref: '#/components/securitySchemes/key'`",
            ));
            return None;
        };
        let mut alternatives = Vec::new();
        for item in items {
            let name = item
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| self.set.resolve_ref(&file.path, r).ok())
                .and_then(|target| {
                    self.scheme_names
                        .get(&(target.file.path.clone(), target.pointer.clone()))
                        .cloned()
                });
            // An inline scheme, or one outside `components`, is not judged (like an OpenAPI
            // requirement naming an undeclared scheme).
            alternatives.push(match name {
                Some(n) => json!({ n: [] }),
                None => json!({ "<inline>": [] }),
            });
        }
        Some(Extension {
            file: file.display.clone(),
            pointer: pointer.to_owned(),
            value: Value::Array(alternatives),
        })
    }

    /// The requirement of the HTTP-facing servers the channel is served on (all servers when
    /// the channel lists none); `None` when none of them declares security.
    fn server_requirements(
        &self,
        channel: &Located<'_>,
        map: &Map<String, Value>,
    ) -> Option<Extension> {
        let chosen: Vec<&ServerInfo> = match map.get("servers").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .filter_map(|s| s.get("$ref").and_then(Value::as_str))
                .filter_map(|r| self.set.resolve_ref(&channel.file.path, r).ok())
                .filter_map(|t| {
                    self.servers
                        .by_location
                        .get(&(t.file.path.clone(), t.pointer.clone()))
                })
                .map(|&i| &self.servers.list[i])
                .collect(),
            None => self.servers.list.iter().collect(),
        };
        let facing: Vec<&ServerInfo> = chosen.into_iter().filter(|s| s.http_facing).collect();
        if facing.iter().all(|s| s.security.is_none()) {
            return None;
        }
        let mut alternatives = Vec::new();
        let mut at = None;
        for server in facing {
            match &server.security {
                // A server without security makes the channel reachable without credentials.
                None => alternatives.push(json!({})),
                Some((path, pointer, value)) => {
                    let Some(file) = self.set.file(path) else {
                        continue;
                    };
                    at.get_or_insert((file.display.clone(), pointer.clone()));
                    if let Some(ext) = self.requirements(file, pointer, value, &mut Vec::new())
                        && let Value::Array(list) = ext.value
                    {
                        alternatives.extend(list);
                    }
                }
            }
        }
        let (file, pointer) = at?;
        Some(Extension {
            file,
            pointer,
            value: Value::Array(alternatives),
        })
    }
}

/// A message with what the request side needs beyond its model.
struct Message {
    def: MessageDef,
    /// Whether it declares a payload at all (a message without one carries any body).
    has_payload: bool,
    headers: Option<MessageHeaders>,
}

struct MessageHeaders {
    file: std::path::PathBuf,
    display: String,
    pointer: String,
    value: Value,
}

/// The request body of a `send` operation: per content type, the body is any of the
/// messages of that type (a type with a message whose payload is unchecked carries any body).
fn body(messages: &[Message]) -> BodyDef {
    let mut by_type: Vec<(String, Vec<Option<SchemaLocation>>)> = Vec::new();
    for m in messages {
        let schema = if m.has_payload {
            m.def.payload.clone()
        } else {
            None
        };
        match by_type.iter_mut().find(|(t, _)| *t == m.def.content_type) {
            Some((_, list)) => list.push(schema),
            None => by_type.push((m.def.content_type.clone(), vec![schema])),
        }
    }
    BodyDef {
        required: true,
        content: by_type
            .into_iter()
            .map(|(media_type, schemas)| {
                let all: Option<Vec<SchemaLocation>> = schemas.into_iter().collect();
                let (schema, alternatives) = match all {
                    Some(mut list) if !list.is_empty() => {
                        let first = list.remove(0);
                        (Some(first), list)
                    }
                    _ => (None, Vec::new()),
                };
                MediaTypeDef {
                    media_type,
                    schema,
                    item_schema: None,
                    encoding: Default::default(),
                    alternatives,
                }
            })
            .collect(),
    }
}
