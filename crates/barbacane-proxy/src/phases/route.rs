//! Phase 2: path normalization and route lookup (404, 405 with `Allow`).

use barbacane_router::{Lookup, Match, Method, MethodSet, NormalizedPath};

use crate::GatewayError;
use crate::snapshot::{RouteEntry, Snapshot};

/// Looks `path` up. Methods no route can declare (CONNECT, custom tokens; OpenAPI 3.2's
/// `QUERY` and the extension methods of `additionalOperations` are routable) get a 405 when
/// the path exists, so clients learn what the path does support.
pub(crate) fn lookup<'s, 'p>(
    snapshot: &'s Snapshot,
    method: &http::Method,
    path: &'p NormalizedPath<'_>,
) -> Result<Match<'s, 'p, RouteEntry>, GatewayError> {
    match Method::from_bytes(method.as_str().as_bytes()) {
        Some(m) => match snapshot.router.lookup_normalized(m, path) {
            Lookup::Found(found) => Ok(found),
            Lookup::MethodNotAllowed { allowed } => Err(GatewayError::MethodNotAllowed(allowed)),
            Lookup::NotFound => Err(GatewayError::RouteNotFound),
        },
        None => {
            // Rare path: probe each method to build the `Allow` set for this path.
            let mut allowed = MethodSet::default();
            for m in Method::ALL {
                match snapshot.router.lookup_normalized(m, path) {
                    Lookup::Found(_) => allowed.insert(m),
                    Lookup::MethodNotAllowed { allowed } => {
                        return Err(GatewayError::MethodNotAllowed(allowed));
                    }
                    Lookup::NotFound => return Err(GatewayError::RouteNotFound),
                }
            }
            Err(GatewayError::MethodNotAllowed(allowed))
        }
    }
}
