//! Logging in to the UI: an admin token (the API's tokens, checked by the same posture)
//! becomes a session cookie. Sessions live in Postgres (`db::ui_sessions`), so every control
//! plane sharing the database honours them; they end after [`LIFETIME`]'s idle or absolute
//! limit, at logout, or as soon as the token that opened them is no longer accepted.
//!
//! The cookie is `HttpOnly`, `SameSite=Strict`, `Path=/ui`, and `Secure` when the listener
//! serves TLS. Only its SHA-256 is stored.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header, request::Parts};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use std::time::Duration;

use super::error::UiError;
use super::layout;
use crate::db::ui_sessions::{self, Lifetime, UiSession};
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "barbacane_session";
/// The login form's own anti-forgery cookie (there is no session yet to tie a token to).
pub const LOGIN_COOKIE: &str = "barbacane_login";
/// 8 hours without a request, or 12 hours after login, whichever comes first.
pub const LIFETIME: Lifetime = Lifetime {
    idle: Duration::from_secs(8 * 3600),
    absolute: Duration::from_secs(12 * 3600),
};
/// Requests with this header (the live views' polling) check the session without extending
/// it, so an open tab does not keep a session alive forever.
pub const POLL_HEADER: &str = "x-barbacane-poll";

/// The signed-in session of a request, put there by [`require`].
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie.
    pub id_sha256: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The fingerprint of the admin token that opened it, recorded next to decisions.
    pub token_fingerprint: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, UiError> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| UiError::Api(ApiError::Internal("UI route without a session".into())))
    }
}

/// 32 random bytes, hex.
pub fn random_hex() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a session: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn hex32(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.scheme() == "https" {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static("invalid=1"))
}

/// Whether the tokens accepted now still include the one that opened the session.
fn token_still_accepted(state: &AppState, session: &UiSession) -> bool {
    let posture = state.posture();
    if !posture.tokens.is_configured() {
        return true;
    }
    session
        .token_sha256
        .as_deref()
        .and_then(hex32)
        .is_some_and(|d| posture.tokens.accepts_digest(&d))
}

