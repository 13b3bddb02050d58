//! Event dispatch inside a real gateway: AsyncAPI `send` operations published to a real NATS
//! server and a real Kafka-protocol broker (tansu, see `scripts/tansu.sh`), read back from
//! the brokers; broker outages; and `fire-and-forget` delivering to a real HTTP server.

use barbacane_events::test_support::{NatsServer, Tansu, shared_nats_url};
use barbacane_events::{BrokerOptions, Brokers};
use barbacane_test::capture::{CaptureServer, Reply};
use barbacane_test::{TestGateway, TestResponse, compile_yaml_with};
use bytes::Bytes;
use http_body_util::Full;
use std::time::{Duration, Instant};

/// An AsyncAPI document with one `send` operation on `address`, dispatched by `dispatch`
/// (YAML flow); the message requires `id` (a string) and allows `n`.
fn spec(address: &str, dispatch: &str) -> String {
    format!(
        r#"asyncapi: 3.0.0
info: {{title: events, version: "1"}}
channels:
  c:
    address: {address}
    messages:
      Thing:
        payload:
          type: object
          required: [id]
          properties:
            id: {{type: string}}
            n: {{type: integer}}
operations:
  publish:
    action: send
    channel: {{$ref: '#/channels/c'}}
    x-barbacane-dispatch: {dispatch}
"#
    )
}

async fn gateway(spec: &str) -> TestGateway {
    let artifact = compile_yaml_with(&[("events.yaml", spec)], |o| {
        o.allow_plaintext_upstream = true
    })
    .unwrap_or_else(|d| panic!("spec does not compile: {d:#?}\n{spec}"));
    TestGateway::from_artifact(&artifact, Default::default()).await
}

