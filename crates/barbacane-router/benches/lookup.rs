//! Lookup and normalization cost in a 1,000-route table shaped like a real API, and lookups
//! that use adjacent, greedy and many parameters.

use std::hint::black_box;

use barbacane_router::{Lookup, Method, Router, RouterBuilder, normalize_path};
use criterion::{Criterion, criterion_group, criterion_main};

/// 100 resources × 10 routes: collection, item, sub-collection, sub-item, a file download
/// with a mixed segment, and a static search endpoint.
fn api() -> Router<usize> {
    let mut builder = RouterBuilder::new();
    let mut n = 0;
    for r in 0..100 {
        let base = format!("/api/v1/resource{r:03}");
        let routes = [
            (base.clone(), Method::Get),
            (base.clone(), Method::Post),
            (format!("{base}/search"), Method::Get),
            (format!("{base}/{{id}}"), Method::Get),
            (format!("{base}/{{id}}"), Method::Put),
            (format!("{base}/{{id}}"), Method::Delete),
            (format!("{base}/{{id}}/items"), Method::Get),
            (format!("{base}/{{id}}/items"), Method::Post),
            (format!("{base}/{{id}}/items/{{itemId}}"), Method::Get),
            (format!("{base}/{{id}}/files/{{name}}.{{ext}}"), Method::Get),
        ];
        for (template, method) in routes {
            if builder.insert(&template, method, n).is_ok() {
                n += 1;
            }
        }
    }
    assert_eq!(n, 1000);
    builder.build()
}

fn found(lookup: Lookup<'_, '_, usize>) -> usize {
    match lookup {
        Lookup::Found(m) => *m.value + m.params.len(),
        Lookup::MethodNotAllowed { .. } => usize::MAX - 1,
        Lookup::NotFound => usize::MAX,
    }
}

fn bench(c: &mut Criterion) {
    let router = api();
    let static_path = ["api", "v1", "resource042", "search"];
    let two_params = ["api", "v1", "resource042", "12345", "items", "67890"];
    let miss = ["api", "v1", "resource042", "12345", "nope", "x"];
    assert!(found(router.lookup(Method::Get, &static_path)) < 1000);
    assert!(found(router.lookup(Method::Get, &two_params)) < 1100);
    assert_eq!(found(router.lookup(Method::Get, &miss)), usize::MAX);

    let mut group = c.benchmark_group("lookup");
    group.bench_function("static", |b| {
        b.iter(|| found(router.lookup(Method::Get, black_box(&static_path))))
    });
    group.bench_function("two_params", |b| {
        b.iter(|| found(router.lookup(Method::Get, black_box(&two_params))))
    });
    group.bench_function("miss", |b| {
        b.iter(|| found(router.lookup(Method::Get, black_box(&miss))))
    });
    group.finish();

    // Features past the 1,000-route table: adjacent parameters, a greedy parameter, and a
    // template with ten parameters, next to the routes they compete with.
    let mut builder = RouterBuilder::new();
    let templates = [
        "/profiles/{id}",
        "/profiles/{id}{ext}",
        "/projects/{id}{.format}",
        "/files/readme",
        "/files/{id}",
        "/files/{path+}",
        "/t/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}",
    ];
    for (i, t) in templates.into_iter().enumerate() {
        builder.insert(t, Method::Get, i).unwrap_or_default();
    }
    let more = builder.build();
    let adjacent = ["profiles", "42.json"];
    let label = ["projects", "42.json"];
    let greedy = ["files", "a", "b", "c"];
    let ten = ["t", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    assert_eq!(found(more.lookup(Method::Get, &adjacent)), 3);
    assert_eq!(found(more.lookup(Method::Get, &label)), 4);
    assert_eq!(found(more.lookup(Method::Get, &greedy)), 6);
    assert_eq!(found(more.lookup(Method::Get, &ten)), 16);
    let greedy_raw = "/files/a/b/c";
    let mut group = c.benchmark_group("features");
    group.bench_function("adjacent", |b| {
        b.iter(|| found(more.lookup(Method::Get, black_box(&adjacent))))
    });
    group.bench_function("label", |b| {
        b.iter(|| found(more.lookup(Method::Get, black_box(&label))))
    });
    group.bench_function("greedy_slice", |b| {
        b.iter(|| found(more.lookup(Method::Get, black_box(&greedy))))
    });
    group.bench_function("greedy_normalized", |b| {
        b.iter(|| {
            normalize_path(black_box(greedy_raw))
                .map(|p| found(more.lookup_normalized(Method::Get, &p)))
        })
    });
    group.bench_function("ten_params", |b| {
        b.iter(|| found(more.lookup(Method::Get, black_box(&ten))))
    });
    group.finish();

    let raw = "/api/v1/resource042/12345/items/67890";
    let encoded = "/api/v1/resource042/12345/files/annual%20report.pdf";
    let mut group = c.benchmark_group("normalize");
    group.bench_function("typical", |b| {
        b.iter(|| normalize_path(black_box(raw)).map(|p| p.len()))
    });
    group.bench_function("with_escape", |b| {
        b.iter(|| normalize_path(black_box(encoded)).map(|p| p.len()))
    });
    group.bench_function("typical_then_lookup", |b| {
        b.iter(|| {
            normalize_path(black_box(raw)).map(|p| found(router.lookup_normalized(Method::Get, &p)))
        })
    });
    group.bench_function("typical_then_lookup_via_slice", |b| {
        b.iter(|| {
            normalize_path(black_box(raw)).map(|p| found(router.lookup(Method::Get, &p.as_strs())))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
