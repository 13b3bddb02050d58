//! Content-type negotiation and body validation: JSON, form (`application/x-www-form-
//! urlencoded`), `multipart/form-data` and `text/*` bodies are decoded and checked against
//! their schema; other media types get the content-type check only.

use barbacane_artifact::{Encoding, RequestBody};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::cache::{Compiled, SchemaCache};
use crate::coerce::Shape;
use crate::content::Content;
use crate::{FailureKind, FieldError, SchemaError, ValidationFailure};

pub(crate) struct BodyRule {
    required: bool,
    media: Vec<MediaRule>,
}

struct MediaRule {
    range: String,
    validator: Option<Compiled>,
    /// Types of the schema's properties, for form and multipart values.
    shape: Shape,
    encoding: BTreeMap<String, Encoding>,
    /// `itemSchema` of a sequential type, with the record separator.
    items: Option<(Compiled, u8)>,
}

impl BodyRule {
    pub(crate) fn build(
        body: &RequestBody,
        definitions: &BTreeMap<String, Value>,
        cache: &mut SchemaCache,
    ) -> Result<BodyRule, SchemaError> {
        let mut media = Vec::with_capacity(body.content.len());
        for m in &body.content {
            let checked = crate::body_schema_is_checked(&m.media_type);
            let (validator, shape) = match &m.schema {
                Some(schema) if checked => {
                    let (v, shape) =
                        cache.get(schema, definitions, || format!("body {}", m.media_type))?;
                    (Some(v), shape)
                }
                _ => (None, Shape::of(None)),
            };
            let items = match (&m.item_schema, sequence_separator(&m.media_type)) {
                (Some(schema), Some(separator)) => {
                    let (v, _) = cache.get(schema, definitions, || {
                        format!("body {} items", m.media_type)
                    })?;
                    Some((v, separator))
                }
                _ => None,
            };
            media.push(MediaRule {
                range: m.media_type.clone(),
                validator,
                shape,
                encoding: m.encoding.clone(),
                items,
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
        self.required
            || self
                .media
                .iter()
                .any(|m| m.validator.is_some() || m.items.is_some())
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
        if let Some((items, separator)) = &rule.items {
            return validate_items(items, *separator, body);
        }
        let Some(validator) = &rule.validator else {
            return Ok(());
        };
        let essence = ct.split(';').next().unwrap_or_default().trim();
        let Some(value) = decode(rule, essence, ct, body)
            .map_err(|reason| ValidationFailure::one("body", "", reason))?
        else {
            // A range such as `*/*` with a schema and an undecodable payload (binary, XML).
            return Ok(());
        };
        let errors: Vec<FieldError> = validator
            .errors(value, 16)
            .into_iter()
            .map(|(field, reason)| FieldError {
                location: "body",
                field,
                reason,
            })
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        Err(ValidationFailure {
            kind: FailureKind::Invalid,
            errors,
        })
    }
}

/// The record separator of a sequential JSON media type: newline for JSON Lines, RS (0x1E)
/// for JSON text sequences (RFC 7464).
pub(crate) fn sequence_separator(media_type: &str) -> Option<u8> {
    match media_type.to_ascii_lowercase().as_str() {
        "application/jsonl"
        | "application/x-ndjson"
        | "application/x-jsonlines"
        | "application/jsonlines" => Some(b'\n'),
        "application/json-seq" => Some(0x1E),
        _ => None,
    }
}

/// Each record of a sequential body against the `itemSchema` (the field of an error is the
/// record's index); empty records (a trailing newline, `\r\n` line ends) are skipped.
fn validate_items(items: &Compiled, separator: u8, body: &[u8]) -> Result<(), ValidationFailure> {
    let mut errors = Vec::new();
    let records = body
        .split(|b| *b == separator)
        .map(|r| r.trim_ascii())
        .filter(|r| !r.is_empty());
    for (i, record) in records.enumerate() {
        match serde_json::from_slice::<Value>(record) {
            Err(_) => errors.push(FieldError {
                location: "body",
                field: format!("/{i}"),
                reason: "item is not valid JSON".into(),
            }),
            Ok(value) => {
                errors.extend(
                    items
                        .errors(value, 4)
                        .into_iter()
                        .map(|(path, reason)| FieldError {
                            location: "body",
                            field: format!("/{i}{path}"),
                            reason,
                        }),
                )
            }
        }
        if errors.len() >= 16 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationFailure {
            kind: FailureKind::Invalid,
            errors,
        })
    }
}

/// The body as a JSON value per the request's media type; `None` for types not decoded.
fn decode(
    rule: &MediaRule,
    essence: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Option<Value>, String> {
    let text = || std::str::from_utf8(body).map_err(|_| "body is not valid UTF-8".to_owned());
    match Content::of(essence) {
        Content::Json => serde_json::from_slice(body).map(Some).map_err(|e| {
            format!(
                "body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        }),
        Content::Form => {
            let pairs = crate::params::parse_query(text()?);
            crate::content::form_object(&rule.shape, &rule.encoding, pairs.iter()).map(Some)
        }
        Content::Multipart => {
            let boundary = crate::multipart::boundary(content_type)
                .ok_or("multipart content type has no valid `boundary`")?;
            let parts = crate::multipart::parse(body, boundary)?;
            crate::content::multipart_object(&rule.shape, &rule.encoding, &parts).map(Some)
        }
        Content::Text => Ok(Some(Value::String(text()?.to_owned()))),
        Content::Opaque => Ok(None),
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
