//! One request's run of a prepared plugin.
//!
//! Plugins that declare `http` import an asynchronous host function, so their stores must be
//! driven with wasmtime's `*_async` entry points (the guest runs on a fiber and is suspended
//! while the gateway awaits the network). Every other plugin runs synchronously and pays no
//! fiber switch. The `*_async` methods below handle both; the synchronous ones only the
//! latter.

use barbacane_plugin_abi::{Action, Isolation, exports};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::{Instance, PoolConcurrencyLimitError, Store, StoreLimitsBuilder, Trap, TypedFunc};

use crate::WasmError;
use crate::pool::{Live, Pool};
use crate::runtime::{ExportIndex, Plugin};
use crate::state::{ExchangeState, HostState};

/// A plugin bound to one configuration (one per distinct configuration in the spec), with
/// its pool of initialized instances. Clones share the pool.
#[derive(Clone)]
pub struct Prepared {
    plugin: Plugin,
    config: Arc<[u8]>,
    shared: Arc<Shared>,
}

/// What every call of a prepared plugin needs, behind one `Arc`.
struct Shared {
    name: Arc<str>,
    /// How long a request waits for an instance when the pool is at its bound.
    wait: Duration,
    /// An instance whose linear memory grew past this is not reused.
    recycle_above: usize,
    exports: Arc<ExportIndex>,
    is_async: bool,
    pool: Arc<Pool>,
    /// What `init` asked for with `core.buffer_bodies` when the configuration was proved.
    body_flags: std::sync::atomic::AtomicU8,
    /// The key rule `init` declared with `cache.serve_hits`, when the gateway has a cache.
    hit_rule: std::sync::OnceLock<Arc<crate::cache_hits::HitRule>>,
    /// The policy `init` declared with `ratelimit.host_policy`, when the gateway has a
    /// limiter.
    limit_rule: std::sync::OnceLock<Arc<crate::limit_rule::LimitRule>>,
    /// The plugin's process-wide statistics.
    stats: Arc<crate::stats::PluginStats>,
}

/// Whole bodies a prepared middleware asked the gateway to hold for it
/// (`barbacane:core.buffer_bodies`, during `init`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyNeeds {
    /// The request body, buffered before `on_request`.
    pub request: bool,
    /// The response body, buffered before `on_response`.
    pub response: bool,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("plugin", &self.plugin)
            .field("idle", &self.shared.pool.idle_count())
            .finish()
    }
}

/// The bounds of one (plugin, configuration) pair's pool of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Instances alive at once (idle or serving a request). Default 1,000.
    pub max_instances: usize,
    /// How long a request waits for an instance when all are busy before it is refused
    /// with [`WasmError::Overloaded`]. Default 500 ms.
    pub wait: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_instances: 1000,
            wait: Duration::from_millis(500),
        }
    }
}

/// A failed start: the error, and the exchange handed back.
#[derive(Debug)]
pub struct StartError {
    /// What failed.
    pub error: WasmError,
    /// The request state, unchanged.
    pub exchange: ExchangeState,
}

/// One request's use of an initialized instance. Give it back with
/// [`Call::into_exchange`]; a call that is dropped instead (an error path, a cancelled
/// request) or whose guest failed is discarded, never reused.
pub struct Call {
    live: Live,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
    /// Cleared when a guest call traps, times out or breaks the ABI.
    reusable: bool,
    /// When the last hook returned (one clock read shared with the caller's own timing).
    hook_ended: Option<std::time::Instant>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("plugin", &self.shared.name)
            .finish()
    }
}

