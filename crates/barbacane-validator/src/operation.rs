//! One operation's validator: all rules precompiled.

use barbacane_artifact::{Operation, ParamLocation, ParamStyle};
use http::HeaderMap;
use jsonschema::{Draft, Validator};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::body::BodyRule;
use crate::cache::{Compiled, SchemaCache};
use crate::coerce::Shape;
use crate::content::Content;
use crate::params;
use crate::{FailureKind, FieldError, SchemaError, ValidationFailure};

/// Compiles a JSON Schema 2020-12 document with format assertions on.
pub(crate) fn compile(schema: &Value, location: String) -> Result<Validator, SchemaError> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| SchemaError {
            location,
            message: e.to_string(),
        })
}

struct ParamRule {
    name: String,
    location: ParamLocation,
    required: bool,
    style: ParamStyle,
    explode: bool,
    shape: Shape,
    /// Set for a `content` parameter: decoded per its media type, not per `style`.
    content: Option<Content>,
    validator: Option<Compiled>,
}

/// The request parts parameter validation reads.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// Raw query string (without `?`), if any.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// Every rule of one operation, compiled.
pub struct OperationValidator {
    params: Vec<ParamRule>,
    body: Option<BodyRule>,
    has_query: bool,
    has_cookie: bool,
}

impl std::fmt::Debug for OperationValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationValidator")
            .field("params", &self.params.len())
            .field("body", &self.body.is_some())
            .finish()
    }
}

impl OperationValidator {
    /// Compiles every schema of `operation`, which must be self-contained; any schema that
    /// does not compile is an error.
    pub fn build(operation: &Operation) -> Result<OperationValidator, SchemaError> {
        Self::build_with_definitions(operation, &BTreeMap::new())
    }

    /// Compiles every schema of `operation`, resolving its `#/$defs/NAME` references in the
    /// artifact's shared `definitions`.
    pub fn build_with_definitions(
        operation: &Operation,
        definitions: &BTreeMap<String, Value>,
    ) -> Result<OperationValidator, SchemaError> {
        let mut cache = SchemaCache::for_operations([operation], definitions)?;
        Self::build_cached(operation, definitions, &mut cache)
    }

    /// [`OperationValidator::build_with_definitions`], reusing the schemas `cache` already
    /// compiled for other operations of the same artifact.
    pub fn build_cached(
        operation: &Operation,
        definitions: &BTreeMap<String, Value>,
        cache: &mut SchemaCache,
    ) -> Result<OperationValidator, SchemaError> {
        let mut params = Vec::with_capacity(operation.parameters.len());
        for p in &operation.parameters {
            let (validator, shape) = match &p.schema {
                Some(s) => {
                    let (v, shape) = cache.get(s, definitions, || {
                        format!("parameter {}.{}", p.location.as_str(), p.name)
                    })?;
                    (Some(v), shape)
                }
                None => (None, Shape::of(None)),
            };
            params.push(ParamRule {
                name: if p.location == ParamLocation::Header {
                    p.name.to_ascii_lowercase()
                } else {
                    p.name.clone()
                },
                location: p.location,
                required: p.required,
                style: p.style,
                explode: p.explode,
                shape,
                content: p.content_type.as_deref().map(Content::of),
                validator,
            });
        }
        // Fail-fast order: path, query, header, cookie.
        params.sort_by_key(|p| match p.location {
            ParamLocation::Path => 0,
            ParamLocation::Query | ParamLocation::Querystring => 1,
            ParamLocation::Header => 2,
            ParamLocation::Cookie => 3,
        });
        let body = operation
            .request_body
            .as_ref()
            .map(|b| BodyRule::build(b, definitions, cache))
            .transpose()?;
        Ok(OperationValidator {
            has_query: params.iter().any(|p| p.location == ParamLocation::Query),
            has_cookie: params.iter().any(|p| p.location == ParamLocation::Cookie),
            params,
            body,
        })
    }

    /// Whether [`OperationValidator::validate_body`] needs the request body buffered.
    pub fn needs_body(&self) -> bool {
        self.body.as_ref().is_some_and(BodyRule::needs_body)
    }

