//! `request-size-limit`: 413 on a declared or visible body over the limit.

use crate::assert_problem;
use barbacane_plugin_abi::Action;
use barbacane_test::harness::{PluginHarness, exchange};
use serde_json::json;

const TITLE: &str = "The request body is too large";

fn limit(config: serde_json::Value) -> PluginHarness {
    PluginHarness::official("request-size-limit", config).unwrap()
}

#[tokio::test]
async fn declared_length_over_the_limit_is_413() {
    let plugin = limit(json!({"max_bytes": 10}));
    for declared in ["11", "99999999999999999999999"] {
        let mut run = plugin
            .on_request(exchange("POST", "/upload").header("content-length", declared))
            .await
            .unwrap();
        assert_eq!(run.action, Action::Respond, "{declared}");
        assert_problem(
            &run.response().unwrap(),
            413,
            "payload-too-large",
            TITLE,
            "The request body exceeds the limit of 10 bytes.",
        );
    }
}

#[tokio::test]
async fn visible_body_over_the_limit_is_413_even_without_length_checks() {
    let plugin = limit(json!({"max_bytes": 1, "check_content_length": false}));
    let mut run = plugin
        .on_request(
            exchange("PUT", "/upload")
                // A lie the plugin is told not to look at; the body itself is 2 bytes.
                .header("content-length", "1")
                .body("ab"),
        )
        .await
        .unwrap();
    assert_eq!(run.action, Action::Respond);
    assert_problem(
        &run.response().unwrap(),
        413,
        "payload-too-large",
        TITLE,
        "The request body exceeds the limit of 1 byte.",
    );
    // Declared over, but not checked, and no visible body: goes on.
    let mut run = plugin
        .on_request(exchange("PUT", "/upload").header("content-length", "5000"))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    assert!(run.response().is_none());
}

#[tokio::test]
async fn at_or_under_the_limit_goes_on_untouched() {
    let plugin = limit(json!({"max_bytes": 4096}));
    let body = vec![b'x'; 4096];
    let mut run = plugin
        .on_request(
            exchange("POST", "/upload?x=1")
                .header("content-length", "4096")
                .header("x-other", "kept")
                .body(body.clone()),
        )
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    assert!(run.response().is_none());
    let after = run.exchange();
    assert_eq!(after.uri, "/upload?x=1");
    assert_eq!(after.headers.len(), 2);
    assert_eq!(after.body.as_deref(), Some(&body[..]));
    // One byte more through the guest's copy of the body: refused.
    let mut run = plugin
        .on_request(exchange("POST", "/upload").body(vec![b'x'; 4097]))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Respond);
    assert_eq!(run.response().unwrap().status, 413);
}

#[tokio::test]
async fn unparseable_content_length_is_left_to_the_http_layer() {
    let plugin = limit(json!({"max_bytes": 0}));
    let mut run = plugin
        .on_request(exchange("POST", "/").header("content-length", "12abc"))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    assert!(run.response().is_none());
    // max_bytes 0 still accepts an empty visible body, and nothing more.
    let run = plugin
        .on_request(exchange("POST", "/").body(""))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    let mut run = plugin
        .on_request(exchange("POST", "/").body("x"))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Respond);
    assert_problem(
        &run.response().unwrap(),
        413,
        "payload-too-large",
        TITLE,
        "The request body exceeds the limit of 0 bytes.",
    );
}
