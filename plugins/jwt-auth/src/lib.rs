//! `jwt-auth`: authenticates requests by a JSON Web Token (RFC 7519) sent as an OAuth 2.0
//! bearer token (RFC 6750): the token's asymmetric signature is checked against a configured
//! public key or the issuer's JWK Set, its claims against the clock and the configuration,
//! and who it names goes into the request context, for later plugins (e.g. `rate-limit`
//! with `partition_key: context:auth.consumer`).
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `issuer` | string | none | when set, the `iss` claim must equal it |
//! | `audience` | string | none | when set, the `aud` claim (a string, or an array of strings) must contain it |
//! | `clock_skew_seconds` | integer >= 0 | `60` | tolerance for `exp`, `nbf` and `iat`, in seconds |
//! | `skip_signature_validation` | bool | `false` | do not check signatures (below: never in production) |
//! | `jwks_url` | string | none | the issuer's JWK Set (`https://`; `http://` only for loopback hosts), fetched by the plugin |
//! | `groups_claim` | string | none | the claim whose values become `auth.roles` |
//! | `public_key_pem` | string | none | a PEM public key (`PUBLIC KEY`, or `RSA PUBLIC KEY`) |
//! | `public_key_jwk` | object | none | a public JWK: `kty` (required: `RSA`, `EC` or `OKP`), `kid`, `alg`, `use`, `n`, `e` (RSA), `crv`, `x`, `y` (EC; `crv` and `x` for OKP) |
//!
//! Additions of this implementation (new keys; the ones above keep their names, types and
//! defaults):
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `jwks_refresh_seconds` | integer >= 1 | `300` | how long a fetched JWK Set is used before it is fetched again |
//! | `algorithms` | array of strings | every algorithm the key supports | the accepted `alg` values, among `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA` |
//! | `timeout_ms` | integer 1 to 300000 | `5000` | time limit of a JWK Set fetch |
//! | `required_scopes` | array of strings | `[]` | scopes a token must all carry (in `scope` or `scp`) |
//!
//! At least one key source (`public_key_jwk`, `public_key_pem`, `jwks_url`) is required,
//! unless `skip_signature_validation` is `true`. Several may be given: their keys are used
//! together.
//!
//! The configuration is refused when there is no key source (and signatures are checked);
//! when `public_key_jwk` or `public_key_pem` is not a public key the gateway can verify
//! with: a `kty` other than `RSA`, `EC` on P-256 or P-384, or `OKP` with `crv` `Ed25519`;
//! missing or malformed parameters (not base64url, EC coordinates or an Ed25519 key of the
//! wrong size, an RSA modulus outside 2048 to 8192 bits, an RSA exponent that is even,
//! below 3 or over 33 bits); private members (`d`, ...); a `use` other than `sig`; a
//! `key_ops` without `verify`; an `alg` that is not accepted or does not fit the key; when
//! no algorithm of `algorithms` fits a configured key; when `jwks_url` is not an `https://`
//! URL (`http://` is accepted for `127.0.0.1`, `localhost` and `[::1]` only, for local
//! identity providers in development) or holds credentials; when `algorithms` is empty or
//! names an algorithm that is not accepted (`none`, `HS256`/`384`/`512`, anything
//! unsupported); when `issuer`, `audience` or `groups_claim` is empty; when a required
//! scope is empty or holds a character outside RFC 6749's `scope-token` (a space, `"`,
//! `\`, controls); when `jwks_refresh_seconds` is 0 or `timeout_ms` is outside 1 to
//! 300000.
//!
//! **`public_key_pem`** holds one key, `-----BEGIN PUBLIC KEY-----` (a SubjectPublicKeyInfo:
//! RSA, EC P-256 or P-384 with an uncompressed point, Ed25519) or `-----BEGIN RSA PUBLIC
//! KEY-----` (PKCS#1), and nothing else; the plugin turns it into a JWK when the instance
//! starts (certificates and private keys are refused, with the `openssl` command that
//! extracts the public key).
//!
//! **`skip_signature_validation: true`** is kept for compatibility: tokens are then
//! accepted on their claims alone, so anyone can forge one. Never use it in production.
//! Every instance logs a warning when it starts with it. `alg` is still checked (`none` and
//! HMAC algorithms are still refused), and so are the claims; no key is needed and none is
//! fetched.
//!
//! # Behaviour
//!
//! **The token** is read from the first `Authorization` field: the scheme `Bearer` (any
//! case), one or more spaces, the token. No other place is read (not the query string, not
//! a form body: RFC 6750 discourages both). It must be a JWS in the compact serialization
//! (RFC 7515): three base64url parts (no padding) separated by dots. A JWE (five parts),
//! the JSON serialization, or anything else is an invalid token.
//!
//! **The header** must be a JSON object whose `alg` is accepted: `none` never is, HMAC
//! algorithms (`HS256`, `HS384`, `HS512`) never are (this plugin verifies asymmetric
//! signatures only: an HMAC key is a shared secret, which does not belong in an API
//! gateway's configuration, and accepting HMAC next to public keys opens the door to
//! "algorithm confusion", a token MACed with the public key), and with `algorithms` set
//! only those are. A header with `crit` is refused (the plugin understands no extension).
//! `kid` is a hint for choosing the key; `jku`, `x5u`, `jwk` and `x5c` are ignored: keys
//! never come from the token.
//!
//! **The key.** The candidates are the configured keys (`public_key_jwk`,
//! `public_key_pem`) and those of the JWK Set, that fit the token's `alg` (an RSA key for
//! `RS*`/`PS*`, P-256 for `ES256`, P-384 for `ES384`, Ed25519 for `EdDSA`; and the key's
//! own `alg`, when it has one, must be the token's) and, when the token has a `kid`, whose
//! `kid` is the token's (keys without a `kid` are candidates for any token). The token is
//! accepted when one candidate verifies its signature. The signature is checked by the
//! gateway (`barbacane:crypto`), natively; a key the gateway cannot use for the algorithm
//! counts as a failed check.
//!
//! **The JWK Set** (`jwks_url`) is fetched (`GET`, with `timeout_ms`) by the first request
//! that needs it, not when the instance starts (the gateway refuses outbound calls from
//! `init`), and kept in the instance: each instance of the gateway's pool holds its own
//! copy. It is fetched again:
//!
//! - when it is `jwks_refresh_seconds` old (by the gateway's monotonic clock);
//! - when a token names a `kid` no key has (a key rotated in at the issuer), at most once
//!   per 30 seconds, so that tokens with made-up `kid`s cannot make the gateway hammer the
//!   issuer; a key published less than 30 seconds after the last fetch may therefore be
//!   refused until then.
//!
//! A fetch fails when the issuer cannot be reached, answers anything but 200, sends more
//! than 512 KiB, or sends something other than a JWK Set with at least one usable key
//! (keys the plugin cannot use, such as encryption keys, `use: enc`, or unsupported
//! curves, are skipped; the reasons are logged at debug level). A failed fetch is logged as
//! a warning, and the keys fetched before are kept and used (a key removed at the issuer
//! is refused once a fetch succeeds); a failed scheduled fetch is retried after 30 seconds
//! at the earliest. While no fetch has ever succeeded, requests whose token no configured
//! key verifies are answered `503 urn:barbacane:error:jwks-unavailable` with
//! `Retry-After: 5`, and the plugin tries again at most every 5 seconds.
//!
//! **The claims** (RFC 7519), with the gateway's clock and `clock_skew_seconds` of
//! tolerance: `exp` is required, and the current time must be before `exp` plus the skew;
//! `nbf` and `iat`, when present, must not be later than the current time plus the skew;
//! these must be JSON numbers (fractions allowed). With `issuer` set, `iss` must be equal to
//! it; with `audience` set, `aud` must be it or an array containing it. Without `audience`,
//! `aud` is not looked at: a token the same issuer made for another service is accepted,
//! so set `audience` whenever the issuer serves more than one audience.
//!
//! **Scopes.** A token's scopes are its `scope` claim, or when it has none its `scp` claim:
//! either a space-separated string or an array of strings (values holding whitespace are
//! skipped). With `required_scopes`, a token must carry all of them.
//!
//! **Accepted**: the request goes on, unchanged (the `Authorization` field reaches the
//! upstream), with these request context values:
//!
//! | context key | value |
//! |---|---|
//! | `auth.sub` | the `sub` claim (not set when the token has no string `sub`) |
//! | `auth.consumer` | the `sub` claim (likewise) |
//! | `auth.scopes` | the token's scopes joined by a single space (`""` when it has none) |
//! | `auth.roles` | with `groups_claim`: that claim's values (an array of strings, or a space-separated string; values holding whitespace are skipped) joined by a single space, `""` when the token has none; not set without `groups_claim` |
//! | `auth.claims.<name>` | every top-level claim whose value is a string, a number or a boolean, as text (`auth.claims.email`, `auth.claims.exp`) |
//! | `auth.method` | `jwt` |
//!
//! **Refused** (RFC 6750, section 3), with RFC 9457 problems whose `detail` says no more
//! than the error code (why a token was refused is logged at debug level, never the token):
//!
//! | when | answer |
//! |---|---|
//! | no token: no `Authorization` field, another scheme, `Bearer` without a token | `401 urn:barbacane:error:unauthorized`, `WWW-Authenticate: Bearer realm="api"` |
//! | an invalid token: malformed, refused `alg`, no key verifies it, expired, not yet valid, wrong issuer or audience | `401 urn:barbacane:error:unauthorized`, `WWW-Authenticate: Bearer realm="api", error="invalid_token"` |
//! | a valid token without every `required_scopes` | `403 urn:barbacane:error:insufficient-scope`, `WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="<required_scopes>"` |
//! | the JWK Set was never fetched and cannot be now | `503 urn:barbacane:error:jwks-unavailable`, `Retry-After: 5` |
//!
//! No context value is set on a refused request.
//!
//! Capabilities: `request`, `response`, `context`, `crypto`, `http`, `clock`, `log`.

