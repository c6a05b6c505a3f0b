//! Connections to specific brokers, by node id, next to the client's bootstrap connection:
//! group coordinators for OffsetFetch, a broker for its own configs.
//!
//! A node's address comes from the broker that told us about it (a FindCoordinator answer
//! carries host and port) or from a Metadata request. Both are the addresses advertised on
//! the listener we bootstrapped through, so the node connections use the same transport,
//! TLS trust and SASL login as the bootstrap one. When a node id shows up with a new
//! address (a broker replaced behind the same id), its old connection is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};

use kafka_protocol::messages::{DescribeClusterRequest, MetadataRequest};
use kafka_protocol::protocol::Request;
use tokio::sync::Mutex;

use super::client::{Target, WireClient};
use super::connection::Connection;
use super::error::WireError;

type Slot = Arc<Mutex<Option<Connection>>>;

/// Node id → advertised address and its connection slot.
#[derive(Debug, Default)]
pub(crate) struct Nodes {
    known: SyncMutex<HashMap<i32, (String, Slot)>>,
}

impl Nodes {
    /// Records `address` for `node`; a changed address gets a fresh slot.
    pub(crate) fn remember(&self, node: i32, address: String) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        match known.get(&node) {
            Some((current, _)) if *current == address => {}
            _ => {
                known.insert(node, (address, Slot::default()));
            }
        }
    }

    fn get(&self, node: i32) -> Option<(String, Slot)> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(|(address, slot)| (address.clone(), Arc::clone(slot)))
    }

    /// Drops the connection to `node` (it stopped being what we wanted of it).
    pub(crate) fn forget(&self, node: i32) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&node);
    }
}

/// One broker as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub node_id: i32,
    /// `host:port` as advertised on the listener we connected through.
    pub address: String,
}

pub(crate) fn address(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl WireClient {
    /// The cluster's brokers, from a Metadata request that asks for no topics (cheap on a
    /// cluster with thousands of them). Also refreshes the node addresses.
    pub async fn brokers(&self) -> Result<Vec<BrokerAddress>, WireError> {
        // `Some(empty)` is "no topics" (v1+, every broker since 0.10); `None` would list
        // every topic. Auto-creation is left at its default: no topic is named.
        let request = MetadataRequest::default().with_topics(Some(Vec::new()));
        let response = self.send(&request).await?;
        let brokers: Vec<BrokerAddress> = response
            .brokers
            .iter()
            .map(|broker| BrokerAddress {
                node_id: broker.node_id.0,
                address: address(&broker.host, broker.port),
            })
            .collect();
        for broker in &brokers {
            self.nodes.remember(broker.node_id, broker.address.clone());
        }
        Ok(brokers)
    }

    /// The id of the broker the cluster reports as controller, from the same topic-less
    /// Metadata request as [`Self::brokers`]. In KRaft mode brokers answer with a random
    /// live broker (clients never talk to the quorum), so it is informative only there;
    /// `None` when the broker reports none (-1).
    pub async fn controller_id(&self) -> Result<Option<i32>, WireError> {
        let request = MetadataRequest::default().with_topics(Some(Vec::new()));
        let response = self.send(&request).await?;
        Ok(Some(response.controller_id.0).filter(|id| *id >= 0))
    }

    /// The controller as Java's `Admin.describeCluster().controller()` reports it (what
    /// Confluent's REST Proxy shows): DescribeCluster (KIP-700, Kafka 2.8+), or the Metadata
    /// answer on older brokers. In KRaft mode brokers name a live broker there, since
    /// clients never reach the controller quorum.
    pub async fn describe_cluster_controller(&self) -> Result<Option<i32>, WireError> {
        if self.version::<DescribeClusterRequest>().await.is_err() {
            return self.controller_id().await;
        }
        let response = self.send(&DescribeClusterRequest::default()).await?;
        if let Some(error) = WireError::broker(
            "describe cluster",
            response.error_code,
            response.error_message.map(|m| m.to_string()),
        ) {
            return Err(error);
        }
        Ok(Some(response.controller_id.0).filter(|id| *id >= 0))
    }

    /// Sends `request` to broker `node`.
    pub(crate) async fn send_to<R: Request>(
        &self,
        node: i32,
        request: &R,
    ) -> Result<R::Response, WireError> {
        let (address, slot) = self.node(node).await?;
        self.send_on(&slot, Target::Address(&address), request)
            .await
    }

    /// The version of `R` that broker `node` speaks with us.
    pub(crate) async fn version_at<R: Request>(&self, node: i32) -> Result<i16, WireError> {
        let (address, slot) = self.node(node).await?;
        self.version_on::<R>(&slot, Target::Address(&address)).await
    }

    async fn node(&self, node: i32) -> Result<(String, Slot), WireError> {
        if let Some(known) = self.nodes.get(node) {
            return Ok(known);
        }
        self.brokers().await?;
        self.nodes.get(node).ok_or_else(|| WireError::Protocol {
            broker: self.settings().bootstrap.join(","),
            reason: format!("broker {node} is not in the cluster metadata"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(address("kafka-1", 9092), "kafka-1:9092");
        assert_eq!(address("::1", 9092), "[::1]:9092");
        assert_eq!(address("[::1]", 9092), "[::1]:9092");
    }

    #[test]
    fn a_moved_node_gets_a_fresh_slot() {
        let nodes = Nodes::default();
        nodes.remember(1, "a:1".to_owned());
        let (_, first) = nodes.get(1).expect("known");
        nodes.remember(1, "a:1".to_owned());
        assert!(Arc::ptr_eq(&first, &nodes.get(1).expect("known").1));
        nodes.remember(1, "b:1".to_owned());
        let (address, moved) = nodes.get(1).expect("known");
        assert_eq!(address, "b:1");
        assert!(!Arc::ptr_eq(&first, &moved));
        nodes.forget(1);
        assert!(nodes.get(1).is_none());
    }
}
