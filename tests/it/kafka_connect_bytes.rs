//! The bytes our Connect worker writes are the bytes Apache Kafka Connect 4.3 writes for the
//! same source data and the same connector config (issue #18): a migration between the two
//! on the same topics must not change a record that did not change (compaction,
//! deduplication by hash and byte diffs see no difference).
//!
//! One real Kafka Connect worker (`ConnectDistributed` from the Maven Central jars that
//! `scripts/services up` fetches, `connect-file` and `connect-transforms` on its classpath)
//! and one of ours run the same `FileStreamSourceConnector` configs, each into topics of its
//! own. Every record is compared byte for byte: key, value and headers. The variants cover
//! JsonConverter with `schemas.enable` both ways, StringConverter, ByteArrayConverter (which
//! refuses the strings FileStreamSource emits, on both workers), and SMT chains that build
//! structs, numbers, logical types and headers (`HoistField`, `InsertField`, `ValueToKey`,
//! `Flatten`, `ReplaceField`, `Cast`, `TimestampConverter`, `InsertHeader`, `HeaderFrom`),
//! so schema objects, field order and Java's number spelling are exercised ([`variants`]).
//! Both workers start together and every variant is a connector on each: one JVM start.
//!
//! What cannot be exercised here: no connector of `connect-file` and no SMT of
//! `connect-transforms` yields a Decimal (Cast has no Decimal target), so `decimal.format`
//! is only set (it must not change anything else) — Decimal bytes are compared with the
//! same Kafka Connect jars in [`decimals`]. Values whose
//! Java spelling depends on the JDK (JDK 17's `Double.toString` is not always the shortest
//! form, e.g. `1.0E23` is `9.999999999999999E22` there) are left out: ours is the JDK 19+
//! form (docs/connect.md).

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use reqwest::Method;
use serde_json::{Value, json};
use tests::kafka_connect::{KafkaConnectCluster, KafkaConnectProcess};
use tests::{START_HINT, Services, create_topic, services_dir, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, call, clients, get};

mod decimals;
mod variants;

use variants::{Expect, FILE_SOURCE, Input, Variant, kafka_line_count, variants};

/// A record as it is on the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TopicRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl TopicRecord {
    fn masked(mut self, field: Option<&str>) -> Self {
        if let Some(field) = field {
            self.key = self.key.map(|b| mask_number(&b, field));
            self.value = self.value.map(|b| mask_number(&b, field));
        }
        self
    }
}

/// `"<field>":<digits>` → `"<field>":0`.
fn mask_number(bytes: &[u8], field: &str) -> Vec<u8> {
    let marker = format!("\"{field}\":");
    let marker = marker.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index..].starts_with(marker) {
            out.extend_from_slice(marker);
            index += marker.len();
            let digits = bytes[index..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                out.push(b'0');
                index += digits;
            }
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    out
}

fn shown(bytes: Option<&Vec<u8>>) -> String {
    bytes.map_or("null".to_owned(), |b| {
        format!("{:?}", String::from_utf8_lossy(b))
    })
}

/// Reads every topic from the start until each holds its expected count (then 2 s more, so
/// that a record too many shows up too), or until Kafka Connect's topics are complete and
/// nothing arrived for 5 s (ours fell short: the comparison says so), at most 90 s.
async fn read_topics(
    expected: &BTreeMap<String, usize>,
    kafka_connect_topics: &[&String],
) -> BTreeMap<String, Vec<TopicRecord>> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", unique_name("kc_bytes_reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let topics: Vec<&str> = expected.keys().map(String::as_str).collect();
    consumer.subscribe(&topics).unwrap();
    let mut seen: BTreeMap<String, Vec<TopicRecord>> =
        expected.keys().map(|t| (t.clone(), Vec::new())).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut complete_since: Option<tokio::time::Instant> = None;
    let mut last_arrival = tokio::time::Instant::now();
    loop {
        let complete = |topics: &[&String]| {
            topics
                .iter()
                .all(|topic| seen[*topic].len() >= expected[*topic])
        };
        let all_topics: Vec<&String> = expected.keys().collect();
        if complete(&all_topics) {
            let since = *complete_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= Duration::from_secs(2) {
                return seen;
            }
        } else {
            complete_since = None;
            let theirs_complete = complete(kafka_connect_topics);
            if (theirs_complete && last_arrival.elapsed() >= Duration::from_secs(5))
                || tokio::time::Instant::now() > deadline
            {
                return seen;
            }
        }
        if let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await
        {
            last_arrival = tokio::time::Instant::now();
            let headers = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(records) = seen.get_mut(message.topic()) {
                records.push(TopicRecord {
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
                    headers,
                });
            }
        }
    }
}