use barbacane_plugin_sdk::http::{self, HttpRequest};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, crypto, log};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

mod keys;
mod pem;

use keys::{Alg, Key};

/// The challenge of a request without a token.
pub const CHALLENGE: &str = r#"Bearer realm="api""#;

/// The challenge of a request with an invalid token.
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="api", error="invalid_token""#;

/// At most one fetch of the JWK Set per this many milliseconds for tokens naming an unknown
/// `kid`, and between a failed scheduled fetch and its retry.
pub const REFETCH_INTERVAL_MS: i64 = 30_000;

/// While no JWK Set was ever fetched: at most one attempt per this many milliseconds (the
/// `Retry-After` of the 503).
pub const UNAVAILABLE_RETRY_MS: i64 = 5_000;

/// Largest JWK Set body read, in bytes.
pub const MAX_JWKS_BYTES: usize = 512 * 1024;

/// Longest `timeout_ms` (the gateway's limit for an outbound call).
pub const MAX_TIMEOUT_MS: u64 = 300_000;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtAuth {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default = "default_clock_skew_seconds")]
    clock_skew_seconds: u64,
    #[serde(default)]
    skip_signature_validation: bool,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    public_key_pem: Option<String>,
    #[serde(default)]
    public_key_jwk: Option<Value>,
    #[serde(default = "default_jwks_refresh_seconds")]
    jwks_refresh_seconds: u64,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    required_scopes: Vec<String>,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
    /// The JWK Set as last fetched, kept across requests.
    #[serde(skip)]
    jwks: Jwks,
    /// SHA-256 of the signing input and signature of tokens whose signature verified, so a
    /// client reusing its token (the common case) costs one hash instead of a public-key
    /// check; claims are still checked on every request. Bounded, cleared when full and
    /// whenever the JWK Set is fetched (a key that left the set verifies nothing more).
    #[serde(skip)]
    verified: std::collections::HashSet<[u8; 32]>,
}

