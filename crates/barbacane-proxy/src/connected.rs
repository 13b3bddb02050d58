//! Connected mode, the data plane's side: keep a WebSocket to the control plane open, say
//! `hello` with what this node serves, heartbeat, and reconnect with backoff when the
//! connection drops. While disconnected the node keeps serving what it has (graceful
//! degradation). The protocol is `docs/connected-mode.md`.
//!
//! Deployments are pulled: on `deploy` the node downloads the artifact with its own key,
//! verifies it exactly as at start (integrity, signature rules, plugins load) and that its
//! `artifact_hash` is the announced one, swaps it in, and reports `applied`; on any failure it
//! keeps serving what it had and reports `rejected` with the reason.

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::dispatch::upstream::{TlsSettings, client_for};
use crate::{Gateway, LoadOptions, Snapshot};

/// Largest artifact a node downloads.
const MAX_ARTIFACT_BYTES: usize = 256 << 20;

/// The artifact bytes the control plane deployed last, so that a reload (SIGHUP,
/// `POST /_admin/reload`) re-verifies what runs instead of going back to `--artifact`.
#[derive(Debug)]
pub struct AppliedArtifact {
    bytes: Mutex<Option<Arc<[u8]>>>,
    applied: tokio::sync::watch::Sender<bool>,
}

impl Default for AppliedArtifact {
    fn default() -> Self {
        AppliedArtifact {
            bytes: Mutex::new(None),
            applied: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl AppliedArtifact {
    /// The deployed bytes, if a deployment was applied.
    pub fn get(&self) -> Option<Arc<[u8]>> {
        self.bytes.lock().ok().and_then(|a| a.clone())
    }

    /// Resolves once a deployment has been applied (a node started without `--artifact`
    /// opens its traffic listener then).
    pub async fn wait(&self) {
        let mut rx = self.applied.subscribe();
        let _ = rx.wait_for(|a| *a).await;
    }

    fn set(&self, bytes: Arc<[u8]>) {
        if let Ok(mut a) = self.bytes.lock() {
            *a = Some(bytes);
        }
        self.applied.send_replace(true);
    }
}

/// The protocol version this data plane speaks.
pub const PROTOCOL: u32 = 1;

/// Shortest and longest wait between two connection attempts (full jitter in between).
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How long the control plane has to answer `hello`.
const WELCOME_WITHIN: Duration = Duration::from_secs(10);

/// How the node connects.
#[derive(Clone)]
pub struct ConnectConfig {
    /// The control plane's base URL (`http://host:9090`) or its WebSocket URL
    /// (`ws://host:9090/ws/data-plane`).
    pub url: String,
    /// The project the key belongs to, if the operator named it (checked by the control
    /// plane, which refuses a key of another project).
    pub project_id: Option<String>,
    /// The API key (`bbk_...`). Never logged.
    pub api_key: String,
    /// This node's name in the project.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// How deployed artifacts are checked (the same rules as `--artifact`).
    pub load: LoadOptions,
    /// For `https://` / `wss://`: trust only this CA (PEM) instead of the system's roots.
    pub ca: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for ConnectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectConfig")
            .field("url", &self.url)
            .field("project_id", &self.project_id)
            .field("api_key", &"<redacted>")
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("ca", &self.ca)
            .finish()
    }
}

/// The connection's state, for `/_admin/provenance`.
#[derive(Debug, Clone, Serialize)]
pub struct ControlPlaneStatus {
    /// The WebSocket URL.
    pub url: String,
    /// `connecting`, `connected` or `disconnected`.
    pub state: &'static str,
    /// When the node last completed a `hello` (RFC 3339 UTC).
    pub last_connected_at: Option<String>,
    /// The id the control plane gave this node.
    pub data_plane_id: Option<String>,
    /// Why the last attempt or connection ended.
    pub last_error: Option<String>,
}

/// Shared, updated by the connection task.
#[derive(Debug)]
pub struct Status(Mutex<ControlPlaneStatus>);

impl Status {
    /// The state now.
    pub fn get(&self) -> ControlPlaneStatus {
        self.0
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn update(&self, f: impl FnOnce(&mut ControlPlaneStatus)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }
}

/// The WebSocket URL for `url`: `http(s)://base` becomes `ws(s)://base/ws/data-plane`; a
/// `ws(s)://` URL is used as given.
pub fn websocket_url(url: &str) -> Result<String, String> {
    let url = url.trim_end_matches('/');
    if url.starts_with("ws://") || url.starts_with("wss://") {
        return Ok(url.to_owned());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        return Ok(format!("ws://{rest}/ws/data-plane"));
    }
    if let Some(rest) = url.strip_prefix("https://") {
        return Ok(format!("wss://{rest}/ws/data-plane"));
    }
    Err(format!(
        "`{url}` is not an http(s):// or ws(s):// URL of the control plane"
    ))
}

/// Anything a WebSocket can run over (a TCP stream, or TLS over one).
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// TCP, then TLS for `wss://` (rustls, ring; the control plane's certificate must name the
/// host of the URL and chain to `ca` or, without it, to a system root).
async fn transport(
    tls: bool,
    host: &str,
    port: u16,
    ca: Option<&std::path::Path>,
) -> Result<Box<dyn Io>, String> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot reach {host}:{port}: {e}"))?;
    let _ = stream.set_nodelay(true);
    if !tls {
        return Ok(Box::new(stream));
    }
    let roots = crate::dispatch::upstream::roots(ca)?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup failed: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("`{host}` is not a valid TLS server name: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS with the control plane failed: {e}"))?;
    Ok(Box::new(tls))
}

/// Starts the connection task on the current runtime; returns its status handle. Deployed
/// artifacts are recorded in `applied`.
pub fn spawn(
    config: ConnectConfig,
    gateway: Arc<Gateway>,
    applied: Arc<AppliedArtifact>,
) -> Result<Arc<Status>, String> {
    let url = websocket_url(&config.url)?;
    let status = Arc::new(Status(Mutex::new(ControlPlaneStatus {
        url: url.clone(),
        state: "connecting",
        last_connected_at: None,
        data_plane_id: None,
        last_error: None,
    })));
    let task_status = Arc::clone(&status);
    tokio::spawn(async move {
        let mut failures: u32 = 0;
        loop {
            task_status.update(|s| s.state = "connecting");
            let mut welcomed = false;
            let link = Link {
                url: &url,
                config: &config,
                gateway: &gateway,
                applied: &applied,
            };
            let reason = match session(&link, &task_status, &mut welcomed).await {
                Ok(()) => "connection closed".to_owned(),
                Err(e) => e,
            };
            task_status.update(|s| {
                s.state = "disconnected";
                s.last_error = Some(reason.clone());
            });
            // A connection that was welcomed starts the backoff over.
            failures = if welcomed {
                0
            } else {
                failures.saturating_add(1)
            };
            let wait = backoff(failures);
            tracing::warn!(%url, error = %reason, retry_in = ?wait, "control plane connection ended; serving on, reconnecting");
            tokio::time::sleep(wait).await;
        }
    });
    Ok(status)
}

/// Full jitter: a uniformly random wait between 0 and min(60 s, 1 s x 2^failures), at least
/// [`BACKOFF_MIN`] / 2 so a flapping control plane is not hammered.
fn backoff(failures: u32) -> Duration {
    let cap = BACKOFF_MIN
        .saturating_mul(1u32 << failures.min(6))
        .min(BACKOFF_MAX);
    cap.mul_f64(jitter()).max(BACKOFF_MIN / 2)
}

/// A fraction in [0, 1] that differs between nodes and attempts. The clock's nanoseconds,
/// scrambled, are enough to spread reconnections; there is no cryptographic need here.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos.wrapping_mul(2_654_435_761)) / f64::from(u32::MAX)
}

