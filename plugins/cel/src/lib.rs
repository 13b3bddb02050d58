//! `cel`: decides about a request with a [Common Expression Language](https://cel.dev)
//! (CEL) expression over the request and the identity an authentication plugin found:
//! lets it through or refuses it (access control), or, with `on_match`, tags it in the
//! request context or answers it with a configured error when the expression holds.
//!
//! ```yaml
//! x-barbacane-middlewares:
//!   - name: jwt-auth
//!     config: { issuer: https://id.example.com, jwks_url: https://id.example.com/jwks }
//!   - name: cel
//!     config:
//!       expression: >
//!         request.method == "GET"
//!         || request.context["auth.scopes"].split(" ").exists(s, s == "orders:write")
//!       deny_message: Writing orders needs the orders:write scope
//! ```
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `expression` | string | **required** | a CEL expression over `request` (below) that evaluates to a `bool` |
//! | `deny_message` | string | `"Access denied by policy"` | without `on_match`: the `detail` of the 403 when the expression is `false` |
//! | `on_match` | object | none | what to do when the expression is `true`, instead of access control: |
//! | `on_match.set_context` | map of string to string | `{}` | request context values to set (e.g. `{tier: premium}` for a later `rate-limit` with `partition_key: context:tier`) |
//! | `on_match.deny` | object | none | answer the request with an error: |
//! | `on_match.deny.status` | integer 400-499 | `403` | its status |
//! | `on_match.deny.code` | snake_case string | **required** | its problem type, `urn:barbacane:error:<code>`, and `code` member |
//! | `on_match.deny.message` | string | `code` | its `detail` |
//!
//! The configuration is refused when the expression does not parse (the parser's message
//! says where), when it names a variable other than `request` (and the iteration variables
//! of its own macros, and CEL's type names such as `int`), when it names a field `request`
//! does not have (`request.methd`, `request["hedaers"]`; a presence test such as
//! `has(request.x)` is allowed), when `on_match.deny.status` is outside 400-499 (an
//! `on_match.deny` is a refusal, never a server error), when `on_match.deny.code` is not
//! snake_case (lowercase ASCII letters and digits in `_`-separated words, starting with a
//! letter, at most 64 characters), and when a `set_context` key is empty. The expression is
//! parsed once per instance (in `init`); each request only evaluates it.
//!
//! # The `request` variable
//!
//! A map with these fields:
//!
//! | field | CEL type | value |
//! |---|---|---|
//! | `method` | string | `GET`, `POST`... |
//! | `path` | string | the path as received (percent-encoded), without the query |
//! | `query` | string | the query string without `?`; `""` when there is none |
//! | `headers` | map(string, string) | every request header, by lowercase name; the values of a repeated header joined by `", "` |
//! | `body` | string | the request body (invalid UTF-8 replaced); `""` when there is none or the gateway did not hold it (see Bodies) |
//! | `body_json` | dyn | the body parsed as JSON when `Content-Type` is `application/json` or `application/<something>+json`; `{}` otherwise, and when the body is not valid JSON (logged at debug level) |
//! | `client_ip` | string | the address of the connection's peer (`203.0.113.7`, `2001:db8::1`); `""` when unknown. Behind a proxy, the proxy's address: forwarding headers are in `headers` for an expression to weigh |
//! | `path_params` | map(string, string) | always `{}`: the gateway does not give middlewares the operation's path parameters (yet); match `path` instead, e.g. `request.path.matches("^/orders/[0-9]+$")` |
//! | `consumer` | string | who the request is from: the context value `auth.consumer` (set by `apikey-auth`, `basic-auth`, `jwt-auth`), else the `x-auth-consumer` header (see Identity), else `""` |
//! | `claims` | map(string, dyn) | the token's claims: the context values `auth.claims.<name>` (`jwt-auth`), else the `x-auth-claims` header (see Identity), else `{}` |
//! | `context` | map(string, string) | request context values set by earlier plugins (see Context); our addition |
//!
//! A missing map key is an error in CEL, not `null`: `request.headers["x-tenant"] == "acme"`
//! fails (500, below) on a request without `X-Tenant`. Test first, with `has()` or `in`:
//! `"x-tenant" in request.headers && request.headers["x-tenant"] == "acme"`, or
//! `request.headers[?"x-tenant"].orValue("") == "acme"`.
//!
//! **Identity.** The official authentication plugins write what they found to the request
//! context (`auth.sub`, `auth.consumer`, `auth.scopes`, `auth.roles`, `auth.name`,
//! `auth.method`, `auth.claims.<name>`; see each plugin's documentation). `consumer` and
//! `claims` read them. The context value `auth.claims.<name>` becomes the claim `<name>`
//! (for the names the expression writes, see Context): parsed as JSON when it parses
//! (`jwt-auth` writes numbers and booleans as their text, so `exp` is an `int` and
//! `email_verified` a `bool`), else the string as it is (`email`). A string claim that
//! happens to read as JSON (`"123"`, `"true"`) becomes that number or boolean.
//!
//! When no authentication plugin ran before this one (no `auth.method` in the context),
//! `consumer` without `auth.consumer` falls back to the first value of the
//! `x-auth-consumer` header, and `claims` without any `auth.claims.<name>` to the
//! `x-auth-claims` header parsed as a JSON object (every member; `{}` when it is not an
//! object): for a gateway behind an authenticating proxy that sets them. A client can send
//! these headers too: rely on them only when that proxy is the only way in and overwrites
//! them. Once an authentication plugin ran, the headers are never read.
//!
//! **Context.** Plugins have no way to list the request context, only to read a key they
//! name, so `context` (and `claims` from the context) hold the keys the expression names:
//! `auth.sub`, `auth.consumer`, `auth.scopes`, `auth.roles`, `auth.name`, `auth.method`,
//! `auth.client_cert.sha256` (mTLS), plus every string literal and every field name
//! written in the expression (`request.context["tenant"]`, `request.context.tenant`,
//! `"tier" in request.context`, `request.claims.email`), each when it is set. A key only
//! computed at run time (`request.context["x-" + request.method]`) is never present, and
//! `size(request.context)` counts only the named keys that are set. Values are strings
//! (`auth.scopes` is `"read write"`: `.split(" ")` makes it a list).
//!
//! **Functions.** CEL's standard library (`size`, `in`, `startsWith`, `endsWith`,
//! `contains`, `matches` with RE2-like regular expressions, `int()`, `string()`... and the
//! macros `has`, `all`, `exists`, `exists_one`, `map`, `filter`), optional values
//! (`.?field`, `[?key]`, `orValue`), and the strings extension (`lowerAscii`,
//! `upperAscii`, `trim`, `split`, `join`, `replace`, `indexOf`, `substring`...). No
//! `timestamp` or `duration` types: the gateway's clock is not in the request.
//!
//! **What is built.** At `init` the parsed expression is walked once to find which fields
//! of `request` it reads; each request builds only those (reading headers, the body or
//! context values costs host calls, and parsing `body_json` a JSON parse). An expression
//! that uses `request` other than by naming a field (`request.all(k, ...)`,
//! `request[request.headers["x-field"]]`, `[request]`) gets every field.
//!
//! **Cost.** Parsing happens in `init`: the first parse in an instance also builds the
//! parser's tables (about 10 ms of CPU in the sandbox; later instances of the pool pay it
//! again, requests never do). An evaluation costs microseconds, plus the host calls of the
//! fields it builds; `matches` compiles its regular expression at each evaluation (about
//! 10 µs natively for a short pattern): prefer `startsWith`, `endsWith` and `contains`
//! where they do.
//!
//! **Bodies.** A request body reaches middlewares only when the gateway holds it in memory.
//! When the expression reads `body` or `body_json` (or `request` as a whole), the plugin asks
//! the gateway from `init` to buffer request bodies (`core.buffer_bodies`): up to 8 MiB and
//! the request size limit; a larger body streams past unseen, `""` and `{}`. An expression
//! that does not read the body never delays it.
//!
//! # Behaviour
//!
//! **Access control** (no `on_match`): `true` lets the request go on, unchanged; `false`
//! answers `403 urn:barbacane:error:cel-denied`, an RFC 9457 problem whose `detail` is
//! `deny_message`.
//!
//! **`on_match`**: `false` lets the request go on, unchanged. `true` with `deny` answers
//! with an RFC 9457 problem of the configured `status`, type `urn:barbacane:error:<code>`,
//! a `code` member holding `code` and `detail` `message` (or `code`); `deny` wins over
//! `set_context`, which is then not applied. `true` without `deny` sets every
//! `set_context` value in the request context (replacing a value an earlier plugin set:
//! of several `cel` uses setting one key, the last in the chain wins) and lets the request
//! go on. `deny_message` is not used.
//!
//! **Failure**: an expression that evaluates to something other than a `bool`, or fails
//! (a missing map key, a type mismatch such as `request.path > 3`, a division by zero, an
//! invalid regular expression...), answers `500 urn:barbacane:error:cel-evaluation` whose
//! `detail` says what went wrong (`the expression returned string, expected bool`,
//! `the expression failed: No such key: x-tenant`), in both modes, and logs it as a
//! warning. A request is never let through by an expression that could not decide. Some
//! errors quote the values they met, request content included (`No such key: <a header
//! value>` for `request.headers[request.headers["x-name"]]`): the `detail` is cut at 512
//! bytes.
//!
//! Capabilities: `request`, `response`, `context`, `log`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{buffering, log};
use cel_lang::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use cel_lang::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel_lang::common::value::Val;
use cel_lang::{Env, Program, Value};
use serde::Deserialize;

