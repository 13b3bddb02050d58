//! *Observe* standalone nodes: every interval, `GET /_admin/provenance` on each registered
//! node's admin listener, with its token resolved from its reference at that moment, a
//! timeout, bounded concurrency and jitter. What comes back is untrusted (seed 004): at most
//! 64 KiB, JSON, valid against `docs/provenance.schema.json`, and of this project; anything
//! else is an observation error (`invalid`, health `Degraded`) described in our own words,
//! never by echoing the payload. Read-only: nothing here changes a node.

use bytes::Bytes;
use http::{HeaderValue, Request, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::db::data_planes::{self, Polled, Standalone};
use crate::secret_ref::SecretRef;

/// Largest provenance document accepted from a node.
pub const MAX_PROVENANCE_BYTES: usize = 64 * 1024;
/// Polls in flight at once.
pub const CONCURRENCY: usize = 64;

type Https = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The poller: one HTTP client (connections kept alive between intervals) and the compiled
/// provenance schema.
#[derive(Clone)]
pub struct Poller {
    http: Https,
    schema: Arc<jsonschema::Validator>,
    timeout: Duration,
    jitter: Duration,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller for nodes polled every `interval`: each poll times out after at most 5 s
    /// (half the interval when shorter) and starts after a random delay of up to a tenth of
    /// the interval (at most 1 s), so that a fleet is not hit in one burst.
    pub fn new(interval: Duration) -> Result<Poller, String> {
        let schema: Value =
            serde_json::from_str(include_str!("../../../../docs/provenance.schema.json"))
                .map_err(|e| format!("provenance schema: {e}"))?;
        let schema =
            jsonschema::validator_for(&schema).map_err(|e| format!("provenance schema: {e}"))?;
        let tls = crate::tls::client_config(None)?;
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(interval.min(Duration::from_secs(5))));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(interval.saturating_mul(3))
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(Poller {
            http,
            schema: Arc::new(schema),
            timeout: (interval / 2).min(Duration::from_secs(5)),
            jitter: (interval / 10).min(Duration::from_secs(1)),
        })
    }

    /// Polls every standalone node once and stores what each answered; returns how many.
    pub async fn poll_all(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let nodes = data_planes::standalone(pool).await?;
        let count = nodes.len();
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for node in nodes {
            let (poller, pool, limit) = (self.clone(), pool.clone(), limit.clone());
            tasks.spawn(async move {
                tokio::time::sleep(jitter(poller.jitter)).await;
                let Ok(_permit) = limit.acquire().await else {
                    return Ok(());
                };
                let polled = poller.poll(&pool, &node).await;
                data_planes::polled(&pool, node.id, &polled).await
            });
        }
        // One node whose result cannot be stored must not stop the others (nor the pass):
        // it is logged, and its previous observation stands until the next interval.
        let mut failed = 0usize;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failed += 1;
                    tracing::warn!(error = %e, "cannot store a standalone node's observation");
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "a poll task failed");
                }
            }
        }
        if failed == count && count > 0 {
            // Nothing could be stored: the database is likely down; the pass would fail too.
            return Err(sqlx::Error::PoolTimedOut);
        }
        Ok(count)
    }

    /// One node.
    pub async fn poll(&self, pool: &PgPool, node: &Standalone) -> Polled {
        let invalid = |error: String| Polled {
            observation: "invalid",
            error: Some(error),
            provenance: None,
            artifact_hash: None,
            content_hash: None,
        };
        let token = match SecretRef::parse(&node.admin_token_ref).and_then(|r| r.resolve()) {
            Ok(t) => t,
            Err(e) => return invalid(format!("admin token: {e}")),
        };
        let url = format!("{}/_admin/provenance", node.admin_url.trim_end_matches('/'));
        let Ok(auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return invalid("admin token: not a valid header value".into());
        };
        let request = match Request::get(&url)
            .header(header::AUTHORIZATION, auth)
            .header(header::ACCEPT, "application/json")
            .body(Empty::new())
        {
            Ok(r) => r,
            Err(_) => return invalid("admin_url is not a valid URL".into()),
        };
        let fetched = tokio::time::timeout(self.timeout, async {
            let response = self.http.request(request).await.map_err(|e| {
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason = s.to_string();
                    source = s.source();
                }
                Fetch::Unreachable(reason)
            })?;
            let status = response.status();
            let json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let body = Limited::new(response.into_body(), MAX_PROVENANCE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Fetch::Invalid(format!("answer larger than {MAX_PROVENANCE_BYTES} bytes"))
                    } else {
                        Fetch::Unreachable("connection lost while reading the answer".into())
                    }
                })?
                .to_bytes();
            if !status.is_success() {
                return Err(Fetch::Invalid(format!("answered HTTP {}", status.as_u16())));
            }
            if !json {
                return Err(Fetch::Invalid("answer is not application/json".into()));
            }
            Ok(body)
        })
        .await;
        let body = match fetched {
            Ok(Ok(body)) => body,
            Ok(Err(Fetch::Invalid(e))) => return invalid(e),
            Ok(Err(Fetch::Unreachable(e))) => return unreachable(e),
            Err(_) => return unreachable(format!("no answer within {:?}", self.timeout)),
        };
        let Ok(document) = serde_json::from_slice::<Value>(&body) else {
            return invalid("answer is not valid JSON".into());
        };
        // Postgres cannot store NUL in text or JSON: such an answer is unusable, not a reason
        // for the store (and the pass) to fail. JSON only carries NUL escaped.
        if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
            return invalid("answer contains a NUL character".into());
        }
        if let Some(error) = self.schema.iter_errors(&document).next() {
            // The location only: the message could quote the untrusted value.
            return invalid(format!(
                "answer does not match the provenance schema at `{}`",
                error.instance_path()
            ));
        }
        if let Some(other) = document
            .pointer("/control_plane/data_plane_id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
        {
            match data_planes::project_of(pool, other).await {
                Ok(Some(project)) if project != node.project_id => {
                    return invalid("the node reports a connection to another project".into());
                }
                _ => {}
            }
        }
        let text = |p: &str| {
            document
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Polled {
            observation: "serving",
            error: None,
            artifact_hash: text("/artifact_hash"),
            content_hash: text("/content_hash"),
            provenance: Some(document),
        }
    }
}

enum Fetch {
    Unreachable(String),
    Invalid(String),
}

fn unreachable(error: String) -> Polled {
    Polled {
        observation: "unreachable",
        error: Some(error),
        provenance: None,
        artifact_hash: None,
        content_hash: None,
    }
}

/// A random delay in `[0, max)`.
fn jitter(max: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    if max.is_zero() || getrandom::fill(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    max.mul_f64(f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0))
}
