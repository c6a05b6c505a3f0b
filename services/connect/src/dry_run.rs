//! Dry runs: a connector config applied to sample input, showing what it would write,
//! with nothing written anywhere.
//!
//! - **Sink**: the first records of the configured topics, read by a consumer that joins
//!   no group (partitions assigned, not subscribed; nothing committed), each through the configured
//!   converters and SMTs ([`crate::worker::sink::convert`], as the task does), then through
//!   the plugin's `preview` (the Elasticsearch sink's encoder), which sends nothing.
//! - **Source**: the plugin's `sample` reads its first inputs (read-only `SELECT … LIMIT`
//!   for the MySQL source); each record goes through the SMTs and converters
//!   ([`crate::worker::source::convert`]) and is shown as the Kafka record it would be; no
//!   producer is created and no offset is stored.
//!
//! A config with validation errors gives the validation and no outputs.

use std::time::{Duration, Instant};

use base64::Engine;
use connect_api::{ConfigMap, ConnectError, ConnectorPlugin, SinkRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use serde_json::{Value, json};

use crate::connector_config::{ConnectorSettings, SinkTopics};
use crate::converters::header_from_bytes;
use crate::error::RestError;
use crate::herder;
use crate::rest::entities::ConfigInfos;
use crate::runtime::Runtime;
use crate::transforms::{Direction, TransformChain};

pub const DEFAULT_SAMPLES: usize = 10;
pub const MAX_SAMPLES: usize = 1000;

/// How long the sample consumer waits for records before answering with what it has.
const READ_DEADLINE: Duration = Duration::from_secs(10);

/// `200` answer of a dry run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DryRunAnswer {
    /// What `/config/validate` answers for the config.
    pub validation: ConfigInfos,
    /// One entry per input; empty when the validation has errors.
    pub outputs: Vec<DryRunOutput>,
}

/// One input and what the connector would write for it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DryRunOutput {
    /// A sink: the Kafka record (`topic`, `partition`, `offset`, `timestamp`, `key`,
    /// `value`, `headers`); a source: the row (column → value).
    #[schema(value_type = Object)]
    pub input: Value,
    /// A sink: the downstream writes (Elasticsearch: `{"action","index","id","document"}`);
    /// a source: the Kafka records (`topic`, `partition`, `key`, `value`, `headers`).
    #[schema(value_type = Vec<Object>)]
    pub output: Vec<Value>,
    /// Why this input cannot be written, as the task would report it.
    pub error: Option<String>,
}

/// Where a sink dry run starts reading each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    Offset(i64),
}

/// Runs `config` on up to `samples` inputs.
pub async fn dry_run(
    runtime: &Runtime,
    config: &ConfigMap,
    samples: usize,
    start: StartAt,
) -> Result<DryRunAnswer, RestError> {
    // A plugin-level dry run has no connector name; validation requires one.
    let mut config = config.clone();
    config
        .entry("name".to_owned())
        .or_insert_with(|| "dry-run".to_owned());
    let config = &config;
    let validation = herder::validate_config(runtime, config)?;
    if validation.error_count > 0 {
        return Ok(DryRunAnswer {
            validation,
            outputs: Vec::new(),
        });
    }
    let class = config.get("connector.class").map_or("", |c| c.trim());
    let plugin = runtime
        .plugins
        .find(class)
        .ok_or_else(|| RestError::not_found(format!("Unknown plugin {class}.")))?;
    let resolved = crate::config_providers::resolve(config)
        .map_err(|error| RestError::bad_request(error.to_string()))?;
    let settings = ConnectorSettings::parse(plugin, &resolved, &runtime.policies)
        .map_err(|issue| RestError::bad_request(issue.message))?;
    let outputs = match plugin {
        ConnectorPlugin::Sink(sink) => {
            let messages = read_samples(runtime, &settings, samples, start).await?;
            sink_outputs(&settings, &resolved, messages, |records| {
                sink.preview(&resolved, records)
            })
            .await
        }
        ConnectorPlugin::Source(source) => {
            let inputs = source
                .sample(&resolved, samples)
                .await
                .map_err(|error| refused(&error))?;
            source_outputs(&settings, &resolved, inputs).await
        }
    }?;
    Ok(DryRunAnswer {
        validation,
        outputs,
    })
}

