//! `/projects/{id}/specs` and `/specs`: upload, revisions with optimistic concurrency,
//! history.
//!
//! The ETag of a spec is its current revision number, quoted (`"3"`). `PUT` requires
//! `If-Match` (428 without it): a client must say which revision it edits, so two concurrent
//! editors can never silently overwrite each other; `If-Match: *` opts out explicitly.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::extract::{QueryParams, parse_id};
use super::upload::{self, SpecUpload};
use crate::compile::{Checked, SourceFile, check_upload, references};
use crate::db::specs::{self, FileEntry, NewFile, Revision, Spec, Update};
use crate::error::{ApiError, is_foreign_key_violation, is_unique_violation};
use crate::plugin::resolve::resolve;
use crate::state::AppState;

/// `?name=FILE` of an upload.
#[derive(Debug, Deserialize)]
pub struct NameQuery {
    /// The spec's file name (path relative to the project root).
    pub name: Option<String>,
}

/// `?project_id=` filter.
#[derive(Debug, Deserialize)]
pub struct ProjectFilter {
    /// Only this project's.
    pub project_id: Option<Uuid>,
}

/// `?revision=N` of `GET /specs/{id}`.
#[derive(Debug, Deserialize)]
pub struct RevisionQuery {
    /// Show this revision instead of the current one.
    pub revision: Option<i32>,
}

fn etag(revision: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// Compiles the upload on a blocking thread, with the registry plugins it references (chosen
/// as a compilation would choose them now): 422 with every diagnostic when it fails.
async fn check(
    state: &AppState,
    files: Vec<SourceFile>,
) -> Result<(Vec<SourceFile>, Checked), ApiError> {
    let panicked =
        |e: tokio::task::JoinError| ApiError::Internal(format!("spec check panicked: {e}"));
    let (files, used) = tokio::task::spawn_blocking(move || {
        let used = references(&files);
        (files, used)
    })
    .await
    .map_err(panicked)?;
    let plugins = resolve(state.pool(), &used).await?;
    let (files, result) = tokio::task::spawn_blocking(move || {
        let result = check_upload(&files, &plugins, &used);
        (files, result)
    })
    .await
    .map_err(panicked)?;
    match result {
        Ok(checked) => Ok((files, checked)),
        Err(diagnostics) => Err(ApiError::InvalidSpec {
            errors: to_values(&diagnostics),
        }),
    }
}

fn to_values<T: Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .collect()
}

fn new_files(files: Vec<SourceFile>) -> Vec<NewFile> {
    files
        .into_iter()
        .map(|f| NewFile {
            path: f.path,
            is_root: f.is_root,
            content: f.content,
        })
        .collect()
}

fn written(status: StatusCode, revision: &Revision, checked: &Checked) -> Response {
    let body = json!({
        "id": revision.spec_id,
        "revision": revision.revision,
        "revision_id": revision.id,
        "warnings": to_values(&checked.warnings),
    });
    (
        status,
        [
            (header::ETAG, etag(revision.revision)),
            (
                header::LOCATION,
                HeaderValue::from_str(&format!("/specs/{}", revision.spec_id))
                    .unwrap_or(HeaderValue::from_static("/specs")),
            ),
        ],
        Json(body),
    )
        .into_response()
}

/// `POST /projects/{id}/specs?name=FILE` → 201 `{"id", "revision"}`.
pub async fn upload(
    State(state): State<AppState>,
    Path(project): Path<String>,
    QueryParams(query): QueryParams<NameQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let project_id = parse_id("project", &project)?;
    if crate::db::projects::get(state.pool(), project_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("project", project));
    }
    // Bounded work: the permit is taken before the body is read, so queued uploads hold no
    // buffered body, and only as many spec checks run at once as there are cores.
    let _permit = state.spec_check().await?;
    let upload = upload::read(request, &state, query.name).await?;
    let (revision, checked) = create_spec(&state, project_id, upload).await?;
    Ok(written(StatusCode::CREATED, &revision, &checked))
}

/// Checks an upload (422 with every diagnostic when it does not compile) and stores it as a
/// new spec of the project (the API's and the UI's one path). The caller holds a
/// spec-check permit.
pub async fn create_spec(
    state: &AppState,
    project_id: Uuid,
    upload: SpecUpload,
) -> Result<(Revision, Checked), ApiError> {
    let SpecUpload { name, files } = upload;
    let (files, checked) = check(state, files).await?;
    let revision = specs::create(
        state.pool(),
        project_id,
        &name,
        &new_files(files),
        &checked.plugins,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::AlreadyExists(format!(
                "the project already has a spec named `{name}`; PUT /specs/{{id}} adds a revision"
            ))
        } else if is_foreign_key_violation(&e) {
            ApiError::not_found("project", project_id.to_string())
        } else {
            e.into()
        }
    })?;
    Ok((revision, checked))
}

/// What `If-Match` asks for.
enum Precondition {
    Any,
    Revisions(Vec<i32>),
}

fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let values: Vec<&str> = headers
        .get_all(header::IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(ApiError::PreconditionRequired);
    }
    if values.contains(&"*") {
        return Ok(Precondition::Any);
    }
    // Strong comparison: weak tags (`W/"3"`) never match, per RFC 9110.
    Ok(Precondition::Revisions(
        values
            .iter()
            .filter_map(|v| v.strip_prefix('"')?.strip_suffix('"')?.parse().ok())
            .collect(),
    ))
}

/// `PUT /specs/{id}` (with `If-Match`) → 200 `{"id", "revision"}`: adds a revision.
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<NameQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let spec_id = parse_id("spec", &id)?;
    let wanted = precondition(request.headers())?;
    let spec = specs::get(state.pool(), spec_id)
        .await?
        .ok_or_else(|| ApiError::not_found("spec", &id))?;
    let expected = match wanted {
        Precondition::Any => None,
        Precondition::Revisions(list) if list.contains(&spec.revision) => Some(spec.revision),
        Precondition::Revisions(_) => {
            return Err(ApiError::PreconditionFailed {
                current: format!("\"{}\"", spec.revision),
            });
        }
    };
    let name = query.name.unwrap_or_else(|| spec.name.clone());
    let _permit = state.spec_check().await?;
    let SpecUpload { name, files } = upload::read(request, &state, Some(name)).await?;
    if name != spec.name {
        return Err(ApiError::InvalidRequest(format!(
            "a revision keeps the spec's name `{}` (got `{name}`)",
            spec.name
        )));
    }
    let (files, checked) = check(&state, files).await?;
    match specs::add_revision(
        state.pool(),
        spec_id,
        expected,
        &new_files(files),
        &checked.plugins,
    )
    .await?
    {
        Update::Added(revision) => Ok(written(StatusCode::OK, &revision, &checked)),
        Update::NotFound => Err(ApiError::not_found("spec", id)),
        Update::Stale { current } => Err(ApiError::PreconditionFailed {
            current: format!("\"{current}\""),
        }),
    }
}

/// `GET /specs[?project_id=]`.
pub async fn list(
    State(state): State<AppState>,
    QueryParams(filter): QueryParams<ProjectFilter>,
) -> Result<Json<Vec<Spec>>, ApiError> {
    Ok(Json(specs::list(state.pool(), filter.project_id).await?))
}

/// `GET /specs/{id}[?revision=N]`: metadata, the root document's text and every file.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<RevisionQuery>,
) -> Result<Response, ApiError> {
    let spec_id = parse_id("spec", &id)?;
    let spec = specs::get(state.pool(), spec_id)
        .await?
        .ok_or_else(|| ApiError::not_found("spec", &id))?;
    let number = query.revision.unwrap_or(spec.revision);
    let revision = specs::revision(state.pool(), spec_id, number)
        .await?
        .ok_or_else(|| ApiError::not_found("revision", format!("{id}@{number}")))?;
    let files = specs::files(state.pool(), &[revision.id]).await?;
    let content = files
        .iter()
        .find(|f| f.is_root)
        .map(|f| String::from_utf8_lossy(&f.content).into_owned());
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "is_root": f.is_root,
                "sha256": f.sha256,
                "size": f.content.len(),
                "content": String::from_utf8_lossy(&f.content),
            })
        })
        .collect();
    let body = json!({
        "id": spec.id,
        "project_id": spec.project_id,
        "name": spec.name,
        "current_revision": spec.revision,
        "revision": revision.revision,
        "revision_id": revision.id,
        "plugins": revision.plugins,
        "created_at": spec.created_at,
        "updated_at": spec.updated_at,
        "revision_created_at": revision.created_at,
        "content": content,
        "files": files,
    });
    Ok(([(header::ETAG, etag(spec.revision))], Json(body)).into_response())
}

/// `DELETE /specs/{id}` → 204. Artifacts built from it stay (they are sealed and may be
/// deployed); pending compilations of it fail.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let spec_id = parse_id("spec", &id)?;
    if specs::delete(state.pool(), spec_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("spec", id))
    }
}

/// One entry of `GET /specs/{id}/history`.
#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    /// The revision.
    #[serde(flatten)]
    pub revision: Revision,
    /// Its files (without content).
    pub files: Vec<FileEntry>,
}

/// `GET /specs/{id}/history`: every revision, newest first.
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let spec_id = parse_id("spec", &id)?;
    let revisions = specs::history(state.pool(), spec_id).await?;
    if revisions.is_empty() {
        return Err(ApiError::not_found("spec", id));
    }
    let ids: Vec<Uuid> = revisions.iter().map(|r| r.id).collect();
    let mut index = specs::file_index(state.pool(), &ids).await?;
    Ok(Json(
        revisions
            .into_iter()
            .map(|revision| {
                let (files, rest) = index.drain(..).partition(|f| f.revision_id == revision.id);
                index = rest;
                HistoryEntry { revision, files }
            })
            .collect(),
    ))
}
