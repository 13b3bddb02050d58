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
