//! `/ui/projects/{id}/deployments` (history and the deploy form), the confirmation step
//! (`GET /ui/projects/{id}/deploy?artifact_id=`: what would change, node by node), the
//! deploy itself (`POST`), and `/ui/deployments/{id}` (each node's outcome, live).

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::artifacts::load;
use super::{project, see_other};
use crate::api::extract::parse_id;
use crate::db::{artifacts, data_planes, deployments};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::csrf::{self, CsrfForm};
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav, Tab};
use crate::ui::session::Session;

/// `k=v, k2=v2` (empty: every node) as a label selector.
fn parse_labels(text: &str) -> Result<Map<String, Value>, ApiError> {
    let mut m = Map::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| ApiError::InvalidRequest(format!("label `{pair}` is not key=value")))?;
        m.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
    }
    Ok(m)
}

/// `GET /ui/projects/{id}/deployments`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let history = deployments::list(state.pool(), p.id).await?;
    let built = artifacts::list(state.pool(), Some(p.id)).await?;
    let body = html! {
        (layout::project_header(&p, Tab::Deployments))
        h2 { "Deploy" }
        @if built.is_empty() {
            (layout::empty("Nothing to deploy yet.", html! { "Compile a spec first: deployments send an artifact of this project to its connected data planes." }))
        } @else {
            form.card method="get" action={ "/ui/projects/" (p.id) "/deploy" } {
                label for="artifact" { "Artifact" }
                select #artifact name="artifact_id" required {
                    @for a in &built {
                        option value=(a.id) { (a.created_at.format("%Y-%m-%d %H:%M:%S UTC")) " — " (a.artifact_hash.chars().take(19).collect::<String>()) }
                    }
                }
                label for="labels" { "Only nodes with these labels (optional)" }
                input #labels type="text" name="labels" placeholder="region=eu, tier=edge";
                p.hint { "The next page shows what would change, node by node, before anything is sent." }
                button type="submit" { "Review the deployment…" }
            }
        }
        h2 { "History" }
        @if history.is_empty() {
            (layout::empty("No deployment yet.", html! { "Review and confirm one above; connected nodes pull the artifact, verify it and swap it in." }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "When" } th scope="col" { "Artifact" } th scope="col" { "Target" } th scope="col" { "Why" } } }
                tbody {
                    @for d in &history {
                        tr {
                            td data-label="When" { a href={ "/ui/deployments/" (d.id) } { (layout::time(d.created_at)) } }
                            td data-label="Artifact" { a href={ "/ui/artifacts/" (d.artifact_id) } { (layout::hash(d.artifact_hash.as_deref())) } }
                            td data-label="Target" {
                                @if d.data_plane_id.is_some() { "one node" } @else { (layout::labels(&d.labels)) }
                            }
                            td data-label="Why" {
                                @if let Some(r) = d.remediation_id { a href={ "/ui/drift/audit#r-" (r) } { "approved remediation" } } @else { "operator" }
                            }
                        }
                    }
                }
            } }
        }
    };
    Ok(Html(layout::page(&p.name, &session, Nav::Projects, body).into_string()).into_response())
}

/// `?artifact_id=&labels=`.
#[derive(Debug, Deserialize)]
pub struct Proposed {
    artifact_id: String,
    #[serde(default)]
    labels: String,
}

