//! `cors`: the server side of the CORS protocol (Fetch standard,
//! <https://fetch.spec.whatwg.org/#http-cors-protocol>): answers preflight requests and adds
//! the `Access-Control-*` headers to the responses of allowed cross-origin requests.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `allowed_origins` | array of strings | **required** | origins allowed to read responses, as browsers send them in `Origin`: `scheme://host[:port]`, without path or trailing slash. `*` allows every origin (except `null`) and is answered with `Access-Control-Allow-Origin: *`. `null` (sandboxed documents, `file:` pages, some redirects) is allowed only when listed literally, even next to `*`. |
//! | `allowed_methods` | array of strings | `["GET", "POST"]` | methods a preflight may ask for. `*` allows every method unless `allow_credentials` (browsers then read `*` literally). |
//! | `allowed_headers` | array of strings | `[]` | request headers a preflight may ask for (case-insensitive). `*` allows every header except `Authorization` (which must be listed, as in the Fetch standard), unless `allow_credentials`. |
//! | `expose_headers` | array of strings | `[]` | response headers scripts may read beyond the CORS-safelisted ones (`Access-Control-Expose-Headers`). |
//! | `max_age` | integer (seconds) | `3600` | how long browsers may cache a preflight answer (`Access-Control-Max-Age`; browsers cap it, e.g. at 2 hours in Chromium). |
//! | `allow_credentials` | bool | `false` | let browsers send cookies / HTTP auth and read the response (`Access-Control-Allow-Credentials: true`). |
//!
//! The configuration is refused when `allowed_origins` is empty, holds something that is not
//! an origin (a path, a trailing slash, a partial wildcard such as `https://*.example.com`),
//! or holds `*` while `allow_credentials` is on (browsers reject credentialed responses that
//! allow any origin); and when a method or header name is not a valid HTTP token.
//!
//! Origins are compared ASCII case-insensitively, and a default port written in the
//! configuration (`https://example.com:443`) is dropped, as browsers never send it. Methods
//! are case-sensitive, but `delete`, `get`, `head`, `options`, `post` and `put` are
//! uppercased like browsers do.
//!
//! # Behaviour
//!
//! **Preflight** (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): always
//! answered by the plugin, never forwarded. When the origin is allowed, the requested method
//! is in `allowed_methods` and every name in `Access-Control-Request-Headers` (a
//! comma-separated list, compared case-insensitively) is in `allowed_headers`, the answer is
//! `204` with
//!
//! - `Access-Control-Allow-Origin`: the request's origin, or `*` when `allowed_origins`
//!   holds `*`;
//! - `Access-Control-Allow-Methods`: the configured methods joined with `, ` (the requested
//!   method when `*` allows every method);
//! - `Access-Control-Allow-Headers`: the requested header names (lowercase), if any;
//! - `Access-Control-Max-Age`;
//! - `Access-Control-Allow-Credentials: true` when `allow_credentials`;
//! - `Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers` when the
//!   origin is echoed.
//!
//! Otherwise the answer is `403 urn:barbacane:error:cors-preflight-rejected`, whose `detail`
//! says whether the origin, the method or a header was refused, without any
//! `Access-Control-*` header. A preflight reaches the plugin only when the gateway routes the
//! `OPTIONS` request to an operation whose middleware chain includes `cors`. Browsers send
//! preflights without credentials: put `cors` before authentication middlewares in the
//! chain, or they may refuse the preflight before this plugin sees it.
//!
//! **Cross-origin request** (any other request with `Origin`): it goes on; on the response
//! (whatever its status, including the gateway's own errors after this plugin ran):
//!
//! - origin allowed: `Access-Control-Allow-Origin` (the origin echoed, or `*`),
//!   `Access-Control-Allow-Credentials: true` when `allow_credentials`,
//!   `Access-Control-Expose-Headers` when `expose_headers` is not empty. The plugin owns these
//!   three headers: values the upstream set are replaced, or removed when the configuration
//!   does not call for them.
//! - origin not allowed: none of them (upstream values are removed), so the browser denies
//!   the script access.
//!
//! **Caching** (Fetch standard, "CORS protocol and HTTP caches"): when origins are echoed,
//! every response passing through the plugin gets `Vary: Origin` (appended to the response's
//! `Vary`, unless it already covers `Origin` or is `*`), including responses to disallowed
//! origins and to requests without `Origin`; otherwise a cache could serve a response made
//! for one origin, or for a non-CORS request, to another origin. With `*`, responses to
//! requests without `Origin` get the same `Access-Control-Allow-Origin: *` (and
//! `Access-Control-Expose-Headers`) as CORS requests, and no `Vary`; only a refused origin
//! (`null`, when not listed) gets `Vary: Origin`. Nothing else about a request without
//! `Origin` is changed.
//!
//! The decision made in `on_request` travels to `on_response` in the request context, under
//! the key `cors`.
//!
//! Capabilities: `request`, `response`, `context`.

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The context key carrying the request's CORS decision to `on_response`.
const CONTEXT_KEY: &str = "cors";
/// Decision: a preflight this plugin answered (its response is complete).
const PREFLIGHT: &str = "preflight";
/// Decision: a CORS request from an origin that is not allowed.
const DENIED: &str = "denied";
/// Decision prefix: a CORS request from an allowed origin; the rest is the value of
/// `Access-Control-Allow-Origin`.
const ALLOWED: &str = "allow ";

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
const EXPOSE_HEADERS: &str = "access-control-expose-headers";
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    allowed_origins: Vec<String>,
    #[serde(default = "default_methods")]
    allowed_methods: Vec<String>,
    #[serde(default)]
    allowed_headers: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    #[serde(default = "default_max_age")]
    max_age: u64,
    #[serde(default)]
    allow_credentials: bool,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
}

