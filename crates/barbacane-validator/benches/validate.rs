//! Validation of a typical request: path + query parameters and a ~10-field JSON body.

use barbacane_artifact::{
    MediaType, Operation, ParamLocation, ParamStyle, Parameter, PluginUse, RequestBody,
};
use barbacane_validator::{OperationValidator, RequestParts};
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use serde_json::json;

fn operation() -> Operation {
    let param = |name: &str, location, schema| Parameter {
        name: name.into(),
        location,
        required: true,
        style: if location == ParamLocation::Query {
            ParamStyle::Form
        } else {
            ParamStyle::Simple
        },
        explode: location == ParamLocation::Query,
        allow_empty_value: false,
        schema: Some(schema),
        content_type: None,
    };
    Operation {
        spec: "bench.yaml".into(),
        pointer: "/paths/~1orders~1{id}/put".into(),
        operation_id: None,
        method: "PUT".into(),
        path: "/orders/{id}".into(),
        parameters: vec![
            param(
                "id",
                ParamLocation::Path,
                json!({"type": "string", "format": "uuid"}),
            ),
            param("dry_run", ParamLocation::Query, json!({"type": "boolean"})),
        ],
        request_body: Some(RequestBody {
            required: true,
            content: vec![MediaType {
                media_type: "application/json".into(),
                encoding: Default::default(),
                item_schema: None,
                schema: Some(json!({
                    "type": "object",
                    "required": ["customer", "email", "items", "total"],
                    "additionalProperties": false,
                    "properties": {
                        "customer": {"type": "string", "minLength": 1, "maxLength": 100},
                        "email": {"type": "string", "format": "email"},
                        "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku", "qty"], "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}, "qty": {"type": "integer", "minimum": 1}}}},
                        "total": {"type": "number", "exclusiveMinimum": 0},
                        "currency": {"enum": ["EUR", "USD", "GBP"]},
                        "note": {"type": ["string", "null"], "maxLength": 500},
                        "express": {"type": "boolean"},
                        "created": {"type": "string", "format": "date-time"},
                        "coupon": {"type": "string"},
                        "priority": {"type": "integer", "minimum": 0, "maximum": 9}
                    }
                })),
            }],
        }),
        dispatch: PluginUse {
            name: "mock".into(),
            config: json!({}),
        },
        middlewares: vec![],
        deprecated: false,
        deprecated_since: None,
        sunset: None,
        sunset_link: None,
        observability: Default::default(),
        event: None,
    }
}

fn bench(c: &mut Criterion) {
    let validator = OperationValidator::build(&operation()).unwrap();
    let body = json!({
        "customer": "Ada Lovelace", "email": "ada@example.com",
        "items": [{"sku": "ABC-1234", "qty": 2}], "total": 42.5, "currency": "EUR",
        "note": null, "express": true, "created": "2026-11-25T10:00:00Z", "coupon": "WINTER",
        "priority": 3
    })
    .to_string()
    .into_bytes();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let parts = RequestParts {
        query: Some("dry_run=true"),
        headers: &headers,
    };
    let id = "6f1c1c7e-6b7e-4c1f-9d7a-2f1f3e4d5c6b";
    c.bench_function("validate/params_and_content_type", |b| {
        b.iter(|| validator.validate_head(|_| Some(id), parts).unwrap())
    });
    c.bench_function("validate/json_body_10_fields", |b| {
        b.iter(|| validator.validate_body(&headers, &body).unwrap())
    });
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let schema = operation().request_body.unwrap().content[0]
        .schema
        .clone()
        .unwrap();
    let compiled = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    c.bench_function("validate/json_body_10_fields_schema_only", |b| {
        b.iter(|| compiled.is_valid(&value))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
