//! Remote-topic naming, exactly as MirrorMaker 2's replication policies name topics, so that
//! a cluster mirrored by MM2 and by this gateway looks the same to consumers and tools.
//!
//! - `DefaultReplicationPolicy`: `orders` from cluster `A` becomes `A.orders` (separator
//!   configurable). The alias chain in a name is how loops are prevented: a topic whose
//!   chain contains the target alias came from the target and is never copied back.
//! - `IdentityReplicationPolicy`: names are kept (heartbeats still get a prefix). As in MM2
//!   it cannot detect loops: never run it in both directions.

/// Topic name of heartbeats on every cluster (MM2's `heartbeatsTopic()`).
pub const HEARTBEATS_TOPIC: &str = "heartbeats";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    Default(Separators),
    Identity(Separators),
}

/// The separator of remote names and the one used inside internal topic names (`.` when
/// `replication.policy.internal.topic.separator.enabled=false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Separators {
    pub separator: String,
    pub internal: String,
}

impl Default for Separators {
    fn default() -> Self {
        Self {
            separator: ".".to_owned(),
            internal: ".".to_owned(),
        }
    }
}

impl ReplicationPolicy {
    fn separators(&self) -> &Separators {
        match self {
            Self::Default(s) | Self::Identity(s) => s,
        }
    }

    pub fn separator(&self) -> &str {
        &self.separators().separator
    }

    /// The name `topic` of cluster `source` gets on the target.
    pub fn remote_topic(&self, source: &str, topic: &str) -> String {
        match self {
            Self::Identity(_) if !self.looks_like_heartbeats(topic) => topic.to_owned(),
            _ => format!("{source}{}{topic}", self.separator()),
        }
    }

