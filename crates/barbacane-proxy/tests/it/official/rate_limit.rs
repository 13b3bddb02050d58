//! `rate-limit` inside a real gateway: the official plugin over the host's quotas, in process
//! and on the real Redis (127.0.0.1:6379) shared by two gateways. Header syntax is checked
//! with an independent Structured Fields parser (`sfv`).

use barbacane_proxy::{LoadOptions, ServeConfig};
use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, TestResponse, compile_yaml, compile_yaml_with};
use std::sync::Arc;

use crate::common::assert_problem;

fn spec(middlewares: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /pets:
    get:
      x-barbacane-middlewares: {middlewares}
      x-barbacane-dispatch: {{name: mock, config: {{status: 200, body: '{{"ok":true}}'}}}}
      responses: {{"200": {{description: ok}}}}
"#
    )
}

async fn gateway(middlewares: &str, limiter: Arc<dyn barbacane_wasm::RateLimiter>) -> TestGateway {
    let artifact = compile_yaml(&[("api.yaml", &spec(middlewares))]).unwrap();
    serve(&artifact, limiter).await
}

/// A gateway serving `artifact` with `limiter` as its quotas.
async fn serve(artifact: &[u8], limiter: Arc<dyn barbacane_wasm::RateLimiter>) -> TestGateway {
    TestGateway::from_artifact_with(
        artifact,
        ServeConfig::default(),
        &LoadOptions {
            rate_limiter: Some(limiter),
            ..LoadOptions::default()
        },
    )
    .await
}

fn local() -> Arc<dyn barbacane_wasm::RateLimiter> {
    Arc::new(barbacane_state::LocalLimiter::new())
}

/// The members of a Structured Field list: (string item, integer parameters).
fn sf_list(r: &TestResponse, field: &str) -> Vec<(String, Vec<(String, i64)>)> {
    let value = r
        .header(field)
        .unwrap_or_else(|| panic!("no {field} on the response: {}", r.text()));
    let list: sfv::List = sfv::Parser::new(value)
        .parse()
        .unwrap_or_else(|e| panic!("{field}: {value:?} is not a Structured Field list: {e}"));
    list.into_iter()
        .map(|member| match member {
            sfv::ListEntry::Item(item) => {
                let name = match item.bare_item {
                    sfv::BareItem::String(s) => s.as_str().to_owned(),
                    other => panic!("{field}: the policy is not a string: {other:?}"),
                };
                let params = item
                    .params
                    .into_iter()
                    .map(|(k, v)| match v {
                        sfv::BareItem::Integer(i) => (k.as_str().to_owned(), i64::from(i)),
                        other => panic!("{field}: parameter {k:?} is not an integer: {other:?}"),
                    })
                    .collect();
                (name, params)
            }
            sfv::ListEntry::InnerList(_) => panic!("{field}: an inner list"),
        })
        .collect()
}

fn param(member: &(String, Vec<(String, i64)>), key: &str) -> i64 {
    member
        .1
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {member:?}"))
        .1
}

#[tokio::test]
async fn a_quota_is_enforced_with_the_ietf_headers_and_a_429() {
    let gw = gateway(
        "[{name: rate-limit, config: {quota: 3, window: 10, policy_name: pets}}]",
        local(),
    )
    .await;
    for remaining in [2, 1, 0] {
        let r = gw.get("/pets").await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let policy = sf_list(&r, "ratelimit-policy");
        assert_eq!(policy.len(), 1);
        assert_eq!(policy[0].0, "pets");
        assert_eq!((param(&policy[0], "q"), param(&policy[0], "w")), (3, 10));
        let state = sf_list(&r, "ratelimit");
        assert_eq!(state[0].0, "pets");
        assert_eq!(param(&state[0], "r"), remaining);
        let t = param(&state[0], "t");
        assert!((1..=11).contains(&t), "t={t}");
    }
    let r = gw.get("/pets").await;
    assert_problem(&r, 429, "rate-limited");
    let problem = r.json();
    assert!(
        problem["detail"].as_str().unwrap().contains("pets"),
        "{problem}"
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=11).contains(&retry), "{retry}");
    assert_eq!(param(&sf_list(&r, "ratelimit")[0], "r"), 0);
}