/// The variable the expression reads.
const REQUEST: &str = "request";
/// The fields of `request`.
pub const FIELDS: [&str; 11] = [
    "method",
    "path",
    "query",
    "headers",
    "body",
    "body_json",
    "client_ip",
    "path_params",
    "consumer",
    "claims",
    "context",
];
/// Context keys `request.context` always looks up: what the official authentication plugins
/// and the gateway (mTLS) write.
const AUTH_KEYS: [&str; 7] = [
    "auth.sub",
    "auth.consumer",
    "auth.scopes",
    "auth.roles",
    "auth.name",
    "auth.method",
    "auth.client_cert.sha256",
];
/// Set by every official authentication plugin that let a request through.
const AUTH_METHOD: &str = "auth.method";
const AUTH_CONSUMER: &str = "auth.consumer";
const CLAIMS_PREFIX: &str = "auth.claims.";
const CONSUMER_HEADER: &str = "x-auth-consumer";
const CLAIMS_HEADER: &str = "x-auth-claims";
/// CEL's type identifiers: names an expression may use that are not variables.
const TYPE_NAMES: [&str; 12] = [
    "bool",
    "bytes",
    "double",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "optional_type",
    "string",
    "type",
    "uint",
];
/// Longest `detail` of a 500 (an evaluation error may quote the values it met, a whole body
/// included).
pub const MAX_DETAIL: usize = 512;
/// Longest `on_match.deny.code`.
pub const MAX_CODE: usize = 64;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cel {
    expression: String,
    #[serde(default = "default_deny_message")]
    deny_message: String,
    #[serde(default)]
    on_match: Option<OnMatch>,
    /// Computed by `init`.
    #[serde(skip)]
    compiled: Option<Compiled>,
}