impl Prepared {
    pub(crate) fn new(plugin: Plugin, config: Vec<u8>, options: PoolOptions) -> Prepared {
        let runtime = &plugin.runtime;
        let reuse = plugin.manifest.isolation == Isolation::Instance;
        let pool = Arc::new(Pool::new(options.max_instances, reuse));
        runtime.register(&pool);
        Prepared {
            shared: Arc::new(Shared {
                name: plugin.manifest.name.as_str().into(),
                wait: options.wait,
                recycle_above: runtime.limits().memory_bytes / 4 * 3,
                exports: Arc::clone(&plugin.exports),
                is_async: plugin.is_async,
                pool,
                body_flags: std::sync::atomic::AtomicU8::new(0),
                hit_rule: std::sync::OnceLock::new(),
                limit_rule: std::sync::OnceLock::new(),
                stats: crate::stats::for_plugin(&plugin.manifest.name),
            }),
            plugin,
            config: config.into(),
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.manifest.name
    }

    /// The plugin's process-wide statistics.
    pub fn stats(&self) -> &Arc<crate::stats::PluginStats> {
        &self.shared.stats
    }

    /// The plugin this was prepared from.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Whether calls need the `*_async` methods (the plugin makes outbound calls).
    pub fn is_async(&self) -> bool {
        self.plugin.is_async
    }

    /// The bodies this configuration's `init` asked for.
    pub fn body_needs(&self) -> BodyNeeds {
        let flags = self
            .shared
            .body_flags
            .load(std::sync::atomic::Ordering::Relaxed);
        BodyNeeds {
            request: flags & 1 != 0,
            response: flags & 2 != 0,
        }
    }

    /// Records what the `init` that proved this configuration asked for.
    pub(crate) fn record_init(&self, call: &Call) {
        let state = call.live.store.data();
        self.shared
            .body_flags
            .store(state.body_flags, std::sync::atomic::Ordering::Relaxed);
        if let (Some(rule), Some(_)) = (&state.hit_rule, &self.plugin.cache) {
            let _ = self.shared.hit_rule.set(Arc::clone(rule));
        }
        if let (Some(rule), Some(_)) = (&state.limit_rule, &self.plugin.limiter) {
            let _ = self.shared.limit_rule.set(Arc::clone(rule));
        }
    }

    /// Whether the gateway serves this middleware's cache hits itself (its `init` declared
    /// a key rule with `cache.serve_hits`): call [`Prepared::serve_cached`] before starting it.
    pub fn serves_hits(&self) -> bool {
        self.shared.hit_rule.get().is_some()
    }

    /// The gateway's side of `cache.serve_hits`: what to do with this middleware for
    /// `request` (see [`crate::CacheStep`]). `None` when it declared no rule.
    pub async fn serve_cached(
        &self,
        request: crate::cache_hits::Head<'_>,
    ) -> Option<crate::CacheStep> {
        let rule = self.shared.hit_rule.get()?;
        let (cache, space) = self.plugin.cache.as_ref()?;
        Some(crate::cache_hits::serve(rule, cache, space, request).await)
    }

    /// Whether the gateway decides this middleware's requests itself (its `init` declared a
    /// policy with `ratelimit.host_policy`): call [`Prepared::decide_limit`] instead of
    /// starting it.
    pub fn decides_limits(&self) -> bool {
        self.shared.limit_rule.get().is_some()
    }

    /// The gateway's side of `ratelimit.host_policy`: the decision for `request` from
    /// `client_ip` (see [`crate::LimitStep`]). `None` when it declared no policy.
    pub async fn decide_limit(
        &self,
        request: crate::cache_hits::Head<'_>,
        client_ip: Option<std::net::IpAddr>,
    ) -> Option<crate::LimitStep> {
        let rule = self.shared.limit_rule.get()?;
        let limiter = self.plugin.limiter.as_ref()?;
        Some(rule.decide(limiter, request, client_ip).await)
    }

    /// Initialized instances waiting for a request.
    pub fn idle_instances(&self) -> usize {
        self.shared.pool.idle_count()
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
            limiter: self.plugin.limiter.clone(),
            http_body: None,
            memory: None,
            in_init: true,
            cache: self.plugin.cache.clone(),
            events: self.plugin.events.clone(),
            secrets: self.plugin.secrets.clone(),
            policies: self.plugin.policies.clone(),
            cache_lease: None,
            cache_pre: None,
            hit_rule: None,
            limit_rule: None,
            body_flags: 0,
            deadline_ticks,
            stats: Some(Arc::clone(&self.shared.stats)),
            skip_on_response: false,
            scratch: String::new(),
        };
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store
    }

    /// A new store for the exchange of `old`.
    fn restore(&self, mut old: Store<HostState>) -> Store<HostState> {
        self.store(std::mem::take(&mut old.data_mut().exchange))
    }

    fn failed(&self, error: WasmError, exchange: ExchangeState) -> Box<StartError> {
        Box::new(StartError { error, exchange })
    }

