//! Drift: `/ui/drift` (findings, open first, live), `/ui/drift/findings/{id}` (the finding,
//! its history timeline, its remediations with their dry runs as diffs, and the human gate:
//! propose, approve or reject with a comment), `/ui/drift/audit` (every proposal and
//! decision, who and when). Writes go through `drift::remediate`, as the API's do.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::see_other;
use crate::api::extract::parse_id;
use crate::api::remediations::person;
use crate::db::drift::{self as db_drift, Filter, FindingRow};
use crate::db::projects;
use crate::db::remediations::{self, Remediation};
use crate::drift::remediate::{self, Actor};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::csrf::{self, CsrfForm};
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav};
use crate::ui::session::Session;

/// `?project=&node=&kind=&state=open|resolved|all`.
#[derive(Debug, Default, Deserialize)]
pub struct FindingQuery {
    project: Option<String>,
    node: Option<String>,
    kind: Option<String>,
    state: Option<String>,
}

fn uuid_param(v: &Option<String>, what: &str) -> Result<Option<uuid::Uuid>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::InvalidRequest(format!("`{what}={s}` is not a UUID"))),
        None => Ok(None),
    }
}

fn findings_table(rows: &[FindingRow], caption: &str) -> Markup {
    html! {
        div.scroll { table.stack {
            caption { (caption) " (" (rows.len()) ")" }
            thead { tr {
                th scope="col" { "Finding" } th scope="col" { "Node" } th scope="col" { "Desired" }
                th scope="col" { "Observed" } th scope="col" { "First seen" } th scope="col" { "Last seen" }
                th scope="col" { "State" }
            } }
            tbody {
                @for f in rows {
                    tr data-finding=(f.id) {
                        td data-label="Finding" { a href={ "/ui/drift/findings/" (f.id) } { (f.kind) } }
                        td data-label="Node" { (f.data_plane) }
                        td data-label="Desired" { (layout::hash(f.desired_hash.as_deref())) }
                        td data-label="Observed" { (layout::hash(f.observed_hash.as_deref())) }
                        td data-label="First seen" { (layout::time(f.first_seen)) }
                        td data-label="Last seen" { (layout::opt_time(f.last_seen, "")) }
                        td data-label="State" {
                            @match f.resolved_at {
                                Some(at) => { (layout::badge("resolved")) " " (layout::time(at)) }
                                None => { (layout::badge("open")) }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// `GET /ui/drift`: open findings first, then resolved ones.
pub async fn findings(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<FindingQuery>,
) -> Result<Response, UiError> {
    let filter = Filter {
        project: uuid_param(&q.project, "project")?,
        node: uuid_param(&q.node, "node")?,
        kind: q.kind.clone().filter(|k| !k.is_empty()),
        ..Filter::default()
    };
    let all = db_drift::findings(state.pool(), &filter).await?;
    let (open, resolved): (Vec<FindingRow>, Vec<FindingRow>) =
        all.into_iter().partition(|f| f.resolved_at.is_none());
    let which = q.state.as_deref().unwrap_or("all");
    let project_list = projects::list(state.pool()).await?;
    let body = html! {
        h1 { "Drift" }
        p { "Does every gateway run exactly what was approved? Findings are opened and resolved by the drift engine's passes; only a person converges a node, here." }
        form.filters method="get" action="/ui/drift" role="search" aria-label="Filter findings" {
            div {
                label for="d-project" { "Project" }
                select #d-project name="project" {
                    option value="" { "any" }
                    @for p in &project_list { option value=(p.id) selected[filter.project == Some(p.id)] { (p.name) } }
                }
            }
            div {
                label for="d-kind" { "Kind" }
                select #d-kind name="kind" {
                    option value="" { "any" }
                    @for k in ["content-mismatch", "signature-invalid", "hash-mismatch", "unknown-artifact", "rejected-deploy", "unreachable", "no-desired-state"] {
                        option value=(k) selected[filter.kind.as_deref() == Some(k)] { (k) }
                    }
                }
            }
            div {
                label for="d-state" { "State" }
                select #d-state name="state" {
                    @for s in ["all", "open", "resolved"] { option value=(s) selected[which == s] { (s) } }
                }
            }
            @if let Some(n) = filter.node { input type="hidden" name="node" value=(n); }
            button type="submit" { "Filter" }
        }
        p #live-status.live-status aria-live="polite" {}
        div #findings data-live="3" {
            @if which != "resolved" {
                h2 { "Open" }
                @if open.is_empty() {
                    (layout::empty("No open finding: every observed node runs what was approved.", html! {
                        "Findings appear here within one drift interval of a node drifting. "
                        a href="/ui/fleet" { "See the fleet" } "."
                    }))
                } @else { (findings_table(&open, "Open findings")) }
            }
            @if which != "open" {
                h2 { "Resolved" }
                @if resolved.is_empty() { p.muted { "None." } } @else { (findings_table(&resolved, "Resolved findings")) }
            }
        }
    };
    Ok(Html(layout::page("Drift", &session, Nav::Drift, body).into_string()).into_response())
}

/// One entry of a finding's timeline.
struct Event {
    at: DateTime<Utc>,
    what: Markup,
}

fn timeline(f: &FindingRow, rems: &[Remediation]) -> Vec<Event> {
    let mut events = vec![Event {
        at: f.first_seen,
        what: html! { "Opened: " strong { (f.kind) } " on " (f.data_plane) },
    }];
    if let Some(last) = f.last_seen.filter(|l| *l > f.first_seen) {
        events.push(Event {
            at: last,
            what: html! { "Last seen holding (" (f.observations) " observation(s) in all)" },
        });
    }
    for r in rems {
        events.push(Event {
            at: r.created_at,
            what: html! { "Remediation proposed by " (r.proposed_by.as_deref().unwrap_or("an admin")) },
        });
        if let Some(at) = r.decided_at {
            events.push(Event {
                at,
                what: html! {
                    "Remediation " (layout::badge(&r.state)) " by " (r.decided_by.as_deref().unwrap_or("?"))
                    @if let Some(c) = r.comment.as_deref().filter(|c| !c.is_empty()) { ": “" (c) "”" }
                },
            });
        }
    }
    if let Some(at) = f.resolved_at {
        events.push(Event {
            at,
            what: html! { strong { "Resolved" } ": a pass no longer saw it" },
        });
    }
    events.sort_by_key(|e| e.at);
    events
}

fn outcome(r: &Remediation) -> Markup {
    let Some(o) = &r.outcome else {
        return html! {};
    };
    html! {
        @match o.get("action").and_then(Value::as_str) {
            Some("deployed") => {
                p.notice {
                    "Deployed to the node"
                    @if let Some(d) = o.get("deployment_id").and_then(Value::as_str) {
                        ": " a href={ "/ui/deployments/" (d) } { "follow the deployment" }
                    }
                    ". The next drift pass verifies the result."
                }
            }
            Some("manual_action_required") => {
                p.warning { "Nothing can be sent to this node: run these commands, then the next pass verifies." }
                pre tabindex="0" { @for c in o.get("commands").and_then(Value::as_array).into_iter().flatten() { (c.as_str().unwrap_or("")) "\n" } }
            }
            _ => { p.muted { "Nothing was changed." } }
        }
    }
}

fn remediation(r: &Remediation, session: &Session, open: bool) -> Markup {
    let dry = &r.dry_run;
    let action = dry
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    html! {
        article.remediation id={ "r-" (r.id) } aria-labelledby={ "rh-" (r.id) } {
            h3 id={ "rh-" (r.id) } { "Remediation " (layout::badge(&r.state)) }
            dl.facts {
                dt { "Proposed" } dd { (layout::time(r.created_at)) " by " (r.proposed_by.as_deref().unwrap_or("an admin"))
                    @if let Some(fp) = &r.token_fingerprint { " (token " code { (fp) } ")" } }
                dt { "Node" } dd { (r.data_plane) " (" (r.mode) ")" }
                dt { "From" } dd { (layout::hash(r.from_hash.as_deref())) }
                dt { "To" } dd { (layout::hash(Some(&r.to_hash))) }
                dt { "Action on approval" } dd {
                    @if action == "deploy" { "deploy the desired artifact to this one node" }
                    @else { "manual: the control plane cannot send it; the commands are shown on approval" }
                }
                @if let Some(at) = r.decided_at {
                    dt { "Decided" } dd { (layout::time(at)) " by " (r.decided_by.as_deref().unwrap_or("?"))
                        @if let Some(fp) = &r.decision_token_fingerprint { " (token " code { (fp) } ")" } }
                    dt { "Comment" } dd { (r.comment.as_deref().filter(|c| !c.is_empty()).unwrap_or("none")) }
                }
            }
            h4 { "Dry run: what approving would change" }
            (layout::changes(dry.get("changes").unwrap_or(&Value::Null)))
            (outcome(r))
            @if r.state == "proposed" && open {
                div.decide {
                form.card method="post" action={ "/ui/remediations/" (r.id) "/approve" } aria-label="Approve" {
                    (csrf::field(session))
                    h4 { "Approve" }
                    p.hint { "The desired artifact is sent to this node now; the next drift pass verifies." }
                    label for={ "by-a-" (r.id) } { "Your name (recorded)" }
                    input id={ "by-a-" (r.id) } type="text" name="by" required maxlength="200" autocomplete="name";
                    label for={ "c-a-" (r.id) } { "Comment (ticket, reason)" }
                    textarea id={ "c-a-" (r.id) } name="comment" {}
                    button.approve type="submit" { "Approve and converge" }
                }
                form.card method="post" action={ "/ui/remediations/" (r.id) "/reject" } aria-label="Reject" {
                    (csrf::field(session))
                    h4 { "Reject" }
                    p.hint { "Recorded; nothing is changed." }
                    label for={ "by-r-" (r.id) } { "Your name (recorded)" }
                    input id={ "by-r-" (r.id) } type="text" name="by" required maxlength="200" autocomplete="name";
                    label for={ "c-r-" (r.id) } { "Comment" }
                    textarea id={ "c-r-" (r.id) } name="comment" {}
                    button.danger.reject type="submit" { "Reject" }
                }
                }
            }
        }
    }
}

/// `GET /ui/drift/findings/{id}`.
pub async fn finding(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let uuid = parse_id("finding", &id)?;
    let f = db_drift::finding(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("finding", &id))?;
    let rems = remediations::for_finding(state.pool(), uuid).await?;
    let open = f.resolved_at.is_none();
    let remediable = !matches!(f.kind.as_str(), "unreachable" | "no-desired-state");
    let pending = rems.iter().any(|r| r.state == "proposed");
    let body = html! {
        p.crumbs { a href="/ui/drift" { "Drift" } " / " }
        h1 { (f.kind) " on " span.node-name { (f.data_plane) } }
        p #live-status.live-status aria-live="polite" {}
        div #finding data-live="3" {
            dl.facts {
                dt { "State" } dd #finding-state { @if open { (layout::badge("open")) } @else { (layout::badge("resolved")) } }
                dt { "Desired" } dd { (layout::hash(f.desired_hash.as_deref())) }
                dt { "Observed" } dd { (layout::hash(f.observed_hash.as_deref())) }
                dt { "Node" } dd { a href={ "/ui/projects/" (f.project_id) "/fleet" } { (f.data_plane) } }
            }
            h2 { "History" }
            ol.timeline {
                @for e in timeline(&f, &rems) { li { (layout::time(e.at)) " — " (e.what) } }
            }
        }
        h2 { "Remediations" }
        @if open && remediable && !pending {
            form.card method="post" action={ "/ui/drift/findings/" (f.id) "/propose" } {
                (csrf::field(&session))
                p { "A proposal changes nothing: it computes a dry run of what converging this node would change. A person then approves or rejects it." }
                label for="proposed-by" { "Your name (recorded)" }
                input #proposed-by type="text" name="by" maxlength="200" autocomplete="name";
                button #propose type="submit" { "Propose a remediation" }
            }
        } @else if open && !remediable {
            p.warning { @if f.kind == "unreachable" { "An unreachable node cannot be sent anything: bring it back; the next observation resolves this." } @else { "There is nothing to converge to: deploy an artifact or set a known-good first." } }
        }
        @if rems.is_empty() {
            @if !open { p.muted { "No remediation was proposed." } }
        } @else {
            @for r in &rems { (remediation(r, &session, open)) }
        }
    };
    Ok(Html(layout::page("Finding", &session, Nav::Drift, body).into_string()).into_response())
}

/// The name field of the gate's forms.
#[derive(Debug, Deserialize)]
pub struct Decide {
    #[serde(default)]
    by: String,
    #[serde(default)]
    comment: String,
}

fn actor(session: &Session, name: Option<String>) -> Actor {
    Actor {
        name,
        token_fingerprint: session.token_fingerprint.clone(),
    }
}

/// `POST /ui/drift/findings/{id}/propose`: `drift::remediate::propose`.
pub async fn propose(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Decide>,
) -> Result<Response, UiError> {
    let finding = parse_id("finding", &id)?;
    let name = match form.by.trim() {
        "" => None,
        n => Some(person(n, "by")?),
    };
    let r = remediate::propose(&state, finding, &actor(&session, name)).await?;
    Ok(see_other(&format!(
        "/ui/drift/findings/{finding}#r-{}",
        r.id
    )))
}

/// `POST /ui/remediations/{id}/approve`: `drift::remediate::approve`, recorded with the
/// name given and the session's token fingerprint.
pub async fn approve(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Decide>,
) -> Result<Response, UiError> {
    let uuid = parse_id("remediation", &id)?;
    let by = person(&form.by, "by")?;
    let server = match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("{}://{host}", state.scheme()),
        None => "<control-plane-url>".into(),
    };
    let r = remediate::approve(
        &state,
        uuid,
        &actor(&session, Some(by.clone())),
        &by,
        form.comment.trim(),
        &server,
    )
    .await?;
    Ok(see_other(&format!(
        "/ui/drift/findings/{}#r-{}",
        r.finding_id, r.id
    )))
}

/// `POST /ui/remediations/{id}/reject`: `drift::remediate::reject`; nothing else changes.
pub async fn reject(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Decide>,
) -> Result<Response, UiError> {
    let uuid = parse_id("remediation", &id)?;
    let by = person(&form.by, "by")?;
    let r = remediate::reject(
        &state,
        uuid,
        &actor(&session, Some(by.clone())),
        &by,
        form.comment.trim(),
    )
    .await?;
    Ok(see_other(&format!(
        "/ui/drift/findings/{}#r-{}",
        r.finding_id, r.id
    )))
}

/// `GET /ui/drift/audit`: the latest 200 proposals and decisions.
pub async fn audit(State(state): State<AppState>, session: Session) -> Result<Response, UiError> {
    let all = remediations::recent(state.pool(), None, 200).await?;
    let body = html! {
        h1 { "Audit trail" }
        p { "Every remediation proposed and every decision, newest first: who, when, with which admin token (its fingerprint) and why." }
        @if all.is_empty() {
            (layout::empty("No remediation yet.", html! { "Proposals are made from an open finding on the " a href="/ui/drift" { "Drift" } " page." }))
        } @else {
            div.scroll { table.stack {
                thead { tr {
                    th scope="col" { "Proposed" } th scope="col" { "Node" } th scope="col" { "From → to" }
                    th scope="col" { "Decision" } th scope="col" { "By" } th scope="col" { "Comment" } th scope="col" { "Outcome" }
                } }
                tbody {
                    @for r in &all {
                        tr id={ "r-" (r.id) } {
                            td data-label="Proposed" {
                                a href={ "/ui/drift/findings/" (r.finding_id) "#r-" (r.id) } { (layout::time(r.created_at)) }
                                br; span.muted { "by " (r.proposed_by.as_deref().unwrap_or("an admin")) }
                            }
                            td data-label="Node" { (r.data_plane) }
                            td data-label="From → to" { (layout::hash(r.from_hash.as_deref())) " → " (layout::hash(Some(&r.to_hash))) }
                            td data-label="Decision" { (layout::badge(&r.state)) @if let Some(at) = r.decided_at { br; (layout::time(at)) } }
                            td data-label="By" {
                                (r.decided_by.as_deref().unwrap_or(""))
                                @if let Some(fp) = &r.decision_token_fingerprint { br; span.muted { "token " code { (fp) } } }
                            }
                            td data-label="Comment" { (r.comment.as_deref().unwrap_or("")) }
                            td data-label="Outcome" { (r.outcome.as_ref().and_then(|o| o.get("action")).and_then(Value::as_str).unwrap_or("")) }
                        }
                    }
                }
            } }
        }
    };
    Ok(Html(layout::page("Audit trail", &session, Nav::Audit, body).into_string()).into_response())
}