/// What a connection works with.
struct Link<'a> {
    url: &'a str,
    config: &'a ConnectConfig,
    gateway: &'a Arc<Gateway>,
    applied: &'a AppliedArtifact,
}

/// One connection: handshake, `hello`, `welcome`, heartbeats until it ends.
async fn session(link: &Link<'_>, status: &Status, welcomed: &mut bool) -> Result<(), String> {
    let Link {
        url,
        config,
        gateway,
        ..
    } = *link;
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad control plane URL: {e}"))?;
    let bearer = format!("Bearer {}", config.api_key)
        .parse()
        .map_err(|_| "the API key is not a valid header value".to_owned())?;
    request.headers_mut().insert("authorization", bearer);
    let tls = request.uri().scheme_str() == Some("wss");
    let host = request
        .uri()
        .host()
        .ok_or("the control plane URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = request
        .uri()
        .port_u16()
        .unwrap_or(if tls { 443 } else { 80 });
    let stream = transport(tls, &host, port, config.ca.as_deref()).await?;
    let (mut ws, _) = client_async(request, stream).await.map_err(|e| match e {
        tungstenite::Error::Http(r) if r.status() == 401 => {
            "the control plane refused the API key (401: unknown, revoked or expired)".to_owned()
        }
        tungstenite::Error::Http(r) if r.status() == 403 => {
            "the API key lacks the data-plane:connect scope (403)".to_owned()
        }
        tungstenite::Error::Http(r) => format!("the control plane answered {}", r.status()),
        other => format!("WebSocket handshake failed: {other}"),
    })?;
    send(&mut ws, &hello(config, gateway)).await?;
    let welcome = match tokio::time::timeout(WELCOME_WITHIN, next(&mut ws)).await {
        Err(_) => return Err("no welcome from the control plane".into()),
        Ok(message) => message?,
    };
    if welcome.get("type").and_then(Value::as_str) != Some("welcome") {
        return Err(format!("expected welcome, got {welcome}"));
    }
    let id = welcome
        .get("data_plane_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let every = welcome
        .get("heartbeat_seconds")
        .and_then(Value::as_u64)
        .map_or(Duration::from_secs(30), |s| Duration::from_secs(s.max(1)));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    *welcomed = true;
    status.update(|s| {
        s.state = "connected";
        s.data_plane_id = Some(id.clone());
        s.last_connected_at = Some(barbacane_artifact::rfc3339(now));
        s.last_error = None;
    });
    tracing::info!(data_plane = %id, %url, "connected to the control plane");
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    // A deployment being applied runs next to the heartbeats (a large download must not
    // make the node look dead); one at a time, and a newer one waiting replaces an older.
    let mut applying: Option<
        std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send + '_>>,
    > = None;
    let mut queued: Option<Value> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let snapshot = gateway.snapshot();
                let loaded = !snapshot.is_placeholder();
                let hash = loaded.then(|| snapshot.header().artifact_hash.clone());
                let content = loaded.then(|| snapshot.content_hash().to_owned());
                send(&mut ws, &json!({"type": "heartbeat", "artifact_hash": hash, "content_hash": content})).await?;
            }
            result = async {
                match applying.as_mut() {
                    Some(running) => running.await,
                    None => std::future::pending().await,
                }
            }, if applying.is_some() => {
                applying = queued.take().map(|next| start_deploy(link, next));
                send(&mut ws, &result).await?;
            }
            message = next(&mut ws) => {
                let message = message?;
                if message.get("type").and_then(Value::as_str) == Some("deploy") {
                    if applying.is_some() {
                        queued = Some(message);
                    } else {
                        applying = Some(start_deploy(link, message));
                    }
                } else {
                    // Unknown types are ignored (a newer control plane may send more).
                    tracing::debug!(kind = ?message.get("type"), "control plane message ignored");
                }
            }
        }
    }
}

