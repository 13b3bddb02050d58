//! TLS for the API listener (`serve --tls-cert/--tls-key`) and for the CLI client
//! (`https://` servers, `--ca-cert`): rustls with the ring provider, TLS 1.2 and 1.3 only.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

use barbacane_posture::tls::provider;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} `{}`: {e}", path.display()))
}

/// The listener's TLS settings from a PEM certificate chain and a PEM private key. ALPN
/// offers HTTP/1.1 only: the data planes' WebSocket upgrade is an HTTP/1.1 exchange.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    barbacane_posture::tls::server_config(cert, key, &[b"http/1.1"], None).map(Arc::new)
}

/// Roots for talking to a control plane: only the CA in `ca` when given (a private PKI),
/// else the system's roots.
pub fn roots(ca: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in CertificateDer::pem_slice_iter(&read(path, "the CA file")?) {
                let cert =
                    cert.map_err(|e| format!("`{}` is not PEM certificates: {e}", path.display()))?;
                store.add(cert).map_err(|e| {
                    format!("`{}` holds an unusable certificate: {e}", path.display())
                })?;
            }
            if store.is_empty() {
                return Err(format!("`{}` holds no certificate", path.display()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
    }
    Ok(store)
}

/// The CLI client's TLS settings.
pub fn client_config(ca: Option<&Path>) -> Result<ClientConfig, String> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots(ca)?)
        .with_no_client_auth())
}
