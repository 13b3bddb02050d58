//! One request's run of a prepared plugin.

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
    instance: Instance,
    plugin: String,
    /// Epoch ticks each guest call may run.
    deadline: u64,
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

    /// Instantiates for one request with `exchange` as its state and runs `init`. On failure
    /// the exchange is handed back so the request can still be answered.
    pub fn start(&self, exchange: ExchangeState) -> Result<Call, Box<StartError>> {
        let runtime = &self.plugin.runtime;
        let state = HostState {
            plugin: self.plugin.manifest.name.clone(),
            exchange,
            result: Vec::new(),
            output: Vec::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(runtime.limits().memory_bytes)
                .instances(1)
                .build(),
        };
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        let plugin = self.plugin.manifest.name.clone();
        let instance = match self.plugin.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => {
                let error = WasmError::Trap {
                    plugin,
                    function: "instantiate",
                    message: e.to_string(),
                };
                let exchange = std::mem::take(&mut store.data_mut().exchange);
                return Err(Box::new(StartError { error, exchange }));
            }
        };
        let mut call = Call {
            store,
            instance,
            plugin,
            deadline: runtime.deadline_ticks(),
        };
        match call.init(&self.config) {
            Ok(()) => Ok(call),
            Err(error) => Err(Box::new(StartError {
                error,
                exchange: call.into_exchange(),
            })),
        }
    }
}

impl Call {
    fn init(&mut self, config: &[u8]) -> Result<(), WasmError> {
        let len = i32::try_from(config.len())
            .map_err(|_| self.trap(exports::INIT, "configuration too large"))?;
        let ptr = if config.is_empty() {
            0
        } else {
            let alloc: TypedFunc<i32, i32> = self.func(exports::ALLOC)?;
            let ptr = self.invoke(exports::ALLOC, |store| alloc.call(store, len))?;
            let memory = self
                .instance
                .get_memory(&mut self.store, exports::MEMORY)
                .ok_or(WasmError::MissingExport {
                    plugin: self.plugin.clone(),
                    export: exports::MEMORY,
                })?;
            memory
                .write(
                    &mut self.store,
                    usize::try_from(ptr).unwrap_or(usize::MAX),
                    config,
                )
                .map_err(|_| {
                    self.trap(exports::INIT, "allocator returned an out-of-bounds pointer")
                })?;
            ptr
        };
        let init: TypedFunc<(i32, i32), i32> = self.func(exports::INIT)?;
        let code = self.invoke(exports::INIT, |store| init.call(store, (ptr, len)))?;
        if code == 0 {
            return Ok(());
        }
        let output = String::from_utf8_lossy(&self.store.data().output).into_owned();
        Err(WasmError::Init {
            plugin: self.plugin.clone(),
            message: if output.is_empty() {
                format!("init returned {code}")
            } else {
                output
            },
        })
    }

    /// Runs `on_request`.
    pub fn on_request(&mut self) -> Result<Action, WasmError> {
        let f: TypedFunc<(), i32> = self.func(exports::ON_REQUEST)?;
        let code = self.invoke(exports::ON_REQUEST, |store| f.call(store, ()))?;
        Action::from_code(code).ok_or(WasmError::BadReturn {
            plugin: self.plugin.clone(),
            function: exports::ON_REQUEST,
            code,
        })
    }

    /// Runs `on_response`.
    pub fn on_response(&mut self) -> Result<(), WasmError> {
        let f: TypedFunc<(), i32> = self.func(exports::ON_RESPONSE)?;
        self.invoke(exports::ON_RESPONSE, |store| f.call(store, ()))
            .map(drop)
    }

    /// Runs `dispatch`; the response is in the exchange afterwards.
    pub fn dispatch(&mut self) -> Result<(), WasmError> {
        let f: TypedFunc<(), i32> = self.func(exports::DISPATCH)?;
        match self.invoke(exports::DISPATCH, |store| f.call(store, ()))? {
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

    fn func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &'static str,
    ) -> Result<TypedFunc<P, R>, WasmError> {
        self.instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|_| WasmError::MissingExport {
                plugin: self.plugin.clone(),
                export: name,
            })
    }

    /// Calls into the guest with a fresh deadline and classifies failures.
    fn invoke<R>(
        &mut self,
        function: &'static str,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        self.store.set_epoch_deadline(self.deadline);
        f(&mut self.store).map_err(|e| match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => WasmError::Timeout {
                plugin: self.plugin.clone(),
                function,
            },
            _ => WasmError::Trap {
                plugin: self.plugin.clone(),
                function,
                message: e.to_string(),
            },
        })
    }

    fn trap(&self, function: &'static str, message: &str) -> WasmError {
        WasmError::Trap {
            plugin: self.plugin.clone(),
            function,
            message: message.into(),
        }
    }
}