/// The future applying one `deploy` message.
fn start_deploy<'a>(
    link: &'a Link<'a>,
    message: Value,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send + 'a>> {
    Box::pin(async move { deploy(link, &message).await })
}

/// Applies a `deploy` message; returns the `deployment_result` to send.
async fn deploy(link: &Link<'_>, message: &Value) -> Value {
    let deployment_id = message.get("deployment_id").cloned().unwrap_or(Value::Null);
    let announced = message
        .get("artifact_hash")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let outcome = apply(link, message, &announced).await;
    let snapshot = link.gateway.snapshot();
    let loaded = !snapshot.is_placeholder();
    let serving = loaded
        .then(|| snapshot.header().artifact_hash.clone())
        .map_or(Value::Null, Value::String);
    let content = loaded
        .then(|| snapshot.content_hash().to_owned())
        .map_or(Value::Null, Value::String);
    match outcome {
        Ok(()) => {
            tracing::info!(event = "artifact_loaded", deployment = %deployment_id, artifact_hash = %serving, "deployment applied");
            json!({"type": "deployment_result", "deployment_id": deployment_id,
                   "outcome": "applied", "artifact_hash": serving, "content_hash": content})
        }
        Err(reason) => {
            tracing::warn!(deployment = %deployment_id, %reason, "deployment rejected; serving on with the current artifact");
            json!({"type": "deployment_result", "deployment_id": deployment_id,
                   "outcome": "rejected", "artifact_hash": serving, "content_hash": content,
                   "reason": reason})
        }
    }
}

async fn apply(link: &Link<'_>, message: &Value, announced: &str) -> Result<(), String> {
    if link.gateway.snapshot().header().artifact_hash == announced {
        // Already running: nothing to download.
        return Ok(());
    }
    let path = message
        .get("download")
        .and_then(Value::as_str)
        .filter(|p| p.starts_with('/'))
        .ok_or("the deploy message has no download path")?;
    let bytes = download(link, path).await?;
    let options = link.config.load.clone();
    let verify_bytes = Arc::clone(&bytes);
    let snapshot =
        tokio::task::spawn_blocking(move || Snapshot::from_bytes_with(&verify_bytes, &options))
            .await
            .map_err(|e| format!("verification task failed: {e}"))?
            .map_err(|e| e.to_string())?;
    let got = snapshot.header().artifact_hash.clone();
    if got != announced {
        return Err(format!(
            "the downloaded artifact is {got}, not the announced {announced}"
        ));
    }
    link.gateway.swap(snapshot);
    link.applied.set(bytes);
    Ok(())
}

