//! The driver: runs the phases in order. Reading this file top to bottom is reading the
//! request path.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;

use crate::phases::{finish, limits, route, validate};
use crate::{Body, Gateway, GatewayError, ServeConfig, problem};

/// Reserved path of the liveness endpoint on the traffic listener.
pub const HEALTH_PATH: &str = "/__barbacane/health";

/// Handles one request end to end. Never fails: errors become problem responses here.
pub async fn handle<B>(gateway: &Gateway, request: Request<B>) -> Response<Body>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = finish::request_id(request.headers());
    let config = gateway.config();
    let response = match run(gateway, config, request).await {
        Ok(response) => response,
        Err(error) => problem::respond(&error, config.dev, Some(&request_id)),
    };
    finish::finish(response, request_id)
}

async fn run<B>(
    gateway: &Gateway,
    config: &ServeConfig,
    request: Request<B>,
) -> Result<Response<Body>, GatewayError>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    limits::check(&parts, &config.limits)?;
    if parts.uri.path() == HEALTH_PATH {
        return Ok(health());
    }
    let snapshot = gateway.snapshot();
    let path = barbacane_router::normalize_path(parts.uri.path()).map_err(GatewayError::BadPath)?;
    let found = route::lookup(&snapshot, &parts.method, &path)?;
    validate::validate(
        &found.value.validator,
        &found.params,
        &parts,
        body,
        &config.limits,
    )
    .await?;
    Ok(found.value.dispatcher.dispatch())
}

fn health() -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
