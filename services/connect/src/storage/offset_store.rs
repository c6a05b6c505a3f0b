//! The offsets topic: key `["<connector>",{source partition}]`, value the offset map
//! (`null` = reset), both JSON without schemas, as Kafka's `OffsetStorageWriter` writes
//! them. The key is hashed by the producer's murmur2 partitioner like the Java worker's.

use std::collections::BTreeMap;

use broker_core::{BrokerError, KafkaClients, Shutdown};
use connect_api::StoredOffsets;
use serde_json::{Map, Value};

use super::log::{KafkaLog, LogState};

/// One offset to store for a source partition; `None` resets it.
pub type OffsetWrite = (Map<String, Value>, Option<Map<String, Value>>);

/// connector → its stored offsets.
type Offsets = BTreeMap<String, StoredOffsets>;

#[derive(Debug, Default)]
pub struct OffsetState {
    pub offsets: Offsets,
}

impl LogState for OffsetState {
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>, _offset: i64) {
        let Ok(Value::Array(parts)) = serde_json::from_slice::<Value>(key) else {
            return;
        };
        let (Some(Value::String(connector)), Some(Value::Object(partition))) =
            (parts.first(), parts.get(1))
        else {
            return;
        };
        let partition_key = Value::Object(partition.clone()).to_string();
        match value.and_then(|v| serde_json::from_slice::<Value>(v).ok()) {
            Some(Value::Object(offset)) => {
                self.offsets
                    .entry(connector.clone())
                    .or_default()
                    .insert(partition_key, (partition.clone(), offset));
            }
            _ => {
                if let Some(partitions) = self.offsets.get_mut(connector) {
                    partitions.remove(&partition_key);
                    if partitions.is_empty() {
                        self.offsets.remove(connector);
                    }
                }
            }
        }
    }
}

/// The key bytes for one source partition.
pub fn offset_key(connector: &str, partition: &Map<String, Value>) -> Vec<u8> {
    Value::Array(vec![
        Value::String(connector.to_owned()),
        Value::Object(partition.clone()),
    ])
    .to_string()
    .into_bytes()
}

#[derive(Debug)]
pub struct OffsetStore {
    pub log: KafkaLog<OffsetState>,
}

impl OffsetStore {
    pub async fn start(
        clients: &KafkaClients,
        topic: &str,
        shutdown: Shutdown,
    ) -> Result<Self, BrokerError> {
        let log = KafkaLog::start(clients, topic, OffsetState::default(), shutdown).await?;
        log.read_to_end().await?;
        Ok(Self { log })
    }

    pub fn offsets(&self, connector: &str) -> StoredOffsets {
        self.log
            .read(|state| state.offsets.get(connector).cloned().unwrap_or_default())
    }

    /// Stores offsets (`None` resets a partition); returns once they are read back.
    pub async fn write(&self, connector: &str, offsets: &[OffsetWrite]) -> Result<(), BrokerError> {
        let records: Vec<(Vec<u8>, Option<Vec<u8>>)> = offsets
            .iter()
            .map(|(partition, offset)| {
                (
                    offset_key(connector, partition),
                    offset
                        .as_ref()
                        .map(|o| Value::Object(o.clone()).to_string().into_bytes()),
                )
            })
            .collect();
        self.log.write_all(&records).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_match_kafka_connect_and_tombstones_reset() {
        let Value::Object(partition) = json!({"filename": "/tmp/a"}) else {
            unreachable!()
        };
        let key = offset_key("src", &partition);
        assert_eq!(
            String::from_utf8(key.clone()).unwrap(),
            r#"["src",{"filename":"/tmp/a"}]"#
        );
        let mut state = OffsetState::default();
        state.apply(&key, Some(br#"{"position":5}"#), 0);
        assert_eq!(
            state.offsets["src"].values().next().unwrap().1["position"],
            json!(5)
        );
        state.apply(&key, None, 1);
        assert!(state.offsets.is_empty());
    }
}
