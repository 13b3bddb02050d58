//! `oauth2-auth`: authenticates requests by an OAuth 2.0 bearer token (RFC 6750) that the
//! authorization server vouches for through token introspection (RFC 7662), for opaque
//! tokens the gateway cannot check by itself. Who the token belongs to goes into the request
//! context, for later plugins (`acl`, `cel`, `rate-limit` with
//! `partition_key: context:auth.consumer`).
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `introspection_endpoint` | string | **required** | the introspection endpoint (`https://`; `http://` only for `127.0.0.1`, `localhost` and `[::1]`) |
//! | `client_id` | string | **required** | the client the gateway authenticates as |
//! | `client_secret` | string | **required** | its secret: a secret reference (`env://NAME`, `file:///path`, `vault://mount/path#key`, `aws-sm://name[#key]`, `k8s://namespace/name/key`), or (for compatibility) the secret itself |
//! | `required_scopes` | string | none | scopes, space-separated, the token must all carry |
//! | `audience` | string | none | when set, `aud` must be it or contain it |
//! | `timeout` | number, seconds, over 0 and at most 300 | `5` | time limit of an introspection call |
//!
//! `client_secret` as a secret reference is resolved through the gateway's
//! `secrets` capability when an instance is created (an environment variable of the gateway;
//! a file's contents, one trailing newline removed): the artifact holds the reference only.
//! Anything else is the secret itself (the compiler warns, W1001: the artifact then carries
//! it in clear).
//!
//! The configuration is refused when `introspection_endpoint` is not an absolute `https://`
//! URL (or `http://` to a loopback host), holds credentials or whitespace; when `client_id`
//! or `client_secret` is empty; when a secret reference does not resolve or resolves to an
//! empty value (the message names the reference, never a value); when `audience` is empty;
//! when a required scope holds a character outside RFC 6749's `scope-token`; when `timeout`
//! is not over 0 and at most 300.
//!
//! # Behaviour
//!
//! **The token** is read from the first `Authorization` field: the scheme `Bearer` (any
//! case), one or more spaces, the token. No other place is read.
//!
//! **Introspection.** `POST introspection_endpoint` with
//! `Content-Type: application/x-www-form-urlencoded`, the body
//! `token=<token>&token_type_hint=access_token`, and
//! `Authorization: Basic base64(client_id ":" client_secret)`, both form-urlencoded first
//! (RFC 6749, section 2.3.1), with `timeout`. The answer must be `200` with a JSON object;
//! the token is valid when:
//!
//! - `active` is `true` (anything else, missing included, is an inactive token);
//! - `exp`, when present, is a number of seconds after the current time (the gateway's
//!   clock, no tolerance: the server already judged the token active);
//! - with `audience` set, `aud` is that string or an array containing it.
//!
//! **Scopes** are the answer's `scope` (space-separated; an array of strings is accepted
//! too). With `required_scopes`, the token must carry all of them.
//!
//! **Cache.** Each instance (the gateway keeps a pool of them) remembers answers by the
//! SHA-256 of the token (never the token itself), so a client reusing its token costs no
//! call: a valid token until its `exp`, and at most 5 minutes (a token revoked at the server
//! may therefore be accepted up to 5 minutes longer); an invalid one 10 seconds. At most
//! 1,024 tokens are remembered: when full, expired entries are dropped, and if none had
//! expired, all of them. Scopes are checked on every request. Failures to reach the
//! endpoint are never cached.
//!
//! **Accepted**: the request goes on, unchanged (the `Authorization` field reaches the
//! upstream), with these request context values:
//!
//! | context key | value |
//! |---|---|
//! | `auth.sub` | `sub` (not set when the answer has no string `sub`) |
//! | `auth.consumer` | `sub`, else `username`, else `client_id` (not set when none is a string) |
//! | `auth.scopes` | the scopes joined by a single space (`""` when there are none) |
//! | `auth.claims.<name>` | every top-level member of the answer whose value is a string, a number or a boolean, as text (`auth.claims.client_id`, `auth.claims.exp`) |
//! | `auth.method` | `oauth2` |
//!
//! **Refused** (RFC 6750, section 3), with RFC 9457 problems whose `detail` says no more
//! than the error code (why a token was refused is logged at debug level, never the token):
//!
//! | when | answer |
//! |---|---|
//! | no token: no `Authorization` field, another scheme, `Bearer` without a token | `401 urn:barbacane:error:unauthorized`, `WWW-Authenticate: Bearer realm="api"` |
//! | an invalid token: inactive, expired, wrong audience | `401 urn:barbacane:error:unauthorized`, `WWW-Authenticate: Bearer realm="api", error="invalid_token"` |
//! | a valid token without every `required_scopes` | `403 urn:barbacane:error:insufficient-scope`, `WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="<required_scopes>"` |
//! | the endpoint cannot be reached, times out, answers anything but `200` with a JSON object of at most 64 KiB | `503 urn:barbacane:error:introspection-unavailable`, `Retry-After: 5` (the cause is logged as a warning) |
//!
//! No context value is set on a refused request.
//!
//! Capabilities: `request`, `response`, `context`, `secrets`, `http`, `clock`, `log`.

