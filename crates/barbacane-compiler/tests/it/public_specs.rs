//! Real public descriptions nobody on the team wrote, compiled and enforced: GitHub's REST
//! API (`@octokit/openapi`, fetched by `scripts/real-specs.sh`, which `scripts/test.sh` runs
//! and exports as `BARBACANE_REAL_SPECS`).

use barbacane_compiler::{CompileOptions, MemoryFs, compile};
use barbacane_validator::{OperationValidator, RequestParts};
use serde_json::Value;

fn real_spec(name: &str) -> Value {
    let dir = std::env::var("BARBACANE_REAL_SPECS").unwrap_or_else(|_| {
        panic!(
            "BARBACANE_REAL_SPECS is not set: run `scripts/real-specs.sh` (scripts/test.sh does)"
        )
    });
    let bytes = std::fs::read(std::path::Path::new(&dir).join(name))
        .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn githubs_rest_description_compiles_and_is_enforced() {
    let mut doc = real_spec("api.github.com.json");
    let expected: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&k.as_str())
                })
                .count()
        })
        .sum();
    assert!(expected > 1_000, "{expected}");
    doc["x-barbacane-dispatch"] = serde_json::json!({"name": "mock"});
    let mut fs = MemoryFs::default();
    fs.insert("gh/api.github.com.json", serde_json::to_vec(&doc).unwrap());
    let out = compile(
        &fs,
        &CompileOptions {
            specs: vec!["/gh/api.github.com.json".into()],
            ..Default::default()
        },
    )
    .unwrap_or_else(|d| panic!("{:#?}", &d[..d.len().min(5)]));
    assert_eq!(out.config.operations.len(), expected);
    let validator = |method: &str, path: &str| {
        let op = out
            .config
            .operations
            .iter()
            .find(|o| o.method == method && o.path == path)
            .unwrap();
        OperationValidator::build_with_definitions(op, &out.config.definitions).unwrap()
    };
    let headers = http::HeaderMap::new();
    let list = validator("GET", "/repos/{owner}/{repo}/issues");
    let query_ok = |q: &str| {
        list.validate_head(
            |_| Some("x"),
            RequestParts {
                query: Some(q),
                headers: &headers,
            },
        )
        .is_ok()
    };
    assert!(query_ok("state=open&per_page=50"));
    assert!(!query_ok("state=bogus"));
    assert!(!query_ok("per_page=many"));
    let create = validator("POST", "/repos/{owner}/{repo}/issues");
    let mut json = http::HeaderMap::new();
    json.insert("content-type", "application/json".parse().unwrap());
    assert!(create.validate_body(&json, br#"{"title": "Bug"}"#).is_ok());
    assert!(
        create
            .validate_body(&json, br#"{"body": "no title"}"#)
            .is_err()
    );
    assert!(
        create
            .validate_body(&json, br#"{"title": {"x": 1}}"#)
            .is_err()
    );
}
