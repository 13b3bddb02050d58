//! Cross-site request forgery: every form of a session carries the session's synchronizer
//! token in a hidden `csrf` field ([`field`]); every `POST` is refused with 403 unless it
//! holds that token ([`CsrfForm`], and the spec upload's multipart check). The session
//! cookie is also `SameSite=Strict`; the token is the check that does not depend on the
//! browser.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::UiError;
use super::session::Session;
use crate::error::ApiError;
use crate::state::AppState;

/// Name of the hidden field.
pub const FIELD: &str = "csrf";

/// The hidden field every form of `session` carries.
pub fn field(session: &Session) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(session.csrf); }
}

/// Whether two tokens are equal, in time independent of where they differ (their length is
/// not secret: every token is 64 hex digits).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A form with no fields but the token (logout, compile buttons).
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// A `application/x-www-form-urlencoded` body whose `csrf` field is the session's token,
/// deserialized as `T` (unknown fields, the token included, are ignored).
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenOnly {
    csrf: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, UiError> {
        let session = req
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("form without a session".into()))?;
        let media = crate::api::extract::media_type(req.headers()).unwrap_or_default();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::InvalidRequest(format!("cannot read the form: {e}")))?;
        if media != "application/x-www-form-urlencoded" {
            // Not a form this UI renders; without the token in a field it is refused anyway.
            return Err(UiError::Csrf);
        }
        check(&session, &bytes)?;
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| UiError::Api(ApiError::InvalidRequest(format!("invalid form: {e}"))))
    }
}

/// Refuses a body whose `csrf` field is missing or not the session's.
fn check(session: &Session, body: &[u8]) -> Result<(), UiError> {
    let token: TokenOnly = serde_urlencoded::from_bytes(body).map_err(|_| UiError::Csrf)?;
    match token.csrf {
        Some(t) if same(&t, &session.csrf) => Ok(()),
        _ => Err(UiError::Csrf),
    }
}

/// Refuses multipart parts unless one `csrf` part holds the session's token; returns the
/// other parts.
pub fn check_parts(
    session: &Session,
    parts: Vec<crate::api::extract::Part>,
) -> Result<Vec<crate::api::extract::Part>, UiError> {
    let (tokens, rest): (Vec<_>, Vec<_>) = parts.into_iter().partition(|p| p.field == FIELD);
    match tokens.as_slice() {
        [one] if same(&String::from_utf8_lossy(&one.bytes), &session.csrf) => Ok(rest),
        _ => Err(UiError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id_sha256: "x".into(),
            csrf: "abc123".into(),
            token_fingerprint: None,
        }
    }

    #[test]
    fn a_form_needs_the_sessions_token() {
        assert!(check(&session(), b"csrf=abc123&name=x").is_ok());
        assert!(check(&session(), b"name=x").is_err());
        assert!(check(&session(), b"csrf=abc124&name=x").is_err());
        assert!(check(&session(), b"csrf=&name=x").is_err());
        assert!(check(&session(), b"csrf=abc1234").is_err());
    }

    #[test]
    fn comparison() {
        assert!(same("a", "a"));
        assert!(!same("a", "b"));
        assert!(!same("a", "ab"));
    }
}
