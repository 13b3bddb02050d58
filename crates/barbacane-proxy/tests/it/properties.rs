//! Property tests over the live gateway: arbitrary encoded path segments and request ids.

use barbacane_test::TestGateway;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common::{is_uuid_v4, send_with};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Properties, version: "1"}
paths:
  /a/{x}:
    get:
      parameters:
        - {name: x, in: path, required: true, schema: {type: string, minLength: 1}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"route":"a-param"}'}}
      responses: {"200": {description: ok}}
"#;

fn encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn any_fully_encoded_segment_is_one_parameter_value() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let gw = rt.block_on(TestGateway::from_specs(&[("api.yaml", SPEC)]));
    let segment = "[^\u{0}]{1,16}".prop_filter("not a dot segment", |s| s != "." && s != "..");
    runner()
        .run(&segment, |s| {
            let resp = rt.block_on(gw.get(&format!("/a/{}", encode_all(&s))));
            prop_assert_eq!(resp.status(), 200, "{:?}: {}", s, resp.text());
            prop_assert_eq!(&resp.json()["route"], "a-param");
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn well_formed_request_ids_are_kept_and_others_replaced() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let gw = rt.block_on(TestGateway::from_specs(&[("api.yaml", SPEC)]));
    runner()
        .run(&"[A-Za-z0-9._:+/=~-]{1,128}", |id| {
            let resp = rt.block_on(send_with(&gw, "GET", "/a/x", &[("x-request-id", &id)], ""));
            prop_assert_eq!(resp.header("x-request-id"), Some(id.as_str()));
            Ok(())
        })
        .expect("well-formed ids are kept");
    // One character outside the allowed set makes the id invalid. It sits between other
    // characters because leading and trailing spaces are not part of a field value.
    let invalid = (
        "[A-Za-z0-9-]{1,20}",
        "[ !\"#$%&'()*,;<>?@\\[\\\\\\]^`{|}]",
        "[A-Za-z0-9-]{1,20}",
    )
        .prop_map(|(a, bad, b)| format!("{a}{bad}{b}"));
    runner()
        .run(&invalid, |id| {
            let resp = rt.block_on(send_with(&gw, "GET", "/a/x", &[("x-request-id", &id)], ""));
            let got = resp.header("x-request-id").unwrap_or_default();
            prop_assert!(is_uuid_v4(got), "{:?} replaced by {:?}", id, got);
            Ok(())
        })
        .expect("malformed ids are replaced");
}
