//! `cache` inside a real gateway: the official plugin over the host's response cache, in
//! front of a real upstream that counts requests; coalescing of concurrent misses; the
//! shared Redis backend (127.0.0.1:6379) seen by two gateways; `x-barbacane-cache`.

use barbacane_proxy::{LoadOptions, ServeConfig};
use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, compile_yaml_with};
use barbacane_wasm::SharedCache;
use std::sync::Arc;
use std::time::Duration;

fn spec(upstream: &str, cache: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
x-barbacane-cache: {cache}
paths:
  /pets:
    get:
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{upstream}"}}}}
      responses: {{"200": {{description: ok}}}}
  /fresh:
    get:
      x-barbacane-cache: false
      x-barbacane-dispatch: {{name: http-upstream, config: {{url: "{upstream}"}}}}
      responses: {{"200": {{description: ok}}}}
"#
    )
}

fn local() -> Arc<SharedCache> {
    SharedCache::new(Arc::new(barbacane_state::LocalCache::new(8 << 20)))
}

async fn gateway(upstream: &CaptureServer, cache: &str, store: Arc<SharedCache>) -> TestGateway {
    let artifact = compile_yaml_with(&[("api.yaml", &spec(&upstream.url(), cache))], |o| {
        o.allow_plaintext_upstream = true
    })
    .unwrap();
    TestGateway::from_artifact_with(
        &artifact,
        ServeConfig::default(),
        &LoadOptions {
            response_cache: Some(store),
            ..LoadOptions::default()
        },
    )
    .await
}