/// `GET` of `path` on the control plane with the node's key.
async fn download(link: &Link<'_>, path: &str) -> Result<Arc<[u8]>, String> {
    use http_body_util::BodyExt;
    let base = link.url.strip_suffix("/ws/data-plane").unwrap_or(link.url);
    let base = match base.strip_prefix("wss://") {
        Some(rest) => format!("https://{rest}"),
        None => base.replacen("ws://", "http://", 1),
    };
    let request = http::Request::get(format!("{base}{path}"))
        .header("authorization", format!("Bearer {}", link.config.api_key))
        .body(crate::body::empty_outgoing())
        .map_err(|e| format!("bad download request: {e}"))?;
    let client = client_for(
        &TlsSettings {
            ca: link.config.ca.clone(),
            ..TlsSettings::default()
        },
        false,
    )?;
    let response = client.request(request).await.map_err(|e| {
        format!(
            "download failed: {}",
            crate::dispatch::upstream::error_chain(&e)
        )
    })?;
    if !response.status().is_success() {
        return Err(format!(
            "download failed: the control plane answered {}",
            response.status()
        ));
    }
    let body = http_body_util::Limited::new(response.into_body(), MAX_ARTIFACT_BYTES)
        .collect()
        .await
        .map_err(|e| format!("download failed: {e}"))?;
    Ok(body.to_bytes().to_vec().into())
}

fn hello(config: &ConnectConfig, gateway: &Gateway) -> Value {
    let snapshot = gateway.snapshot();
    let header = snapshot.header();
    json!({
        "type": "hello",
        "protocol": PROTOCOL,
        "project_id": config.project_id,
        "name": config.name,
        "labels": config.labels,
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": crate::admin::hostname(),
        "artifact_hash": (!snapshot.is_placeholder()).then(|| header.artifact_hash.clone()),
        "content_hash": (!snapshot.is_placeholder()).then(|| snapshot.content_hash().to_owned()),
        "provenance": if snapshot.is_placeholder() { Value::Null } else { json!({
            "artifact_hash": header.artifact_hash,
            "content_hash": snapshot.content_hash(),
            "build_timestamp": header.build_timestamp,
            "compiler_version": header.compiler_version,
            "provenance_commit": header.provenance_commit,
            "provenance_source": header.provenance_source,
            "signature": snapshot.signature().as_str(),
        })},
    })
}

async fn send(ws: &mut Socket, message: &Value) -> Result<(), String> {
    ws.send(Message::Text(message.to_string().into()))
        .await
        .map_err(|e| format!("sending to the control plane failed: {e}"))
}

/// The next JSON message; an error when the connection ends.
async fn next(ws: &mut Socket) -> Result<Value, String> {
    loop {
        match ws.next().await {
            None => return Err("the control plane closed the connection".into()),
            Some(Err(e)) => return Err(format!("connection to the control plane failed: {e}")),
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame {
                    Some(f) => format!(
                        "the control plane closed the connection ({}: {})",
                        u16::from(f.code),
                        f.reason
                    ),
                    None => "the control plane closed the connection".into(),
                });
            }
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text)
                    .map_err(|e| format!("the control plane sent malformed JSON: {e}"));
            }
            Some(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            websocket_url("http://cp:9090/").unwrap(),
            "ws://cp:9090/ws/data-plane"
        );
        assert_eq!(
            websocket_url("ws://cp:9090/ws/data-plane").unwrap(),
            "ws://cp:9090/ws/data-plane"
        );
        assert_eq!(
            websocket_url("https://cp:9443").unwrap(),
            "wss://cp:9443/ws/data-plane"
        );
        assert!(websocket_url("cp:9090").is_err());
    }

    #[test]
    fn backoff_stays_within_bounds() {
        for failures in 0..20 {
            let wait = backoff(failures);
            assert!(
                wait >= BACKOFF_MIN / 2 && wait <= BACKOFF_MAX,
                "{failures}: {wait:?}"
            );
        }
    }

    #[test]
    fn the_key_is_never_in_debug_output() {
        let config = ConnectConfig {
            url: "http://cp".into(),
            project_id: None,
            api_key: "bbk_secret".into(),
            name: "n".into(),
            labels: BTreeMap::new(),
            load: LoadOptions::default(),
            ca: None,
        };
        assert!(!format!("{config:?}").contains("bbk_secret"));
    }
}
