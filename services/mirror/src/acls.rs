//! Topic ACL sync with MirrorMaker 2's rules (`MirrorSourceConnector.syncTopicAcls`,
//! `shouldReplicateAcl`, `targetAclBinding`), over the native protocol client because
//! librdkafka has no ACL API that rust-rdkafka exposes.
//!
//! Every `sync.topic.acls.interval.seconds` (default 600 s, first pass at start) the source's
//! `TOPIC` + `LITERAL` bindings are described and, for topics the flow replicates:
//! - `ALLOW WRITE` is not copied: only the mirror should write to a remote topic;
//! - `ALLOW ALL` becomes `ALLOW READ`, for the same reason;
//! - everything else (other ALLOWs, every DENY) is copied as is;
//! - the resource name becomes the remote topic name; principal and host are kept.
//!
//! Bindings missing on the target are created; nothing is ever deleted there, so a
//! binding removed on the source stays on the target (as in MM2). PREFIXED bindings, the
//! `*` wildcard topic, and group/cluster/transactional-id ACLs are not copied.
//!
//! A cluster without an authorizer answers `SECURITY_DISABLED`: one warning, and ACL sync
//! of the flow stays off until restart. It is an environment fact, not a mirror failure.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use broker_core::Shutdown;
use broker_core::wire::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, KafkaCode, PatternType,
    ResourceType, WireClient, WireError,
};

use crate::config::{Flow, ValidatedMirror};
use crate::error::MirrorError;
use crate::metrics::MirrorMetrics;