fn reply(headers: &[(&str, &str)], body: &str) -> Reply {
    let mut r = Reply::new(200, "application/json", body);
    r.headers.extend(
        headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    r
}

#[tokio::test]
async fn a_proxied_response_is_stored_then_served_without_the_upstream() {
    let upstream = CaptureServer::start(reply(&[("x-origin", "1")], r#"[{"id":1}]"#)).await;
    let gw = gateway(&upstream, "{ttl: 60}", local()).await;

    let first = gw.get("/pets").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(first.header("age"), None);
    assert_eq!(first.text(), r#"[{"id":1}]"#);

    upstream.set_reply(reply(&[], "changed"));
    for _ in 0..3 {
        let hit = gw.get("/pets").await;
        assert_eq!(hit.status(), 200);
        assert_eq!(hit.header("x-cache"), Some("HIT"));
        assert_eq!(hit.header("age"), Some("0"));
        assert_eq!(hit.header("x-origin"), Some("1"), "the stored headers");
        assert_eq!(hit.header("content-type"), Some("application/json"));
        assert_eq!(hit.text(), r#"[{"id":1}]"#, "the stored body");
    }
    assert_eq!(
        upstream.requests().len(),
        1,
        "hits never reach the upstream"
    );

    // Another query is another key; `x-barbacane-cache: false` opts an operation out.
    assert_eq!(gw.get("/pets?page=2").await.header("x-cache"), Some("MISS"));
    let fresh = gw.get("/fresh").await;
    assert_eq!(fresh.header("x-cache"), None);
    assert_eq!(fresh.text(), "changed");
    assert_eq!(gw.get("/fresh").await.header("x-cache"), None);
    assert_eq!(upstream.requests().len(), 4);
}

#[tokio::test]
async fn upstream_cache_control_is_honoured() {
    let upstream = CaptureServer::start(reply(&[("cache-control", "no-store")], "a")).await;
    let gw = gateway(&upstream, "true", local()).await;
    for _ in 0..3 {
        assert_eq!(gw.get("/pets").await.header("x-cache"), Some("MISS"));
    }
    assert_eq!(
        upstream.requests().len(),
        3,
        "no-store: every request goes upstream"
    );

    for refused in [
        &[("cache-control", "private")][..],
        &[("set-cookie", "sid=1")],
        &[("vary", "accept-language")],
    ] {
        upstream.set_reply(reply(refused, "b"));
        let before = upstream.requests().len();
        gw.get("/pets").await;
        gw.get("/pets").await;
        assert_eq!(
            upstream.requests().len(),
            before + 2,
            "{refused:?} was stored"
        );
    }

    // max-age shortens the configured ttl: one second, then the entry is gone.
    upstream.set_reply(reply(&[("cache-control", "max-age=1")], "c"));
    let before = upstream.requests().len();
    assert_eq!(gw.get("/pets").await.header("x-cache"), Some("MISS"));
    assert_eq!(gw.get("/pets").await.header("x-cache"), Some("HIT"));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(gw.get("/pets").await.header("x-cache"), Some("MISS"));
    assert_eq!(upstream.requests().len(), before + 2);
}

#[tokio::test]
async fn concurrent_misses_for_one_key_reach_the_upstream_once() {
    let mut slow = reply(&[], r#"{"slow":true}"#);
    slow.delay = Duration::from_millis(300);
    let upstream = CaptureServer::start(slow).await;
    let gw = Arc::new(gateway(&upstream, "{ttl: 60}", local()).await);
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let gw = Arc::clone(&gw);
            tokio::spawn(async move { gw.get("/pets").await })
        })
        .collect();
    let mut hits = 0;
    for client in clients {
        let r = client.await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text(), r#"{"slow":true}"#);
        if r.header("x-cache") == Some("HIT") {
            hits += 1;
        }
    }
    assert_eq!(upstream.requests().len(), 1, "the misses were coalesced");
    assert_eq!(hits, 19, "the waiters were answered from the entry");
}

#[tokio::test]
async fn a_waiter_goes_upstream_itself_when_the_filler_takes_too_long() {
    let mut slow = reply(&[], "late");
    slow.delay = Duration::from_millis(600);
    let upstream = CaptureServer::start(slow).await;
    let gw = Arc::new(gateway(&upstream, "{lock_timeout_ms: 100}", local()).await);
    let first = {
        let gw = Arc::clone(&gw);
        tokio::spawn(async move { gw.get("/pets").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = gw.get("/pets").await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.header("x-cache"), Some("MISS"));
    assert_eq!(first.await.unwrap().status(), 200);
    assert_eq!(upstream.requests().len(), 2);
}

#[tokio::test]
async fn bodies_over_the_buffering_bound_stream_through_unstored() {
    let big = "x".repeat(9 << 20);
    let upstream = CaptureServer::start(reply(&[], &big)).await;
    let gw = gateway(&upstream, "true", local()).await;
    for _ in 0..2 {
        let r = gw.get("/pets").await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.text().len(),
            big.len(),
            "the whole body reached the client"
        );
        assert_eq!(r.header("x-cache"), Some("MISS"));
    }
    assert_eq!(upstream.requests().len(), 2);
}

/// A hot entry is answered from the workers' own copies (after a few hits each): those keep
/// the stored fields, count `Age` on, and stop at the entry's time to live like the store.
#[tokio::test]
async fn a_hot_entry_ages_and_expires_on_time() {
    let upstream = CaptureServer::start(reply(&[("x-origin", "1")], "hot")).await;
    let gw = gateway(&upstream, "{ttl: 2}", local()).await;
    assert_eq!(gw.get("/pets").await.header("x-cache"), Some("MISS"));
    let started = std::time::Instant::now();
    for _ in 0..64 {
        let hit = gw.get("/pets").await;
        assert_eq!(hit.header("x-cache"), Some("HIT"));
        assert_eq!(hit.header("x-origin"), Some("1"));
        assert_eq!(hit.text(), "hot");
    }
    tokio::time::sleep(Duration::from_millis(1_100).saturating_sub(started.elapsed())).await;
    for _ in 0..16 {
        let hit = gw.get("/pets").await;
        assert_eq!(hit.header("x-cache"), Some("HIT"));
        assert_eq!(hit.header("age"), Some("1"), "one whole second resident");
    }
    tokio::time::sleep(Duration::from_millis(2_050).saturating_sub(started.elapsed())).await;
    upstream.set_reply(reply(&[], "new"));
    let after = gw.get("/pets").await;
    assert_eq!(
        after.header("x-cache"),
        Some("MISS"),
        "no copy outlives the ttl"
    );
    assert_eq!(after.text(), "new");
    assert_eq!(upstream.requests().len(), 2);
}

/// Two gateways on one Redis share entries: what one stored, the other serves.
#[tokio::test]
async fn gateways_sharing_a_redis_share_the_cache() {
    let conn =
        Arc::new(barbacane_state::RedisConn::open("redis://127.0.0.1:6379/0", None).unwrap());
    assert!(
        conn.connect(Duration::from_secs(2)).await,
        "Redis on 127.0.0.1:6379 is needed (scripts/test.sh starts it)"
    );
    let prefix = format!("barbacane:test:cache:{}:", std::process::id());
    let shared = || {
        SharedCache::new(Arc::new(barbacane_state::RedisCache::on_with_prefix(
            Arc::clone(&conn),
            &prefix,
        )))
    };
    let upstream = CaptureServer::start(reply(&[("x-origin", "a")], "shared")).await;
    let a = gateway(&upstream, "{ttl: 30}", shared()).await;
    let b = gateway(&upstream, "{ttl: 30}", shared()).await;
    assert_eq!(a.get("/pets").await.header("x-cache"), Some("MISS"));
    let from_b = b.get("/pets").await;
    assert_eq!(from_b.header("x-cache"), Some("HIT"));
    assert_eq!(from_b.header("x-origin"), Some("a"));
    assert_eq!(from_b.text(), "shared");
    assert_eq!(upstream.requests().len(), 1);
}

/// The official plugin in the runtime as the gateway drives it: for each request shape, the
/// plugin fills the entry on a miss (its own key, `cache::HitRule::key` inside the guest) and
/// the gateway's `serve_cached` then finds it (the host's key for the same request): the two
/// keys are the same bytes. Methods the plugin does not cache never reach it.
#[tokio::test]
async fn the_gateway_finds_what_the_plugin_stored_for_every_key_shape() {
    use barbacane_wasm::{CacheStep, ExchangeState, ResponseState};
    let bundle = barbacane_plugins::find("cache").unwrap();
    let prepared = barbacane_wasm::Runtime::global()
        .unwrap()
        .load(
            barbacane_plugin_abi::PluginManifest::parse(bundle.manifest).unwrap(),
            bundle.wasm,
        )
        .unwrap()
        .with_cache(local(), "ns")
        .prepare(&serde_json::json!({"vary": ["Accept-Language", "x-tenant"]}))
        .unwrap();
    assert!(prepared.serves_hits());

    let request = |method: &str, target: &str, headers: &[(&str, &[u8])]| {
        let mut e = ExchangeState {
            method: method.parse().unwrap(),
            uri: target.parse().unwrap(),
            ..Default::default()
        };
        for (n, v) in headers {
            e.headers.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v).unwrap(),
            );
        }
        e
    };
    type Headers<'a> = &'a [(&'a str, &'a [u8])];
    let shapes: [(&str, &str, Headers); 6] = [
        ("GET", "/pets", &[]),
        ("GET", "/pets?b=2&a=1", &[]),
        ("GET", "/pets?", &[]),
        (
            "GET",
            "/pets",
            &[
                ("accept-language", b"fr"),
                ("accept-language", b"en;q=0.5"),
                ("x-tenant", b"a\xffb"),
            ],
        ),
        ("HEAD", "/pets", &[("x-tenant", b"acme")]),
        ("GET", "/pets", &[("authorization", b"Bearer t")]),
    ];
    for (method, target, sent) in shapes {
        let exchange = request(method, target, sent);
        let Some(CacheStep::Lookup(lookup)) = prepared.serve_cached((&exchange).into()).await
        else {
            panic!("{method} {target}: an empty cache misses");
        };
        let mut call = prepared.start_async(exchange).await.unwrap();
        call.hand_lookup(lookup);
        assert_eq!(
            call.on_request_async().await.unwrap(),
            barbacane_plugin_abi::Action::Continue
        );
        let mut headers = http::HeaderMap::new();
        // Shareable even for an authorized request.
        headers.insert("cache-control", "public, max-age=60".parse().unwrap());
        headers.insert("age", "7".parse().unwrap());
        call.exchange_mut().response = Some(ResponseState {
            status: http::StatusCode::OK,
            headers,
            body: Some(bytes::Bytes::from_static(b"stored")),
        });
        call.on_response_async().await.unwrap();
        let answered = call.into_exchange().response.unwrap();
        assert_eq!(answered.headers["x-cache"], "MISS");

        let again = request(method, target, sent);
        let step = prepared.serve_cached((&again).into()).await;
        let Some(CacheStep::Hit(hit)) = step else {
            panic!("{method} {target} {sent:?}: the gateway's key is not the plugin's ({step:?})");
        };
        assert_eq!(hit.body.as_deref(), Some(&b"stored"[..]));
        assert_eq!(hit.headers["x-cache"], "HIT");
        assert_eq!(hit.headers["age"], "7", "the stored Age plus 0 s resident");

        // Another value of a varied header is another entry.
        let other = request(method, target, &[("x-tenant", b"other")]);
        assert!(matches!(
            prepared.serve_cached((&other).into()).await,
            Some(CacheStep::Lookup(_))
        ));
    }
    let post = request("POST", "/pets", &[]);
    assert!(matches!(
        prepared.serve_cached((&post).into()).await,
        Some(CacheStep::Bypass)
    ));
}

#[tokio::test]
async fn a_miss_reaches_the_upstream_with_the_new_traces_traceparent() {
    // Without a tracer the gateway writes the new `traceparent` only once a cache hit could
    // no longer answer: the miss that goes on must still carry it.
    let upstream = CaptureServer::start(reply(&[], "{}")).await;
    let gw = gateway(&upstream, "{ttl: 60}", local()).await;
    let miss = gw.get("/pets").await;
    assert_eq!(miss.header("x-cache"), Some("MISS"));
    let trace_id = miss.header("x-trace-id").expect("x-trace-id").to_owned();
    let sent = upstream.requests()[0]
        .header("traceparent")
        .expect("a traceparent for the upstream")
        .to_owned();
    assert_eq!(sent.split('-').nth(1), Some(trace_id.as_str()), "{sent}");
    let hit = gw.get("/pets").await;
    assert_eq!(hit.header("x-cache"), Some("HIT"));
    assert_eq!(upstream.requests().len(), 1);
}
