//! The API's one error type. Every error answers an RFC 9457 `application/problem+json` body
//! whose `type` is `urn:barbacane:error:<name>`; [`ApiError::status`] and
//! [`ApiError::problem_type`] are the single source of both.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Content type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, missing parameter, bad multipart shape...).
    #[error("{0}")]
    InvalidRequest(String),
    /// No bearer token, or a wrong one.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The peer address is not in the allowlist.
    #[error("this address may not use the control-plane API")]
    Forbidden,
    /// An API key without the scope the operation needs.
    #[error("this API key lacks the `{0}` scope")]
    InsufficientScope(&'static str),
    /// The admin token on a route that only a project API key may use (403, like a key
    /// without the scope: the caller is known, the credential is not the right kind).
    #[error("{0}")]
    KeyOnly(&'static str),
    /// A resource with this id (or name) does not exist.
    #[error("{kind} `{id}` does not exist")]
    NotFound {
        /// What was looked up (`project`, `spec`...).
        kind: &'static str,
        /// The id as given.
        id: String,
    },
    /// The artifact exists but has no provenance attestation (built before they existed).
    #[error("{0}")]
    NoAttestation(String),
    /// No route matches the path.
    #[error("no route for `{0}`")]
    RouteNotFound(String),
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The `Accept` header names no representation this API produces.
    #[error("cannot produce any of `{0}`; this API speaks application/vnd.barbacane.v1+json")]
    NotAcceptable(String),
    /// The resource already exists (duplicate name or version).
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is still referenced (deployments, spec revisions...).
    #[error("{0}")]
    InUse(String),
    /// The operation does not apply to the resource's current state (a resolved finding, a
    /// remediation already decided).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` does not match the current revision.
    #[error("the spec changed: current ETag is {current}")]
    PreconditionFailed {
        /// The current ETag, quoted.
        current: String,
    },
    /// The body exceeds `--max-upload-bytes`.
    #[error("the request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body's content type is not one this endpoint accepts.
    #[error("unsupported content type `{got}`; expected {expected}")]
    UnsupportedMediaType {
        /// What was sent.
        got: String,
        /// What the endpoint accepts.
        expected: &'static str,
    },
    /// The spec does not compile; `errors` lists every diagnostic.
    #[error("the spec has {} error(s)", errors.iter().filter(|d| d.get("severity") == Some(&json!("error"))).count())]
    InvalidSpec {
        /// The compiler's diagnostics, serialized.
        errors: Vec<Value>,
    },
    /// The plugin package is invalid; `errors` lists every problem.
    #[error("the plugin is invalid: {}", errors.join("; "))]
    InvalidPlugin {
        /// One line per problem.
        errors: Vec<String>,
    },
    /// `PUT` without `If-Match`.
    #[error("send If-Match with the spec's current ETag (from GET), or `*` to overwrite")]
    PreconditionRequired,
    /// Too much work queued (spec checks); retry shortly.
    #[error("the server is busy checking other specs; retry shortly")]
    Busy,
    /// Postgres cannot be reached or is restarting.
    #[error("the database is unavailable; retry later")]
    DatabaseUnavailable,
    /// The artifact store cannot be reached.
    #[error("the artifact store is unavailable; retry later")]
    StorageUnavailable(String),
    /// A bug or an unexpected failure (details are logged, never sent).
    #[error("internal error")]
    Internal(String),
}

/// Diagnostics listed in one problem response.
pub const MAX_LISTED: usize = 100;

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::InsufficientScope(_) | ApiError::KeyOnly(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound { .. } | ApiError::RouteNotFound(_) | ApiError::NoAttestation(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::AlreadyExists(_) | ApiError::InUse(_) | ApiError::Conflict(_) => {
                StatusCode::CONFLICT
            }
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidSpec { .. } | ApiError::InvalidPlugin { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::DatabaseUnavailable | ApiError::StorageUnavailable(_) | ApiError::Busy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last segment of the problem `type` URN.
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::InsufficientScope(_) | ApiError::KeyOnly(_) => "insufficient-scope",
            ApiError::NotFound { .. } => "not-found",
            ApiError::RouteNotFound(_) => "route-not-found",
            ApiError::NoAttestation(_) => "no-attestation",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::NotAcceptable(_) => "not-acceptable",
            ApiError::AlreadyExists(_) => "already-exists",
            ApiError::InUse(_) => "in-use",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed { .. } => "precondition-failed",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType { .. } => "unsupported-media-type",
            ApiError::InvalidSpec { .. } => "invalid-spec",
            ApiError::InvalidPlugin { .. } => "invalid-plugin",
            ApiError::PreconditionRequired => "precondition-required",
            ApiError::DatabaseUnavailable => "database-unavailable",
            ApiError::Busy => "busy",
            ApiError::StorageUnavailable(_) => "storage-unavailable",
            ApiError::Internal(_) => "internal-error",
        }
    }

    /// The problem `type`: `urn:barbacane:error:<name>`.
    pub fn problem_type(&self) -> String {
        format!("urn:barbacane:error:{}", self.name())
    }

    /// The RFC 9457 body.
    pub fn problem(&self) -> Value {
        let status = self.status();
        let mut body = json!({
            "type": self.problem_type(),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        match self {
            ApiError::InvalidSpec { errors } => {
                // A hostile spec can produce tens of thousands of diagnostics: the first
                // MAX_LISTED are listed, and the total says how many there were.
                body["errors"] =
                    Value::from(errors.iter().take(MAX_LISTED).cloned().collect::<Vec<_>>());
                if errors.len() > MAX_LISTED {
                    body["errors_total"] = json!(errors.len());
                }
            }
            ApiError::InvalidPlugin { errors } => body["errors"] = json!(errors),
            _ => {}
        }
        body
    }

    /// A not-found error for `kind` with `id`.
    pub fn not_found(kind: &'static str, id: impl ToString) -> ApiError {
        ApiError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(reason) => tracing::error!(%reason, "internal error"),
            ApiError::DatabaseUnavailable => tracing::warn!("database unavailable"),
            ApiError::StorageUnavailable(what) => {
                tracing::warn!(%what, "artifact store unavailable")
            }
            _ => {}
        }
        let mut response = (self.status(), self.problem().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Busy | ApiError::DatabaseUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"barbacane-control\""),
                );
            }
            ApiError::PreconditionFailed { current } => {
                if let Ok(v) = HeaderValue::from_str(current) {
                    headers.insert(header::ETAG, v);
                }
            }
            _ => {}
        }
        response
    }
}

