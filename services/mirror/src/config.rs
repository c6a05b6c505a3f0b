//! Mirror configuration in three stages: an `mm2.properties` file (or the same keys inline
//! in `gateway.toml`) → [`properties::parse`] → the pure [`validate`] → a
//! [`ValidatedMirror`] that [`crate::run`] accepts.

pub mod client;
pub mod instance;
pub mod properties;
pub mod validated;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use broker_core::ConfigError;
use serde::Deserialize;

pub use instance::InstanceId;
pub use properties::Property;
pub use validated::{
    ClusterSettings, ConfigWarning, Delivery, Flow, NameFilter, OffsetSyncs, OffsetSyncsLocation,
    ValidatedMirror, validate,
};

use crate::error::MirrorError;

/// `[mirror]` in `gateway.toml`.
///
/// ```toml
/// [mirror]
/// enabled = true
/// instance_id = "dc1-mirror-0"                     # optional; default: the host name
/// properties_file = "/etc/kafka/mm2.properties"   # an existing MM2 file, or:
/// [mirror.properties]                              # the same keys inline
/// clusters = "A, B"
/// "A.bootstrap.servers" = "a:9092"
/// "B.bootstrap.servers" = "b:9092"
/// "A->B.enabled" = "true"
/// ```
/// When both are given, inline properties override the file's.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    #[serde(default)]
    pub enabled: bool,
    /// An existing MirrorMaker 2 dedicated-mode `mm2.properties` file.
    pub properties_file: Option<PathBuf>,
    /// MM2 keys written inline; same names and meaning as in the file.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// This process's stable identity for static group membership (see
    /// [`InstanceId`]); the host name when unset.
    pub instance_id: Option<String>,
}

impl MirrorConfig {
    /// Checks what can be checked without reading the file.
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        if let Some(id) = &self.instance_id {
            InstanceId::parse(&format!("{prefix}.instance_id"), id)?;
        }
        if self.enabled && self.properties_file.is_none() && self.properties.is_empty() {
            return Err(ConfigError::new(
                format!("{prefix}.properties_file"),
                "is required when the mirror is enabled (or set [mirror.properties])",
            ));
        }
        if self.properties_file.is_none() && !self.properties.is_empty() {
            validate(&resolve_references(inline(&self.properties))?).map_err(|mut e| {
                e.key = format!("{prefix}.properties.\"{}\"", e.key);
                e
            })?;
        }
        Ok(())
    }

    /// Reads the file (if any), merges the inline keys and validates the result.
    pub fn load(&self) -> Result<ValidatedMirror, MirrorError> {
        let mut map = match &self.properties_file {
            Some(path) => read_properties(path)?,
            None => BTreeMap::new(),
        };
        map.extend(inline(&self.properties));
        let mut mirror = validate(&resolve_references(map)?)?;
        if let Some(id) = &self.instance_id {
            mirror.instance_id = Some(InstanceId::parse("mirror.instance_id", id)?);
        }
        Ok(mirror)
    }
}

fn inline(properties: &BTreeMap<String, String>) -> BTreeMap<String, Property> {
    properties
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Property {
                    value: v.clone(),
                    line: 0,
                },
            )
        })
        .collect()
}

