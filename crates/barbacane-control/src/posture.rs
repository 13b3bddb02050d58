//! The API's admin posture (the same rules as the data plane's admin listener, from
//! `barbacane-posture`): allowlist on the socket's peer address, then the bearer token.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use barbacane_posture::{Decision, TokenSource};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::ApiError;
use crate::state::AppState;

/// Variable holding the primary token.
pub const TOKEN_ENV: &str = "BARBACANE_CONTROL_ADMIN_TOKEN";
/// Variable holding secondary tokens, comma-separated (rotation).
pub const SECONDARY_TOKENS_ENV: &str = "BARBACANE_CONTROL_ADMIN_TOKENS_SECONDARY";

/// Where the control plane reads its tokens.
pub fn token_source() -> TokenSource {
    TokenSource {
        primary_env: TOKEN_ENV.to_owned(),
        secondary_env: SECONDARY_TOKENS_ENV.to_owned(),
    }
}

/// Middleware: lets the request through or answers 401/403. A request without a known peer
/// address (never the case behind `serve`) is checked as `0.0.0.0`, which no sensible
/// allowlist contains, so it fails closed.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let peer = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, &state)
        .await
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let request = Request::from_parts(parts, body);
    let authorization = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    match state.posture().authorize(peer, authorization) {
        Decision::Allow => next.run(request).await,
        Decision::Unauthorized => {
            tracing::warn!(%peer, path = request.uri().path(), "unauthorized request");
            ApiError::Unauthorized.into_response()
        }
        Decision::Forbidden => {
            tracing::warn!(%peer, path = request.uri().path(), "request from a forbidden address");
            ApiError::Forbidden.into_response()
        }
    }
}

/// Who calls a route that machines may use (`Access::AdminOrKey` in the route table): the
/// admin (posture rules: allowlist, then token), or an API key of one project. Handlers of
/// such routes take this extractor, so none of them can forget to authenticate.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The admin token, from an allowed address.
    Admin,
    /// A valid (not revoked, not expired) API key.
    Key {
        /// The only project it can see.
        project_id: uuid::Uuid,
        /// Its id.
        key_id: uuid::Uuid,
        /// Its scopes.
        scopes: Vec<String>,
    },
}

impl Caller {
    /// Lets the admin through; a key only with `scope` (403 otherwise) and only for its own
    /// project (anything else does not exist for it: `not_found`).
    pub fn require(
        &self,
        scope: &'static str,
        project_id: uuid::Uuid,
        not_found: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Key {
                project_id: own, ..
            } if *own != project_id => Err(not_found()),
            Caller::Key { scopes, .. } if !scopes.iter().any(|s| s == scope) => {
                Err(ApiError::InsufficientScope(scope))
            }
            Caller::Key { .. } => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Caller, ApiError> {
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let authorization = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        let key = authorization
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| k.starts_with(crate::api::api_keys::KEY_PREFIX));
        if let Some(key) = key {
            let hash = barbacane_artifact::sha256_hex(key.as_bytes());
            return match crate::db::api_keys::authenticate(state.pool(), &hash).await? {
                Some(found) => Ok(Caller::Key {
                    project_id: found.project_id,
                    key_id: found.id,
                    scopes: found.scopes,
                }),
                None => {
                    // Never the key itself in the logs.
                    tracing::warn!(%peer, path = parts.uri.path(), "unknown, revoked or expired API key");
                    Err(ApiError::Unauthorized)
                }
            };
        }
        match state.posture().authorize(peer, authorization) {
            Decision::Allow => Ok(Caller::Admin),
            Decision::Unauthorized => {
                tracing::warn!(%peer, path = parts.uri.path(), "unauthorized request");
                Err(ApiError::Unauthorized)
            }
            Decision::Forbidden => {
                tracing::warn!(%peer, path = parts.uri.path(), "request from a forbidden address");
                Err(ApiError::Forbidden)
            }
        }
    }
}

/// Who made an admin request, as recorded next to human decisions: the first 16 hex digits
/// of SHA-256 of the bearer token (identifies which token of a rotation was used without
/// storing anything that could be replayed).
pub fn token_fingerprint(headers: &axum::http::HeaderMap) -> Option<String> {
    let token = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    let mut hex = barbacane_artifact::sha256_hex(token.as_bytes());
    hex.truncate(16);
    Some(hex)
}
