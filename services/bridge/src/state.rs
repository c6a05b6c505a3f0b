use std::sync::Arc;
use std::time::Duration;

use broker_core::metadata::ClusterInspector;
use broker_core::{BrokerError, KafkaClients};

use crate::config::ValidatedBridge;

/// Shared by every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct BridgeState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ValidatedBridge,
    clients: KafkaClients,
    inspector: ClusterInspector,
}

/// How long a metadata request may take before the handler answers with a retriable error.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

impl BridgeState {
    pub fn new(config: ValidatedBridge, clients: KafkaClients) -> Result<Self, BrokerError> {
        let inspector = ClusterInspector::new(&clients, METADATA_TIMEOUT)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                clients,
                inspector,
            }),
        })
    }

    pub fn config(&self) -> &ValidatedBridge {
        &self.inner.config
    }

    pub fn clients(&self) -> &KafkaClients {
        &self.inner.clients
    }

    pub fn inspector(&self) -> &ClusterInspector {
        &self.inner.inspector
    }
}
