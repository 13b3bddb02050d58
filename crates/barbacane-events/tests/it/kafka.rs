use crate::{eventually, next, unique};
use barbacane_events::kafka::partitioner::partition_for_key;
use barbacane_events::test_support::Tansu;
use barbacane_events::{Ack, BrokerOptions, Brokers, KafkaRecord, PublishError, SubscriptionError};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::record::RecordAndOffset;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);

fn brokers() -> Brokers {
    Brokers::new(BrokerOptions::default()).unwrap()
}

fn record(topic: &str, key: Option<&str>, payload: &str) -> KafkaRecord {
    KafkaRecord {
        topic: topic.to_owned(),
        key: key.map(|k| k.as_bytes().to_vec()),
        headers: vec![],
        payload: payload.as_bytes().to_vec(),
    }
}

/// Every record of `topic`'s `partition`, read back with a client of the test's own.
async fn read_back(tansu: &Tansu, topic: &str, partition: i32) -> Vec<RecordAndOffset> {
    let client = rskafka::client::ClientBuilder::new(vec![tansu.brokers()])
        .build()
        .await
        .unwrap();
    let partition = client
        .partition_client(topic, partition, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    let mut records = Vec::new();
    loop {
        let (batch, high_watermark) = partition
            .fetch_records(records.len() as i64, 1..1_000_000, 100)
            .await
            .unwrap();
        records.extend(batch);
        if records.len() as i64 >= high_watermark {
            return records;
        }
    }
}

fn offsets_of(acks: &[Ack]) -> Vec<(i32, i64)> {
    acks.iter()
        .map(|ack| match ack {
            Ack::Kafka { partition, offset } => (*partition, *offset),
            other => panic!("not a Kafka ack: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn records_are_stored_with_key_headers_and_payload_in_order() {
    crate::logs::install();
    let tansu = Tansu::start();
    let topic = unique("orders-");
    tansu.create_topic(&topic, 3).await;
    let brokers = brokers();
    let mut acks = Vec::new();
    for n in 0..5 {
        let rec = KafkaRecord {
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                ("x-n".into(), n.to_string().into_bytes()),
                ("x-token".into(), b"secret-ok-header".to_vec()),
            ],
            ..record(
                &topic,
                Some("customer-42"),
                &format!("{{\"n\":\"secret-ok-{n}\"}}"),
            )
        };
        acks.push(
            brokers
                .kafka_publish(&tansu.brokers(), rec, TIMEOUT)
                .await
                .unwrap(),
        );
    }
    let placed = offsets_of(&acks);
    let partition = partition_for_key(b"customer-42", 3);
    assert!(placed.iter().all(|(p, _)| *p == partition), "{placed:?}");
    let offsets: Vec<i64> = placed.iter().map(|(_, o)| *o).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);

    let stored = read_back(&tansu, &topic, partition).await;
    assert_eq!(stored.len(), 5);
    for (n, stored) in stored.iter().enumerate() {
        assert_eq!(stored.offset, n as i64);
        assert_eq!(stored.record.key.as_deref(), Some(&b"customer-42"[..]));
        assert_eq!(
            stored.record.value.as_deref(),
            Some(format!("{{\"n\":\"secret-ok-{n}\"}}").as_bytes())
        );
        assert_eq!(
            stored.record.headers,
            BTreeMap::from([
                ("content-type".to_owned(), b"application/json".to_vec()),
                ("x-n".to_owned(), n.to_string().into_bytes()),
                ("x-token".to_owned(), b"secret-ok-header".to_vec()),
            ])
        );
    }
    assert_eq!(brokers.stats().published, 5);
    assert_eq!(crate::logs::leaking("secret-ok"), Vec::<String>::new());
}

#[tokio::test]
async fn keys_land_on_the_java_partition_and_keyless_records_rotate() {
    let tansu = Tansu::start();
    let topic = unique("keys-");
    tansu.create_topic(&topic, 4).await;
    let brokers = brokers();
    // Kafka's own murmur2 vector: toPositive(murmur2("foobar")) = 1357151166, % 4 = 2.
    let ack = brokers
        .kafka_publish(
            &tansu.brokers(),
            record(&topic, Some("foobar"), "f"),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(offsets_of(&[ack]), vec![(2, 0)]);

    let keys = [
        "21",
        "abc",
        "a-little-bit-long-string",
        "user-1",
        "user-2",
        "user-3",
    ];
    for key in keys {
        let ack = brokers
            .kafka_publish(&tansu.brokers(), record(&topic, Some(key), key), TIMEOUT)
            .await
            .unwrap();
        let (partition, offset) = offsets_of(&[ack])[0];
        assert_eq!(partition, partition_for_key(key.as_bytes(), 4), "{key}");
        let stored = read_back(&tansu, &topic, partition).await;
        let found = stored.iter().find(|r| r.offset == offset).unwrap();
        assert_eq!(found.record.key.as_deref(), Some(key.as_bytes()));
    }

    let mut per_partition = [0; 4];
    for n in 0..8 {
        let ack = brokers
            .kafka_publish(
                &tansu.brokers(),
                record(&topic, None, &n.to_string()),
                TIMEOUT,
            )
            .await
            .unwrap();
        per_partition[offsets_of(&[ack])[0].0 as usize] += 1;
    }
    assert_eq!(per_partition, [2, 2, 2, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_are_batched_and_all_acknowledged() {
    let tansu = Tansu::start();
    let topic = unique("load-");
    tansu.create_topic(&topic, 2).await;
    let brokers = brokers();
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let (brokers, endpoint, topic) = (brokers.clone(), tansu.brokers(), topic.clone());
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for n in 0..50 {
                let rec = record(&topic, None, &format!("{worker}-{n}"));
                acks.push(
                    brokers
                        .kafka_publish(&endpoint, rec, TIMEOUT)
                        .await
                        .unwrap(),
                );
            }
            acks
        }));
    }
    let mut placed = Vec::new();
    for task in tasks {
        placed.extend(offsets_of(&task.await.unwrap()));
    }
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), 1000, "every record has its own offset");
    let mut stored = read_back(&tansu, &topic, 0).await.len();
    stored += read_back(&tansu, &topic, 1).await.len();
    assert_eq!(stored, 1000);
}

