//! `exactly_once_source_support = "enabled"` (KIP-618): each source task owns a
//! transactional producer (`transactional.id` = `<group.id>-<connector>-<task>`, as Kafka
//! names it) and writes a batch's records **and** its offsets in one transaction. Readers
//! with `isolation.level=read_committed` (the offsets store reads that way) see both or
//! neither, so a crash neither duplicates nor skips. A new incarnation of the task fences
//! the old one through `init_transactions`. Where a transaction ends is the connector's
//! `transaction.boundary` ([`super::source_transaction`]); the offsets go to the connector's
//! `offsets.storage.topic` when it has one ([`super::source_offsets`]).

use std::time::Duration;

use connect_api::{ConfigMap, ConnectError};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::Value;

use crate::client_overrides::{self, PRODUCER_PREFIX};
use crate::runtime::Runtime;
use crate::storage::offset_store::{OffsetWrite, offset_key};

const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Transactions {
    producer: FutureProducer,
    offsets_topic: String,
}

impl std::fmt::Debug for Transactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transactions")
            .field("offsets_topic", &self.offsets_topic)
            .finish_non_exhaustive()
    }
}

fn kafka(operation: &str, error: impl std::fmt::Display) -> ConnectError {
    ConnectError::definite(format!("{operation} failed: {error}"))
}

/// Runs a blocking transactional call off the async threads.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ConnectError> {
    broker_core::task::spawn_blocking("connect-transaction-call", call)
        .await
        .map_err(|error| ConnectError::definite(format!("transaction call panicked: {error}")))
}

impl Transactions {
    pub async fn create(
        runtime: &Runtime,
        connector: &str,
        task: u32,
        connector_config: &ConfigMap,
        offsets_topic: &str,
    ) -> Result<Self, ConnectError> {
        let mut config = runtime.clients.producer_config();
        client_overrides::apply(&mut config, connector_config, PRODUCER_PREFIX);
        config.set(
            "transactional.id",
            format!("{}-{connector}-{task}", runtime.group_id),
        );
        let producer: FutureProducer =
            broker_core::clients::create(&config, "transactional producer")
                .map_err(|e| kafka("transactional producer", e))?;
        let init = producer.clone();
        blocking(move || init.init_transactions(TRANSACTION_TIMEOUT))
            .await?
            .map_err(|e| kafka("init_transactions", e))?;
        Ok(Self {
            producer,
            offsets_topic: offsets_topic.to_owned(),
        })
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    pub fn begin(&self) -> Result<(), ConnectError> {
        // Only flips local state in librdkafka; it does not block.
        self.producer
            .begin_transaction()
            .map_err(|e| kafka("begin_transaction", e))
    }

    /// Adds the offsets to the open transaction and commits it.
    pub async fn commit_with_offsets(
        &self,
        connector: &str,
        offsets: &[OffsetWrite],
    ) -> Result<(), ConnectError> {
        for (partition, offset) in offsets {
            let key = offset_key(connector, partition);
            let value = offset
                .as_ref()
                .map(|o| Value::Object(o.clone()).to_string());
            let mut record: FutureRecord<'_, [u8], str> =
                FutureRecord::to(&self.offsets_topic).key(key.as_slice());
            if let Some(value) = &value {
                record = record.payload(value.as_str());
            }
            self.producer
                .send(record, TRANSACTION_TIMEOUT)
                .await
                .map_err(|(e, _)| kafka("offset write in transaction", e))?;
        }
        let producer = self.producer.clone();
        blocking(move || producer.commit_transaction(TRANSACTION_TIMEOUT))
            .await?
            .map_err(|e| kafka("commit_transaction", e))
    }

    pub async fn abort(&self) {
        let producer = self.producer.clone();
        match blocking(move || producer.abort_transaction(TRANSACTION_TIMEOUT)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "abort_transaction failed"),
            Err(error) => tracing::warn!(%error, "abort_transaction failed"),
        }
    }
}
