//! Produce and consume through broker-core on both local clusters.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use tests::{Services, create_topic, kafka_clients, unique_name};

async fn round_trip(bootstrap: &str) {
    let clients = kafka_clients(bootstrap).await;
    let topic = unique_name("harness");
    create_topic(&clients, &topic, 3).await;

    let producer = clients.producer().expect("producer");
    let mut sent = Vec::new();
    for i in 0..10 {
        let key = format!("key-{i}");
        let value = format!("value-{i}");
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(error, _)| panic!("produce to {bootstrap} failed: {error}"));
        sent.push((key, value, delivery.partition, delivery.offset));
    }

    let consumer = clients.consumer(&unique_name("group")).expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut received = Vec::new();
    let mut stream = consumer.stream();
    while received.len() < sent.len() {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("records arrive within 30 s")
            .expect("stream is open")
            .expect("no consume error");
        received.push((
            String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
            String::from_utf8(message.payload().unwrap().to_vec()).unwrap(),
            message.partition(),
            message.offset(),
        ));
    }
    received.sort();
    sent.sort();
    assert_eq!(
        received, sent,
        "every produced record is consumed unchanged"
    );
}

#[tokio::test]
async fn produce_and_consume_on_cluster_a() {
    round_trip(&Services::from_env().kafka_bootstrap).await;
}

#[tokio::test]
async fn produce_and_consume_on_cluster_b() {
    round_trip(&Services::from_env().kafka_b_bootstrap).await;
}

/// Keyed records land where the Java client's murmur2 partitioner puts them; the expected
/// partitions were computed with `org.apache.kafka.common.utils.Utils.murmur2` for 3
/// partitions (`toPositive(murmur2(key)) % 3`).
#[tokio::test]
async fn keyed_records_follow_the_java_partitioner() {
    let clients = kafka_clients(&Services::from_env().kafka_bootstrap).await;
    let topic = unique_name("murmur");
    create_topic(&clients, &topic, 3).await;
    let producer = clients.producer().expect("producer");
    for (key, expected) in JAVA_PARTITIONS_OF_3 {
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(*key).payload("v"),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(error, _)| panic!("produce failed: {error}"));
        assert_eq!(delivery.partition, *expected, "key {key}");
    }
}

const JAVA_PARTITIONS_OF_3: &[(&str, i32)] = &[
    ("a", 1),
    ("b", 2),
    ("user-1", 2),
    ("order-42", 0),
    ("order-43", 1),
    ("key-0", 1),
    ("key-1", 0),
    ("hello world", 1),
    ("日本", 0),
];
