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

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, log};
use jwt_verify::answer::{self, Refusal};
use jwt_verify::keyset::{self, KeySet};
use jwt_verify::token::{bearer_token, is_scope_token, names, parse_jws};
use jwt_verify::{ClaimRules, Identity, fetch};
use serde::Deserialize;
use serde_json::Value;

// Names the unit tests reach through `use super::*`, from when this module held the code
// now in `jwt-verify`.
#[cfg(test)]
use {
    barbacane_plugin_sdk::crypto,
    base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD},
};

mod pem;

pub use jwt_verify::keys;
use keys::{Alg, Key};

pub use answer::{CHALLENGE, INVALID_TOKEN_CHALLENGE};
pub use keyset::{REFETCH_INTERVAL_MS, UNAVAILABLE_RETRY_MS};

/// Largest JWK Set body read, in bytes.
pub const MAX_JWKS_BYTES: usize = fetch::MAX_DOCUMENT_BYTES;

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
    jwks: KeySet,
}

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
    /// How the fetch-failure warning names the JWK Set.
    jwks_label: String,
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

/// The monotonic clock, in milliseconds.
fn monotonic_ms() -> i64 {
    clock::monotonic_ns() / 1_000_000
}

fn unavailable() -> OutgoingResponse {
    answer::unavailable(
        "jwks-unavailable",
        "The keys of the token's issuer are unavailable; try again shortly.",
        UNAVAILABLE_RETRY_MS / 1000,
    )
}

impl JwtAuth {
    /// Checks the token's signature with the candidate keys, fetching the JWK Set when due.
    fn check_signature(&mut self, jws: &jwt_verify::Jws<'_>) -> Result<(), Refusal> {
        if let Some(url) = self.jwks_url.as_deref() {
            let timeout_ms = self.timeout_ms;
            self.jwks.refresh(
                monotonic_ms(),
                self.policy.refresh_ms,
                jws.kid.as_deref(),
                &self.policy.static_keys,
                &self.policy.jwks_label,
                || fetch::fetch_jwks(url, timeout_ms, "jwks_url"),
            );
        }
        let tried = match self.jwks.verify(&self.policy.static_keys, jws) {
            Ok(()) => return Ok(()),
            Err(tried) => tried,
        };
        if self.jwks_url.is_some() && !self.jwks.ever_fetched() {
            return Err(Refusal::Unavailable);
        }
        let sources = if self.jwks_url.is_some() {
            "configured or fetched"
        } else {
            "configured"
        };
        Err(Refusal::Invalid(keyset::unverified(tried, jws, sources)))
    }

    /// Checks the request's token.
    fn authenticate(&mut self, request: &Request) -> Result<Identity, Refusal> {
        let token = bearer_token(request).ok_or(Refusal::Missing)?;
        let jws = parse_jws(&token, &self.policy.algorithms).map_err(Refusal::Invalid)?;
        if !self.skip_signature_validation {
            self.check_signature(&jws)?;
        }
        let rules = ClaimRules {
            issuer: self.issuer.as_deref(),
            audience: self.audience.as_deref(),
            clock_skew_seconds: self.clock_skew_seconds,
        };
        let groups_claim = self.groups_claim.as_deref();
        answer::accept(jws, &rules, &self.required_scopes, |claims| {
            groups_claim.map(|claim| names(claims.get(claim)))
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
            fetch::check_url("jwks_url", url)?;
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
        self.policy = Policy {
            algorithms,
            static_keys: static_keys.into_iter().map(|(_, key)| key).collect(),
            refresh_ms,
            scope_challenge: answer::scope_challenge(&self.required_scopes),
            jwks_label: format!(
                "the JWK Set {}",
                self.jwks_url.as_deref().unwrap_or_default()
            ),
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        match self.authenticate(request) {
            Ok(identity) => {
                identity.set_context("jwt");
                Action::Continue
            }
            Err(refusal) => Action::Respond(answer::refuse(
                refusal,
                &self.policy.scope_challenge,
                unavailable,
            )),
        }
    }
}

#[cfg(test)]
mod tests;