/// A plugin's refusal: 404 for a plugin without a dry run (there is no such resource for
/// it, and clients such as the console read 404 as "not available"), else 400 with its
/// message (an unreachable database, say).
fn refused(error: &ConnectError) -> RestError {
    let message = error.to_string();
    if message.contains(connect_api::NO_DRY_RUN) {
        return RestError::not_found(format!("dry run not available: {message}"));
    }
    RestError::bad_request(format!("dry run failed: {message}"))
}

fn transforms(config: &ConfigMap, direction: Direction) -> Result<TransformChain, RestError> {
    TransformChain::from_config(config, direction).map_err(|issues| {
        RestError::bad_request(
            issues
                .into_iter()
                .next()
                .map_or_else(|| "invalid transforms".to_owned(), |issue| issue.message),
        )
    })
}

async fn sink_outputs(
    settings: &ConnectorSettings,
    config: &ConfigMap,
    messages: Vec<OwnedMessage>,
    preview: impl FnOnce(&[SinkRecord]) -> Result<Vec<Result<Vec<Value>, ConnectError>>, ConnectError>,
) -> Result<Vec<DryRunOutput>, RestError> {
    let chain = transforms(config, Direction::Sink)?;
    let mut outputs = Vec::with_capacity(messages.len());
    // Records that reach the plugin, with the index of their output.
    let mut records = Vec::new();
    let mut positions = Vec::new();
    for message in &messages {
        let mut output = DryRunOutput {
            input: shown_message(message),
            output: Vec::new(),
            error: None,
        };
        match crate::worker::sink::convert(settings, &chain, message).await {
            Ok(Some(record)) => {
                positions.push(outputs.len());
                records.push(record);
            }
            // Dropped by an SMT (a filter): nothing is written.
            Ok(None) => {}
            Err((stage, _, error)) => {
                output.error = Some(format!("{}: {}", stage.name(), error.message));
            }
        }
        let failed = output.error.is_some();
        outputs.push(output);
        // As the task: without errors.tolerance=all the first failure stops it.
        if failed && !settings.errors.tolerate_all {
            break;
        }
    }
    let answers = preview(&records).map_err(|error| refused(&error))?;
    for (position, answer) in positions.into_iter().zip(answers) {
        match answer {
            Ok(writes) => outputs[position].output = writes,
            Err(error) => outputs[position].error = Some(error.to_string()),
        }
    }
    Ok(outputs)
}

async fn source_outputs(
    settings: &ConnectorSettings,
    config: &ConfigMap,
    inputs: Vec<connect_api::SourceSample>,
) -> Result<Vec<DryRunOutput>, RestError> {
    let chain = transforms(config, Direction::Source)?;
    let mut outputs = Vec::with_capacity(inputs.len());
    for sample in inputs {
        let mut output = DryRunOutput {
            input: sample.input,
            output: Vec::new(),
            error: None,
        };
        for source_record in sample.records {
            let transformed = match chain.apply(source_record.record) {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(message) => {
                    output.error = Some(format!("transformation: {message}"));
                    break;
                }
            };
            match crate::worker::source::convert(settings, &transformed).await {
                Ok(Some(record)) => output.output.push(json!({
                    "topic": &*record.topic,
                    "partition": record.partition,
                    "key": shown_bytes(record.key.as_deref()),
                    "value": shown_bytes(record.value.as_deref()),
                    "headers": record
                        .headers
                        .iter()
                        .map(|(key, value)| json!({"key": key, "value": shown_bytes(value.as_deref())}))
                        .collect::<Vec<_>>(),
                })),
                Ok(None) => {}
                Err((stage, error)) => {
                    output.error = Some(format!("{}: {}", stage.name(), error.message));
                    break;
                }
            }
        }
        outputs.push(output);
    }
    Ok(outputs)
}