    fn overloaded(&self, exchange: ExchangeState) -> Box<StartError> {
        self.plugin.runtime.count_overload();
        self.failed(
            WasmError::Overloaded {
                plugin: self.name().to_owned(),
            },
            exchange,
        )
    }

    fn instantiate_failed(
        &self,
        mut store: Store<HostState>,
        e: wasmtime::Error,
    ) -> Box<StartError> {
        let exchange = std::mem::take(&mut store.data_mut().exchange);
        if e.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            return self.overloaded(exchange);
        }
        let error = WasmError::Trap {
            plugin: self.plugin.manifest.name.clone(),
            function: "instantiate",
            message: e.to_string(),
        };
        self.failed(error, exchange)
    }

    /// Whether a failed instantiation may succeed after idle instances of other pools are
    /// dropped (the engine's slots are all taken).
    fn made_room(&self, e: &wasmtime::Error) -> bool {
        e.downcast_ref::<PoolConcurrencyLimitError>().is_some()
            && self.plugin.runtime.trim_idle() > 0
    }

    fn call(
        &self,
        mut store: Store<HostState>,
        instance: Instance,
        permit: OwnedSemaphorePermit,
    ) -> Call {
        let memory = self
            .plugin
            .exports
            .get(exports::MEMORY)
            .and_then(|e| instance.get_module_export(&mut store, e))
            .and_then(wasmtime::Extern::into_memory);
        store.data_mut().memory = memory;
        Call {
            live: Live {
                store,
                instance,
                hooks: [const { None }; 3],
            },
            shared: Arc::clone(&self.shared),
            _permit: permit,
            reusable: true,
            hook_ended: None,
        }
    }

    /// An idle instance, now serving `exchange`.
    fn checked_out(
        &self,
        mut live: Live,
        exchange: ExchangeState,
        permit: OwnedSemaphorePermit,
    ) -> Call {
        live.store.data_mut().exchange = exchange;
        Call {
            live,
            shared: Arc::clone(&self.shared),
            _permit: permit,
            reusable: true,
            hook_ended: None,
        }
    }

    /// Checks out an instance for one request, with `exchange` as its state: an idle one
    /// when the pool has one, else a fresh one whose `init` runs first. On failure the
    /// exchange is handed back so the request can still be answered. Never waits: when the
    /// pool is at its bound the error is [`WasmError::Overloaded`]. Synchronous plugins only
    /// (see [`Prepared::is_async`]).
    pub fn start(&self, exchange: ExchangeState) -> Result<Call, Box<StartError>> {
        if self.plugin.is_async {
            let error = WasmError::Trap {
                plugin: self.name().to_owned(),
                function: "instantiate",
                message: "this plugin makes outbound calls: use start_async".into(),
            };
            return Err(self.failed(error, exchange));
        }
        let Some(permit) = self.shared.pool.try_permit() else {
            return Err(self.overloaded(exchange));
        };
        self.start_with(exchange, permit)
    }

    fn start_with(
        &self,
        exchange: ExchangeState,
        permit: OwnedSemaphorePermit,
    ) -> Result<Call, Box<StartError>> {
        if let Some(live) = self.shared.pool.take_idle() {
            return Ok(self.checked_out(live, exchange, permit));
        }
        let mut store = self.store(exchange);
        let instance = match self.plugin.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) if self.made_room(&e) => {
                // A store counts failed instantiations too: retry in a new one.
                store = self.restore(store);
                match self.plugin.pre.instantiate(&mut store) {
                    Ok(i) => i,
                    Err(e) => return Err(self.instantiate_failed(store, e)),
                }
            }
            Err(e) => return Err(self.instantiate_failed(store, e)),
        };
        let mut call = self.call(store, instance, permit);
        let init = call.init_sync(&self.config);
        call.finish_init(init)
    }

    /// [`Prepared::start`] for any plugin. When the pool is at its bound this waits up to
    /// [`PoolOptions::wait`] for an instance to come back (on the tokio timer), then fails
    /// with [`WasmError::Overloaded`].
    pub async fn start_async(&self, exchange: ExchangeState) -> Result<Call, Box<StartError>> {
        let Some(permit) = self.shared.pool.permit(self.shared.wait).await else {
            return Err(self.overloaded(exchange));
        };
        if !self.plugin.is_async {
            return self.start_with(exchange, permit);
        }
        if let Some(live) = self.shared.pool.take_idle() {
            return Ok(self.checked_out(live, exchange, permit));
        }
        let mut store = self.store(exchange);
        let instance = match self.plugin.pre.instantiate_async(&mut store).await {
            Ok(i) => i,
            Err(e) if self.made_room(&e) => {
                store = self.restore(store);
                match self.plugin.pre.instantiate_async(&mut store).await {
                    Ok(i) => i,
                    Err(e) => return Err(self.instantiate_failed(store, e)),
                }
            }
            Err(e) => return Err(self.instantiate_failed(store, e)),
        };
        let mut call = self.call(store, instance, permit);
        let init = call.init_async(&self.config).await;
        call.finish_init(init)
    }
}