    /// The alias a remote topic name says it came from (`A` for `A.orders`).
    pub fn topic_source<'a>(&self, topic: &'a str) -> Option<&'a str> {
        if matches!(self, Self::Identity(_)) && !self.looks_like_heartbeats(topic) {
            return None;
        }
        let (source, rest) = topic.split_once(self.separator())?;
        (!source.is_empty() && !rest.is_empty()).then_some(source)
    }

    /// `orders` for `A.orders`; `None` for a name without an alias prefix.
    pub fn upstream_topic<'a>(&self, topic: &'a str) -> Option<&'a str> {
        let source = self.topic_source(topic)?;
        Some(&topic[source.len() + self.separator().len()..])
    }

    /// The name at the origin of a chain of mirrors (`orders` for `B.A.orders`).
    pub fn original_topic<'a>(&self, topic: &'a str) -> &'a str {
        let mut current = topic;
        while let Some(upstream) = self.upstream_topic(current) {
            if upstream == current {
                break;
            }
            current = upstream;
        }
        current
    }

    fn looks_like_heartbeats(&self, topic: &str) -> bool {
        topic == HEARTBEATS_TOPIC
            || topic.ends_with(&format!("{}{HEARTBEATS_TOPIC}", self.separator()))
    }

    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS_TOPIC
    }

    fn internal_suffix(&self) -> String {
        format!("{}internal", self.separators().internal)
    }

    /// `mm2-offset-syncs.<alias>.internal`.
    pub fn offset_syncs_topic(&self, alias: &str) -> String {
        let separator = &self.separators().internal;
        format!(
            "mm2-offset-syncs{separator}{alias}{}",
            self.internal_suffix()
        )
    }

    /// `<alias>.checkpoints.internal`, on the target cluster.
    pub fn checkpoints_topic(&self, alias: &str) -> String {
        let separator = &self.separators().internal;
        format!("{alias}{separator}checkpoints{}", self.internal_suffix())
    }

    /// The gateway's dense offset map of flow `source` → this cluster, on the target. It
    /// ends in `.internal`, so no mirror ever replicates it.
    pub fn offset_map_topic(&self, alias: &str) -> String {
        let separator = &self.separators().internal;
        format!("mm2-offset-map{separator}{alias}{}", self.internal_suffix())
    }

    /// The source log ends the running mirror last saw (ours, on the target), for a
    /// failover's RPO while the source is unreachable. Internal, so never replicated.
    pub fn source_ends_topic(&self, alias: &str) -> String {
        let separator = &self.separators().internal;
        format!(
            "mm2-source-ends{separator}{alias}{}",
            self.internal_suffix()
        )
    }

    /// The task topic of flow `source` → this cluster (ours, on the target): one partition
    /// per exactly-once task, through which the flow's processes share the tasks
    /// (`replicate::leases`). Internal, so never replicated.
    pub fn tasks_topic(&self, alias: &str) -> String {
        let separator = &self.separators().internal;
        format!("mm2-tasks{separator}{alias}{}", self.internal_suffix())
    }

    /// Kafka's own topics and every mirror's internal topics are never replicated.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with(".internal")
            || topic.ends_with("-internal")
            || topic.ends_with(&self.internal_suffix())
    }

    /// Whether copying `topic` to `target` would send it back where it came from
    /// (MM2's `MirrorSourceConnector.isCycle`).
    pub fn is_cycle(&self, topic: &str, target: &str) -> bool {
        let mut current = topic;
        loop {
            match self.topic_source(current) {
                None => return false,
                Some(source) if source == target => return true,
                Some(_) => match self.upstream_topic(current) {
                    Some(upstream) if upstream != current => current = upstream,
                    _ => return false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> ReplicationPolicy {
        ReplicationPolicy::Default(Separators::default())
    }

    #[test]
    fn default_policy_prefixes_with_the_source_alias() {
        let policy = default_policy();
        assert_eq!(policy.remote_topic("A", "orders"), "A.orders");
        assert_eq!(policy.topic_source("A.orders"), Some("A"));
        assert_eq!(policy.upstream_topic("B.A.orders"), Some("A.orders"));
        assert_eq!(policy.original_topic("B.A.orders"), "orders");
        assert_eq!(policy.topic_source("orders"), None);
    }

    #[test]
    fn custom_separator_is_used_everywhere() {
        let policy = ReplicationPolicy::Default(Separators {
            separator: "_".to_owned(),
            internal: "_".to_owned(),
        });
        assert_eq!(policy.remote_topic("A", "orders"), "A_orders");
        assert_eq!(policy.checkpoints_topic("A"), "A_checkpoints_internal");
        assert_eq!(
            policy.offset_syncs_topic("B"),
            "mm2-offset-syncs_B_internal"
        );
        assert!(policy.is_cycle("B_orders", "B"));
    }

    #[test]
    fn internal_topic_names_match_mm2() {
        let policy = default_policy();
        assert_eq!(policy.checkpoints_topic("A"), "A.checkpoints.internal");
        assert_eq!(
            policy.offset_syncs_topic("B"),
            "mm2-offset-syncs.B.internal"
        );
        assert!(policy.is_internal_topic("__consumer_offsets"));
        assert!(policy.is_internal_topic("mm2-offsets.A.internal"));
        assert!(policy.is_internal_topic("A.checkpoints.internal"));
        assert!(!policy.is_internal_topic("orders"));
    }

    #[test]
    fn no_loop_back_to_the_origin() {
        let policy = default_policy();
        assert!(policy.is_cycle("B.orders", "B"));
        assert!(policy.is_cycle("A.B.orders", "B"));
        assert!(!policy.is_cycle("C.orders", "B"));
        assert!(!policy.is_cycle("orders", "B"));
    }

    #[test]
    fn identity_policy_keeps_names_except_heartbeats() {
        let policy = ReplicationPolicy::Identity(Separators::default());
        assert_eq!(policy.remote_topic("A", "orders"), "orders");
        assert_eq!(policy.remote_topic("A", "heartbeats"), "A.heartbeats");
        assert!(policy.is_heartbeats_topic("A.heartbeats"));
        assert!(!policy.is_cycle("orders", "B"));
    }
}