fn default_deny_message() -> String {
    "Access denied by policy".into()
}

/// What to do when the expression is `true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnMatch {
    #[serde(default)]
    set_context: BTreeMap<String, String>,
    #[serde(default)]
    deny: Option<Deny>,
}

/// An error answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deny {
    #[serde(default = "default_deny_status")]
    status: u16,
    code: String,
    #[serde(default)]
    message: Option<String>,
}

fn default_deny_status() -> u16 {
    403
}

/// The expression, parsed, with what evaluating it needs.
struct Compiled {
    env: Arc<Env>,
    program: Program,
    uses: Uses,
    /// The answer when the expression refuses the request: access control's 403, or
    /// `on_match.deny`'s.
    refusal: OutgoingResponse,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("program", &self.program)
            .field("uses", &self.uses)
            .finish_non_exhaustive()
    }
}

/// What the expression reads of `request`, found by walking it once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Uses {
    /// `request` is used otherwise than by naming a field: every field is built.
    pub whole: bool,
    /// The fields named.
    pub fields: BTreeSet<String>,
    /// Every string literal and field name written in the expression: the context keys and
    /// claims that `context` and `claims` look up.
    pub names: BTreeSet<String>,
}

impl Uses {
    /// Whether `field` is built for each request.
    pub fn reads(&self, field: &str) -> bool {
        self.whole || self.fields.contains(field)
    }