#[tokio::test]
async fn two_policies_share_one_field_and_partitions_are_separate() {
    let gw = gateway(
        "[{name: rate-limit, config: {quota: 5, window: 60, policy_name: minute, partition_key: 'header:x-api-key'}}, \
          {name: rate-limit, config: {quota: 2, window: 1, policy_name: burst, partition_key: 'header:x-api-key'}}]",
        local(),
    )
    .await;
    let send = |key: &'static str| {
        let gw = &gw;
        async move {
            gw.send(
                gw.request("GET", "/pets")
                    .header("x-api-key", key)
                    .body(Default::default())
                    .unwrap(),
            )
            .await
        }
    };
    let r = send("alice").await;
    assert_eq!(r.status(), 200);
    let names: Vec<String> = sf_list(&r, "ratelimit").into_iter().map(|m| m.0).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"minute".to_owned()) && names.contains(&"burst".to_owned()));
    let policies = sf_list(&r, "ratelimit-policy");
    assert_eq!(policies.len(), 2, "{policies:?}");
    assert_eq!(send("alice").await.status(), 200);
    // The burst policy (2 per second) stops alice; bob has his own quota.
    assert_problem(&send("alice").await, 429, "rate-limited");
    assert_eq!(send("bob").await.status(), 200);
}

#[tokio::test]
async fn policies_the_gateway_decides_keep_their_place_in_a_chain_with_plugins() {
    // `minute` (by header) and `burst` (by address) are decided by the gateway itself, one
    // before and one after a plugin that still runs (`correlation-id`), and `tenant` (by
    // context) by its plugin: members in the order `on_response` hooks would give them.
    let gw = gateway(
        "[{name: rate-limit, config: {quota: 5, window: 60, policy_name: minute, partition_key: 'header:x-api-key'}}, \
          {name: correlation-id}, \
          {name: rate-limit, config: {quota: 1, window: 60, policy_name: burst}}, \
          {name: rate-limit, config: {quota: 9, window: 60, policy_name: tenant, partition_key: 'context:sub'}}]",
        local(),
    )
    .await;
    let send = || async {
        gw.send(
            gw.request("GET", "/pets")
                .header("x-api-key", "alice")
                .body(Default::default())
                .unwrap(),
        )
        .await
    };
    let r = send().await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(
        r.header("x-correlation-id").is_some(),
        "the plugin between them ran"
    );
    let names = |r: &TestResponse, field| -> Vec<String> {
        sf_list(r, field).into_iter().map(|m| m.0).collect()
    };
    assert_eq!(names(&r, "ratelimit"), ["tenant", "burst", "minute"]);
    assert_eq!(names(&r, "ratelimit-policy"), ["tenant", "burst", "minute"]);
    assert_eq!(param(&sf_list(&r, "ratelimit")[2], "r"), 4);

    // `burst` refuses: its own 429 members first, then what `minute` reported; `tenant`
    // never ran.
    let r = send().await;
    assert_problem(&r, 429, "rate-limited");
    assert!(r.json()["detail"].as_str().unwrap().contains("\"burst\""));
    assert_eq!(names(&r, "ratelimit"), ["burst", "minute"]);
    assert_eq!(param(&sf_list(&r, "ratelimit")[0], "r"), 0);
    assert_eq!(param(&sf_list(&r, "ratelimit")[1], "r"), 3);
    let policy = &sf_list(&r, "ratelimit-policy")[0];
    assert_eq!((param(policy, "q"), param(policy, "w")), (1, 60));
}

#[tokio::test]
async fn a_request_the_gateway_lets_through_reaches_the_upstream_with_its_traceparent() {
    // No plugin runs for a route limited only by `x-barbacane-ratelimit`: the new
    // `traceparent` (written lazily without a tracer) must still go to the upstream.
    let upstream = CaptureServer::start(Reply::new(200, "application/json", "{}")).await;
    let spec = format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
x-barbacane-ratelimit: {{quota: 10, window: 60}}
paths:
  /pets:
    get:
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{}"}}}}
      responses: {{"200": {{description: ok}}}}
"#,
        upstream.url()
    );
    let artifact = compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true
    })
    .unwrap();
    let gw = serve(&artifact, local()).await;
    let r = gw.get("/pets").await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(param(&sf_list(&r, "ratelimit")[0], "r"), 9);
    let trace_id = r.header("x-trace-id").expect("x-trace-id").to_owned();
    let sent = upstream.requests()[0]
        .header("traceparent")
        .expect("a traceparent for the upstream")
        .to_owned();
    assert_eq!(sent.split('-').nth(1), Some(trace_id.as_str()), "{sent}");
}