/// Bytes as JSON when they are JSON text, else base64 (`{"base64": …}`), null for none.
fn shown_bytes(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => serde_json::from_slice::<Value>(bytes).unwrap_or_else(
            |_| json!({"base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
        ),
    }
}

fn shown_message(message: &OwnedMessage) -> Value {
    let headers: Vec<Value> = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| json!({"key": h.key, "value": header_from_bytes(h.value)}))
                .collect()
        })
        .unwrap_or_default();
    let text = |bytes: Option<&[u8]>| match bytes {
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::from(text)),
            Err(_) => shown_bytes(Some(bytes)),
        },
        None => Value::Null,
    };
    json!({
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": message.timestamp().to_millis(),
        "key": text(message.key()),
        "value": text(message.payload()),
        "headers": headers,
    })
}

/// The first `samples` records of the sink's topics, partition after partition, read
/// without joining a group: no commit, no trace in any group's offsets.
async fn read_samples(
    runtime: &Runtime,
    settings: &ConnectorSettings,
    samples: usize,
    start: StartAt,
) -> Result<Vec<OwnedMessage>, RestError> {
    // librdkafka assigns partitions only in a consumer with a group id; the group is never
    // joined (assign, not subscribe) and nothing is committed, so it leaves no trace.
    let group = format!(
        "connect-dry-run-{}-{}",
        std::process::id(),
        crate::worker::now_ms()
    );
    let mut config = runtime.clients.consumer_config(&group);
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer = broker_core::clients::create(&config, "dry run consumer")
        .map_err(|error| unreadable(&error))?;
    let topics = settings.sink_topics.clone();
    broker_core::task::spawn_blocking("connect-dry-run-read", move || {
        read_blocking(&consumer, topics.as_ref(), samples, start)
    })
    .await
    .map_err(|error| RestError::bad_request(format!("dry run read failed: {error}")))?
}

/// The sample records cannot be read: 400 with Kafka's reason, which the caller can act on
/// (a topic without leader, an authorization failure).
fn unreadable(error: &dyn std::fmt::Display) -> RestError {
    tracing::warn!(%error, "dry run cannot read its sample records");
    RestError::bad_request(format!("dry run cannot read the sample records: {error}"))
}

fn read_blocking(
    consumer: &BaseConsumer,
    topics: Option<&SinkTopics>,
    samples: usize,
    start: StartAt,
) -> Result<Vec<OwnedMessage>, RestError> {
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .map_err(|error| unreadable(&error))?;
    let regex = match topics {
        Some(SinkTopics::Regex(regex)) => regex::Regex::new(regex).ok(),
        _ => None,
    };
    let wanted = |name: &str| match topics {
        Some(SinkTopics::List(list)) => list.iter().any(|t| t == name),
        Some(SinkTopics::Regex(_)) => regex.as_ref().is_some_and(|r| r.is_match(name)),
        None => false,
    };
    let mut assignment = TopicPartitionList::new();
    let mut names: Vec<_> = metadata
        .topics()
        .iter()
        .filter(|t| wanted(t.name()))
        .collect();
    names.sort_by_key(|t| t.name().to_owned());
    for topic in names {
        for partition in topic.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic.name(), partition.id(), timeout)
                .map_err(|error| unreadable(&error))?;
            let from = match start {
                StartAt::Beginning => low,
                StartAt::Offset(offset) => offset.clamp(low, high),
            };
            if from < high {
                assignment
                    .add_partition_offset(topic.name(), partition.id(), Offset::Offset(from))
                    .map_err(|e| RestError::bad_request(e.to_string()))?;
            }
        }
    }
    let mut remaining = assignment.count();
    if remaining == 0 {
        return Ok(Vec::new());
    }
    consumer
        .assign(&assignment)
        .map_err(|error| unreadable(&error))?;
    let deadline = Instant::now() + READ_DEADLINE;
    let mut messages = Vec::new();
    while messages.len() < samples && remaining > 0 && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => messages.push(message.detach()),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => remaining -= 1,
            Some(Err(error)) => return Err(unreadable(&error)),
            None => {}
        }
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_show_as_json_when_they_are_json() {
        assert_eq!(shown_bytes(Some(br#"{"a":1}"#)), json!({"a": 1}));
        assert_eq!(shown_bytes(Some(&[0xff, 0x00])), json!({"base64": "/wA="}));
        assert_eq!(shown_bytes(None), Value::Null);
    }
}
