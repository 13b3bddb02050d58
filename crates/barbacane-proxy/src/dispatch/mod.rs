//! Dispatchers: what produces the response once a request has passed validation and the
//! middlewares' `on_request`.

pub(crate) mod brokers;
mod plugin_http;
pub(crate) mod stream;
pub(crate) mod upstream;
mod wasm;

use bytes::Bytes;
use futures_util::future::Either;
use http::Response;
use http::request::Parts;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) use plugin_http::PluginHttpClient;

use crate::body::OutgoingBody;
use crate::plugins::PluginSet;
use crate::{Body, GatewayError};
use upstream::Upstream;
pub(crate) use wasm::ConstantResponse;
use wasm::WasmDispatcher;

/// The client the OTLP exporter sends with (system roots; HTTP/2 only for gRPC).
pub(crate) type OtlpClient = upstream::client::ClientHandle;

/// A pooled client for the OTLP exporter.
pub(crate) fn otlp_client(http2_only: bool) -> Result<OtlpClient, String> {
    upstream::client::client_for(&upstream::client::TlsSettings::default(), http2_only)
}

/// A dispatcher, prepared at load time.
#[derive(Debug)]
pub(crate) enum Dispatcher {
    /// The native `http-upstream` reverse proxy.
    Upstream(Box<Upstream>),
    /// A WASM dispatcher whose answer was computed at load time.
    Constant(Arc<ConstantResponse>),
    /// A WASM dispatcher run per request.
    Wasm(WasmDispatcher),
    /// An AsyncAPI `receive` operation: a Server-Sent Events stream of broker messages.
    Stream(Box<stream::EventStream>),
}

impl Dispatcher {
    /// The dispatch span's attributes: the dispatcher's name and, for an upstream, where the
    /// request went.
    pub(crate) fn describe(&self, span: &mut crate::otel::SpanData) {
        match self {
            Dispatcher::Upstream(upstream) => {
                span.kind = crate::otel::Kind::Client;
                span.attr("barbacane.dispatcher", "http-upstream");
                upstream.describe(span);
            }
            Dispatcher::Constant(_) => span.attr("barbacane.dispatcher", "constant"),
            Dispatcher::Wasm(wasm) => {
                span.attr("barbacane.dispatcher", wasm.name().to_owned());
            }
            Dispatcher::Stream(_) => span.attr("barbacane.dispatcher", "event-stream"),
        }
    }
}

/// A dispatcher's future, boxed.
type BoxedDispatch<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<Response<Body>, GatewayError>> + Send + 'a>>;

/// What a dispatcher sees of the request.
pub(crate) struct DispatchRequest<'a> {
    pub(crate) parts: Parts,
    pub(crate) body: OutgoingBody,
    /// The normalized request path, e.g. `/pets/1`.
    pub(crate) path: String,
    /// Captured path parameters, by name.
    pub(crate) params: &'a (dyn Fn(&str) -> Option<&'a str> + Sync),
    /// The same, listed (for WASM dispatchers; empty for other dispatchers).
    pub(crate) path_params: Vec<(String, String)>,
    /// The client's address, when known.
    pub(crate) peer: Option<std::net::IpAddr>,
    /// This request's id (propagated upstream).
    pub(crate) request_id: &'a http::HeaderValue,
    /// The request body limit (a streamed body over it is a 413).
    pub(crate) body_limit: u64,
    /// The context the middlewares set (WASM dispatchers read it).
    pub(crate) context: BTreeMap<String, String>,
}

impl Dispatcher {
    /// Prepares the dispatcher named in the artifact: `http-upstream` is native, any other
    /// name is a plugin the artifact carries.
    pub(crate) fn build(
        name: &str,
        config: &Value,
        plugins: &mut PluginSet<'_>,
    ) -> Result<Dispatcher, String> {
        if name == "http-upstream" {
            return Upstream::build(config).map(|u| Dispatcher::Upstream(Box::new(u)));
        }
        let (prepared, constant, reads_request) = plugins.dispatcher(name, config)?;
        if constant {
            return plugins
                .constant(name, config, &prepared)
                .map(Dispatcher::Constant);
        }
        Ok(Dispatcher::Wasm(WasmDispatcher::new(
            prepared,
            reads_request,
        )))
    }

    /// Whether the dispatcher streams the request body (the native proxy).
    pub(crate) fn streams_body(&self) -> bool {
        matches!(self, Dispatcher::Upstream(_))
    }

    /// Whether the dispatcher needs the body in memory before it runs (a WASM dispatcher
    /// that declares `request`).
    pub(crate) fn buffers_body(&self) -> bool {
        matches!(self, Dispatcher::Wasm(w) if w.reads_request())
    }

    /// Produces the response (`buffered`: the body, when it was read into memory).
    pub(crate) fn dispatch<'a>(
        &'a self,
        request: DispatchRequest<'a>,
        buffered: Option<Bytes>,
    ) -> impl Future<Output = Result<Response<Body>, GatewayError>> + Send + 'a {
        // Not an `async fn`: that would keep the request in the future next to the
        // dispatcher's own. The proxy's future is held inline; plugin calls and broker
        // round trips are boxed, since their futures are large and every request's future
        // is as large as its largest branch (against a plugin call or a publish, one
        // allocation is noise).
        match self {
            Dispatcher::Upstream(upstream) => Either::Left(upstream.forward(request)),
            Dispatcher::Constant(constant) => {
                Either::Right(Either::Left(std::future::ready(Ok(constant.respond()))))
            }
            Dispatcher::Wasm(plugin) => Either::Right(Either::Right(Box::pin(
                plugin.dispatch(request, buffered),
            )
                as BoxedDispatch<'a>)),
            Dispatcher::Stream(stream) => Either::Right(Either::Right(Box::pin(
                stream.dispatch(request),
            )
                as BoxedDispatch<'a>)),
        }
    }
}
