//! Plugin pools under a slow upstream (a middleware's instance is held for the whole request,
//! through the upstream call): a pool at its bound refuses with 503 `plugin-overloaded` and
//! `Retry-After`, never hangs, and recovers as soon as the instance comes back; a hot swap
//! gives new requests the new configuration's pool while requests in flight finish on the
//! old one.

use barbacane_proxy::{LoadOptions, ServeConfig};
use barbacane_test::TestGateway;
use barbacane_wasm::PoolOptions;
use std::time::Duration;

use super::compile;
use super::servers::{self, Behavior};
use crate::common::assert_problem;

fn spec(url: &str) -> String {
    spec_with(url, "{name: correlation-id}")
}

fn spec_with(url: &str, middleware: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /slow:
    get:
      x-barbacane-middlewares: [{middleware}]
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{url}", timeout: 10}}}}
      responses: {{"200": {{description: ok}}}}
"#
    )
}

#[tokio::test]
async fn a_busy_pool_answers_503_with_retry_after_and_recovers() {
    let up = servers::start(Behavior::Slow(Duration::from_millis(800))).await;
    let options = LoadOptions {
        plugin_pool: PoolOptions {
            max_instances: 1,
            wait: Duration::from_millis(50),
        },
        ..LoadOptions::default()
    };
    let gw = TestGateway::from_artifact_with(
        &compile(&spec(&up.url())),
        ServeConfig::default(),
        &options,
    )
    .await;
    let (held, refused) = tokio::join!(gw.get("/slow"), async {
        // Let the first request check the only instance out and reach the upstream.
        for _ in 0..100 {
            if up.hits() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        gw.get("/slow").await
    });
    assert_eq!(held.status(), 200, "{}", held.text());
    assert_problem(&refused, 503, "plugin-overloaded");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        up.hits(),
        1,
        "the refused request never reached the upstream"
    );
    let again = gw.get("/slow").await;
    assert_eq!(
        again.status(),
        200,
        "the instance came back: {}",
        again.text()
    );
    assert!(again.header("x-correlation-id").is_some());
}

#[tokio::test]
async fn a_swap_leaves_requests_in_flight_on_the_old_pool() {
    let up = servers::start(Behavior::Slow(Duration::from_millis(600))).await;
    let gw = TestGateway::from_artifact(&compile(&spec(&up.url())), ServeConfig::default()).await;
    let renamed = spec_with(
        &up.url(),
        "{name: correlation-id, config: {header_name: x-trace-ref}}",
    );
    let (in_flight, after) = tokio::join!(gw.get("/slow"), async {
        for _ in 0..100 {
            if up.hits() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        gw.gateway()
            .swap(barbacane_proxy::Snapshot::from_bytes(&compile(&renamed)).unwrap());
        gw.get("/slow").await
    });
    assert_eq!(in_flight.status(), 200, "{}", in_flight.text());
    assert!(
        in_flight.header("x-correlation-id").is_some(),
        "the request in flight finished with the old configuration"
    );
    assert_eq!(after.status(), 200, "{}", after.text());
    assert!(after.header("x-trace-ref").is_some());
    assert!(after.header("x-correlation-id").is_none());
}
