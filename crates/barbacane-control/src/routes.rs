//! The route table: the single list of every route, used to build the router and by the test
//! that keeps `openapi.yaml` true.

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};
use axum::{Router, middleware};

use crate::api::{
    self, api_keys, artifacts, compilations, data_planes, deployments, drift, health, known_good,
    openapi, plugins, projects, remediations, specs, webhooks,
};
use crate::state::AppState;
use crate::{posture, version};

/// One route.
#[derive(Debug)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path template, axum syntax (`/specs/{id}`), the same as OpenAPI's.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (only health).
    Public,
    /// The admin: allowlist and token (`posture::authorize`).
    Admin,
    /// The admin, or an API key with the route's scope for the resource's project; the
    /// handler authenticates through the `posture::Caller` extractor.
    AdminOrKey,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        access: Access::Admin,
        handler,
    }
}

/// Every route the API serves.
pub fn table() -> Vec<Route> {
    vec![
        Route {
            access: Access::Public,
            ..route(Method::GET, "/health", get(health::health))
        },
        route(Method::GET, "/openapi.yaml", get(openapi::yaml)),
        route(Method::GET, "/openapi.json", get(openapi::json)),
        route(Method::POST, "/projects", post(projects::create)),
        route(Method::GET, "/projects", get(projects::list)),
        route(Method::GET, "/projects/{id}", get(projects::get)),
        route(Method::DELETE, "/projects/{id}", delete(projects::delete)),
        route(
            Method::GET,
            "/projects/{id}/data-planes",
            get(data_planes::list),
        ),
        route(
            Method::POST,
            "/projects/{id}/data-planes",
            post(data_planes::register),
        ),
        route(
            Method::GET,
            "/projects/{id}/data-planes/{dpId}",
            get(data_planes::get),
        ),
        route(
            Method::DELETE,
            "/projects/{id}/data-planes/{dpId}",
            delete(data_planes::delete),
        ),
        Route {
            access: Access::AdminOrKey,
            ..route(Method::GET, "/ws/data-plane", get(data_planes::connect))
        },
        route(
            Method::POST,
            "/projects/{id}/deploy",
            post(deployments::deploy),
        ),
        route(
            Method::GET,
            "/projects/{id}/deployments",
            get(deployments::list),
        ),
        route(Method::GET, "/deployments/{id}", get(deployments::get)),
        route(Method::GET, "/drift/findings", get(drift::findings)),
        route(Method::GET, "/drift/findings/{id}", get(drift::finding)),
        route(
            Method::POST,
            "/drift/findings/{id}/remediations",
            post(remediations::propose),
        ),
        route(
            Method::GET,
            "/drift/findings/{id}/remediations",
            get(remediations::for_finding),
        ),
        route(Method::GET, "/remediations/{id}", get(remediations::get)),
        route(
            Method::POST,
            "/remediations/{id}/approve",
            post(remediations::approve),
        ),
        route(
            Method::POST,
            "/remediations/{id}/reject",
            post(remediations::reject),
        ),
        route(
            Method::POST,
            "/projects/{id}/known-good",
            post(known_good::create),
        ),
        route(
            Method::GET,
            "/projects/{id}/known-good",
            get(known_good::list),
        ),
        route(Method::POST, "/webhooks", post(webhooks::create)),
        route(Method::GET, "/webhooks", get(webhooks::list)),
        route(Method::GET, "/webhooks/{id}", get(webhooks::get)),
        route(Method::DELETE, "/webhooks/{id}", delete(webhooks::delete)),
        route(
            Method::GET,
            "/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        ),
        route(Method::GET, "/metrics", get(drift::metrics)),
        route(Method::POST, "/projects/{id}/specs", post(specs::upload)),
        route(
            Method::POST,
            "/projects/{id}/api-keys",
            post(api_keys::create),
        ),
        route(Method::GET, "/projects/{id}/api-keys", get(api_keys::list)),
        route(
            Method::DELETE,
            "/projects/{id}/api-keys/{keyId}",
            delete(api_keys::revoke),
        ),
        route(
            Method::POST,
            "/projects/{id}/compile",
            post(compilations::compile_project),
        ),
        route(Method::GET, "/specs", get(specs::list)),
        route(Method::GET, "/specs/{id}", get(specs::get)),
        route(Method::PUT, "/specs/{id}", put(specs::replace)),
        route(Method::DELETE, "/specs/{id}", delete(specs::delete)),
        route(Method::GET, "/specs/{id}/history", get(specs::history)),
        route(
            Method::POST,
            "/specs/{id}/compile",
            post(compilations::compile_spec),
        ),
        route(Method::GET, "/compilations/{id}", get(compilations::get)),
        route(Method::GET, "/artifacts", get(artifacts::list)),
        route(Method::GET, "/artifacts/{id}", get(artifacts::get)),
        route(Method::DELETE, "/artifacts/{id}", delete(artifacts::delete)),
        Route {
            access: Access::AdminOrKey,
            ..route(
                Method::GET,
                "/artifacts/{id}/download",
                get(artifacts::download),
            )
        },
        Route {
            access: Access::AdminOrKey,
            ..route(Method::GET, "/artifacts/{id}/sbom", get(artifacts::sbom))
        },
        Route {
            access: Access::AdminOrKey,
            ..route(
                Method::GET,
                "/artifacts/{id}/attestation",
                get(artifacts::attestation),
            )
        },
        route(Method::POST, "/plugins", post(plugins::register)),
        route(Method::GET, "/plugins", get(plugins::list)),
        route(Method::GET, "/plugins/{name}", get(plugins::versions)),
        route(Method::GET, "/plugins/{name}/{version}", get(plugins::get)),
        route(
            Method::DELETE,
            "/plugins/{name}/{version}",
            delete(plugins::delete),
        ),
    ]
}

/// The whole API: public routes, authorized routes (posture, then version negotiation), the
/// web UI under `/ui/` (its own session and posture checks, `ui::router`), and problem+json
/// fallbacks for unknown paths and methods.
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut private = Router::new();
    let mut machine = Router::new();
    for r in table() {
        match r.access {
            Access::Public => public = public.route(r.path, r.handler),
            Access::Admin => private = private.route(r.path, r.handler),
            Access::AdminOrKey => machine = machine.route(r.path, r.handler),
        }
    }
    let machine = machine
        .route_layer(middleware::from_fn(version::negotiate_version))
        .route_layer(middleware::from_fn(crate::telemetry::track));
    // Counted outermost, so refusals by the posture count too.
    let private = private
        .route_layer(middleware::from_fn(version::negotiate_version))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            posture::authorize,
        ))
        .route_layer(middleware::from_fn(crate::telemetry::track));
    let public = public.route_layer(middleware::from_fn(crate::telemetry::track));
    public
        .merge(private)
        .merge(machine)
        .merge(crate::ui::router(state.clone()))
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(middleware::from_fn(api::check_target))
        .layer(DefaultBodyLimit::max(state.max_upload_bytes()))
        .with_state(state)
}
