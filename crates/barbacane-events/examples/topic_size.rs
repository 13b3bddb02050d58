//! Prints how many records a Kafka topic holds: the sum over its partitions of the latest
//! offset (on a fresh topic, the number of records ever produced). Used by
//! `scripts/load-events.sh` to check that every acknowledged publish was written.
//!
//! ```text
//! cargo run --release -p barbacane-events --example topic_size -- BROKER TOPIC
//! ```

use rskafka::client::ClientBuilder;
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(broker), Some(topic)) = (args.next(), args.next()) else {
        eprintln!("usage: topic_size BROKER TOPIC");
        std::process::exit(2);
    };
    let client = ClientBuilder::new(vec![broker]).build().await?;
    let partitions = client
        .list_topics()
        .await?
        .into_iter()
        .find(|t| t.name == topic)
        .ok_or_else(|| format!("no topic {topic}"))?
        .partitions;
    let mut total = 0i64;
    for partition in partitions {
        let pc = client
            .partition_client(topic.as_str(), partition, UnknownTopicHandling::Error)
            .await?;
        total += pc.get_offset(OffsetAt::Latest).await?;
    }
    println!("{total}");
    Ok(())
}
