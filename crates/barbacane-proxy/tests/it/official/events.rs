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

/// A `receive` operation on `address` dispatched by `dispatch`; messages `Shipped` (requires
/// `id`) and `Note` (requires `text`).
fn receive_spec(address: &str, dispatch: &str) -> String {
    format!(
        r#"asyncapi: 3.0.0
info: {{title: streams, version: "1"}}
channels:
  c:
    address: {address}
    messages:
      Shipped:
        payload: {{type: object, required: [id], properties: {{id: {{type: string}}}}}}
      Note:
        payload: {{type: object, required: [text], additionalProperties: false, properties: {{text: {{type: string}}}}}}
operations:
  watch:
    action: receive
    channel: {{$ref: '#/channels/c'}}
    x-barbacane-dispatch: {dispatch}
"#
    )
}

/// An open Server-Sent Events response, read as raw text (chunk sizes included: the
/// assertions look for whole event frames in it).
struct SseClient {
    stream: tokio::net::TcpStream,
    seen: String,
}

impl SseClient {
    async fn open(gw: &TestGateway, path: &str, accept: &str) -> SseClient {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
        let head = format!("GET {path} HTTP/1.1\r\nHost: gw\r\nAccept: {accept}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        SseClient {
            stream,
            seen: String::new(),
        }
    }

    /// Reads until `needle` has been seen (10 s at most); returns everything so far.
    async fn until(&mut self, needle: &str) -> &str {
        use tokio::io::AsyncReadExt;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 8192];
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, self.stream.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no `{needle}` within 10 s; got:\n{}", self.seen))
                .unwrap();
            assert!(
                n > 0,
                "stream closed before `{needle}`; got:\n{}",
                self.seen
            );
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        &self.seen
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn receive_operations_stream_valid_nats_messages_as_server_sent_events() {
    let url = shared_nats_url();
    let root = unique("gw.sse.");
    let gw = gateway(&receive_spec(
        "/shipments/{region}",
        &format!("{{name: nats, config: {{url: '{url}', subject: '{root}.{{region}}'}}}}"),
    ))
    .await;
    // Without `Accept: text/event-stream`: 406, nothing subscribed.
    let r = gw
        .send(
            gw.request("GET", "/shipments/eu")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 406);
    assert_eq!(r.json()["type"], "urn:barbacane:error:not-acceptable");

    let mut client = SseClient::open(&gw, "/shipments/eu", "text/event-stream").await;
    let head = client.until(": subscribed").await.to_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    let publisher = brokers();
    let publish = |subject: String, payload: &'static str| {
        let publisher = publisher.clone();
        let url = url.clone();
        async move {
            publisher
                .nats_publish(
                    &url,
                    barbacane_events::NatsMessage {
                        subject,
                        headers: vec![],
                        payload: Bytes::from_static(payload.as_bytes()),
                        jetstream: false,
                    },
                    Duration::from_secs(5),
                )
                .await
                .unwrap()
        }
    };
    publish(format!("{root}.eu"), r#"{"id":"s1"}"#).await;
    // Matches no message schema: skipped.
    publish(format!("{root}.eu"), r#"{"other":true}"#).await;
    // Another region's subject: not this stream's.
    publish(format!("{root}.us"), r#"{"id":"us1"}"#).await;
    publish(format!("{root}.eu"), r#"{"text":"hello"}"#).await;
    let seen = client.until(r#"data: {"text":"hello"}"#).await.to_owned();
    assert!(
        seen.contains("event: Shipped\ndata: {\"id\":\"s1\"}\n\n"),
        "{seen}"
    );
    assert!(
        seen.contains("event: Note\ndata: {\"text\":\"hello\"}"),
        "{seen}"
    );
    assert!(
        !seen.contains("other"),
        "an invalid message was forwarded: {seen}"
    );
    assert!(
        !seen.contains("us1"),
        "another subject was forwarded: {seen}"
    );
    // The events come in publish order, each with an id.
    let s1 = seen.find("s1").unwrap();
    let hello = seen.find("hello").unwrap();
    assert!(s1 < hello);
    assert_eq!(seen.matches("\nid: ").count(), 2, "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_on_an_unreachable_broker_is_a_503() {
    let mut server = NatsServer::start();
    let url = server.url();
    server.kill();
    let gw = gateway(&receive_spec(
        "/shipments",
        &format!("{{name: nats, config: {{url: '{url}', subject: gw.down}}}}"),
    ))
    .await;
    let r = gw
        .send(
            gw.request("GET", "/shipments")
                .header("accept", "text/event-stream")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 503, "{}", r.text());
    assert_eq!(r.json()["type"], "urn:barbacane:error:broker-unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn receive_operations_stream_new_kafka_records() {
    let tansu = Tansu::start();
    tansu.create_topic("gw-shipments", 2).await;
    let publisher = brokers();
    let record = |value: &str| barbacane_events::KafkaRecord {
        topic: "gw-shipments".into(),
        key: Some(b"k".to_vec()),
        headers: vec![],
        payload: value.as_bytes().to_vec(),
    };
    // Published before anyone subscribed: a new subscriber starts at the latest offsets.
    publisher
        .kafka_publish(
            &tansu.brokers(),
            record(r#"{"id":"old"}"#),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let gw = gateway(&receive_spec(
        "/shipments",
        &format!(
            "{{name: kafka, config: {{brokers: '{}', topic: gw-shipments}}}}",
            tansu.brokers()
        ),
    ))
    .await;
    let mut client = SseClient::open(&gw, "/shipments", "text/event-stream").await;
    client.until(": subscribed").await;
    for value in [r#"{"id":"k1"}"#, r#"{"nope":1}"#, r#"{"id":"k2"}"#] {
        publisher
            .kafka_publish(&tansu.brokers(), record(value), Duration::from_secs(5))
            .await
            .unwrap();
    }
    let seen = client.until(r#"data: {"id":"k2"}"#).await.to_owned();
    assert!(
        seen.contains("event: Shipped\ndata: {\"id\":\"k1\"}"),
        "{seen}"
    );
    assert!(!seen.contains("old"), "{seen}");
    assert!(!seen.contains("nope"), "{seen}");
    assert!(seen.find("k1").unwrap() < seen.find("k2").unwrap());
}
