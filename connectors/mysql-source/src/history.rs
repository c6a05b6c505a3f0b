//! The schema history topic (`schema.history.internal.kafka.topic`): every DDL the binlog
//! reader sees, with its binlog position, in Debezium's history record layout.
//!
//! The connector owns no Kafka client. It asks the runtime for side-topic clients
//! ([`connect_api::SideTopics`]), which are built from the worker's Kafka properties
//! (SASL/TLS included) plus `schema.history.internal.producer.*`; the runtime refuses a
//! `schema.history.internal.kafka.bootstrap.servers` that names another cluster. The topic
//! is created at task start, as Debezium's `KafkaSchemaHistory.initializeStorage` does:
//! one partition (the history is one ordered log), the broker's default replication
//! factor, `cleanup.policy=delete` with `retention.ms` = `Long.MAX_VALUE` and
//! `retention.bytes=-1` (never compacted, never expired).
//!
//! The history is written, not read back: see "Schema history" in docs/mysql-source.md for
//! why the schemas of old rows come from the binlog's own table map events instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use connect_api::{
    ConnectError, NewSideTopic, SideTopicClients, SideTopicWriter, SourceTaskContext,
};
use serde_json::Value;

use crate::SourceError;

/// Debezium's `RETENTION_MS_MAX` (Java's `Long.MAX_VALUE`).
pub const RETENTION_MS: &str = "9223372036854775807";
/// Debezium's "unlimited" `retention.bytes`.
pub const RETENTION_BYTES: &str = "-1";

/// Where the history goes and with which client overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    pub topic: String,
    pub clients: SideTopicClients,
}

/// The history topic as Debezium creates it.
pub fn new_topic(name: &str) -> NewSideTopic {
    let configs: BTreeMap<String, String> = [
        ("cleanup.policy", "delete"),
        ("retention.ms", RETENTION_MS),
        ("retention.bytes", RETENTION_BYTES),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    NewSideTopic {
        name: name.to_owned(),
        partitions: 1,
        replication_factor: -1,
        configs,
    }
}

/// An open history topic: created if it was missing, ready for appends.
#[derive(Debug, Clone)]
pub struct HistoryTopic {
    topic: String,
    writer: Arc<dyn SideTopicWriter>,
}

impl HistoryTopic {
    /// Opens the runtime's clients and creates the topic if missing.
    pub async fn open(
        settings: &HistorySettings,
        context: &SourceTaskContext,
    ) -> Result<Self, ConnectError> {
        let side_topics = context.side_topics.as_ref().ok_or_else(|| {
            ConnectError::definite(
                "the runtime offers no side-topic clients, so the schema history cannot be written",
            )
        })?;
        let writer = side_topics.open(&settings.clients).await?;
        writer
            .create_if_missing(&new_topic(&settings.topic))
            .await?;
        Ok(Self {
            topic: settings.topic.clone(),
            writer,
        })
    }

    /// Appends one history record (key null, as Debezium writes them) and waits for the
    /// acknowledgement, so a DDL is in the history before any row written after it is
    /// handed out.
    pub async fn append(&self, record: &Value) -> Result<(), SourceError> {
        let value = record.to_string();
        self.writer
            .append(&self.topic, None, value.as_bytes())
            .await
            .map_err(|error| match error {
                ConnectError::Retriable { .. } => SourceError::transient(error.to_string()),
                other => SourceError::definite(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_topic_is_created_as_debezium_creates_it() {
        let topic = new_topic("shop.history");
        assert_eq!(topic.partitions, 1);
        assert_eq!(topic.replication_factor, -1);
        assert_eq!(topic.configs["cleanup.policy"], "delete");
        assert_eq!(topic.configs["retention.ms"], i64::MAX.to_string());
        assert_eq!(topic.configs["retention.bytes"], "-1");
    }
}
