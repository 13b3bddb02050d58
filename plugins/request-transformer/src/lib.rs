//! `request-transformer`: rewrites the request on its way to the dispatcher: its path, its
//! headers, its query string and the members of a JSON body, with values that may be taken
//! from the request itself (a header, a query parameter, a cookie, the client address) or
//! from the request context.
//!
//! # Configuration
//!
//! Every key is optional; an empty configuration changes nothing.
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `headers.add` | object: name → value | `{}` | set these headers, replacing any value they had |
//! | `headers.set` | object: name → value | `{}` | set these headers only when the request does not have them |
//! | `headers.remove` | array of names | `[]` | remove these headers (every value) |
//! | `headers.rename` | object: old name → new name | `{}` | move every value of a header to another name |
//! | `querystring.add` | object: name → value | `{}` | set these query parameters, replacing any value they had |
//! | `querystring.remove` | array of names | `[]` | remove these query parameters (every occurrence) |
//! | `querystring.rename` | object: old name → new name | `{}` | rename a query parameter, keeping its values |
//! | `path.strip_prefix` | string starting with `/` | none | remove this leading part of the path |
//! | `path.add_prefix` | string starting with `/` | none | put this in front of the path |
//! | `path.replace` | `{pattern, replacement}`, both required | none | rewrite the path with a regular expression |
//! | `body.add` | object: JSON Pointer → string | `{}` | write these members of a JSON body, as JSON strings |
//! | `body.remove` | array of JSON Pointers | `[]` | remove these members (or array elements) of a JSON body |
//! | `body.rename` | object: JSON Pointer → JSON Pointer | `{}` | move a member of a JSON body to another place |
//! | `skip_if_empty` | bool | `false` | skip an add or set whose value uses a variable that resolves to nothing |
//!
//! The values of `headers.add`, `headers.set`, `querystring.add` and `body.add` may use
//! variables (below).
//!
//! The configuration is refused when a header name is not an RFC 9110 token; when
//! `headers.add`, `headers.set` or `headers.rename` would write a header that frames the
//! message or belongs to the connection (`content-length`, `transfer-encoding`,
//! `connection`, `keep-alive`, `proxy-connection`, `te`, `trailer`, `upgrade`: they are the
//! gateway's business; removing them is allowed); when a header value holds a control
//! character (other than tab); when a query parameter name is empty; when `strip_prefix` or
//! `add_prefix` does not start with `/` or holds `?`, `#` or whitespace; when
//! `path.replace.pattern` is not a valid regular expression, or its `replacement` refers to
//! a group the pattern does not have; and when a JSON Pointer is empty, does not start with
//! `/` or holds a `~` not followed by `0` or `1`.
//!
//! # Behaviour
//!
//! `on_request` applies, in this order:
//!
//! 1. the path: `strip_prefix`, then `add_prefix`, then `replace`;
//! 2. the headers: `remove`, `rename`, `set`, `add`;
//! 3. the query string: `remove`, `rename`, `add`;
//! 4. the JSON body: `remove`, `rename`, `add`.
//!
//! then lets the request go on. The plugin never answers the request itself. Within one
//! operation of a map (`add`, `set`, `rename`) the entries apply in the order of their
//! keys, sorted (the gateway hands configurations over with sorted keys, so the order they
//! were written in is not known).
//!
//! **Path.** The path as received (percent-encoded). `strip_prefix` removes the prefix only
//! at a segment boundary: `/api` strips from `/api/users` (giving `/users`) and from `/api`
//! (giving `/`), not from `/apis`; a trailing `/` of the configured prefix is ignored, and a
//! path without the prefix is left as it is. `add_prefix` (trailing `/` ignored) is put in
//! front of the path: `/v2` makes `/users` into `/v2/users` and `/` into `/v2/`.
//! `replace.pattern` is a regular expression (the `regex` crate's syntax, matched on the
//! path's bytes with Unicode mode off, so `\d`, `\w` and `(?i)` are their ASCII forms:
//! paths are ASCII, non-ASCII characters arriving percent-encoded); every non-overlapping
//! match is replaced by `replacement`, in which `$1`/`${1}` stand for numbered groups,
//! `$name`/`${name}` for named ones and `$$` for `$` (write `${1}x`, not `$1x`, which names a
//! group `1x`). Anchor the pattern (`^/users/(\d+)$`) to rewrite only whole paths. A result
//! not starting with `/` gets one, an empty result is `/`, and characters a path cannot
//! hold (space, `?`, `#`, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, controls,
//! non-ASCII, a `%` not followed by two hex digits) are percent-encoded.
//!
//! **Headers.** Names are case-insensitive. `remove` removes every value. `rename` moves
//! every value of the old header to the new name, replacing what the new name had; nothing
//! happens when the old header is absent. `set` writes a header only when the request has no
//! value for it at that point (after `remove` and `rename`); `add` writes it whatever it had,
//! replacing every previous value. A value the gateway refuses (a variable brought in a
//! character a header cannot hold) is skipped, with a warning in the log.
//!
//! **Query string.** The query is split on `&`; a parameter's name is the part before the
//! first `=`, percent-decoded (`+` is not read as a space), and compared case-sensitively.
//! Parameters no operation touches keep their place and their exact bytes. `remove` drops
//! every occurrence. `rename` gives every occurrence of the old name the new one (its value
//! unchanged) and drops occurrences the new name already had; nothing happens when the old
//! name is absent. `add` replaces the value of the first occurrence (dropping any other), or
//! appends the parameter at the end. Names and values written are percent-encoded (every
//! byte but ASCII letters, digits and `-._~`). A query left empty is removed.
//!
//! **JSON body.** Applied only when the request's `Content-Type` is `application/json` or
//! `application/<something>+json` (parameters such as `charset` allowed), it has no
//! `Content-Encoding` (or `identity`), and the body the gateway holds is one valid JSON
//! value; any other body, or none, goes on untouched.
//! Members are addressed with JSON Pointers (RFC 6901: `/a/b` is member `b` of member `a`,
//! `/items/0` an array's first element, `~1` stands for `/` and `~0` for `~` in a name).
//! `remove` deletes a member (every one of that name, if the object repeats it) or an array
//! element. `rename` moves a value from one pointer to another (like a JSON Patch `move`);
//! nothing happens when the source is absent or the destination cannot be written. `add`
//! writes a JSON string: an existing member or array element is replaced; a missing member is
//! added at the end of its object, with objects created for missing members on the way
//! (`/meta/source` in `{}` gives `{"meta":{"source":"..."}}`); `-` or the array's length
//! appends to an array. A destination under a string, number, boolean or null, or an array
//! index beyond the end, is skipped. The body is edited as text: what the operations do not
//! touch keeps its bytes (member order, whitespace, number spelling); each operation scans
//! the text once and edits it in place (the plugin needs about the body's size in memory).
//! When the body changed and the request has a `Content-Length`, it is updated to the new
//! length.
//!
//! The gateway shows middlewares the request body only when it holds it in memory, so the
//! plugin asks for bodies in `init` when `body` has operations (only then: a configuration
//! that touches no body lets uploads stream).
//!
//! # Variables
//!
//! A value may embed `$` variables (`Bearer $cookie.sso`, `$client_ip`):
//!
//! | variable | value |
//! |---|---|
//! | `$client_ip` | the address of the connection's peer (a proxy's address, behind one) |
//! | `$header.<name>` | the first value of the request header (name case-insensitive) |
//! | `$query.<name>` | the first value of the query parameter, percent-decoded (`+` stays `+`) |
//! | `$cookie.<name>` | the value of the cookie from the `Cookie` header (name case-sensitive) |
//! | `$path.<name>` | the route's template variable `<name>` (`{id}` in `/pets/{id}`), percent-decoded |
//!
//! A variable's name is the longest run of ASCII letters, digits, `-`, `_` and `.` after
//! the dot, without trailing dots (`$header.x-user.` is the header `x-user` followed by a
//! `.`). A value that is exactly `context:<key>` is the request context value `<key>` (set by
//! an earlier plugin, e.g. `context:auth.sub`); `context:` elsewhere in a value is plain
//! text.
//!
//! Variables are read from the request as it arrived at this plugin, before any of its
//! changes: `add` of `x-user: $header.authorization` sees the `Authorization` header even
//! when `remove` removes it. A variable whose value is absent (no such header, parameter,
//! cookie or context value; an unknown client address) is empty. A `$` not followed by a
//! known variable (`$5`, `$unknown.x`, `$` alone) is kept as it is.
//!
//! With `skip_if_empty: true`, an `add` or `set` (headers, query, body) whose value uses a
//! variable that resolves to the empty string is not applied at all; a value without
//! variables, even an empty one, is always written.
//!
//! Capabilities: `request`, `response`, `context`, `log`.

