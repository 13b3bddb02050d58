//! `mock`: a fixed response from the configuration.

use crate::{one, text, values};
use barbacane_test::harness::{PluginHarness, exchange};
use barbacane_wasm::WasmError;
use serde_json::json;

#[tokio::test]
async fn defaults_are_an_empty_json_200() {
    let mock = PluginHarness::official("mock", json!({})).unwrap();
    let r = mock.dispatch(exchange("GET", "/x")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.len(), 1, "{:?}", r.headers);
    assert_eq!(one(&r.headers, "content-type"), "application/json");
    assert_eq!(text(&r), "");
}

#[tokio::test]
async fn every_key_crosses_the_boundary() {
    let mock = PluginHarness::official(
        "mock",
        json!({
            "status": 418,
            "body": "short and stout \u{2615}",
            "content_type": "text/plain; charset=utf-8",
            "headers": {"x-teapot": "yes", "cache-control": "no-store"}
        }),
    )
    .unwrap();
    let r = mock
        .dispatch(exchange("POST", "/brew?cups=2").body("ignored"))
        .await
        .unwrap();
    assert_eq!(r.status, 418);
    assert_eq!(r.headers.len(), 3, "{:?}", r.headers);
    assert_eq!(one(&r.headers, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(one(&r.headers, "x-teapot"), "yes");
    assert_eq!(one(&r.headers, "cache-control"), "no-store");
    // Multi-byte UTF-8 survives the copy out of guest memory.
    assert_eq!(text(&r), "short and stout \u{2615}");
}

#[tokio::test]
async fn mock_is_constant_and_lambda_is_not() {
    let mock = PluginHarness::official("mock", json!({"status": 204})).unwrap();
    assert!(mock.is_constant());
    let lambda = PluginHarness::official(
        "lambda",
        json!({"url": "https://abc.lambda-url.eu-west-1.on.aws/", "sign": false}),
    )
    .unwrap();
    assert!(!lambda.is_constant());
}

#[tokio::test]
async fn bad_configurations_are_refused_by_init() {
    for (config, needle) in [
        (
            json!({"status": 700}),
            "status 700 is not between 100 and 599",
        ),
        (
            json!({"status": 99}),
            "status 99 is not between 100 and 599",
        ),
        (json!({"stauts": 201}), "stauts"),
        (json!({"status": "201"}), "invalid configuration"),
    ] {
        match PluginHarness::official("mock", config.clone()) {
            Err(WasmError::Init { plugin, message }) => {
                assert_eq!(plugin, "mock");
                assert!(message.contains(needle), "{config}: {message}");
            }
            other => panic!("{config}: expected an init error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn repeated_calls_give_identical_responses() {
    let mock = PluginHarness::official(
        "mock",
        json!({"status": 201, "body": "{\"id\":1}", "headers": {"location": "/pets/1"}}),
    )
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = mock.dispatch(exchange("GET", "/pets")).await.unwrap();
        seen.push((
            r.status.as_u16(),
            values(&r.headers, "content-type"),
            values(&r.headers, "location"),
            text(&r),
        ));
    }
    let first = (
        201,
        vec!["application/json".to_owned()],
        vec!["/pets/1".to_owned()],
        "{\"id\":1}".to_owned(),
    );
    assert!(seen.iter().all(|s| *s == first), "{seen:?}");
}
