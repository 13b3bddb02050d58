//! Dispatchers written as WASM plugins (`mock`, `lambda`, user plugins).
//!
//! Two shapes:
//! - **Constant**: a dispatcher whose imports prove it can see neither the request nor the
//!   outside world (see `Plugin::is_constant_dispatcher`) answers the same for every
//!   request. It is run once per configuration at load time, inside the sandbox, and its
//!   response is served from memory. WebAssembly is deterministic, so this cannot differ
//!   from running it per request; if that run fails, the load fails, so requests never see
//!   a 500 from it. The official `mock` is such a plugin.
//! - **Per request**: everything else runs `dispatch` per request on an instance checked out
//!   of its configuration's pool.

use barbacane_wasm::{ExchangeState, Prepared, ResponseState};
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};

use crate::dispatch::DispatchRequest;
use crate::{Body, GatewayError};

/// A response computed at load time.
#[derive(Debug)]
pub(crate) struct ConstantResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl ConstantResponse {
    /// Runs the dispatcher once and keeps its answer.
    pub(crate) fn compute(prepared: &Prepared) -> Result<ConstantResponse, String> {
        let mut call = prepared
            .start(ExchangeState::default())
            .map_err(|e| e.error.to_string())?;
        call.dispatch().map_err(|e| e.to_string())?;
        let ResponseState {
            status,
            headers,
            body,
        } = call
            .into_exchange()
            .response
            .ok_or_else(|| format!("dispatcher `{}` set no response", prepared.name()))?;
        Ok(ConstantResponse {
            status,
            headers,
            body: body.unwrap_or_default(),
        })
    }

    pub(crate) fn respond(&self) -> Response<Body> {
        // Cloning `Bytes` and a small `HeaderMap` is cheap next to building the response anew.
        let mut response = Response::new(Body::new(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

/// A dispatcher plugin run per request.
#[derive(Debug)]
pub(crate) struct WasmDispatcher {
    prepared: Prepared,
    /// Declares `request`: the body is buffered for it.
    reads_request: bool,
}

impl WasmDispatcher {
    /// The plugin's name.
    pub(crate) fn name(&self) -> &str {
        self.prepared.name()
    }

    pub(crate) fn new(prepared: Prepared, reads_request: bool) -> WasmDispatcher {
        WasmDispatcher {
            prepared,
            reads_request,
        }
    }

    pub(crate) fn reads_request(&self) -> bool {
        self.reads_request
    }

    pub(crate) async fn dispatch(
        &self,
        request: DispatchRequest<'_>,
        body: Option<Bytes>,
    ) -> Result<Response<Body>, GatewayError> {
        let parts = request.parts;
        let exchange = ExchangeState {
            method: parts.method,
            uri: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.clone(), |pq| pq.clone().into()),
            headers: parts.headers,
            body,
            response: None,
            context: request.context,
            client_ip: request.peer,
            path_params: request.path_params,
            // Spans of dispatcher plugins are not collected yet (middlewares' are).
            ..Default::default()
        };
        let mut call = self
            .prepared
            .start_async(exchange)
            .await
            .map_err(|e| GatewayError::plugin_start(e.error))?;
        call.dispatch_async()
            .await
            .map_err(|e| GatewayError::PluginFailed(e.to_string()))?;
        let state = call.into_exchange().response.ok_or_else(|| {
            GatewayError::PluginFailed(format!(
                "dispatcher `{}` set no response",
                self.prepared.name()
            ))
        })?;
        let mut response = Response::new(Body::Full(state.body.filter(|b| !b.is_empty())));
        *response.status_mut() = state.status;
        *response.headers_mut() = state.headers;
        Ok(response)
    }
}