impl Call {
    /// Hands the gateway's lookup for this request to the plugin's `cache.lookup` of the
    /// same key (from [`Prepared::serve_cached`]).
    pub fn hand_lookup(&mut self, lookup: crate::PreLookup) {
        self.live.store.data_mut().cache_pre = Some(lookup);
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The plugin's process-wide statistics.
    pub fn stats(&self) -> &Arc<crate::stats::PluginStats> {
        &self.shared.stats
    }

    /// Copies the configuration into the guest; returns `(ptr, len)` for `init`.
    fn place_config_sync(&mut self, config: &[u8]) -> Result<(i32, i32), WasmError> {
        let len = self.config_len(config)?;
        if config.is_empty() {
            return Ok((0, 0));
        }
        let alloc: TypedFunc<i32, i32> = self.armed(exports::ALLOC)?;
        let ptr = alloc
            .call(&mut self.live.store, len)
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
            .call_async(&mut self.live.store, len)
            .await
            .map_err(|e| self.classify(exports::ALLOC, e))?;
        self.write_config(ptr, config)?;
        Ok((ptr, len))
    }

    fn config_len(&self, config: &[u8]) -> Result<i32, WasmError> {
        i32::try_from(config.len()).map_err(|_| self.trap(exports::INIT, "configuration too large"))
    }

    fn write_config(&mut self, ptr: i32, config: &[u8]) -> Result<(), WasmError> {
        let memory = self
            .live
            .store
            .data()
            .memory
            .ok_or(WasmError::MissingExport {
                plugin: self.shared.name.to_string(),
                export: exports::MEMORY,
            })?;
        memory
            .write(
                &mut self.live.store,
                usize::try_from(ptr).unwrap_or(usize::MAX),
                config,
            )
            .map_err(|_| self.trap(exports::INIT, "allocator returned an out-of-bounds pointer"))
    }

    fn init_sync(&mut self, config: &[u8]) -> Result<i32, WasmError> {
        let (ptr, len) = self.place_config_sync(config)?;
        let init: TypedFunc<(i32, i32), i32> = self.armed(exports::INIT)?;
        init.call(&mut self.live.store, (ptr, len))
            .map_err(|e| self.classify(exports::INIT, e))
    }

    async fn init_async(&mut self, config: &[u8]) -> Result<i32, WasmError> {
        let (ptr, len) = self.place_config_async(config).await?;
        let init: TypedFunc<(i32, i32), i32> = self.armed(exports::INIT)?;
        init.call_async(&mut self.live.store, (ptr, len))
            .await
            .map_err(|e| self.classify(exports::INIT, e))
    }

    fn finish_init(mut self, code: Result<i32, WasmError>) -> Result<Call, Box<StartError>> {
        self.live.store.data_mut().in_init = false;
        let error = match code {
            Ok(0) => return Ok(self),
            Ok(code) => {
                let output = String::from_utf8_lossy(&self.live.store.data().output).into_owned();
                WasmError::Init {
                    plugin: self.shared.name.to_string(),
                    message: if output.is_empty() {
                        format!("init returned {code}")
                    } else {
                        output
                    },
                }
            }
            Err(e) => e,
        };
        self.reusable = false;
        Err(Box::new(StartError {
            error,
            exchange: self.into_exchange(),
        }))
    }

    /// Runs `on_request` (synchronous plugins only).
    pub fn on_request(&mut self) -> Result<Action, WasmError> {
        self.live.store.data_mut().skip_on_response = false;
        let result = self
            .hook_sync(exports::ON_REQUEST)
            .and_then(|code| self.action(code));
        self.settle(result)
    }

    /// Runs `on_request`.
    pub async fn on_request_async(&mut self) -> Result<Action, WasmError> {
        self.live.store.data_mut().skip_on_response = false;
        let result = match self.hook(exports::ON_REQUEST).await {
            Ok(code) => self.action(code),
            Err(e) => Err(e),
        };
        self.settle(result)
    }

    /// How long since `since`, ending when the last hook returned (no clock read when one
    /// did).
    pub fn elapsed_since(&self, since: std::time::Instant) -> std::time::Duration {
        self.hook_ended
            .unwrap_or_else(std::time::Instant::now)
            .saturating_duration_since(since)
    }

    /// Whether the last `on_request` asked not to be called on the response
    /// (`barbacane:core.skip_on_response`): the gateway then ends the call at once.
    pub fn skips_on_response(&self) -> bool {
        self.live.store.data().skip_on_response
    }

    /// Runs `on_response` (synchronous plugins only).
    pub fn on_response(&mut self) -> Result<(), WasmError> {
        let result = self.hook_sync(exports::ON_RESPONSE).map(drop);
        self.settle(result)
    }

    /// Runs `on_response`.
    pub async fn on_response_async(&mut self) -> Result<(), WasmError> {
        let result = self.hook(exports::ON_RESPONSE).await.map(drop);
        self.settle(result)
    }

    /// Runs `dispatch` (synchronous plugins only); the response is in the exchange
    /// afterwards.
    pub fn dispatch(&mut self) -> Result<(), WasmError> {
        let result = self
            .hook_sync(exports::DISPATCH)
            .and_then(|code| self.dispatched(code));
        self.settle(result)
    }

    /// Runs `dispatch`.
    pub async fn dispatch_async(&mut self) -> Result<(), WasmError> {
        let result = match self.hook(exports::DISPATCH).await {
            Ok(code) => self.dispatched(code),
            Err(e) => Err(e),
        };
        self.settle(result)
    }

    /// A guest that failed (trap, time limit, memory limit, a return value outside the ABI)
    /// may have left its memory inconsistent: its instance is not reused.
    fn settle<T>(&mut self, result: Result<T, WasmError>) -> Result<T, WasmError> {
        if result.is_err() {
            self.reusable = false;
        }
        result
    }

    /// Whether the instance goes back to its pool when the call ends.
    pub fn is_reusable(&self) -> bool {
        self.reusable && self.shared.pool.reuses()
    }

    fn action(&self, code: i32) -> Result<Action, WasmError> {
        Action::from_code(code).ok_or(WasmError::BadReturn {
            plugin: self.shared.name.to_string(),
            function: exports::ON_REQUEST,
            code,
        })
    }

    fn dispatched(&self, code: i32) -> Result<(), WasmError> {
        match code {
            0 => Ok(()),
            code => Err(WasmError::BadReturn {
                plugin: self.shared.name.to_string(),
                function: exports::DISPATCH,
                code,
            }),
        }
    }

    /// The exchange, to read or to hand on to the next plugin.
    pub fn exchange_mut(&mut self) -> &mut ExchangeState {
        &mut self.live.store.data_mut().exchange
    }

    /// Ends the call, returning the exchange. The instance goes back to its pool for the
    /// next request, unless its guest failed or its plugin wants a fresh instance per
    /// request (`isolation = "request"`).
    pub fn into_exchange(mut self) -> ExchangeState {
        let exchange = std::mem::take(&mut self.live.store.data_mut().exchange);
        let Call {
            live,
            shared,
            _permit,
            reusable,
            ..
        } = self;
        // An instance whose memory grew to most of its limit would soon fail a request
        // (a leak, an unbounded cache): replace it now, between requests, instead.
        let grown = live
            .store
            .data()
            .memory
            .is_some_and(|m| m.data_size(&live.store) > shared.recycle_above);
        if reusable && !grown {
            shared.pool.give_back(live);
        }
        // The permit is released after the instance is idle again, so a request woken by
        // it finds the instance.
        drop(_permit);
        exchange
    }

    /// The export `name`, with a fresh deadline for the call about to be made.
    fn armed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &'static str,
    ) -> Result<TypedFunc<P, R>, WasmError> {
        let f = self.func(name)?;
        self.live
            .store
            .set_epoch_deadline(self.live.store.data().deadline_ticks);
        Ok(f)
    }

