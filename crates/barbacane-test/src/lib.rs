//! Test support for Barbacane.
//!
//! - [`compile_yaml`]: compile spec text (in memory, no files) into artifact bytes;
//!   [`compile_yaml_with`] to adjust the [`CompileOptions`] first.
//! - [`TestGateway`]: the real data plane on `127.0.0.1:0`, talking real HTTP over loopback,
//!   with [`TestGateway::send`] for HTTP/1.1 and [`TestGateway::send_h2`] for h2c.
//! - [`fixtures_dir`]: the shared fixture specs under `tests/fixtures/`.
//! - [`compile_project`]: like [`compile_yaml`], with plugins declared in a `barbacane.yaml`.
//! - [`harness::PluginHarness`]: a plugin's real `.wasm` in the real sandbox, no gateway.
//! - [`capture::CaptureServer`]: a real HTTP server that records requests.
//! - [`secret_stores`]: Vault KV v2 and AWS Secrets Manager stand-ins.
//! - [`evidence::evidence_check`]: the independent SBOM / attestation checkers.

pub mod capture;
pub mod evidence;
pub mod harness;
pub mod secret_stores;

pub use barbacane_compiler::{Code, CompileOptions, Diagnostic};
use barbacane_compiler::{MemoryFs, compile};
use barbacane_proxy::{Gateway, LoadOptions, ServeConfig, Snapshot};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The repository's `tests/fixtures` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Compiles specs given as `(file name, YAML or JSON text)`, each a root spec. Returns the artifact bytes or the diagnostics.
pub fn compile_yaml(specs: &[(&str, &str)]) -> Result<Vec<u8>, Vec<Diagnostic>> {
    compile_yaml_with(specs, |_| {})
}

/// Like [`compile_yaml`], with `configure` adjusting the options first (e.g.
/// `|o| o.allow_plaintext_upstream = true` for `http://` upstreams).
pub fn compile_yaml_with(
    specs: &[(&str, &str)],
    configure: impl FnOnce(&mut CompileOptions),
) -> Result<Vec<u8>, Vec<Diagnostic>> {
    let mut fs = MemoryFs::default();
    for (name, text) in specs {
        fs.insert(format!("project/{name}"), text.as_bytes().to_vec());
    }
    let mut options = CompileOptions {
        specs: specs
            .iter()
            .map(|(name, _)| PathBuf::from(format!("/project/{name}")))
            .collect(),
        build_time: 0,
        ..Default::default()
    };
    configure(&mut options);
    compile(&fs, &options).map(|out| out.artifact)
}

/// Compiles `specs` with `plugins` (name, files) declared in a generated `barbacane.yaml`
/// (the files land in `plugins/<name>/`).
pub fn compile_project(
    specs: &[(&str, &str)],
    plugins: &[&barbacane_plugins::Bundle],
) -> Result<Vec<u8>, Vec<Diagnostic>> {
    let mut fs = MemoryFs::default();
    let mut manifest = String::from("plugins:\n");
    for bundle in plugins {
        let dir = format!("project/plugins/{}", bundle.name);
        fs.insert(
            format!("{dir}/plugin.toml"),
            bundle.manifest.as_bytes().to_vec(),
        );
        fs.insert(format!("{dir}/{}", bundle.wasm_file), bundle.wasm.to_vec());
        if let Some(schema) = bundle.schema {
            fs.insert(
                format!("{dir}/config-schema.json"),
                schema.as_bytes().to_vec(),
            );
        }
        manifest.push_str(&format!(
            "  {}: {{path: plugins/{}/plugin.toml}}\n",
            bundle.name, bundle.name
        ));
    }
    fs.insert("project/barbacane.yaml", manifest.into_bytes());
    for (name, text) in specs {
        fs.insert(format!("project/{name}"), text.as_bytes().to_vec());
    }
    let options = CompileOptions {
        specs: specs
            .iter()
            .map(|(name, _)| PathBuf::from(format!("/project/{name}")))
            .collect(),
        manifest: Some(PathBuf::from("/project/barbacane.yaml")),
        allow_plaintext_upstream: true,
        build_time: 0,
        ..Default::default()
    };
    compile(&fs, &options).map(|out| out.artifact)
}

