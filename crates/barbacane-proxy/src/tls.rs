//! TLS termination on the traffic listener (`serve --tls-cert --tls-key [--tls-client-ca]`).
//!
//! The settings live behind an `ArcSwap`: a reload (SIGHUP, or the files changing) builds a
//! new rustls config from the files and swaps it in only if it is usable, so a bad new pair
//! is refused while the old one keeps serving; connections already open keep the config they
//! were accepted with, none is dropped. ALPN offers `h2` then `http/1.1`.
//!
//! A client that speaks plaintext HTTP to the TLS port gets a plain `400` problem and the
//! connection is closed (the first byte of a TLS connection is always 0x16, a handshake
//! record; nothing else is waited for).

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpStream;

/// The files the settings are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA certificates; when given, every client must present a certificate they sign.
    pub client_ca: Option<PathBuf>,
}

/// The traffic listener's TLS settings, reloadable.
pub struct Tls {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Reads the files; an unusable pair is an error naming the flag and the reason.
    pub fn load(files: TlsFiles) -> Result<Arc<Tls>, String> {
        let config = build(&files)?;
        Ok(Arc::new(Tls {
            files,
            current: ArcSwap::from_pointee(config),
        }))
    }

    /// Re-reads the files and swaps the new settings in; on error the old ones stay.
    pub fn reload(&self) -> Result<(), String> {
        let config = build(&self.files)?;
        self.current.store(Arc::new(config));
        Ok(())
    }

    /// The files.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// An acceptor with the current settings.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }
}

impl TlsFiles {
    /// The file holding the key, to watch for changes: `key` itself, or the path of a
    /// `file://` reference; `None` for a key in a secret store (re-read on SIGHUP only).
    pub fn key_file(&self) -> Option<PathBuf> {
        let text = self.key.to_str()?;
        if !barbacane_plugin_abi::secret_ref::is_reference(text) {
            return Some(self.key.clone());
        }
        text.strip_prefix("file://").map(PathBuf::from)
    }
}

fn build(files: &TlsFiles) -> Result<ServerConfig, String> {
    let alpn: [&[u8]; 2] = [b"h2", b"http/1.1"];
    let client_ca = files.client_ca.as_deref();
    match files.key.to_str() {
        // `--tls-key vault://...`: resolved now (startup, SIGHUP, a watched file change).
        Some(reference) if barbacane_plugin_abi::secret_ref::is_reference(reference) => {
            let pem =
                crate::secrets::resolve_one(reference).map_err(|e| format!("--tls-key: {e}"))?;
            barbacane_posture::tls::server_config_with_key(
                &files.cert,
                pem.expose(),
                reference,
                &alpn,
                client_ca,
            )
        }
        _ => barbacane_posture::tls::server_config(&files.cert, &files.key, &alpn, client_ca),
    }
}

/// The first byte of a TLS connection (a handshake record).
pub(crate) const HANDSHAKE: u8 = 0x16;

/// Answers a plaintext request on the TLS port and closes.
pub(crate) async fn refuse_plaintext(stream: TcpStream) {
    const BODY: &str = r#"{"type":"urn:barbacane:error:tls-required","title":"Bad Request","status":400,"detail":"This port speaks HTTPS: use https:// to reach it."}"#;
    crate::conn::answer_and_close(stream, "400 Bad Request", "", BODY).await;
}
