//! The UI's one error type: every failure is an HTML page with the API's status and words
//! (no internals: a 500 says "internal error" and the cause is logged).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use crate::error::ApiError;

/// What a UI request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Anything the API's service functions refuse, with the API's status.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The peer address is not in `--allow`.
    #[error("this address may not use the control plane")]
    Forbidden,
    /// A form without this session's anti-forgery token.
    #[error(
        "the form's anti-forgery token is missing or wrong: reload the page and submit it again"
    )]
    Csrf,
    /// No page here.
    #[error("no page at `{0}`")]
    NotFound(String),
}

impl From<sqlx::Error> for UiError {
    fn from(e: sqlx::Error) -> Self {
        UiError::Api(e.into())
    }
}

impl UiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            UiError::Api(e) => e.status(),
            UiError::Forbidden | UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match &self {
            UiError::Api(ApiError::Internal(reason)) => {
                tracing::error!(%reason, "internal error in the UI");
            }
            UiError::Api(ApiError::DatabaseUnavailable) => tracing::warn!("database unavailable"),
            UiError::Csrf => tracing::warn!("UI form refused: missing or wrong CSRF token"),
            _ => {}
        }
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let diagnostics = match &self {
            UiError::Api(ApiError::InvalidSpec { errors }) => errors.clone(),
            _ => Vec::new(),
        };
        let body = html! {
            h1 { (status.as_u16()) " " (title) }
            p.error role="alert" { (self.to_string()) }
            @if !diagnostics.is_empty() {
                (super::layout::diagnostics(&diagnostics))
            }
            p { a href="/ui/" { "Back to the projects" } }
        };
        let page = super::layout::bare(title, body);
        (status, Html(page.into_string())).into_response()
    }
}
