//! Secret resolution (`docs/secrets.md`). When an artifact loads, every secret reference its
//! plugin configurations hold is resolved, all at once and with a deadline, into an
//! immutable [`Secrets`] snapshot that lives with the loaded artifact; plugins read it
//! through `barbacane:secrets.get` without any I/O. One reference that fails fails the load
//! (exit 13 at startup; a reload is refused and the old artifact keeps serving). Errors name
//! the reference and the cause, never a value.

mod aws_sm;
mod local;
mod sigv4;
mod vault;

use barbacane_artifact::CompiledConfig;
use barbacane_plugin_abi::SecretRef;
pub use barbacane_plugin_abi::secret_ref::is_reference;
use barbacane_wasm::{HttpClient, SecretValue, Secrets};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// Largest secret (64 KiB).
const MAX_SECRET: usize = 64 << 10;

/// How long the whole resolution may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the default `k8s://` mount root is.
const K8S_ROOT: &str = "/var/run/secrets/barbacane";

/// One reference that did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret reference `{reference}` cannot be resolved: {reason}")]
pub struct SecretError {
    /// The reference, as configured.
    pub reference: String,
    /// Why (never the value).
    pub reason: String,
}

/// Every reference of a load that did not resolve (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretErrors(pub Vec<SecretError>);

impl std::fmt::Display for SecretErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&all.join("; "))
    }
}

impl std::error::Error for SecretErrors {}

/// The secret stores' settings, from the standard environment variables.
pub(crate) struct Settings {
    pub(crate) vault_addr: Option<String>,
    pub(crate) vault_token: Option<Zeroizing<String>>,
    pub(crate) vault_namespace: Option<String>,
    pub(crate) vault_cacert: Option<PathBuf>,
    pub(crate) aws_credentials: Option<sigv4::Credentials>,
    pub(crate) aws_region: Option<String>,
    pub(crate) aws_endpoint: Option<String>,
    pub(crate) k8s_root: PathBuf,
    pub(crate) timeout: Duration,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    pub(crate) fn from_env() -> Settings {
        let aws_credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret)) => Some(sigv4::Credentials {
                access_key_id,
                secret_access_key: Zeroizing::new(secret),
                session_token: var("AWS_SESSION_TOKEN").map(Zeroizing::new),
            }),
            _ => None,
        };
        Settings {
            vault_addr: var("VAULT_ADDR"),
            vault_token: var("VAULT_TOKEN").map(Zeroizing::new),
            vault_namespace: var("VAULT_NAMESPACE"),
            vault_cacert: var("VAULT_CACERT").map(PathBuf::from),
            aws_credentials,
            aws_region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            aws_endpoint: var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
                .or_else(|| var("AWS_ENDPOINT_URL")),
            k8s_root: var("BARBACANE_K8S_SECRETS_DIR")
                .map_or_else(|| K8S_ROOT.into(), PathBuf::from),
            timeout: TIMEOUT,
        }
    }
}

/// Every secret reference in the artifact's plugin configurations (any string value, at any
/// depth, that starts with a reference scheme).
pub(crate) fn collect(config: &CompiledConfig) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::String(s) if is_reference(s) => {
                out.insert(s.clone());
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for op in &config.operations {
        for m in &op.middlewares {
            walk(&m.config, &mut out);
        }
        walk(&op.dispatch.config, &mut out);
    }
    out
}

/// Resolves `references` with the settings of the environment, on a thread of its own (the
/// caller may be a runtime's thread or none).
pub(crate) fn resolve_all(references: BTreeSet<String>) -> Result<Secrets, SecretErrors> {
    if references.is_empty() {
        return Ok(Secrets::default());
    }
    let settings = Settings::from_env();
    run(move || async move { resolve_with(&settings, references).await }).unwrap_or_else(|reason| {
        Err(SecretErrors(vec![SecretError {
            reference: "-".into(),
            reason,
        }]))
    })
}

