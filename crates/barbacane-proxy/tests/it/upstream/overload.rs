//! A plugin pool at its bound: a request that cannot get an instance within the wait is
//! refused with 503 `plugin-overloaded` and `Retry-After`, never hangs, and the route
//! recovers as soon as the instance comes back. The middleware's instance is held for the
//! whole request (through the upstream call), so a slow upstream keeps the only one busy.

use barbacane_proxy::{LoadOptions, ServeConfig};
use barbacane_test::TestGateway;
use barbacane_wasm::PoolOptions;
use std::time::Duration;

use super::compile;
use super::servers::{self, Behavior};
use crate::common::assert_problem;

fn spec(url: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /slow:
    get:
      x-barbacane-middlewares: [{{name: correlation-id}}]
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
