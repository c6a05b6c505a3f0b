//! KIP-875 for sink connectors: `PATCH /connectors/{c}/offsets` alters a partition's
//! committed offset and resets another with `"offset": null` (its commit is deleted, as
//! Kafka Connect does with `Admin.deleteConsumerGroupOffsets`), with Kafka Connect's
//! messages for malformed requests.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{
    ClusterNames, TestWorker, call, clients, get, temp_file, wait_for, wait_for_state,
};

/// The committed `kafka_offset` of each partition, by partition number.
fn committed(offsets: &Value) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = offsets["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["partition"]["kafka_partition"].as_i64().unwrap(),
                o["offset"]["kafka_offset"].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test]
async fn sink_partitions_are_altered_and_reset_one_by_one() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let topic = unique_name("sink_offsets");
    create_topic(&clients, &topic, 2).await;
    let producer = clients.producer().unwrap();
    for i in 0..10 {
        let partition = i % 2;
        producer
            .send(
                FutureRecord::<str, str>::to(&topic)
                    .partition(partition)
                    .payload(&format!("line {i}")),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let worker = TestWorker::start(&clients, &names).await;
    let name = unique_name("sink");
    let output = temp_file("sink_offsets_out");
    let sink = json!({"name": name, "config": {"connector.class": "FileStreamSink",
        "file": output.to_string_lossy(), "topics": topic, "tasks.max": "1",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter"}});
    let (status, body) = call(Method::POST, &worker.url("/connectors"), Some(sink)).await;
    assert_eq!(status, 201, "{body}");
    wait_for_state(&worker, &name, "RUNNING", 1).await;
    let offsets_url = worker.url(&format!("/connectors/{name}/offsets"));
    wait_for(&offsets_url, Duration::from_secs(60), |status, body| {
        status == 200 && committed(body) == [(0, 5), (1, 5)]
    })
    .await;

    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/stop")),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_for(
        &worker.url(&format!("/connectors/{name}/status")),
        Duration::from_secs(30),
        |s, b| s == 200 && b["connector"]["state"] == "STOPPED",
    )
    .await;

    // Malformed requests: Kafka Connect's messages, nothing changed.
    for (offsets, message) in [
        (
            json!([{"partition": {"kafka_topic": topic}, "offset": {"kafka_offset": 1}}]),
            "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'",
        ),
        (
            json!([{"partition": {"kafka_topic": topic, "kafka_partition": "x"}, "offset": null}]),
            "Failed to parse the following Kafka partition value in the provided offsets: 'x'. Partition values for sink connectors need to be integers.",
        ),
        (
            json!([{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {}}]),
            "The offset for a sink connector should either be null or contain the key 'kafka_offset'",
        ),
        (
            json!([{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": "not a number"}}]),
            "Failed to parse the following Kafka offset value in the provided offsets: 'not a number'. Offset values for sink connectors need to be integers.",
        ),
    ] {
        let (status, body) = call(
            Method::PATCH,
            &offsets_url,
            Some(json!({ "offsets": offsets })),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some(message)),
            "{body}"
        );
    }
    let (_, unchanged) = get(&offsets_url).await;
    assert_eq!(committed(&unchanged), [(0, 5), (1, 5)]);

    // Partition 0 moved back to 2 (numbers as strings are accepted, as in Kafka Connect);
    // partition 1 reset: its commit is gone.
    let alter = json!({"offsets": [
        {"partition": {"kafka_topic": topic, "kafka_partition": "0"}, "offset": {"kafka_offset": "2"}},
        {"partition": {"kafka_topic": topic, "kafka_partition": 1}, "offset": null}
    ]});
    let (status, body) = call(Method::PATCH, &offsets_url, Some(alter)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("The Connect framework-managed offsets for this connector have been altered successfully."),
        "{body}"
    );
    let (_, after) = get(&offsets_url).await;
    assert_eq!(committed(&after), [(0, 2)], "{after}");

    // Resumed, the task reads partition 0 from 2 and partition 1 from the start again
    // (auto.offset.reset=earliest): 3 + 5 records more in the file.
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/resume")),
        None,
    )
    .await;
    assert_eq!(status, 202);
    wait_for(&offsets_url, Duration::from_secs(60), |status, body| {
        status == 200 && committed(body) == [(0, 5), (1, 5)]
    })
    .await;
    let lines = std::fs::read_to_string(&output).unwrap().lines().count();
    assert_eq!(lines, 10 + 3 + 5, "the sink file after the reset");
    worker.stop().await;
}
