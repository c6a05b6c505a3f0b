//! IncrementalAlterConfigs (KIP-339, Kafka 2.3+): change named config keys of a topic or a
//! broker and leave every other key alone.
//!
//! The legacy AlterConfigs, the only one rust-rdkafka offers, replaces a resource's whole
//! set of dynamic configs, so changing one key is a read-modify-write that can undo a
//! concurrent change to another key. Here each key carries its own operation and the broker
//! applies them atomically per resource.
//!
//! Topic and cluster-default resources go to any broker; one broker's own configs go to
//! that broker, as Java's admin client does (a ZooKeeper-mode broker only alters its own).

use std::fmt;

use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::error::WireError;

/// What is configured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResource {
    Topic(String),
    /// One broker, by node id.
    Broker(i32),
    /// The cluster-wide default of every broker (`--entity-default`).
    BrokerDefaults,
}

impl ConfigResource {
    /// `org.apache.kafka.common.config.ConfigResource.Type` codes.
    pub(crate) fn type_code(&self) -> i8 {
        match self {
            Self::Topic(_) => 2,
            Self::Broker(_) | Self::BrokerDefaults => 4,
        }
    }

    pub(crate) fn name(&self) -> String {
        match self {
            Self::Topic(name) => name.clone(),
            Self::Broker(node) => node.to_string(),
            Self::BrokerDefaults => String::new(),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topic(name) => write!(f, "topic {name}"),
            Self::Broker(node) => write!(f, "broker {node}"),
            Self::BrokerDefaults => f.write_str("broker defaults"),
        }
    }
}

/// One key's change (`AlterConfigOp.OpType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOperation {
    Set(String),
    /// Back to the inherited value (broker or default).
    Delete,
    /// Adds items to a list-typed key (`cleanup.policy`, ...).
    Append(String),
    /// Removes items from a list-typed key.
    Subtract(String),
}

impl ConfigOperation {
    fn code(&self) -> i8 {
        match self {
            Self::Set(_) => 0,
            Self::Delete => 1,
            Self::Append(_) => 2,
            Self::Subtract(_) => 3,
        }
    }

    fn value(&self) -> Option<&str> {
        match self {
            Self::Set(value) | Self::Append(value) | Self::Subtract(value) => Some(value),
            Self::Delete => None,
        }
    }
}

/// The changes to one resource, applied together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChanges {
    pub resource: ConfigResource,
    /// Key → operation, in order.
    pub operations: Vec<(String, ConfigOperation)>,
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

impl WireClient {
    /// Applies `changes`; one result per resource, in order. `validate_only` asks the broker
    /// to check without applying.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[ConfigChanges],
        validate_only: bool,
    ) -> Result<Vec<Result<(), WireError>>, WireError> {
        let mut results = Vec::with_capacity(changes.len());
        // Consecutive changes for the same destination share a request.
        let mut start = 0;
        while start < changes.len() {
            let node = destination(&changes[start].resource);
            let end = changes[start..]
                .iter()
                .position(|change| destination(&change.resource) != node)
                .map_or(changes.len(), |offset| start + offset);
            results.extend(
                self.alter_batch(node, &changes[start..end], validate_only)
                    .await?,
            );
            start = end;
        }
        Ok(results)
    }

    async fn alter_batch(
        &self,
        node: Option<i32>,
        changes: &[ConfigChanges],
        validate_only: bool,
    ) -> Result<Vec<Result<(), WireError>>, WireError> {
        let request = IncrementalAlterConfigsRequest::default()
            .with_validate_only(validate_only)
            .with_resources(
                changes
                    .iter()
                    .map(|change| {
                        AlterConfigsResource::default()
                            .with_resource_type(change.resource.type_code())
                            .with_resource_name(text(&change.resource.name()))
                            .with_configs(
                                change
                                    .operations
                                    .iter()
                                    .map(|(name, operation)| {
                                        AlterableConfig::default()
                                            .with_name(text(name))
                                            .with_config_operation(operation.code())
                                            .with_value(operation.value().map(text))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response = match node {
            Some(node) => self.send_to(node, &request).await?,
            None => self.send(&request).await?,
        };
        // The broker answers per resource; match by type and name, not position.
        Ok(changes
            .iter()
            .map(|change| {
                let name = change.resource.name();
                let answer = response.responses.iter().find(|answer| {
                    answer.resource_type == change.resource.type_code()
                        && answer.resource_name.as_str() == name
                });
                match answer {
                    None => Err(WireError::Protocol {
                        broker: self.settings().bootstrap.join(","),
                        reason: format!(
                            "IncrementalAlterConfigs answered nothing for {}",
                            change.resource
                        ),
                    }),
                    Some(answer) => WireError::broker(
                        "incremental alter configs",
                        answer.error_code,
                        answer.error_message.as_ref().map(|m| m.to_string()),
                    )
                    .map_or(Ok(()), Err),
                }
            })
            .collect())
    }
}

fn destination(resource: &ConfigResource) -> Option<i32> {
    match resource {
        ConfigResource::Broker(node) => Some(*node),
        ConfigResource::Topic(_) | ConfigResource::BrokerDefaults => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_operations_have_kafka_codes() {
        assert_eq!(ConfigResource::Topic("t".into()).type_code(), 2);
        assert_eq!(ConfigResource::Broker(3).name(), "3");
        assert_eq!(ConfigResource::BrokerDefaults.name(), "");
        assert_eq!(ConfigOperation::Subtract("x".into()).code(), 3);
        assert_eq!(ConfigOperation::Delete.value(), None);
    }
}
