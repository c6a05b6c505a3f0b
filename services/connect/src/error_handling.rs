//! `errors.*`: tolerance, retries with capped exponential backoff, error logging and the
//! dead letter queue with Kafka's `__connect.errors.*` context headers.

use std::time::Duration;

use connect_api::ConfigMap;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::error::ConfigIssue;

/// Where in the pipeline a record failed (`__connect.errors.stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::KeyConverter => "KEY_CONVERTER",
            Self::ValueConverter => "VALUE_CONVERTER",
            Self::HeaderConverter => "HEADER_CONVERTER",
            Self::Transformation => "TRANSFORMATION",
            Self::TaskPut => "TASK_PUT",
            Self::TaskPoll => "TASK_POLL",
            Self::KafkaProduce => "KAFKA_PRODUCE",
        }
    }
}

/// The connector's `errors.*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPolicy {
    pub tolerate_all: bool,
    /// `None` = retry forever (`-1`).
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log: bool,
    pub log_messages: bool,
    pub dead_letter_queue: Option<DeadLetterQueue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    pub topic: String,
    pub replication_factor: i16,
    pub context_headers: bool,
}

fn number(config: &ConfigMap, key: &str, default: i64) -> Result<i64, ConfigIssue> {
    match config.get(key) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            ConfigIssue::new(
                key,
                format!("Invalid value {text} for configuration {key}: Not a number of type LONG"),
            )
        }),
    }
}

fn boolean(config: &ConfigMap, key: &str) -> bool {
    config
        .get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

impl ErrorPolicy {
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigIssue> {
        let tolerate_all = match config
            .get("errors.tolerance")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => false,
            Some(v) if v == "none" => false,
            Some(v) if v == "all" => true,
            Some(v) => {
                return Err(ConfigIssue::new(
                    "errors.tolerance",
                    format!(
                        "Invalid value {v} for configuration errors.tolerance: String must be one of: none, all"
                    ),
                ));
            }
        };
        let retry = number(config, "errors.retry.timeout", 0)?;
        let delay = number(config, "errors.retry.delay.max.ms", 60_000)?;
        let topic = config
            .get("errors.deadletterqueue.topic.name")
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        let dead_letter_queue = if topic.is_empty() {
            None
        } else {
            let replication = number(config, "errors.deadletterqueue.topic.replication.factor", 3)?;
            Some(DeadLetterQueue {
                topic,
                replication_factor: i16::try_from(replication).unwrap_or(3),
                context_headers: boolean(config, "errors.deadletterqueue.context.headers.enable"),
            })
        };
        Ok(Self {
            tolerate_all,
            retry_timeout: if retry < 0 {
                None
            } else {
                Some(Duration::from_millis(retry.unsigned_abs()))
            },
            retry_delay_max: Duration::from_millis(delay.max(0).unsigned_abs()),
            log: boolean(config, "errors.log.enable"),
            log_messages: boolean(config, "errors.log.include.messages"),
            dead_letter_queue,
        })
    }

    /// The wait before retry number `attempt` (0-based): 300 ms doubling, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = Duration::from_millis(300).saturating_mul(2_u32.saturating_pow(attempt.min(16)));
        base.min(self.retry_delay_max.max(Duration::from_millis(1)))
    }
}

/// What went wrong with one record, for the log and the DLQ.
#[derive(Debug, Clone)]
pub struct RecordFailure<'a> {
    pub connector: &'a str,
    pub task: u32,
    pub stage: Stage,
    pub class_name: &'a str,
    pub message: String,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// Sends a failed sink record's original bytes to the DLQ; returns once Kafka acked it.
pub async fn send_to_dead_letter_queue(
    producer: &FutureProducer,
    queue: &DeadLetterQueue,
    failure: &RecordFailure<'_>,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), String> {
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&queue.topic);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(value) = value {
        record = record.payload(value);
    }
    if queue.context_headers {
        let partition = failure.partition.to_string();
        let offset = failure.offset.to_string();
        let task = failure.task.to_string();
        let exception = "org.apache.kafka.connect.errors.DataException";
        let headers = [
            ("__connect.errors.topic", failure.topic),
            ("__connect.errors.partition", partition.as_str()),
            ("__connect.errors.offset", offset.as_str()),
            ("__connect.errors.connector.name", failure.connector),
            ("__connect.errors.task.id", task.as_str()),
            ("__connect.errors.stage", failure.stage.name()),
            ("__connect.errors.class.name", failure.class_name),
            ("__connect.errors.exception.class.name", exception),
            (
                "__connect.errors.exception.message",
                failure.message.as_str(),
            ),
            (
                "__connect.errors.exception.stacktrace",
                failure.message.as_str(),
            ),
        ];
        let mut owned = OwnedHeaders::new();
        for (key, value) in headers {
            owned = owned.insert(KafkaHeader {
                key,
                value: Some(value),
            });
        }
        record = record.headers(owned);
    }
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map(|_| ())
        .map_err(|(error, _)| format!("dead letter queue write failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fail_fast_without_retries() {
        let policy = ErrorPolicy::from_config(&ConfigMap::new()).unwrap();
        assert!(!policy.tolerate_all);
        assert_eq!(policy.retry_timeout, Some(Duration::ZERO));
        assert!(policy.dead_letter_queue.is_none());
    }

    #[test]
    fn validate_rejects_unknown_tolerance() {
        let config: ConfigMap = [("errors.tolerance".to_owned(), "some".to_owned())].into();
        assert_eq!(
            ErrorPolicy::from_config(&config).unwrap_err().key,
            "errors.tolerance"
        );
    }

    #[test]
    fn backoff_is_capped() {
        let config: ConfigMap =
            [("errors.retry.delay.max.ms".to_owned(), "1000".to_owned())].into();
        let policy = ErrorPolicy::from_config(&config).unwrap();
        assert_eq!(policy.backoff(0), Duration::from_millis(300));
        assert_eq!(policy.backoff(10), Duration::from_secs(1));
    }
}
