//! [`PluginHarness`]: run a plugin's real `.wasm` in the real sandbox, without a gateway.
//!
//! ```no_run
//! # async fn demo() {
//! use barbacane_test::harness::{PluginHarness, exchange};
//!
//! let cors = PluginHarness::official("cors", serde_json::json!({
//!     "allowed_origins": ["https://app.example"]
//! }))
//! .unwrap();
//! let mut run = cors
//!     .on_request(exchange("OPTIONS", "/pets").header("origin", "https://app.example")
//!         .header("access-control-request-method", "GET"))
//!     .await
//!     .unwrap();
//! assert_eq!(run.response().unwrap().status, 204);
//! # }
//! ```

use barbacane_plugin_abi::{Action, PluginManifest};
use barbacane_wasm::{Call, ExchangeState, Prepared, ResponseState, Runtime, WasmError};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};

/// A plugin module bound to one configuration.
#[derive(Debug)]
pub struct PluginHarness {
    prepared: Prepared,
}

/// Builds an [`ExchangeState`] (the request as plugins see it).
#[derive(Debug, Clone)]
pub struct ExchangeBuilder(ExchangeState);

/// A request to hand to a plugin: `exchange("GET", "/pets?limit=2").header(..)`.
pub fn exchange(method: &str, target: &str) -> ExchangeBuilder {
    let mut state = ExchangeState {
        method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
        ..ExchangeState::default()
    };
    state.uri = target
        .parse()
        .unwrap_or_else(|e| panic!("bad target `{target}`: {e}"));
    ExchangeBuilder(state)
}

impl ExchangeBuilder {
    /// Sets a template variable of the matched route (`barbacane:request.path_param`).
    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.0.path_params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the connection's peer address (`barbacane:request.client_ip`).
    pub fn client_ip(mut self, ip: std::net::IpAddr) -> Self {
        self.0.client_ip = Some(ip);
        self
    }

    /// Adds a request header value.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}")),
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{value}: {e}")),
        );
        self
    }

    /// Makes the body visible to the plugin.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.0.body = Some(body.into());
        self
    }

    /// Sets a context value, as an earlier plugin would have.
    pub fn context(mut self, key: &str, value: &str) -> Self {
        self.0.context.insert(key.into(), value.into());
        self
    }

    /// The state.
    pub fn build(self) -> ExchangeState {
        self.0
    }
}

impl From<ExchangeBuilder> for ExchangeState {
    fn from(b: ExchangeBuilder) -> Self {
        b.0
    }
}

/// A middleware instance after `on_request`, ready for `on_response`.
#[derive(Debug)]
pub struct RequestRun {
    /// What `on_request` decided.
    pub action: Action,
    call: Call,
}

impl RequestRun {
    /// The request (and context) as the plugin left it.
    pub fn exchange(&mut self) -> &ExchangeState {
        self.call.exchange_mut()
    }

    /// The response the plugin answered with, when it short-circuited.
    pub fn response(&mut self) -> Option<ResponseState> {
        self.call.exchange_mut().response.clone()
    }

    /// Runs `on_response` over `response` (as a dispatcher produced it); returns the
    /// response as the plugin left it.
    pub async fn on_response(
        mut self,
        response: ResponseState,
    ) -> Result<ResponseState, WasmError> {
        self.call.exchange_mut().response = Some(response);
        self.call.on_response_async().await?;
        Ok(self.call.into_exchange().response.unwrap_or_default())
    }
}

/// A response for [`RequestRun::on_response`].
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> ResponseState {
    let mut state = ResponseState {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers: http::HeaderMap::new(),
        body: Some(Bytes::copy_from_slice(body.as_bytes())),
    };
    for (n, v) in headers {
        state.headers.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap_or_else(|e| panic!("{n}: {e}")),
            HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{v}: {e}")),
        );
    }
    state
}

impl PluginHarness {
    /// The official plugin `name` with `config`; `init` is proven as the gateway does at
    /// load (a refused configuration is an error here).
    pub fn official(name: &str, config: serde_json::Value) -> Result<PluginHarness, WasmError> {
        let bundle = barbacane_plugins::find(name)
            .unwrap_or_else(|| panic!("`{name}` is not an official plugin"));
        PluginHarness::from_module(bundle.manifest, bundle.wasm, config)
    }

    /// A test-only plugin of `plugins/test-plugins/`.
    pub fn test_plugin(name: &str, config: serde_json::Value) -> Result<PluginHarness, WasmError> {
        let bundle = barbacane_plugins::test_plugin(name)
            .unwrap_or_else(|| panic!("`{name}` is not a test plugin"));
        PluginHarness::from_module(bundle.manifest, bundle.wasm, config)
    }

    /// Any plugin, from its `plugin.toml` text and module bytes.
    pub fn from_module(
        manifest: &str,
        wasm: &[u8],
        config: serde_json::Value,
    ) -> Result<PluginHarness, WasmError> {
        let manifest = PluginManifest::parse(manifest)
            .map_err(|e| WasmError::Engine(format!("plugin.toml: {e}")))?;
        let mut plugin = Runtime::global()?.load(manifest, wasm)?;
        if plugin
            .manifest()
            .allows(barbacane_plugin_abi::Capability::Http)
        {
            let client = barbacane_proxy::plugin_http_client().map_err(WasmError::Engine)?;
            plugin = plugin.with_http_client(client);
        }
        Ok(PluginHarness {
            prepared: plugin.prepare(&config)?,
        })
    }

    /// Whether the gateway would compute this dispatcher's answer once, at load time.
    pub fn is_constant(&self) -> bool {
        self.prepared.plugin().is_constant_dispatcher()
    }

    /// Runs `on_request` on an instance checked out of the plugin's pool (as the gateway
    /// does: reused across runs unless the plugin asks for `isolation = "request"`).
    pub async fn on_request(
        &self,
        request: impl Into<ExchangeState>,
    ) -> Result<RequestRun, WasmError> {
        let mut call = self
            .prepared
            .start_async(request.into())
            .await
            .map_err(|e| e.error)?;
        let action = call.on_request_async().await?;
        Ok(RequestRun { action, call })
    }

    /// Runs `dispatch` on an instance checked out of the plugin's pool; returns the
    /// response it set.
    pub async fn dispatch(
        &self,
        request: impl Into<ExchangeState>,
    ) -> Result<ResponseState, WasmError> {
        let mut call = self
            .prepared
            .start_async(request.into())
            .await
            .map_err(|e| e.error)?;
        call.dispatch_async().await?;
        Ok(call.into_exchange().response.unwrap_or_default())
    }
}