/// Middleware of every page but login and assets: the IP allowlist on the socket's peer,
/// then a live session (else a redirect to the login page).
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let ip = super::peer(&mut parts, &state).await;
    if !state.posture().allowlist.allows(ip) {
        tracing::warn!(peer = %ip, path = parts.uri.path(), "UI request from a forbidden address");
        return UiError::Forbidden.into_response();
    }
    let id = cookie(&parts.headers, COOKIE).map(|v| barbacane_artifact::sha256_hex(v.as_bytes()));
    let found = match id {
        Some(id) if parts.headers.contains_key(POLL_HEADER) => {
            // A poll: check without extending the idle limit.
            ui_sessions::check(state.pool(), &id, LIFETIME).await
        }
        Some(id) => ui_sessions::touch(state.pool(), &id, LIFETIME).await,
        None => Ok(None),
    };
    let session = match found {
        Ok(Some(s)) if token_still_accepted(&state, &s) => s,
        Ok(_) => return to_login(&parts),
        Err(e) => return UiError::from(e).into_response(),
    };
    parts.extensions.insert(Session {
        id_sha256: session.id_sha256,
        csrf: session.csrf_token,
        token_fingerprint: session.token_fingerprint,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// To the login page; a page asked for by `GET` is where login returns.
fn to_login(parts: &Parts) -> Response {
    if parts.headers.contains_key(POLL_HEADER) {
        // The live view stops polling when its session is gone.
        return (axum::http::StatusCode::UNAUTHORIZED, "session expired").into_response();
    }
    let target = if parts.method == Method::GET {
        let next = parts.uri.path_and_query().map_or("/ui/", |p| p.as_str());
        format!("/ui/login?next={}", urlencode(next))
    } else {
        "/ui/login".to_owned()
    };
    Redirect::to(&target).into_response()
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Only a path inside the UI is a place to return to (never another site: `//evil`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/ui/",
    }
}

/// `?next=` of the login page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /ui/login`: the form, with a fresh login anti-forgery cookie.
pub async fn login_page(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Result<Response, UiError> {
    let token = random_hex()?;
    Ok(login_form(
        &state,
        &token,
        safe_next(q.next.as_deref()),
        None,
        axum::http::StatusCode::OK,
    ))
}

fn login_form(
    state: &AppState,
    login_csrf: &str,
    next: &str,
    error: Option<&str>,
    status: axum::http::StatusCode,
) -> Response {
    let body = html! {
        h1 { "Sign in to Barbacane" }
        p { "Paste an admin token: the same token the API takes ("
            code { "BARBACANE_CONTROL_ADMIN_TOKEN" } " or a secondary token)." }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action="/ui/login" {
            input type="hidden" name="login_csrf" value=(login_csrf);
            input type="hidden" name="next" value=(next);
            label for="token" { "Admin token" }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Sign in" }
        }
        p.muted { "Sessions end after 8 hours without activity, 12 hours after sign-in, at sign-out, or when the token is rotated out." }
    };
    let page = layout::bare("Sign in", body);
    let mut response = (status, Html(page.into_string())).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, login_csrf, "/ui/login", Some(600)),
    );
    response
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    login_csrf: String,
    next: Option<String>,
}

/// `POST /ui/login`: the token is checked like an API request's bearer token (same posture,
/// constant time); a good one opens a session.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<axum::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, UiError> {
    let axum::Form(form) = form.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !super::csrf::same(expected, &form.login_csrf) {
        return Err(UiError::Csrf);
    }
    let next = safe_next(form.next.as_deref()).to_owned();
    let token = form.token.trim();
    // The allowlist was checked by the middleware; this is the API's token check (constant
    // time over digests; no token configured means none is needed, as on the API).
    let posture = state.posture();
    let accepted = !posture.tokens.is_configured() || posture.tokens.accepts(token.as_bytes());
    if !accepted {
        tracing::warn!("UI sign-in refused: token not accepted");
        let fresh = random_hex()?;
        return Ok(login_form(
            &state,
            &fresh,
            &next,
            Some("That token is not accepted."),
            axum::http::StatusCode::UNAUTHORIZED,
        ));
    }
    let cookie_value = random_hex()?;
    let (token_sha256, token_fingerprint) = if posture.tokens.is_configured() {
        let digest = barbacane_artifact::sha256_hex(token.as_bytes());
        let fingerprint = digest[..16].to_owned();
        (Some(digest), Some(fingerprint))
    } else {
        (None, None)
    };
    let session = UiSession {
        id_sha256: barbacane_artifact::sha256_hex(cookie_value.as_bytes()),
        csrf_token: random_hex()?,
        token_sha256,
        token_fingerprint,
    };
    ui_sessions::create(state.pool(), &session, LIFETIME).await?;
    tracing::info!(
        token = session.token_fingerprint.as_deref().unwrap_or("none"),
        "UI session opened"
    );
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, &cookie_value, "/ui", None),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_COOKIE, "", "/ui/login", Some(0)),
    );
    Ok(response)
}

/// `POST /ui/logout` (with the session's CSRF token): the session is deleted and the cookie
/// cleared.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    _form: super::csrf::CsrfForm<super::csrf::NoFields>,
) -> Result<Response, UiError> {
    ui_sessions::delete(state.pool(), &session.id_sha256).await?;
    tracing::info!("UI session closed");
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, "", "/ui", Some(0)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ui_paths_are_returned_to() {
        assert_eq!(
            safe_next(Some("/ui/fleet?status=online")),
            "/ui/fleet?status=online"
        );
        assert_eq!(safe_next(Some("//evil.example/ui/")), "/ui/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui/");
        assert_eq!(safe_next(Some("/ui/\\evil")), "/ui/");
        assert_eq!(safe_next(Some("/projects")), "/ui/");
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; barbacane_session_x=2"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("barbacane_session=3"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("3"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn digests_parse() {
        let d = barbacane_artifact::sha256_hex(b"t");
        assert!(hex32(&d).is_some());
        assert!(hex32("zz").is_none());
        assert!(hex32(&"g".repeat(64)).is_none());
    }
}
