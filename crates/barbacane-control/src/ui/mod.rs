//! The web UI under `/ui/` (docs/ui.md): server-rendered HTML on the API's listener, with
//! the API's posture. Handlers render views of the same queries and service functions the
//! JSON API uses (`api::*`, `db::*`, `drift::remediate`); nothing calls the API over HTTP.
//!
//! - [`session`]: login with an admin token, the session cookie, expiry, logout;
//! - [`csrf`]: the synchronizer token every form carries ([`csrf::CsrfForm`]);
//! - [`headers`]: the security headers of every UI response;
//! - [`layout`]: the page shell and the small helpers pages share;
//! - [`pages`]: one module per page family; [`assets`]: the CSS and JS, from the binary.
//!
//! Every value shown is escaped by `maud`; nothing here uses `PreEscaped` on data.

pub mod assets;
pub mod csrf;
pub mod error;
pub mod headers;
pub mod layout;
pub mod pages;
pub mod session;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::state::AppState;
use error::UiError;
use pages::{api_keys, artifacts, deployments, drift, fleet, projects, specs, webhooks as hooks};

/// Where the UI lives.
pub const ROOT: &str = "/ui";

/// The socket's peer address (never a header); unknown is `0.0.0.0`, which no sensible
/// allowlist holds, so it fails closed, as in `posture.rs`.
pub(crate) async fn peer(parts: &mut axum::http::request::Parts, state: &AppState) -> IpAddr {
    ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
        .await
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Middleware of the pages open without a session (login, assets): the IP allowlist only.
async fn allowlist(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let ip = peer(&mut parts, &state).await;
    if !state.posture().allowlist.allows(ip) {
        tracing::warn!(peer = %ip, path = parts.uri.path(), "UI request from a forbidden address");
        return UiError::Forbidden.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The UI's routes. Every page but login and the assets needs a session
/// ([`session::require`]); every response carries [`headers::secure`]'s headers.
pub fn router(state: AppState) -> Router<AppState> {
    let open = Router::new()
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/assets/app.css", get(assets::css))
        .route("/ui/assets/app.js", get(assets::js))
        .route_layer(middleware::from_fn_with_state(state.clone(), allowlist));
    let closed = Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(projects::index))
        .route("/ui/logout", post(session::logout))
        .route("/ui/projects", post(projects::create))
        .route("/ui/projects/{id}", get(projects::show))
        .route("/ui/projects/{id}/specs", post(specs::upload))
        .route("/ui/projects/{id}/compile", post(specs::compile_project))
        .route("/ui/specs/{id}", get(specs::show))
        .route("/ui/specs/{id}/compile", post(specs::compile_spec))
        .route("/ui/compilations/{id}", get(specs::compilation))
        .route("/ui/projects/{id}/artifacts", get(artifacts::list))
        .route("/ui/artifacts/{id}", get(artifacts::show))
        .route("/ui/artifacts/{id}/sbom", get(artifacts::sbom))
        .route(
            "/ui/artifacts/{id}/attestation",
            get(artifacts::attestation),
        )
        .route("/ui/fleet", get(fleet::all))
        .route("/ui/projects/{id}/fleet", get(fleet::project_fleet))
        .route(
            "/ui/projects/{id}/deployments",
            get(deployments::list).post(deployments::deploy),
        )
        .route("/ui/projects/{id}/deploy", get(deployments::confirm))
        .route("/ui/deployments/{id}", get(deployments::show))
        .route("/ui/drift", get(drift::findings))
        .route("/ui/drift/audit", get(drift::audit))
        .route("/ui/drift/findings/{id}", get(drift::finding))
        .route("/ui/drift/findings/{id}/propose", post(drift::propose))
        .route("/ui/remediations/{id}/approve", post(drift::approve))
        .route("/ui/remediations/{id}/reject", post(drift::reject))
        .route("/ui/webhooks", get(hooks::list))
        .route("/ui/webhooks/{id}", get(hooks::show))
        .route(
            "/ui/projects/{id}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/ui/projects/{id}/api-keys/{key}/revoke",
            post(api_keys::revoke),
        )
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .route_layer(middleware::from_fn_with_state(state, session::require));
    open.merge(closed)
        .layer(middleware::from_fn(headers::secure))
}

async fn not_found(uri: axum::http::Uri) -> UiError {
    UiError::NotFound(uri.path().to_owned())
}
