//! `/projects/{id}/api-keys`: keys that machines (data planes) use to act on one project.
//!
//! A key is `bbk_` followed by 32 random bytes in lowercase hex (URL-safe). It is returned
//! once, by the `POST` that creates it; the database keeps its SHA-256 and a display prefix.
//! Keys are looked up by hash, so checking one costs a digest and an index lookup.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::extract::{JsonBody, parse_id};
use crate::db::api_keys::{self, ApiKey, NewKey};
use crate::error::{ApiError, is_foreign_key_violation};
use crate::state::AppState;

/// What every key starts with (so a leaked one is recognisable by secret scanners).
pub const KEY_PREFIX: &str = "bbk_";

/// Scopes a key may hold.
pub const SCOPES: [&str; 2] = [SCOPE_CONNECT, SCOPE_ARTIFACT_READ];
/// Connect to the control plane as a data plane of the project.
pub const SCOPE_CONNECT: &str = "data-plane:connect";
/// Download the project's artifacts.
pub const SCOPE_ARTIFACT_READ: &str = "artifact:read";

/// Characters of the key shown in listings (`bbk_` and 8 hex digits).
const DISPLAY_LEN: usize = KEY_PREFIX.len() + 8;

/// `POST /projects/{id}/api-keys` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A label for people, 1-128 characters.
    pub name: String,
    /// Default: every scope.
    pub scopes: Option<Vec<String>>,
    /// RFC 3339; must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A fresh key and its SHA-256 (hex).
pub fn generate() -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a key: {e}")))?;
    let mut key = String::with_capacity(KEY_PREFIX.len() + 64);
    key.push_str(KEY_PREFIX);
    for b in bytes {
        key.push_str(&format!("{b:02x}"));
    }
    let hash = barbacane_artifact::sha256_hex(key.as_bytes());
    Ok((key, hash))
}

fn check(body: &NewApiKey) -> Result<Vec<String>, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "`name` must be 1 to 128 characters without control characters".into(),
        ));
    }
    let scopes = match &body.scopes {
        None => SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        Some(scopes) => {
            if scopes.is_empty() {
                return Err(ApiError::InvalidRequest(
                    "`scopes` must name at least one scope".into(),
                ));
            }
            let mut out: Vec<String> = Vec::new();
            for scope in scopes {
                if !SCOPES.contains(&scope.as_str()) {
                    return Err(ApiError::InvalidRequest(format!(
                        "unknown scope `{scope}`; known scopes: {}",
                        SCOPES.join(", ")
                    )));
                }
                if !out.contains(scope) {
                    out.push(scope.clone());
                }
            }
            out
        }
    };
    if let Some(at) = body.expires_at
        && at <= Utc::now()
    {
        return Err(ApiError::InvalidRequest(
            "`expires_at` must be in the future".into(),
        ));
    }
    Ok(scopes)
}

/// `POST /projects/{id}/api-keys` → 201 with the key (shown this once).
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewApiKey>,
) -> Result<Response, ApiError> {
    let project_id = parse_id("project", &id)?;
    let (created, key) = create_key(&state, project_id, &body).await?;
    let mut out = serde_json::to_value(&created).map_err(|e| ApiError::Internal(e.to_string()))?;
    out["key"] = json!(key);
    Ok((
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                format!("/projects/{project_id}/api-keys/{}", created.id),
            ),
            // The secret must not linger in caches.
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(out),
    )
        .into_response())
}

/// Checks the request and creates a key; returns its record and the key itself, which
/// nothing keeps (the API's and the UI's one path).
pub async fn create_key(
    state: &AppState,
    project_id: uuid::Uuid,
    body: &NewApiKey,
) -> Result<(ApiKey, String), ApiError> {
    let scopes = check(body)?;
    let (key, sha256) = generate()?;
    let created = api_keys::create(
        state.pool(),
        &NewKey {
            project_id,
            name: body.name.trim(),
            prefix: &key[..DISPLAY_LEN],
            sha256: &sha256,
            scopes: &scopes,
            expires_at: body.expires_at,
        },
    )
    .await
    .map_err(|e| {
        if is_foreign_key_violation(&e) {
            ApiError::not_found("project", project_id.to_string())
        } else {
            e.into()
        }
    })?;
    tracing::info!(project = %project_id, key = %created.id, prefix = %created.prefix, "API key created");
    Ok((created, key))
}

/// `GET /projects/{id}/api-keys`: never the secrets.
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    let project_id = parse_id("project", &id)?;
    if crate::db::projects::get(state.pool(), project_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("project", id));
    }
    Ok(Json(api_keys::list(state.pool(), project_id).await?))
}

/// `DELETE /projects/{id}/api-keys/{keyId}` → 204: the key stops working at once.
pub async fn revoke(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project_id = parse_id("project", &id)?;
    revoke_key(&state, project_id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes a key and closes the connections of the nodes using it (the API's and the UI's
/// one path).
pub async fn revoke_key(
    state: &AppState,
    project_id: uuid::Uuid,
    key_id: &str,
) -> Result<(), ApiError> {
    let key = parse_id("api key", key_id)?;
    if !api_keys::revoke(state.pool(), project_id, key).await? {
        return Err(ApiError::not_found("api key", key_id));
    }
    let closed = state.hub().disconnect_key(key);
    tracing::info!(project = %project_id, key = %key, disconnected = closed, "API key revoked");
    Ok(())
}
