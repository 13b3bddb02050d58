//! `/artifacts`: metadata and provenance, download, deletion.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api_keys::SCOPE_ARTIFACT_READ;
use super::extract::{QueryParams, parse_id};
use super::specs::ProjectFilter;
use crate::db::artifacts::{self, Artifact};
use crate::error::{ApiError, is_foreign_key_violation};
use crate::posture::Caller;
use crate::state::AppState;

/// `GET /artifacts[?project_id=]`, newest first.
pub async fn list(
    State(state): State<AppState>,
    QueryParams(filter): QueryParams<ProjectFilter>,
) -> Result<Json<Vec<Artifact>>, ApiError> {
    Ok(Json(
        artifacts::list(state.pool(), filter.project_id).await?,
    ))
}

/// `GET /artifacts/{id}`: metadata, the spec revisions it was built from, and the provenance
/// header exactly as stored in the `.bca`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_id("artifact", &id)?;
    let (artifact, header) = artifacts::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("artifact", &id))?;
    let built_from = artifacts::built_from(state.pool(), uuid).await?;
    let mut body = serde_json::to_value(&artifact)
        .map_err(|e| ApiError::Internal(format!("serialize artifact: {e}")))?;
    body["built_from"] = json!(built_from);
    body["header"] = header;
    Ok(Json(body))
}

/// `GET /artifacts/{id}/download`: the `.bca` bytes, for the admin or an API key of the
/// artifact's project with `artifact:read`.
pub async fn download(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let uuid = parse_id("artifact", &id)?;
    let (artifact, _) = artifacts::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("artifact", &id))?;
    caller.require(SCOPE_ARTIFACT_READ, artifact.project_id, || {
        ApiError::not_found("artifact", &id)
    })?;
    let etag = format!("\"sha256:{}\"", artifact.sha256);
    // An artifact's bytes never change: a client holding them (same ETag) gets 304 without
    // the store being read (RFC 9110 section 13.1.2; weak comparison, `*` matches).
    let held = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag);
    if held {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(
                header::ETAG,
                HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
            )],
        )
            .into_response());
    }
    let bytes = state.store().get(uuid).await?.ok_or_else(|| {
        ApiError::Internal(format!(
            "artifact {uuid} has metadata but no bytes in the store"
        ))
    })?;
    let disposition = format!("attachment; filename=\"{uuid}.bca\"");
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];
    Ok((headers, bytes).into_response())
}

/// `GET /artifacts/{id}/sbom`: the CycloneDX 1.6 SBOM recorded with the build (derived from
/// the stored bytes, identically, for artifacts built before SBOMs were recorded).
pub async fn sbom(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (uuid, project, (sbom, _)) = evidence(&state, &id).await?;
    caller.require(SCOPE_ARTIFACT_READ, project, || {
        ApiError::not_found("artifact", &id)
    })?;
    let doc = match sbom {
        Some(doc) => doc,
        None => {
            let bytes = state.store().get(uuid).await?.ok_or_else(|| {
                ApiError::Internal(format!(
                    "artifact {uuid} has metadata but no bytes in the store"
                ))
            })?;
            let doc = barbacane_evidence::sbom::sbom_of_bytes(&bytes, &format!("{uuid}.bca"))
                .map_err(|e| {
                    ApiError::Internal(format!("stored artifact {uuid} is unreadable: {e}"))
                })?;
            serde_json::to_vec_pretty(&doc).unwrap_or_default()
        }
    };
    Ok(document(barbacane_evidence::sbom::MEDIA_TYPE, doc))
}

/// `GET /artifacts/{id}/attestation`: the DSSE envelope of the build's in-toto / SLSA v1
/// provenance (signed when the control plane has a `--signing-key`); 404 `no-attestation`
/// for artifacts built before attestations were recorded.
pub async fn attestation(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, project, (_, attestation)) = evidence(&state, &id).await?;
    caller.require(SCOPE_ARTIFACT_READ, project, || {
        ApiError::not_found("artifact", &id)
    })?;
    let envelope = attestation.ok_or_else(|| {
        ApiError::NoAttestation(format!(
            "artifact `{id}` was built before provenance attestations were recorded; recompile its revisions to get one"
        ))
    })?;
    Ok(document(barbacane_evidence::oci::DSSE_MEDIA_TYPE, envelope))
}

type Evidence = (Option<Vec<u8>>, Option<Vec<u8>>);

async fn evidence(
    state: &AppState,
    id: &str,
) -> Result<(uuid::Uuid, uuid::Uuid, Evidence), ApiError> {
    let uuid = parse_id("artifact", id)?;
    let (project, sbom, attestation) = artifacts::evidence(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("artifact", id))?;
    Ok((uuid, project, (sbom, attestation)))
}

fn document(media_type: &'static str, body: Vec<u8>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))],
        body,
    )
        .into_response()
}

/// `DELETE /artifacts/{id}` → 204; 409 while a deployment references it.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let uuid = parse_id("artifact", &id)?;
    let existed = artifacts::delete(state.pool(), uuid).await.map_err(|e| {
        if is_foreign_key_violation(&e) {
            ApiError::InUse(format!(
                "artifact `{id}` is referenced by a deployment; remove the deployment first"
            ))
        } else {
            e.into()
        }
    })?;
    if !existed {
        return Err(ApiError::not_found("artifact", id));
    }
    state.store().delete(uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}
