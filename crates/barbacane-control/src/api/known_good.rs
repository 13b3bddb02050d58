//! `/projects/{id}/known-good`: an operator blesses what a project's nodes should run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::extract::{JsonBody, parse_id};
use crate::db::known_good::{self, KnownGood, NewKnownGood};
use crate::db::{artifacts, projects};
use crate::error::ApiError;
use crate::posture::token_fingerprint;
use crate::state::AppState;

/// `POST /projects/{id}/known-good` body: `artifact_hash` or `artifact_id` (or both, when
/// they agree).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBlessing {
    /// `sha256:<hex>`.
    pub artifact_hash: Option<String>,
    /// An artifact of the project.
    pub artifact_id: Option<String>,
    /// `sha256:<hex>`; default: the one recorded at build, else the first one observed.
    pub content_hash: Option<String>,
    /// Why this is known good.
    #[serde(default)]
    pub note: String,
    /// Who blesses it.
    pub created_by: Option<String>,
}

/// Whether `h` is `sha256:` and 64 lowercase hex digits.
pub fn is_hash(h: &str) -> bool {
    h.strip_prefix("sha256:")
        .is_some_and(|x| x.len() == 64 && x.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// `POST /projects/{id}/known-good` → 201 with the record.
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewBlessing>,
) -> Result<(StatusCode, Json<KnownGood>), ApiError> {
    let project_id = parse_id("project", &id)?;
    if projects::get(state.pool(), project_id).await?.is_none() {
        return Err(ApiError::not_found("project", id));
    }
    for (field, value) in [
        ("artifact_hash", &body.artifact_hash),
        ("content_hash", &body.content_hash),
    ] {
        if let Some(v) = value
            && !is_hash(v)
        {
            return Err(ApiError::InvalidRequest(format!(
                "`{field}` must be `sha256:` followed by 64 lowercase hex digits"
            )));
        }
    }
    let by_id = match &body.artifact_id {
        Some(raw) => {
            let artifact = parse_id("artifact", raw)?;
            match artifacts::get(state.pool(), artifact).await? {
                Some((a, _)) if a.project_id == project_id => Some(a),
                // As for a deployment: 409, the project has no such artifact.
                _ => {
                    return Err(ApiError::Conflict(format!(
                        "project has no artifact `{raw}`"
                    )));
                }
            }
        }
        None => None,
    };
    let artifact_hash = match (&body.artifact_hash, &by_id) {
        (Some(h), Some(a)) if *h != a.artifact_hash => {
            return Err(ApiError::InvalidRequest(format!(
                "`artifact_hash` {h} is not the hash of artifact {} ({})",
                a.id, a.artifact_hash
            )));
        }
        (_, Some(a)) => a.artifact_hash.clone(),
        (Some(h), None) => h.clone(),
        (None, None) => {
            return Err(ApiError::InvalidRequest(
                "give `artifact_hash` or `artifact_id`".into(),
            ));
        }
    };
    let recorded = artifacts::by_hash(state.pool(), project_id, &artifact_hash).await?;
    let artifact_id = by_id
        .as_ref()
        .map(|a| a.id)
        .or(recorded.as_ref().map(|r| r.0));
    let recorded_content = recorded.and_then(|r| r.1);
    let (content_hash, content_source) = match (&body.content_hash, &recorded_content) {
        (Some(given), Some(rec)) if given != rec => {
            return Err(ApiError::InvalidRequest(format!(
                "`content_hash` {given} is not the content the control plane built for this \
                 artifact ({rec})"
            )));
        }
        (Some(given), _) => (Some(given.clone()), "given"),
        (None, Some(rec)) => (Some(rec.clone()), "recorded"),
        (None, None) => (None, "pending"),
    };
    let fingerprint = token_fingerprint(&headers);
    let record = known_good::create(
        state.pool(),
        &NewKnownGood {
            project_id,
            artifact_hash: &artifact_hash,
            artifact_id,
            content_hash: content_hash.as_deref(),
            content_source,
            note: &body.note,
            created_by: body.created_by.as_deref(),
            token_fingerprint: fingerprint.as_deref(),
        },
    )
    .await?;
    tracing::info!(project = %project_id, known_good = %record.id, artifact_hash = %artifact_hash,
        content_source, "known-good set");
    Ok((StatusCode::CREATED, Json(record)))
}

/// `GET /projects/{id}/known-good`: newest first (the first one is in force, unless a newer
/// deployment targets a node).
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<KnownGood>>, ApiError> {
    let project_id = parse_id("project", &id)?;
    if projects::get(state.pool(), project_id).await?.is_none() {
        return Err(ApiError::not_found("project", id));
    }
    Ok(Json(known_good::list(state.pool(), project_id).await?))
}