use std::collections::BTreeMap;

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{buffering, log};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use json_edit as json;
mod query;
mod template;

use json::Pointer;
use template::{Snapshot, Template};

/// The largest compiled form of `path.replace.pattern`, in bytes (the instance has 16 MiB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

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
pub struct RequestTransformer {
    #[serde(default)]
    headers: HeadersConfig,
    #[serde(default)]
    querystring: QueryConfig,
    #[serde(default)]
    path: PathConfig,
    #[serde(default)]
    body: BodyConfig,
    #[serde(default)]
    skip_if_empty: bool,
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
struct QueryConfig {
    #[serde(default)]
    add: BTreeMap<String, String>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathConfig {
    #[serde(default)]
    strip_prefix: Option<String>,
    #[serde(default)]
    add_prefix: Option<String>,
    #[serde(default)]
    replace: Option<ReplaceConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceConfig {
    pattern: String,
    replacement: String,
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
    strip_prefix: String,
    add_prefix: String,
    replace: Option<(Regex, String)>,
    /// Lowercase names.
    header_remove: Vec<String>,
    header_rename: Vec<(String, String)>,
    header_set: Vec<(String, Template)>,
    header_add: Vec<(String, Template)>,
    query_remove: Vec<String>,
    query_rename: Vec<(String, String)>,
    query_add: Vec<(String, Template)>,
    body_remove: Vec<Pointer>,
    body_rename: Vec<(Pointer, Pointer)>,
    body_add: Vec<(Pointer, Template)>,
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

/// A header value of the configuration (before interpolation).
fn header_value(key: &str, name: &str, value: &str) -> Result<Template, String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "headers.{key}.{name}: the value holds a control character, which a header cannot hold"
        ));
    }
    Ok(Template::parse(value))
}