use std::collections::HashMap;

use barbacane_plugin_sdk::http::{self, HttpRequest};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, log, secrets};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The challenge of a request without a token.
pub const CHALLENGE: &str = r#"Bearer realm="api""#;

/// The challenge of a request with an invalid token.
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="api", error="invalid_token""#;

/// Longest a valid answer is remembered, in milliseconds.
pub const MAX_ACTIVE_TTL_MS: i64 = 300_000;

/// How long an invalid answer is remembered, in milliseconds.
pub const INACTIVE_TTL_MS: i64 = 10_000;

/// Tokens an instance remembers.
pub const MAX_CACHED: usize = 1024;

/// Largest introspection answer read, in bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The `Retry-After` of the 503, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Longest `timeout`, in seconds (the gateway's limit for an outbound call).
pub const MAX_TIMEOUT_SECONDS: f64 = 300.0;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Auth {
    introspection_endpoint: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    required_scopes: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default = "default_timeout")]
    timeout: f64,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
    /// Answers by the SHA-256 of their token.
    #[serde(skip)]
    cache: HashMap<[u8; 32], Cached>,
}

fn default_timeout() -> f64 {
    5.0
}

impl std::fmt::Debug for OAuth2Auth {
    /// Without the client secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Auth")
            .field("introspection_endpoint", &self.introspection_endpoint)
            .field("client_id", &self.client_id)
            .field("required_scopes", &self.required_scopes)
            .field("audience", &self.audience)
            .field("timeout", &self.timeout)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// The configuration, checked.
#[derive(Default)]
struct Policy {
    /// `Basic ...`, with the resolved secret.
    authorization: String,
    required_scopes: Vec<String>,
    timeout_ms: u64,
    /// The 403's challenge.
    scope_challenge: String,
}

/// What a token's introspection said, as remembered.
#[derive(Debug, Clone)]
struct Cached {
    /// Wall-clock milliseconds until which the entry holds.
    until_ms: i64,
    /// `None`: an invalid token.
    identity: Option<Identity>,
}

/// What an accepted token says, for the context.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    sub: Option<String>,
    consumer: Option<String>,
    scopes: Vec<String>,
    /// Top-level string, number and boolean members, as text.
    claims: Vec<(String, String)>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// No bearer token.
    Missing,
    /// An invalid token.
    Invalid,
    /// A valid token without every required scope.
    InsufficientScope,
    /// The introspection endpoint failed.
    Unavailable,
}

/// The token of an `Authorization: Bearer <token>` field, when there is one.
fn bearer_token(request: &Request) -> Option<String> {
    let value = request.header("authorization")?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    (!token.is_empty()).then(|| token.to_owned())
}

/// `application/x-www-form-urlencoded` encoding of `s` (WHATWG URL, as RFC 6749 appendix B
/// uses it): alphanumerics and `*-._` as they are, space as `+`, every other byte `%XX`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An RFC 6749 `scope-token`: `%x21 / %x23-5B / %x5D-7E`, at least one.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Checks the endpoint: `https://`, or `http://` to a loopback host; no credentials.
fn check_endpoint(url: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("introspection_endpoint `{url}`: {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse("not an absolute URL (https://...)");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("it holds whitespace");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return refuse("credentials in the URL are not accepted (use client_id and client_secret)");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((inside, _)) => format!("[{inside}]"),
            None => return refuse("malformed IPv6 host"),
        },
        None => authority.split(':').next().unwrap_or_default().to_owned(),
    };
    if host.is_empty() {
        return refuse("no host");
    }
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(());
    }
    if scheme.eq_ignore_ascii_case("http") {
        if ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| host.eq_ignore_ascii_case(h))
        {
            return Ok(());
        }
        return refuse(
            "the client secret and tokens must travel over https (http:// is accepted only \
             for 127.0.0.1, localhost and [::1])",
        );
    }
    refuse("the scheme must be https")
}

