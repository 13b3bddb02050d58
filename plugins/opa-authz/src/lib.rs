//! `opa-authz`: authorizes each request with a Rego (Open Policy Agent) policy. Placed after
//! an authentication plugin, the policy sees who the request is from.
//!
//! Two modes:
//! - **`policy`** (ours): a `.rego` file or a directory of them, relative to the spec. The
//!   compiler compiles it (errors are diagnostics, E1060) and bundles it into the artifact
//!   as inputs of kind `policy`; the gateway compiles it once per artifact load and
//!   evaluates it natively (`barbacane:policy`), with no server and no network hop.
//! - **`opa_url`** (as in the earlier implementation): the input is POSTed as
//!   `{"input": ...}` to an OPA server's Data API, which answers `{"result": ...}`.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `policy` | string | one of `policy`, `opa_url` | `.rego` file or directory, relative to the spec |
//! | `query` | string | `data.barbacane.authz.allow` | with `policy`: the rule evaluated |
//! | `opa_url` | string | one of `policy`, `opa_url` | the Data API URL of the rule, e.g. `http://opa:8181/v1/data/authz/allow` |
//! | `timeout` | number, seconds, over 0, at most 300 | `5` | with `opa_url`: time limit of the call |
//! | `include_body` | bool | `false` | add the request body to the input |
//! | `include_claims` | bool | `true` | add the request context (and, for an OPA server, `claims`) to the input |
//! | `deny_message` | string | `Authorization denied by policy` | `detail` of the 403 |
//!
//! # Input
//!
//! ```json
//! {"request": {"method": "GET", "path": "/orders/7", "params": {"id": "7"},
//!              "query": {"page": "2"}, "query_string": "page=2",
//!              "headers": {"x-tenant": "acme"}, "client_ip": "203.0.113.7"},
//!  "context": {"auth.sub": "alice", "auth.roles": "admin ops", "auth.claims.email": "a@x"},
//!  "body": {"amount": 12}}
//! ```
//!
//! `request` is built by the gateway: header names lowercase, the values of a repeated
//! header joined by `", "`; `query` values percent-decoded (the first of a repeated name);
//! `params` the matched route's template variables. `context` (with `include_claims`) is
//! every request context value set by earlier plugins, as strings (`auth.scopes` is
//! space-separated). `body` (with `include_body`, when there is one) is the parsed JSON for
//! a JSON `Content-Type`, else the text.
//!
//! For an OPA server the input also carries the earlier implementation's members, so its
//! policies keep working: `method`, `path`, `query` (the raw query string), `headers`,
//! `client_ip`, `claims` (with `include_claims`: the context values `auth.claims.<name>`,
//! each parsed as JSON when it parses; when no authentication plugin ran, the
//! `x-auth-claims` header parsed as a JSON object) and `body` (the text).
//!
//! # Decision
//!
//! The rule's value `true` lets the request through. Anything else (`false`, another value,
//! an undefined rule, an OPA answer without `result`) answers `403
//! urn:barbacane:error:opa-denied` with `detail` = `deny_message`; the answer never says
//! which rule failed. Fail closed: a policy that cannot be evaluated answers `500
//! opa-evaluation`; an OPA server that cannot be reached, times out, or answers anything
//! but `200` with JSON answers `503 opa-unavailable` with `Retry-After: 5` (the cause is
//! logged as a warning).
//!
//! Capabilities: `request`, `response`, `context`, `policy`, `http`, `log`.

use barbacane_plugin_sdk::http::{self, HttpRequest};
use barbacane_plugin_sdk::policy::{self, With};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{buffering, log};
use serde::Deserialize;
use serde_json::{Map, Value};

#[cfg(test)]
mod tests;

/// The rule evaluated when the configuration gives no `query`.
const DEFAULT_QUERY: &str = "data.barbacane.authz.allow";
/// The `Retry-After` of the 503, in seconds.
const RETRY_AFTER_SECONDS: u32 = 5;
/// Largest OPA answer read (bigger ones count as unavailable).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The configuration.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
pub struct OpaAuthz {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    opa_url: Option<String>,
    #[serde(default = "default_timeout")]
    timeout: f64,
    #[serde(default)]
    include_body: bool,
    #[serde(default = "yes")]
    include_claims: bool,
    #[serde(default = "default_deny_message")]
    deny_message: String,
}

fn default_timeout() -> f64 {
    5.0
}

fn yes() -> bool {
    true
}

fn default_deny_message() -> String {
    "Authorization denied by policy".into()
}

/// What a request comes to.
#[derive(Debug, PartialEq)]
enum Verdict {
    Allow,
    Deny,
    /// The bundled policy failed; the reason is logged.
    Failed(String),
    /// The OPA server could not answer; the reason is logged.
    Unavailable(String),
}

impl Middleware for OpaAuthz {
    fn init(&mut self) -> Result<(), String> {
        match (&self.policy, &self.opa_url) {
            (Some(_), Some(_)) => return Err("set `policy` or `opa_url`, not both".into()),
            (None, None) => return Err("set `policy` (a .rego file) or `opa_url`".into()),
            (Some(p), None) if p.is_empty() => return Err("`policy` is empty".into()),
            (None, Some(url)) if url.is_empty() => return Err("`opa_url` is empty".into()),
            _ => {}
        }
        if !(self.timeout > 0.0 && self.timeout <= 300.0) {
            return Err("`timeout` must be over 0 and at most 300 seconds".into());
        }
        if self.include_body {
            buffering::request_body();
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let verdict = match (&self.policy, &self.opa_url) {
            (Some(policy), _) => self.evaluate(policy, request),
            (None, Some(url)) => self.ask_server(url, request),
            (None, None) => Verdict::Failed("no policy configured".into()),
        };
        match verdict {
            Verdict::Allow => Action::Continue,
            Verdict::Deny => Action::Respond(self.denied()),
            Verdict::Failed(why) => {
                log::warn(&format!("the policy cannot be evaluated: {why}"));
                Action::Respond(failed())
            }
            Verdict::Unavailable(why) => {
                log::warn(&format!("the OPA server cannot answer: {why}"));
                Action::Respond(unavailable())
            }
        }
    }
}

impl OpaAuthz {
    fn with(&self) -> With {
        if self.include_claims {
            With::REQUEST.and(With::CONTEXT)
        } else {
            With::REQUEST
        }
    }