/// A `strip_prefix` / `add_prefix`, without its trailing `/`s (`/` alone: empty, no effect).
fn path_prefix(key: &str, prefix: &str) -> Result<String, String> {
    if !prefix.starts_with('/') {
        return Err(format!("path.{key} `{prefix}` must start with `/`"));
    }
    if prefix.contains(['?', '#']) || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path.{key} `{prefix}` may not hold `?`, `#`, whitespace or control characters"
        ));
    }
    Ok(prefix.trim_end_matches('/').to_owned())
}

/// Compiles `path.replace`; refuses a replacement naming a group the pattern lacks.
fn compile_replace(config: &ReplaceConfig) -> Result<(Regex, String), String> {
    let regex = RegexBuilder::new(&config.pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            format!(
                "path.replace.pattern `{}` is not a valid regular expression: {e}",
                config.pattern
            )
        })?;
    for group in replacement_groups(&config.replacement) {
        let known = match group.parse::<usize>() {
            Ok(i) => i < regex.captures_len(),
            Err(_) => regex.capture_names().any(|n| n == Some(group)),
        };
        if !known {
            return Err(format!(
                "path.replace.replacement `{}` refers to group `{group}`, which the pattern does not have (write `${{1}}x` rather than `$1x` to follow a group with text)",
                config.replacement
            ));
        }
    }
    Ok((regex, config.replacement.clone()))
}

