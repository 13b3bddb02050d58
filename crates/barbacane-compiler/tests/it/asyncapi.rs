//! AsyncAPI 3.0 documents: what each operation compiles into, and the diagnostics.

use super::*;
use barbacane_artifact::{EventAction, Operation, ParamLocation};
use serde_json::json;

fn shop() -> CompileOutput {
    compile(&LocalFs, &options(&["valid/asyncapi_shop.yaml"])).expect("shop compiles")
}

fn op<'a>(out: &'a CompileOutput, method: &str, path: &str) -> &'a Operation {
    out.config
        .operations
        .iter()
        .find(|o| o.method == method && o.path == path)
        .unwrap_or_else(|| panic!("no {method} {path} in {:#?}", out.config.operations))
}

#[test]
fn send_operations_are_posts_on_the_channel_address() {
    let out = shop();
    let routes: Vec<(&str, &str)> = out
        .config
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.path.as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("POST", "/audit.{tenant}"),
            ("GET", "/shop/shipments"),
            ("POST", "/shop/shipments"),
            ("POST", "/shop/{region}/orders"),
        ]
    );
    let order = op(&out, "POST", "/shop/{region}/orders");
    assert_eq!(order.operation_id.as_deref(), Some("placeOrder"));
    assert_eq!(order.pointer, "/operations/placeOrder");
    let event = order.event.as_ref().expect("event operation");
    assert_eq!(event.action, EventAction::Send);
    assert_eq!(event.address, "/shop/{region}/orders");
    let names: Vec<&str> = event.messages.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["OrderPlaced", "OrderCancelled", "LegacyCsv"]);
    // Send operations do not repeat the payload schemas (the request body has them).
    assert!(event.messages.iter().all(|m| m.schema.is_none()));
}

#[test]
fn a_body_is_any_of_the_messages_of_its_content_type() {
    let out = shop();
    let body = op(&out, "POST", "/shop/{region}/orders")
        .request_body
        .as_ref()
        .expect("send operations have a body");
    assert!(body.required);
    let types: Vec<&str> = body.content.iter().map(|m| m.media_type.as_str()).collect();
    assert_eq!(types, ["application/json", "text/csv"]);
    let json_schema = body.content[0].schema.as_ref().unwrap();
    let any = json_schema["anyOf"].as_array().expect("two JSON messages");
    assert_eq!(any.len(), 2);
    assert_eq!(any[0]["required"], json!(["orderId", "total"]));
    assert_eq!(any[1]["additionalProperties"], json!(false));
    // The component schema went into the shared definitions.
    assert_eq!(any[0]["properties"]["total"]["$ref"], "#/$defs/Money");
    assert!(out.config.definitions.contains_key("Money"));
    assert_eq!(body.content[1].schema, Some(json!({"type": "string"})));
}

#[test]
fn channel_parameters_and_message_headers_become_parameters() {
    let out = shop();
    let order = op(&out, "POST", "/shop/{region}/orders");
    let region = order
        .parameters
        .iter()
        .find(|p| p.name == "region")
        .unwrap();
    assert_eq!(region.location, ParamLocation::Path);
    assert!(region.required);
    // AsyncAPI 3.0 parameter objects have no schema: their `enum` is the rule.
    assert_eq!(region.schema.as_ref().unwrap()["enum"], json!(["eu", "us"]));
    let key = order
        .parameters
        .iter()
        .find(|p| p.name == "X-Idempotency-Key")
        .unwrap();
    assert_eq!(key.location, ParamLocation::Header);
    // Two of the three messages require it; `LegacyCsv` has no headers, so a body of that
    // message may come without it.
    assert!(!key.required);
    // Declared by two messages with different rules: not schema-checked.
    assert!(key.schema.is_none());
    let audit = op(&out, "POST", "/audit.{tenant}");
    let tenant = &audit.parameters[0];
    assert_eq!(tenant.schema.as_ref().unwrap()["pattern"], "^[a-z]+$");
}

#[test]
fn draft07_tuples_are_rewritten_to_2020_12() {
    let out = shop();
    let body = op(&out, "POST", "/shop/shipments")
        .request_body
        .as_ref()
        .unwrap();
    let position = &body.content[0].schema.as_ref().unwrap()["properties"]["position"];
    assert_eq!(
        position,
        &json!({"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": false})
    );
}

#[test]
fn receive_operations_are_gets_that_keep_their_message_schemas() {
    let out = shop();
    let track = op(&out, "GET", "/shop/shipments");
    assert!(track.request_body.is_none());
    let event = track.event.as_ref().unwrap();
    assert_eq!(event.action, EventAction::Receive);
    assert_eq!(event.messages.len(), 1);
    assert_eq!(event.messages[0].name, "shipped");
    assert_eq!(event.messages[0].content_type, "application/json");
    let schema = event.messages[0]
        .schema
        .as_ref()
        .expect("receive keeps schemas");
    assert_eq!(schema["required"], json!(["id", "position"]));
}

#[test]
fn a_payload_in_another_schema_format_is_a_warning_and_not_checked() {
    let out = shop();
    let w: Vec<_> = out
        .warnings
        .iter()
        .filter(|d| d.code == Code::W1005)
        .collect();
    assert_eq!(w.len(), 1, "{:#?}", out.warnings);
    assert_eq!(
        w[0].json_pointer,
        "/channels/audit/messages/entry/payload/schemaFormat"
    );
    assert!(w[0].message.contains("avro"), "{}", w[0].message);
    let audit = op(&out, "POST", "/audit.{tenant}");
    let body = audit.request_body.as_ref().unwrap();
    assert_eq!(body.content[0].media_type, "application/json");
    assert!(body.content[0].schema.is_none());
    assert_eq!(audit.event.as_ref().unwrap().messages[0].name, "AuditEntry");
}

#[test]
fn asyncapi_diagnostics() {
    assert_code(
        &["invalid/e1002_asyncapi_version.yaml"],
        Code::E1002,
        "/asyncapi",
    );
    assert_code(
        &["invalid/e1006_asyncapi_action.yaml"],
        Code::E1006,
        "/operations/publish/action",
    );
    assert_code(
        &["invalid/e1006_asyncapi_address.yaml"],
        Code::E1006,
        "/channels/dynamic/address",
    );
    // An HTTP-facing server's security applies to the channel's operations.
    assert_code(
        &["invalid/e1032_asyncapi_server.yaml"],
        Code::E1032,
        "/servers/edge/security",
    );
    // One routing table across OpenAPI and AsyncAPI documents.
    assert_code(
        &[
            "invalid/mixed/e1010_openapi.yaml",
            "invalid/mixed/e1010_asyncapi.yaml",
        ],
        Code::E1010,
        "/operations/publish",
    );
}
