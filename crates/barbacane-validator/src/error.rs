use std::fmt;
use thiserror::Error;

/// A schema in the artifact could not be compiled (the artifact is unusable).
#[derive(Debug, Error)]
#[error("{location}: schema cannot be compiled: {message}")]
pub struct SchemaError {
    /// Which schema (`parameter query.page`, `body application/json`).
    pub location: String,
    /// The compiler's message.
    pub message: String,
}

/// Which category failed; decides the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A parameter or the body does not match its schema, or is missing (400).
    Invalid,
    /// The content type is not one the operation accepts (415).
    UnsupportedMediaType,
}

/// One reason a request was refused, for `--dev` responses and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `path`, `query`, `header`, `cookie` or `body`.
    pub location: &'static str,
    /// Parameter name, or JSON pointer inside the body.
    pub field: String,
    /// What is wrong (never echoes the submitted value).
    pub reason: String,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// Status category.
    pub kind: FailureKind,
    /// Every problem found in the failing category.
    pub errors: Vec<FieldError>,
}

impl ValidationFailure {
    pub(crate) fn one(
        location: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ValidationFailure {
            kind: FailureKind::Invalid,
            errors: vec![FieldError {
                location,
                field: field.into(),
                reason: reason.into(),
            }],
        }
    }
}

impl fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} `{}`: {}", e.location, e.field, e.reason)?;
        }
        Ok(())
    }
}