/// Verified signatures an instance remembers.
const VERIFIED_CACHE: usize = 1024;

fn default_clock_skew_seconds() -> u64 {
    60
}

fn default_jwks_refresh_seconds() -> u64 {
    300
}

fn default_timeout_ms() -> u64 {
    5_000
}

/// The configuration, checked.
#[derive(Debug, Default)]
struct Policy {
    /// The accepted algorithms.
    algorithms: Vec<Alg>,
    /// `public_key_jwk` and `public_key_pem`.
    static_keys: Vec<Key>,
    /// `jwks_refresh_seconds`, in milliseconds.
    refresh_ms: i64,
    /// The 403's challenge.
    scope_challenge: String,
}

/// The JWK Set of `jwks_url`, and when it was fetched (monotonic milliseconds).
#[derive(Debug, Default)]
struct Jwks {
    keys: Vec<Key>,
    /// The last successful fetch.
    fetched_ms: Option<i64>,
    /// The last attempt, successful or not.
    attempted_ms: Option<i64>,
    /// Whether the last attempt failed.
    failed: bool,
}

impl Jwks {
    /// Whether at least `gap` ms passed since the last attempt (or there was none).
    fn quiet_for(&self, now_ms: i64, gap: i64) -> bool {
        self.attempted_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= gap)
    }

    /// Whether a fetch is due now, for lack of keys or for their age.
    fn due(&self, now_ms: i64, refresh_ms: i64) -> bool {
        match self.fetched_ms {
            None => self.quiet_for(now_ms, UNAVAILABLE_RETRY_MS),
            Some(fetched) => {
                now_ms.saturating_sub(fetched) >= refresh_ms
                    && (!self.failed || self.quiet_for(now_ms, REFETCH_INTERVAL_MS))
            }
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// No bearer token.
    Missing,
    /// A token that is not valid, and why (for the debug log).
    Invalid(String),
    /// A valid token without every required scope.
    InsufficientScope,
    /// No key to check the token with: the JWK Set cannot be fetched.
    Unavailable,
}

/// A compact JWS, decoded.
#[derive(Debug)]
struct Jws<'a> {
    /// `header.payload`, as sent: what was signed.
    signing_input: &'a str,
    alg: Alg,
    kid: Option<String>,
    claims: Map<String, Value>,
    signature: Vec<u8>,
}