    /// Checks parameters (path, query, header, cookie, failing fast per location) and the
    /// content type. `path_param` returns a captured path parameter by name.
    pub fn validate_head<'p>(
        &self,
        path_param: impl Fn(&str) -> Option<&'p str>,
        parts: RequestParts<'_>,
    ) -> Result<(), ValidationFailure> {
        if self.params.is_empty() && self.body.is_none() {
            return Ok(());
        }
        let query = match (self.has_query, parts.query) {
            (true, Some(q)) => params::parse_query(q),
            _ => Vec::new(),
        };
        let cookie_header: Vec<&str> = if self.has_cookie {
            parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        } else {
            Vec::new()
        };
        let cookies: Vec<(&str, &str)> = cookie_header
            .iter()
            .flat_map(|h| params::parse_cookies(h))
            .collect();
        let claimed = |k: &str| {
            self.params
                .iter()
                .any(|p| p.location == ParamLocation::Query && p.name == k)
        };
        let mut errors: Vec<FieldError> = Vec::new();
        let mut current = None;
        for rule in &self.params {
            if current != Some(rule.location) {
                if !errors.is_empty() {
                    break;
                }
                current = Some(rule.location);
            }
            if let Some(content) = rule.content {
                let raw = match rule.location {
                    ParamLocation::Path => path_param(&rule.name).map(std::borrow::Cow::Borrowed),
                    ParamLocation::Query => query
                        .iter()
                        .rev()
                        .find(|(k, _)| k == &rule.name)
                        .map(|(_, v)| v.clone()),
                    // The whole query string; a JSON one is percent-encoded as a whole.
                    ParamLocation::Querystring => parts.query.map(|q| match content {
                        Content::Form => std::borrow::Cow::Borrowed(q),
                        _ => params::decode_form(q),
                    }),
                    ParamLocation::Header => parts
                        .headers
                        .get(rule.name.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(std::borrow::Cow::Borrowed),
                    ParamLocation::Cookie => cookies
                        .iter()
                        .find(|(k, _)| *k == rule.name)
                        .map(|(_, v)| std::borrow::Cow::Borrowed(*v)),
                };
                let value = match raw.map(|raw| content.decode(&rule.shape, &raw)) {
                    Some(Err(reason)) => {
                        errors.push(field_error(rule, reason));
                        continue;
                    }
                    Some(Ok(v)) => v,
                    None if rule.required => {
                        errors.push(field_error(rule, "required parameter is missing".into()));
                        continue;
                    }
                    None => continue,
                };
                check(rule, value, &mut errors);
                continue;
            }
            let value = match rule.location {
                ParamLocation::Querystring => None,
                ParamLocation::Path => path_param(&rule.name).and_then(|raw| {
                    params::path(&rule.shape, rule.style, rule.explode, &rule.name, raw)
                }),
                ParamLocation::Query => params::query(
                    &rule.shape,
                    rule.style,
                    rule.explode,
                    &rule.name,
                    &query,
                    &claimed,
                ),
                ParamLocation::Header => {
                    let mut values = Vec::new();
                    for v in parts.headers.get_all(rule.name.as_str()) {
                        match v.to_str() {
                            Ok(s) => values.push(s),
                            Err(_) => {
                                errors.push(field_error(
                                    rule,
                                    "header value is not visible ASCII".into(),
                                ));
                            }
                        }
                    }
                    params::header(&rule.shape, rule.explode, &values)
                }
                ParamLocation::Cookie => params::cookie(&rule.shape, &rule.name, &cookies),
            };
            match value {
                None if rule.required => {
                    errors.push(field_error(rule, "required parameter is missing".into()))
                }
                v => check(rule, v, &mut errors),
            }
        }
        if !errors.is_empty() {
            return Err(ValidationFailure {
                kind: FailureKind::Invalid,
                errors,
            });
        }
        match &self.body {
            Some(body) => {
                let ct = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap_or("(invalid)"));
                body.check_content_type(ct)
            }
            None => Ok(()),
        }
    }

    /// Checks the buffered body against the matching media type's schema.
    pub fn validate_body(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), ValidationFailure> {
        match &self.body {
            Some(rule) => {
                let ct = headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                rule.validate(ct, body)
            }
            None => Ok(()),
        }
    }
}

/// Checks a present value against the rule's schema.
fn check(rule: &ParamRule, value: Option<Value>, errors: &mut Vec<FieldError>) {
    if let (Some(v), Some(validator)) = (value, &rule.validator) {
        for (_, message) in validator.errors(v, 4) {
            errors.push(field_error(rule, message));
        }
    }
}

fn field_error(rule: &ParamRule, reason: String) -> FieldError {
    FieldError {
        location: rule.location.as_str(),
        field: rule.name.clone(),
        reason,
    }
}
