//! Where one source task's offsets live.
//!
//! Without `offsets.storage.topic`: the worker's offsets topic only. With it (KIP-618) the
//! connector's own topic is the primary store, as Kafka's `ConnectorOffsetBackingStore`
//! makes it: offsets are written there first (inside the transaction with exactly-once) and
//! then copied to the worker's topic, so `GET /connectors/{name}/offsets` and tools that read
//! the global topic keep seeing them. A copy that fails is only logged: the primary store
//! already holds the offsets. At start, a partition's offset in the connector topic wins
//! over the worker topic's (which may be older, or the only one after the key was added).

use broker_core::Shutdown;
use connect_api::{ConnectError, StoredOffsets};

use crate::runtime::Runtime;
use crate::storage::offset_store::{OffsetStore, OffsetWrite};
use crate::storage::topics::ensure_connector_offsets_topic;

#[derive(Debug)]
pub(super) struct SourceOffsets {
    /// The connector's own offsets topic, read into memory while the task runs.
    own: Option<OffsetStore>,
    /// Stops the own store's reader when the task ends.
    reader_stop: Shutdown,
}

impl Drop for SourceOffsets {
    fn drop(&mut self) {
        self.reader_stop.trigger();
    }
}

fn storage_error(error: impl std::fmt::Display) -> ConnectError {
    ConnectError::retriable(format!("cannot read the connector offsets topic: {error}"))
}

impl SourceOffsets {
    /// Creates the connector's topic when missing and reads it to the end.
    pub(super) async fn open(
        runtime: &Runtime,
        own_topic: Option<&str>,
    ) -> Result<Self, ConnectError> {
        let reader_stop = Shutdown::new();
        let Some(topic) = own_topic else {
            return Ok(Self {
                own: None,
                reader_stop,
            });
        };
        ensure_connector_offsets_topic(&runtime.clients, topic, runtime.offsets_topic_layout)
            .await
            .map_err(storage_error)?;
        let own = OffsetStore::start(&runtime.clients, topic, reader_stop.clone())
            .await
            .map_err(storage_error)?;
        Ok(Self {
            own: Some(own),
            reader_stop,
        })
    }

    /// The offsets the task starts from: the worker topic's, overridden per partition by
    /// the connector topic's.
    pub(super) fn stored(&self, runtime: &Runtime, connector: &str) -> StoredOffsets {
        let mut offsets = runtime.offsets.offsets(connector);
        if let Some(own) = &self.own {
            offsets.extend(own.offsets(connector));
        }
        offsets
    }

    /// The topic a transaction writes the offsets to.
    pub(super) fn primary_topic<'a>(&'a self, runtime: &'a Runtime) -> &'a str {
        self.own
            .as_ref()
            .map_or_else(|| runtime.offsets.log.topic(), |own| own.log.topic())
    }

    /// At-least-once: writes to the primary store, then copies to the worker topic.
    pub(super) async fn write(
        &self,
        runtime: &Runtime,
        connector: &str,
        offsets: &[OffsetWrite],
    ) -> Result<(), broker_core::BrokerError> {
        match &self.own {
            None => runtime.offsets.write(connector, offsets).await,
            Some(own) => {
                own.write(connector, offsets).await?;
                self.copy_to_worker_topic(runtime, connector, offsets).await;
                Ok(())
            }
        }
    }

    /// After a committed transaction whose offsets went to the connector topic.
    pub(super) async fn copy_to_worker_topic(
        &self,
        runtime: &Runtime,
        connector: &str,
        offsets: &[OffsetWrite],
    ) {
        if self.own.is_none() {
            return;
        }
        if let Err(error) = runtime.offsets.write(connector, offsets).await {
            tracing::warn!(
                connector,
                %error,
                "cannot copy offsets to the worker's offsets topic; the connector's own topic holds them"
            );
        }
    }
}
