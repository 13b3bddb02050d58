//! The engine, the epoch ticker, and loading plugins with capability checks.

use barbacane_plugin_abi::{Capability, PluginManifest, PluginType, exports};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    ModuleExport, PoolingAllocationConfig,
};

use crate::host;
use crate::instance::{PoolOptions, Prepared};
use crate::pool::Pool;
use crate::state::HostState;
use crate::{HttpClient, WasmError};

/// Sandbox limits (fixed per process: one engine serves every plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory per instance. 16 MiB.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call. 100 ms.
    pub call_timeout: Duration,
    /// WASM stack. 1 MiB.
    pub stack_bytes: usize,
    /// Instances alive at once in the process, idle ones included (the pooling
    /// allocator's slots). 2,000.
    pub max_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 16 << 20,
            call_timeout: Duration::from_millis(100),
            stack_bytes: 1 << 20,
            max_instances: 2000,
        }
    }
}

/// Bytes of each pooled memory and table kept mapped between instances and reset in place.
const KEEP_RESIDENT: usize = 1 << 20;

/// Epoch ticks per second: a call's deadline is `call_timeout` in ticks.
const TICK: Duration = Duration::from_millis(10);

/// The process's WASM engine.
#[derive(Debug)]
pub struct Runtime {
    engine: Engine,
    limits: Limits,
    /// Compiled modules by the SHA-256 of their bytes: a reload compiles only what changed.
    modules: Mutex<HashMap<[u8; 32], Module>>,
    /// Every pool of initialized instances, so idle ones can be dropped when the engine's
    /// slots run out.
    pools: Mutex<Vec<Weak<Pool>>>,
    /// Requests refused because a pool or the engine had no instance to give.
    overloads: AtomicU64,
    /// Where compiled modules are cached on disk, if anywhere, and the cache (for its hit
    /// and miss counts).
    module_cache: Option<(PathBuf, wasmtime::Cache)>,
}

/// The process-wide runtime, once created.
static GLOBAL: OnceLock<Result<Arc<Runtime>, String>> = OnceLock::new();

/// Where the process's runtime caches compiled modules; set before the first
/// [`Runtime::global`] (see [`Runtime::set_module_cache`]).
static MODULE_CACHE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Idle instances dropped at once when the engine has no free slot.
const TRIM_BATCH: usize = 32;

impl Runtime {
    /// The process-wide runtime (created on first use). One engine per process keeps the
    /// pooling allocator's address-space reservation bounded.
    pub fn global() -> Result<Arc<Runtime>, WasmError> {
        GLOBAL
            .get_or_init(|| {
                let cache = MODULE_CACHE.get().cloned().flatten();
                Runtime::new(Limits::default(), cache).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(WasmError::Engine)
    }

    /// The process-wide runtime if something created it already (never creates it).
    pub fn started() -> Option<Arc<Runtime>> {
        GLOBAL.get()?.as_ref().ok().cloned()
    }

    /// Caches compiled modules in `dir` (wasmtime's compilation cache: entries are keyed by
    /// the engine's configuration, wasmtime's version and the module's bytes, and checked
    /// when read), or nowhere with `None` (the default). Takes effect only before the first
    /// [`Runtime::global`]; returns false if the runtime already exists. A directory that
    /// cannot be created or written never fails a start: the runtime logs a warning and
    /// compiles.
    pub fn set_module_cache(dir: Option<PathBuf>) -> bool {
        MODULE_CACHE.set(dir).is_ok()
    }

    /// The default cache directory: `$XDG_CACHE_HOME/barbacane/modules`, else
    /// `$HOME/.cache/barbacane/modules`.
    pub fn default_module_cache() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("barbacane").join("modules"))
    }