async fn post(gw: &TestGateway, path: &str, headers: &[(&str, &str)], body: &str) -> TestResponse {
    let mut request = gw
        .request("POST", path)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    gw.send(
        request
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .unwrap(),
    )
    .await
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

fn brokers() -> Brokers {
    Brokers::new(BrokerOptions::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_publishes_each_valid_message_in_order_with_its_headers() {
    let url = shared_nats_url();
    let root = unique("gw.nats.");
    let gw = gateway(&spec(
        "/orders/{region}",
        &format!(
            "{{name: nats, config: {{url: '{url}', subject: '{root}.{{region}}', \
             headers_from_request: [X-Tenant]}}}}"
        ),
    ))
    .await;
    let reader = brokers();
    let mut subscription = reader
        .nats_subscribe(&url, &format!("{root}.>"), 64)
        .await
        .unwrap();
    for n in 0..20 {
        let r = post(
            &gw,
            "/orders/eu",
            &[("x-tenant", "acme")],
            &format!(r#"{{"id":"o{n}","n":{n}}}"#),
        )
        .await;
        assert_eq!(r.status(), 202, "{}", r.text());
        assert_eq!(r.json(), serde_json::json!({"status": "accepted"}));
    }
    // Invalid messages are refused before any broker sees them.
    let bad = post(&gw, "/orders/eu", &[], r#"{"n":1}"#).await;
    assert_eq!(bad.status(), 400);
    for n in 0..20 {
        let event = tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .expect("published message arrives")
            .expect("subscription open")
            .expect("no lag");
        assert_eq!(event.subject, format!("{root}.eu"));
        let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
        assert_eq!(payload, serde_json::json!({"id": format!("o{n}"), "n": n}));
        assert!(
            event
                .headers
                .contains(&("x-tenant".to_owned(), "acme".to_owned())),
            "{:?}",
            event.headers
        );
        assert!(
            event
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "application/json"),
            "{:?}",
            event.headers
        );
    }
    let nothing_more = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await;
    assert!(nothing_more.is_err(), "the invalid message was published");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_nats_server_is_a_503_and_the_route_recovers() {
    let mut server = NatsServer::start();
    let url = server.url();
    let gw = gateway(&spec(
        "/events",
        &format!("{{name: nats, config: {{url: '{url}', subject: gw.outage, timeout_ms: 1000}}}}"),
    ))
    .await;
    assert_eq!(
        post(&gw, "/events", &[], r#"{"id":"a"}"#).await.status(),
        202
    );
    server.kill();
    let started = Instant::now();
    let down = post(&gw, "/events", &[], r#"{"id":"b"}"#).await;
    assert_eq!(down.status(), 503, "{}", down.text());
    assert_eq!(
        down.json()["type"],
        "urn:barbacane:error:broker-unavailable"
    );
    assert_eq!(down.header("retry-after"), Some("1"));
    // Bounded by the configured timeout (plus slack for a loaded machine), never a hang.
    assert!(started.elapsed() < Duration::from_secs(10));
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = post(&gw, "/events", &[], r#"{"id":"c"}"#).await;
        if r.status() == 202 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {}", r.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_records_carry_key_headers_and_payload_in_order() {
    let tansu = Tansu::start();
    tansu.create_topic("gw-orders", 3).await;
    let gw = gateway(&spec(
        "/orders",
        &format!(
            "{{name: kafka, config: {{brokers: '{}', topic: gw-orders, key: '$request.header.X-Customer', \
             include_metadata: true, headers_from_request: [X-Tenant]}}}}",
            tansu.brokers()
        ),
    ))
    .await;
    let mut placed = Vec::new();
    for n in 0..12 {
        let customer = format!("c{}", n % 2);
        let r = post(
            &gw,
            "/orders",
            &[("x-customer", &customer), ("x-tenant", "acme")],
            &format!(r#"{{"id":"o{n}","n":{n}}}"#),
        )
        .await;
        assert_eq!(r.status(), 202, "{}", r.text());
        let body = r.json();
        assert_eq!(body["status"], "accepted");
        placed.push((
            customer,
            n,
            body["partition"].as_i64().expect("partition") as i32,
            body["offset"].as_i64().expect("offset"),
        ));
    }
    // One key, one partition; offsets grow in publish order.
    for key in ["c0", "c1"] {
        let mine: Vec<_> = placed.iter().filter(|p| p.0 == key).collect();
        assert!(mine.iter().all(|p| p.2 == mine[0].2), "{placed:?}");
        assert!(mine.windows(2).all(|w| w[0].3 < w[1].3), "{placed:?}");
    }
    // Read every record back from the broker itself.
    let client = rskafka::client::ClientBuilder::new(vec![tansu.brokers()])
        .build()
        .await
        .unwrap();
    for &(ref customer, n, partition, offset) in &placed {
        let partition_client = client
            .partition_client(
                "gw-orders",
                partition,
                rskafka::client::partition::UnknownTopicHandling::Retry,
            )
            .await
            .unwrap();
        let (records, _) = partition_client
            .fetch_records(offset, 1..1_000_000, 1_000)
            .await
            .unwrap();
        let record = &records
            .iter()
            .find(|r| r.offset == offset)
            .expect("record at its acknowledged offset")
            .record;
        assert_eq!(record.key.as_deref(), Some(customer.as_bytes()));
        let value: serde_json::Value =
            serde_json::from_slice(record.value.as_deref().unwrap()).unwrap();
        assert_eq!(value, serde_json::json!({"id": format!("o{n}"), "n": n}));
        assert_eq!(
            record.headers.get("x-tenant").map(Vec::as_slice),
            Some(&b"acme"[..])
        );
        assert_eq!(
            record.headers.get("content-type").map(Vec::as_slice),
            Some(&b"application/json"[..])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_kafka_cluster_is_a_503() {
    let mut tansu = Tansu::start();
    let brokers = tansu.brokers();
    tansu.kill();
    let gw = gateway(&spec(
        "/orders",
        &format!("{{name: kafka, config: {{brokers: '{brokers}', topic: t, timeout_ms: 1000}}}}"),
    ))
    .await;
    let started = Instant::now();
    let r = post(&gw, "/orders", &[], r#"{"id":"x"}"#).await;
    assert_eq!(r.status(), 503, "{}", r.text());
    assert_eq!(r.json()["type"], "urn:barbacane:error:broker-unavailable");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn fire_and_forget_answers_at_once_and_delivers_in_the_background() {
    // The target takes 30 s to answer: a gateway that waited for it would not answer the
    // client within the 10 s bound below.
    let mut reply = Reply::new(200, "text/plain", "slow");
    reply.delay = Duration::from_secs(30);
    let target = CaptureServer::start(reply).await;
    let yaml = format!(
        r#"openapi: 3.1.0
info: {{title: t, version: "1"}}
paths:
  /webhooks:
    post:
      x-barbacane-dispatch:
        name: fire-and-forget
        config:
          url: "{}/ingest"
          response: {{status: 202, body: '{{"accepted": true}}', headers: {{X-Queue: accepted}}}}
      responses: {{"202": {{description: accepted}}}}
"#,
        target.url()
    );
    let gw = gateway(&yaml).await;
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        post(&gw, "/webhooks", &[("x-event", "push")], r#"{"e":1}"#),
    )
    .await
    .expect("the client is answered without waiting for the target");
    assert_eq!(r.status(), 202);
    assert_eq!(r.json(), serde_json::json!({"accepted": true}));
    assert_eq!(r.header("x-queue"), Some("accepted"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while target.requests().is_empty() {
        assert!(Instant::now() < deadline, "never delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = &target.requests()[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, "/ingest");
    assert_eq!(got.header("x-event"), Some("push"));
    assert_eq!(&got.body[..], br#"{"e":1}"#);
}
