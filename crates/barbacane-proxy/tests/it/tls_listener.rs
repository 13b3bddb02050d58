//! TLS termination on the traffic listener: HTTP/1.1 and h2 by ALPN, plaintext refused
//! cleanly, certificates reloaded without dropping a connection (a bad pair refused, the old
//! one kept), client certificates required with a client CA. Certificates made by rcgen; the
//! client is rustls.

use barbacane_proxy::ServeConfig;
use barbacane_proxy::tls::{Tls, TlsFiles};
use barbacane_test::{TestGateway, compile_yaml};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /hello:
    get:
      x-barbacane-dispatch: {name: mock, config: {status: 200, body: '{"hello":"tls"}'}}
      responses: {"200": {description: ok}}
"#;

/// [`SPEC`] plus a route whose policy reads the client certificate's claims (its own spec:
/// compiling `cel` is slow in debug builds, the other tests do without it).
const CLIENT_CA_SPEC: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /hello:
    get:
      x-barbacane-dispatch: {name: mock, config: {status: 200, body: '{"hello":"tls"}'}}
      responses: {"200": {description: ok}}
  /who:
    get:
      x-barbacane-middlewares:
        - name: cel
          config:
            expression: >
              request.context["auth.client_cert.subject_cn"] == "billing"
              && request.context["auth.client_cert.san.dns"] == "client.test"
              && request.context["auth.client_cert.issuer"] == "CN=clients"
              && request.context["auth.client_cert.sha256"].size() == 64
      x-barbacane-dispatch: {name: mock, config: {status: 200, body: '{"who":"billing"}'}}
      responses: {"200": {description: ok}}
"#;

/// A self-signed server certificate for 127.0.0.1 named `cn`, written as cert.pem/key.pem.
fn server_pair(dir: &Path, cn: &str) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.der().clone()
}

fn client(
    trusted: &CertificateDer<'static>,
    alpn: &[&[u8]],
    identity: Option<(CertificateDer<'static>, Vec<u8>)>,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert],
                PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key)),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn gateway(files: TlsFiles) -> (TestGateway, Arc<Tls>) {
    gateway_of(SPEC, files).await
}

async fn gateway_of(spec: &str, files: TlsFiles) -> (TestGateway, Arc<Tls>) {
    let tls = Tls::load(files).unwrap();
    let artifact = compile_yaml(&[("api.yaml", spec)]).unwrap();
    let gw = TestGateway::from_artifact(
        &artifact,
        ServeConfig {
            tls: Some(Arc::clone(&tls)),
            ..ServeConfig::default()
        },
    )
    .await;
    (gw, tls)
}

fn files(dir: &Path) -> TlsFiles {
    TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        client_ca: None,
    }
}

/// One HTTP/1.1 request on an open TLS stream; returns the response head and body.
/// Reads one answer whose JSON body ends with `}`.
async fn read_answer<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out);
        if text.contains("\r\n\r\n") && text.ends_with('}') {
            return text.into_owned();
        }
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed early: {text}");
        out.extend_from_slice(&buf[..n]);
    }
}

