//! The sandbox holds: a trapping, looping or memory-hungry middleware fails its request
//! with a 500 and no details, the gateway keeps serving, a failure on the way back leaves
//! the response as it was, a refused configuration stops the load, and nothing a plugin
//! stores survives its request.

use barbacane_proxy::Snapshot;
use barbacane_test::{TestGateway, compile_project};
use bytes::Bytes;
use http_body_util::Full;

use crate::common::assert_problem;

fn spec(chaos: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /a:
    get:
      x-barbacane-middlewares: [{{name: chaos, config: {chaos}}}, {{name: correlation-id}}]
      x-barbacane-dispatch: {{name: mock, config: {{body: fine}}}}
      responses: {{"200": {{description: ok}}}}
"#
    )
}

fn artifact(chaos: &str) -> Vec<u8> {
    let bundle = barbacane_plugins::test_plugin("chaos").expect("chaos is built");
    compile_project(&[("api.yaml", &spec(chaos))], &[bundle]).unwrap_or_else(|d| panic!("{d:#?}"))
}

async fn gateway(chaos: &str) -> TestGateway {
    TestGateway::from_artifact(&artifact(chaos), Default::default()).await
}

#[tokio::test]
async fn a_failing_on_request_is_a_500_without_details_and_the_gateway_lives_on() {
    for fail in ["trap", "loop", "hog"] {
        let gw = gateway(&format!("{{fail: {fail}}}")).await;
        for _ in 0..2 {
            let r = gw.get("/a").await;
            assert_problem(&r, 500, "plugin-failed");
            let body = r.text();
            assert!(
                !body.contains("chaos") && !body.contains("trap") && !body.contains("memory"),
                "{fail}: production problems carry no internals: {body}"
            );
        }
    }
    // A well-behaved configuration of the same plugin, after all that, still works.
    let gw = gateway("{fail: none}").await;
    let r = gw.get("/a").await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(r.text(), "fine");
}

#[tokio::test]
async fn a_failing_on_response_leaves_the_response_as_it_was() {
    for fail in ["trap", "loop", "hog"] {
        let gw = gateway(&format!("{{fail: {fail}, on: response}}")).await;
        let r = gw.get("/a").await;
        // chaos sets 299 before failing: that change must be dropped.
        assert_eq!(r.status(), 200, "{fail}: {}", r.text());
        assert_eq!(r.text(), "fine");
        // correlation-id (later in the chain, so earlier on the way back) still ran.
        assert!(r.header("x-correlation-id").is_some(), "{fail}");
    }
}

#[tokio::test]
async fn a_refused_configuration_stops_the_load() {
    let err = Snapshot::from_bytes(&artifact("{fail: refuse}")).unwrap_err();
    assert_eq!(err.exit_code(), barbacane_proxy::exit_code::CONFIG_INVALID);
    assert!(
        err.to_string().contains("refuses this configuration"),
        "{err}"
    );
}

#[tokio::test]
async fn nothing_survives_a_request_but_one_instance_serves_both_hooks() {
    let gw = gateway("{remember: true}").await;
    for secret in ["first", "second", "third"] {
        let r = gw
            .send(
                gw.request("GET", "/a")
                    .header("x-secret", secret)
                    .body(Full::<Bytes>::default())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.header("x-previous-secret"),
            Some(""),
            "a fresh instance per request"
        );
        assert_eq!(
            r.header("x-remembered"),
            Some(secret),
            "on_response sees on_request's state"
        );
    }
}