/// The group names and numbers a replacement refers to, as the `regex` crate reads them:
/// `$$` is a `$`, `${name}` a group, `$name` the longest run of `[0-9A-Za-z_]`.
fn replacement_groups(replacement: &str) -> Vec<&str> {
    let mut groups = Vec::new();
    let mut rest = replacement;
    while let Some(at) = rest.find('$') {
        let after = rest.get(at + 1..).unwrap_or_default();
        if let Some(next) = after.strip_prefix('$') {
            rest = next;
        } else if let Some((name, next)) = after
            .strip_prefix('{')
            .and_then(|braced| braced.split_once('}'))
            .filter(|(name, _)| !name.is_empty())
        {
            groups.push(name);
            rest = next;
        } else {
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len > 0 {
                groups.push(after.get(..len).unwrap_or_default());
            }
            rest = after.get(len..).unwrap_or_default();
        }
    }
    groups
}

fn pointer(key: &str, text: &str) -> Result<Pointer, String> {
    Pointer::parse(text).map_err(|e| format!("body.{key}: {e}"))
}

impl RequestTransformer {
    fn compile(&self) -> Result<Plan, String> {
        let h = &self.headers;
        let q = &self.querystring;
        let b = &self.body;
        let query_name = |key: &str, name: &str| {
            if name.is_empty() {
                Err(format!("querystring.{key}: a parameter name is empty"))
            } else {
                Ok(name.to_owned())
            }
        };
        Ok(Plan {
            strip_prefix: match &self.path.strip_prefix {
                Some(p) => path_prefix("strip_prefix", p)?,
                None => String::new(),
            },
            add_prefix: match &self.path.add_prefix {
                Some(p) => path_prefix("add_prefix", p)?,
                None => String::new(),
            },
            replace: self
                .path
                .replace
                .as_ref()
                .map(compile_replace)
                .transpose()?,
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
            query_remove: q
                .remove
                .iter()
                .map(|n| query_name("remove", n))
                .collect::<Result<_, _>>()?,
            query_rename: q
                .rename
                .iter()
                .map(|(old, new)| Ok((query_name("rename", old)?, query_name("rename", new)?)))
                .collect::<Result<_, String>>()?,
            query_add: q
                .add
                .iter()
                .map(|(n, v)| Ok((query_name("add", n)?, Template::parse(v))))
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
                .map(|(p, v)| Ok((pointer("add", p)?, Template::parse(v))))
                .collect::<Result<_, String>>()?,
        })
    }

    /// The value of each template of `list`, or `None` for one `skip_if_empty` skips.
    fn resolve_all<K: Clone>(
        &self,
        snapshot: &Snapshot<'_>,
        list: &[(K, Template)],
    ) -> Vec<(K, Option<String>)> {
        list.iter()
            .map(|(key, template)| {
                let (value, empty_variable) = snapshot.resolve(template);
                let keep = !(self.skip_if_empty && empty_variable);
                (key.clone(), keep.then_some(value))
            })
            .collect()
    }

