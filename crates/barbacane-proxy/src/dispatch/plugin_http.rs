//! The HTTP client plugins use (`barbacane:http`): the same pooled hyper + rustls client as
//! `http-upstream`, so plugin calls reuse warm connections and never create a client,
//! thread or runtime per call.

use barbacane_wasm::{
    HttpClient, MAX_RESPONSE_BODY, OutboundError, OutboundFuture, OutboundRequest, OutboundResponse,
};
use http_body_util::{BodyExt, Full, Limited};
use std::sync::Arc;

use crate::dispatch::upstream::{ClientHandle, TlsSettings, client_for, error_chain};

/// The gateway's client, handed to plugins that declare `http`.
#[derive(Debug, Clone)]
pub(crate) struct PluginHttpClient {
    client: ClientHandle,
}

impl PluginHttpClient {
    /// The shared client (system roots, HTTP/1.1 or HTTP/2 by ALPN).
    pub(crate) fn shared() -> Result<Arc<dyn HttpClient>, String> {
        Ok(Arc::new(PluginHttpClient {
            client: client_for(&TlsSettings::default(), false)?,
        }))
    }

    /// The same client trusting only the PEM roots in `ca` when given (a secret store
    /// behind a private CA, `VAULT_CACERT`).
    pub(crate) fn with_ca(ca: Option<std::path::PathBuf>) -> Result<Arc<dyn HttpClient>, String> {
        let tls = TlsSettings {
            ca,
            ..TlsSettings::default()
        };
        Ok(Arc::new(PluginHttpClient {
            client: client_for(&tls, false)?,
        }))
    }
}

impl HttpClient for PluginHttpClient {
    fn send(&self, request: OutboundRequest) -> OutboundFuture {
        let client = self.client;
        Box::pin(async move {
            let timeout = request.timeout;
            let mut builder = http::Request::builder()
                .method(request.method)
                .uri(request.uri);
            if let Some(headers) = builder.headers_mut() {
                *headers = request.headers;
            }
            let outgoing = builder
                .body(
                    Full::new(request.body)
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .map_err(|e| OutboundError::Invalid(e.to_string()))?;
            let exchange = async move {
                let response = client
                    .request(outgoing)
                    .await
                    .map_err(|e| OutboundError::Connect(error_chain(&e)))?;
                let (head, body) = response.into_parts();
                let body = Limited::new(body, MAX_RESPONSE_BODY)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            OutboundError::TooLarge
                        } else {
                            OutboundError::Connect(format!("reading the response failed: {e}"))
                        }
                    })?
                    .to_bytes();
                Ok(OutboundResponse {
                    status: head.status,
                    headers: head.headers,
                    body,
                })
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(OutboundError::Timeout))
        })
    }
}
