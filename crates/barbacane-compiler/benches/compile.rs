//! Compile time against the number of operations: generated specs of 100, 1,000 and 10,000
//! operations in the shape large public descriptions have (shared component schemas with
//! references between them, path and query parameters, JSON bodies, patterns). Time should
//! grow linearly.
//!
//! `cargo bench -p barbacane-compiler --bench compile`

use barbacane_compiler::{CompileOptions, MemoryFs, compile};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::time::Duration;

/// A spec with `operations` operations over `operations / 4` resources, each resource with a
/// schema referencing the next one (a chain, as entity hierarchies do: every schema reaches
/// every other one). JSON, as the largest public descriptions are.
fn spec(operations: usize) -> String {
    let resources = (operations / 4).max(1);
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    let ok = json!({"200": {"description": "ok"}});
    for r in 0..resources {
        let body = json!({"content": {"application/json": {
            "schema": {"$ref": format!("#/components/schemas/R{r}")}
        }}});
        paths.insert(
            format!("/r{r}"),
            json!({
                "get": {
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {"name": "filter", "in": "query", "schema": {"type": "string", "pattern": "^[a-z]+$"}}
                    ],
                    "responses": ok
                },
                "post": {"requestBody": body, "responses": ok}
            }),
        );
        paths.insert(
            format!("/r{r}/{{id}}"),
            json!({
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "get": {"responses": ok},
                "put": {"requestBody": body, "responses": ok}
            }),
        );
        schemas.insert(
            format!("R{r}"),
            json!({
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 64, "pattern": "^\\p{Alpha}[\\w-.]*$"},
                    "count": {"type": "integer", "format": "int32", "nullable": true},
                    "next": {"$ref": format!("#/components/schemas/R{}", (r + 1) % resources)},
                    "tags": {"type": "array", "items": {"type": "string"}}
                }
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "generated", "version": "1"},
        "x-barbacane-dispatch": {"name": "mock"},
        "paths": paths,
        "components": {"schemas": schemas}
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for operations in [100, 1_000, 10_000] {
        let mut fs = MemoryFs::default();
        fs.insert("p/api.json", spec(operations).into_bytes());
        let options = CompileOptions {
            specs: vec!["/p/api.json".into()],
            build_time: 1_700_000_000,
            ..Default::default()
        };
        group.throughput(Throughput::Elements(operations as u64));
        group.bench_with_input(BenchmarkId::from_parameter(operations), &options, |b, o| {
            b.iter(|| compile(&fs, o).expect("generated spec compiles"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