/// The binding MM2 would create on the target for source `binding`, or `None` when the
/// binding is not copied.
pub(crate) fn target_binding(flow: &Flow, binding: &AclBinding) -> Option<AclBinding> {
    let copied = binding.resource_type == ResourceType::Topic
        && binding.pattern_type == PatternType::Literal
        && binding.resource_name != "*"
        && !(binding.permission == AclPermission::Allow
            && binding.operation == AclOperation::Write)
        && flow.replicates_topic(&binding.resource_name);
    if !copied {
        return None;
    }
    let operation =
        if binding.permission == AclPermission::Allow && binding.operation == AclOperation::All {
            AclOperation::Read
        } else {
            binding.operation
        };
    Some(AclBinding {
        resource_name: flow
            .policy
            .remote_topic(&flow.source, &binding.resource_name),
        operation,
        ..binding.clone()
    })
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncOutcome {
    /// Bindings created on the target (0 when it had them all).
    Created(usize),
    /// A cluster has no authorizer.
    SecurityDisabled,
}

pub(crate) struct AclSync {
    flow: Arc<Flow>,
    source: WireClient,
    target: WireClient,
    metrics: MirrorMetrics,
}

impl AclSync {
    pub(crate) fn new(
        config: &ValidatedMirror,
        flow: Arc<Flow>,
        metrics: MirrorMetrics,
    ) -> Result<Self, MirrorError> {
        let timeout = flow.admin_timeout.min(Duration::from_secs(30));
        let client = |alias: &str| {
            WireClient::new(&config.cluster(alias).cluster, timeout)
                .map_err(|error| MirrorError::Broker(error.into()))
        };
        Ok(Self {
            source: client(&flow.source)?,
            target: client(&flow.target)?,
            flow,
            metrics,
        })
    }

    /// One pass: describe both sides, create what the target lacks.
    pub(crate) async fn sync(&self) -> Result<SyncOutcome, WireError> {
        let filter = AclBindingFilter::resources(ResourceType::Topic, PatternType::Literal);
        let source = match self.source.describe_acls(&filter).await {
            Err(error) if error.code() == Some(KafkaCode::SECURITY_DISABLED) => {
                return Ok(SyncOutcome::SecurityDisabled);
            }
            other => other?,
        };
        let wanted: BTreeSet<AclBinding> = source
            .iter()
            .filter_map(|binding| target_binding(&self.flow, binding))
            .collect();
        if wanted.is_empty() {
            return Ok(SyncOutcome::Created(0));
        }
        let existing: BTreeSet<AclBinding> = match self.target.describe_acls(&filter).await {
            Err(error) if error.code() == Some(KafkaCode::SECURITY_DISABLED) => {
                return Ok(SyncOutcome::SecurityDisabled);
            }
            other => other?.into_iter().collect(),
        };
        let missing: Vec<AclBinding> = wanted.difference(&existing).cloned().collect();
        if missing.is_empty() {
            return Ok(SyncOutcome::Created(0));
        }
        let results = self.target.create_acls(&missing).await?;
        let mut created = 0;
        let mut first_error = None;
        for (binding, result) in missing.iter().zip(results) {
            match result {
                Ok(()) => {
                    created += 1;
                    tracing::debug!(flow = %self.flow.name(), %binding, "created topic acl on the target");
                }
                Err(error) if error.code() == Some(KafkaCode::SECURITY_DISABLED) => {
                    return Ok(SyncOutcome::SecurityDisabled);
                }
                Err(error) => {
                    tracing::warn!(flow = %self.flow.name(), %binding, %error, "could not create topic acl on the target");
                    first_error.get_or_insert(error);
                }
            }
        }
        if created > 0 {
            self.metrics
                .acls_created
                .get_or_create(&vec![("flow", self.flow.name())])
                .inc_by(u64::try_from(created).unwrap_or(u64::MAX));
        }
        match first_error {
            Some(error) if created == 0 => Err(error),
            _ => Ok(SyncOutcome::Created(created)),
        }
    }

    /// Syncs every interval until `shutdown`. Never returns early: the runner treats a
    /// finished task as the end of the mirror.
    pub(crate) async fn run(self, interval: Duration, shutdown: Shutdown) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut enabled = true;
        loop {
            tokio::select! {
                () = shutdown.wait() => return,
                _ = tick.tick(), if enabled => {}
            }
            // Raced against shutdown so that a slow cluster never delays the drain; the
            // native client is cancel-safe.
            let outcome = tokio::select! {
                () = shutdown.wait() => return,
                outcome = self.sync() => outcome,
            };
            match outcome {
                Ok(SyncOutcome::Created(0)) => {}
                Ok(SyncOutcome::Created(count)) => {
                    tracing::info!(flow = %self.flow.name(), created = count, "synced topic acls to the target");
                }
                Ok(SyncOutcome::SecurityDisabled) => {
                    tracing::warn!(
                        flow = %self.flow.name(),
                        "topic acl sync is off: a cluster has no authorizer (SECURITY_DISABLED); set sync.topic.acls.enabled=false to silence this"
                    );
                    enabled = false;
                }
                Err(error) => {
                    tracing::warn!(flow = %self.flow.name(), %error, "topic acl sync failed, retrying at the next interval");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(extra: &str) -> Flow {
        let text = format!(
            "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
             A->B.enabled = true\nA->B.topics = orders.*, heartbeats\n{extra}\n"
        );
        let mirror = crate::parse_properties(&text).expect("valid");
        mirror.flows[0].clone()
    }

    fn binding(
        name: &str,
        pattern_type: PatternType,
        permission: AclPermission,
        operation: AclOperation,
    ) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.to_owned(),
            pattern_type,
            principal: "User:alice".to_owned(),
            host: "10.0.0.1".to_owned(),
            operation,
            permission,
        }
    }

    #[test]
    fn allow_read_is_copied_under_the_remote_name() {
        let source = binding(
            "orders",
            PatternType::Literal,
            AclPermission::Allow,
            AclOperation::Read,
        );
        let target = target_binding(&flow(""), &source).expect("copied");
        assert_eq!(target.resource_name, "A.orders");
        assert_eq!(target.operation, AclOperation::Read);
        assert_eq!(
            (target.principal.as_str(), target.host.as_str()),
            ("User:alice", "10.0.0.1")
        );
        let identity = flow(
            "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        );
        assert_eq!(
            target_binding(&identity, &source)
                .map(|b| b.resource_name)
                .as_deref(),
            Some("orders")
        );
    }

    #[test]
    fn allow_write_is_dropped_and_allow_all_becomes_read() {
        let flow = flow("");
        let write = binding(
            "orders",
            PatternType::Literal,
            AclPermission::Allow,
            AclOperation::Write,
        );
        assert_eq!(target_binding(&flow, &write), None);
        let all = binding(
            "orders",
            PatternType::Literal,
            AclPermission::Allow,
            AclOperation::All,
        );
        assert_eq!(
            target_binding(&flow, &all).map(|b| b.operation),
            Some(AclOperation::Read)
        );
        let describe = binding(
            "orders",
            PatternType::Literal,
            AclPermission::Allow,
            AclOperation::Describe,
        );
        assert_eq!(
            target_binding(&flow, &describe).map(|b| b.operation),
            Some(AclOperation::Describe)
        );
    }

    #[test]
    fn deny_is_copied_as_is_even_write_and_all() {
        let flow = flow("");
        for operation in [AclOperation::Read, AclOperation::Write, AclOperation::All] {
            let deny = binding(
                "orders",
                PatternType::Literal,
                AclPermission::Deny,
                operation,
            );
            let target = target_binding(&flow, &deny).expect("deny copied");
            assert_eq!(
                (target.permission, target.operation),
                (AclPermission::Deny, operation)
            );
        }
    }

    #[test]
    fn prefixed_wildcard_unreplicated_and_non_topic_bindings_are_not_copied() {
        let flow = flow("");
        let read = |name: &str, pattern_type| {
            binding(name, pattern_type, AclPermission::Allow, AclOperation::Read)
        };
        assert_eq!(
            target_binding(&flow, &read("orders", PatternType::Prefixed)),
            None
        );
        assert_eq!(
            target_binding(&flow, &read("*", PatternType::Literal)),
            None
        );
        assert_eq!(
            target_binding(&flow, &read("payments", PatternType::Literal)),
            None,
            "not in topics"
        );
        assert_eq!(
            target_binding(&flow, &read("B.orders", PatternType::Literal)),
            None,
            "a cycle"
        );
        assert_eq!(
            target_binding(&flow, &read("orders.internal", PatternType::Literal)),
            None,
            "internal"
        );
        let group = AclBinding {
            resource_type: ResourceType::Group,
            ..read("orders", PatternType::Literal)
        };
        assert_eq!(target_binding(&flow, &group), None);
    }
}
