//! The admin listener: a separate socket from traffic, locked down per `barbacane-posture`.
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `GET /_admin/health` | none | `{"status":"ok"}` |
//! | `GET /_admin/provenance` | token + allowlist | the loaded artifact's provenance |
//! | `POST /_admin/reload` | token + allowlist | reload the artifact (and re-read tokens) |

use arc_swap::ArcSwap;
use barbacane_artifact::{Input, rfc3339};
use barbacane_posture::{Allowlist, BindRefused, Decision, Posture, TokenSource, check_bind};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::net::TcpListener;

use crate::reload::{ReloadFailure, Reloader};
use crate::{Body, SERVER};

/// Admin listener settings.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Where to listen (default `127.0.0.1:8081`).
    pub listen: SocketAddr,
    /// Environment variables holding the tokens.
    pub tokens: TokenSource,
    /// Allowed peers.
    pub allowlist: Allowlist,
}

/// The admin surface's state.
#[derive(Debug)]
pub struct Admin {
    config: AdminConfig,
    posture: ArcSwap<Posture>,
    reloader: Arc<Reloader>,
    instance_id: String,
    hostname: String,
    control_plane: std::sync::OnceLock<Arc<crate::connected::Status>>,
}

impl Admin {
    /// Reads the tokens and applies the bind rule: a non-loopback address without a token is
    /// refused.
    pub fn new(config: AdminConfig, reloader: Arc<Reloader>) -> Result<Arc<Admin>, BindRefused> {
        let tokens = config.tokens.load();
        check_bind(config.listen, &tokens, &config.tokens.primary_env)?;
        let posture = Posture {
            tokens,
            allowlist: config.allowlist.clone(),
        };
        Ok(Arc::new(Admin {
            posture: ArcSwap::from_pointee(posture),
            reloader,
            instance_id: uuid::Uuid::new_v4().to_string(),
            hostname: hostname(),
            control_plane: std::sync::OnceLock::new(),
            config,
        }))
    }

    /// Re-reads the token variables (rotation without restart). If the new set is empty on a
    /// non-loopback bind, the old tokens are kept: an unset variable must not open the door.
    pub fn reload_tokens(&self) {
        let tokens = self.config.tokens.load();
        if check_bind(self.config.listen, &tokens, &self.config.tokens.primary_env).is_err() {
            tracing::error!(
                "token variables are empty on a non-loopback admin listener; keeping the previous tokens"
            );
            return;
        }
        tracing::info!(tokens = tokens.len(), "admin tokens re-read");
        self.posture.store(Arc::new(Posture {
            tokens,
            allowlist: self.config.allowlist.clone(),
        }));
    }

    /// Reloads the artifact and re-reads the tokens (SIGHUP and `POST /_admin/reload`).
    pub async fn reload(&self) -> Result<crate::reload::ReloadOutcome, String> {
        self.reload_tokens();
        self.reloader.reload().await
    }

    /// Shows the connected-mode connection in `/_admin/provenance` (`control_plane`).
    pub fn set_control_plane(&self, status: Arc<crate::connected::Status>) {
        let _ = self.control_plane.set(status);
    }

    /// The provenance document served at `/_admin/provenance`.
    pub fn provenance(&self) -> Provenance {
        let snapshot = self.reloader.gateway().snapshot();
        let header = snapshot.header();
        let loaded = snapshot
            .loaded_at()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Provenance {
            format_version: header.format_version,
            artifact_hash: header.artifact_hash.clone(),
            content_hash: snapshot.content_hash().to_owned(),
            build_timestamp: header.build_timestamp.clone(),
            compiler_version: header.compiler_version.clone(),
            inputs: header.inputs.clone(),
            provenance_commit: header.provenance_commit.clone(),
            provenance_source: header.provenance_source.clone(),
            metadata: header.metadata.clone(),
            loaded_at: rfc3339(loaded.as_secs()),
            signature: SignatureReport {
                status: snapshot.signature().as_str(),
                key_id: snapshot.signature().key_id().map(str::to_owned),
            },
            data_plane: DataPlane {
                version: env!("CARGO_PKG_VERSION"),
                instance_id: self.instance_id.clone(),
                hostname: self.hostname.clone(),
            },
            last_reload_error: self.reloader.last_error(),
            control_plane: self.control_plane.get().map(|s| s.get()),
        }
    }

    /// Binds the admin listener.
    pub async fn bind(self: &Arc<Self>) -> std::io::Result<AdminListening> {
        let listener = TcpListener::bind(self.config.listen).await?;
        Ok(AdminListening {
            addr: listener.local_addr()?,
            listener,
            admin: Arc::clone(self),
        })
    }

