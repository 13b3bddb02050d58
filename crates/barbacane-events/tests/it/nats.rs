use crate::{eventually, next, unique};
use barbacane_events::test_support::{NatsServer, shared_nats_url};
use barbacane_events::{Ack, BrokerOptions, Brokers, NatsMessage, PublishError, SubscriptionError};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(2);

fn brokers() -> Brokers {
    Brokers::new(BrokerOptions::default()).unwrap()
}

fn message(subject: &str, payload: &'static str) -> NatsMessage {
    NatsMessage {
        subject: subject.to_owned(),
        headers: vec![],
        payload: payload.into(),
        jetstream: false,
    }
}

#[tokio::test]
async fn core_publish_reaches_a_subscriber_with_headers_in_order() {
    crate::logs::install();
    let brokers = brokers();
    let url = shared_nats_url();
    let subject = unique("barbacane.test.core.");
    let mut sub = brokers.nats_subscribe(&url, &subject, 16).await.unwrap();
    for (i, payload) in ["one", "two", "three"].into_iter().enumerate() {
        let msg = NatsMessage {
            headers: vec![
                ("X-Seq".into(), i.to_string()),
                ("X-Tag".into(), "a".into()),
                ("X-Tag".into(), "b".into()),
                ("X-Token".into(), "secret-core-header".into()),
            ],
            ..message(&subject, payload)
        };
        let ack = brokers.nats_publish(&url, msg, TIMEOUT).await.unwrap();
        assert_eq!(
            ack,
            Ack::Nats {
                stream: None,
                sequence: None
            }
        );
    }
    for (i, payload) in ["one", "two", "three"].into_iter().enumerate() {
        let event = next(&mut sub).await.unwrap().unwrap();
        assert_eq!(event.id, (i + 1).to_string());
        assert_eq!(event.subject, subject);
        assert_eq!(event.payload, payload.as_bytes());
        assert_eq!(
            event.headers,
            vec![
                ("X-Seq".to_owned(), i.to_string()),
                ("X-Tag".to_owned(), "a".to_owned()),
                ("X-Tag".to_owned(), "b".to_owned()),
                ("X-Token".to_owned(), "secret-core-header".to_owned()),
            ]
        );
    }
    assert_eq!(crate::logs::leaking("secret-core"), Vec::<String>::new());
    let stats = brokers.stats();
    assert_eq!((stats.published, stats.failed), (3, 0));
    assert_eq!(stats.active_subscriptions, 1);
    drop(sub);
    assert_eq!(brokers.stats().active_subscriptions, 0);
}

