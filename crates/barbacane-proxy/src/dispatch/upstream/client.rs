//! Upstream HTTP clients, one per distinct TLS setup, shared across operations and across
//! reloads so warm connections survive a configuration swap.
//!
//! Connections are per worker thread (see [`super::pool`]): a connection is driven by a task
//! on the runtime that opened it, and one shared by two workers would wake the other thread
//! on every request.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::pool::{self, ClientError, Setup};
use crate::body::OutgoingBody;

/// `tls` settings of an `http-upstream` use (file paths, read at load time: the artifact
/// never holds key material).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    /// PEM client certificate chain for mTLS.
    pub(crate) client_cert: Option<PathBuf>,
    /// PEM private key for mTLS.
    pub(crate) client_key: Option<PathBuf>,
    /// PEM CA bundle; when set, only these roots are trusted (private PKI).
    pub(crate) ca: Option<PathBuf>,
}

/// Every TLS setup seen, in registration order (the index is a [`ClientHandle`]'s id).
#[derive(Default)]
struct Registry {
    ids: HashMap<([u8; 32], bool), usize>,
    setups: Vec<Arc<Setup>>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The client for one TLS setup; each thread that sends through it uses its own connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientHandle {
    id: usize,
    http2_only: bool,
}

/// Returns the handle for these settings, registering them (and proving they build a client)
/// on first use.
pub(crate) fn client_for(tls: &TlsSettings, http2_only: bool) -> Result<ClientHandle, String> {
    let material = Material::read(tls)?;
    let key = (material.digest(), http2_only);
    let mut registry = registry()
        .lock()
        .map_err(|_| "client registry poisoned".to_owned())?;
    if let Some(&id) = registry.ids.get(&key) {
        return Ok(ClientHandle { id, http2_only });
    }
    // Configuration errors surface here, at load time, not on a request.
    let setup = build(&material, http2_only)?;
    let id = registry.setups.len();
    registry.setups.push(Arc::new(setup));
    registry.ids.insert(key, id);
    Ok(ClientHandle { id, http2_only })
}

impl ClientHandle {
    /// Sends `request` (absolute URI) through this thread's connections for the setup.
    pub(crate) fn request(self, request: http::Request<OutgoingBody>) -> pool::Exchange {
        let id = self.id;
        // Read only when a connection is opened.
        let setup = move || {
            let registry = registry()
                .lock()
                .map_err(|_| ClientError::Request("client registry poisoned".into()))?;
            registry
                .setups
                .get(id)
                .cloned()
                .ok_or_else(|| ClientError::Request("unknown upstream client".into()))
        };
        pool::send(id, self.http2_only, setup, request)
    }
}

/// The bytes of the configured files: the cache key is their digest, so rotating a
/// certificate file and reloading builds a fresh client.
struct Material {
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    ca: Option<Vec<u8>>,
}

impl Material {
    fn read(tls: &TlsSettings) -> Result<Material, String> {
        let read = |p: &Option<PathBuf>, what: &str| {
            p.as_ref()
                .map(|p| {
                    std::fs::read(p)
                        .map_err(|e| format!("cannot read tls.{what} `{}`: {e}", p.display()))
                })
                .transpose()
        };
        Ok(Material {
            cert: read(&tls.client_cert, "client_cert")?,
            key: read(&tls.client_key, "client_key")?,
            ca: read(&tls.ca, "ca")?,
        })
    }

    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&self.cert, &self.key, &self.ca] {
            match part {
                Some(bytes) => {
                    h.update([1]);
                    h.update((bytes.len() as u64).to_le_bytes());
                    h.update(bytes);
                }
                None => h.update([0]),
            }
        }
        h.finalize().into()
    }
}

fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!("no system root certificates found; https upstreams need tls.ca");
            }
            Arc::new(store)
        })
        .clone()
}

/// A root store holding exactly the certificates of a PEM bundle.
fn pem_roots(pem: &[u8], what: &str) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("{what} is not PEM certificates: {e}"))?;
        store
            .add(cert)
            .map_err(|e| format!("{what} holds an unusable certificate: {e}"))?;
    }
    if store.is_empty() {
        return Err(format!("{what} holds no certificate"));
    }
    Ok(store)
}

/// Roots to verify a server with: the CA bundle at `ca`, or the system's roots.
pub(crate) fn roots(ca: Option<&std::path::Path>) -> Result<Arc<RootCertStore>, String> {
    match ca {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the CA file `{}`: {e}", path.display()))?;
            Ok(Arc::new(pem_roots(&pem, &format!("`{}`", path.display()))?))
        }
        None => Ok(system_roots()),
    }
}

fn build(material: &Material, http2_only: bool) -> Result<Setup, String> {
    let roots = match &material.ca {
        Some(pem) => Arc::new(pem_roots(pem, "tls.ca")?),
        None => system_roots(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots);
    let config = match (&material.cert, &material.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("tls.client_cert is not PEM: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| format!("tls.client_key is not a PEM private key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("tls client certificate rejected: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("tls.client_cert and tls.client_key go together".into()),
    };
    let mut config = config;
    config.alpn_protocols = if http2_only {
        vec![b"h2".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    Ok(Setup {
        tls: Arc::new(config),
        http2_only,
    })
}
