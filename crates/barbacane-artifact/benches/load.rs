//! Decoding + verifying + parsing the config of a 1,000-operation artifact.

use barbacane_artifact::*;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn thousand_operations() -> Vec<u8> {
    let operations = (0..1000)
        .map(|i| Operation {
            spec: "api.yaml".into(),
            pointer: format!("/paths/~1r{i}~1{{id}}/get"),
            operation_id: Some(format!("op{i}")),
            method: "GET".into(),
            path: format!("/r{i}/{{id}}"),
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
            request_body: None,
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
        })
        .collect();
    let mut b = ArtifactBuilder::default();
    b.artifact_hash = fingerprint(Vec::new()).unwrap().0;
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
    let bytes = thousand_operations();
    c.bench_function("artifact/decode_verify_parse_1000_ops", |b| {
        b.iter(|| {
            let artifact = Artifact::from_bytes(&bytes).unwrap();
            let config: CompiledConfig = artifact.member_json(CONFIG_MEMBER).unwrap();
            config.operations.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
