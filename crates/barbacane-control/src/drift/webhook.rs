//! Delivers queued webhook events (the outbox the drift pass and remediations write to).
//! Each delivery is a `POST` of the JSON payload, signed with the webhook's secret:
//! `X-Barbacane-Timestamp: <unix seconds>` and `X-Barbacane-Signature: sha256=<hex
//! HMAC-SHA256(secret, timestamp + "." + body)>`. A non-2xx answer, a timeout or a refused
//! connection is retried with exponential backoff (1 s, 2 s, 4 s, ... at most
//! [`MAX_ATTEMPTS`] attempts), each attempt logged. This runs apart from observation: a
//! dead receiver never slows the drift engine.

use bytes::Bytes;
use chrono::Utc;
use hmac::{KeyInit, Mac};
use http::{HeaderValue, Request, header};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::metrics::{DeliveryResult, Metrics};
use crate::db::webhooks::{self, Due, Outcome};
use crate::secret_ref::SecretRef;

/// Attempts before a delivery is marked `failed`.
pub const MAX_ATTEMPTS: i32 = 8;
/// Timeout of one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries taken per round.
const BATCH: i64 = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
type Https = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// `sha256=<hex>` over `timestamp.body`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The wait before attempt `attempt + 1`, after `attempt` failed ones.
pub fn backoff(attempt: i32) -> Duration {
    Duration::from_secs(1u64 << attempt.clamp(1, 10).saturating_sub(1))
}

/// Sends due deliveries every second until `stop`.
pub async fn run(pool: PgPool, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let http = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks cannot be delivered");
            return;
        }
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(e) = round(&pool, &http, &metrics).await {
                    tracing::warn!(error = %e, "webhook round failed; retrying");
                }
            }
            () = super::stopped(&mut stop) => return,
        }
    }
}

fn client() -> Result<Https, String> {
    let tls = crate::tls::client_config(None)?;
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    connector.set_connect_timeout(Some(ATTEMPT_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Takes the due deliveries and attempts each once, concurrently.
async fn round(pool: &PgPool, http: &Https, metrics: &Arc<Metrics>) -> Result<(), sqlx::Error> {
    let lease = ATTEMPT_TIMEOUT.as_secs() as i64 * 3;
    let due = webhooks::claim_due(pool, BATCH, lease).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for d in due {
        let (pool, http, metrics) = (pool.clone(), http.clone(), metrics.clone());
        tasks.spawn(async move { attempt(&pool, &http, &metrics, d).await });
    }
    // Every attempt is recorded before the round ends (returning early would cancel attempts
    // that may already have been sent, and they would be sent again).
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn attempt(
    pool: &PgPool,
    http: &Https,
    metrics: &Metrics,
    d: Due,
) -> Result<(), sqlx::Error> {
    let number = d.attempts + 1;
    let started = Instant::now();
    let (status, error) = match send(http, &d).await {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (Some(status), Some(format!("answered HTTP {status}"))),
        Err(e) => (None, Some(e)),
    };
    let outcome = match (&error, number >= MAX_ATTEMPTS) {
        (None, _) => Outcome::Delivered,
        (Some(_), false) => Outcome::Retry(
            Utc::now() + chrono::Duration::from_std(backoff(number)).unwrap_or_default(),
        ),
        (Some(_), true) => Outcome::Failed,
    };
    metrics.delivery(match outcome {
        Outcome::Delivered => DeliveryResult::Delivered,
        Outcome::Retry(_) => DeliveryResult::Retried,
        Outcome::Failed => DeliveryResult::Failed,
    });
    if let Some(e) = &error {
        tracing::warn!(delivery = %d.id, event = %d.event, attempt = number, error = %e,
            "webhook delivery failed");
    }
    let ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    webhooks::record_attempt(pool, d.id, number, status, error.as_deref(), ms, outcome).await
}

/// One POST; the status, or why there is none.
async fn send(http: &Https, d: &Due) -> Result<u16, String> {
    let secret = SecretRef::parse(&d.secret_ref)
        .and_then(|r| r.resolve())
        .map_err(|e| format!("secret: {e}"))?;
    let body = serde_json::to_vec(&d.payload).map_err(|e| e.to_string())?;
    let timestamp = Utc::now().timestamp();
    let header_value = |v: String| HeaderValue::from_str(&v).map_err(|e| e.to_string());
    let request = Request::post(&d.url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("barbacane-control/", env!("CARGO_PKG_VERSION")),
        )
        .header("x-barbacane-event", header_value(d.event.clone())?)
        .header("x-barbacane-delivery", header_value(d.id.to_string())?)
        .header(
            "x-barbacane-timestamp",
            header_value(timestamp.to_string())?,
        )
        .header(
            "x-barbacane-signature",
            header_value(signature(secret.as_bytes(), timestamp, &body))?,
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad URL: {e}"))?;
    match tokio::time::timeout(ATTEMPT_TIMEOUT, http.request(request)).await {
        Ok(Ok(response)) => Ok(response.status().as_u16()),
        Ok(Err(e)) => {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            Err(reason)
        }
        Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // Reference computed independently (Python's hmac module over b"1.x").
        let sig = signature(b"key", 1, b"x");
        assert_eq!(
            sig,
            "sha256=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec"
        );
        assert_ne!(sig, signature(b"key", 2, b"x"));
        assert_ne!(sig, signature(b"other", 1, b"x"));
    }

    #[test]
    fn backoff_doubles_from_one_second() {
        let waits: Vec<u64> = (1..=5).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16]);
        assert_eq!(backoff(40), backoff(11));
    }
}
