//! `oidc-auth`: authenticates requests by a JSON Web Token (RFC 7519) sent as an OAuth 2.0
//! bearer token (RFC 6750), issued by an OpenID Provider that the plugin learns about from
//! its discovery document (OpenID Connect Discovery 1.0, RFC 8414): the document names the
//! issuer and the JWK Set whose keys sign the tokens. Tokens are then checked exactly as
//! `jwt-auth` checks them (the code is shared, in the `jwt-verify` library).
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `issuer_url` | string, required | | the OpenID Provider's issuer identifier; the discovery document is fetched from `<issuer_url>/.well-known/openid-configuration` |
//! | `audience` | string | none | when set, the `aud` claim (a string, or an array of strings) must contain it |
//! | `required_scopes` | string | none | space-separated scopes a token must all carry (in `scope` or `scp`) |
//! | `issuer_override` | string | none | the issuer the tokens' `iss` must equal instead of `issuer_url`, for a provider reached at an internal URL whose tokens name its external one |
//! | `clock_skew_seconds` | integer >= 0 | `60` | tolerance for `exp`, `nbf` and `iat`, in seconds |
//! | `jwks_refresh_seconds` | integer >= 10 | `300` | how long the discovery document and the JWK Set are used before they are fetched again |
//! | `timeout` | number of seconds, over 0, at most 300 | `5` | time limit of each fetch (discovery document, JWK Set) |
//! | `allow_query_token` | bool | `false` | also read the token from the `access_token` query parameter (RFC 6750, section 2.3) |
//! | `groups_claim` | string | none | the claim whose values become `auth.roles`: a claim name, or a JSON Pointer (RFC 6901) when it starts with `/` (`/realm_access/roles`) |
//! | `groups_claim_separator` | string | none | splits a string-valued groups claim (`","`); without it a string is one group |
//!
//! The configuration is refused when `issuer_url` is not an `https://` URL (`http://` is
//! accepted for `127.0.0.1`, `localhost` and `[::1]` only) or holds credentials; when
//! `issuer_override`, `audience`, `groups_claim` or `groups_claim_separator` is empty; when
//! a required scope holds a character outside RFC 6749's `scope-token`; when
//! `jwks_refresh_seconds` is below 10, or `timeout` is not over 0 and at most 300.
//!
//! # Behaviour
//!
//! **The provider.** The first request that needs keys (the gateway refuses outbound calls
//! from `init`) fetches `<issuer_url>/.well-known/openid-configuration` (a trailing `/` of
//! `issuer_url` is dropped before the path is appended, as OpenID Connect Discovery says),
//! with `timeout`. The answer must be 200, JSON, at most 512 KiB, with a string `issuer`
//! equal to `issuer_url` (or, when `issuer_override` is set, to it or `issuer_url`: a
//! provider reached through an internal address may name either) and a `jwks_uri` that is
//! `https://` (or `http://` to a loopback host). Otherwise the document is refused, and its
//! keys are never used: a document naming another issuer is a provider mix-up. Then the JWK
//! Set at `jwks_uri` is fetched, as `jwt-auth` fetches its `jwks_url`.
//!
//! Both are fetched again when the keys are `jwks_refresh_seconds` old, and when a token
//! names a `kid` no key has (at most once per 30 seconds). When a fetch fails (either
//! document), the keys fetched before are kept and a warning is logged; when only the
//! discovery document fails and one was had before, its `jwks_uri` is used again. A failed
//! scheduled fetch is retried after 30 seconds at the earliest. While no fetch ever
//! succeeded, requests are answered 503 (below), and the plugin tries again at most every
//! 5 seconds. Each instance of the gateway's pool holds its own copy.
//!
//! **The token** is read from the first `Authorization` field (`Bearer`, any case); with
//! `allow_query_token`, when there is no bearer `Authorization` field, from the first
//! non-empty `access_token` query parameter (percent-decoded). Tokens in URLs leak into logs
//! and `Referer` fields: leave it off unless clients cannot send a header. The query
//! parameter is not removed from the request.
//!
//! **The checks** are `jwt-auth`'s: a compact JWS; `alg` `none` and the HMAC algorithms
//! (`HS256`, `HS384`, `HS512`: an OpenID Provider shares no secret with the gateway) are
//! always refused; the algorithms accepted are `RS256`, `RS384`, `RS512`, `PS256`, `PS384`,
//! `PS512`, `ES256`, `ES384`, `EdDSA`, each only with a key of its type (and of its `alg`
//! when the JWK has one), chosen by `kid`; no `crit`; the signature checked by the gateway
//! (`barbacane:crypto`); `exp` required, `exp`, `nbf`, `iat` with `clock_skew_seconds`; `iss`
//! equal to `issuer_override` when set, else `issuer_url`; with `audience`, `aud` must be it
//! or contain it (without `audience`, a token the provider made for another client is
//! accepted: set it whenever the provider serves several); with `required_scopes`, the
//! token's `scope` (or `scp`), a space-separated string or an array, must hold them all.
//!
//! **Accepted**: the request goes on unchanged, with these request context values:
//!
//! | context key | value |
//! |---|---|
//! | `auth.sub`, `auth.consumer` | the `sub` claim (not set when the token has no string `sub`) |
//! | `auth.scopes` | the token's scopes joined by a single space |
//! | `auth.roles` | with `groups_claim`: the groups (an array's strings, or a string split by `groups_claim_separator`; groups holding whitespace are skipped) joined by a single space, `""` when none; without it, the token's scopes (as the earlier implementation used them as groups) |
//! | `auth.claims.<name>` | every top-level claim that is a string, a number or a boolean, as text |
//! | `auth.method` | `oidc` |
//!
//! **Refused** (RFC 6750, section 3; RFC 9457 problems whose `detail` says no more than the
//! error code; why is logged at debug level, never the token):
//!
//! | when | answer |
//! |---|---|
//! | no token | `401 urn:barbacane:error:unauthorized`, `WWW-Authenticate: Bearer realm="api"` |
//! | an invalid token | `401 urn:barbacane:error:unauthorized`, `WWW-Authenticate: Bearer realm="api", error="invalid_token"` |
//! | a valid token without every required scope | `403 urn:barbacane:error:insufficient-scope`, `WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="<required_scopes>"` |
//! | no keys were ever fetched, and the discovery document cannot be had now | `503 urn:barbacane:error:oidc-discovery-unavailable`, `Retry-After: 5` |
//! | no keys were ever fetched, and the JWK Set cannot be had now | `503 urn:barbacane:error:jwks-unavailable`, `Retry-After: 5` |
//!
//! Capabilities: `request`, `response`, `context`, `crypto`, `http`, `clock`, `log`.