    fn new(limits: Limits, module_cache: Option<PathBuf>) -> Result<Arc<Runtime>, WasmError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(limits.max_instances)
            .total_memories(limits.max_instances)
            .total_tables(limits.max_instances)
            .total_stacks(limits.max_instances)
            .max_memory_size(limits.memory_bytes)
            // Reset the low, dirty part of a reused slot in place instead of unmapping it:
            // with PAGEMAP_SCAN (Linux 6.7+; ignored elsewhere) only pages actually written
            // are restored, so a request pays neither an madvise nor fresh page faults.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = Config::new();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .epoch_interruption(true)
            .max_wasm_stack(limits.stack_bytes)
            // Fibers of plugins that make outbound calls: the wasm stack plus room for the
            // host functions running on it.
            .async_stack_size(limits.stack_bytes * 2)
            .memory_init_cow(true);
        let module_cache = module_cache.and_then(|dir| match open_cache(&dir) {
            Ok(cache) => {
                config.cache(Some(cache.clone()));
                Some((dir, cache))
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "the compiled-module cache cannot be used; plugins are compiled at every start");
                None
            }
        });
        let engine = Engine::new(&config).map_err(|e| WasmError::Engine(e.to_string()))?;
        spawn_ticker(engine.clone());
        Ok(Arc::new(Runtime {
            engine,
            limits,
            modules: Mutex::new(HashMap::new()),
            pools: Mutex::new(Vec::new()),
            overloads: AtomicU64::new(0),
            module_cache,
        }))
    }

    /// The directory compiled modules are cached in, if the cache is on.
    pub fn module_cache(&self) -> Option<&std::path::Path> {
        self.module_cache.as_ref().map(|(dir, _)| dir.as_path())
    }

    /// Modules read from the on-disk cache and modules compiled (and written to it) so far;
    /// `None` when the cache is off.
    pub fn module_cache_counts(&self) -> Option<(usize, usize)> {
        self.module_cache
            .as_ref()
            .map(|(_, cache)| (cache.cache_hits(), cache.cache_misses()))
    }

    /// Requests refused so far because a plugin had no instance to give (pool at its bound
    /// past the wait, or the engine out of slots).
    pub fn overloads(&self) -> u64 {
        self.overloads.load(Ordering::Relaxed)
    }

    pub(crate) fn count_overload(&self) {
        self.overloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers `pool` for [`Runtime::trim_idle`] (and forgets pools that are gone).
    pub(crate) fn register(&self, pool: &Arc<Pool>) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.retain(|p| p.strong_count() > 0);
            pools.push(Arc::downgrade(pool));
        }
    }

    /// Drops up to [`TRIM_BATCH`] idle instances across every pool, to free engine slots.
    pub(crate) fn trim_idle(&self) -> usize {
        let pools: Vec<Arc<Pool>> = match self.pools.lock() {
            Ok(pools) => pools.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => return 0,
        };
        let mut freed = 0;
        for pool in pools {
            if freed >= TRIM_BATCH {
                break;
            }
            freed += pool.trim(TRIM_BATCH - freed);
        }
        freed
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Epoch ticks allowed for one call.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / TICK.as_millis()).max(1) as u64
    }

    /// Compiles a plugin and checks it against its manifest: every import must belong to a
    /// declared capability, and the exports the ABI requires for its type must exist.
    pub fn load(
        self: &Arc<Self>,
        manifest: PluginManifest,
        wasm: &[u8],
    ) -> Result<Plugin, WasmError> {
        self.load_with(manifest, wasm, None)
    }

    /// [`Runtime::load`], giving the plugin the gateway's quotas (used only if it declares
    /// `ratelimit`). A limiter that decides without waiting ([`RateLimiter::is_synchronous`],
    /// the in-process one) is linked as a plain host call, so the plugin runs without a fiber;
    /// any other is awaited like `barbacane:http`.
    ///
    /// [`RateLimiter::is_synchronous`]: crate::RateLimiter::is_synchronous
    pub fn load_with(
        self: &Arc<Self>,
        manifest: PluginManifest,
        wasm: &[u8],
        limiter: Option<Arc<dyn crate::RateLimiter>>,
    ) -> Result<Plugin, WasmError> {
        let sync_limits = limiter.as_ref().is_some_and(|l| l.is_synchronous());
        let name = manifest.name.clone();
        let module = self.compile(&name, wasm)?;
        for import in module.imports() {
            let allowed = Capability::from_module(import.module())
                .is_some_and(|c| manifest.allows(c) && c.functions().contains(&import.name()));
            if !allowed || !matches!(import.ty(), ExternType::Func(_)) {
                return Err(WasmError::UndeclaredImport {
                    plugin: name,
                    module: import.module().into(),
                    name: import.name().into(),
                });
            }
        }
        let mut required = vec![exports::MEMORY, exports::INIT];
        match manifest.kind {
            PluginType::Middleware => required.extend([exports::ON_REQUEST, exports::ON_RESPONSE]),
            PluginType::Dispatcher => required.push(exports::DISPATCH),
        }
        for export in required {
            if module.get_export(export).is_none() {
                return Err(WasmError::MissingExport {
                    plugin: name,
                    export,
                });
            }
        }
        let mut linker: Linker<HostState> = Linker::new(&self.engine);
        for &capability in &manifest.capabilities {
            host::add_to_linker(&mut linker, capability, sync_limits)
                .map_err(|e| WasmError::Engine(e.to_string()))?;
        }
        // An import of an unknown function inside a declared module fails here.
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| WasmError::UndeclaredImport {
                plugin: name.clone(),
                module: "(unknown)".into(),
                name: e.to_string(),
            })?;
        let exports = Arc::new(ExportIndex::of(&module));
        Ok(Plugin {
            runtime: Arc::clone(self),
            is_async: manifest.allows(Capability::Http)
                || manifest.allows(Capability::Cache)
                || manifest.allows(Capability::Nats)
                || manifest.allows(Capability::Kafka)
                || (manifest.allows(Capability::Ratelimit) && !sync_limits),
            manifest: Arc::new(manifest),
            pre,
            exports,
            http: None,
            limiter,
            cache: None,
            events: None,
            secrets: None,
            policies: None,
        })
    }

    /// Compiles `wasm`, or returns the module compiled earlier from the same bytes.
    /// Compiles modules ahead of [`Runtime::load`], several at once (one thread per core, at
    /// most one per module): Cranelift compiles a module on one thread, so an artifact with
    /// several plugins would otherwise start up in the sum of their compile times. Failures
    /// are left for `load` to report with its context.
    pub fn precompile(&self, modules: &[(&str, &[u8])]) {
        let pending: Vec<&(&str, &[u8])> = modules
            .iter()
            .filter(|(_, wasm)| !self.is_compiled(wasm))
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(pending.len());
        if threads <= 1 {
            for (name, wasm) in pending {
                let _ = self.compile(name, wasm);
            }
            return;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some((name, wasm)) = pending.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        let _ = self.compile(name, wasm);
                    }
                });
            }
        });
    }

    /// Whether `wasm` is compiled and cached.
    pub fn is_compiled(&self, wasm: &[u8]) -> bool {
        self.cached(&Sha256::digest(wasm).into()).is_some()
    }

    fn compile(&self, plugin: &str, wasm: &[u8]) -> Result<Module, WasmError> {
        let key: [u8; 32] = Sha256::digest(wasm).into();
        if let Some(module) = self.cached(&key) {
            return Ok(module);
        }
        let module = Module::new(&self.engine, wasm).map_err(|e| WasmError::Compile {
            plugin: plugin.to_owned(),
            message: e.to_string(),
        })?;
        if let Ok(mut cache) = self.modules.lock() {
            cache.insert(key, module.clone());
        }
        Ok(module)
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Module> {
        self.modules.lock().ok()?.get(key).cloned()
    }
}