    async fn handle(
        &self,
        peer: IpAddr,
        request: Request<hyper::body::Incoming>,
    ) -> Response<Body> {
        let path = request.uri().path();
        if path == "/_admin/health" {
            return if request.method() == Method::GET || request.method() == Method::HEAD {
                json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
            } else {
                problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Use GET.",
                )
            };
        }
        let known = matches!(
            path,
            "/_admin/provenance" | "/_admin/reload" | "/_admin/metrics"
        );
        if !known {
            return problem(
                StatusCode::NOT_FOUND,
                "route-not-found",
                "No admin endpoint at this path.",
            );
        }
        let authorization = request
            .headers()
            .get(AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match self.posture.load().authorize(peer, authorization) {
            Decision::Allow => {}
            Decision::Forbidden => {
                tracing::warn!(%peer, path, "admin request refused: peer address not in the allowlist");
                return problem(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "This address may not use the admin API.",
                );
            }
            Decision::Unauthorized => {
                tracing::warn!(%peer, path, presented = authorization.is_some(), "admin request refused: missing or invalid bearer token");
                let mut r = problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "A valid bearer token is required.",
                );
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"barbacane-admin\""),
                );
                return r;
            }
        }
        match (path, request.method()) {
            ("/_admin/metrics", &Method::GET) => {
                let text = self.reloader.gateway().render_metrics();
                let accept = request
                    .headers()
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                let (text, kind) = if crate::metrics::wants_openmetrics(accept) {
                    (
                        crate::metrics::to_openmetrics(&text),
                        crate::metrics::OPENMETRICS_TEXT,
                    )
                } else {
                    (text, crate::metrics::PROMETHEUS_TEXT)
                };
                let mut response = Response::new(Body::new(Bytes::from(text)));
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(kind));
                response
            }
            ("/_admin/provenance", &Method::GET)
                if self.reloader.gateway().snapshot().is_placeholder() =>
            {
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no-artifact",
                    "No artifact is loaded yet: this node waits for a deployment from its control plane.",
                )
            }
            ("/_admin/provenance", &Method::GET) => json(StatusCode::OK, &self.provenance()),
            ("/_admin/reload", &Method::POST) => match self.reload().await {
                Ok(outcome) => json(StatusCode::OK, &outcome),
                Err(error) => {
                    // Authenticated operators get the reason; the old artifact keeps serving.
                    let mut r =
                        problem(StatusCode::UNPROCESSABLE_ENTITY, "reload-rejected", &error);
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
            },
            _ => {
                let allow = if path == "/_admin/reload" {
                    "POST"
                } else {
                    "GET"
                };
                let mut r = problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Wrong method.",
                );
                r.headers_mut()
                    .insert(http::header::ALLOW, HeaderValue::from_static(allow));
                r
            }
        }
    }
}

/// The provenance document (schema in `docs/provenance.schema.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// Artifact format version.
    pub format_version: u32,
    /// The input fingerprint.
    pub artifact_hash: String,
    /// The hash of the loaded members (recomputed at load).
    pub content_hash: String,
    /// Build time.
    pub build_timestamp: String,
    /// Compiler version.
    pub compiler_version: String,
    /// Inputs.
    pub inputs: Vec<Input>,
    /// `--provenance-commit`.
    pub provenance_commit: Option<String>,
    /// `--provenance-source`.
    pub provenance_source: Option<String>,
    /// `--provenance` pairs.
    pub metadata: BTreeMap<String, String>,
    /// When this artifact became live.
    pub loaded_at: String,
    /// Signature verification.
    pub signature: SignatureReport,
    /// This process.
    pub data_plane: DataPlane,
    /// The last failed reload, if the latest attempt failed.
    pub last_reload_error: Option<ReloadFailure>,
    /// Connected mode: the control plane connection (absent in standalone mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<crate::connected::ControlPlaneStatus>,
}

/// Signature part of the provenance document.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// `verified`, `unsigned` or `invalid`.
    pub status: &'static str,
    /// Key id, when signed.
    pub key_id: Option<String>,
}

/// Identity of the data plane process.
#[derive(Debug, Clone, Serialize)]
pub struct DataPlane {
    /// Barbacane version.
    pub version: &'static str,
    /// Random id of this process, new at every start.
    pub instance_id: String,
    /// Host name.
    pub hostname: String,
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Body::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn problem(status: StatusCode, name: &str, detail: &str) -> Response<Body> {
    let body = serde_json::json!({
        "type": format!("urn:barbacane:error:{name}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = json(status, &body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// A bound admin listener.
#[derive(Debug)]
pub struct AdminListening {
    addr: SocketAddr,
    listener: TcpListener,
    admin: Arc<Admin>,
}

impl AdminListening {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes (HTTP/1.1; admin traffic is light).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let AdminListening {
            listener, admin, ..
        } = self;
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let Some((stream, peer)) =
                crate::worker::next_connection(&listener, shutdown.as_mut()).await
            else {
                break;
            };
            let admin = Arc::clone(&admin);
            let service = service_fn(move |req| {
                let admin = Arc::clone(&admin);
                async move {
                    let mut response = admin.handle(peer.ip(), req).await;
                    response
                        .headers_mut()
                        .insert(http::header::SERVER, HeaderValue::from_static(SERVER));
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    }
}
