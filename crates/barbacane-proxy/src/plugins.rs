//! Loading the artifact's WASM plugins once per snapshot, and binding each configuration
//! once: the same (plugin, config) pair used by many operations is prepared once and shares
//! one pool of initialized instances. The pools live and die with the snapshot: after a
//! reload, requests in flight finish on the old pools.

use barbacane_artifact::{Artifact, PolicyBundle};
use barbacane_plugin_abi::{Capability, PluginManifest, PluginType};
use barbacane_wasm::{
    HttpClient, Plugin, PolicySet, PoolOptions, Prepared, RateLimiter, Runtime, Secrets,
    SharedCache,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::dispatch::{ConstantResponse, PluginHttpClient};

pub(crate) struct PluginSet<'a> {
    artifact: &'a Artifact,
    loaded: HashMap<String, Plugin>,
    prepared: HashMap<(String, String), Prepared>,
    constants: HashMap<(String, String), Arc<ConstantResponse>>,
    http: Option<Arc<dyn HttpClient>>,
    limiter: Arc<dyn RateLimiter>,
    cache: Arc<SharedCache>,
    pool: PoolOptions,
    secrets: Arc<Secrets>,
    /// The artifact's Rego policies, compiled when the first plugin declaring `policy` loads.
    policy_bundles: &'a BTreeMap<String, PolicyBundle>,
    policies: Option<Arc<PolicySet>>,
}