async fn get<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(s: &mut S) -> String {
    s.write_all(b"GET /hello HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("{\"hello\":\"tls\"}") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn connect(
    gw: &TestGateway,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(gw.addr()).await?;
    connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

#[tokio::test]
async fn https_by_alpn_and_plaintext_refused_without_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let cert = server_pair(dir.path(), "first");
    let (gw, _) = gateway(files(dir.path())).await;

    let mut s = connect(&gw, &client(&cert, &[b"http/1.1"], None))
        .await
        .unwrap();
    let (_, conn) = s.get_ref();
    assert_eq!(
        conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert!(get(&mut s).await.starts_with("HTTP/1.1 200"));

    // h2 by ALPN, through hyper's client.
    let s = connect(&gw, &client(&cert, &[b"h2", b"http/1.1"], None))
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(s),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let response = sender
        .send_request(
            http::Request::get("https://127.0.0.1/hello")
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);

    // Plaintext HTTP on the TLS port: a 400 problem, then the connection closes.
    let mut plain = TcpStream::connect(gw.addr()).await.unwrap();
    plain
        .write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_string(&mut answer),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("urn:barbacane:error:tls-required"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_new_certificate_is_used_by_new_connections_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = server_pair(dir.path(), "first");
    let (gw, tls) = gateway(files(dir.path())).await;
    let mut old = connect(&gw, &client(&first, &[b"http/1.1"], None))
        .await
        .unwrap();
    assert!(get(&mut old).await.starts_with("HTTP/1.1 200"));

    let second = server_pair(dir.path(), "second");
    tls.reload().unwrap();
    // The open connection keeps working; new ones get the new certificate.
    assert!(get(&mut old).await.starts_with("HTTP/1.1 200"));
    assert!(
        connect(&gw, &client(&first, &[b"http/1.1"], None))
            .await
            .is_err()
    );
    let mut new = connect(&gw, &client(&second, &[b"http/1.1"], None))
        .await
        .unwrap();
    assert!(get(&mut new).await.starts_with("HTTP/1.1 200"));

    // A key that does not match the certificate: refused, the second pair keeps serving.
    let other = KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("key.pem"), other.serialize_pem()).unwrap();
    let err = tls.reload().unwrap_err();
    assert!(err.contains("do not make a usable pair"), "{err}");
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    assert!(tls.reload().is_err());
    let mut again = connect(&gw, &client(&second, &[b"http/1.1"], None))
        .await
        .unwrap();
    assert!(get(&mut again).await.starts_with("HTTP/1.1 200"));
    assert!(get(&mut old).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn with_a_client_ca_a_client_certificate_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_pair(dir.path(), "server");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "clients");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["client.test".into()]).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "billing");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    let (gw, _) = gateway_of(
        CLIENT_CA_SPEC,
        TlsFiles {
            client_ca: Some(dir.path().join("ca.pem")),
            ..files(dir.path())
        },
    )
    .await;
    let identity = (client_cert.der().clone(), client_key.serialize_der());
    let mut s = connect(&gw, &client(&server, &[b"http/1.1"], Some(identity)))
        .await
        .unwrap();
    assert!(get(&mut s).await.starts_with("HTTP/1.1 200"));
    // The verified certificate's claims reach plugins (the policy checks four of them).
    s.write_all(b"GET /who HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_answer(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Without a certificate: the handshake (or the first read, in TLS 1.3) fails.
    let refused = match connect(&gw, &client(&server, &[b"http/1.1"], None)).await {
        Err(_) => true,
        Ok(mut s) => {
            let _ = s.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n").await;
            let mut buf = [0u8; 64];
            !matches!(s.read(&mut buf).await, Ok(n) if n > 0)
        }
    };
    assert!(refused);
}

#[test]
fn unusable_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Tls::load(files(dir.path())).unwrap_err();
    assert!(
        err.contains("--tls-cert") && err.contains("cert.pem"),
        "{err}"
    );
}

#[tokio::test]
async fn over_the_connection_cap_a_tls_client_gets_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cert = server_pair(dir.path(), "server");
    let tls = Tls::load(files(dir.path())).unwrap();
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).unwrap();
    let gw = TestGateway::from_artifact(
        &artifact,
        ServeConfig {
            tls: Some(tls),
            max_connections: 1,
            workers: 1,
            ..ServeConfig::default()
        },
    )
    .await;
    let connector = client(&cert, &[b"http/1.1"], None);
    let mut held = connect(&gw, &connector).await.unwrap();
    assert!(get(&mut held).await.starts_with("HTTP/1.1 200"));
    // Over the cap: a TLS alert the client understands, not plaintext HTTP it cannot read.
    let err = connect(&gw, &connector).await.unwrap_err();
    assert!(
        err.to_string().contains("InternalError"),
        "expected a fatal internal_error alert, got: {err}"
    );
}
