//! The data plane in process, without sockets:
//! - `pipeline/mock_get`: one GET through limits, route, validate (one integer path
//!   parameter) and the official `mock` (a constant dispatcher: answered from memory), on a
//!   1,000-operation table;
//! - `pipeline/post_json_body`: a POST with a ~10-field JSON body validated;
//! - `load/snapshot_1000_operations`: verify + parse + build router, validators and
//!   dispatchers for a 1,000-operation artifact (startup cost).

use barbacane_artifact::{
    ArtifactBuilder, CONFIG_MEMBER, CompiledConfig, MediaType, Operation, ParamLocation,
    ParamStyle, Parameter, PluginUse, RequestBody, fingerprint,
};
use barbacane_proxy::{Gateway, ServeConfig, Snapshot, pipeline};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use http_body_util::Full;
use serde_json::json;

fn operation(i: usize, method: &str, path: String, body: Option<RequestBody>) -> Operation {
    Operation {
        spec: "bench.yaml".into(),
        pointer: format!("/paths/{i}"),
        operation_id: None,
        method: method.into(),
        path,
        parameters: vec![Parameter {
            name: "id".into(),
            location: ParamLocation::Path,
            required: true,
            style: ParamStyle::Simple,
            explode: false,
            allow_empty_value: false,
            schema: Some(json!({"type": "integer", "minimum": 1})),
            content_type: None,
        }],
        request_body: body,
        dispatch: PluginUse {
            name: "mock".into(),
            config: json!({"status": 200, "body": "{\"ok\":true}"}),
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

fn order_body() -> RequestBody {
    RequestBody {
        required: true,
        content: vec![MediaType {
            media_type: "application/json".into(),
            encoding: Default::default(),
            item_schema: None,
            schema: Some(json!({
                "type": "object",
                "required": ["customer", "email", "items", "total"],
                "properties": {
                    "customer": {"type": "string", "minLength": 1},
                    "email": {"type": "string", "format": "email"},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}},
                    "total": {"type": "number", "exclusiveMinimum": 0},
                    "currency": {"enum": ["EUR", "USD"]},
                    "note": {"type": ["string", "null"]},
                    "express": {"type": "boolean"},
                    "created": {"type": "string", "format": "date-time"},
                    "coupon": {"type": "string"},
                    "priority": {"type": "integer", "maximum": 9}
                }
            })),
        }],
    }
}

/// 1,000 operations over 250 resources: list, get, update (with a JSON body), sub-resource.
fn artifact() -> Vec<u8> {
    let mut operations = Vec::new();
    for r in 0..250 {
        operations.push(operation(
            operations.len(),
            "GET",
            format!("/api/res{r}/{{id}}"),
            None,
        ));
        operations.push(operation(
            operations.len(),
            "PUT",
            format!("/api/res{r}/{{id}}"),
            Some(order_body()),
        ));
        operations.push(operation(
            operations.len(),
            "GET",
            format!("/api/res{r}/{{id}}/items"),
            None,
        ));
        operations.push(operation(
            operations.len(),
            "DELETE",
            format!("/api/res{r}/{{id}}/items"),
            None,
        ));
    }
    let mut b = ArtifactBuilder::default();
    b.artifact_hash = fingerprint(Vec::new()).unwrap().0;
    // The official `mock`, bundled as the compiler would.
    let mock = barbacane_plugins::find("mock").unwrap();
    b.add_member("plugins/mock.wasm", mock.wasm.to_vec())
        .unwrap();
    b.add_member("plugins/mock.toml", mock.manifest.as_bytes().to_vec())
        .unwrap();
    b.add_json_member(
        CONFIG_MEMBER,
        &CompiledConfig {
            operations,
            ..Default::default()
        },
    )
    .unwrap();
    b.encode().unwrap()
}

fn bench(c: &mut Criterion) {
    let bytes = artifact();
    c.bench_function("load/snapshot_1000_operations", |b| {
        b.iter(|| Snapshot::from_bytes(&bytes).unwrap())
    });

    let gateway = Gateway::new(
        Snapshot::from_bytes(&bytes).unwrap(),
        ServeConfig::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("pipeline/mock_get", |b| {
        b.iter(|| {
            let req = Request::get("/api/res123/42")
                .body(Full::<Bytes>::default())
                .unwrap();
            let res = rt.block_on(pipeline::handle(&gateway, req));
            assert_eq!(res.status(), 200);
        })
    });
    let body = Bytes::from(
        json!({"customer": "Ada", "email": "ada@example.com", "items": [{"sku": "A-1", "qty": 2}],
               "total": 42.5, "currency": "EUR", "note": null, "express": true,
               "created": "2026-11-25T10:00:00Z", "coupon": "W", "priority": 3})
        .to_string(),
    );
    c.bench_function("pipeline/post_json_body", |b| {
        b.iter(|| {
            let req = Request::put("/api/res7/9")
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .unwrap();
            let res = rt.block_on(pipeline::handle(&gateway, req));
            assert_eq!(res.status(), 200);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