/// SQLSTATE classes and codes that mean "the database is not there right now".
fn is_unavailable_code(code: &str) -> bool {
    // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now;
    // 3D000: the database does not exist (dropped or not yet recreated).
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "3D000")
}

/// Whether a database error means "Postgres cannot be reached right now" (503, retry later)
/// rather than a bug or a constraint.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_unavailable_code(&c)),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        if is_unavailable(&e) {
            ApiError::DatabaseUnavailable
        } else if let Some(reason) = unstorable_input(&e) {
            // A value Postgres refuses (NUL in text or JSON, out-of-range number) is the
            // request's fault: 400, never 500. Input checks come first; this is the net.
            ApiError::InvalidRequest(reason.into())
        } else {
            ApiError::Internal(format!("database: {e}"))
        }
    }
}

/// Why Postgres refused a value of the request, if that is what the error is.
fn unstorable_input(e: &sqlx::Error) -> Option<&'static str> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    match db.code().as_deref() {
        // character_not_in_repertoire (NUL in text), untranslatable_character (\u0000 in
        // JSON), invalid_text_representation.
        Some("22021" | "22P05" | "22P02") => Some(
            "the request contains a value that cannot be stored (NUL character or invalid text)",
        ),
        // numeric_value_out_of_range.
        Some("22003") => Some("a number in the request is out of range"),
        _ => None,
    }
}

/// Whether a database error is a foreign-key violation (something still references the row).
pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Whether a database error is a unique violation (the row already exists).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_problem_type_and_a_matching_status() {
        let e = ApiError::PreconditionFailed {
            current: "\"3\"".into(),
        };
        let body = e.problem();
        assert_eq!(body["type"], "urn:barbacane:error:precondition-failed");
        assert_eq!(body["status"], 412);
        let e = ApiError::InvalidSpec {
            errors: vec![json!({"severity": "error", "code": "E1003"})],
        };
        assert_eq!(e.problem()["errors"][0]["code"], "E1003");
        assert_eq!(e.to_string(), "the spec has 1 error(s)");
    }

    #[test]
    fn connection_errors_are_unavailable() {
        assert!(is_unavailable_code("08006"));
        assert!(is_unavailable_code("57P01"));
        assert!(!is_unavailable_code("23505"));
        assert!(matches!(
            ApiError::from(sqlx::Error::PoolTimedOut),
            ApiError::DatabaseUnavailable
        ));
    }
}