fn default_methods() -> Vec<String> {
    vec!["GET".into(), "POST".into()]
}

fn default_max_age() -> u64 {
    3600
}

/// The configuration, checked and normalized for matching.
#[derive(Debug, Default)]
struct Policy {
    /// `*` in `allowed_origins`: every origin but `null`, answered with `*`.
    any_origin: bool,
    /// The listed origins, lowercase, without default port (`null` if listed).
    origins: Vec<String>,
    /// `*` in `allowed_methods`, credentials off.
    any_method: bool,
    /// `allowed_methods`, normalized.
    methods: Vec<String>,
    /// `Access-Control-Allow-Methods` for a listed method.
    allow_methods: String,
    /// `*` in `allowed_headers`, credentials off.
    any_header: bool,
    /// `allowed_headers`, lowercase.
    headers: Vec<String>,
    /// `Access-Control-Expose-Headers`, if any.
    expose: Option<String>,
    /// `Access-Control-Max-Age`.
    max_age: String,
}

/// An RFC 9110 token (method, header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The methods browsers uppercase before sending (Fetch "normalize a method").
fn normalize_method(method: &str) -> String {
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    NORMALIZED
        .iter()
        .find(|n| n.eq_ignore_ascii_case(method))
        .map_or_else(|| method.to_owned(), |n| (*n).to_owned())
}

/// A configured origin in the form browsers serialize it: lowercase, default port dropped.
fn normalize_origin(entry: &str) -> Result<String, String> {
    let lower = entry.to_ascii_lowercase();
    if lower == "null" {
        return Ok(lower);
    }
    let bad = || {
        format!(
            "allowed_origins: `{entry}` is not an origin; write scheme://host[:port] without \
             path or trailing slash, `*` for any origin, or `null`"
        )
    };
    if lower.contains('*') {
        return Err(format!(
            "allowed_origins: `{entry}`: only a whole `*` entry is a wildcard; list each origin"
        ));
    }
    let (scheme, authority) = lower.split_once("://").ok_or_else(bad)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(bad());
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: `[` hex digits, `:` and `.` `]`, then an optional port.
        Some(rest) => {
            let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
            let literal_ok = !inside.is_empty()
                && inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !literal_ok {
                return Err(bad());
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
            };
            (&authority[..inside.len() + 2], port)
        }
        None => {
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let host_ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !host_ok {
                return Err(bad());
            }
            (host, port)
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            let n: u16 = p.parse().map_err(|_| bad())?;
            match (scheme, n) {
                ("http", 80) | ("https", 443) => None,
                _ => Some(n),
            }
        }
        Some(_) => return Err(bad()),
    };
    Ok(match port {
        Some(n) => format!("{scheme}://{host}:{n}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The preflight refusal; `detail` says which part was refused.
fn rejected(detail: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        403,
        "cors-preflight-rejected",
        "The CORS preflight request was rejected",
        Some(detail),
    )
}

/// Adds `Origin` to the response's `Vary`, keeping what is there.
fn vary_on_origin(response: &mut Response) {
    let covered = response
        .header_values("vary")
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"));
    if !covered {
        let _ = response.add_header("vary", "Origin");
    }
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for `origin`, or `None` when it is not
    /// allowed.
    fn allow_origin<'a>(&self, origin: &'a str) -> Option<&'a str> {
        let lower = origin.to_ascii_lowercase();
        let listed = self.policy.origins.contains(&lower);
        if self.policy.any_origin && (listed || lower != "null") {
            Some("*")
        } else if listed {
            Some(origin)
        } else {
            None
        }
    }

    fn preflight(&self, request: &Request, origin: &str, method: &str) -> OutgoingResponse {
        let policy = &self.policy;
        let Some(allow_origin) = self.allow_origin(origin) else {
            return rejected("The origin is not allowed");
        };
        let method = method.trim();
        let method_ok =
            is_token(method) && (policy.any_method || policy.methods.iter().any(|m| m == method));
        if !method_ok {
            return rejected("The requested method is not allowed");
        }
        let mut names: Vec<String> = Vec::new();
        for value in request.header_values("access-control-request-headers") {
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let name = name.to_ascii_lowercase();
                let allowed = is_token(&name)
                    && (policy.headers.contains(&name)
                        || (policy.any_header && name != "authorization"));
                if !allowed {
                    return rejected("A requested header is not allowed");
                }
                names.push(name);
            }
        }
        let allow_methods = if policy.any_method {
            method
        } else {
            policy.allow_methods.as_str()
        };
        let mut response = OutgoingResponse::new(204)
            .header(ALLOW_ORIGIN, allow_origin)
            .header("access-control-allow-methods", allow_methods);
        if !names.is_empty() {
            response = response.header("access-control-allow-headers", names.join(", "));
        }
        response = response.header("access-control-max-age", policy.max_age.as_str());
        if self.allow_credentials {
            response = response.header(ALLOW_CREDENTIALS, "true");
        }
        if allow_origin != "*" {
            response = response.header("vary", PREFLIGHT_VARY);
        }
        response
    }

    /// The headers of an allowed response.
    fn allow(&self, response: &mut Response, allow_origin: &str) {
        // Values from the request or the checked configuration: the host accepts them.
        let _ = response.set_header(ALLOW_ORIGIN, allow_origin);
        if allow_origin != "*" {
            vary_on_origin(response);
        }
        if self.allow_credentials {
            let _ = response.set_header(ALLOW_CREDENTIALS, "true");
        } else {
            response.remove_header(ALLOW_CREDENTIALS);
        }
        match &self.policy.expose {
            Some(expose) => {
                let _ = response.set_header(EXPOSE_HEADERS, expose);
            }
            None => response.remove_header(EXPOSE_HEADERS),
        }
    }
}

