//! `/ws/data-plane` (nodes connect) and `/projects/{id}/data-planes` (what is connected).

use axum::Json;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use std::net::SocketAddr;

use super::api_keys::SCOPE_CONNECT;
use super::extract::{JsonBody, parse_id};
use crate::db::data_planes::{self, DataPlane};
use crate::error::ApiError;
use crate::hub::protocol::MAX_MESSAGE_BYTES;
use crate::hub::session::{self, Peer};
use crate::posture::Caller;
use crate::secret_ref::SecretRef;
use crate::state::AppState;

/// `GET /ws/data-plane`: a data plane connects with an API key holding `data-plane:connect`.
pub async fn connect(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (project_id, key_id) = match caller {
        Caller::Key {
            project_id,
            key_id,
            scopes,
        } => {
            if !scopes.iter().any(|s| s == SCOPE_CONNECT) {
                return Err(ApiError::InsufficientScope(SCOPE_CONNECT));
            }
            (project_id, key_id)
        }
        Caller::Admin => {
            return Err(ApiError::KeyOnly(
                "data planes connect with a project API key, not the admin token",
            ));
        }
    };
    let upgrade = upgrade.map_err(|e| {
        ApiError::InvalidRequest(format!("this endpoint takes a WebSocket upgrade: {e}"))
    })?;
    let peer = Peer {
        project_id,
        key_id,
        addr: addr.ip(),
    };
    // Small buffers: a node's messages are small and a control plane holds thousands of
    // connections (the 128 KiB default read buffer cost ~150 KiB per node; see the fleet
    // bench). A larger message still goes through: the buffer grows for it.
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session::run(socket, state, peer)))
}

/// `?status=online|offline|deploying` and repeatable `?label=key=value` (all must match).
fn filters(query: Option<&str>) -> Result<(Option<String>, Value), ApiError> {
    let mut status = None;
    let mut labels = Map::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v)?;
        match k {
            "status" if matches!(v.as_str(), "online" | "offline" | "deploying") => {
                status = Some(v);
            }
            "status" => {
                return Err(ApiError::InvalidRequest(format!(
                    "status `{v}` is not online, offline or deploying"
                )));
            }
            "label" => {
                let (lk, lv) = v.split_once('=').ok_or_else(|| {
                    ApiError::InvalidRequest(format!("label `{v}` is not key=value"))
                })?;
                labels.insert(lk.to_owned(), Value::String(lv.to_owned()));
            }
            other => {
                return Err(ApiError::InvalidRequest(format!(
                    "unknown query parameter `{other}`"
                )));
            }
        }
    }
    Ok((status, Value::Object(labels)))
}

fn percent_decode(s: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| ApiError::InvalidRequest("query is not UTF-8".into()))
}

/// `GET /projects/{id}/data-planes`.
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DataPlane>>, ApiError> {
    let project_id = parse_id("project", &id)?;
    let (status, labels) = filters(query.as_deref())?;
    if crate::db::projects::get(state.pool(), project_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("project", id));
    }
    Ok(Json(
        data_planes::list(state.pool(), project_id, status.as_deref(), &labels).await?,
    ))
}

/// `POST /projects/{id}/data-planes` body: a standalone node to observe.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStandalone {
    /// Unique in the project.
    pub name: String,
    /// Its admin listener, `http(s)://host:port`.
    pub admin_url: String,
    /// `env://VAR` or `file:///path`: resolved at each poll, never stored in clear.
    pub admin_token: String,
    /// Labels (for listings; deployments go to connected nodes only).
    #[serde(default)]
    pub labels: Map<String, Value>,
}

/// `POST /projects/{id}/data-planes` → 201: registers a standalone node; the drift engine
/// polls its `GET /_admin/provenance` from the next interval on.
pub async fn register(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewStandalone>,
) -> Result<
    (
        StatusCode,
        [(axum::http::HeaderName, String); 1],
        Json<DataPlane>,
    ),
    ApiError,
> {
    let project_id = parse_id("project", &id)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "`name` must be 1 to 128 printable characters".into(),
        ));
    }
    let url = body.admin_url.strip_suffix('/').unwrap_or(&body.admin_url);
    let parsed: axum::http::Uri = url
        .parse()
        .map_err(|_| ApiError::InvalidRequest(format!("`admin_url` `{url}` is not a URL")))?;
    // The document's rule (`http(s)://host[:port]`, host of letters, digits, `.` and `-`),
    // stricter than a URI parser.
    if !matches!(parsed.scheme_str(), Some("http" | "https"))
        || parsed.host().is_none()
        || !super::webhooks::plain_http_url(url)
        || url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains(['/', '?']))
        || parsed
            .path_and_query()
            .is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty())
    {
        return Err(ApiError::InvalidRequest(format!(
            "`admin_url` must be http(s)://host[:port] with no path, not `{url}`"
        )));
    }
    let token = SecretRef::parse(&body.admin_token)
        .map_err(|e| ApiError::InvalidRequest(format!("`admin_token`: {e}")))?;
    if body.labels.values().any(|v| !v.is_string()) {
        return Err(ApiError::InvalidRequest(
            "`labels` values must be strings".into(),
        ));
    }
    if crate::db::projects::get(state.pool(), project_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("project", id));
    }
    let node = data_planes::register_standalone(
        state.pool(),
        project_id,
        name,
        &Value::Object(body.labels),
        url,
        &token.to_string(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::AlreadyExists(format!(
            "a data plane named `{name}` exists in this project"
        ))
    })?;
    tracing::info!(project = %project_id, node = %node.id, name, admin_url = url, "standalone data plane registered");
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/projects/{project_id}/data-planes/{}", node.id),
        )],
        Json(node),
    ))
}

/// `GET /projects/{id}/data-planes/{dpId}`.
pub async fn get(
    State(state): State<AppState>,
    Path((id, dp)): Path<(String, String)>,
) -> Result<Json<DataPlane>, ApiError> {
    let project_id = parse_id("project", &id)?;
    let dp_id = parse_id("data plane", &dp)?;
    data_planes::get(state.pool(), project_id, dp_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("data plane", dp))
}

/// `DELETE /projects/{id}/data-planes/{dpId}` → 204: closes its connection and forgets it
/// (a node whose key is still valid registers again when it reconnects; revoke the key to
/// keep it out).
pub async fn delete(
    State(state): State<AppState>,
    Path((id, dp)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project_id = parse_id("project", &id)?;
    let dp_id = parse_id("data plane", &dp)?;
    if !data_planes::delete(state.pool(), project_id, dp_id).await? {
        return Err(ApiError::not_found("data plane", dp));
    }
    state.hub().disconnect(dp_id);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let (status, labels) =
            filters(Some("status=online&label=region%3Deu&label=tier=edge")).unwrap();
        assert_eq!(status.as_deref(), Some("online"));
        assert_eq!(labels, serde_json::json!({"region": "eu", "tier": "edge"}));
        assert!(filters(Some("status=gone")).is_err());
        assert!(filters(Some("label=novalue")).is_err());
        assert!(filters(Some("colour=red")).is_err());
        assert_eq!(filters(None).unwrap(), (None, serde_json::json!({})));
    }
}