/// A response with its body collected.
#[derive(Debug)]
pub struct TestResponse {
    /// Status and headers.
    pub head: http::response::Parts,
    /// The body.
    pub body: Bytes,
}

impl TestResponse {
    /// Status code.
    pub fn status(&self) -> u16 {
        self.head.status.as_u16()
    }
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running gateway on an ephemeral loopback port.
#[derive(Debug)]
pub struct TestGateway {
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
    h2: Client<HttpConnector, Full<Bytes>>,
}

impl TestGateway {
    /// Compiles `specs` and serves them with default settings.
    pub async fn from_specs(specs: &[(&str, &str)]) -> TestGateway {
        let artifact =
            compile_yaml(specs).unwrap_or_else(|d| panic!("specs do not compile: {d:#?}"));
        Self::from_artifact(&artifact, ServeConfig::default()).await
    }

    /// Serves an artifact with `config` (its `listen` is replaced by `127.0.0.1:0`).
    pub async fn from_artifact(artifact: &[u8], config: ServeConfig) -> TestGateway {
        Self::from_artifact_with(artifact, config, &LoadOptions::default()).await
    }

    /// [`TestGateway::from_artifact`], loading the artifact with `options` (plugin pool
    /// bounds, signature rules).
    pub async fn from_artifact_with(
        artifact: &[u8],
        mut config: ServeConfig,
        options: &LoadOptions,
    ) -> TestGateway {
        let snapshot = Snapshot::from_bytes_with(artifact, options)
            .unwrap_or_else(|e| panic!("artifact does not load: {e}"));
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let gateway = Gateway::new(snapshot, config);
        let listening = gateway.bind().await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listening.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(listening.serve(async {
            let _ = rx.await;
        }));
        TestGateway {
            addr,
            gateway,
            shutdown: Some(tx),
            task: Some(task),
            client: Client::builder(TokioExecutor::new()).build_http(),
            h2: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared gateway state (to swap snapshots in tests).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request builder for `method` and `path`.
    pub fn request(&self, method: &str, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(self.url(path))
    }

    /// Sends over HTTP/1.1 and collects the response.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> TestResponse {
        collect(
            self.client
                .request(request)
                .await
                .unwrap_or_else(|e| panic!("request failed: {e}")),
        )
        .await
    }

    /// Sends over HTTP/2 with prior knowledge (h2c).
    pub async fn send_h2(&self, request: Request<Full<Bytes>>) -> TestResponse {
        collect(
            self.h2
                .request(request)
                .await
                .unwrap_or_else(|e| panic!("h2 request failed: {e}")),
        )
        .await
    }

    /// `GET path` with no body.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(
            self.request("GET", path)
                .body(Full::default())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
    }

    /// A request with a body and a content type.
    pub async fn send_body(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> TestResponse {
        let request = self
            .request(method, path)
            .header("content-type", content_type)
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .unwrap_or_else(|e| panic!("{e}"));
        self.send(request).await
    }

    /// Triggers graceful shutdown and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Triggers graceful shutdown without waiting; returns the server task.
    pub fn begin_shutdown(&mut self) -> Option<JoinHandle<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn collect(response: Response<hyper::body::Incoming>) -> TestResponse {
    let (head, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    TestResponse { head, body }
}

/// Runs `promtool check metrics` on a Prometheus exposition and fails the test on any
/// complaint. When promtool is not installed the check is skipped with a note (CI installs
/// it: `.ci/run`), the caller's own assertions still run.
pub fn promtool_check(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool is not installed; skipping its check (CI runs it)");
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
