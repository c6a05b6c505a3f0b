//! Optional access checks: write and read back one record on a topic, describe a group.
//! Failures are sorted by [`ErrorKind`] so that an ACL problem names the grant it needs.

use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::{ErrorKind, KafkaClients};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

use super::DoctorReport;

/// Produces one record to `topic` and reads it back from its partition.
pub(super) async fn check_topic(
    clients: &KafkaClients,
    inspector: &ClusterInspector,
    topic: &str,
    timeout: Duration,
    report: &mut DoctorReport,
) {
    if let Err(error) = inspector.topic(topic).await {
        report.problems.push(match error.kind() {
            ErrorKind::NotFound => format!(
                "topic {topic} does not exist: create it (the gateway never auto-creates topics) \
                 or fix the name"
            ),
            ErrorKind::Forbidden => format!(
                "topic {topic} may not be described by this principal: grant DESCRIBE on topic {topic}"
            ),
            _ => format!("topic {topic} cannot be read from the metadata ({error})"),
        });
        return;
    }
    let producer = match clients.producer() {
        Ok(producer) => producer,
        Err(error) => {
            report
                .problems
                .push(format!("cannot create a producer ({error})"));
            return;
        }
    };
    let payload = format!("kafka-gateway doctor probe {}", std::process::id());
    let delivered = producer
        .send(
            FutureRecord::to(topic)
                .key("kafka-gateway-doctor")
                .payload(&payload),
            timeout,
        )
        .await;
    let delivery = match delivered {
        Ok(delivery) => delivery,
        Err((error, _)) => {
            let kind = ErrorKind::from_kafka_error(&error);
            report.problems.push(if kind == ErrorKind::Forbidden {
                format!(
                    "writing to topic {topic} is refused ({error}): grant WRITE on topic {topic} \
                     (and IDEMPOTENT_WRITE on the cluster for idempotent producers)"
                )
            } else {
                format!("writing to topic {topic} failed ({error}): check the partition leaders and min.insync.replicas")
            });
            return;
        }
    };
    report.lines.push(format!(
        "topic {topic}: wrote one record to partition {} at offset {}",
        delivery.partition, delivery.offset
    ));
    let consumer = clients.consumer_config("kafka-gateway-doctor");
    let read_back = broker_core::task::spawn_blocking("doctor-read-back", {
        let topic = topic.to_owned();
        move || -> Result<bool, String> {
            let consumer: BaseConsumer =
                broker_core::clients::create(&consumer, "consumer creation")
                    .map_err(|e| e.to_string())?;
            let mut assignment = TopicPartitionList::new();
            assignment
                .add_partition_offset(&topic, delivery.partition, Offset::Offset(delivery.offset))
                .map_err(|e| e.to_string())?;
            consumer.assign(&assignment).map_err(|e| e.to_string())?;
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline {
                match consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(message)) if message.offset() == delivery.offset => return Ok(true),
                    Some(Ok(_)) | None => {}
                    Some(Err(error)) => return Err(error.to_string()),
                }
            }
            Ok(false)
        }
    })
    .await
    .unwrap_or_else(|join_error| Err(join_error.to_string()));
    match read_back {
        Ok(true) => report
            .lines
            .push(format!("topic {topic}: read the record back")),
        Ok(false) => report.problems.push(format!(
            "topic {topic}: the record written at offset {} was not read back within {timeout:?}: \
             check READ on topic {topic} and that the partition leader is reachable",
            delivery.offset
        )),
        Err(error) => report.problems.push(format!(
            "reading topic {topic} failed ({error}): grant READ on topic {topic}"
        )),
    }
}

/// Describes `group`, and fetches its committed offsets on `topic` when one is given.
pub(super) async fn check_group(
    clients: &KafkaClients,
    inspector: &ClusterInspector,
    group: &str,
    topic: Option<&str>,
    timeout: Duration,
    report: &mut DoctorReport,
) {
    let partitions = match topic {
        Some(topic) => match inspector.topic(topic).await {
            Ok(info) => info.partitions.iter().map(|p| p.id).collect(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let config = clients.consumer_config(group);
    let group_name = group.to_owned();
    let topic_name = topic.map(str::to_owned);
    let answer = broker_core::task::spawn_blocking(
        "doctor-group-check",
        move || -> Result<(String, usize, Option<usize>), rdkafka::error::KafkaError> {
            let consumer: BaseConsumer = config.create()?;
            let list = consumer.fetch_group_list(Some(&group_name), timeout)?;
            let (state, members) = list
                .groups()
                .iter()
                .find(|g| g.name() == group_name)
                .map_or_else(
                    || ("Dead".to_owned(), 0),
                    |g| (g.state().to_owned(), g.members().len()),
                );
            let committed = match topic_name {
                Some(topic) if !partitions.is_empty() => {
                    let mut request = TopicPartitionList::new();
                    for partition in &partitions {
                        request.add_partition(&topic, *partition);
                    }
                    let answer = consumer.committed_offsets(request, timeout)?;
                    Some(
                        answer
                            .elements()
                            .iter()
                            .filter(|e| matches!(e.offset(), Offset::Offset(_)))
                            .count(),
                    )
                }
                _ => None,
            };
            Ok((state, members, committed))
        },
    )
    .await;
    match answer {
        Ok(Ok((state, members, committed))) => {
            let offsets = committed.map_or_else(String::new, |count| {
                format!(", committed offsets on {count} partition(s) of the topic")
            });
            report.lines.push(format!(
                "group {group}: state {state}, {members} member(s){offsets}"
            ));
        }
        Ok(Err(error)) => {
            let kind = ErrorKind::from_kafka_error(&error);
            report.problems.push(if kind == ErrorKind::Forbidden {
                format!(
                    "group {group} may not be used by this principal ({error}): grant DESCRIBE \
                     and READ on group {group}"
                )
            } else {
                format!("group {group} cannot be described ({error}): check that the group coordinator is reachable")
            });
        }
        Err(join_error) => report
            .problems
            .push(format!("checking group {group} failed ({join_error})")),
    }
}
