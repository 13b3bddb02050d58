//! `/ui/projects/{id}/api-keys`: a project's keys (never their secrets), a new key shown
//! once on the page that creates it, revocation.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::{project, see_other};
use crate::api::api_keys::{NewApiKey, SCOPES};
use crate::db::api_keys;
use crate::db::projects::Project;
use crate::state::AppState;
use crate::ui::csrf::{self, CsrfForm, NoFields};
use crate::ui::error::UiError;
use crate::ui::layout::{self, Nav, Tab};
use crate::ui::session::Session;

async fn page(
    state: &AppState,
    session: &Session,
    p: &Project,
    created: Option<(String, String)>,
) -> Result<Response, UiError> {
    let keys = api_keys::list(state.pool(), p.id).await?;
    let shown: Markup = match &created {
        Some((name, key)) => html! {
            div.notice role="status" {
                p { strong { "Key “" (name) "” created. Copy it now: it is shown only this once." } }
                p { label for="new-key" { "The key" } }
                input #new-key.secret type="text" readonly value=(key);
                p.hint { "Give it to a data plane as " code { "BARBACANE_API_KEY" } " (or " code { "--api-key" } ")." }
            }
        },
        None => html! {},
    };
    let body = html! {
        (layout::project_header(p, Tab::Keys))
        (shown)
        @if keys.is_empty() {
            (layout::empty("No API key.", html! { "Create one below: data planes connect with a key holding " code { "data-plane:connect" } "." }))
        } @else {
            div.scroll { table.stack {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Scopes" } th scope="col" { "State" } th scope="col" { "Last used" } th scope="col" { "Action" } } }
                tbody {
                    @for k in &keys {
                        tr {
                            td data-label="Name" { (k.name) }
                            td data-label="Prefix" { code { (k.prefix) "…" } }
                            td data-label="Scopes" { (k.scopes.join(", ")) }
                            td data-label="State" {
                                @if k.revoked_at.is_some() { (layout::badge("revoked")) } @else { (layout::badge("active")) }
                                @if let Some(e) = k.expires_at { br; span.muted { "expires " (layout::time(e)) } }
                            }
                            td data-label="Last used" { (layout::opt_time(k.last_used_at, "never")) }
                            td data-label="Action" {
                                @if k.revoked_at.is_none() {
                                    form.inline method="post" action={ "/ui/projects/" (p.id) "/api-keys/" (k.id) "/revoke" } {
                                        (csrf::field(session))
                                        button.danger type="submit" { "Revoke " span.sr { (k.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
        h2 { "New key" }
        form.card method="post" action={ "/ui/projects/" (p.id) "/api-keys" } {
            (csrf::field(session))
            label for="key-name" { "Name" }
            input #key-name type="text" name="name" required maxlength="128";
            fieldset {
                legend { "Scopes" }
                @for s in SCOPES {
                    label { input type="checkbox" name="scope" value=(s) checked; " " code { (s) } }
                }
            }
            button type="submit" { "Create key" }
        }
    };
    Ok(Html(layout::page("API keys", session, Nav::Projects, body).into_string()).into_response())
}

/// `GET /ui/projects/{id}/api-keys`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    page(&state, &session, &p, None).await
}

/// `POST /ui/projects/{id}/api-keys` (`name`, `scope` repeated): `api::api_keys::create_key`;
/// the answer is the page with the key (never stored, never cached: `Cache-Control:
/// no-store`).
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    let field = |name: &'static str| {
        pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let request = NewApiKey {
        name: field("name").next().unwrap_or_default(),
        scopes: Some(field("scope").collect()),
        expires_at: None,
    };
    let (created, key) = crate::api::api_keys::create_key(&state, p.id, &request).await?;
    page(&state, &session, &p, Some((created.name, key))).await
}

/// `POST /ui/projects/{id}/api-keys/{key}/revoke`: `api::api_keys::revoke_key`.
pub async fn revoke(
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, UiError> {
    let p = project(&state, &id).await?;
    crate::api::api_keys::revoke_key(&state, p.id, &key).await?;
    Ok(see_other(&format!("/ui/projects/{}/api-keys", p.id)))
}
