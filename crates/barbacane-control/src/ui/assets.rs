//! The UI's only static files, compiled into the binary: no build step, nothing to deploy
//! beside it.

use axum::http::header;
use axum::response::IntoResponse;

/// The stylesheet (responsive, visible focus, no external fonts).
pub const CSS: &str = include_str!("assets/app.css");
/// Progressive enhancement only: local times and live fleet and drift views. Every page
/// and form works without it.
pub const JS: &str = include_str!("assets/app.js");

/// `GET /ui/assets/app.css`.
pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

/// `GET /ui/assets/app.js`.
pub async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}
