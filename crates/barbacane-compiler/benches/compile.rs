//! Compile time against the number of operations: generated specs of 100, 1,000 and 10,000
//! operations in the shape large public descriptions have (shared component schemas with
//! references between them, path and query parameters, JSON bodies, patterns). Time should
//! grow linearly.
//!
//! `cargo bench -p barbacane-compiler --bench compile`

use barbacane_compiler::{CompileOptions, MemoryFs, compile};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::fmt::Write;
use std::time::Duration;

/// A spec with `operations` operations over `operations / 4` resources, each resource with a
/// schema referencing the next one (a chain, as entity hierarchies do).
fn spec(operations: usize) -> String {
    let resources = (operations / 4).max(1);
    let mut s = String::from(
        "openapi: 3.0.3\ninfo: {title: generated, version: \"1\"}\n\
         x-barbacane-dispatch: {name: mock}\npaths:\n",
    );
    for r in 0..resources {
        let _ = write!(
            s,
            "  /r{r}:\n    get:\n      parameters:\n        - {{name: limit, in: query, schema: {{type: integer, minimum: 1, maximum: 100}}}}\n        - {{name: filter, in: query, schema: {{type: string, pattern: '^[a-z]+$'}}}}\n      responses: {{\"200\": {{description: ok}}}}\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {{$ref: '#/components/schemas/R{r}'}}\n      responses: {{\"201\": {{description: created}}}}\n  /r{r}/{{id}}:\n    parameters:\n      - {{name: id, in: path, required: true, schema: {{type: string, format: uuid}}}}\n    get:\n      responses: {{\"200\": {{description: ok}}}}\n    put:\n      requestBody:\n        content:\n          application/json:\n            schema: {{$ref: '#/components/schemas/R{r}'}}\n      responses: {{\"200\": {{description: ok}}}}\n"
        );
    }
    s.push_str("components:\n  schemas:\n");
    for r in 0..resources {
        let next = (r + 1) % resources;
        let _ = write!(
            s,
            "    R{r}:\n      type: object\n      required: [name]\n      properties:\n        name: {{type: string, maxLength: 64, pattern: '^\\p{{Alpha}}[\\w-.]*$'}}\n        count: {{type: integer, format: int32, nullable: true}}\n        next: {{$ref: '#/components/schemas/R{next}'}}\n        tags: {{type: array, items: {{type: string}}}}\n"
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for operations in [100, 1_000, 10_000] {
        let mut fs = MemoryFs::default();
        fs.insert("p/api.yaml", spec(operations).into_bytes());
        let options = CompileOptions {
            specs: vec!["/p/api.yaml".into()],
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
