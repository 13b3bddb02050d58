//! `/ui/webhooks` and `/ui/webhooks/{id}`: webhooks and their deliveries with every
//! attempt. Receivers' answers are untrusted: only the status, error and duration the
//! sender recorded are shown, escaped. Webhooks are added with the API or the CLI.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde_json::Value;

use crate::api::extract::parse_id;
use crate::db::webhooks;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav};
use crate::ui::session::Session;

/// `GET /ui/webhooks`.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Response, UiError> {
    let all = webhooks::list(state.pool()).await?;
    let body = html! {
        h1 { "Webhooks" }
        @if all.is_empty() {
            (layout::empty("No webhook.", html! {
                "Add one with " code { "barbacane-control webhook add --url URL --secret env://VAR --event drift_detected" }
                " (or " code { "POST /webhooks" } "): drift and remediation events are then delivered, signed, with retries."
            }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Secret" } th scope="col" { "Scope" } th scope="col" { "Added" } } }
                tbody {
                    @for w in &all {
                        tr {
                            td data-label="URL" { a href={ "/ui/webhooks/" (w.id) } { code { (w.url) } } }
                            td data-label="Events" { (w.events.join(", ")) }
                            td data-label="Secret" { code { (w.secret_ref) } }
                            td data-label="Scope" { @if let Some(p) = w.project_id { a href={ "/ui/projects/" (p) } { "one project" } } @else { "every project" } }
                            td data-label="Added" { (layout::time(w.created_at)) }
                        }
                    }
                }
            } }
        }
    };
    Ok(Html(layout::page("Webhooks", &session, Nav::Webhooks, body).into_string()).into_response())
}

/// `GET /ui/webhooks/{id}`: the latest 100 deliveries.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let uuid = parse_id("webhook", &id)?;
    let w = webhooks::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", &id))?;
    let deliveries = webhooks::deliveries(state.pool(), uuid, 100).await?;
    let body = html! {
        p.crumbs { a href="/ui/webhooks" { "Webhooks" } " / " }
        h1 { code { (w.url) } }
        dl.facts {
            dt { "Events" } dd { (w.events.join(", ")) }
            dt { "Secret reference" } dd { code { (w.secret_ref) } }
            dt { "Added" } dd { (layout::time(w.created_at)) }
        }
        h2 { "Deliveries" }
        p #live-status.live-status aria-live="polite" {}
        div #deliveries data-live="5" {
            @if deliveries.is_empty() {
                (layout::empty("Nothing delivered yet.", html! { "Deliveries are queued when a subscribed event happens (a finding opens or resolves, a remediation is proposed or decided)." }))
            } @else {
                div.scroll { table.stack {
                    thead { tr { th scope="col" { "Queued" } th scope="col" { "Event" } th scope="col" { "State" } th scope="col" { "Attempts" } } }
                    tbody {
                        @for d in &deliveries {
                            tr {
                                td data-label="Queued" { (layout::time(d.created_at)) }
                                td data-label="Event" { code { (d.event) } }
                                td data-label="State" { (layout::badge(&d.state)) }
                                td data-label="Attempts" {
                                    ol {
                                        @for a in d.log.as_array().into_iter().flatten() {
                                            li {
                                                @if let Some(s) = a.get("status").and_then(Value::as_i64) { "HTTP " (s) }
                                                @if let Some(e) = a.get("error").and_then(Value::as_str) { " " (e) }
                                                @if let Some(ms) = a.get("duration_ms").and_then(Value::as_i64) { span.muted { " (" (ms) " ms)" } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    };
    Ok(Html(layout::page("Webhook", &session, Nav::Webhooks, body).into_string()).into_response())
}
