//! The sandbox holds: a trapping, looping or memory-hungry middleware fails its request
//! with a 500 and no details, the gateway keeps serving, a failure on the way back leaves
//! the response as it was, a refused configuration stops the load; an instance's memory
//! outlives a request only when the plugin's isolation allows it.

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

/// The same plugin whose `plugin.toml` asks for a fresh instance per request.
fn artifact_isolated(chaos: &str) -> Vec<u8> {
    let bundle = barbacane_plugins::test_plugin("chaos").expect("chaos is built");
    let manifest = format!("{}isolation = \"request\"\n", bundle.manifest);
    let isolated = barbacane_plugins::Bundle {
        manifest: Box::leak(manifest.into_boxed_str()),
        ..*bundle
    };
    compile_project(&[("api.yaml", &spec(chaos))], &[&isolated])
        .unwrap_or_else(|d| panic!("{d:#?}"))
}

/// Sends `GET /a` with `x-secret`; returns (`x-previous-secret`, `x-remembered`).
async fn remember(gw: &TestGateway, secret: &str) -> (String, String) {
    let r = gw
        .send(
            gw.request("GET", "/a")
                .header("x-secret", secret)
                .body(Full::<Bytes>::default())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let header = |name| r.header(name).unwrap_or("(none)").to_owned();
    (header("x-previous-secret"), header("x-remembered"))
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
async fn an_instance_keeps_its_memory_from_request_to_request() {
    let gw = gateway("{remember: true}").await;
    let mut previous = String::new();
    for secret in ["first", "second", "third"] {
        let (seen, remembered) = remember(&gw, secret).await;
        assert_eq!(
            seen, previous,
            "the reused instance remembers the last request"
        );
        assert_eq!(remembered, secret, "on_response sees on_request's state");
        previous = secret.to_owned();
    }
}

#[tokio::test]
async fn with_isolation_request_nothing_survives_a_request() {
    let artifact = artifact_isolated("{remember: true}");
    let gw = TestGateway::from_artifact(&artifact, Default::default()).await;
    for secret in ["first", "second", "third"] {
        let (seen, remembered) = remember(&gw, secret).await;
        assert_eq!(seen, "", "a fresh instance per request");
        assert_eq!(remembered, secret, "one instance still serves both hooks");
    }
}

#[tokio::test]
async fn a_failed_instance_is_replaced_by_a_fresh_one() {
    for fail in ["trap", "loop", "hog"] {
        let gw = gateway(&format!(
            "{{fail: {fail}, remember: true, when_header: x-fail}}"
        ))
        .await;
        assert_eq!(remember(&gw, "first").await.0, "", "{fail}");
        assert_eq!(remember(&gw, "second").await.0, "first", "{fail}: reused");
        // Stores "third", then fails: 500, and that instance is discarded.
        let r = gw
            .send(
                gw.request("GET", "/a")
                    .header("x-secret", "third")
                    .header("x-fail", "1")
                    .body(Full::<Bytes>::default())
                    .unwrap(),
            )
            .await;
        assert_problem(&r, 500, "plugin-failed");
        let (seen, remembered) = remember(&gw, "fourth").await;
        assert_eq!(
            seen, "",
            "{fail}: the next request runs on a fresh instance"
        );
        assert_eq!(remembered, "fourth");
    }
}
