//! `/webhooks`: where drift and remediation events are delivered, signed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{JsonBody, parse_id};
use crate::db::webhooks::{self, Delivery, Webhook};
use crate::error::ApiError;
use crate::secret_ref::SecretRef;
use crate::state::AppState;

/// The events a webhook may subscribe to.
pub const EVENTS: [&str; 5] = [
    "drift_detected",
    "drift_resolved",
    "remediation_proposed",
    "remediation_approved",
    "remediation_rejected",
];

/// `POST /webhooks` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `http(s)://...`.
    pub url: String,
    /// `env://VAR` or `file:///path`: the HMAC key, resolved at each delivery.
    pub secret: String,
    /// Event names; `remediation_*` stands for the three remediation events.
    pub events: Vec<String>,
    /// Only this project's events (default: all projects).
    pub project_id: Option<String>,
}

/// The document's rule for a webhook URL (`openapi.yaml`, `NewWebhook.url`): `http(s)://`, a
/// host of ASCII letters, digits, `.` and `-`, an optional port of 1 to 5 digits, then
/// nothing or a path and query of RFC 3986 characters (unreserved, sub-delimiters, `:`, `@`,
/// `%`, `/`, `?`; no fragment). Every such URL parses as a request URI, so what is stored is
/// what the document promises and what a delivery can send to.
pub(crate) fn plain_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && tail
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@%/?-".contains(&b))
}

/// `POST /webhooks` → 201.
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let uri: axum::http::Uri = body
        .url
        .parse()
        .map_err(|_| ApiError::InvalidRequest(format!("`url` `{}` is not a URL", body.url)))?;
    if !matches!(uri.scheme_str(), Some("http" | "https"))
        || uri.host().is_none()
        || !plain_http_url(&body.url)
    {
        return Err(ApiError::InvalidRequest(
            "`url` must be an absolute http(s) URL".into(),
        ));
    }
    let secret = SecretRef::parse(&body.secret)
        .map_err(|e| ApiError::InvalidRequest(format!("`secret`: {e}")))?;
    let mut events = Vec::new();
    for e in &body.events {
        match e.as_str() {
            "remediation_*" => events.extend(
                EVENTS
                    .iter()
                    .filter(|n| n.starts_with("remediation_"))
                    .map(|n| (*n).to_owned()),
            ),
            name if EVENTS.contains(&name) => events.push(name.to_owned()),
            other => {
                return Err(ApiError::InvalidRequest(format!(
                    "unknown event `{other}`; known: {}, remediation_*",
                    EVENTS.join(", ")
                )));
            }
        }
    }
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(ApiError::InvalidRequest(
            "`events` must name at least one event".into(),
        ));
    }
    let project_id = match &body.project_id {
        Some(raw) => {
            let id = parse_id("project", raw)?;
            if crate::db::projects::get(state.pool(), id).await?.is_none() {
                // The body names it, not the path: 409, like a missing artifact.
                return Err(ApiError::Conflict(format!(
                    "project `{raw}` does not exist"
                )));
            }
            Some(id)
        }
        None => None,
    };
    let hook = webhooks::create(
        state.pool(),
        &body.url,
        &secret.to_string(),
        &events,
        project_id,
    )
    .await?;
    // The host only: some receivers carry a token in the path (Slack-style URLs).
    tracing::info!(webhook = %hook.id, host = uri.host().unwrap_or_default(), "webhook added");
    Ok((StatusCode::CREATED, Json(hook)))
}

/// `GET /webhooks`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(webhooks::list(state.pool()).await?))
}

/// `GET /webhooks/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    let uuid = parse_id("webhook", &id)?;
    webhooks::get(state.pool(), uuid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("webhook", id))
}

/// `DELETE /webhooks/{id}` → 204 (its pending deliveries go with it).
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let uuid = parse_id("webhook", &id)?;
    if webhooks::delete(state.pool(), uuid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook", id))
    }
}

/// `GET /webhooks/{id}/deliveries`: the latest 100, newest first, each with its attempts.
pub async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let uuid = parse_id("webhook", &id)?;
    if webhooks::get(state.pool(), uuid).await?.is_none() {
        return Err(ApiError::not_found("webhook", id));
    }
    Ok(Json(webhooks::deliveries(state.pool(), uuid, 100).await?))
}

#[cfg(test)]
mod tests {
    use super::plain_http_url;

    #[test]
    fn webhook_urls_follow_the_documented_rule() {
        for ok in [
            "http://hooks.example:8080/drift?x=1&y=%20",
            "https://10.0.0.5",
            "https://a-b.c/",
        ] {
            assert!(plain_http_url(ok), "{ok}");
        }
        for bad in [
            "https://nR0XhHSpvMz5:7*",
            "ftp://a",
            "https://",
            "https://a:123456",
            "https://a b/",
            "https://a/\u{e9}",
            "https://user@a/",
            "http://2LKgnFxw612/>;)TQU!WhL7",
            "https://a/#fragment",
        ] {
            assert!(!plain_http_url(bad), "{bad}");
        }
    }
}