    fn func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &'static str,
    ) -> Result<TypedFunc<P, R>, WasmError> {
        self.shared
            .exports
            .get(name)
            .and_then(|e| {
                self.live
                    .instance
                    .get_module_export(&mut self.live.store, e)
            })
            .and_then(wasmtime::Extern::into_func)
            .and_then(|f| f.typed::<P, R>(&self.live.store).ok())
            .ok_or_else(|| WasmError::MissingExport {
                plugin: self.shared.name.to_string(),
                export: name,
            })
    }

    /// Resolves a `() -> i32` hook (`on_request`, `on_response`, `dispatch`) into its slot
    /// of the instance (once per instance) and arms a fresh deadline; returns the slot. The
    /// hook is called from the slot by reference: cloning a `TypedFunc` clones its type's
    /// registration, measurable on every call.
    fn armed_hook(&mut self, function: &'static str) -> Result<usize, WasmError> {
        let slot = match function {
            exports::ON_REQUEST => 0,
            exports::ON_RESPONSE => 1,
            exports::DISPATCH => 2,
            _ => {
                return Err(WasmError::MissingExport {
                    plugin: self.shared.name.to_string(),
                    export: function,
                });
            }
        };
        if self.live.hooks[slot].is_none() {
            let f = self.func(function)?;
            self.live.hooks[slot] = Some(f);
        }
        self.live
            .store
            .set_epoch_deadline(self.live.store.data().deadline_ticks);
        Ok(slot)
    }

    /// Calls a `() -> i32` export with a fresh deadline.
    fn hook_sync(&mut self, function: &'static str) -> Result<i32, WasmError> {
        if self.shared.is_async {
            return Err(self.trap(
                function,
                "this plugin makes outbound calls: use the async hooks",
            ));
        }
        let slot = self.armed_hook(function)?;
        let started = std::time::Instant::now();
        let result = match &self.live.hooks[slot] {
            Some(f) => f.call(&mut self.live.store, ()),
            None => return Err(self.trap(function, "hook not resolved")),
        };
        self.timed(function, started, result)
    }

    /// Records a hook's execution time and failure, and classifies the failure.
    fn timed(
        &mut self,
        function: &'static str,
        started: std::time::Instant,
        result: Result<i32, wasmtime::Error>,
    ) -> Result<i32, WasmError> {
        let ended = std::time::Instant::now();
        self.hook_ended = Some(ended);
        let stats = &self.shared.stats;
        let hook = crate::stats::PluginStats::hook_index(function);
        if let Some(i) = hook {
            stats.execution[i].observe_duration(ended.saturating_duration_since(started));
        }
        result.map_err(|e| {
            let error = self.classify(function, e);
            if let Some(i) = hook {
                let (counter, kind) = match error {
                    WasmError::Timeout { .. } => (&stats.timeouts[i], "timeout"),
                    _ => (&stats.traps[i], "trap"),
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if stats.may_log_trap() {
                    tracing::warn!(
                        target: "barbacane::wasm",
                        plugin = %self.shared.name,
                        hook = function,
                        kind,
                        error = %error,
                        "wasm_trap"
                    );
                }
            }
            error
        })
    }

    async fn hook(&mut self, function: &'static str) -> Result<i32, WasmError> {
        if !self.shared.is_async {
            return self.hook_sync(function);
        }
        let slot = self.armed_hook(function)?;
        let started = std::time::Instant::now();
        let result = match &self.live.hooks[slot] {
            Some(f) => f.call_async(&mut self.live.store, ()).await,
            None => return Err(self.trap(function, "hook not resolved")),
        };
        self.timed(function, started, result)
    }

    fn classify(&self, function: &'static str, e: wasmtime::Error) -> WasmError {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => WasmError::Timeout {
                plugin: self.shared.name.to_string(),
                function,
            },
            _ => WasmError::Trap {
                plugin: self.shared.name.to_string(),
                function,
                message: e.to_string(),
            },
        }
    }

    fn trap(&self, function: &'static str, message: &str) -> WasmError {
        WasmError::Trap {
            plugin: self.shared.name.to_string(),
            function,
            message: message.into(),
        }
    }
}
