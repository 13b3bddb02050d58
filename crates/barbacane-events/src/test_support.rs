//! Real brokers for integration tests (feature `test-support`), here and in other crates:
//! [`NatsServer`] (a `nats-server` of its own on a free port) and [`Tansu`] (a Kafka-protocol
//! broker, the `tansu` binary that `scripts/tansu.sh` installs), both killed when dropped,
//! and [`shared_nats_url`] for the long-running NATS server with JetStream that the test
//! environment starts.
//!
//! These helpers panic on failure: they are for tests only.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// The NATS server (JetStream enabled) that the test environment runs: `BARBACANE_NATS_URL`,
/// else `nats://127.0.0.1:4222`.
pub fn shared_nats_url() -> String {
    std::env::var("BARBACANE_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn wait_listening(what: &str, port: u16, child: &mut Child) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {port}: {status}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 20 s");
}

fn stop(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A `nats-server` of its own (no JetStream) on a free loopback port, for outage tests. The
/// binary is `BARBACANE_NATS_SERVER`, else `nats-server` on the `PATH`, else
/// `/usr/sbin/nats-server` (Debian's package).
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    monitor_port: u16,
}

impl NatsServer {
    /// Starts it and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            monitor_port: free_port(),
        };
        server.restart();
        server
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills it (as an outage would) and waits for it to exit.
    pub fn kill(&mut self) {
        stop(&mut self.child);
    }

    /// The number of client connections the server has now (its monitoring endpoint).
    pub fn connections(&self) -> u64 {
        self.varz("connections")
    }

    /// The number of subscriptions the server holds now, its own internal ones included (its
    /// monitoring endpoint).
    pub fn subscriptions(&self) -> u64 {
        self.varz("subscriptions")
    }

    /// A numeric field of the server's `/varz`.
    fn varz(&self, name: &str) -> u64 {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.monitor_port))
            .expect("connect to the nats-server monitoring port");
        stream
            .write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("ask /varz");
        let mut body = String::new();
        stream.read_to_string(&mut body).expect("read /varz");
        let field = format!("\"{name}\":");
        let at = body
            .find(&field)
            .unwrap_or_else(|| panic!("/varz has no `{name}`"))
            + field.len();
        body[at..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("`{name}` in /varz is not a number"))
    }

    /// Starts it again on the same port (killing it first if it runs).
    pub fn restart(&mut self) {
        self.kill();
        let (port, monitor) = (self.port.to_string(), self.monitor_port.to_string());
        let args = [
            "-a",
            "127.0.0.1",
            "-p",
            port.as_str(),
            "-m",
            monitor.as_str(),
        ];
        let spawn = |binary: &str| {
            Command::new(binary)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let mut child = match std::env::var("BARBACANE_NATS_SERVER") {
            Ok(binary) => spawn(&binary),
            Err(_) => spawn("nats-server").or_else(|_| spawn("/usr/sbin/nats-server")),
        }
        .expect("nats-server is needed (Debian package `nats-server`, or BARBACANE_NATS_SERVER)");
        wait_listening("nats-server", self.port, &mut child);
        self.child = Some(child);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Kafka-protocol broker: `tansu broker` with in-memory storage on a free loopback port.
/// The binary's path is read from `BARBACANE_TANSU`, which `scripts/tansu.sh` provides:
/// `BARBACANE_TANSU="$(scripts/tansu.sh)" cargo test ...`. In-memory storage means a restart
/// forgets every topic.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
}

impl Tansu {
    /// Starts it and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// `BARBACANE_TANSU` is unset or the binary cannot be started.
    pub fn start() -> Tansu {
        let binary = std::env::var_os("BARBACANE_TANSU")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "BARBACANE_TANSU is not set: it names the tansu binary the Kafka tests run; \
                 run `export BARBACANE_TANSU=\"$(scripts/tansu.sh)\"` from the repository root"
                )
            });
        let mut tansu = Tansu {
            binary,
            child: None,
            port: free_port(),
        };
        tansu.restart();
        tansu
    }

    /// The broker's process id while it runs (to read its CPU time in load tests).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The broker list to hand [`Brokers`](crate::Brokers): `127.0.0.1:PORT`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills it (as an outage would) and waits for it to exit.
    pub fn kill(&mut self) {
        stop(&mut self.child);
    }

    /// Starts it again on the same port, empty (killing it first if it runs).
    pub fn restart(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start tansu at {} (BARBACANE_TANSU; see scripts/tansu.sh): {e}",
                    self.binary.display()
                )
            });
        wait_listening("tansu", self.port, &mut child);
        self.child = Some(child);
    }

    /// Creates `topic` with `partitions` partitions and waits until the broker's metadata
    /// lists them all.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let client = rskafka::client::ClientBuilder::new(vec![self.brokers()])
            .build()
            .await
            .expect("connect to tansu");
        client
            .controller_client()
            .expect("controller client")
            .create_topic(topic, partitions, 1, 5_000)
            .await
            .unwrap_or_else(|e| panic!("create topic {topic}: {e}"));
        let start = Instant::now();
        loop {
            let topics = client.list_topics().await.expect("list topics");
            let listed = topics
                .iter()
                .find(|t| t.name == topic)
                .map_or(0, |t| t.partitions.len());
            if listed == partitions as usize {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "topic {topic} has {listed} partitions in metadata, not {partitions}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}
