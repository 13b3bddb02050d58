//! `/ui/fleet` and `/ui/projects/{id}/fleet`: every data plane with sync and health side by
//! side (Argo CD's two axes), what it serves, its version, when it was last seen, its
//! labels; filters in the query string; live with `app.js`.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::project;
use crate::db::data_planes::{self, DataPlane};
use crate::db::projects::{self, Project};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav, Tab};
use crate::ui::session::Session;

/// Filters, all optional: `?status=&sync=&health=&label=k=v&q=&project=`.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    status: Option<String>,
    sync: Option<String>,
    health: Option<String>,
    label: Option<String>,
    q: Option<String>,
    project: Option<String>,
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Filter {
    fn labels(&self) -> Result<Value, ApiError> {
        let mut m = Map::new();
        if let Some(l) = set(&self.label) {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| ApiError::InvalidRequest(format!("label `{l}` is not key=value")))?;
            m.insert(k.to_owned(), Value::String(v.to_owned()));
        }
        Ok(Value::Object(m))
    }

    fn keeps(&self, n: &DataPlane) -> bool {
        set(&self.sync).is_none_or(|s| n.sync == s)
            && set(&self.health).is_none_or(|h| n.health == h)
            && set(&self.q).is_none_or(|q| n.name.to_lowercase().contains(&q.to_lowercase()))
    }
}

async fn nodes(
    state: &AppState,
    projects: &[Project],
    f: &Filter,
) -> Result<Vec<(String, DataPlane)>, ApiError> {
    let status = set(&f.status);
    if let Some(s) = status
        && !matches!(s, "online" | "offline" | "deploying")
    {
        return Err(ApiError::InvalidRequest(format!(
            "status `{s}` is not online, offline or deploying"
        )));
    }
    let labels = f.labels()?;
    let mut out = Vec::new();
    for p in projects {
        for n in data_planes::list(state.pool(), p.id, status, &labels).await? {
            if f.keeps(&n) {
                out.push((p.name.clone(), n));
            }
        }
    }
    Ok(out)
}

fn select(name: &str, label: &str, current: Option<&str>, options: &[&str]) -> Markup {
    html! {
        div {
            label for={ "f-" (name) } { (label) }
            select #{ "f-" (name) } name=(name) {
                option value="" { "any" }
                @for o in options { option value=(o) selected[current == Some(*o)] { (o) } }
            }
        }
    }
}

fn filters(action: &str, f: &Filter, with_project: Option<&[Project]>) -> Markup {
    html! {
        form.filters method="get" action=(action) role="search" aria-label="Filter data planes" {
            @if let Some(all) = with_project {
                div {
                    label for="f-project" { "Project" }
                    select #f-project name="project" {
                        option value="" { "any" }
                        @for p in all { option value=(p.id) selected[set(&f.project) == Some(p.id.to_string().as_str())] { (p.name) } }
                    }
                }
            }
            (select("sync", "Sync", set(&f.sync), &["Synced", "OutOfSync", "Unknown"]))
            (select("health", "Health", set(&f.health), &["Healthy", "Degraded", "Unreachable", "Unknown"]))
            (select("status", "Connection", set(&f.status), &["online", "offline", "deploying"]))
            div {
                label for="f-label" { "Label" }
                input #f-label type="text" name="label" placeholder="region=eu" value=[set(&f.label)];
            }
            div {
                label for="f-q" { "Name contains" }
                input #f-q type="text" name="q" value=[set(&f.q)];
            }
            button type="submit" { "Filter" }
        }
    }
}

fn meta<'a>(n: &'a DataPlane, key: &str) -> Option<&'a str> {
    n.metadata.get(key).and_then(Value::as_str)
}

/// The fleet table (also the live region).
pub fn table(rows: &[(String, DataPlane)], show_project: bool) -> Markup {
    html! {
        div #fleet data-live="3" {
            @if rows.is_empty() {
                (layout::empty("No data plane matches.", html! {
                    "Start a gateway with " code { "barbacane serve --control-plane URL --api-key KEY" }
                    " (create the key on a project's API keys tab), or register a standalone node with "
                    code { "barbacane-control data-plane add" } ". Clear the filters to see every node."
                }))
            } @else {
                div.scroll { table.stack #fleet-table {
                    caption { (rows.len()) " data plane(s)" }
                    thead { tr {
                        th scope="col" { "Name" }
                        @if show_project { th scope="col" { "Project" } }
                        th scope="col" { "Sync" } th scope="col" { "Health" } th scope="col" { "Drift" }
                        th scope="col" { "Artifact" } th scope="col" { "Content" } th scope="col" { "Version" }
                        th scope="col" { "Last seen" } th scope="col" { "Labels" }
                    } }
                    tbody {
                        @for (project_name, n) in rows {
                            tr data-node=(n.id) {
                                td data-label="Name" {
                                    span.node-name { (n.name) }
                                    br; span.muted { (n.mode) ", " (n.status) }
                                }
                                @if show_project { td data-label="Project" { a href={ "/ui/projects/" (n.project_id) "/fleet" } { (project_name) } } }
                                td data-label="Sync" { (layout::badge(&n.sync)) }
                                td data-label="Health" { (layout::badge(&n.health)) }
                                td data-label="Drift" {
                                    @if n.open_findings > 0 {
                                        a href={ "/ui/drift?node=" (n.id) } { (layout::badge(n.condition.as_deref().unwrap_or("ConfigurationDrift"))) " " (n.open_findings) " open" }
                                    } @else { span.muted { "none" } }
                                    @if let Some(e) = &n.observation_error { br; span.muted { "poll: " (e) } }
                                }
                                td data-label="Artifact" { (layout::hash(n.artifact_hash.as_deref())) }
                                td data-label="Content" { (layout::hash(n.content_hash.as_deref())) }
                                td data-label="Version" { (meta(n, "version").unwrap_or("unknown")) }
                                td data-label="Last seen" { (layout::opt_time(n.last_seen, "never")) }
                                td data-label="Labels" { (layout::labels(&n.labels)) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// `GET /ui/fleet`: every project's nodes.
pub async fn all(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filter>,
) -> Result<Response, UiError> {
    let mut all = projects::list(state.pool()).await?;
    let listed: Vec<Project> = match set(&f.project) {
        Some(id) => all
            .iter()
            .filter(|p| p.id.to_string() == id)
            .cloned()
            .collect(),
        None => all.clone(),
    };
    let rows = nodes(&state, &listed, &f).await?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let body = html! {
        h1 { "Fleet" }
        (filters("/ui/fleet", &f, Some(&all)))
        p #live-status.live-status aria-live="polite" {}
        (table(&rows, true))
    };
    Ok(Html(layout::page("Fleet", &session, Nav::Fleet, body).into_string()).into_response())
}

/// `GET /ui/projects/{id}/fleet`.
pub async fn project_fleet(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(f): Query<Filter>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let rows = nodes(&state, std::slice::from_ref(&p), &f).await?;
    let body = html! {
        (layout::project_header(&p, Tab::Fleet))
        (filters(&format!("/ui/projects/{}/fleet", p.id), &f, None))
        p #live-status.live-status aria-live="polite" {}
        (table(&rows, false))
    };
    Ok(Html(layout::page(&p.name, &session, Nav::Projects, body).into_string()).into_response())
}
