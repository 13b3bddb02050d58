//! One request's run of a prepared plugin.
//!
//! Plugins that declare `http` import an asynchronous host function, so their stores must be
//! driven with wasmtime's `*_async` entry points (the guest runs on a fiber and is suspended
//! while the gateway awaits the network). Every other plugin runs synchronously and pays no
//! fiber switch. The `*_async` methods below handle both; the synchronous ones only the
//! latter.

use barbacane_plugin_abi::{Action, exports};
use std::sync::Arc;
use wasmtime::{Instance, Store, StoreLimitsBuilder, Trap, TypedFunc};

use crate::WasmError;
use crate::runtime::Plugin;
use crate::state::{ExchangeState, HostState};

/// A plugin bound to one configuration (one per use in the spec).
#[derive(Debug, Clone)]
pub struct Prepared {
    plugin: Plugin,
    config: Arc<[u8]>,
}

/// A failed start: the error, and the exchange handed back.
#[derive(Debug)]
pub struct StartError {
    /// What failed.
    pub error: WasmError,
    /// The request state, unchanged.
    pub exchange: ExchangeState,
}

/// One request's instance: created from the pool, `init` already run with the configuration.
pub struct Call {
    store: Store<HostState>,
    exports: std::sync::Arc<crate::runtime::ExportIndex>,
    instance: Instance,
    plugin: String,
    is_async: bool,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("plugin", &self.plugin)
            .finish()
    }
}

impl Prepared {
    pub(crate) fn new(plugin: Plugin, config: Vec<u8>) -> Prepared {
        Prepared {
            plugin,
            config: config.into(),
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.manifest.name
    }

    /// The plugin this was prepared from.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Whether calls need the `*_async` methods (the plugin makes outbound calls).
    pub fn is_async(&self) -> bool {
        self.plugin.is_async
    }

    fn store(&self, exchange: ExchangeState) -> Store<HostState> {
        let runtime = &self.plugin.runtime;
        let deadline_ticks = runtime.deadline_ticks();
        let state = HostState {
            plugin: self.plugin.manifest.name.clone(),
            exchange,
            result: Vec::new(),
            output: Vec::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(runtime.limits().memory_bytes)
                .instances(1)
                .build(),
            http: self.plugin.http.clone(),
            http_body: None,
            memory: None,
            in_init: true,
            deadline_ticks,
        };
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store
    }

    fn instantiate_failed(
        &self,
        mut store: Store<HostState>,
        e: wasmtime::Error,
    ) -> Box<StartError> {
        let error = WasmError::Trap {
            plugin: self.plugin.manifest.name.clone(),
            function: "instantiate",
            message: e.to_string(),
        };
        let exchange = std::mem::take(&mut store.data_mut().exchange);
        Box::new(StartError { error, exchange })
    }

    fn call(&self, mut store: Store<HostState>, instance: Instance) -> Call {
        let memory = self
            .plugin
            .exports
            .get(exports::MEMORY)
            .and_then(|e| instance.get_module_export(&mut store, e))
            .and_then(wasmtime::Extern::into_memory);
        store.data_mut().memory = memory;
        Call {
            exports: std::sync::Arc::clone(&self.plugin.exports),
            store,
            instance,
            plugin: self.plugin.manifest.name.clone(),
            is_async: self.plugin.is_async,
        }
    }

    /// Instantiates for one request with `exchange` as its state and runs `init`. On failure
    /// the exchange is handed back so the request can still be answered. Synchronous plugins
    /// only (see [`Prepared::is_async`]).
    pub fn start(&self, exchange: ExchangeState) -> Result<Call, Box<StartError>> {
        let mut store = self.store(exchange);
        if self.plugin.is_async {
            let e = wasmtime::Error::msg("this plugin makes outbound calls: use start_async");
            return Err(self.instantiate_failed(store, e));
        }
        let instance = match self.plugin.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => return Err(self.instantiate_failed(store, e)),
        };
        let mut call = self.call(store, instance);
        let init = call.init_sync(&self.config);
        call.finish_init(init)
    }

