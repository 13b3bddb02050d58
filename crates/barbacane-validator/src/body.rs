//! Content-type negotiation and JSON body validation.

use barbacane_artifact::RequestBody;
use jsonschema::Validator;
use serde_json::Value;

use crate::operation::compile;
use crate::{FailureKind, FieldError, SchemaError, ValidationFailure};

pub(crate) struct BodyRule {
    required: bool,
    media: Vec<MediaRule>,
}

struct MediaRule {
    range: String,
    validator: Option<Validator>,
}

impl BodyRule {
    pub(crate) fn build(body: &RequestBody) -> Result<BodyRule, SchemaError> {
        let mut media = Vec::with_capacity(body.content.len());
        for m in &body.content {
            let validator = match &m.schema {
                Some(schema) if is_json(&m.media_type) || m.media_type.ends_with("/*") => {
                    Some(compile(schema, format!("body {}", m.media_type))?)
                }
                _ => None,
            };
            media.push(MediaRule {
                range: m.media_type.clone(),
                validator,
            });
        }
        Ok(BodyRule {
            required: body.required,
            media,
        })
    }

    /// Most specific match: exact type, then `type/*`, then `*/*`.
    fn find(&self, content_type: &str) -> Option<&MediaRule> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        let exact = self
            .media
            .iter()
            .find(|m| m.range.eq_ignore_ascii_case(essence));
        exact
            .or_else(|| {
                let major = essence.split('/').next().unwrap_or_default();
                self.media.iter().find(|m| {
                    m.range
                        .strip_suffix("/*")
                        .is_some_and(|r| r.eq_ignore_ascii_case(major))
                })
            })
            .or_else(|| self.media.iter().find(|m| m.range == "*/*"))
    }

    /// 415 unless the content type (when present) is accepted. An operation that declares no
    /// media types at all accepts any.
    pub(crate) fn check_content_type(
        &self,
        content_type: Option<&str>,
    ) -> Result<(), ValidationFailure> {
        match content_type {
            Some(ct) if !self.media.is_empty() && self.find(ct).is_none() => {
                Err(self.unsupported())
            }
            _ => Ok(()),
        }
    }

    /// Whether validating needs the buffered body.
    pub(crate) fn needs_body(&self) -> bool {
        self.required || self.media.iter().any(|m| m.validator.is_some())
    }

    pub(crate) fn validate(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), ValidationFailure> {
        if body.is_empty() {
            return if self.required {
                Err(ValidationFailure::one(
                    "body",
                    "",
                    "request body is required",
                ))
            } else {
                Ok(())
            };
        }
        let Some(ct) = content_type else {
            if self.media.is_empty() {
                return Ok(());
            }
            return Err(self.unsupported());
        };
        let Some(rule) = self.find(ct) else {
            return if self.media.is_empty() {
                Ok(())
            } else {
                Err(self.unsupported())
            };
        };
        let Some(validator) = &rule.validator else {
            return Ok(());
        };
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if !is_json(essence) {
            // A range such as `*/*` with a schema: only JSON payloads can be checked against it.
            return Ok(());
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ValidationFailure::one(
                "body",
                "",
                format!(
                    "body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if validator.is_valid(&value) {
            return Ok(());
        }
        let errors = validator
            .iter_errors(&value)
            .take(16)
            .map(|e| FieldError {
                location: "body",
                field: e.instance_path().to_string(),
                reason: e.masked().to_string(),
            })
            .collect();
        Err(ValidationFailure {
            kind: FailureKind::Invalid,
            errors,
        })
    }
}

impl BodyRule {
    /// Names what the operation accepts (from the spec), never what the client sent.
    fn unsupported(&self) -> ValidationFailure {
        let accepted: Vec<&str> = self.media.iter().map(|m| m.range.as_str()).collect();
        ValidationFailure {
            kind: FailureKind::UnsupportedMediaType,
            errors: vec![FieldError {
                location: "header",
                field: "content-type".into(),
                reason: format!(
                    "content type is missing or not accepted; accepted: {}",
                    accepted.join(", ")
                ),
            }],
        }
    }
}

/// `application/json` and any `+json` structured syntax suffix.
pub(crate) fn is_json(media_type: &str) -> bool {
    let m = media_type.trim();
    m.eq_ignore_ascii_case("application/json")
        || m.len() > 5
            && m.get(m.len() - 5..)
                .is_some_and(|s| s.eq_ignore_ascii_case("+json"))
}