    fn rewrite_path(&self, request: &mut Request) {
        if self.plan.strip_prefix.is_empty()
            && self.plan.add_prefix.is_empty()
            && self.plan.replace.is_none()
        {
            return;
        }
        let original = request.path();
        let mut path = original.clone();
        if let Some(rest) = strip_prefix(&path, &self.plan.strip_prefix) {
            path = rest;
        }
        if !self.plan.add_prefix.is_empty() {
            path.insert_str(0, &self.plan.add_prefix);
        }
        if let Some((regex, replacement)) = &self.plan.replace {
            let replaced = regex.replace_all(path.as_bytes(), replacement.as_bytes());
            path = String::from_utf8_lossy(&replaced).into_owned();
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let path = encode_path(&path);
        if path != original && request.set_path(&path).is_err() {
            log::warn(&format!(
                "the gateway refused the path `{path}`; the path is left as it was"
            ));
        }
    }

    fn rewrite_headers(
        &self,
        request: &mut Request,
        set: Vec<(String, Option<String>)>,
        add: Vec<(String, Option<String>)>,
    ) {
        for name in &self.plan.header_remove {
            request.remove_header(name);
        }
        for (old, new) in &self.plan.header_rename {
            let values = request.header_values(old);
            if values.is_empty() || old == new {
                continue;
            }
            request.remove_header(old);
            request.remove_header(new);
            for value in values {
                write_header(request, new, &value, true);
            }
        }
        for (name, value) in set {
            if let Some(value) = value
                && request.header(&name).is_none()
            {
                write_header(request, &name, &value, false);
            }
        }
        for (name, value) in add {
            if let Some(value) = value {
                write_header(request, &name, &value, false);
            }
        }
    }

    fn rewrite_query(&self, request: &mut Request, add: Vec<(String, Option<String>)>) {
        let original = request.query();
        let mut pairs = query::Pairs::parse(original.as_deref().unwrap_or_default());
        for name in &self.plan.query_remove {
            pairs.remove(name);
        }
        for (old, new) in &self.plan.query_rename {
            pairs.rename(old, new);
        }
        for (name, value) in add {
            if let Some(value) = value {
                pairs.set(&name, &value);
            }
        }
        let query = pairs.to_query();
        if query != original.unwrap_or_default() && request.set_query(&query).is_err() {
            log::warn(&format!(
                "the gateway refused the query `{query}`; the query is left as it was"
            ));
        }
    }

    fn rewrite_body(&self, request: &mut Request, add: Vec<(Pointer, Option<String>)>) {
        let is_json = request
            .header("content-type")
            .is_some_and(|t| json::is_json_media_type(&t));
        let identity = request
            .header("content-encoding")
            .is_none_or(|e| e.trim().eq_ignore_ascii_case("identity"));
        let Some(mut doc) = (is_json && identity)
            .then(|| request.body())
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
        for (pointer, value) in add {
            if let Some(value) = value {
                changed |= json::set(&mut doc, &pointer, &json::string(&value));
            }
        }
        if !changed {
            return;
        }
        if request.set_body(doc.as_bytes()).is_err() {
            log::warn("the gateway refused the new body; it is left as it was");
            return;
        }
        if request.header("content-length").is_some() {
            write_header(request, "content-length", &doc.len().to_string(), false);
        }
    }
}

/// Writes a header value (appending with `append`); a refusal is logged and skipped.
fn write_header(request: &mut Request, name: &str, value: &str, append: bool) {
    let written = if append {
        request.add_header(name, value)
    } else {
        request.set_header(name, value)
    };
    if written.is_err() {
        log::warn(&format!(
            "the gateway refused a value for header `{name}` (a character a header cannot hold); the header is skipped"
        ));
    }
}

/// `path` without `prefix` at a segment boundary; `None` when it does not start with it.
fn strip_prefix(path: &str, prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some("/".into())
    } else if rest.starts_with('/') {
        Some(rest.to_owned())
    } else {
        None
    }
}

/// Percent-encodes what a path cannot hold; `%` followed by two hex digits stays an escape.
fn encode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape = b == b'%'
            && bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if escape || b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/[]".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Middleware for RequestTransformer {
    fn init(&mut self) -> Result<(), String> {
        self.plan = self.compile()?;
        if self.plan.has_body_ops() {
            buffering::request_body();
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        // Every value is computed from the request as it arrived, before any change.
        let snapshot = Snapshot::new(request);
        let header_set = self.resolve_all(&snapshot, &self.plan.header_set);
        let header_add = self.resolve_all(&snapshot, &self.plan.header_add);
        let query_add = self.resolve_all(&snapshot, &self.plan.query_add);
        let body_add = self.resolve_all(&snapshot, &self.plan.body_add);
        drop(snapshot);

        self.rewrite_path(request);
        self.rewrite_headers(request, header_set, header_add);
        if !(self.plan.query_remove.is_empty()
            && self.plan.query_rename.is_empty()
            && query_add.is_empty())
        {
            self.rewrite_query(request, query_add);
        }
        if self.plan.has_body_ops() {
            self.rewrite_body(request, body_add);
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
