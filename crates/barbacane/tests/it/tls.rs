//! `serve --tls-cert --tls-key`: HTTPS on the traffic listener, the certificate replaced on
//! disk and picked up without a restart, an unusable pair refused at start (exit 10).

use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{Launch, Server, barbacane, compile_petstore, eventually, free_port, run};

fn pair(dir: &Path, cn: &str) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    // Written next to the final names, then renamed: what deploy tools do.
    std::fs::write(dir.join("cert.pem.new"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem.new"), key.serialize_pem()).unwrap();
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).unwrap();
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).unwrap();
    cert.der().clone()
}

/// GET /pets/1 over TLS trusting only `cert`; the status line, or the TLS error.
pub(crate) fn https_get(port: u16, cert: &CertificateDer<'static>) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /pets/1 HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out);
    out.lines()
        .next()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| "no answer".to_owned())
}

#[test]
fn https_with_a_certificate_replaced_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = compile_petstore(dir.path());
    let first = pair(dir.path(), "first");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let server = Server::start_with(
        dir.path(),
        &[
            "serve",
            "--artifact",
            artifact.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &Launch::default().log_level("info"),
    );
    assert_eq!(https_get(server.port, &first).unwrap(), "HTTP/1.1 200 OK");
    let second = pair(dir.path(), "second");
    assert!(
        eventually(100, Duration::from_millis(50), || https_get(
            server.port,
            &second
        )
        .is_ok_and(|l| l == "HTTP/1.1 200 OK")),
        "the new certificate is served: {}",
        server.stderr()
    );
    assert!(https_get(server.port, &first).is_err());
    assert!(
        server.stderr().contains("TLS certificate reloaded"),
        "{}",
        server.stderr()
    );
}

#[test]
fn an_unusable_pair_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = compile_petstore(dir.path());
    pair(dir.path(), "x");
    std::fs::write(
        dir.path().join("key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let out = run(barbacane()
        .arg("serve")
        .arg("--artifact")
        .arg(&artifact)
        .arg("--tls-cert")
        .arg(dir.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("key.pem"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port())));
    out.assert_code(10);
    assert!(
        out.stderr.contains("do not make a usable pair"),
        "{}",
        out.stderr
    );
}
