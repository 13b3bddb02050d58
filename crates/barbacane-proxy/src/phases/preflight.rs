//! CORS preflights on paths whose spec has no `OPTIONS` operation.
//!
//! Route lookup runs before any middleware, so a preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) to a path that only declares, say, `GET` and `POST`
//! would end in a 405 and the browser would never send the real request. Instead, the
//! preflight is routed to the operation it asks about (the method named by
//! `Access-Control-Request-Method`) and that operation's middleware chain runs on it, so its
//! `cors` middleware can answer. Nothing else of the operation runs: no validation, no
//! dispatcher. If no middleware answers, the request gets the 405 it would have had.

use barbacane_router::{Match, Method, MethodSet, NormalizedPath};
use http::Response;
use http::request::Parts;

use crate::phases::middleware::{self, Flow};
use crate::snapshot::{RouteEntry, Snapshot};
use crate::{Body, GatewayError};

/// The operation a preflight asks about, when the request is one.
pub(crate) fn target<'s, 'p>(
    snapshot: &'s Snapshot,
    parts: &Parts,
    path: &'p NormalizedPath<'_>,
) -> Option<Match<'s, 'p, RouteEntry>> {
    if parts.method != http::Method::OPTIONS || !parts.headers.contains_key(http::header::ORIGIN) {
        return None;
    }
    let requested = parts
        .headers
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)?;
    let method = Method::from_bytes(requested.as_bytes())?;
    match snapshot.router.lookup_normalized(method, path) {
        barbacane_router::Lookup::Found(found) if !found.value.middlewares.is_empty() => {
            Some(found)
        }
        _ => None,
    }
}

/// Runs the target operation's chain on the preflight.
pub(crate) async fn answer(
    entry: &RouteEntry,
    mut parts: Parts,
    peer: Option<std::net::SocketAddr>,
    allowed: MethodSet,
) -> Result<Response<Body>, GatewayError> {
    let mut body = None;
    let mut spans = Default::default();
    let (ran, flow) = match middleware::head(
        &entry.middlewares,
        &parts,
        peer.map(|a| a.ip()),
        &mut spans,
    )
    .await
    {
        Ok(answered) => answered,
        Err(resume) => {
            middleware::on_request(
                &entry.middlewares,
                resume,
                &mut parts,
                &mut body,
                peer.map(|a| a.ip()),
                Vec::new,
                &mut spans,
            )
            .await
        }
    };
    let response = match flow {
        Flow::Respond(response) => response,
        Flow::Continue => return Err(GatewayError::MethodNotAllowed(allowed)),
        Flow::Failed(error) => return Err(error),
    };
    Ok(middleware::on_response(ran, response, &mut Default::default()).await)
}