    /// Whether the body is read (and must be buffered).
    pub fn reads_body(&self) -> bool {
        self.reads("body") || self.reads("body_json")
    }
}

/// Walks `expr`, in a scope where the variables `bound` (macro iteration and accumulator
/// variables) hide the outer ones.
fn walk(expr: &IdedExpr, bound: &mut Vec<String>, uses: &mut Uses) -> Result<(), String> {
    let is_request = |e: &IdedExpr, bound: &[String]| matches!(&e.expr, Expr::Ident(name) if name == REQUEST && !bound.iter().any(|b| b == REQUEST));
    match &expr.expr {
        Expr::Unspecified => {}
        Expr::Ident(name) => {
            let known = bound.iter().any(|b| b == name) || TYPE_NAMES.contains(&name.as_str());
            if name == REQUEST && !known {
                // `request` itself, not one of its fields.
                uses.whole = true;
            } else if !known {
                return Err(format!(
                    "the expression uses `{name}`, which is not a variable: the request is \
                     `{REQUEST}` (e.g. `{REQUEST}.method`)"
                ));
            }
        }
        Expr::Literal(LiteralValue::String(s)) => {
            uses.names.insert(s.inner().to_owned());
        }
        Expr::Literal(_) => {}
        Expr::Select(select) => {
            uses.names.insert(select.field.clone());
            if is_request(&select.operand, bound) {
                field(uses, &select.field, !select.test)?;
            } else {
                walk(&select.operand, bound, uses)?;
            }
        }
        Expr::Call(call) => {
            let key = match (
                call.func_name.as_str(),
                call.target.as_ref(),
                &call.args[..],
            ) {
                (op @ ("_[_]" | "_[?_]" | "_?._"), None, [operand, key])
                    if is_request(operand, bound) =>
                {
                    match &key.expr {
                        Expr::Literal(LiteralValue::String(s)) => Some((op, s.inner())),
                        _ => None,
                    }
                }
                _ => None,
            };
            match key {
                Some((op, key)) => {
                    uses.names.insert(key.to_owned());
                    // Optional selection and indexing test for the field, like `has()`.
                    field(uses, key, op == "_[_]")?;
                }
                None => {
                    if let Some(target) = &call.target {
                        // A receiver that is a bare name may be a namespace
                        // (`strings.quote(...)`), not a variable.
                        if !matches!(&target.expr, Expr::Ident(name) if name != REQUEST) {
                            walk(target, bound, uses)?;
                        }
                    }
                    for arg in &call.args {
                        walk(arg, bound, uses)?;
                    }
                }
            }
        }
        Expr::List(list) => {
            for element in &list.elements {
                walk(element, bound, uses)?;
            }
        }
        Expr::Map(map) => walk_entries(map.entries.iter().map(|e| &e.expr), bound, uses)?,
        Expr::Struct(st) => walk_entries(st.entries.iter().map(|e| &e.expr), bound, uses)?,
        Expr::Comprehension(c) => {
            walk(&c.iter_range, bound, uses)?;
            walk(&c.accu_init, bound, uses)?;
            let depth = bound.len();
            bound.push(c.accu_var.clone());
            let with_accu = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.iter().cloned());
            walk(&c.loop_cond, bound, uses)?;
            walk(&c.loop_step, bound, uses)?;
            // The result sees the accumulator, not the iteration variables.
            bound.truncate(with_accu);
            walk(&c.result, bound, uses)?;
            bound.truncate(depth);
        }
    }
    Ok(())
}

