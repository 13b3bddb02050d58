//! `response-transformer`: rewrites the response on its way to the client: its status, its
//! headers and the members of a JSON body.
//!
//! # Configuration
//!
//! Every key is optional; an empty configuration changes nothing.
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `status` | object: status (as a string) → integer 100-599 | `{}` | replace a status: `{"404": 200}` turns 404 responses into 200 ones |
//! | `headers.add` | object: name → value | `{}` | set these headers, replacing any value they had |
//! | `headers.set` | object: name → value | `{}` | set these headers only when the response does not have them |
//! | `headers.remove` | array of names | `[]` | remove these headers (every value) |
//! | `headers.rename` | object: old name → new name | `{}` | move every value of a header to another name |
//! | `body.add` | object: JSON Pointer → string | `{}` | write these members of a JSON body, as JSON strings |
//! | `body.remove` | array of JSON Pointers | `[]` | remove these members (or array elements) of a JSON body |
//! | `body.rename` | object: JSON Pointer → JSON Pointer | `{}` | move a member of a JSON body to another place |
//!
//! Values are written as they are configured: unlike `request-transformer`, there are no
//! variables (the request is not readable when the response passes).
//!
//! The configuration is refused when a key of `status` is not a status code (three digits,
//! 100-599) or a new status is outside 100-599; when a header name is not an RFC 9110
//! token; when `headers.add`, `headers.set` or `headers.rename` would write a header that
//! frames the message or belongs to the connection (`content-length`, `transfer-encoding`,
//! `connection`, `keep-alive`, `proxy-connection`, `te`, `trailer`, `upgrade`: the gateway
//! writes them; removing them is allowed); when a header value holds a control character
//! (other than tab); and when a JSON Pointer is empty, does not start with `/` or holds a
//! `~` not followed by `0` or `1`.
//!
//! # Behaviour
//!
//! `on_request` lets every request through untouched. `on_response` applies, in this order:
//!
//! 1. the status: when the response's status is a key of `status`, it becomes that value
//!    (once: `{"404": 200, "200": 204}` turns a 404 into a 200, not a 204);
//! 2. the headers: `remove`, `rename`, `set`, `add`;
//! 3. the JSON body: `remove`, `rename`, `add`.
//!
//! Within one operation of a map (`add`, `set`, `rename`) the entries apply in the order of
//! their keys, sorted (the gateway hands configurations over with sorted keys).
//!
//! It runs on every response of the operation: the upstream's, a dispatcher's, and the
//! gateway's own error responses after this middleware's `on_request` ran (a 502 when the
//! upstream is unreachable, or an answer from a middleware later in the chain).
//!
//! **Headers.** Names are case-insensitive. `remove` removes every value. `rename` moves
//! every value of the old header to the new name, replacing what the new name had; nothing
//! happens when the old header is absent. `set` writes a header only when the response has
//! no value for it at that point (after `remove` and `rename`); `add` writes it whatever it
//! had, replacing every previous value.
//!
//! **JSON body.** Applied only when the response's `Content-Type` is `application/json` or
//! `application/<something>+json` (parameters such as `charset` allowed; the gateway's
//! `application/problem+json` errors included), it has no `Content-Encoding` (or
//! `identity`), and its body is one valid JSON value; any other response goes out
//! untouched. Members are addressed with JSON Pointers (RFC 6901: `/a/b` is member `b` of
//! member `a`, `/items/0` an array's first element, `~1` stands for `/` and `~0` for `~` in a
//! name). `remove` deletes a member (every one of that name, if the object repeats it) or an
//! array element. `rename` moves a value from one pointer to another (like a JSON Patch
//! `move`); nothing happens when the source is absent or the destination cannot be written.
//! `add` writes a JSON string: an existing member or array element is replaced; a missing
//! member is added at the end of its object, with objects created for missing members on
//! the way; `-` or the array's length appends to an array. A destination under a string,
//! number, boolean or null, or an array index beyond the end, is skipped. The body is edited
//! as text: what the operations do not touch keeps its bytes (member order, whitespace,
//! number spelling); each operation scans the text once and edits it in place (the plugin
//! needs about the body's size in memory). The gateway sets `Content-Length` for the new
//! body.
//!
//! Proxied response bodies normally stream past middlewares; the plugin asks the gateway for
//! whole response bodies in `init` when `body` has operations (only then, since buffering
//! delays the response's first byte). A body the gateway does not buffer (over its 8 MiB
//! limit) goes out untouched.
//!
//! Capabilities: `response`, `log`.

use std::collections::BTreeMap;

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{buffering, log};
use serde::Deserialize;

use json_edit as json;

use json::Pointer;

/// Header names only the gateway writes: message framing and hop-by-hop fields.
const RESERVED_HEADERS: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseTransformer {
    #[serde(default)]
    status: BTreeMap<String, u16>,
    #[serde(default)]
    headers: HeadersConfig,
    #[serde(default)]
    body: BodyConfig,
    /// Computed by `init`.
    #[serde(skip)]
    plan: Plan,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadersConfig {
    #[serde(default)]
    add: BTreeMap<String, String>,
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyConfig {
    #[serde(default)]
    add: BTreeMap<String, String>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
}

/// The configuration, checked and compiled.
#[derive(Debug, Default)]
struct Plan {
    status: BTreeMap<u16, u16>,
    /// Lowercase names.
    header_remove: Vec<String>,
    header_rename: Vec<(String, String)>,
    header_set: Vec<(String, String)>,
    header_add: Vec<(String, String)>,
    body_remove: Vec<Pointer>,
    body_rename: Vec<(Pointer, Pointer)>,
    /// Values as JSON string literals.
    body_add: Vec<(Pointer, String)>,
}

impl Plan {
    fn has_body_ops(&self) -> bool {
        !(self.body_remove.is_empty() && self.body_rename.is_empty() && self.body_add.is_empty())
    }
}

/// An RFC 9110 token (a header field name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header name of the configuration, lowercased; `writes` refuses reserved names.
fn header_name(key: &str, name: &str, writes: bool) -> Result<String, String> {
    if !is_token(name) {
        return Err(format!(
            "headers.{key}: `{name}` is not a valid header name (an RFC 9110 token)"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if writes && RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "headers.{key}: `{name}` frames the message or belongs to the connection; only the gateway writes it"
        ));
    }
    Ok(lower)
}

/// A header value of the configuration.
fn header_value(key: &str, name: &str, value: &str) -> Result<String, String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "headers.{key}.{name}: the value holds a control character, which a header cannot hold"
        ));
    }
    Ok(value.to_owned())
}

