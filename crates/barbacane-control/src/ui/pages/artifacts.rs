//! `/ui/projects/{id}/artifacts` and `/ui/artifacts/{id}`: hashes, inputs, routes, plugins,
//! and the SBOM and attestation when they exist.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use barbacane_artifact::{Artifact, CONFIG_MEMBER, CompiledConfig, InputKind};
use maud::html;

use super::project;
use crate::api::extract::parse_id;
use crate::db::artifacts;
use crate::error::ApiError;
use crate::posture::Caller;
use crate::state::AppState;
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav, Tab};
use crate::ui::session::Session;

/// `GET /ui/projects/{id}/artifacts`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let all = artifacts::list(state.pool(), Some(p.id)).await?;
    let body = html! {
        (layout::project_header(&p, Tab::Artifacts))
        @if all.is_empty() {
            (layout::empty("No artifact yet.", html! {
                "Compile a spec on the " a href={ "/ui/projects/" (p.id) } { "Specs" } " tab: each successful compilation stores one."
            }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "Built" } th scope="col" { "Artifact hash" } th scope="col" { "Content hash" } th scope="col" { "Size" } th scope="col" { "Action" } } }
                tbody {
                    @for a in &all {
                        tr {
                            td data-label="Built" { a href={ "/ui/artifacts/" (a.id) } { (layout::time(a.created_at)) } }
                            td data-label="Artifact hash" { (layout::hash(Some(&a.artifact_hash))) }
                            td data-label="Content hash" { (layout::hash(a.content_hash.as_deref())) }
                            td data-label="Size" { (a.size) " bytes" }
                            td data-label="Action" { a href={ "/ui/projects/" (p.id) "/deploy?artifact_id=" (a.id) } { "Deploy…" } }
                        }
                    }
                }
            } }
        }
    };
    Ok(
        Html(layout::page("Artifacts", &session, Nav::Projects, body).into_string())
            .into_response(),
    )
}

/// The decoded artifact, when the store holds readable bytes.
pub(crate) async fn load(state: &AppState, id: uuid::Uuid) -> Option<Artifact> {
    let bytes = state.store().get(id).await.ok().flatten()?;
    Artifact::from_bytes(&bytes).ok()
}

/// `GET /ui/artifacts/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let uuid = parse_id("artifact", &id)?;
    let (a, _) = artifacts::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("artifact", &id))?;
    let p = project(&state, &a.project_id.to_string()).await?;
    let built_from = artifacts::built_from(state.pool(), uuid).await?;
    let has_attestation = artifacts::evidence(state.pool(), uuid)
        .await?
        .is_some_and(|(_, _, att)| att.is_some());
    let decoded = load(&state, uuid).await;
    let config: Option<CompiledConfig> = decoded
        .as_ref()
        .and_then(|d| d.member_json(CONFIG_MEMBER).ok());
    let body = html! {
        p.crumbs { a href="/ui/" { "Projects" } " / " a href={ "/ui/projects/" (p.id) "/artifacts" } { (p.name) } " / " }
        h1 { "Artifact" }
        dl.facts {
            dt { "Artifact hash" } dd { code { (a.artifact_hash) } }
            dt { "Content hash" } dd { @if let Some(c) = &a.content_hash { code { (c) } } @else { span.muted { "not recorded" } } }
            dt { "SHA-256 of the file" } dd { code { (a.sha256) } }
            dt { "Size" } dd { (a.size) " bytes" }
            dt { "Compiler" } dd { (a.compiler_version) }
            dt { "Stored" } dd { (layout::time(a.created_at)) }
            @if let Some(d) = &decoded {
                dt { "Build timestamp" } dd { (d.header().build_timestamp) }
                dt { "Provenance source" } dd { (d.header().provenance_source.as_deref().unwrap_or("none")) }
                dt { "Provenance commit" } dd { (d.header().provenance_commit.as_deref().unwrap_or("none")) }
            }
            dt { "Evidence" } dd {
                a href={ "/ui/artifacts/" (a.id) "/sbom" } { "CycloneDX SBOM" }
                @if has_attestation { " · " a href={ "/ui/artifacts/" (a.id) "/attestation" } { "Provenance attestation (DSSE)" } }
                @else { " · " span.muted { "no attestation (built before they were recorded)" } }
            }
        }
        p { a.button href={ "/ui/projects/" (p.id) "/deploy?artifact_id=" (a.id) } { "Deploy this artifact…" } }
        h2 { "Built from" }
        ul {
            @for b in &built_from {
                li { a href={ "/ui/specs/" (b.spec_id) "?revision=" (b.revision) } { "spec " code { (b.spec_id) } " revision " (b.revision) } }
            }
        }
        @if let Some(config) = &config {
            h2 { "Routes (" (config.operations.len()) ")" }
            div.scroll { table.stack {
                thead { tr { th scope="col" { "Route" } th scope="col" { "Dispatcher" } th scope="col" { "Middlewares" } th scope="col" { "Defined at" } } }
                tbody {
                    @for op in &config.operations {
                        tr {
                            td data-label="Route" { code { (op.method) " " (op.path) } @if op.deprecated { " " (layout::badge("deprecated")) } }
                            td data-label="Dispatcher" { code { (op.dispatch.name) } }
                            td data-label="Middlewares" {
                                @if op.middlewares.is_empty() { span.muted { "none" } }
                                @else { (op.middlewares.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")) }
                            }
                            td data-label="Defined at" { code { (op.spec) "#" (op.pointer) } }
                        }
                    }
                }
            } }
        }
        @if let Some(d) = &decoded {
            h2 { "Plugins" }
            @let plugins: Vec<_> = d.header().inputs.iter().filter(|i| i.kind == InputKind::Plugin).collect();
            @if plugins.is_empty() { p.muted { "No WASM plugin." } } @else {
                ul { @for i in &plugins { li { code { (i.name) } " " (layout::hash(Some(&i.sha256))) } } }
            }
            h2 { "Inputs" }
            div.scroll { table.stack {
                thead { tr { th scope="col" { "Kind" } th scope="col" { "Name" } th scope="col" { "SHA-256" } } }
                tbody {
                    @for i in &d.header().inputs {
                        tr {
                            td data-label="Kind" { (i.kind.as_str()) }
                            td data-label="Name" { code { (i.name) } }
                            td data-label="SHA-256" { (layout::hash(Some(&i.sha256))) }
                        }
                    }
                }
            } }
        } @else {
            p.warning { "The stored bytes cannot be read: routes, plugins and inputs are not shown." }
        }
    };
    Ok(Html(layout::page("Artifact", &session, Nav::Projects, body).into_string()).into_response())
}

/// `GET /ui/artifacts/{id}/sbom`: the API's `GET /artifacts/{id}/sbom`, for the session.
pub async fn sbom(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    Ok(crate::api::artifacts::sbom(Caller::Admin, State(state), Path(id)).await?)
}

/// `GET /ui/artifacts/{id}/attestation`: the API's `GET /artifacts/{id}/attestation`.
pub async fn attestation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    Ok(crate::api::artifacts::attestation(Caller::Admin, State(state), Path(id)).await?)
}