/// A compiled, checked plugin.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) manifest: Arc<PluginManifest>,
    pub(crate) pre: InstancePre<HostState>,
    /// The ABI's exports, resolved once (a lookup by name hashes the name on every call).
    pub(crate) exports: Arc<ExportIndex>,
    /// Declares `http` or `ratelimit`: its stores need wasmtime's async entry points.
    pub(crate) is_async: bool,
    pub(crate) http: Option<Arc<dyn HttpClient>>,
    pub(crate) limiter: Option<Arc<dyn crate::RateLimiter>>,
    /// The gateway's response cache and the artifact's namespace in it.
    pub(crate) cache: Option<(Arc<crate::SharedCache>, Arc<crate::cache::KeySpace>)>,
    /// The gateway's broker clients, for plugins that declare `nats` or `kafka`.
    pub(crate) events: Option<Arc<dyn crate::EventBus>>,
    /// The artifact's resolved secrets (`None`: resolved on each call, outside a gateway).
    pub(crate) secrets: Option<Arc<crate::Secrets>>,
    /// The artifact's compiled Rego policies, for plugins that declare `policy`.
    pub(crate) policies: Option<Arc<crate::PolicySet>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("manifest", &self.manifest)
            .finish()
    }
}

impl Plugin {
    /// The plugin's manifest.
    pub fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }

    /// Whether this is a dispatcher whose answer cannot depend on anything but its
    /// configuration: it imports only `core.result_read`, `core.set_output` and functions of
    /// `barbacane:response` (no request, context, clock, randomness, network or secrets).
    /// WebAssembly is deterministic, so running it once per configuration gives the answer
    /// every request would get.
    pub fn is_constant_dispatcher(&self) -> bool {
        self.manifest.kind == PluginType::Dispatcher
            && self
                .pre
                .module()
                .imports()
                .all(|import| constant_import(import.module(), import.name()))
    }

    /// Gives the plugin the gateway's HTTP client (used only if it declares `http`).
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Plugin {
        self.http = Some(client);
        self
    }

    /// Gives the plugin the gateway's broker clients (used only if it declares `nats` or
    /// `kafka`).
    pub fn with_event_bus(mut self, bus: Arc<dyn crate::EventBus>) -> Plugin {
        self.events = Some(bus);
        self
    }

    /// Gives the plugin the secrets its artifact resolved at load: `barbacane:secrets.get`
    /// then reads them, and never reaches the network or the file system.
    pub fn with_secrets(mut self, secrets: Arc<crate::Secrets>) -> Plugin {
        self.secrets = Some(secrets);
        self
    }

    /// Gives the plugin the gateway's response cache (used only if it declares `cache`);
    /// `namespace` (the artifact's fingerprint) keeps artifacts' entries apart.
    pub fn with_cache(mut self, cache: Arc<crate::SharedCache>, namespace: &str) -> Plugin {
        let space = crate::cache::KeySpace::new(namespace, &self.manifest.name);
        self.cache = Some((cache, Arc::new(space)));
        self
    }

    /// Gives the plugin the artifact's compiled Rego policies (used only if it declares
    /// `policy`).
    pub fn with_policies(mut self, policies: Arc<crate::PolicySet>) -> Plugin {
        self.policies = Some(policies);
        self
    }

    /// Binds a configuration and proves `init` accepts it (once, at load time: a refused
    /// configuration stops the load, never fails every request). The instance that proved it
    /// becomes the first idle instance of the configuration's pool.
    pub fn prepare(&self, config: &serde_json::Value) -> Result<Prepared, WasmError> {
        self.prepare_with(config, PoolOptions::default())
    }

    /// [`Plugin::prepare`] with explicit bounds for the configuration's pool.
    pub fn prepare_with(
        &self,
        config: &serde_json::Value,
        options: PoolOptions,
    ) -> Result<Prepared, WasmError> {
        let prepared = Prepared::new(
            self.clone(),
            serde_json::to_vec(config).unwrap_or_default(),
            options,
        );
        let started = if self.is_async {
            // `init` cannot make outbound calls (they fail at once), so nothing in this
            // future ever waits: one poll completes it.
            let mut future = std::pin::pin!(prepared.start_async(Default::default()));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match future.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(r) => r,
                std::task::Poll::Pending => {
                    return Err(WasmError::Init {
                        plugin: self.manifest.name.clone(),
                        message: "init waited on the host, which it cannot do".into(),
                    });
                }
            }
        } else {
            prepared.start(Default::default())
        };
        let call = started.map_err(|e| e.error)?;
        prepared.record_init(&call);
        drop(call.into_exchange());
        Ok(prepared)
    }
}