/// The client secret: resolved when it is a reference.
fn resolve_secret(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("client_secret is empty".into());
    }
    if !secrets::is_reference(value) {
        return Ok(value.to_owned());
    }
    match secrets::get(value) {
        Some(secret) if !secret.is_empty() => Ok(secret),
        Some(_) => Err(format!(
            "client_secret: the secret reference `{value}` resolves to an empty value"
        )),
        None => Err(format!(
            "client_secret: the secret reference `{value}` does not resolve"
        )),
    }
}

/// The values of a member that lists names: a space-separated string, or an array of
/// strings (values holding whitespace, or empty, skipped).
fn names(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty() && !s.chars().any(char::is_whitespace))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The string member `name`.
fn string(answer: &Map<String, Value>, name: &str) -> Option<String> {
    answer.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn missing() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        401,
        "unauthorized",
        "Authentication required",
        Some("The request needs a bearer token."),
    )
    .header("www-authenticate", CHALLENGE)
}

fn invalid() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        401,
        "unauthorized",
        "Authentication required",
        Some("The bearer token is invalid (invalid_token)."),
    )
    .header("www-authenticate", INVALID_TOKEN_CHALLENGE)
}

fn unavailable() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        503,
        "introspection-unavailable",
        "The token cannot be checked",
        Some("The authorization server cannot be reached; try again shortly."),
    )
    .header("retry-after", RETRY_AFTER_SECONDS.to_string())
}

impl OAuth2Auth {
    fn insufficient_scope(&self) -> OutgoingResponse {
        OutgoingResponse::problem_with_detail(
            403,
            "insufficient-scope",
            "Insufficient scope",
            Some("The bearer token lacks a scope this operation requires (insufficient_scope)."),
        )
        .header("www-authenticate", self.policy.scope_challenge.as_str())
    }

    /// Asks the endpoint about `token`: the answer object, or why there is none.
    fn introspect(&self, token: &str) -> Result<Map<String, Value>, String> {
        let mut request = HttpRequest::new("POST", &self.introspection_endpoint);
        request.headers = vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("accept".into(), "application/json".into()),
            ("authorization".into(), self.policy.authorization.clone()),
        ];
        request.body =
            format!("token={}&token_type_hint=access_token", form_encode(token)).into_bytes();
        request.timeout_ms = Some(self.policy.timeout_ms);
        let response = http::call(&request).map_err(|e| e.to_string())?;
        if response.status != 200 {
            let hint = match response.status {
                401 | 403 => " (check client_id and client_secret)",
                _ => "",
            };
            return Err(format!("the server answered {}{hint}", response.status));
        }
        if response.body.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the answer is over {} KiB",
                MAX_ANSWER_BYTES / 1024
            ));
        }
        match serde_json::from_slice(&response.body) {
            Ok(Value::Object(answer)) => Ok(answer),
            _ => Err("the answer is not a JSON object".into()),
        }
    }

    /// Judges an answer at `now_ms`: the identity and until when it holds, or why the token
    /// is invalid.
    fn judge(&self, answer: Map<String, Value>, now_ms: i64) -> Result<(Identity, i64), String> {
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err("the server says the token is not active".into());
        }
        let mut until_ms = now_ms.saturating_add(MAX_ACTIVE_TTL_MS);
        match answer.get("exp") {
            None => {}
            Some(exp) => {
                let exp = exp.as_f64().ok_or("`exp` is not a number")?;
                let exp_ms = exp * 1000.0;
                if exp_ms <= now_ms as f64 {
                    return Err("expired (`exp`)".into());
                }
                if exp_ms < until_ms as f64 {
                    until_ms = exp_ms as i64;
                }
            }
        }
        if let Some(audience) = &self.audience {
            let matches = |v: &Value| v.as_str() == Some(audience.as_str());
            let ok = match answer.get("aud") {
                Some(Value::Array(items)) => items.iter().any(matches),
                Some(aud) => matches(aud),
                None => false,
            };
            if !ok {
                return Err("`aud` does not contain the configured audience".into());
            }
        }
        let sub = string(&answer, "sub");
        let consumer = sub
            .clone()
            .or_else(|| string(&answer, "username"))
            .or_else(|| string(&answer, "client_id"));
        let scopes = names(answer.get("scope"));
        let claims = answer
            .into_iter()
            .filter_map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name, text))
            })
            .collect();
        let identity = Identity {
            sub,
            consumer,
            scopes,
            claims,
        };
        Ok((identity, until_ms))
    }

    /// Remembers an answer, making room when the cache is full.
    fn remember(&mut self, key: [u8; 32], entry: Cached, now_ms: i64) {
        if self.cache.len() >= MAX_CACHED && !self.cache.contains_key(&key) {
            self.cache.retain(|_, e| e.until_ms > now_ms);
            if self.cache.len() >= MAX_CACHED {
                self.cache.clear();
            }
        }
        self.cache.insert(key, entry);
    }

    /// The identity of `token`: remembered, or asked for.
    fn identify(&mut self, token: &str) -> Result<Identity, Refusal> {
        let now_ms = clock::now_ms();
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(entry) = self.cache.get(&key)
            && entry.until_ms > now_ms
        {
            return entry.identity.clone().ok_or(Refusal::Invalid);
        }
        let answer = self.introspect(token).map_err(|why| {
            log::warn(&format!(
                "token introspection at {}: {why}",
                self.introspection_endpoint
            ));
            Refusal::Unavailable
        })?;
        let (identity, until_ms) = match self.judge(answer, now_ms) {
            Ok((identity, until_ms)) => (Some(identity), until_ms),
            Err(why) => {
                log::debug(&format!("token refused: {why}"));
                (None, now_ms.saturating_add(INACTIVE_TTL_MS))
            }
        };
        let entry = Cached {
            until_ms,
            identity: identity.clone(),
        };
        self.remember(key, entry, now_ms);
        identity.ok_or(Refusal::Invalid)
    }

    /// Checks the request's token.
    fn authenticate(&mut self, request: &Request) -> Result<Identity, Refusal> {
        let token = bearer_token(request).ok_or(Refusal::Missing)?;
        let identity = self.identify(&token)?;
        if let Some(lacking) = self
            .policy
            .required_scopes
            .iter()
            .find(|s| !identity.scopes.contains(s))
        {
            log::debug(&format!("token refused: it lacks the scope {lacking:?}"));
            return Err(Refusal::InsufficientScope);
        }
        Ok(identity)
    }
}