#[tokio::test]
async fn unknown_topics_and_oversized_records_are_rejected_large_ones_go_alone() {
    let tansu = Tansu::start();
    let brokers = Brokers::new(BrokerOptions {
        kafka_create_missing_topics: None,
        ..BrokerOptions::default()
    })
    .unwrap();
    let missing = brokers
        .kafka_publish(
            &tansu.brokers(),
            record(&unique("missing-"), None, "x"),
            TIMEOUT,
        )
        .await;
    assert!(
        matches!(missing, Err(PublishError::Rejected(_))),
        "{missing:?}"
    );

    let topic = unique("big-");
    tansu.create_topic(&topic, 1).await;
    let big = KafkaRecord {
        payload: vec![0; 2 * 1024 * 1024],
        ..record(&topic, None, "")
    };
    let result = brokers.kafka_publish(&tansu.brokers(), big, TIMEOUT).await;
    assert!(
        matches!(result, Err(PublishError::Rejected(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_missing_topic_is_created_as_kafka_producers_do_by_default() {
    let tansu = Tansu::start();
    let topic = unique("auto-");
    let ack = brokers()
        .kafka_publish(&tansu.brokers(), record(&topic, None, "first"), TIMEOUT)
        .await
        .unwrap();
    assert!(matches!(ack, Ack::Kafka { offset: 0, .. }), "{ack:?}");
    // The record is in the new topic.
    let client = rskafka::client::ClientBuilder::new(vec![tansu.brokers()])
        .build()
        .await
        .unwrap();
    let Ack::Kafka { partition, .. } = ack else {
        unreachable!()
    };
    let (records, _) = client
        .partition_client(
            topic.as_str(),
            partition,
            rskafka::client::partition::UnknownTopicHandling::Error,
        )
        .await
        .unwrap()
        .fetch_records(0, 1..1_000_000, 1_000)
        .await
        .unwrap();
    assert_eq!(records[0].record.value.as_deref(), Some(&b"first"[..]));
}

#[tokio::test]
async fn subscriptions_see_what_is_produced_after_they_open() {
    let tansu = Tansu::start();
    let topic = unique("feed-");
    tansu.create_topic(&topic, 3).await;
    let brokers = brokers();
    brokers
        .kafka_publish(
            &tansu.brokers(),
            record(&topic, Some("k"), "before"),
            TIMEOUT,
        )
        .await
        .unwrap();
    let mut sub = brokers
        .kafka_subscribe_latest(&tansu.brokers(), &topic, 64)
        .await
        .unwrap();
    let mut expected = Vec::new();
    for n in 0..6 {
        let rec = KafkaRecord {
            headers: vec![("x-n".into(), n.to_string().into_bytes())],
            ..record(&topic, Some(&format!("key-{n}")), &format!("after-{n}"))
        };
        let ack = brokers
            .kafka_publish(&tansu.brokers(), rec, TIMEOUT)
            .await
            .unwrap();
        let (partition, offset) = offsets_of(&[ack])[0];
        expected.push((
            format!("{partition}-{offset}"),
            format!("after-{n}"),
            n.to_string(),
        ));
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        let event = next(&mut sub).await.unwrap().unwrap();
        assert_eq!(event.subject, topic);
        let n = event
            .headers
            .iter()
            .find(|(k, _)| k == "x-n")
            .unwrap()
            .1
            .clone();
        seen.push((
            event.id,
            String::from_utf8(event.payload.to_vec()).unwrap(),
            n,
        ));
    }
    seen.sort();
    expected.sort();
    assert_eq!(
        seen, expected,
        "the record produced before subscribing is not seen"
    );
}

#[tokio::test]
async fn a_slow_kafka_reader_is_disconnected() {
    let tansu = Tansu::start();
    let topic = unique("lag-");
    tansu.create_topic(&topic, 1).await;
    let brokers = brokers();
    let mut sub = brokers
        .kafka_subscribe_latest(&tansu.brokers(), &topic, 3)
        .await
        .unwrap();
    for n in 0..20 {
        brokers
            .kafka_publish(
                &tansu.brokers(),
                record(&topic, None, &n.to_string()),
                TIMEOUT,
            )
            .await
            .unwrap();
    }
    let end = eventually(Duration::from_secs(10), || async {
        (brokers.stats().lagged_subscriptions == 1).then_some(())
    });
    end.await;
    let mut delivered = 0;
    let end = loop {
        match next(&mut sub).await.unwrap() {
            Ok(_) => delivered += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(end, SubscriptionError::Lagged { buffer: 3 });
    assert_eq!(delivered, 3);
}

#[tokio::test]
async fn an_outage_fails_within_the_timeout_and_heals_by_itself() {
    crate::logs::install();
    let mut tansu = Tansu::start();
    let topic = unique("outage-");
    tansu.create_topic(&topic, 1).await;
    let brokers = brokers();
    let timeout = Duration::from_secs(1);
    brokers
        .kafka_publish(&tansu.brokers(), record(&topic, None, "before"), timeout)
        .await
        .unwrap();

    tansu.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let secret = KafkaRecord {
            headers: vec![("authorization".into(), b"secret-header-value".to_vec())],
            ..record(&topic, Some("secret-key"), "secret-payload")
        };
        let result = brokers
            .kafka_publish(&tansu.brokers(), secret, timeout)
            .await;
        assert!(
            matches!(
                result,
                Err(PublishError::Unavailable(_) | PublishError::Timeout)
            ),
            "{result:?}"
        );
        assert!(start.elapsed() < timeout + Duration::from_millis(500));
    }

    // In-memory storage: the restarted broker is empty.
    tansu.restart();
    tansu.create_topic(&topic, 1).await;
    let ack = eventually(Duration::from_secs(15), || async {
        brokers
            .kafka_publish(&tansu.brokers(), record(&topic, None, "after"), timeout)
            .await
            .ok()
    })
    .await;
    assert_eq!(offsets_of(&[ack]), vec![(0, 0)]);
    let stats = brokers.stats();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert_eq!(stats.failed, 3);

    let target = tansu.brokers();
    let warnings = crate::logs::containing("broker unreachable");
    let warnings: Vec<_> = warnings.iter().filter(|e| e.contains(&target)).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let back = crate::logs::containing("reachable again");
    assert_eq!(
        back.iter().filter(|e| e.contains(&target)).count(),
        1,
        "{back:#?}"
    );
    assert_eq!(crate::logs::leaking("secret-"), Vec::<String>::new());
}

#[tokio::test]
async fn a_kafka_subscription_ends_when_its_broker_stays_away() {
    let mut tansu = Tansu::start();
    let topic = unique("gone-");
    tansu.create_topic(&topic, 2).await;
    let brokers = Brokers::new(BrokerOptions {
        kafka_retry_deadline: Duration::from_millis(500),
        ..BrokerOptions::default()
    })
    .unwrap();
    let mut sub = brokers
        .kafka_subscribe_latest(&tansu.brokers(), &topic, 8)
        .await
        .unwrap();
    brokers
        .kafka_publish(&tansu.brokers(), record(&topic, None, "seen"), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        next(&mut sub).await.unwrap().unwrap().payload,
        "seen".as_bytes()
    );
    tansu.kill();
    let end = next(&mut sub).await.unwrap();
    assert!(matches!(end, Err(SubscriptionError::Broker(_))), "{end:?}");
    assert!(next(&mut sub).await.is_none());
}