/// The differences between the two sides of one variant, described for the failure report.
fn differences(
    variant: &Variant,
    kafka_connect: &[TopicRecord],
    ours: &[TopicRecord],
) -> Vec<String> {
    let mut out = Vec::new();
    if kafka_connect.len() != ours.len() {
        out.push(format!(
            "{}: Kafka Connect wrote {} records, ours {}",
            variant.name,
            kafka_connect.len(),
            ours.len()
        ));
    }
    for (index, (theirs, ours)) in kafka_connect.iter().zip(ours).enumerate() {
        let theirs = theirs.clone().masked(variant.masked_field);
        let ours = ours.clone().masked(variant.masked_field);
        if theirs.key != ours.key {
            out.push(format!(
                "{} #{index} key:\n  Kafka Connect {}\n  ours          {}",
                variant.name,
                shown(theirs.key.as_ref()),
                shown(ours.key.as_ref())
            ));
        }
        if theirs.value != ours.value {
            out.push(format!(
                "{} #{index} value:\n  Kafka Connect {}\n  ours          {}",
                variant.name,
                shown(theirs.value.as_ref()),
                shown(ours.value.as_ref())
            ));
        }
        if theirs.headers != ours.headers {
            let show = |headers: &[(String, Option<Vec<u8>>)]| -> Vec<String> {
                headers
                    .iter()
                    .map(|(key, value)| format!("{key}={}", shown(value.as_ref())))
                    .collect()
            };
            out.push(format!(
                "{} #{index} headers:\n  Kafka Connect {:?}\n  ours          {:?}",
                variant.name,
                show(&theirs.headers),
                show(&ours.headers)
            ));
        }
    }
    out
}