/// What an accepted token says, for the context.
#[derive(Debug)]
struct Identity {
    sub: Option<String>,
    scopes: Vec<String>,
    roles: Option<Vec<String>>,
    claims: Map<String, Value>,
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

/// A base64url part of a token: no padding, canonical.
fn decode_part(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// A JSON object from a token part.
fn json_object(part: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&decode_part(part)?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Splits and decodes a compact JWS, and checks its header against `allowed`.
fn parse_jws<'a>(token: &'a str, allowed: &[Alg]) -> Result<Jws<'a>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(if parts.len() == 5 {
            "a JWE (five parts): only signed tokens (JWS) are accepted".to_owned()
        } else {
            format!("{} parts: a compact JWS has three", parts.len())
        });
    };
    let header_json = json_object(header).ok_or("the header is not a base64url JSON object")?;
    let alg = match header_json.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err("the header's `alg` is not a string".into()),
        None => return Err("the header has no `alg`".into()),
    };
    if let Some(why) = keys::refusal(alg) {
        return Err(format!("alg: {why}"));
    }
    let alg = Alg::parse(alg).ok_or("alg: not supported")?;
    if !allowed.contains(&alg) {
        return Err(format!("alg: {} is not in `algorithms`", alg.name()));
    }
    if header_json.contains_key("crit") {
        return Err("the header has `crit`: no extension is understood".into());
    }
    let kid = match header_json.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("the header's `kid` is not a string".into()),
    };
    let claims = json_object(payload).ok_or("the payload is not a base64url JSON object")?;
    let signature = decode_part(signature).ok_or("the signature is not base64url")?;
    if signature.is_empty() {
        return Err("the signature is empty".into());
    }
    Ok(Jws {
        signing_input: &token[..header.len() + 1 + payload.len()],
        alg,
        kid,
        claims,
        signature,
    })
}

/// A NumericDate claim: `None` when absent, an error when not a number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("`{name}` is not a number")),
    }
}

/// The values of a claim that lists names: a space-separated string, or an array of
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

/// An RFC 6749 `scope-token`: `%x21 / %x23-5B / %x5D-7E`, at least one.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Checks a `jwks_url`: `https://`, or `http://` to a loopback host; no credentials.
fn check_jwks_url(url: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("jwks_url `{url}`: {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse("not an absolute URL (https://...)");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("it holds whitespace");
    }
    if authority.contains('@') {
        return refuse("credentials in the URL are not accepted");
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
        let loopback = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| host.eq_ignore_ascii_case(h));
        if loopback {
            return Ok(());
        }
        return refuse(
            "keys must be fetched over https (http:// is accepted only for 127.0.0.1, \
             localhost and [::1])",
        );
    }
    refuse("the scheme must be https")
}

