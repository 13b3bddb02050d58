//! Publish throughput through [`Brokers`]: `C` concurrent publishers, each waiting for its
//! acknowledgement before the next message, for NATS core, NATS JetStream and Kafka.
//!
//! ```text
//! BARBACANE_TANSU="$(scripts/tansu.sh)" cargo run --release -p barbacane-events \
//!     --example publish_load -- [--messages N] [--concurrency C] [--payload BYTES] \
//!     [--partitions P] [--nats URL]
//! ```
//!
//! NATS is the server at `--nats` (default `nats://127.0.0.1:4222`, JetStream enabled); Kafka
//! is a `tansu` started here (skipped without `BARBACANE_TANSU`). Prints messages/s and this
//! process's CPU time per message (the brokers run in their own processes).

use barbacane_events::test_support::{Tansu, shared_nats_url};
use barbacane_events::{BrokerOptions, Brokers, KafkaRecord, NatsMessage};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Args {
    messages: usize,
    concurrency: usize,
    payload: usize,
    partitions: i32,
    nats: String,
}

fn args() -> Args {
    let mut args = Args {
        messages: 100_000,
        concurrency: 64,
        payload: 256,
        partitions: 4,
        nats: shared_nats_url(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => args.messages = value.parse().unwrap(),
            "--concurrency" => args.concurrency = value.parse().unwrap(),
            "--payload" => args.payload = value.parse().unwrap(),
            "--partitions" => args.partitions = value.parse().unwrap(),
            "--nats" => args.nats = value,
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// utime + stime of this process, from /proc/self/stat.
fn cpu_time() -> Duration {
    cpu_time_of("self")
}

/// utime + stime of process `pid` ("self" for this one), from /proc.
fn cpu_time_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().map(|t| t.parse::<u64>().unwrap_or(0)).sum());
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// Runs `publish(i)` for i in 0..messages on `concurrency` tasks; prints the rate, and the
/// broker's CPU time per message when its `broker` pid is known.
async fn measure<F, Fut>(name: &str, args: &Args, broker: Option<u32>, publish: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let publish = Arc::new(publish);
    let per_task = args.messages / args.concurrency;
    let broker = broker.map(|pid| pid.to_string());
    let broker_cpu = broker.as_deref().map(cpu_time_of);
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let publish = Arc::clone(&publish);
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            for n in 0..per_task {
                if !publish(task * per_task + n).await {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += task.await.unwrap();
    }
    let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu);
    let sent = per_task * args.concurrency;
    let per_msg = |cpu: Duration| cpu.as_secs_f64() * 1e6 / sent as f64;
    let broker = match (broker.as_deref(), broker_cpu) {
        (Some(pid), Some(before)) => format!("{:>6.1}", per_msg(cpu_time_of(pid) - before)),
        _ => "     -".to_owned(),
    };
    println!(
        "{name:<16} {sent:>8} msgs  {:>9.0} msg/s  {:>6.1} µs CPU/msg here, {broker} in the broker  {failed} failed  ({} publishers, {} B)",
        sent as f64 / elapsed.as_secs_f64(),
        per_msg(cpu),
        args.concurrency,
        args.payload,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = args();
    let brokers = Brokers::new(BrokerOptions::default()).unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; args.payload]);
    let timeout = Duration::from_secs(5);

    let (b, url, p) = (brokers.clone(), args.nats.clone(), payload.clone());
    measure("nats core", &args, None, move |_| {
        let (b, url, p) = (b.clone(), url.clone(), p.clone());
        async move {
            let msg = NatsMessage {
                subject: "barbacane.load.core".into(),
                headers: vec![],
                payload: p,
                jetstream: false,
            };
            b.nats_publish(&url, msg, timeout).await.is_ok()
        }
    })
    .await;

    let stream = format!("BARBACANE_LOAD_{}", std::process::id());
    let js = async_nats::jetstream::new(async_nats::connect(args.nats.as_str()).await.unwrap());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("barbacane.load.{stream}")],
        storage: async_nats::jetstream::stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let (b, url, p, subject) = (
        brokers.clone(),
        args.nats.clone(),
        payload.clone(),
        format!("barbacane.load.{stream}"),
    );
    measure("nats jetstream", &args, None, move |_| {
        let (b, url, p, subject) = (b.clone(), url.clone(), p.clone(), subject.clone());
        async move {
            let msg = NatsMessage {
                subject,
                headers: vec![],
                payload: p,
                jetstream: true,
            };
            b.nats_publish(&url, msg, timeout).await.is_ok()
        }
    })
    .await;
    js.delete_stream(&stream).await.unwrap();

    if std::env::var_os("BARBACANE_TANSU").is_none() {
        println!("kafka            skipped: BARBACANE_TANSU is not set (scripts/tansu.sh)");
        return;
    }
    let tansu = Tansu::start();
    tansu.create_topic("load", args.partitions).await;
    let (b, endpoint) = (brokers.clone(), tansu.brokers());
    let value = payload.to_vec();
    for (name, keyed) in [("kafka", false), ("kafka keyed", true)] {
        let (b, endpoint, value) = (b.clone(), endpoint.clone(), value.clone());
        measure(name, &args, tansu.pid(), move |n| {
            let (b, endpoint) = (b.clone(), endpoint.clone());
            let record = KafkaRecord {
                topic: "load".into(),
                key: keyed.then(|| format!("key-{}", n % 1000).into_bytes()),
                headers: vec![],
                payload: value.clone(),
            };
            async move { b.kafka_publish(&endpoint, record, timeout).await.is_ok() }
        })
        .await;
    }
    let stats = brokers.stats();
    println!("stats: {stats:?}");
}