fn walk_entries<'a>(
    entries: impl Iterator<Item = &'a EntryExpr>,
    bound: &mut Vec<String>,
    uses: &mut Uses,
) -> Result<(), String> {
    for entry in entries {
        match entry {
            EntryExpr::MapEntry(e) => {
                walk(&e.key, bound, uses)?;
                walk(&e.value, bound, uses)?;
            }
            EntryExpr::StructField(f) => walk(&f.value, bound, uses)?,
        }
    }
    Ok(())
}

/// Records the field `name` of `request`; `strict`: a plain selection or index, which fails
/// on a missing field (a presence test does not).
fn field(uses: &mut Uses, name: &str, strict: bool) -> Result<(), String> {
    if FIELDS.contains(&name) {
        uses.fields.insert(name.to_owned());
    } else if strict {
        return Err(format!(
            "`{REQUEST}` has no field `{name}`; its fields are {}",
            FIELDS.join(", ")
        ));
    }
    Ok(())
}

/// What `expression` reads of `request`.
pub fn analyze(program: &Program) -> Result<Uses, String> {
    let mut uses = Uses::default();
    walk(program.expression(), &mut Vec::new(), &mut uses)?;
    Ok(uses)
}

/// lowercase ASCII letters and digits in `_`-separated words, starting with a letter.
fn is_snake_case(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && !code.ends_with('_')
        && !code.contains("__")
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An RFC 9457 problem in the gateway's style, with extra members.
fn problem(
    status: u16,
    name: &str,
    title: &str,
    detail: &str,
    code: Option<&str>,
) -> OutgoingResponse {
    let mut body = serde_json::json!({
        "type": format!("urn:barbacane:error:{name}"),
        "title": title,
        "status": status,
        "detail": detail,
    });
    if let (Some(code), Some(map)) = (code, body.as_object_mut()) {
        map.insert("code".into(), code.into());
    }
    OutgoingResponse::new(status)
        .header("content-type", "application/problem+json")
        .body(body.to_string())
}

/// `why` cut to [`MAX_DETAIL`] bytes (on a character boundary), `…` marking the cut.
fn shortened(mut why: String) -> String {
    if why.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        why.truncate(end);
        why.push('…');
    }
    why
}

fn evaluation_failed(detail: &str) -> OutgoingResponse {
    problem(
        500,
        "cel-evaluation",
        "The request policy could not be evaluated",
        detail,
        None,
    )
}

// --- building `request` ----------------------------------------------------------------

type Boxed = Box<dyn Val + 'static>;

fn string(s: impl Into<String>) -> Boxed {
    Box::new(CelString::from(s.into()))
}

fn map(entries: impl IntoIterator<Item = (String, Boxed)>) -> Boxed {
    let entries: HashMap<CelMapKey<'static>, Boxed> = entries
        .into_iter()
        .map(|(k, v)| (CelMapKey::from(k), v))
        .collect();
    Box::new(CelMap::from(entries))
}