impl Middleware for Cors {
    fn init(&mut self) -> Result<(), String> {
        if self.allowed_origins.is_empty() {
            return Err(
                "allowed_origins is empty: list the allowed origins, or `*` for any origin".into(),
            );
        }
        let credentials = self.allow_credentials;
        let mut policy = Policy::default();
        for origin in &self.allowed_origins {
            if origin == "*" {
                policy.any_origin = true;
            } else {
                policy.origins.push(normalize_origin(origin)?);
            }
        }
        if policy.any_origin && credentials {
            return Err(
                "allowed_origins `*` cannot be combined with allow_credentials: browsers refuse \
                 credentialed responses that allow any origin; list the origins instead"
                    .into(),
            );
        }
        for method in &self.allowed_methods {
            if !is_token(method) {
                return Err(format!(
                    "allowed_methods: `{method}` is not a valid HTTP method"
                ));
            }
            policy.any_method |= method == "*" && !credentials;
            policy.methods.push(normalize_method(method));
        }
        policy.allow_methods = policy.methods.join(", ");
        for header in &self.allowed_headers {
            if !is_token(header) {
                return Err(format!(
                    "allowed_headers: `{header}` is not a valid header name"
                ));
            }
            policy.any_header |= header == "*" && !credentials;
            policy.headers.push(header.to_ascii_lowercase());
        }
        for header in &self.expose_headers {
            if !is_token(header) {
                return Err(format!(
                    "expose_headers: `{header}` is not a valid header name"
                ));
            }
        }
        policy.expose = (!self.expose_headers.is_empty()).then(|| self.expose_headers.join(", "));
        policy.max_age = self.max_age.to_string();
        self.policy = policy;
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let Some(origin) = request.header("origin") else {
            return Action::Continue;
        };
        if request.method() == "OPTIONS"
            && let Some(method) = request.header("access-control-request-method")
        {
            context::set(CONTEXT_KEY, PREFLIGHT);
            return Action::Respond(self.preflight(request, &origin, &method));
        }
        match self.allow_origin(&origin) {
            Some(value) => context::set(CONTEXT_KEY, &format!("{ALLOWED}{value}")),
            None => context::set(CONTEXT_KEY, DENIED),
        }
        Action::Continue
    }

    fn on_response(&mut self, response: &mut Response) {
        let decision = context::get(CONTEXT_KEY);
        match decision.as_deref() {
            // No `Origin`: not a CORS request, but see "Caching" above.
            None if self.policy.any_origin => self.allow(response, "*"),
            None => vary_on_origin(response),
            Some(PREFLIGHT) => {}
            Some(DENIED) => {
                response.remove_header(ALLOW_ORIGIN);
                response.remove_header(ALLOW_CREDENTIALS);
                response.remove_header(EXPOSE_HEADERS);
                // Even with `*`: a denied `null` origin gets a different answer.
                vary_on_origin(response);
            }
            Some(decision) => {
                if let Some(allow_origin) = decision.strip_prefix(ALLOWED) {
                    self.allow(response, allow_origin);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