impl Middleware for OAuth2Auth {
    fn init(&mut self) -> Result<(), String> {
        check_endpoint(&self.introspection_endpoint)?;
        if self.client_id.is_empty() {
            return Err("client_id is empty".into());
        }
        let secret = resolve_secret(&self.client_secret)?;
        if self.audience.as_deref() == Some("") {
            return Err("audience is empty: leave it out, or give a value".into());
        }
        let required_scopes: Vec<String> = self
            .required_scopes
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if let Some(scope) = required_scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(format!(
                "required_scopes: {scope:?} is not a scope (printable ASCII without spaces, \
                 `\"` or `\\`)"
            ));
        }
        if !(self.timeout > 0.0 && self.timeout <= MAX_TIMEOUT_SECONDS) {
            return Err(format!(
                "timeout must be over 0 and at most {MAX_TIMEOUT_SECONDS} (seconds)"
            ));
        }
        let timeout_ms = ((self.timeout * 1000.0).ceil() as u64).max(1);
        let credentials = format!("{}:{}", form_encode(&self.client_id), form_encode(&secret));
        self.policy = Policy {
            authorization: format!("Basic {}", STANDARD.encode(credentials)),
            scope_challenge: format!(
                r#"Bearer realm="api", error="insufficient_scope", scope="{}""#,
                required_scopes.join(" ")
            ),
            required_scopes,
            timeout_ms,
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let identity = match self.authenticate(request) {
            Ok(identity) => identity,
            Err(Refusal::Missing) => return Action::Respond(missing()),
            Err(Refusal::Invalid) => return Action::Respond(invalid()),
            Err(Refusal::InsufficientScope) => return Action::Respond(self.insufficient_scope()),
            Err(Refusal::Unavailable) => return Action::Respond(unavailable()),
        };
        if let Some(sub) = &identity.sub {
            context::set("auth.sub", sub);
        }
        if let Some(consumer) = &identity.consumer {
            context::set("auth.consumer", consumer);
        }
        context::set("auth.scopes", &identity.scopes.join(" "));
        for (name, text) in &identity.claims {
            context::set(&format!("auth.claims.{name}"), text);
        }
        context::set("auth.method", "oauth2");
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