/// The task's state and trace once it FAILED, or its last state after `within`.
async fn task_outcome(base: &str, connector: &str, within: Duration) -> (String, String) {
    let url = format!("{base}/connectors/{connector}/status");
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (status, body) = get(&url).await;
        let task = &body["tasks"][0];
        let state = task["state"].as_str().unwrap_or_default().to_owned();
        if (status == 200 && state == "FAILED") || tokio::time::Instant::now() > deadline {
            return (state, task["trace"].as_str().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn kafka_connect_libs_hold_connect_file() {
    let libs = services_dir().join("kafka/libs");
    let found = std::fs::read_dir(&libs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("connect-file-"))
        })
        .unwrap_or(false);
    assert!(
        found,
        "{} has no connect-file jar (FileStreamSourceConnector): `scripts/services up` fetches it \
         (scripts/testbed/kafka/pom.xml); {START_HINT}",
        libs.display()
    );
}

#[tokio::test]
async fn kafka_connect_and_our_worker_write_the_same_bytes() {
    kafka_connect_libs_hold_connect_file();
    let clients = clients().await;
    let folder = std::env::temp_dir().join(unique_name("kc_bytes"));
    std::fs::create_dir_all(&folder).unwrap();
    let mut files = BTreeMap::new();
    for input in Input::ALL {
        let path = folder.join(format!("{input:?}.txt"));
        std::fs::write(&path, input.contents()).unwrap();
        files.insert(input, path);
    }

    let variants = variants();
    // Topics of each side, named per run; one partition keeps the file's order.
    let topics: Vec<(String, String)> = variants
        .iter()
        .map(|v| {
            (
                unique_name(&format!("kcb_{}_kc", v.name)),
                unique_name(&format!("kcb_{}_ours", v.name)),
            )
        })
        .collect();
    for (theirs, ours) in &topics {
        create_topic(&clients, theirs, 1).await;
        create_topic(&clients, ours, 1).await;
    }

    let kafka_connect_names = ClusterNames::unique();
    let cluster = KafkaConnectCluster {
        bootstrap: Services::from_env().kafka_bootstrap,
        group_id: kafka_connect_names.group_id.clone(),
        config_topic: kafka_connect_names.configs.clone(),
        offset_topic: kafka_connect_names.offsets.clone(),
        status_topic: kafka_connect_names.statuses.clone(),
        heap: "-Xmx512m".to_owned(),
    };
    let our_names = ClusterNames::unique();
    let (kafka_connect, ours) = tokio::join!(
        KafkaConnectProcess::start_listing(&cluster, FILE_SOURCE, Duration::from_secs(120)),
        TestWorker::start(&clients, &our_names),
    );

    let mut report = Vec::new();
    let mut refused_by_ours = Vec::new();
    for (variant, (their_topic, our_topic)) in variants.iter().zip(&topics) {
        for (base, topic) in [
            (kafka_connect.url.as_str(), their_topic),
            (ours.base.as_str(), our_topic),
        ] {
            let mut config = serde_json::Map::new();
            config.insert("connector.class".into(), json!(FILE_SOURCE));
            config.insert("tasks.max".into(), json!("1"));
            config.insert(
                "file".into(),
                json!(files[&variant.input].to_string_lossy()),
            );
            config.insert("topic".into(), json!(topic));
            for (key, value) in &variant.settings {
                config.insert(key.clone(), json!(value));
            }
            let (status, body) = call(
                Method::POST,
                &format!("{base}/connectors"),
                Some(json!({"name": variant.name, "config": Value::Object(config)})),
            )
            .await;
            if topic == our_topic && status != 201 {
                report.push(format!(
                    "{}: our worker refuses the config: {status} {body}",
                    variant.name
                ));
                refused_by_ours.push(variant.name);
            } else {
                assert_eq!(status, 201, "{} on Kafka Connect: {body}", variant.name);
            }
        }
    }

    let mut expected = BTreeMap::new();
    for (variant, (theirs, ours_topic)) in variants.iter().zip(&topics) {
        let count = match variant.expect {
            Expect::Records => kafka_line_count(&variant.input.contents()),
            Expect::TaskFails(_) => 0,
        };
        expected.insert(theirs.clone(), count);
        let ours_count = if refused_by_ours.contains(&variant.name) {
            0
        } else {
            count
        };
        expected.insert(ours_topic.clone(), ours_count);
    }
    for (variant, _) in variants.iter().zip(&topics) {
        if let Expect::TaskFails(text) = variant.expect {
            let (their_state, their_trace) =
                task_outcome(&kafka_connect.url, variant.name, Duration::from_secs(60)).await;
            assert!(
                their_state == "FAILED" && their_trace.contains(text),
                "{}: Kafka Connect's task is {their_state}, its trace does not say {text:?}:\n{their_trace}",
                variant.name
            );
            if refused_by_ours.contains(&variant.name) {
                continue;
            }
            let (our_state, our_trace) =
                task_outcome(&ours.base, variant.name, Duration::from_secs(20)).await;
            if our_state != "FAILED" || !our_trace.contains(text) {
                report.push(format!(
                    "{}: our task is {our_state}, its trace does not say {text:?}: {our_trace}",
                    variant.name
                ));
            }
        }
    }
    let theirs: Vec<&String> = topics.iter().map(|(theirs, _)| theirs).collect();
    let written = read_topics(&expected, &theirs).await;
    for (variant, (theirs, ours_topic)) in variants.iter().zip(&topics) {
        // The expected count is our reading of FileStreamSourceTask's line rules.
        assert_eq!(
            written[theirs].len(),
            expected[theirs],
            "{}: Kafka Connect wrote another number of records than expected; log:\n{}",
            variant.name,
            kafka_connect.log_tail()
        );
        report.extend(differences(variant, &written[theirs], &written[ours_topic]));
    }
    let log = kafka_connect.log_tail();
    kafka_connect.stop(Duration::from_secs(60)).await;
    ours.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
    assert!(
        report.is_empty(),
        "{} differences between Kafka Connect's bytes and ours:\n{}\n(Kafka Connect log tail:\n{log})",
        report.len(),
        report.join("\n")
    );
}