/// Where the ABI's exports sit in a module.
pub(crate) struct ExportIndex {
    found: Vec<(&'static str, ModuleExport)>,
}

impl ExportIndex {
    fn of(module: &Module) -> ExportIndex {
        let names = [
            exports::MEMORY,
            exports::ALLOC,
            exports::INIT,
            exports::ON_REQUEST,
            exports::ON_RESPONSE,
            exports::DISPATCH,
        ];
        ExportIndex {
            found: names
                .into_iter()
                .filter_map(|name| Some((name, module.get_export_index(name)?)))
                .collect(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&ModuleExport> {
        self.found.iter().find(|(n, _)| *n == name).map(|(_, e)| e)
    }
}

/// Imports a constant dispatcher may have.
fn constant_import(module: &str, name: &str) -> bool {
    match Capability::from_module(module) {
        Some(Capability::Core) => matches!(name, "result_read" | "set_output"),
        Some(Capability::Response) => true,
        _ => false,
    }
}

/// Opens wasmtime's compilation cache in `dir` (created if missing).
fn open_cache(dir: &std::path::Path) -> Result<wasmtime::Cache, String> {
    let dir = std::path::absolute(dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut config = wasmtime::CacheConfig::new();
    config.with_directory(dir);
    wasmtime::Cache::new(config).map_err(|e| e.to_string())
}

/// Advances the engine's epoch every [`TICK`] so calls past their deadline trap. The thread
/// runs for the life of the process (the engine is process-wide).
fn spawn_ticker(engine: Engine) {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("barbacane-wasm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the WASM epoch ticker; plugin time limits are off");
    }
}
