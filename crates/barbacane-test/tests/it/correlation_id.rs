//! `correlation-id`: an ID per request (from the host's CSPRNG when generated), set on the
//! request, kept in the context and returned on the response.

use crate::{one, values};
use barbacane_plugin_abi::Action;
use barbacane_test::harness::{PluginHarness, exchange, response};
use serde_json::json;

/// A lowercase hyphenated version 4, variant 1 UUID.
fn assert_uuid_v4(id: &str) {
    let b = id.as_bytes();
    assert_eq!(b.len(), 36, "{id}");
    for (i, &c) in b.iter().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            assert_eq!(c, b'-', "{id}");
        } else {
            assert!(matches!(c, b'0'..=b'9' | b'a'..=b'f'), "{id}");
        }
    }
    assert_eq!(b[14], b'4', "version: {id}");
    assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "variant: {id}");
}

/// Runs both hooks; returns (request header values, context value, response header values).
async fn run(
    plugin: &PluginHarness,
    header: &str,
    incoming: &[&str],
) -> (Vec<String>, Option<String>, Vec<String>) {
    let mut request = exchange("GET", "/orders");
    for value in incoming {
        request = request.header(header, value);
    }
    let mut run = plugin.on_request(request).await.unwrap();
    assert_eq!(run.action, Action::Continue);
    let sent = values(&run.exchange().headers, header);
    let context = run.exchange().context.get("correlation-id").cloned();
    let r = run
        .on_response(response(200, &[(header, "from-upstream")], "ok"))
        .await
        .unwrap();
    (sent, context, values(&r.headers, header))
}

#[tokio::test]
async fn missing_id_is_generated_and_returned() {
    let plugin = PluginHarness::official("correlation-id", json!({})).unwrap();
    let (sent, context, returned) = run(&plugin, "x-correlation-id", &[]).await;
    let [id] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_uuid_v4(id);
    assert_eq!(context.as_deref(), Some(id.as_str()));
    // The upstream's value is replaced by the one the gateway used.
    assert_eq!(returned, sent);
}

#[tokio::test]
async fn trusted_incoming_id_is_kept_and_repeats_dropped() {
    let plugin = PluginHarness::official("correlation-id", json!({})).unwrap();
    let (sent, context, returned) =
        run(&plugin, "x-correlation-id", &["client-42", "second"]).await;
    assert_eq!(sent, ["client-42"]);
    assert_eq!(context.as_deref(), Some("client-42"));
    assert_eq!(returned, ["client-42"]);
}

#[tokio::test]
async fn untrusted_incoming_id_is_replaced() {
    let plugin = PluginHarness::official(
        "correlation-id",
        json!({"trust_incoming": false, "generate_if_missing": false}),
    )
    .unwrap();
    let (sent, context, returned) = run(&plugin, "x-correlation-id", &["client-42"]).await;
    let [id] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_uuid_v4(id);
    assert_ne!(id, "client-42");
    assert_eq!(context.as_deref(), Some(id.as_str()));
    assert_eq!(returned, sent);
    // Nothing incoming and nothing to generate: untouched, no ID anywhere.
    let (sent, context, returned) = run(&plugin, "x-correlation-id", &[]).await;
    assert!(sent.is_empty());
    assert_eq!(context, None);
    assert_eq!(returned, ["from-upstream"]);
}

#[tokio::test]
async fn custom_header_name_is_used_case_insensitively() {
    let plugin = PluginHarness::official(
        "correlation-id",
        json!({"header_name": "X-Request-Trace", "include_in_response": false}),
    )
    .unwrap();
    let (sent, context, returned) = run(&plugin, "x-request-trace", &["abc-1"]).await;
    assert_eq!(sent, ["abc-1"]);
    assert_eq!(context.as_deref(), Some("abc-1"));
    // include_in_response false: the upstream's value is left as it is.
    assert_eq!(returned, ["from-upstream"]);
    // An unusable value (non-printable) counts as missing.
    let (sent, _, _) = run(&plugin, "x-request-trace", &["bad\tvalue"]).await;
    let [id] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_uuid_v4(id);
}

#[tokio::test]
async fn two_runs_get_different_ids() {
    let plugin = PluginHarness::official("correlation-id", json!({})).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut run = plugin.on_request(exchange("GET", "/")).await.unwrap();
        let id = one(&run.exchange().headers, "x-correlation-id");
        assert_uuid_v4(&id);
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[1], ids[2]);
    assert_ne!(ids[0], ids[2]);
}

#[tokio::test]
async fn reserved_header_names_are_refused() {
    for (name, expected) in [
        (
            "Content-Length",
            "header_name `content-length` is reserved for HTTP message framing",
        ),
        (
            "host",
            "header_name `host` is reserved for HTTP message framing",
        ),
        (
            "x correlation",
            "header_name `x correlation` is not a valid header name",
        ),
    ] {
        match PluginHarness::official("correlation-id", json!({"header_name": name})) {
            Err(barbacane_wasm::WasmError::Init { plugin, message }) => {
                assert_eq!(plugin, "correlation-id");
                assert_eq!(message, expected);
            }
            other => panic!("{name}: expected an init error, got {other:?}"),
        }
    }
}
