//! The control plane over TLS (`--tls-cert`, `--tls-key`): the CLI over `https://` with a
//! private CA, a data plane over `wss://` that registers and pulls a deployment over
//! `https://`, and plaintext on the TLS port refused without a hang.

use barbacane_control::server::{ServeConfig, TlsFiles, start};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestDb;

/// A CA and a server certificate for `localhost` and `127.0.0.1`, as PEM files in `dir`.
fn pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn cli(server: &str, ca: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_barbacane-control"));
    command
        .args(args)
        .args(["--server", server])
        .env_remove("BARBACANE_CONTROL_ADMIN_TOKEN")
        .env_remove("BARBACANE_CONTROL_CA");
    if let Some(ca) = ca {
        command.arg("--ca-cert").arg(ca);
    }
    command.output().unwrap()
}

#[tokio::test]
async fn the_api_and_the_data_plane_channel_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pki(dir.path());
    let db = TestDb::new().await;
    let running = start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db.url.clone(),
        workers: 1,
        max_upload_bytes: 1 << 20,
        allow: vec![],
        pool: Default::default(),
        heartbeat: Duration::from_secs(30),
        tls: Some(TlsFiles { cert, key }),
        drift_interval: std::time::Duration::from_secs(30),
        drift_retention: std::time::Duration::from_secs(30 * 86_400),
        compile_lease: std::time::Duration::from_secs(30),
        signing_key: None,
    })
    .await
    .unwrap();
    let port = running.addr().port();
    let server = format!("https://localhost:{port}");

    // The CLI with the private CA; without it the certificate is not trusted.
    let ca_path = ca.clone();
    let server_for_cli = server.clone();
    let created = tokio::task::spawn_blocking(move || {
        cli(
            &server_for_cli,
            Some(&ca_path),
            &["project", "create", "secure"],
        )
    })
    .await
    .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let project = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let server_for_cli = server.clone();
    let untrusted =
        tokio::task::spawn_blocking(move || cli(&server_for_cli, None, &["project", "list"]))
            .await
            .unwrap();
    // Exit 21 (cannot reach the server) with the reason and the fix, not a raw hyper error.
    let said = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(untrusted.status.code(), Some(21), "{said}");
    assert!(
        said.contains("cannot reach https://localhost")
            && said.contains("certificate")
            && said.contains("--ca-cert"),
        "{said}"
    );
    assert!(!said.contains("hyper"), "{said}");
    let ca_path = ca.clone();
    let server_for_cli = server.clone();
    let project_for_cli = project.clone();
    let key_out = tokio::task::spawn_blocking(move || {
        cli(
            &server_for_cli,
            Some(&ca_path),
            &[
                "api-key",
                "create",
                "--project",
                &project_for_cli,
                "--name",
                "edge",
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        key_out.status.success(),
        "{}",
        String::from_utf8_lossy(&key_out.stderr)
    );
    let api_key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();

    // Plaintext on the TLS port: the connection is closed, not left hanging.
    let mut plain = tokio::net::TcpStream::connect(running.addr())
        .await
        .unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "plaintext on the TLS port hung");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // A data plane over wss:// registers.
    let artifact =
        barbacane_test::compile_yaml(&[("api.yaml", &crate::support::mini_spec("/hello", "{}"))])
            .unwrap();
    let gw = barbacane_test::TestGateway::from_artifact(&artifact, Default::default()).await;
    let status = barbacane_proxy::connected::spawn(
        barbacane_proxy::connected::ConnectConfig {
            url: server.clone(),
            project_id: Some(project.clone()),
            api_key,
            name: "tls-node".into(),
            labels: Default::default(),
            load: Default::default(),
            ca: Some(ca.clone()),
        },
        gw.gateway().clone(),
        Default::default(),
    )
    .unwrap();
    for _ in 0..200 {
        if status.get().state == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status.get().state, "connected", "{:?}", status.get());
    assert!(status.get().url.starts_with("wss://"));
    running.stop().await.unwrap();
}
