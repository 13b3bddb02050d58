//! `openapi.yaml` lists exactly the routes the router serves.

use axum::body::Body;
use axum::http::Method;
use barbacane_control::routes;
use serde_json::Value;
use std::collections::BTreeSet;

use crate::support::{TestApp, req};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn served() -> BTreeSet<(String, String)> {
    routes::table()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect()
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let documented = documented();
    let served = served();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "in openapi.yaml but not served: {phantom:?}"
    );
}

/// Probes each documented operation through the real router: none may fall through to the
/// unknown-route or wrong-method fallbacks.
#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in documented() {
        let concrete = path
            .replace("{id}", &id)
            .replace("{keyId}", &id)
            .replace("{dpId}", &id)
            .replace("{name}", "some-plugin")
            .replace("{version}", "1.0.0");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .send(req(method.clone(), &concrete).body(Body::empty()).unwrap())
            .await;
        if r.header("content-type") == Some("application/problem+json") {
            let kind = r.json()["type"].as_str().unwrap().to_owned();
            assert!(
                kind != "urn:barbacane:error:route-not-found"
                    && kind != "urn:barbacane:error:method-not-allowed",
                "{method} {path} is not routed: {kind}"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served_as_yaml_and_json() {
    let app = TestApp::new().await;
    let yaml = app.get("/openapi.yaml").await;
    assert_eq!(yaml.status, 200);
    assert_eq!(yaml.header("content-type"), Some("application/yaml"));
    let from_yaml: serde_json::Value = serde_saphyr::from_str(&yaml.text()).unwrap();
    let json = app.get("/openapi.json").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.json(), from_yaml);
    assert_eq!(from_yaml["openapi"], "3.1.0");
}
