//! `/ui/` (the projects) and `/ui/projects/{id}` (a project's specs, upload and
//! compilations).

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::{project, see_other};
use crate::db::{compilations, projects as db_projects, specs};
use crate::state::AppState;
use crate::ui::csrf::{self, CsrfForm};
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav, Tab};
use crate::ui::session::Session;

/// `GET /ui/`.
pub async fn index(
    State(state): State<AppState>,
    session: Session,
) -> Result<Html<String>, UiError> {
    let all = db_projects::list(state.pool()).await?;
    let body = html! {
        h1 { "Projects" }
        @if all.is_empty() {
            (layout::empty("No project yet.", html! {
                "Create one below, then upload its OpenAPI or AsyncAPI spec, compile it and deploy the artifact to your data planes."
            }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Created" } th scope="col" { "Pages" } } }
                tbody {
                    @for p in &all {
                        tr {
                            td data-label="Name" { a href={ "/ui/projects/" (p.id) } { (p.name) } }
                            td data-label="Created" { (layout::time(p.created_at)) }
                            td data-label="Pages" {
                                a href={ "/ui/projects/" (p.id) "/fleet" } { "Fleet" } " · "
                                a href={ "/ui/projects/" (p.id) "/deployments" } { "Deployments" } " · "
                                a href={ "/ui/drift?project=" (p.id) } { "Drift" }
                            }
                        }
                    }
                }
            } }
        }
        h2 { "New project" }
        form.card method="post" action="/ui/projects" {
            (csrf::field(&session))
            label for="project-name" { "Name" }
            input #project-name type="text" name="name" required maxlength="128";
            button type="submit" { "Create project" }
        }
    };
    Ok(Html(
        layout::page("Projects", &session, Nav::Projects, body).into_string(),
    ))
}

/// `POST /ui/projects` fields.
#[derive(Debug, Deserialize)]
pub struct NewProject {
    name: String,
}

/// `POST /ui/projects`: `api::projects::create_project`, then its page.
pub async fn create(
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<NewProject>,
) -> Result<Response, UiError> {
    let p = crate::api::projects::create_project(&state, &form.name).await?;
    Ok(see_other(&format!("/ui/projects/{}", p.id)))
}

/// `GET /ui/projects/{id}`: specs, the upload form, recent compilations.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let all = specs::list(state.pool(), Some(p.id)).await?;
    let builds = compilations::for_project(state.pool(), p.id, 20).await?;
    let body = html! {
        (layout::project_header(&p, Tab::Specs))
        h2 { "Specs" }
        @if all.is_empty() {
            (layout::empty("No spec in this project yet.", html! {
                "Upload the root OpenAPI or AsyncAPI document below (and any file its "
                code { "$ref" } "s reach). It is checked as the compiler would check it."
            }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "File" } th scope="col" { "Revision" } th scope="col" { "Updated" } th scope="col" { "Action" } } }
                tbody {
                    @for s in &all {
                        tr {
                            td data-label="File" { a href={ "/ui/specs/" (s.id) } { code { (s.name) } } }
                            td data-label="Revision" { (s.revision) }
                            td data-label="Updated" { (layout::time(s.updated_at)) }
                            td data-label="Action" {
                                form.inline method="post" action={ "/ui/specs/" (s.id) "/compile" } {
                                    (csrf::field(&session))
                                    button.secondary type="submit" { "Compile " code { (s.name) } }
                                }
                            }
                        }
                    }
                }
            } }
            form method="post" action={ "/ui/projects/" (p.id) "/compile" } {
                (csrf::field(&session))
                button type="submit" { "Compile the whole project" }
            }
        }
        h2 { "Upload a spec" }
        form.card method="post" action={ "/ui/projects/" (p.id) "/specs" } enctype="multipart/form-data" {
            (csrf::field(&session))
            label for="spec-file" { "Root document (YAML or JSON)" }
            input #spec-file type="file" name="spec" required accept=".yaml,.yml,.json";
            label for="ref-files" { "Files its " code { "$ref" } "s reach (optional)" }
            input #ref-files type="file" name="file" multiple accept=".yaml,.yml,.json";
            p.hint { "Each file is stored under its file name, relative to the project root." }
            button type="submit" { "Upload" }
        }
        h2 { "Compilations" }
        @if builds.is_empty() {
            (layout::empty("Nothing compiled yet.", html! { "Compile a spec or the whole project: an artifact is built from the pinned revisions." }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "Requested" } th scope="col" { "Status" } th scope="col" { "Artifact" } th scope="col" { "Diagnostics" } } }
                tbody {
                    @for c in &builds {
                        tr {
                            td data-label="Requested" { a href={ "/ui/compilations/" (c.id) } { (layout::time(c.created_at)) } }
                            td data-label="Status" { (layout::badge(&c.status)) }
                            td data-label="Artifact" {
                                @if let Some(a) = c.artifact_id { a href={ "/ui/artifacts/" (a) } { "artifact" } } @else { span.muted { "none" } }
                            }
                            td data-label="Diagnostics" { (c.diagnostics.as_array().map_or(0, Vec::len)) }
                        }
                    }
                }
            } }
        }
    };
    Ok(Html(layout::page(&p.name, &session, Nav::Projects, body).into_string()).into_response())
}