/// The accepted algorithms: `algorithms`, or all of them.
fn parse_algorithms(algorithms: Option<&[String]>) -> Result<Vec<Alg>, String> {
    let Some(names) = algorithms else {
        return Ok(Alg::ALL.to_vec());
    };
    if names.is_empty() {
        return Err(
            "algorithms is empty: leave it out to accept every algorithm a key fits, \
                    or list at least one"
                .into(),
        );
    }
    let mut algs = Vec::with_capacity(names.len());
    for name in names {
        if let Some(why) = keys::refusal(name) {
            return Err(format!("algorithms: {why}"));
        }
        if let Some(alg) = Alg::parse(name)
            && !algs.contains(&alg)
        {
            algs.push(alg);
        }
    }
    Ok(algs)
}

/// Fetches and parses the JWK Set at `url`.
fn fetch_jwks(url: &str, timeout_ms: u64) -> Result<Vec<Key>, String> {
    let mut request = HttpRequest::new("GET", url);
    request.headers.push((
        "accept".to_owned(),
        "application/jwk-set+json, application/json".to_owned(),
    ));
    request.timeout_ms = Some(timeout_ms);
    let response = http::call(&request).map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("the server answered {}", response.status));
    }
    if response.body.len() > MAX_JWKS_BYTES {
        return Err(format!("the JWK Set is over {} KiB", MAX_JWKS_BYTES / 1024));
    }
    let set: Value =
        serde_json::from_slice(&response.body).map_err(|_| "the answer is not JSON".to_owned())?;
    let entries = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the answer is not a JWK Set (no `keys` array)")?;
    let mut keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        match keys::parse_jwk(entry) {
            Ok(key) => keys.push(key),
            Err(why) => {
                let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
                log::debug(&format!(
                    "jwks_url: key {index} (kid {}) skipped: {why}",
                    keys::shown(kid)
                ));
            }
        }
    }
    if keys.is_empty() {
        return Err("the JWK Set has no usable signing key".into());
    }
    Ok(keys)
}

/// The monotonic clock, in milliseconds.
fn monotonic_ms() -> i64 {
    clock::monotonic_ns() / 1_000_000
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
        "jwks-unavailable",
        "The token cannot be checked",
        Some("The keys of the token's issuer are unavailable; try again shortly."),
    )
    .header("retry-after", (UNAVAILABLE_RETRY_MS / 1000).to_string())
}

impl JwtAuth {
    fn insufficient_scope(&self) -> OutgoingResponse {
        OutgoingResponse::problem_with_detail(
            403,
            "insufficient-scope",
            "Insufficient scope",
            Some("The bearer token lacks a scope this operation requires (insufficient_scope)."),
        )
        .header("www-authenticate", self.policy.scope_challenge.as_str())
    }

    /// Fetches the JWK Set and records the outcome; on failure the keys are kept.
    fn fetch(&mut self, now_ms: i64) {
        let Some(url) = self.jwks_url.as_deref() else {
            return;
        };
        self.jwks.attempted_ms = Some(now_ms);
        match fetch_jwks(url, self.timeout_ms) {
            Ok(keys) => {
                self.jwks.keys = keys;
                self.verified.clear();
                self.jwks.fetched_ms = Some(now_ms);
                self.jwks.failed = false;
            }
            Err(why) => {
                self.jwks.failed = true;
                let kept = match self.jwks.keys.len() {
                    0 => "no keys to fall back on".to_owned(),
                    1 => "keeping the key fetched before".to_owned(),
                    n => format!("keeping the {n} keys fetched before"),
                };
                log::warn(&format!("fetching the JWK Set {url} failed: {why}; {kept}"));
            }
        }
    }