#[tokio::test]
async fn wildcard_subscription_sees_each_subject() {
    let brokers = brokers();
    let url = shared_nats_url();
    let prefix = unique("barbacane.test.wild.");
    let mut sub = brokers
        .nats_subscribe(&url, &format!("{prefix}.>"), 16)
        .await
        .unwrap();
    for leaf in ["a", "b.c"] {
        let subject = format!("{prefix}.{leaf}");
        brokers
            .nats_publish(&url, message(&subject, "x"), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(next(&mut sub).await.unwrap().unwrap().subject, subject);
    }
}

#[tokio::test]
async fn jetstream_publish_returns_the_stream_and_sequence() {
    let brokers = brokers();
    let url = shared_nats_url();
    let name = unique("BARBACANE_TEST_");
    let subject = format!("barbacane.test.js.{name}");
    let client = async_nats::connect(url.as_str()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("{subject}.>")],
        storage: async_nats::jetstream::stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();

    let result = async {
        let mut acks = Vec::new();
        for n in 0..2 {
            let msg = NatsMessage {
                jetstream: true,
                headers: vec![("X-N".into(), n.to_string())],
                ..message(&format!("{subject}.order"), "stored")
            };
            acks.push(brokers.nats_publish(&url, msg, TIMEOUT).await);
        }
        let unstored = NatsMessage {
            jetstream: true,
            ..message(&unique("barbacane.test.nostream."), "lost")
        };
        let rejected = brokers.nats_publish(&url, unstored, TIMEOUT).await;
        (acks, rejected)
    }
    .await;
    let stored = js
        .get_stream(&name)
        .await
        .unwrap()
        .get_raw_message(2)
        .await
        .unwrap();
    js.delete_stream(&name).await.unwrap();

    let (acks, rejected) = result;
    for (n, ack) in acks.into_iter().enumerate() {
        assert_eq!(
            ack.unwrap(),
            Ack::Nats {
                stream: Some(name.clone()),
                sequence: Some(n as u64 + 1)
            }
        );
    }
    assert_eq!(stored.payload, "stored".as_bytes());
    assert_eq!(
        stored.headers.get("X-N").map(|v| v.as_str().to_owned()),
        Some("1".to_owned())
    );
    assert!(
        matches!(rejected, Err(PublishError::Rejected(_))),
        "{rejected:?}"
    );
}

#[tokio::test]
async fn invalid_subject_or_header_is_rejected() {
    let brokers = brokers();
    let url = shared_nats_url();
    let spaced = brokers
        .nats_publish(&url, message("has space", "x"), TIMEOUT)
        .await;
    assert!(
        matches!(spaced, Err(PublishError::Rejected(_))),
        "{spaced:?}"
    );
    let msg = NatsMessage {
        headers: vec![("X-Bad".into(), "line\r\nbreak".into())],
        ..message("barbacane.test.header", "x")
    };
    let bad = brokers.nats_publish(&url, msg, TIMEOUT).await;
    assert!(matches!(bad, Err(PublishError::Rejected(_))), "{bad:?}");
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_disconnected() {
    let brokers = brokers();
    let url = shared_nats_url();
    let subject = unique("barbacane.test.lag.");
    let mut sub = brokers.nats_subscribe(&url, &subject, 4).await.unwrap();
    for _ in 0..20 {
        brokers
            .nats_publish(&url, message(&subject, "x"), TIMEOUT)
            .await
            .unwrap();
    }
    let mut delivered = 0;
    let end = loop {
        match next(&mut sub).await.unwrap() {
            Ok(_) => delivered += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(end, SubscriptionError::Lagged { buffer: 4 });
    assert!(delivered <= 4, "{delivered} events delivered");
    assert!(next(&mut sub).await.is_none());
    assert_eq!(brokers.stats().lagged_subscriptions, 1);
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_and_is_not_cached() {
    let brokers = brokers();
    let port = barbacane_events::test_support::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let start = Instant::now();
    let result = brokers
        .nats_publish(&url, message("barbacane.test.down", "x"), TIMEOUT)
        .await;
    assert!(
        matches!(result, Err(PublishError::Unavailable(_))),
        "{result:?}"
    );
    assert!(start.elapsed() < TIMEOUT);
    let sub = brokers.nats_subscribe(&url, "barbacane.test.down", 4).await;
    assert!(matches!(sub, Err(PublishError::Unavailable(_))), "{sub:?}");
    assert_eq!(brokers.stats().failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_uses_share_one_connection() {
    let server = NatsServer::start();
    let brokers = brokers();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (brokers, url) = (brokers.clone(), server.url());
        tasks.push(tokio::spawn(async move {
            brokers
                .nats_publish(&url, message("barbacane.test.pool", "x"), TIMEOUT)
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn publishes_fail_within_the_timeout_during_an_outage_and_recover_by_themselves() {
    crate::logs::install();
    let mut server = NatsServer::start();
    let url = server.url();
    let brokers = brokers();
    let timeout = Duration::from_millis(500);
    let mut sub = brokers
        .nats_subscribe(&url, "barbacane.test.outage", 16)
        .await
        .unwrap();
    brokers
        .nats_publish(&url, message("barbacane.test.outage", "before"), timeout)
        .await
        .unwrap();
    assert_eq!(
        next(&mut sub).await.unwrap().unwrap().payload,
        "before".as_bytes()
    );

    server.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let secret = NatsMessage {
            headers: vec![("Authorization".into(), "secret-header-value".into())],
            ..message("barbacane.test.outage", "secret-payload")
        };
        let result = brokers.nats_publish(&url, secret, timeout).await;
        assert!(
            matches!(
                result,
                Err(PublishError::Unavailable(_) | PublishError::Timeout)
            ),
            "{result:?}"
        );
        assert!(start.elapsed() < timeout + Duration::from_millis(250));
    }

    server.restart();
    eventually(Duration::from_secs(10), || async {
        brokers
            .nats_publish(&url, message("barbacane.test.outage", "after"), timeout)
            .await
            .ok()
    })
    .await;
    assert!(brokers.stats().reconnects >= 1);
    // The subscription was renewed on the new connection.
    let event = next(&mut sub).await.unwrap().unwrap();
    assert_eq!(event.payload, "after".as_bytes());

    // One warning when the outage starts, one line when it ends, whatever failed between.
    let target = url.trim_start_matches("nats://");
    let warnings = crate::logs::containing("broker unreachable");
    let warnings: Vec<_> = warnings.iter().filter(|e| e.contains(target)).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].starts_with("WARN"), "{warnings:#?}");
    let back = crate::logs::containing("reachable again");
    assert_eq!(
        back.iter().filter(|e| e.contains(target)).count(),
        1,
        "{back:#?}"
    );
    assert_eq!(crate::logs::leaking("secret-"), Vec::<String>::new());
}

#[test]
fn connections_outlive_the_runtime_of_their_first_caller() {
    let server = NatsServer::start();
    let brokers = brokers();
    let publish = |brokers: Brokers, url: String| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                brokers
                    .nats_publish(&url, message("barbacane.test.rt", "x"), TIMEOUT)
                    .await
            })
    };
    publish(brokers.clone(), server.url()).unwrap();
    // The first runtime is gone; the pooled connection is not.
    publish(brokers.clone(), server.url()).unwrap();
    assert_eq!(server.connections(), 1);
    assert_eq!(brokers.stats().reconnects, 0);
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes() {
    let server = NatsServer::start();
    let brokers = brokers();
    // The first publish also opens the client's request inbox (used to confirm publishes).
    brokers
        .nats_publish(&server.url(), message("barbacane.test.unsub", "x"), TIMEOUT)
        .await
        .unwrap();
    let before = server.subscriptions();
    let sub = brokers
        .nats_subscribe(&server.url(), "barbacane.test.unsub", 4)
        .await
        .unwrap();
    assert_eq!(server.subscriptions(), before + 1);
    drop(sub);
    eventually(Duration::from_secs(5), || async {
        (server.subscriptions() == before).then_some(())
    })
    .await;
    assert_eq!(brokers.stats().active_subscriptions, 0);
}