fn read_properties(path: &Path) -> Result<BTreeMap<String, Property>, MirrorError> {
    let text = std::fs::read_to_string(path).map_err(|source| MirrorError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(properties::parse(&text)?)
}

/// Reads and validates an `mm2.properties` file. Warnings (unknown or ignored keys) are in
/// [`ValidatedMirror::warnings`]; [`crate::run`] logs them.
pub fn load_properties(path: impl AsRef<Path>) -> Result<ValidatedMirror, MirrorError> {
    Ok(validate(&resolve_references(read_properties(
        path.as_ref(),
    )?)?)?)
}

/// Validates the text of an `mm2.properties` file.
pub fn parse_properties(text: &str) -> Result<ValidatedMirror, ConfigError> {
    validate(&resolve_references(properties::parse(text)?)?)
}

/// Replaces `${env:...}`, `${file:...}` and `${directory:...}` references in every value
/// (Kafka's config providers), and drops the `config.providers*` keys that declare them: the
/// built-in providers need no declaration here. A reference that does not resolve is an
/// error naming the key.
fn resolve_references(
    map: BTreeMap<String, Property>,
) -> Result<BTreeMap<String, Property>, ConfigError> {
    map.into_iter()
        .filter(|(key, _)| !broker_core::secrets::is_provider_declaration(key))
        .map(|(key, property)| {
            let value = broker_core::secrets::resolve(&key, &property.value)?;
            Ok((
                key,
                Property {
                    value,
                    line: property.line,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::policy::ReplicationPolicy;

    const MINIMAL: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\n\
                           B.bootstrap.servers = b:9092\nA->B.enabled = true\n";

    fn with(extra: &str) -> Result<ValidatedMirror, ConfigError> {
        parse_properties(&format!("{MINIMAL}{extra}\n"))
    }

    fn rejected(extra: &str) -> ConfigError {
        with(extra).expect_err("must be rejected")
    }

    #[test]
    fn mm2_connect_storage_keys_are_one_warning_not_unknown_keys() {
        let mirror = with(
            "config.storage.replication.factor = 1\noffset.storage.replication.factor = 1\n\
             status.storage.replication.factor = 1",
        )
        .unwrap();
        assert_eq!(mirror.warnings.len(), 1, "{:?}", mirror.warnings);
        let warning = &mirror.warnings[0];
        assert!(
            warning.message.starts_with("accepted without effect")
                && warning
                    .message
                    .contains("offset.storage.replication.factor")
                && !warning.message.contains("unknown"),
            "{warning:?}"
        );
    }

    #[test]
    fn secret_references_are_resolved_and_provider_declarations_accepted() {
        let mirror = with(
            "config.providers = file,env\n\
             config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
             A.sasl.password = ${env:PATH}",
        )
        .unwrap();
        assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
        let error = rejected("A.sasl.password = ${env:MIRROR_TEST_VARIABLE_THAT_IS_UNSET}");
        assert_eq!(error.key, "A.sasl.password");
        assert!(error.reason.contains("is not set"), "{error}");
    }

    #[test]
    fn minimal_file_gets_mm2_defaults() {
        let mirror = with("").unwrap();
        assert_eq!(mirror.flows.len(), 1);
        let flow = &mirror.flows[0];
        assert_eq!(flow.name(), "A->B");
        assert_eq!(flow.replication_factor, 2);
        assert_eq!(flow.tasks, 1);
        // #21: a crash re-copies at most about one commit interval; it must stay ≤ 1 s.
        assert!(flow.commit_interval <= Duration::from_secs(1));
        assert_eq!(flow.delivery, Delivery::AtLeastOnce);
        assert_eq!(flow.heartbeats, Some(Duration::from_secs(1)));
        assert_eq!(flow.checkpoints, Some(Duration::from_secs(60)));
        assert_eq!(flow.sync_group_offsets, None);
        assert_eq!(flow.refresh_topics, Some(Duration::from_secs(30)));
        assert_eq!(flow.refresh_groups, Some(Duration::from_secs(600)));
        assert_eq!(flow.offset_syncs.as_ref().map(|s| s.lag_max), Some(100));
        assert!(matches!(flow.policy, ReplicationPolicy::Default(_)));
        assert!(flow.replicates_topic("orders"));
        assert!(!flow.replicates_topic("__consumer_offsets"));
        assert!(!flow.replicates_topic("mm2-offsets.A.internal"));
        assert!(!flow.replicates_topic("B.orders"), "no loop back to B");
        assert!(flow.groups.matches("app"));
        assert!(!flow.groups.matches("console-consumer-1"));
        assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
    }

    #[test]
    fn flow_keys_override_top_level_keys() {
        let mirror = with(
            "topics = x.*\nA->B.topics = orders, pay.*\nreplication.factor = 1\n\
             A->B.tasks.max = 4\nrefresh.topics.interval.seconds = 2\n\
             A->B.exactly.once.support = enabled\nreplication.policy.separator = _",
        )
        .unwrap();
        let flow = &mirror.flows[0];
        assert!(flow.topics.matches("orders"));
        assert!(flow.topics.matches("payments"));
        assert!(!flow.topics.matches("x1"));
        assert!(!flow.topics.matches("orders2"), "full match like Java");
        assert_eq!(flow.replication_factor, 1);
        assert_eq!(flow.tasks, 4);
        assert_eq!(flow.refresh_topics, Some(Duration::from_secs(2)));
        assert_eq!(flow.delivery, Delivery::ExactlyOnce);
        assert_eq!(flow.policy.remote_topic("A", "orders"), "A_orders");
        assert_eq!(flow.replication_group(), "__kafka-gateway-mirror.A-B");
    }

    #[test]
    fn replication_group_is_configurable_per_flow() {
        let mirror = with("A->B.replication.group.id = dr-east").unwrap();
        assert_eq!(mirror.flows[0].replication_group(), "dr-east");
        assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
        assert_eq!(
            with("replication.group.id = ").unwrap_err().key,
            "replication.group.id"
        );
    }

    #[test]
    fn client_overrides_are_translated_per_cluster() {
        let mirror = with(
            "A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-512\n\
             A.sasl.jaas.config = x required username=\"u\" password=\"p\";\n\
             A.consumer.fetch.max.wait.ms = 50\nB.producer.linger.ms = 20\n\
             B.producer.key.serializer = x",
        )
        .unwrap();
        let a = mirror.cluster("A");
        assert_eq!(a.cluster.properties()["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(a.cluster.properties()["sasl.username"], "u");
        assert_eq!(a.consumer["fetch.wait.max.ms"], "50");
        assert_eq!(mirror.cluster("B").producer["linger.ms"], "20");
        assert_eq!(mirror.warnings.len(), 1, "{:?}", mirror.warnings);
        assert_eq!(mirror.warnings[0].key, "B.producer.key.serializer");
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let mirror = with("refresh.topic.interval.seconds = 5\nA.consumer.no.such = 1").unwrap();
        let keys: Vec<_> = mirror.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            ["A.consumer.no.such", "refresh.topic.interval.seconds"]
        );
        assert_eq!(mirror.warnings[1].line, Some(5));
        assert!(mirror.warnings[1].to_string().contains("unknown key"));
    }

    #[test]
    fn accepted_mm2_keys_without_effect_are_reported_as_such() {
        let mirror = with("listeners = http://:8080").unwrap();
        assert!(mirror.warnings[0].message.contains("without effect"));
    }

    #[test]
    fn refresh_groups_interval_is_read_per_flow() {
        let mirror = with("A->B.refresh.groups.interval.seconds = 30").unwrap();
        assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
        assert_eq!(
            mirror.flows[0].refresh_groups,
            Some(Duration::from_secs(30))
        );
        let mirror = with("refresh.groups.enabled = false").unwrap();
        assert_eq!(mirror.flows[0].refresh_groups, None);
        assert_eq!(
            with("refresh.groups.interval.seconds = 0").unwrap_err().key,
            "refresh.groups.interval.seconds"
        );
    }

    #[test]
    fn topic_acl_sync_is_on_by_default_and_configurable() {
        let mirror = with("").unwrap();
        assert_eq!(
            mirror.flows[0].sync_topic_acls,
            Some(std::time::Duration::from_secs(600))
        );
        let mirror = with("A->B.sync.topic.acls.interval.seconds = 5").unwrap();
        assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
        assert_eq!(
            mirror.flows[0].sync_topic_acls,
            Some(std::time::Duration::from_secs(5))
        );
        let mirror = with("sync.topic.acls.enabled = false").unwrap();
        assert!(mirror.warnings.is_empty(), "{:?}", mirror.warnings);
        assert_eq!(mirror.flows[0].sync_topic_acls, None);
    }

    #[test]
    fn validate_rejects_bad_acl_sync_values() {
        let error = with("sync.topic.acls.enabled = maybe").unwrap_err();
        assert_eq!(error.key, "sync.topic.acls.enabled");
        let error = with("sync.topic.acls.interval.seconds = 0").unwrap_err();
        assert_eq!(error.key, "sync.topic.acls.interval.seconds");
    }

    #[test]
    fn identity_policy_is_read() {
        let mirror = with(
            "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        )
        .unwrap();
        assert_eq!(mirror.flows[0].policy.remote_topic("A", "orders"), "orders");
    }

    #[test]
    fn toml_section_accepts_inline_properties() {
        let config: MirrorConfig = toml::from_str(
            "enabled = true\n[properties]\nclusters = \"A,B\"\n\"A.bootstrap.servers\" = \"a:1\"\n\
             \"B.bootstrap.servers\" = \"b:1\"\n\"A->B.enabled\" = \"true\"",
        )
        .unwrap();
        config.validate("mirror").unwrap();
        assert_eq!(config.load().unwrap().flows[0].name(), "A->B");
    }

    #[test]
    fn validate_rejects_unknown_toml_field() {
        let error = toml::from_str::<MirrorConfig>("propertiesfile = \"x\"").unwrap_err();
        assert!(error.to_string().contains("propertiesfile"), "{error}");
    }

    #[test]
    fn validate_rejects_enabled_without_properties() {
        let config: MirrorConfig = toml::from_str("enabled = true").unwrap();
        assert_eq!(
            config.validate("mirror").unwrap_err().key,
            "mirror.properties_file"
        );
    }

    #[test]
    fn validate_rejects_missing_clusters() {
        let error = parse_properties("A.bootstrap.servers = a:1").unwrap_err();
        assert_eq!(error.key, "clusters");
    }

    #[test]
    fn validate_rejects_duplicate_alias() {
        assert_eq!(
            parse_properties("clusters = A, A").unwrap_err().key,
            "clusters"
        );
    }

    #[test]
    fn validate_rejects_invalid_alias() {
        assert_eq!(
            parse_properties("clusters = A.B, C").unwrap_err().key,
            "clusters"
        );
    }

    #[test]
    fn validate_rejects_missing_bootstrap() {
        let error =
            parse_properties("clusters = A, B\nA.bootstrap.servers = a:1\nA->B.enabled=true")
                .unwrap_err();
        assert_eq!(error.key, "B.bootstrap.servers");
    }

    #[test]
    fn validate_rejects_bad_bootstrap() {
        let error = parse_properties(
            "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b:1\nA->B.enabled=true",
        )
        .unwrap_err();
        assert_eq!(error.key, "A.bootstrap.servers");
    }

    #[test]
    fn validate_rejects_flow_with_unknown_cluster() {
        assert_eq!(rejected("A->C.enabled = true").key, "A->C.enabled");
    }

    #[test]
    fn validate_rejects_flow_onto_itself() {
        assert_eq!(rejected("A->A.enabled = true").key, "A->A.enabled");
    }

    #[test]
    fn validate_rejects_no_enabled_flow() {
        assert_eq!(rejected("A->B.enabled = false").key, "enabled");
    }

    #[test]
    fn validate_rejects_bad_boolean() {
        assert_eq!(
            rejected("sync.group.offsets.enabled = yes").key,
            "sync.group.offsets.enabled"
        );
    }

    #[test]
    fn validate_rejects_bad_integer() {
        let error = rejected("A->B.refresh.topics.interval.seconds = soon");
        assert_eq!(error.key, "A->B.refresh.topics.interval.seconds");
    }

    #[test]
    fn validate_rejects_zero_interval() {
        assert_eq!(
            rejected("emit.checkpoints.interval.seconds = 0").key,
            "emit.checkpoints.interval.seconds"
        );
    }

    #[test]
    fn validate_rejects_zero_tasks() {
        assert_eq!(rejected("tasks.max = 0").key, "tasks.max");
    }

    #[test]
    fn validate_rejects_zero_replication_factor() {
        assert_eq!(rejected("replication.factor = 0").key, "replication.factor");
    }

    #[test]
    fn validate_rejects_bad_topic_regex() {
        assert_eq!(rejected("topics = orders, (unclosed").key, "topics");
    }

    #[test]
    fn validate_rejects_unknown_policy() {
        assert_eq!(
            rejected("replication.policy.class = com.example.Mine").key,
            "replication.policy.class"
        );
    }

    #[test]
    fn validate_rejects_empty_separator() {
        assert_eq!(
            rejected("replication.policy.separator =").key,
            "replication.policy.separator"
        );
    }

    #[test]
    fn validate_rejects_bad_offset_syncs_location() {
        assert_eq!(
            rejected("offset-syncs.topic.location = both").key,
            "offset-syncs.topic.location"
        );
    }

    #[test]
    fn validate_rejects_bad_exactly_once_value() {
        assert_eq!(
            rejected("exactly.once.support = maybe").key,
            "exactly.once.support"
        );
    }

    #[test]
    fn validate_rejects_custom_filter_class() {
        assert_eq!(
            rejected("topic.filter.class = com.example.Filter").key,
            "topic.filter.class"
        );
    }
}