    /// Whether a configured or fetched key has the `kid`.
    fn knows_kid(&self, kid: &str) -> bool {
        self.policy
            .static_keys
            .iter()
            .chain(&self.jwks.keys)
            .any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Checks the token's signature with the candidate keys, fetching the JWK Set when due.
    fn check_signature(&mut self, jws: &Jws<'_>) -> Result<(), Refusal> {
        if self.jwks_url.is_some() {
            let now = monotonic_ms();
            if self.jwks.due(now, self.policy.refresh_ms) {
                self.fetch(now);
            }
            if let Some(kid) = &jws.kid
                && !self.knows_kid(kid)
                && self.jwks.quiet_for(now, REFETCH_INTERVAL_MS)
            {
                self.fetch(now);
            }
        }
        let mut seen = jws.signing_input.as_bytes().to_vec();
        seen.push(b'.');
        seen.extend_from_slice(&jws.signature);
        let seen = crypto::sha256(&seen);
        if self.verified.contains(&seen) {
            return Ok(());
        }
        let kid = jws.kid.as_deref();
        let candidates = self
            .policy
            .static_keys
            .iter()
            .chain(&self.jwks.keys)
            .filter(|k| k.accepts(jws.alg))
            .filter(|k| match (k.kid.as_deref(), kid) {
                (Some(have), Some(want)) => have == want,
                _ => true,
            });
        let mut tried = 0;
        for key in candidates {
            tried += 1;
            match crypto::verify(
                jws.alg.name(),
                &key.jwk,
                jws.signing_input.as_bytes(),
                &jws.signature,
            ) {
                Ok(true) => {
                    if self.verified.len() >= VERIFIED_CACHE {
                        self.verified.clear();
                    }
                    self.verified.insert(seen);
                    return Ok(());
                }
                Ok(false) => {}
                Err(why) => log::debug(&format!("the gateway cannot verify with a key: {why}")),
            }
        }
        if self.jwks_url.is_some() && self.jwks.fetched_ms.is_none() {
            return Err(Refusal::Unavailable);
        }
        Err(Refusal::Invalid(match (tried, kid) {
            (0, Some(kid)) => format!(
                "no {} key with kid {} for {}",
                if self.jwks_url.is_some() {
                    "configured or fetched"
                } else {
                    "configured"
                },
                keys::shown(kid),
                jws.alg.name()
            ),
            (0, None) => format!("no key for {}", jws.alg.name()),
            _ => "the signature does not verify".to_owned(),
        }))
    }

    /// Checks the registered claims at `now_ms` (Unix milliseconds).
    fn check_claims(&self, claims: &Map<String, Value>, now_ms: i64) -> Result<(), String> {
        let now = now_ms as f64;
        let skew = self.clock_skew_seconds as f64;
        let exp = numeric_date(claims, "exp")?.ok_or("the token has no `exp`")?;
        if now >= (exp + skew) * 1000.0 {
            return Err("expired (`exp`)".into());
        }
        for name in ["nbf", "iat"] {
            if let Some(at) = numeric_date(claims, name)?
                && now < (at - skew) * 1000.0
            {
                return Err(format!("`{name}` is in the future"));
            }
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err("`iss` is not the configured issuer".into());
        }
        if let Some(audience) = &self.audience {
            let matches = |v: &Value| v.as_str() == Some(audience.as_str());
            let ok = match claims.get("aud") {
                Some(Value::Array(items)) => items.iter().any(matches),
                Some(aud) => matches(aud),
                None => false,
            };
            if !ok {
                return Err("`aud` does not contain the configured audience".into());
            }
        }
        Ok(())
    }

    /// Checks the request's token.
    fn authenticate(&mut self, request: &Request) -> Result<Identity, Refusal> {
        let token = bearer_token(request).ok_or(Refusal::Missing)?;
        let jws = parse_jws(&token, &self.policy.algorithms).map_err(Refusal::Invalid)?;
        if !self.skip_signature_validation {
            self.check_signature(&jws)?;
        }
        self.check_claims(&jws.claims, clock::now_ms())
            .map_err(Refusal::Invalid)?;
        let claims = jws.claims;
        let scopes = names(claims.get("scope").or_else(|| claims.get("scp")));
        if let Some(lacking) = self.required_scopes.iter().find(|s| !scopes.contains(s)) {
            log::debug(&format!(
                "token refused: it lacks the scope {}",
                keys::shown(lacking)
            ));
            return Err(Refusal::InsufficientScope);
        }
        let roles = self
            .groups_claim
            .as_ref()
            .map(|claim| names(claims.get(claim)));
        Ok(Identity {
            sub: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            scopes,
            roles,
            claims,
        })
    }
}

impl Middleware for JwtAuth {
    fn init(&mut self) -> Result<(), String> {
        let algorithms = parse_algorithms(self.algorithms.as_deref())?;
        for (name, value) in [
            ("issuer", &self.issuer),
            ("audience", &self.audience),
            ("groups_claim", &self.groups_claim),
        ] {
            if value.as_deref() == Some("") {
                return Err(format!("{name} is empty: leave it out, or give a value"));
            }
        }
        if let Some(scope) = self.required_scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(format!(
                "required_scopes: {scope:?} is not a scope (printable ASCII without spaces, \
                 `\"` or `\\`)"
            ));
        }
        if self.jwks_refresh_seconds == 0 {
            return Err("jwks_refresh_seconds must be at least 1".into());
        }
        let refresh_ms = self
            .jwks_refresh_seconds
            .checked_mul(1000)
            .and_then(|ms| i64::try_from(ms).ok())
            .ok_or("jwks_refresh_seconds is too large")?;
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return Err(format!(
                "timeout_ms must be 1 to {MAX_TIMEOUT_MS} (milliseconds)"
            ));
        }
        if let Some(url) = &self.jwks_url {
            check_jwks_url(url)?;
        }
        let mut static_keys = Vec::new();
        if let Some(jwk) = &self.public_key_jwk {
            let key = keys::parse_jwk(jwk).map_err(|why| format!("public_key_jwk: {why}"))?;
            static_keys.push(("public_key_jwk", key));
        }
        if let Some(text) = &self.public_key_pem {
            let key = pem::pem_to_jwk(text)
                .and_then(|jwk| keys::parse_jwk(&jwk))
                .map_err(|why| format!("public_key_pem: {why}"))?;
            static_keys.push(("public_key_pem", key));
        }
        for (name, key) in &static_keys {
            if !algorithms.iter().any(|alg| key.accepts(*alg)) {
                let names: Vec<&str> = algorithms.iter().map(|a| a.name()).collect();
                return Err(format!(
                    "{name}: no algorithm of `algorithms` ({}) verifies with {}{}",
                    names.join(", "),
                    key.key_type.describe(),
                    key.alg
                        .map(|a| format!(" whose `alg` is {}", a.name()))
                        .unwrap_or_default()
                ));
            }
        }
        if static_keys.is_empty() && self.jwks_url.is_none() && !self.skip_signature_validation {
            return Err("no key: configure jwks_url, public_key_jwk or public_key_pem".into());
        }
        if self.skip_signature_validation {
            log::warn(
                "skip_signature_validation is true: token signatures are NOT checked, anyone \
                 can forge a token this configuration accepts; never use it in production",
            );
        }
        let challenge_scopes = self.required_scopes.join(" ");
        self.policy = Policy {
            algorithms,
            static_keys: static_keys.into_iter().map(|(_, key)| key).collect(),
            refresh_ms,
            scope_challenge: format!(
                r#"Bearer realm="api", error="insufficient_scope", scope="{challenge_scopes}""#
            ),
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let identity = match self.authenticate(request) {
            Ok(identity) => identity,
            Err(Refusal::Missing) => return Action::Respond(missing()),
            Err(Refusal::Invalid(why)) => {
                log::debug(&format!("token refused: {why}"));
                return Action::Respond(invalid());
            }
            Err(Refusal::InsufficientScope) => return Action::Respond(self.insufficient_scope()),
            Err(Refusal::Unavailable) => return Action::Respond(unavailable()),
        };
        if let Some(sub) = &identity.sub {
            context::set("auth.sub", sub);
            context::set("auth.consumer", sub);
        }
        context::set("auth.scopes", &identity.scopes.join(" "));
        if let Some(roles) = &identity.roles {
            context::set("auth.roles", &roles.join(" "));
        }
        for (name, value) in &identity.claims {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            context::set(&format!("auth.claims.{name}"), &text);
        }
        context::set("auth.method", "jwt");
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