fn redis(prefix: &str) -> Arc<dyn barbacane_wasm::RateLimiter> {
    Arc::new(
        barbacane_state::RedisLimiter::with_prefix("redis://127.0.0.1:6379/0", prefix).unwrap(),
    )
}

#[tokio::test]
async fn two_gateways_on_one_redis_enforce_one_quota() {
    let prefix = format!(
        "barbacane-test:{}:{}:",
        std::process::id(),
        uuid::Uuid::new_v4()
    );
    let a = gateway(
        "[{name: rate-limit, config: {quota: 10, window: 30}}]",
        redis(&prefix),
    )
    .await;
    let b = gateway(
        "[{name: rate-limit, config: {quota: 10, window: 30}}]",
        redis(&prefix),
    )
    .await;
    let mut allowed = 0;
    let mut unavailable = 0;
    for i in 0..40 {
        let gw = if i % 2 == 0 { &a } else { &b };
        match gw.get("/pets").await.status() {
            200 => allowed += 1,
            429 => {}
            // The first takes may find no connection yet (connected lazily).
            503 => unavailable += 1,
            other => panic!("unexpected {other}"),
        }
        if unavailable > 0 && allowed == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(allowed, 10, "{unavailable} unavailable");
}

#[tokio::test]
async fn an_unreachable_redis_fails_open_or_closed_as_configured() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = || -> Arc<dyn barbacane_wasm::RateLimiter> {
        Arc::new(barbacane_state::RedisLimiter::new(&format!("redis://127.0.0.1:{port}")).unwrap())
    };
    let open = gateway(
        "[{name: rate-limit, config: {quota: 1, window: 10, fail_open: true}}]",
        dead(),
    )
    .await;
    for _ in 0..3 {
        let r = open.get("/pets").await;
        assert_eq!(r.status(), 200);
        assert!(r.header("ratelimit").is_none());
    }
    let closed = gateway(
        "[{name: rate-limit, config: {quota: 1, window: 10}}]",
        dead(),
    )
    .await;
    let r = closed.get("/pets").await;
    assert_problem(&r, 503, "rate-limit-unavailable");
}

#[tokio::test]
async fn the_x_barbacane_ratelimit_sugar_is_a_rate_limit_at_the_front_of_the_chain() {
    let spec = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-ratelimit: {quota: 2, window: 10, policy_name: root}
paths:
  /pets:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /owners:
    get:
      x-barbacane-ratelimit:
        - {quota: 1, window: 10, policy_name: strict}
      x-barbacane-middlewares: [{name: correlation-id}]
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;
    let artifact = compile_yaml(&[("api.yaml", spec)]).unwrap();
    let gw = serve(&artifact, local()).await;
    assert_eq!(gw.get("/pets").await.status(), 200);
    let r = gw.get("/pets").await;
    assert_eq!(sf_list(&r, "ratelimit")[0].0, "root");
    assert_problem(&gw.get("/pets").await, 429, "rate-limited");
    // The operation's own policy replaces the root's; its chain still runs after it.
    let r = gw.get("/owners").await;
    assert_eq!(r.status(), 200);
    assert_eq!(sf_list(&r, "ratelimit-policy")[0].0, "strict");
    assert_problem(&gw.get("/owners").await, 429, "rate-limited");
}

#[test]
fn bad_sugar_values_are_diagnostics_at_their_key() {
    let spec = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    get:
      x-barbacane-ratelimit:
        - {quota: 5, window: 0}
        - {quota: 5, window: 10, partition_key: "cookie:sid", policy_name: "a\"b", fail_open: "yes", trusted_proxies: ["10.0.0.0/33"]}
        - 7
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;
    let diags = compile_yaml(&[("api.yaml", spec)]).unwrap_err();
    let at = |code: &str, pointer: &str| {
        assert!(
            diags
                .iter()
                .any(|d| d.code.as_str() == code && d.json_pointer == pointer),
            "no {code} at {pointer}: {diags:#?}"
        );
    };
    let base = "/paths/~1a/get/x-barbacane-ratelimit";
    at("E1041", &format!("{base}/0/window"));
    at("E1041", &format!("{base}/1/partition_key"));
    at("E1041", &format!("{base}/1/policy_name"));
    at("E1041", &format!("{base}/1/fail_open"));
    at("E1041", &format!("{base}/1/trusted_proxies"));
    at("E1040", &format!("{base}/2"));
}
