//! One module per page family. Each handler reads through `db::*` (the queries the API
//! serves) and writes through the API's service functions, then renders with `layout`.

pub mod api_keys;
pub mod artifacts;
pub mod deployments;
pub mod drift;
pub mod fleet;
pub mod projects;
pub mod specs;
pub mod webhooks;

use crate::api::extract::parse_id;
use crate::db::projects::Project;
use crate::error::ApiError;
use crate::state::AppState;

/// The project `id` names (404 when none).
pub(crate) async fn project(state: &AppState, id: &str) -> Result<Project, ApiError> {
    let uuid = parse_id("project", id)?;
    crate::db::projects::get(state.pool(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("project", id))
}

/// A `303 See Other` to `to` (after a form: the browser then `GET`s the result).
pub(crate) fn see_other(to: &str) -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::response::Redirect::to(to))
}
