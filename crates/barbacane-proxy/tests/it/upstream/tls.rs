//! HTTP/2 upstreams (cleartext prior knowledge, ALPN over TLS), private CAs (`tls.ca`) and
//! mTLS (`tls.client_cert`, `tls.client_key`), with a test PKI made by rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

use super::servers::{self, Behavior};
use super::{cfg, gateway, spec};
use crate::common::{assert_ok, assert_problem, send_with};

/// A CA, a server certificate for `127.0.0.1` and `localhost`, and a client certificate,
/// all signed by the CA; the CA and client PEMs are written to a temporary directory.
#[derive(Debug)]
struct Pki {
    dir: TempDir,
    ca: CertificateDer<'static>,
    server: CertificateDer<'static>,
    server_key: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Barbacane Test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(names.clone()).expect("params");
            params
                .distinguished_name
                .push(DnType::CommonName, names[0].as_str());
            params.extended_key_usages = vec![usage];
            params.use_authority_key_identifier_extension = true;
            let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
            (cert, key)
        };
        let (server, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(
            vec!["gateway.test".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write");
        std::fs::write(dir.path().join("client.pem"), client.pem()).expect("write");
        std::fs::write(dir.path().join("client.key"), client_key.serialize_pem()).expect("write");
        Pki {
            dir,
            ca: ca_cert.der().clone(),
            server: server.der().clone(),
            server_key: server_key.serialize_der(),
        }
    }

    fn path(&self, name: &str) -> String {
        let path: PathBuf = self.dir.path().join(name);
        path.to_str().expect("utf-8 temp path").to_owned()
    }

    /// `tls: {ca: ...}`, plus the client certificate when `mtls`.
    fn tls_config(&self, mtls: bool) -> String {
        let ca = self.path("ca.pem");
        if mtls {
            format!(
                "tls: {{ca: \"{ca}\", client_cert: \"{}\", client_key: \"{}\"}}",
                self.path("client.pem"),
                self.path("client.key")
            )
        } else {
            format!("tls: {{ca: \"{ca}\"}}")
        }
    }

    /// Server config (ALPN h2 and http/1.1), requiring a CA-signed client certificate when
    /// `require_client_cert`.
    fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.clone()).expect("CA root");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = builder
            .with_single_cert(vec![self.server.clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

#[tokio::test]
async fn cleartext_http2_upstream_with_prior_knowledge() {
    let up = servers::start(Behavior::Echo).await;
    let h2 = cfg(&up.url(), "http2: true");
    let h1 = cfg(&up.url(), "");
    let gw = gateway(&spec(&[
        ("get", "/h2", &h2),
        ("post", "/h2", &h2),
        ("get", "/h1", &h1),
    ]))
    .await;
    let resp = gw.get("/h2?x=1").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["version"], "HTTP/2.0", "{}", resp.text());
    assert_eq!(resp.json()["target"], "/h2?x=1");
    let resp = send_with(
        &gw,
        "POST",
        "/h2",
        &[("content-type", "text/plain")],
        "over h2",
    )
    .await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["version"], "HTTP/2.0");
    assert_eq!(resp.json()["body"], "over h2");
    // Without `http2`, cleartext upstreams get HTTP/1.1, whatever the client spoke.
    let resp = gw
        .send_h2(
            gw.request("GET", "/h1")
                .version(http::Version::HTTP_2)
                .body(Default::default())
                .expect("request"),
        )
        .await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["version"], "HTTP/1.1");
}

#[tokio::test]
async fn tls_ca_trusts_a_private_upstream_and_alpn_picks_http2() {
    let pki = Pki::new();
    let up = servers::start_tls(Behavior::Echo, pki.server_config(false)).await;
    let config = cfg(&up.https_url(), &pki.tls_config(false));
    let gw = gateway(&spec(&[("get", "/secure/{id}", &config)])).await;
    let resp = gw.get("/secure/1?q=2").await;
    assert_ok(&resp, 200);
    let echo = resp.json();
    assert_eq!(echo["target"], "/secure/1?q=2");
    // ALPN negotiated h2 without `http2: true`.
    assert_eq!(echo["version"], "HTTP/2.0");
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "http");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn tls_http2_only_works_over_alpn_too() {
    let pki = Pki::new();
    let up = servers::start_tls(Behavior::Echo, pki.server_config(false)).await;
    let extra = format!("http2: true, {}", pki.tls_config(false));
    let gw = gateway(&spec(&[("get", "/secure", &cfg(&up.https_url(), &extra))])).await;
    let resp = gw.get("/secure").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["version"], "HTTP/2.0");
}

#[tokio::test]
async fn an_upstream_certificate_from_an_untrusted_ca_is_502() {
    let pki = Pki::new();
    let up = servers::start_tls(Behavior::Echo, pki.server_config(false)).await;
    // No `tls.ca`: the system roots do not know the test CA.
    let gw = gateway(&spec(&[("get", "/secure", &cfg(&up.https_url(), ""))])).await;
    assert_problem(&gw.get("/secure").await, 502, "bad-gateway");
    assert_eq!(up.hits(), 0);
    // Another CA is no better.
    let other = Pki::new();
    let gw = gateway(&spec(&[(
        "get",
        "/secure",
        &cfg(&up.https_url(), &other.tls_config(false)),
    )]))
    .await;
    assert_problem(&gw.get("/secure").await, 502, "bad-gateway");
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn mtls_upstream_gets_the_client_certificate() {
    let pki = Pki::new();
    let up = servers::start_tls(Behavior::Echo, pki.server_config(true)).await;
    let gw = gateway(&spec(&[
        (
            "get",
            "/with-cert",
            &cfg(&up.https_url(), &pki.tls_config(true)),
        ),
        (
            "get",
            "/without-cert",
            &cfg(&up.https_url(), &pki.tls_config(false)),
        ),
    ]))
    .await;
    let resp = gw.get("/with-cert").await;
    assert_ok(&resp, 200);
    assert_eq!(resp.json()["target"], "/with-cert");
    assert_eq!(up.hits(), 1);
    assert_problem(&gw.get("/without-cert").await, 502, "bad-gateway");
    assert_eq!(up.hits(), 1, "the upstream never saw the request");
    // The certificate-bearing client still works afterwards.
    assert_ok(&gw.get("/with-cert").await, 200);
}