impl<'a> PluginSet<'a> {
    /// Starts compiling every bundled module at once; each is then bound when an operation
    /// first uses it.
    pub(crate) fn new(
        artifact: &'a Artifact,
        pool: PoolOptions,
        limiter: Arc<dyn RateLimiter>,
        cache: Arc<SharedCache>,
        policy_bundles: &'a BTreeMap<String, PolicyBundle>,
    ) -> PluginSet<'a> {
        precompile(artifact);
        PluginSet {
            artifact,
            loaded: HashMap::new(),
            prepared: HashMap::new(),
            constants: HashMap::new(),
            http: None,
            limiter,
            cache,
            pool,
            secrets: Arc::default(),
            policy_bundles,
            policies: None,
        }
    }

    /// The artifact's resolved secrets, given to plugins that declare `secrets`.
    pub(crate) fn set_secrets(&mut self, secrets: Arc<Secrets>) {
        self.secrets = secrets;
    }

    /// The prepared middleware `name` with `config`. A plugin that fails to compile, imports
    /// an undeclared capability, is not a middleware, or whose `init` refuses the config
    /// stops the load.
    pub(crate) fn middleware(
        &mut self,
        name: &str,
        config: &serde_json::Value,
    ) -> Result<Prepared, String> {
        self.prepare(name, config, PluginType::Middleware)
    }

    /// The prepared dispatcher `name`, whether its answer is constant, and whether it reads
    /// the request.
    pub(crate) fn dispatcher(
        &mut self,
        name: &str,
        config: &serde_json::Value,
    ) -> Result<(Prepared, bool, bool), String> {
        let prepared = self.prepare(name, config, PluginType::Dispatcher)?;
        let plugin = prepared.plugin();
        Ok((
            prepared.clone(),
            plugin.is_constant_dispatcher(),
            plugin.manifest().allows(Capability::Request),
        ))
    }

    /// The answer of the constant dispatcher `name` with `config` (already `prepared`), run
    /// once however many operations use it.
    pub(crate) fn constant(
        &mut self,
        name: &str,
        config: &serde_json::Value,
        prepared: &Prepared,
    ) -> Result<Arc<ConstantResponse>, String> {
        let key = (name.to_owned(), config.to_string());
        if let Some(c) = self.constants.get(&key) {
            return Ok(Arc::clone(c));
        }
        let constant = Arc::new(ConstantResponse::compute(prepared)?);
        self.constants.insert(key, Arc::clone(&constant));
        Ok(constant)
    }

    fn prepare(
        &mut self,
        name: &str,
        config: &serde_json::Value,
        kind: PluginType,
    ) -> Result<Prepared, String> {
        let key = (name.to_owned(), config.to_string());
        if let Some(p) = self.prepared.get(&key) {
            return Ok(p.clone());
        }
        let plugin = self.plugin(name)?;
        if plugin.manifest().kind != kind {
            return Err(format!(
                "plugin `{name}` is a {}, not a {}",
                plugin.manifest().kind.as_str(),
                kind.as_str()
            ));
        }
        let prepared = plugin
            .prepare_with(config, self.pool)
            .map_err(|e| e.to_string())?;
        self.prepared.insert(key, prepared.clone());
        Ok(prepared)
    }

    fn plugin(&mut self, name: &str) -> Result<Plugin, String> {
        if let Some(p) = self.loaded.get(name) {
            return Ok(p.clone());
        }
        let member = |ext: &str| {
            let path = format!("plugins/{name}.{ext}");
            self.artifact
                .member(&path)
                .ok_or_else(|| format!("the artifact has no `{path}`"))
        };
        let manifest = std::str::from_utf8(member("toml")?)
            .map_err(|_| format!("plugin `{name}`: plugin.toml is not UTF-8"))
            .and_then(|t| PluginManifest::parse(t).map_err(|e| format!("plugin `{name}`: {e}")))?;
        let runtime = Runtime::global().map_err(|e| e.to_string())?;
        let limiter = manifest
            .allows(Capability::Ratelimit)
            .then(|| Arc::clone(&self.limiter));
        let mut plugin = runtime
            .load_with(manifest, member("wasm")?, limiter)
            .map_err(|e| e.to_string())?;
        if plugin.manifest().allows(Capability::Http) {
            let client = match &self.http {
                Some(c) => Arc::clone(c),
                None => {
                    let c = PluginHttpClient::shared()?;
                    self.http = Some(Arc::clone(&c));
                    c
                }
            };
            plugin = plugin.with_http_client(client);
        }
        if plugin.manifest().allows(Capability::Nats) || plugin.manifest().allows(Capability::Kafka)
        {
            plugin = plugin.with_event_bus(crate::dispatch::brokers::PluginEventBus::shared()?);
        }
        if plugin.manifest().allows(Capability::Secrets) {
            plugin = plugin.with_secrets(Arc::clone(&self.secrets));
        }
        if plugin.manifest().allows(Capability::Cache) {
            let namespace = &self.artifact.header().artifact_hash;
            plugin = plugin.with_cache(Arc::clone(&self.cache), namespace);
        }
        if plugin.manifest().allows(Capability::Policy) {
            plugin = plugin.with_policies(self.policies()?);
        }
        self.loaded.insert(name.to_owned(), plugin.clone());
        Ok(plugin)
    }

    /// The artifact's policies, each (bundle, rule) compiled once for the whole snapshot.
    fn policies(&mut self) -> Result<Arc<PolicySet>, String> {
        if let Some(p) = &self.policies {
            return Ok(Arc::clone(p));
        }
        let mut set = PolicySet::default();
        for (name, bundle) in self.policy_bundles {
            let mut files = Vec::with_capacity(bundle.files.len());
            for member in &bundle.files {
                let bytes = self
                    .artifact
                    .member(member)
                    .ok_or_else(|| format!("the artifact has no `{member}`"))?;
                let source =
                    std::str::from_utf8(bytes).map_err(|_| format!("`{member}` is not UTF-8"))?;
                let logical = member.strip_prefix("policies/").unwrap_or(member);
                files.push((logical.to_owned(), source.to_owned()));
            }
            set.add(name, &files, &bundle.queries)
                .map_err(|e| e.to_string())?;
        }
        let set = Arc::new(set);
        self.policies = Some(Arc::clone(&set));
        Ok(set)
    }
}

/// Compiles every plugin module the artifact bundles (in parallel; through the module cache
/// when it is on); returns how many modules there are.
pub(crate) fn precompile(artifact: &Artifact) -> usize {
    let modules: Vec<(&str, &[u8])> = artifact
        .member_names()
        .filter_map(|path| {
            let name = path.strip_prefix("plugins/")?.strip_suffix(".wasm")?;
            Some((name, artifact.member(path)?))
        })
        .collect();
    if let Ok(runtime) = Runtime::global() {
        runtime.precompile(&modules);
    }
    modules.len()
}
