//! The sink tasks' [`ErrantRecordReporter`] (KIP-610) and their dead letter queue topic.
//!
//! A record a sink task reports goes through the connector's `errors.*` policy like a
//! record that failed conversion: counted, logged with `errors.log.enable`, refused with
//! `errors.tolerance=none` (the task then fails), else written to the DLQ with the
//! `__connect.errors.*` headers (stage `TASK_PUT`) before `report` returns. The task waits
//! for its reports before `flush` returns, so the offset of a reported record is committed
//! only once the record is in the DLQ.
//!
//! The record is serialized back with the connector's converters, as Kafka does for a
//! record that is not the consumer's original.

use std::sync::Arc;
use std::time::Duration;

use broker_core::metadata::ClusterInspector;
use connect_api::{ConnectError, ErrantRecordReporter, SinkRecord};
use futures::future::BoxFuture;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;

use crate::error_handling::{DeadLetterQueue, RecordFailure, Stage, send_to_dead_letter_queue};
use crate::runtime::Runtime;
use crate::worker::source::TaskSpec;

const REPLICATION_FACTOR_KEY: &str = "errors.deadletterqueue.topic.replication.factor";

#[derive(Debug)]
pub(crate) struct DeadLetterReporter {
    runtime: Arc<Runtime>,
    spec: TaskSpec,
    class_name: String,
}

/// `Some` when the connector has a DLQ or error logging, as in Kafka.
pub(crate) fn reporter_for(
    runtime: &Arc<Runtime>,
    spec: &TaskSpec,
) -> Option<Arc<dyn ErrantRecordReporter>> {
    let errors = &spec.settings.errors;
    if errors.dead_letter_queue.is_none() && !errors.log {
        return None;
    }
    let class_name = spec
        .connector_config
        .get("connector.class")
        .cloned()
        .unwrap_or_default();
    Some(Arc::new(DeadLetterReporter {
        runtime: Arc::clone(runtime),
        spec: spec.clone(),
        class_name,
    }))
}

impl DeadLetterReporter {
    async fn serialize(&self, record: &SinkRecord) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let settings = &self.spec.settings;
        let data = &record.record;
        // A record that the converter cannot write back still reaches the DLQ, as JSON.
        let fallback =
            |value: &serde_json::Value| (!value.is_null()).then(|| value.to_string().into_bytes());
        let key = settings
            .key_converter
            .from_connect(&data.topic, data.key_schema.as_deref(), &data.key)
            .await
            .unwrap_or_else(|_| fallback(&data.key));
        let value = settings
            .value_converter
            .from_connect(&data.topic, data.value_schema.as_deref(), &data.value)
            .await
            .unwrap_or_else(|_| fallback(&data.value));
        (key, value)
    }
}

impl ErrantRecordReporter for DeadLetterReporter {
    fn report<'a>(
        &'a self,
        record: &'a SinkRecord,
        error: &'a ConnectError,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            self.runtime.metrics.failed_records.inc();
            let errors = &self.spec.settings.errors;
            let error_metrics = &self.spec.metrics.errors;
            error_metrics.record_reported(errors.tolerate_all, errors.log);
            if errors.log {
                tracing::warn!(
                    connector = self.spec.connector,
                    task = self.spec.task,
                    stage = Stage::TaskPut.name(),
                    topic = record.original_topic,
                    partition = record.kafka_partition,
                    offset = record.kafka_offset,
                    %error,
                    "record reported by the sink task"
                );
            }
            if !errors.tolerate_all {
                return Err(ConnectError::definite(format!(
                    "Tolerance exceeded in error handler ({}): {error}",
                    Stage::TaskPut.name()
                )));
            }
            let Some(queue) = &errors.dead_letter_queue else {
                return Ok(());
            };
            let (key, value) = self.serialize(record).await;
            let failure = RecordFailure {
                connector: &self.spec.connector,
                task: self.spec.task,
                stage: Stage::TaskPut,
                class_name: &self.class_name,
                message: error.to_string(),
                topic: &record.original_topic,
                partition: record.kafka_partition,
                offset: record.kafka_offset,
            };
            error_metrics.dead_letter_queue_requests.inc();
            send_to_dead_letter_queue(
                &self.runtime.producer,
                queue,
                &failure,
                key.as_deref(),
                value.as_deref(),
            )
            .await
            .map_err(|error| {
                error_metrics.dead_letter_queue_failures.inc();
                ConnectError::retriable(error)
            })
        })
    }
}

/// Creates the DLQ topic when it is missing, as Kafka's `DeadLetterQueueReporter` does at
/// task start. Without an explicit replication factor, the default 3 is lowered to the
/// number of brokers, so that a dev cluster of one broker works out of the box.
pub(crate) async fn ensure_dead_letter_topic(
    runtime: &Runtime,
    spec: &TaskSpec,
    queue: &DeadLetterQueue,
) -> Result<(), ConnectError> {
    let inspector = ClusterInspector::new(&runtime.clients, Duration::from_secs(10))
        .map_err(|e| ConnectError::retriable(e.to_string()))?;
    if inspector.topic(&queue.topic).await.is_ok() {
        return Ok(());
    }
    let mut replication = queue.replication_factor;
    if !spec.connector_config.contains_key(REPLICATION_FACTOR_KEY)
        && let Ok(metadata) = inspector.metadata(None).await
    {
        let brokers = i16::try_from(metadata.brokers.len())
            .unwrap_or(i16::MAX)
            .max(1);
        replication = replication.min(brokers);
    }
    let admin = runtime
        .clients
        .admin()
        .map_err(|e| ConnectError::retriable(e.to_string()))?;
    let topic = NewTopic::new(
        &queue.topic,
        1,
        TopicReplication::Fixed(i32::from(replication)),
    );
    let results = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|e| ConnectError::retriable(format!("cannot create the DLQ topic: {e}")))?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(
                topic = queue.topic,
                replication_factor = replication,
                "created the dead letter queue topic"
            ),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(ConnectError::definite(format!(
                    "Could not initialize dead letter queue with topic={}: {code} \
                     (check {REPLICATION_FACTOR_KEY})",
                    queue.topic
                )));
            }
        }
    }
    Ok(())
}