/// A JSON value as a CEL value: integers that fit as `int` (else `uint`, else `double`),
/// other numbers as `double`.
pub fn json_value(value: serde_json::Value) -> Box<dyn Val> {
    use serde_json::Value as J;
    match value {
        J::Null => Box::new(CelNull),
        J::Bool(b) => Box::new(CelBool::from(b)),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            (None, None) => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        J::String(s) => string(s),
        J::Array(items) => Box::new(CelList::from(
            items.into_iter().map(json_value).collect::<Vec<_>>(),
        )),
        J::Object(members) => map(members.into_iter().map(|(k, v)| (k, json_value(v)))),
    }
}

/// Whether a `Content-Type` is JSON: `application/json` or `application/<x>+json`.
fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json"
        || media
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > "+json".len())
}

/// The body as JSON, or `{}`.
fn body_json(request: &Request, body: Option<&[u8]>) -> Boxed {
    let empty = || map([]);
    let Some(body) = body else {
        return empty();
    };
    if !request
        .header("content-type")
        .is_some_and(|ct| is_json(&ct))
    {
        return empty();
    }
    match serde_json::from_slice(body) {
        Ok(value) => json_value(value),
        Err(e) => {
            log::debug(&format!("body_json: the JSON body does not parse: {e}"));
            empty()
        }
    }
}

impl Uses {
    /// The `request` map for this request: the fields the expression reads.
    fn build(&self, request: &Request) -> Boxed {
        let mut fields: Vec<(String, Boxed)> = Vec::with_capacity(FIELDS.len());
        let mut put = |name: &str, value: Boxed| fields.push((name.to_owned(), value));
        if self.reads("method") {
            put("method", string(request.method()));
        }
        if self.reads("path") {
            put("path", string(request.path()));
        }
        if self.reads("query") {
            put("query", string(request.query().unwrap_or_default()));
        }
        if self.reads("headers") {
            let headers = request.header_names().into_iter().map(|name| {
                let joined = request.header_values(&name).join(", ");
                (name, string(joined))
            });
            put("headers", map(headers));
        }
        if self.reads_body() {
            let body = request.body();
            if self.reads("body") {
                let text = body
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                put("body", string(text));
            }
            if self.reads("body_json") {
                put("body_json", body_json(request, body.as_deref()));
            }
        }
        if self.reads("client_ip") {
            put("client_ip", string(request.client_ip().unwrap_or_default()));
        }
        if self.reads("path_params") {
            put("path_params", map([]));
        }
        let authenticated = || context::get(AUTH_METHOD).is_some();
        if self.reads("consumer") {
            let consumer = context::get(AUTH_CONSUMER)
                .or_else(|| {
                    (!authenticated())
                        .then(|| request.header(CONSUMER_HEADER))
                        .flatten()
                })
                .unwrap_or_default();
            put("consumer", string(consumer));
        }
        if self.reads("claims") {
            put("claims", self.claims(request, authenticated()));
        }
        if self.reads("context") {
            let keys = AUTH_KEYS
                .iter()
                .copied()
                .chain(self.names.iter().map(String::as_str))
                .filter(|k| !k.is_empty());
            let mut values: Vec<(String, Boxed)> = Vec::new();
            let mut seen = BTreeSet::new();
            for key in keys {
                if seen.insert(key)
                    && let Some(value) = context::get(key)
                {
                    values.push((key.to_owned(), string(value)));
                }
            }
            put("context", map(values));
        }
        map(fields)
    }

    /// `claims`: the named `auth.claims.<name>` context values, else the claims header when
    /// no authentication plugin ran, else `{}`.
    fn claims(&self, request: &Request, authenticated: bool) -> Boxed {
        let from_context: Vec<(String, Boxed)> = self
            .names
            .iter()
            .filter(|name| !name.is_empty())
            .filter_map(|name| {
                let text = context::get(&format!("{CLAIMS_PREFIX}{name}"))?;
                let value = match serde_json::from_str(&text) {
                    Ok(value) => json_value(value),
                    Err(_) => string(text),
                };
                Some((name.clone(), value))
            })
            .collect();
        if !from_context.is_empty() || authenticated {
            return map(from_context);
        }
        let Some(header) = request.header(CLAIMS_HEADER) else {
            return map([]);
        };
        match serde_json::from_str(&header) {
            Ok(serde_json::Value::Object(members)) => {
                map(members.into_iter().map(|(k, v)| (k, json_value(v))))
            }
            _ => {
                log::debug("claims: the x-auth-claims header is not a JSON object");
                map([])
            }
        }
    }
}