/// Resolves one reference now (`serve --tls-key vault://...`).
pub fn resolve_one(reference: &str) -> Result<SecretValue, SecretError> {
    let refs = BTreeSet::from([reference.to_owned()]);
    let secrets = resolve_all(refs).map_err(|mut e| e.0.remove(0))?;
    secrets.take(reference).ok_or_else(|| SecretError {
        reference: reference.to_owned(),
        reason: "not resolved".into(),
    })
}

/// Runs `task` to completion on a new thread with a current-thread runtime.
fn run<F, Fut, T>(task: F) -> Result<T, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name("secrets".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the secrets runtime: {e}"))?;
            Ok(rt.block_on(task()))
        })
        .map_err(|e| format!("cannot start the secrets thread: {e}"))?
        .join()
        .map_err(|_| "the secrets thread failed".to_owned())?
}

/// Resolves every reference concurrently, within `settings.timeout` overall.
pub(crate) async fn resolve_with(
    settings: &Settings,
    references: BTreeSet<String>,
) -> Result<Secrets, SecretErrors> {
    let needs_http = references
        .iter()
        .any(|r| r.starts_with("vault://") || r.starts_with("aws-sm://"));
    let client: Option<Arc<dyn HttpClient>> = if needs_http {
        let ca = references
            .iter()
            .any(|r| r.starts_with("vault://"))
            .then(|| settings.vault_cacert.clone())
            .flatten();
        match crate::dispatch::PluginHttpClient::with_ca(ca) {
            Ok(c) => Some(c),
            Err(reason) => {
                return Err(SecretErrors(
                    references
                        .into_iter()
                        .map(|reference| SecretError {
                            reference,
                            reason: format!("no HTTP client ({reason})"),
                        })
                        .collect(),
                ));
            }
        }
    } else {
        None
    };
    let client = client.as_deref();
    let lookups = references.into_iter().map(|reference| async move {
        let outcome = tokio::time::timeout(settings.timeout, resolve(client, settings, &reference))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", settings.timeout.as_secs())))
            .and_then(check);
        (reference, outcome)
    });
    let mut values = HashMap::new();
    let mut errors = Vec::new();
    for (reference, outcome) in futures_util::future::join_all(lookups).await {
        match outcome {
            Ok(value) => {
                values.insert(reference, SecretValue::new(value));
            }
            Err(reason) => errors.push(SecretError { reference, reason }),
        }
    }
    if errors.is_empty() {
        Ok(Secrets::new(values))
    } else {
        Err(SecretErrors(errors))
    }
}

/// Refuses empty and oversized values (an empty secret is a misconfiguration, never a key).
fn check(value: Vec<u8>) -> Result<Vec<u8>, String> {
    let value = Zeroizing::new(value);
    if value.is_empty() {
        return Err("the value is empty".into());
    }
    if value.len() > MAX_SECRET {
        return Err(format!("the value is larger than {} KiB", MAX_SECRET >> 10));
    }
    Ok(value.to_vec())
}

async fn resolve(
    client: Option<&dyn HttpClient>,
    settings: &Settings,
    reference: &str,
) -> Result<Vec<u8>, String> {
    let parsed = SecretRef::parse(reference).map_err(|e| e.reason.to_owned())?;
    let http = || client.ok_or_else(|| "no HTTP client".to_owned());
    match parsed {
        SecretRef::Env { name } => local::env(&name),
        SecretRef::File { path } => local::file(std::path::Path::new(&path)),
        SecretRef::K8s {
            namespace,
            name,
            key,
        } => local::k8s(&settings.k8s_root, &namespace, &name, &key),
        SecretRef::Vault { mount, path, key } => {
            vault::resolve(http()?, settings, &mount, &path, &key).await
        }
        SecretRef::AwsSm { name, key } => {
            aws_sm::resolve(http()?, settings, &name, key.as_deref()).await
        }
    }
}

/// Field `key` of a JSON object: a string as is, anything else as its JSON text.
fn field(object: &serde_json::Value, key: &str) -> Result<Vec<u8>, String> {
    match object.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(serde_json::Value::Null) | None => Err(format!("the secret has no field `{key}`")),
        Some(other) => Ok(other.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests;