    /// Evaluates the bundled policy in the gateway.
    fn evaluate(&self, policy: &str, request: &Request) -> Verdict {
        let query = self.query.as_deref().unwrap_or(DEFAULT_QUERY);
        let mut extra = Vec::new();
        if self.include_body
            && let Some(body) = body_value(request)
        {
            extra = Value::Object(Map::from_iter([("body".to_owned(), body)]))
                .to_string()
                .into_bytes();
        }
        match policy::eval(policy, query, &extra, self.with()) {
            Ok(Some(value)) => decide(&value),
            Ok(None) => Verdict::Deny,
            Err(why) => Verdict::Failed(why),
        }
    }

    /// Asks an OPA server through its Data API.
    fn ask_server(&self, url: &str, request: &Request) -> Verdict {
        let input = self.server_input(request);
        let mut call = HttpRequest::new("POST", url);
        call.headers = vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into()),
        ];
        call.body = serde_json::json!({ "input": input })
            .to_string()
            .into_bytes();
        // Within (0, 300] seconds (checked by `init`): the cast cannot overflow.
        call.timeout_ms = Some((self.timeout * 1000.0).ceil() as u64);
        let answer = match http::call(&call) {
            Ok(answer) => answer,
            Err(e) => return Verdict::Unavailable(e.to_string()),
        };
        if answer.status != 200 {
            return Verdict::Unavailable(format!("the server answered {}", answer.status));
        }
        if answer.body.len() > MAX_ANSWER_BYTES {
            return Verdict::Unavailable("the answer is over 1 MiB".into());
        }
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(Value::Object(answer)) => match answer.get("result") {
                Some(Value::Bool(true)) => Verdict::Allow,
                _ => Verdict::Deny,
            },
            Ok(_) => Verdict::Unavailable("the answer is not a JSON object".into()),
            Err(e) => Verdict::Unavailable(format!("the answer is not JSON: {e}")),
        }
    }

    /// The input for an OPA server: `request` and `context` as for a bundled policy, plus
    /// the earlier implementation's members.
    fn server_input(&self, request: &Request) -> Value {
        let mut input = match serde_json::from_str::<Value>(&policy::input(self.with())) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let headers = input
            .get("request")
            .and_then(|r| r.get("headers"))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        input.insert("method".into(), request.method().into());
        input.insert("path".into(), request.path().into());
        if let Some(query) = request.query() {
            input.insert("query".into(), query.into());
        }
        input.insert("headers".into(), headers);
        input.insert(
            "client_ip".into(),
            request.client_ip().unwrap_or_default().into(),
        );
        if self.include_claims {
            let claims = claims(input.get("context"), request);
            input.insert("claims".into(), claims);
        }
        if self.include_body
            && let Some(body) = request.body()
        {
            input.insert(
                "body".into(),
                String::from_utf8_lossy(&body).into_owned().into(),
            );
        }
        Value::Object(input)
    }

    fn denied(&self) -> OutgoingResponse {
        OutgoingResponse::problem_with_detail(
            403,
            "opa-denied",
            "Forbidden",
            Some(&self.deny_message),
        )
    }
}

/// `true` allows; any other value denies.
fn decide(value: &str) -> Verdict {
    if value.trim() == "true" {
        Verdict::Allow
    } else {
        Verdict::Deny
    }
}

/// The request body for the input: parsed JSON for a JSON `Content-Type`, else the text.
fn body_value(request: &Request) -> Option<Value> {
    let body = request.body()?;
    let json = request.header("content-type").is_some_and(|t| {
        let t = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
    });
    if json && let Ok(value) = serde_json::from_slice::<Value>(&body) {
        return Some(value);
    }
    Some(String::from_utf8_lossy(&body).into_owned().into())
}

/// The claims: context values `auth.claims.<name>` (parsed as JSON when they parse), or,
/// when no authentication plugin ran, the `x-auth-claims` header's JSON object.
fn claims(context: Option<&Value>, request: &Request) -> Value {
    let context = context.and_then(Value::as_object);
    let mut claims = Map::new();
    for (key, value) in context.into_iter().flatten() {
        if let (Some(name), Some(text)) = (key.strip_prefix("auth.claims."), value.as_str()) {
            let value = serde_json::from_str(text).unwrap_or_else(|_| text.into());
            claims.insert(name.to_owned(), value);
        }
    }
    let authenticated = context.is_some_and(|c| c.contains_key("auth.method"));
    if claims.is_empty()
        && !authenticated
        && let Some(Ok(Value::Object(header))) = request
            .header("x-auth-claims")
            .map(|h| serde_json::from_str::<Value>(&h))
    {
        return Value::Object(header);
    }
    Value::Object(claims)
}

fn failed() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        500,
        "opa-evaluation",
        "Authorization failed",
        Some("The authorization policy could not be evaluated."),
    )
}

fn unavailable() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        503,
        "opa-unavailable",
        "Authorization unavailable",
        Some("The authorization service cannot be reached; try again shortly."),
    )
    .header("retry-after", RETRY_AFTER_SECONDS.to_string())
}