impl Compiled {
    /// Evaluates the expression over this request.
    fn evaluate(&self, request: &Request) -> Result<bool, String> {
        let mut scope = cel_lang::Context::with_env(Arc::clone(&self.env));
        scope.add_variable_as_val(REQUEST, self.uses.build(request));
        match self.program.execute(&scope) {
            Ok(Value::Bool(matched)) => Ok(matched),
            Ok(other) => Err(format!(
                "the expression returned {}, expected bool",
                other.type_of()
            )),
            Err(e) => Err(format!("the expression failed: {e}")),
        }
    }
}

/// The environment expressions are compiled and run in: the standard library and the
/// strings extension.
fn environment() -> Result<Env, String> {
    let mut env = Env::stdlib();
    env.add_extension(cel_lang::extensions::strings)
        .map_err(|e| format!("cannot set up CEL's strings extension: {e}"))?;
    Ok(env)
}

impl Cel {
    /// Checks `on_match` and builds the answer the policy refuses with.
    fn refusal(&self) -> Result<OutgoingResponse, String> {
        let Some(deny) = self.on_match.as_ref().and_then(|m| m.deny.as_ref()) else {
            return Ok(problem(
                403,
                "cel-denied",
                "Denied by the request policy",
                &self.deny_message,
                None,
            ));
        };
        if !(400..=499).contains(&deny.status) {
            return Err(format!(
                "on_match.deny.status {} is not a client error status (400-499)",
                deny.status
            ));
        }
        if !is_snake_case(&deny.code) {
            return Err(format!(
                "on_match.deny.code `{}`: use snake_case, lowercase ASCII letters and digits in \
                 `_`-separated words starting with a letter, at most {MAX_CODE} characters \
                 (e.g. `tenant_suspended`)",
                deny.code
            ));
        }
        Ok(problem(
            deny.status,
            &deny.code,
            "Denied by the request policy",
            deny.message.as_deref().unwrap_or(&deny.code),
            Some(&deny.code),
        ))
    }
}

impl Middleware for Cel {
    fn init(&mut self) -> Result<(), String> {
        if let Some(on_match) = &self.on_match
            && on_match.set_context.keys().any(String::is_empty)
        {
            return Err("on_match.set_context: a context key is empty".into());
        }
        let refusal = self.refusal()?;
        let env = environment()?;
        let program = env
            .compile(&self.expression)
            .map_err(|e| format!("expression does not parse: {e}"))?;
        let uses = analyze(&program)?;
        if uses.reads_body() {
            buffering::request_body();
        }
        self.compiled = Some(Compiled {
            env: Arc::new(env),
            program,
            uses,
            refusal,
        });
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let Some(compiled) = &self.compiled else {
            return Action::Respond(evaluation_failed("the policy was not initialized"));
        };
        let matched = match compiled.evaluate(request) {
            Ok(matched) => matched,
            Err(why) => {
                let why = shortened(why);
                log::warn(&why);
                return Action::Respond(evaluation_failed(&why));
            }
        };
        let Some(on_match) = &self.on_match else {
            return if matched {
                Action::Continue
            } else {
                Action::Respond(compiled.refusal.clone())
            };
        };
        if !matched {
            return Action::Continue;
        }
        if on_match.deny.is_some() {
            return Action::Respond(compiled.refusal.clone());
        }
        for (key, value) in &on_match.set_context {
            context::set(key, value);
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