use barbacane_plugin_sdk::clock;
use barbacane_plugin_sdk::prelude::*;
use jwt_verify::answer::{self, Refusal};
use jwt_verify::fetch::check_url;
use jwt_verify::keyset::{self, KeySet, UNAVAILABLE_RETRY_MS};
use jwt_verify::token::{bearer_token, is_scope_token, parse_jws, query_token};
use jwt_verify::{Alg, ClaimRules, Identity};
use serde::Deserialize;

mod discovery;
mod groups;

use discovery::{Provider, Stage, WELL_KNOWN};

/// Longest `timeout`, in seconds (the gateway's limit for an outbound call).
pub const MAX_TIMEOUT_SECONDS: f64 = 300.0;

/// Shortest `jwks_refresh_seconds`.
pub const MIN_REFRESH_SECONDS: u64 = 10;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcAuth {
    issuer_url: String,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    required_scopes: Option<String>,
    #[serde(default)]
    issuer_override: Option<String>,
    #[serde(default = "default_clock_skew_seconds")]
    clock_skew_seconds: u64,
    #[serde(default = "default_jwks_refresh_seconds")]
    jwks_refresh_seconds: u64,
    #[serde(default = "default_timeout")]
    timeout: f64,
    #[serde(default)]
    allow_query_token: bool,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    groups_claim_separator: Option<String>,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
    /// The provider's documents, as last fetched.
    #[serde(skip)]
    provider: Provider,
    /// The keys of the provider's JWK Set, kept across requests.
    #[serde(skip)]
    keys: KeySet,
}

fn default_clock_skew_seconds() -> u64 {
    60
}

fn default_jwks_refresh_seconds() -> u64 {
    300
}

fn default_timeout() -> f64 {
    5.0
}

/// The configuration, checked.
#[derive(Debug, Default)]
struct Policy {
    /// `required_scopes`, split.
    required_scopes: Vec<String>,
    /// `jwks_refresh_seconds`, in milliseconds.
    refresh_ms: i64,
    /// The 403's challenge.
    scope_challenge: String,
    /// How fetch-failure warnings name the keys.
    keys_label: String,
}

/// The monotonic clock, in milliseconds.
fn monotonic_ms() -> i64 {
    clock::monotonic_ns() / 1_000_000
}

impl OidcAuth {
    /// The issuer tokens must name.
    fn expected_issuer(&self) -> &str {
        self.issuer_override.as_deref().unwrap_or(&self.issuer_url)
    }

    /// The request's token: the bearer `Authorization` field, else (when allowed) the
    /// `access_token` query parameter.
    fn token(&self, request: &Request) -> Option<String> {
        bearer_token(request).or_else(|| {
            self.allow_query_token
                .then(|| request.query())
                .flatten()
                .and_then(|query| query_token(&query))
        })
    }

