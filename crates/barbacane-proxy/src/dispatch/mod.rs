//! Dispatchers: what produces the response once a request has passed validation.

mod mock;
pub(crate) mod upstream;

use http::Response;
use http::request::Parts;
use serde_json::Value;

use crate::body::OutgoingBody;
use crate::{Body, GatewayError};
use mock::MockResponse;
use upstream::Upstream;

/// A dispatcher, prepared at load time.
#[derive(Debug)]
pub(crate) enum Dispatcher {
    /// The built-in `mock`.
    Mock(MockResponse),
    /// The native `http-upstream` reverse proxy.
    Upstream(Box<Upstream>),
}

/// What a dispatcher sees of the request.
pub(crate) struct DispatchRequest<'a> {
    pub(crate) parts: Parts,
    pub(crate) body: OutgoingBody,
    /// The normalized request path, e.g. `/pets/1`.
    pub(crate) path: String,
    /// Captured path parameters, by name.
    pub(crate) params: &'a (dyn Fn(&str) -> Option<&'a str> + Sync),
    /// The client's address, when known.
    pub(crate) peer: Option<std::net::IpAddr>,
    /// This request's id (propagated upstream).
    pub(crate) request_id: &'a http::HeaderValue,
    /// The request body limit (a streamed body over it is a 413).
    pub(crate) body_limit: u64,
}

impl Dispatcher {
    /// Prepares the dispatcher named in the artifact.
    pub(crate) fn build(name: &str, config: &Value) -> Result<Dispatcher, String> {
        match name {
            "mock" => MockResponse::build(config).map(Dispatcher::Mock),
            "http-upstream" => Upstream::build(config).map(|u| Dispatcher::Upstream(Box::new(u))),
            other => Err(format!(
                "dispatcher `{other}` is not available in this data plane (built in: mock, http-upstream)"
            )),
        }
    }

    /// Whether the dispatcher reads the request body (the mock never does, so it is not
    /// read at all).
    pub(crate) fn reads_body(&self) -> bool {
        matches!(self, Dispatcher::Upstream(_))
    }

    pub(crate) async fn dispatch(
        &self,
        request: DispatchRequest<'_>,
    ) -> Result<Response<Body>, GatewayError> {
        match self {
            Dispatcher::Mock(mock) => Ok(mock.respond()),
            Dispatcher::Upstream(upstream) => upstream.forward(request).await,
        }
    }
}
