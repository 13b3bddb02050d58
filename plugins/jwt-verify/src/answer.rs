//! What a request gets: the RFC 6750 (section 3) refusals as RFC 9457 problems, or, for an
//! accepted token, the identity it names in the request context.

use crate::claims::ClaimRules;
use crate::keys;
use crate::token::{Jws, names};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, log};
use serde_json::{Map, Value};

/// The challenge of a request without a token.
pub const CHALLENGE: &str = r#"Bearer realm="api""#;

/// The challenge of a request with an invalid token.
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="api", error="invalid_token""#;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token.
    Missing,
    /// A token that is not valid, and why (for the debug log).
    Invalid(String),
    /// A valid token without every required scope.
    InsufficientScope,
    /// No key to check the token with: the keys cannot be fetched.
    Unavailable,
}

/// What an accepted token says, for the context.
#[derive(Debug)]
pub struct Identity {
    /// The `sub` claim, when a string.
    pub sub: Option<String>,
    /// The token's scopes (`scope`, else `scp`).
    pub scopes: Vec<String>,
    /// The groups, when the plugin reads them.
    pub roles: Option<Vec<String>>,
    /// Every claim.
    pub claims: Map<String, Value>,
}

/// The 401 of a request without a token.
pub fn missing() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        401,
        "unauthorized",
        "Authentication required",
        Some("The request needs a bearer token."),
    )
    .header("www-authenticate", CHALLENGE)
}

/// The 401 of a request with an invalid token.
pub fn invalid() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        401,
        "unauthorized",
        "Authentication required",
        Some("The bearer token is invalid (invalid_token)."),
    )
    .header("www-authenticate", INVALID_TOKEN_CHALLENGE)
}

/// The 403 of a valid token without every required scope; `challenge` from
/// [`scope_challenge`].
pub fn insufficient_scope(challenge: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        403,
        "insufficient-scope",
        "Insufficient scope",
        Some("The bearer token lacks a scope this operation requires (insufficient_scope)."),
    )
    .header("www-authenticate", challenge)
}

/// The 503 of keys that cannot be fetched (`urn:barbacane:error:<problem_type>`), with
/// `Retry-After` in seconds.
pub fn unavailable(problem_type: &str, detail: &str, retry_after_s: i64) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        503,
        problem_type,
        "The token cannot be checked",
        Some(detail),
    )
    .header("retry-after", retry_after_s.to_string())
}

/// The answer to `refusal` (an invalid token's reason is logged at debug level, never the
/// token); `scope_challenge` from [`scope_challenge`], `unavailable` makes the plugin's 503.
pub fn refuse(
    refusal: Refusal,
    scope_challenge: &str,
    unavailable: impl FnOnce() -> OutgoingResponse,
) -> OutgoingResponse {
    match refusal {
        Refusal::Missing => missing(),
        Refusal::Invalid(why) => {
            log::debug(&format!("token refused: {why}"));
            invalid()
        }
        Refusal::InsufficientScope => insufficient_scope(scope_challenge),
        Refusal::Unavailable => unavailable(),
    }
}

/// The `WWW-Authenticate` value of the 403, naming every required scope.
pub fn scope_challenge(required_scopes: &[String]) -> String {
    let scopes = required_scopes.join(" ");
    format!(r#"Bearer realm="api", error="insufficient_scope", scope="{scopes}""#)
}

/// The checks after the signature: the claims against `rules` at the gateway's clock, then
/// the scopes; `roles` reads the groups from the claims.
pub fn accept(
    jws: Jws<'_>,
    rules: &ClaimRules<'_>,
    required_scopes: &[String],
    roles: impl FnOnce(&Map<String, Value>) -> Option<Vec<String>>,
) -> Result<Identity, Refusal> {
    rules
        .check(&jws.claims, clock::now_ms())
        .map_err(Refusal::Invalid)?;
    let claims = jws.claims;
    let scopes = names(claims.get("scope").or_else(|| claims.get("scp")));
    if let Some(lacking) = required_scopes.iter().find(|s| !scopes.contains(s)) {
        log::debug(&format!(
            "token refused: it lacks the scope {}",
            keys::shown(lacking)
        ));
        return Err(Refusal::InsufficientScope);
    }
    let roles = roles(&claims);
    Ok(Identity {
        sub: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        scopes,
        roles,
        claims,
    })
}

impl Identity {
    /// Sets `auth.sub`, `auth.consumer`, `auth.scopes`, `auth.roles`, `auth.claims.<name>`
    /// (claims that are strings, numbers or booleans) and `auth.method`.
    pub fn set_context(&self, method: &str) {
        if let Some(sub) = &self.sub {
            context::set("auth.sub", sub);
            context::set("auth.consumer", sub);
        }
        context::set("auth.scopes", &self.scopes.join(" "));
        if let Some(roles) = &self.roles {
            context::set("auth.roles", &roles.join(" "));
        }
        for (name, value) in &self.claims {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            context::set(&format!("auth.claims.{name}"), &text);
        }
        context::set("auth.method", method);
    }
}