/// A status of the configuration: 100-599.
fn status_code(text: &str) -> Option<u16> {
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|s| (100..=599).contains(s))
}

fn pointer(key: &str, text: &str) -> Result<Pointer, String> {
    Pointer::parse(text).map_err(|e| format!("body.{key}: {e}"))
}

impl ResponseTransformer {
    fn compile(&self) -> Result<Plan, String> {
        let h = &self.headers;
        let b = &self.body;
        Ok(Plan {
            status: self
                .status
                .iter()
                .map(|(from, to)| {
                    let from = status_code(from).ok_or_else(|| {
                        format!("status: `{from}` is not a status code (100-599)")
                    })?;
                    if !(100..=599).contains(to) {
                        return Err(format!(
                            "status.{from}: {to} is not a status code (100-599)"
                        ));
                    }
                    Ok((from, *to))
                })
                .collect::<Result<_, String>>()?,
            header_remove: h
                .remove
                .iter()
                .map(|n| header_name("remove", n, false))
                .collect::<Result<_, _>>()?,
            header_rename: h
                .rename
                .iter()
                .map(|(old, new)| {
                    Ok((
                        header_name("rename", old, false)?,
                        header_name("rename", new, true)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
            header_set: h
                .set
                .iter()
                .map(|(n, v)| Ok((header_name("set", n, true)?, header_value("set", n, v)?)))
                .collect::<Result<_, String>>()?,
            header_add: h
                .add
                .iter()
                .map(|(n, v)| Ok((header_name("add", n, true)?, header_value("add", n, v)?)))
                .collect::<Result<_, String>>()?,
            body_remove: b
                .remove
                .iter()
                .map(|p| pointer("remove", p))
                .collect::<Result<_, _>>()?,
            body_rename: b
                .rename
                .iter()
                .map(|(from, to)| Ok((pointer("rename", from)?, pointer("rename", to)?)))
                .collect::<Result<_, String>>()?,
            body_add: b
                .add
                .iter()
                .map(|(p, v)| Ok((pointer("add", p)?, json::string(v))))
                .collect::<Result<_, String>>()?,
        })
    }

    fn rewrite_headers(&self, response: &mut Response) {
        for name in &self.plan.header_remove {
            response.remove_header(name);
        }
        for (old, new) in &self.plan.header_rename {
            let values = response.header_values(old);
            if values.is_empty() || old == new {
                continue;
            }
            response.remove_header(old);
            response.remove_header(new);
            for value in values {
                write_header(response, new, &value, true);
            }
        }
        for (name, value) in &self.plan.header_set {
            if response.header(name).is_none() {
                write_header(response, name, value, false);
            }
        }
        for (name, value) in &self.plan.header_add {
            write_header(response, name, value, false);
        }
    }

    fn rewrite_body(&self, response: &mut Response) {
        let is_json = response
            .header("content-type")
            .is_some_and(|t| json::is_json_media_type(&t));
        let identity = response
            .header("content-encoding")
            .is_none_or(|e| e.trim().eq_ignore_ascii_case("identity"));
        let Some(mut doc) = (is_json && identity)
            .then(|| response.body())
            .flatten()
            .and_then(json::parse)
        else {
            return;
        };
        let mut changed = false;
        for pointer in &self.plan.body_remove {
            changed |= json::remove(&mut doc, pointer);
        }
        for (from, to) in &self.plan.body_rename {
            changed |= json::rename(&mut doc, from, to);
        }
        for (pointer, value) in &self.plan.body_add {
            changed |= json::set(&mut doc, pointer, value);
        }
        if changed && response.set_body(doc.as_bytes()).is_err() {
            log::warn("the gateway refused the new body; it is left as it was");
        }
    }
}

/// Writes a header value (appending with `append`); a refusal is logged and skipped.
fn write_header(response: &mut Response, name: &str, value: &str, append: bool) {
    let written = if append {
        response.add_header(name, value)
    } else {
        response.set_header(name, value)
    };
    if written.is_err() {
        log::warn(&format!(
            "the gateway refused a value for header `{name}`; the header is skipped"
        ));
    }
}

impl Middleware for ResponseTransformer {
    fn init(&mut self) -> Result<(), String> {
        self.plan = self.compile()?;
        if self.plan.has_body_ops() {
            buffering::response_body();
        }
        Ok(())
    }

    fn on_request(&mut self, _request: &mut Request) -> Action {
        Action::Continue
    }

    fn on_response(&mut self, response: &mut Response) {
        if let Some(&status) = self.plan.status.get(&response.status())
            && response.set_status(status).is_err()
        {
            log::warn(&format!("the gateway refused the status {status}"));
        }
        self.rewrite_headers(response);
        if self.plan.has_body_ops() {
            self.rewrite_body(response);
        }
    }
}

#[cfg(test)]
mod tests;
