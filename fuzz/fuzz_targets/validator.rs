//! Arbitrary query strings, headers and bodies against an operation with every style, JSON
//! and form `content` parameters, and JSON, form, multipart and text bodies (the fuzzer picks
//! the Content-Type, multipart boundary included).
#![no_main]
use barbacane_artifact::{CompiledConfig, Operation};
use barbacane_validator::{OperationValidator, RequestParts};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const OPERATION: &str = r#"{
  "spec": "f.yaml", "pointer": "/p", "method": "POST", "path": "/x/{id}",
  "parameters": [
    {"name": "id", "in": "path", "required": true, "style": "matrix", "explode": true, "schema": {"type": "array", "items": {"type": "integer"}}},
    {"name": "q", "in": "query", "required": false, "style": "form", "explode": false, "schema": {"type": "object", "properties": {"a": {"type": "number"}}}},
    {"name": "d", "in": "query", "required": false, "style": "deepObject", "explode": true, "schema": {"type": "object"}},
    {"name": "h", "in": "header", "required": false, "style": "simple", "explode": false, "schema": {"type": "array", "items": {"type": "boolean"}}},
    {"name": "j", "in": "query", "required": false, "style": "form", "explode": true, "content_type": "application/json", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
    {"name": "all", "in": "querystring", "required": false, "style": "form", "explode": true, "content_type": "application/x-www-form-urlencoded", "schema": {"type": "object", "properties": {"t": {"type": "array", "items": {"type": "integer"}}}}}
  ],
  "request_body": {"required": false, "content": [
    {"media_type": "application/json", "schema": {"type": "object", "properties": {"e": {"format": "email"}}}},
    {"media_type": "application/x-www-form-urlencoded", "schema": {"type": "object", "properties": {"n": {"type": "integer"}, "l": {"type": "array", "items": {"type": "integer"}}, "o": {"type": "object"}}},
     "encoding": {"l": {"explode": false}, "o": {"style": "deepObject"}}},
    {"media_type": "multipart/form-data", "schema": {"type": "object", "properties": {"n": {"type": "integer"}, "f": {"type": "string"}}},
     "encoding": {"f": {"content_type": "image/png"}}},
    {"media_type": "text/plain", "schema": {"type": "string", "maxLength": 8}}
  ]},
  "dispatch": {"name": "mock", "config": {}}
}"#;

fuzz_target!(|data: &[u8]| {
    static VALIDATOR: OnceLock<OperationValidator> = OnceLock::new();
    let v = VALIDATOR.get_or_init(|| {
        let op: Operation = serde_json::from_str(OPERATION).expect("operation");
        let _ = CompiledConfig::default();
        OperationValidator::build(&op).expect("validator")
    });
    // Five fields separated by newlines: path, query, header `h`, Content-Type, body (the
    // body is the rest, newlines included). An empty Content-Type means application/json,
    // so the body reaches the JSON schemas rather than stopping at the media type check.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let mut next = || parts.next().unwrap_or("");
    let (path, query, h, content_type, body) = (next(), next(), next(), next(), next());
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(h) {
        headers.insert("h", value);
    }
    let content_type = if content_type.is_empty() { "application/json" } else { content_type };
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    let _ = v.validate_head(|_| Some(path), RequestParts { query: Some(query), headers: &headers });
    let _ = v.validate_body(&headers, body.as_bytes());
});
