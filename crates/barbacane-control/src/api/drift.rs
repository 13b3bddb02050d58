//! `GET /drift/findings`: findings with their history, as they stood at any time;
//! `GET /metrics`: the engine's Prometheus metrics.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::extract::parse_id;
use crate::db::drift::{self, Filter, FindingRow};
use crate::error::ApiError;
use crate::state::AppState;

/// Finding kinds, as stored.
const KINDS: [&str; 7] = [
    "content-mismatch",
    "signature-invalid",
    "hash-mismatch",
    "unknown-artifact",
    "rejected-deploy",
    "unreachable",
    "no-desired-state",
];

/// `?project=&node=&kind=&open=true&at=<RFC 3339>`.
pub async fn findings(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<FindingRow>>, ApiError> {
    let mut filter = Filter::default();
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| ApiError::InvalidRequest(format!("`{k}={v}`: {what}"));
        match k {
            "project" => filter.project = Some(v.parse().map_err(|_| bad("not a UUID"))?),
            "node" => filter.node = Some(v.parse().map_err(|_| bad("not a UUID"))?),
            "kind" if KINDS.contains(&v) => filter.kind = Some(v.to_owned()),
            "kind" => return Err(bad(&format!("not one of {}", KINDS.join(", ")))),
            "open" => {
                filter.open = match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("not true or false")),
                }
            }
            "at" => {
                let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                let at: DateTime<Utc> = DateTime::parse_from_rfc3339(&decoded)
                    .map_err(|_| bad("not an RFC 3339 time"))?
                    .with_timezone(&Utc);
                filter.at = Some(at);
            }
            _ => {
                return Err(ApiError::InvalidRequest(format!(
                    "unknown query parameter `{k}`"
                )));
            }
        }
    }
    Ok(Json(drift::findings(state.pool(), &filter).await?))
}

/// `GET /drift/findings/{id}`.
pub async fn finding(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FindingRow>, ApiError> {
    let uuid = parse_id("finding", &id)?;
    drift::finding(state.pool(), uuid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("finding", id))
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = state
        .metrics()
        .render(state.pool(), state.hub().connected())
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