    /// Checks the token's signature, fetching the provider's keys when due.
    fn check_signature(&mut self, jws: &jwt_verify::Jws<'_>) -> Result<(), Refusal> {
        let provider = &mut self.provider;
        self.keys.refresh(
            monotonic_ms(),
            self.policy.refresh_ms,
            jws.kid.as_deref(),
            &[],
            &self.policy.keys_label,
            || provider.fetch_keys(),
        );
        match self.keys.verify(&[], jws) {
            Ok(()) => Ok(()),
            Err(_) if !self.keys.ever_fetched() => Err(Refusal::Unavailable),
            Err(tried) => Err(Refusal::Invalid(keyset::unverified(tried, jws, "fetched"))),
        }
    }

    /// Checks the request's token.
    fn authenticate(&mut self, request: &Request) -> Result<Identity, Refusal> {
        let token = self.token(request).ok_or(Refusal::Missing)?;
        let jws = parse_jws(&token, &Alg::ALL).map_err(Refusal::Invalid)?;
        self.check_signature(&jws)?;
        let rules = ClaimRules {
            issuer: Some(self.expected_issuer()),
            audience: self.audience.as_deref(),
            clock_skew_seconds: self.clock_skew_seconds,
        };
        let (claim, separator) = (
            self.groups_claim.as_deref(),
            self.groups_claim_separator.as_deref(),
        );
        let mut identity = answer::accept(jws, &rules, &self.policy.required_scopes, |claims| {
            claim.map(|claim| groups::groups(groups::find(claims, claim), separator))
        })?;
        if identity.roles.is_none() {
            identity.roles = Some(identity.scopes.clone());
        }
        Ok(identity)
    }

    fn unavailable(&self) -> OutgoingResponse {
        let (problem_type, detail) = match self.provider.failed {
            Some(Stage::Jwks) => (
                "jwks-unavailable",
                "The OpenID Provider's keys (its JWK Set) cannot be fetched; try again shortly.",
            ),
            _ => (
                "oidc-discovery-unavailable",
                "The OpenID Provider's discovery document cannot be fetched or is not valid; \
                 try again shortly.",
            ),
        };
        answer::unavailable(problem_type, detail, UNAVAILABLE_RETRY_MS / 1000)
    }
}

impl Middleware for OidcAuth {
    fn init(&mut self) -> Result<(), String> {
        check_url("issuer_url", &self.issuer_url)?;
        for (name, value) in [
            ("issuer_override", &self.issuer_override),
            ("audience", &self.audience),
            ("groups_claim", &self.groups_claim),
            ("groups_claim_separator", &self.groups_claim_separator),
        ] {
            if value.as_deref() == Some("") {
                return Err(format!("{name} is empty: leave it out, or give a value"));
            }
        }
        let required_scopes: Vec<String> = self
            .required_scopes
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect();
        if let Some(scope) = required_scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(format!(
                "required_scopes: {scope:?} is not a scope (printable ASCII without `\"` or `\\`)"
            ));
        }
        if self.jwks_refresh_seconds < MIN_REFRESH_SECONDS {
            return Err(format!(
                "jwks_refresh_seconds must be at least {MIN_REFRESH_SECONDS}"
            ));
        }
        let refresh_ms = self
            .jwks_refresh_seconds
            .checked_mul(1000)
            .and_then(|ms| i64::try_from(ms).ok())
            .ok_or("jwks_refresh_seconds is too large")?;
        if !(self.timeout > 0.0 && self.timeout <= MAX_TIMEOUT_SECONDS) {
            return Err(format!(
                "timeout must be over 0 and at most {MAX_TIMEOUT_SECONDS} (seconds)"
            ));
        }
        let mut accepted_issuers = vec![self.issuer_url.clone()];
        if let Some(issuer) = &self.issuer_override {
            accepted_issuers.push(issuer.clone());
        }
        self.provider = Provider {
            discovery_url: format!("{}{WELL_KNOWN}", self.issuer_url.trim_end_matches('/')),
            accepted_issuers,
            timeout_ms: ((self.timeout * 1000.0).ceil() as u64).max(1),
            jwks_uri: None,
            failed: None,
        };
        self.policy = Policy {
            scope_challenge: answer::scope_challenge(&required_scopes),
            required_scopes,
            refresh_ms,
            keys_label: format!("the keys of the OpenID Provider {}", self.issuer_url),
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        match self.authenticate(request) {
            Ok(identity) => {
                identity.set_context("oidc");
                Action::Continue
            }
            Err(refusal) => Action::Respond(answer::refuse(
                refusal,
                &self.policy.scope_challenge,
                || self.unavailable(),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