/// `GET /ui/projects/{id}/deploy?artifact_id=&labels=`: the confirmation step. Changes
/// nothing; names the artifact, every node that would receive it, what each serves now, and
/// the routes and plugins that would change.
pub async fn confirm(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<Proposed>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let artifact_id = parse_id("artifact", &q.artifact_id)?;
    let target = match artifacts::get(state.pool(), artifact_id).await? {
        Some((a, _)) if a.project_id == p.id => a,
        _ => return Err(ApiError::not_found("artifact", &q.artifact_id).into()),
    };
    let labels = Value::Object(parse_labels(&q.labels)?);
    let nodes: Vec<_> = data_planes::list(state.pool(), p.id, None, &labels)
        .await?
        .into_iter()
        .filter(|n| n.mode == "connected")
        .collect();
    let to = load(&state, target.id).await;
    // What changes, per distinct artifact the targeted nodes serve now.
    let mut diffs: Vec<(Option<String>, Value, usize)> = Vec::new();
    for n in &nodes {
        if let Some(d) = diffs.iter_mut().find(|(h, _, _)| *h == n.artifact_hash) {
            d.2 += 1;
            continue;
        }
        let from = match &n.artifact_hash {
            Some(h) => artifacts::by_hash(state.pool(), p.id, h).await?,
            None => None,
        };
        let from = match from {
            Some((fid, _)) => load(&state, fid).await,
            None => None,
        };
        let change = match (&from, &to) {
            (Some(a), Some(b)) => crate::drift::dry_run::changes(a, b)
                .unwrap_or_else(|e| serde_json::json!({"unknown": e})),
            _ => {
                serde_json::json!({"unknown": "the control plane does not hold the artifact served now"})
            }
        };
        diffs.push((n.artifact_hash.clone(), change, 1));
    }
    let body = html! {
        (layout::project_header(&p, Tab::Deployments))
        h2 { "Confirm the deployment" }
        dl.facts {
            dt { "Artifact" } dd { a href={ "/ui/artifacts/" (target.id) } { code { (target.artifact_hash) } } }
            dt { "Built" } dd { (layout::time(target.created_at)) }
            dt { "Label selector" } dd { (layout::labels(&labels)) }
            dt { "Nodes" } dd { (nodes.len()) " connected node(s) match" }
        }
        @if nodes.is_empty() {
            p.warning { "No connected node matches: the deployment is recorded and sent to matching nodes when they connect." }
        } @else {
            div.scroll { table.stack {
                caption { "Nodes that will be told to pull this artifact" }
                thead { tr { th scope="col" { "Node" } th scope="col" { "Serves now" } th scope="col" { "Will serve" } th scope="col" { "Connection" } } }
                tbody {
                    @for n in &nodes {
                        tr {
                            td data-label="Node" { (n.name) }
                            td data-label="Serves now" { (layout::hash(n.artifact_hash.as_deref())) }
                            td data-label="Will serve" {
                                @if n.artifact_hash.as_deref() == Some(target.artifact_hash.as_str()) { "no change" } @else { (layout::hash(Some(&target.artifact_hash))) }
                            }
                            td data-label="Connection" { (layout::badge(&n.status)) }
                        }
                    }
                }
            } }
        }
        @for (from, change, count) in &diffs {
            h3 { "From " (layout::hash(from.as_deref())) " (" (count) " node(s))" }
            (layout::changes(change))
        }
        form.card method="post" action={ "/ui/projects/" (p.id) "/deployments" } {
            (csrf::field(&session))
            input type="hidden" name="artifact_id" value=(target.id);
            input type="hidden" name="labels" value=(q.labels);
            p { "Deploy " code { (target.artifact_hash) } " to " (nodes.len()) " node(s)?" }
            div.actions {
                button #confirm-deploy type="submit" { "Deploy now" }
                a href={ "/ui/projects/" (p.id) "/deployments" } { "Cancel" }
            }
        }
    };
    Ok(
        Html(layout::page("Confirm deployment", &session, Nav::Projects, body).into_string())
            .into_response(),
    )
}

/// `POST /ui/projects/{id}/deployments` fields (from the confirmation page).
#[derive(Debug, Deserialize)]
pub struct Deploy {
    artifact_id: String,
    #[serde(default)]
    labels: String,
}

/// `POST /ui/projects/{id}/deployments`: `api::deployments::deploy_artifact`, like
/// `POST /projects/{id}/deploy`.
pub async fn deploy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Deploy>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let made = crate::api::deployments::deploy_artifact(
        &state,
        p.id,
        &form.artifact_id,
        parse_labels(&form.labels)?,
    )
    .await?;
    Ok(see_other(&format!(
        "/ui/deployments/{}",
        made.deployment.id
    )))
}

/// `GET /ui/deployments/{id}`: each node's outcome, live.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let uuid = parse_id("deployment", &id)?;
    let d = deployments::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment", &id))?;
    let nodes = deployments::nodes(state.pool(), uuid).await?;
    let p = match d.project_id {
        Some(pid) => Some(project(&state, &pid.to_string()).await?),
        None => None,
    };
    let body = html! {
        @if let Some(p) = &p { p.crumbs { a href="/ui/" { "Projects" } " / " a href={ "/ui/projects/" (p.id) "/deployments" } { (p.name) } " / " } }
        h1 { "Deployment" }
        dl.facts {
            dt { "Made" } dd { (layout::time(d.created_at)) }
            dt { "Artifact" } dd { a href={ "/ui/artifacts/" (d.artifact_id) } { (layout::hash(d.artifact_hash.as_deref())) } }
            dt { "Target" } dd { @if d.data_plane_id.is_some() { "one node (remediation)" } @else { (layout::labels(&d.labels)) } }
        }
        p #live-status.live-status aria-live="polite" {}
        div #deployment-nodes data-live="2" {
            @if nodes.is_empty() {
                (layout::empty("No node matched.", html! { "Nodes whose labels match get this deployment when they connect." }))
            } @else {
                div.scroll { table.stack {
                    caption { "Outcome per node" }
                    thead { tr { th scope="col" { "Node" } th scope="col" { "State" } th scope="col" { "Reported hash" } th scope="col" { "Reason" } th scope="col" { "Updated" } } }
                    tbody {
                        @for n in &nodes {
                            tr {
                                td data-label="Node" { (n.name) }
                                td data-label="State" { (layout::badge(&n.state)) }
                                td data-label="Reported hash" { (layout::hash(n.reported_hash.as_deref())) }
                                td data-label="Reason" { (n.reason.as_deref().unwrap_or("")) }
                                td data-label="Updated" { (layout::time(n.updated_at)) }
                            }
                        }
                    }
                } }
            }
        }
    };
    Ok(
        Html(layout::page("Deployment", &session, Nav::Projects, body).into_string())
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        assert_eq!(parse_labels("").unwrap(), Map::new());
        let m = parse_labels(" region=eu , tier=edge").unwrap();
        assert_eq!(m["region"], "eu");
        assert_eq!(m["tier"], "edge");
        assert!(parse_labels("nokey").is_err());
    }
}