    /// [`Prepared::start`] for any plugin.
    pub async fn start_async(&self, exchange: ExchangeState) -> Result<Call, Box<StartError>> {
        if !self.plugin.is_async {
            return self.start(exchange);
        }
        let mut store = self.store(exchange);
        let instance = match self.plugin.pre.instantiate_async(&mut store).await {
            Ok(i) => i,
            Err(e) => return Err(self.instantiate_failed(store, e)),
        };
        let mut call = self.call(store, instance);
        let init = call.init_async(&self.config).await;
        call.finish_init(init)
    }
}

impl Call {
    /// Copies the configuration into the guest; returns `(ptr, len)` for `init`.
    fn place_config_sync(&mut self, config: &[u8]) -> Result<(i32, i32), WasmError> {
        let len = self.config_len(config)?;
        if config.is_empty() {
            return Ok((0, 0));
        }
        let alloc: TypedFunc<i32, i32> = self.armed(exports::ALLOC)?;
        let ptr = alloc
            .call(&mut self.store, len)
            .map_err(|e| self.classify(exports::ALLOC, e))?;
        self.write_config(ptr, config)?;
        Ok((ptr, len))
    }

    async fn place_config_async(&mut self, config: &[u8]) -> Result<(i32, i32), WasmError> {
        let len = self.config_len(config)?;
        if config.is_empty() {
            return Ok((0, 0));
        }
        let alloc: TypedFunc<i32, i32> = self.armed(exports::ALLOC)?;
        let ptr = alloc
            .call_async(&mut self.store, len)
            .await
            .map_err(|e| self.classify(exports::ALLOC, e))?;
        self.write_config(ptr, config)?;
        Ok((ptr, len))
    }

    fn config_len(&self, config: &[u8]) -> Result<i32, WasmError> {
        i32::try_from(config.len()).map_err(|_| self.trap(exports::INIT, "configuration too large"))
    }

    fn write_config(&mut self, ptr: i32, config: &[u8]) -> Result<(), WasmError> {
        let memory = self.store.data().memory.ok_or(WasmError::MissingExport {
            plugin: self.plugin.clone(),
            export: exports::MEMORY,
        })?;
        memory
            .write(
                &mut self.store,
                usize::try_from(ptr).unwrap_or(usize::MAX),
                config,
            )
            .map_err(|_| self.trap(exports::INIT, "allocator returned an out-of-bounds pointer"))
    }

    fn init_sync(&mut self, config: &[u8]) -> Result<i32, WasmError> {
        let (ptr, len) = self.place_config_sync(config)?;
        let init: TypedFunc<(i32, i32), i32> = self.armed(exports::INIT)?;
        init.call(&mut self.store, (ptr, len))
            .map_err(|e| self.classify(exports::INIT, e))
    }

    async fn init_async(&mut self, config: &[u8]) -> Result<i32, WasmError> {
        let (ptr, len) = self.place_config_async(config).await?;
        let init: TypedFunc<(i32, i32), i32> = self.armed(exports::INIT)?;
        init.call_async(&mut self.store, (ptr, len))
            .await
            .map_err(|e| self.classify(exports::INIT, e))
    }

    fn finish_init(mut self, code: Result<i32, WasmError>) -> Result<Call, Box<StartError>> {
        self.store.data_mut().in_init = false;
        let error = match code {
            Ok(0) => return Ok(self),
            Ok(code) => {
                let output = String::from_utf8_lossy(&self.store.data().output).into_owned();
                WasmError::Init {
                    plugin: self.plugin.clone(),
                    message: if output.is_empty() {
                        format!("init returned {code}")
                    } else {
                        output
                    },
                }
            }
            Err(e) => e,
        };
        Err(Box::new(StartError {
            error,
            exchange: self.into_exchange(),
        }))
    }

    /// Runs `on_request` (synchronous plugins only).
    pub fn on_request(&mut self) -> Result<Action, WasmError> {
        let code = self.hook_sync(exports::ON_REQUEST)?;
        self.action(code)
    }

