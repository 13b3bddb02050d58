//! Real `redis-server` processes started by the tests (plain or TLS-only, on free ports),
//! killed when dropped.
#![allow(dead_code)]

use rcgen::{CertificateParams, KeyPair};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate, key), PEM.
pub fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn spawn(args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is needed; .ci/run installs it")
}

fn wait_listening(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("redis-server did not listen on {port}");
}

/// A plain `redis-server` on its own port.
pub struct PlainRedis {
    child: Option<Child>,
    pub port: u16,
}

impl PlainRedis {
    pub fn start() -> PlainRedis {
        let port = free_port();
        let mut redis = PlainRedis { child: None, port };
        redis.restart();
        redis
    }

    /// Kills the server (as an outage would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(&["--port".into(), self.port.to_string()]));
        wait_listening(self.port);
    }
}

impl Drop for PlainRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `redis-server` on a TLS-only port, with a self-signed certificate (`ca`).
pub struct TlsRedis {
    child: Child,
    pub port: u16,
    pub ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    pub fn start() -> TlsRedis {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), &key).unwrap();
        let port = free_port();
        let path = |f: &str| dir.path().join(f).display().to_string();
        let child = spawn(&[
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path("cert.pem"),
            "--tls-key-file".into(),
            path("key.pem"),
            "--tls-ca-cert-file".into(),
            path("cert.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
            "--dir".into(),
            path(""),
        ]);
        wait_listening(port);
        TlsRedis {
            child,
            port,
            ca: cert.into_bytes(),
            _dir: dir,
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
