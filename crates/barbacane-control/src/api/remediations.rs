//! `/drift/findings/{id}/remediations` and `/remediations/{id}`: converging, only through a
//! recorded human decision (`drift::remediate`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use super::extract::{JsonBody, OptionalJson, parse_id};
use crate::db::remediations::{self, Remediation};
use crate::drift::remediate::{self, Actor};
use crate::error::ApiError;
use crate::posture::token_fingerprint;
use crate::state::AppState;

/// `POST /drift/findings/{id}/remediations` body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    /// Who proposes.
    pub proposed_by: Option<String>,
}

/// `POST /drift/findings/{id}/remediations` → 201: a proposal with its dry run.
pub async fn propose(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<NewProposal>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<Remediation>,
    ),
    ApiError,
> {
    let finding = parse_id("finding", &id)?;
    let body = body.unwrap_or_default();
    let actor = Actor {
        name: body.proposed_by,
        token_fingerprint: token_fingerprint(&headers),
    };
    let r = remediate::propose(&state, finding, &actor).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/remediations/{}", r.id))],
        Json(r),
    ))
}

/// `GET /drift/findings/{id}/remediations`: newest first.
pub async fn for_finding(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Remediation>>, ApiError> {
    let finding = parse_id("finding", &id)?;
    if crate::db::drift::finding(state.pool(), finding)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("finding", id));
    }
    Ok(Json(
        remediations::for_finding(state.pool(), finding).await?,
    ))
}

/// `GET /remediations/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Remediation>, ApiError> {
    let uuid = parse_id("remediation", &id)?;
    remediations::get(state.pool(), uuid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("remediation", id))
}

/// `POST /remediations/{id}/approve` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Who approves (required: the record names a person).
    pub approved_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// `POST /remediations/{id}/reject` body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Who rejects (`by` is accepted too); default: the admin token's fingerprint.
    #[serde(alias = "by")]
    pub rejected_by: Option<String>,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

pub(crate) fn person(name: &str, field: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(format!(
            "`{field}` must name who decides (1 to 200 printable characters)"
        )));
    }
    Ok(name.to_owned())
}

/// `POST /remediations/{id}/approve`: recorded, then acted on.
pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Approval>,
) -> Result<Json<Remediation>, ApiError> {
    let uuid = parse_id("remediation", &id)?;
    let by = person(&body.approved_by, "approved_by")?;
    let actor = Actor {
        name: Some(by.clone()),
        token_fingerprint: token_fingerprint(&headers),
    };
    let server = match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("{}://{host}", state.scheme()),
        None => "<control-plane-url>".into(),
    };
    Ok(Json(
        remediate::approve(&state, uuid, &actor, &by, &body.comment, &server).await?,
    ))
}

/// `POST /remediations/{id}/reject`: recorded; nothing changes.
pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<Rejection>,
) -> Result<Json<Remediation>, ApiError> {
    let uuid = parse_id("remediation", &id)?;
    let body = body.unwrap_or_default();
    let fingerprint = token_fingerprint(&headers);
    let by = match &body.rejected_by {
        Some(name) => person(name, "rejected_by")?,
        None => match &fingerprint {
            Some(fp) => format!("admin token {fp}"),
            None => "admin".to_owned(),
        },
    };
    let actor = Actor {
        name: Some(by.clone()),
        token_fingerprint: fingerprint,
    };
    Ok(Json(
        remediate::reject(&state, uuid, &actor, &by, &body.comment).await?,
    ))
}