    /// Runs `on_request`.
    pub async fn on_request_async(&mut self) -> Result<Action, WasmError> {
        let code = self.hook(exports::ON_REQUEST).await?;
        self.action(code)
    }

    /// Runs `on_response` (synchronous plugins only).
    pub fn on_response(&mut self) -> Result<(), WasmError> {
        self.hook_sync(exports::ON_RESPONSE).map(drop)
    }

    /// Runs `on_response`.
    pub async fn on_response_async(&mut self) -> Result<(), WasmError> {
        self.hook(exports::ON_RESPONSE).await.map(drop)
    }

    /// Runs `dispatch` (synchronous plugins only); the response is in the exchange
    /// afterwards.
    pub fn dispatch(&mut self) -> Result<(), WasmError> {
        let code = self.hook_sync(exports::DISPATCH)?;
        self.dispatched(code)
    }

    /// Runs `dispatch`.
    pub async fn dispatch_async(&mut self) -> Result<(), WasmError> {
        let code = self.hook(exports::DISPATCH).await?;
        self.dispatched(code)
    }

    fn action(&self, code: i32) -> Result<Action, WasmError> {
        Action::from_code(code).ok_or(WasmError::BadReturn {
            plugin: self.plugin.clone(),
            function: exports::ON_REQUEST,
            code,
        })
    }

    fn dispatched(&self, code: i32) -> Result<(), WasmError> {
        match code {
            0 => Ok(()),
            code => Err(WasmError::BadReturn {
                plugin: self.plugin.clone(),
                function: exports::DISPATCH,
                code,
            }),
        }
    }

    /// The exchange, to read or to hand on to the next plugin.
    pub fn exchange_mut(&mut self) -> &mut ExchangeState {
        &mut self.store.data_mut().exchange
    }

    /// Ends the call, returning the exchange.
    pub fn into_exchange(mut self) -> ExchangeState {
        std::mem::take(&mut self.store.data_mut().exchange)
    }

    /// The export `name`, with a fresh deadline for the call about to be made.
    fn armed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &'static str,
    ) -> Result<TypedFunc<P, R>, WasmError> {
        let f = self.func(name)?;
        self.store
            .set_epoch_deadline(self.store.data().deadline_ticks);
        Ok(f)
    }

    fn func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &'static str,
    ) -> Result<TypedFunc<P, R>, WasmError> {
        self.exports
            .get(name)
            .and_then(|e| self.instance.get_module_export(&mut self.store, e))
            .and_then(wasmtime::Extern::into_func)
            .and_then(|f| f.typed::<P, R>(&self.store).ok())
            .ok_or_else(|| WasmError::MissingExport {
                plugin: self.plugin.clone(),
                export: name,
            })
    }

    /// Calls a `() -> i32` export with a fresh deadline.
    fn hook_sync(&mut self, function: &'static str) -> Result<i32, WasmError> {
        if self.is_async {
            return Err(self.trap(
                function,
                "this plugin makes outbound calls: use the async hooks",
            ));
        }
        let f: TypedFunc<(), i32> = self.armed(function)?;
        f.call(&mut self.store, ())
            .map_err(|e| self.classify(function, e))
    }

    async fn hook(&mut self, function: &'static str) -> Result<i32, WasmError> {
        if !self.is_async {
            return self.hook_sync(function);
        }
        let f: TypedFunc<(), i32> = self.armed(function)?;
        f.call_async(&mut self.store, ())
            .await
            .map_err(|e| self.classify(function, e))
    }

    fn classify(&self, function: &'static str, e: wasmtime::Error) -> WasmError {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => WasmError::Timeout {
                plugin: self.plugin.clone(),
                function,
            },
            _ => WasmError::Trap {
                plugin: self.plugin.clone(),
                function,
                message: e.to_string(),
            },
        }
    }

    fn trap(&self, function: &'static str, message: &str) -> WasmError {
        WasmError::Trap {
            plugin: self.plugin.clone(),
            function,
            message: message.into(),
        }
    }
}
