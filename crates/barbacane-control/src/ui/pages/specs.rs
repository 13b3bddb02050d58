//! Specs (`/ui/specs/{id}`: revisions and content), the upload, compiling, and
//! `/ui/compilations/{id}` (status and diagnostics at their file and pointer).

use axum::extract::{Path, Query, Request, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::{project, see_other};
use crate::api::extract::parse_id;
use crate::db::{compilations, specs};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::csrf::{self, CsrfForm, NoFields};
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav};
use crate::ui::session::Session;

/// `POST /ui/projects/{id}/specs` (multipart: `csrf`, `spec`, any `file`s): checked and
/// stored by `api::specs::create_spec`, like `POST /projects/{id}/specs`.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let media = crate::api::extract::media_type(request.headers()).unwrap_or_default();
    if media != "multipart/form-data" {
        return Err(UiError::Csrf);
    }
    let _permit = state.spec_check().await?;
    let parts = crate::api::extract::multipart(request, &state).await?;
    let parts = csrf::check_parts(&session, parts)?;
    // A file input left empty still sends a part, with no file name and no bytes.
    let parts = parts
        .into_iter()
        .filter(|part| {
            !(part.bytes.is_empty() && part.file_name.as_deref().unwrap_or("").is_empty())
        })
        .collect();
    let upload = crate::api::upload::from_form_parts(parts, None)?;
    let (revision, _) = crate::api::specs::create_spec(&state, p.id, upload).await?;
    Ok(see_other(&format!("/ui/specs/{}", revision.spec_id)))
}

/// `POST /ui/specs/{id}/compile`.
pub async fn compile_spec(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, UiError> {
    let c = crate::api::compilations::enqueue_spec(&state, &id).await?;
    Ok(see_other(&format!("/ui/compilations/{c}")))
}

/// `POST /ui/projects/{id}/compile`.
pub async fn compile_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, UiError> {
    let c = crate::api::compilations::enqueue_project(&state, &id).await?;
    Ok(see_other(&format!("/ui/compilations/{c}")))
}

/// `?revision=N`.
#[derive(Debug, Deserialize)]
pub struct RevisionQuery {
    revision: Option<i32>,
}

/// `GET /ui/specs/{id}[?revision=N]`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<RevisionQuery>,
) -> Result<Response, UiError> {
    let uuid = parse_id("spec", &id)?;
    let spec = specs::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("spec", &id))?;
    let p = project(&state, &spec.project_id.to_string()).await?;
    let history = specs::history(state.pool(), uuid).await?;
    let shown = q.revision.unwrap_or(spec.revision);
    let revision = history
        .iter()
        .find(|r| r.revision == shown)
        .ok_or_else(|| ApiError::not_found("revision", shown.to_string()))?;
    let files = specs::files(state.pool(), &[revision.id]).await?;
    let body = html! {
        p.crumbs { a href="/ui/" { "Projects" } " / " a href={ "/ui/projects/" (p.id) } { (p.name) } " / " }
        h1 { code { (spec.name) } }
        dl.facts {
            dt { "Current revision" } dd { (spec.revision) }
            dt { "Created" } dd { (layout::time(spec.created_at)) }
            dt { "Updated" } dd { (layout::time(spec.updated_at)) }
        }
        form method="post" action={ "/ui/specs/" (spec.id) "/compile" } {
            (csrf::field(&session))
            button type="submit" { "Compile revision " (spec.revision) }
        }
        h2 { "Revisions" }
        div.scroll { table.stack {
            thead { tr { th scope="col" { "Revision" } th scope="col" { "Created" } th scope="col" { "Registry plugins" } } }
            tbody {
                @for r in &history {
                    tr {
                        td data-label="Revision" {
                            @if r.revision == shown { strong { (r.revision) " (shown)" } }
                            @else { a href={ "/ui/specs/" (spec.id) "?revision=" (r.revision) } { (r.revision) } }
                        }
                        td data-label="Created" { (layout::time(r.created_at)) }
                        td data-label="Registry plugins" {
                            @if r.plugins.is_empty() { span.muted { "none" } } @else { (r.plugins.join(", ")) }
                        }
                    }
                }
            }
        } }
        h2 { "Files of revision " (shown) }
        @for f in &files {
            h3 { code { (f.path) } @if f.is_root { " (root)" } }
            p.hint { "SHA-256 " (layout::hash(Some(&f.sha256))) }
            pre tabindex="0" aria-label={ "Content of " (f.path) } { (String::from_utf8_lossy(&f.content)) }
        }
    };
    Ok(Html(layout::page(&spec.name, &session, Nav::Projects, body).into_string()).into_response())
}

/// `GET /ui/compilations/{id}`: live while it runs (with `app.js`; otherwise a reload link).
pub async fn compilation(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let uuid = parse_id("compilation", &id)?;
    let c = compilations::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("compilation", &id))?;
    let p = project(&state, &c.project_id.to_string()).await?;
    let running = matches!(c.status.as_str(), "pending" | "running");
    let diagnostics = c.diagnostics.as_array().cloned().unwrap_or_default();
    let body = html! {
        p.crumbs { a href="/ui/" { "Projects" } " / " a href={ "/ui/projects/" (p.id) } { (p.name) } " / " }
        h1 { "Compilation" }
        div #compilation data-live="2" {
        dl.facts {
            dt { "Status" } dd #compilation-status {
                (layout::badge(&c.status))
                @if running { " " a href={ "/ui/compilations/" (c.id) } { "Reload to see the outcome" } }
            }
            dt { "Requested" } dd { (layout::time(c.created_at)) }
            dt { "Started" } dd { (layout::opt_time(c.started_at, "not yet")) }
            dt { "Finished" } dd { (layout::opt_time(c.finished_at, "not yet")) }
            dt { "Attempts" } dd { (c.attempts) }
            dt { "Spec" } dd {
                @if let Some(s) = c.spec_id { a href={ "/ui/specs/" (s) } { "the spec" } } @else { "every spec of the project" }
            }
            dt { "Artifact" } dd {
                @if let Some(a) = c.artifact_id { a #artifact-link href={ "/ui/artifacts/" (a) } { "open the artifact" } } @else { span.muted { "none" } }
            }
        }
        @if let Some(a) = c.artifact_id {
            p { a.button href={ "/ui/projects/" (p.id) "/deploy?artifact_id=" (a) } { "Deploy this artifact…" } }
        }
        @if diagnostics.is_empty() {
            p.muted { "No diagnostics." }
        } @else {
            (layout::diagnostics(&diagnostics))
        }
        }
    };
    Ok(
        Html(layout::page("Compilation", &session, Nav::Projects, body).into_string())
            .into_response(),
    )
}
