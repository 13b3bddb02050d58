//! TLS server settings shared by every listener (the gateway's traffic listener, the control
//! plane's API): rustls with the ring provider, TLS 1.2 minimum and 1.3 preferred, rustls's
//! default suites (ECDHE with AES-GCM or ChaCha20-Poly1305 only), optional client
//! certificates checked against a CA.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// The ring crypto provider.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} `{}`: {e}", path.display()))
}

/// PEM certificates of a file (at least one).
pub fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(&read(path, what)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} `{}` is not PEM certificates: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{what} `{}` holds no certificate", path.display()));
    }
    Ok(chain)
}

/// A listener's settings from a PEM certificate chain and a PEM private key (flags named in
/// errors as `--tls-cert` and `--tls-key`), offering `alpn` in order of preference, and
/// requiring a client certificate signed by a CA of `client_ca` when given.
pub fn server_config(
    cert: &Path,
    key: &Path,
    alpn: &[&[u8]],
    client_ca: Option<&Path>,
) -> Result<ServerConfig, String> {
    let chain = certificates(cert, "--tls-cert")?;
    let pem = read(key, "--tls-key")?;
    with_chain(chain, &pem, &key.display().to_string(), alpn, client_ca)
}

/// [`server_config`] with the private key's PEM already in hand (a key behind a secret
/// reference); `key_name` names it in errors (the reference, never the key).
pub fn server_config_with_key(
    cert: &Path,
    key_pem: &[u8],
    key_name: &str,
    alpn: &[&[u8]],
    client_ca: Option<&Path>,
) -> Result<ServerConfig, String> {
    let chain = certificates(cert, "--tls-cert")?;
    with_chain(chain, key_pem, key_name, alpn, client_ca)
}

fn with_chain(
    chain: Vec<CertificateDer<'static>>,
    key_pem: &[u8],
    key_name: &str,
    alpn: &[&[u8]],
    client_ca: Option<&Path>,
) -> Result<ServerConfig, String> {
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("--tls-key `{key_name}` is not a PEM private key: {e}"))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca, "--tls-client-ca")? {
                roots.add(cert).map_err(|e| {
                    format!(
                        "--tls-client-ca `{}`: unusable certificate: {e}",
                        ca.display()
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("--tls-client-ca `{}`: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert and --tls-key do not make a usable pair: {e}"))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}
