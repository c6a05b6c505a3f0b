//! `mm2.properties` keys → a typed, validated mirror configuration. Pure: no I/O.
//!
//! Resolution follows MirrorMaker 2 dedicated mode: a flow setting is read from
//! `{source}->{target}.key`, then from the top-level `key`, then MM2's default. Cluster
//! settings come from `{alias}.key` (client properties for every client of that cluster)
//! and `{alias}.consumer.*` / `{alias}.producer.*` / `{alias}.admin.*`. Every key that is
//! not consumed is reported in [`ValidatedMirror::warnings`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use broker_core::{ClusterConfig, ConfigError, ValidatedCluster};
use regex::Regex;

use super::client::{Translation, translate};
use super::instance::InstanceId;
use super::properties::Property;
use crate::policy::ReplicationPolicy;

mod flow;

use flow::flow;

/// MM2's `topics.exclude` default.
pub const DEFAULT_TOPICS_EXCLUDE: &str = r".*[\-\.]internal, .*\.replica, __.*";
/// MM2's `groups.exclude` default.
pub const DEFAULT_GROUPS_EXCLUDE: &str = "console-consumer-.*, connect-.*, __.*";
/// MM2's `config.properties.exclude` default.
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &str = "follower\\.replication\\.throttled\\.replicas, \
     leader\\.replication\\.throttled\\.replicas, message\\.timestamp\\.difference\\.max\\.ms, \
     message\\.timestamp\\.type, unclean\\.leader\\.election\\.enable, min\\.insync\\.replicas";

/// Topics discovery interval when `refresh.topics.interval.seconds` is not set. MM2 waits
/// 600 s; the issue asks for 30 s, the cost is one metadata request.
pub const DEFAULT_REFRESH_TOPICS_SECONDS: u64 = 30;

/// `refresh.groups.interval.seconds` when not set: MM2's default (10 minutes).
pub const DEFAULT_REFRESH_GROUPS_SECONDS: u64 = 600;

/// How the clients of one cluster are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    pub alias: String,
    /// Bootstrap and the properties every client of this cluster gets.
    pub cluster: ValidatedCluster,
    pub consumer: BTreeMap<String, String>,
    pub producer: BTreeMap<String, String>,
    pub admin: BTreeMap<String, String>,
}

/// A list of full-match regexes (`topics`, `groups`, ...), as MM2's default filters read them.
#[derive(Debug, Clone)]
pub struct NameFilter {
    include: Regex,
    exclude: Option<Regex>,
}

impl NameFilter {
    pub fn matches(&self, name: &str) -> bool {
        self.include.is_match(name) && !self.exclude.as_ref().is_some_and(|e| e.is_match(name))
    }
}

impl PartialEq for NameFilter {
    fn eq(&self, other: &Self) -> bool {
        self.include.as_str() == other.include.as_str()
            && self.exclude.as_ref().map(Regex::as_str) == other.exclude.as_ref().map(Regex::as_str)
    }
}

/// Where the MM2-format offset-syncs topic lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsLocation {
    Source,
    Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSyncs {
    pub location: OffsetSyncsLocation,
    pub replication_factor: i32,
    /// `offset.lag.max`: most records between two syncs of one partition.
    pub lag_max: i64,
}

/// Delivery guarantee of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A source offset is committed (on the source) only after the target acknowledged
    /// every record before it. Restarts may copy records twice, never lose one.
    AtLeastOnce,
    /// Records, the dense offset map and therefore the source positions are written in
    /// one target transaction. One active process per flow (transactional ids fence).
    ExactlyOnce,
}

/// One `source->target` replication flow with every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub source: String,
    pub target: String,
    pub topics: NameFilter,
    pub groups: NameFilter,
    pub policy: ReplicationPolicy,
    /// Replication factor of created remote topics (`-1`: the broker default).
    pub replication_factor: i32,
    /// `Some(interval)` when `sync.topic.configs.enabled`.
    pub sync_topic_configs: Option<Duration>,
    pub config_properties_exclude: NameFilter,
    /// `Some(interval)` when `sync.topic.acls.enabled`: literal topic ACLs are copied.
    pub sync_topic_acls: Option<Duration>,
    /// `Some(interval)` when `refresh.topics.enabled`.
    pub refresh_topics: Option<Duration>,
    /// `Some(interval)` when `refresh.groups.enabled`: how often the offset passes rebuild
    /// their group list (and forget deleted groups); `None` keeps the first list, as MM2
    /// does. Groups created between refreshes are still found by every pass's ListGroups.
    pub refresh_groups: Option<Duration>,
    pub heartbeats: Option<Duration>,
    pub heartbeats_replication_factor: i32,
    pub heartbeats_replication: bool,
    pub checkpoints: Option<Duration>,
    pub checkpoints_replication_factor: i32,
    pub sync_group_offsets: Option<Duration>,
    pub offset_syncs: Option<OffsetSyncs>,
    pub tasks: usize,
    pub delivery: Delivery,
    /// How often acknowledged positions are committed (`offset.flush.interval.ms`).
    pub commit_interval: Duration,
    pub poll_timeout: Duration,
    pub admin_timeout: Duration,
    /// `replication.group.id` (ours): the source consumer group that processes running the
    /// same flow share partitions through, and the prefix of its transactional ids. Two
    /// independent deployments with the same cluster aliases need different ones, or they
    /// would split each other's partitions and fence each other's transactions.
    pub group_id: String,
}

impl Flow {
    /// `A->B`, as MM2 names flows.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// Whether `topic` of the source is replicated by this flow (MM2's
    /// `shouldReplicateTopic`: filter or heartbeats, never internal, never a cycle).
    pub fn replicates_topic(&self, topic: &str) -> bool {
        let wanted = self.topics.matches(topic)
            || (self.heartbeats_replication && self.policy.is_heartbeats_topic(topic));
        wanted
            && !self.policy.is_internal_topic(topic)
            && !self.policy.is_cycle(topic, &self.target)
    }

    /// The consumer group the flow's own consumers use on the source; never checkpointed.
    pub fn replication_group(&self) -> String {
        self.group_id.clone()
    }
}

/// A non-fatal finding: an unknown or ignored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "`{}` (line {line}): {}", self.key, self.message),
            None => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

/// The whole mirror configuration after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedMirror {
    pub clusters: BTreeMap<String, ClusterSettings>,
    pub flows: Vec<Flow>,
    pub warnings: Vec<ConfigWarning>,
    /// Not an MM2 key: set from `[mirror] instance_id` or `kafka-gateway mirror
    /// --instance-id`; [`InstanceId::from_host`] when `None`.
    pub instance_id: Option<InstanceId>,
}

impl ValidatedMirror {
    /// The identity this process's static group members are derived from.
    pub fn instance_id(&self) -> InstanceId {
        self.instance_id
            .clone()
            .unwrap_or_else(InstanceId::from_host)
    }

    pub fn cluster(&self, alias: &str) -> &ClusterSettings {
        // Validation guarantees every flow alias is a configured cluster.
        self.clusters
            .get(alias)
            .unwrap_or_else(|| unreachable!("flow alias {alias} was validated"))
    }
}

/// MM2 keys that are accepted but have no effect here, with the reason.
const ACCEPTED_WITHOUT_EFFECT: &[(&str, &str)] = &[
    (
        "dedicated.mode.enable.internal.rest",
        "processes share work through a consumer group",
    ),
    ("listeners", "the mirror has no REST endpoint"),
    ("key.converter", "records are copied as bytes"),
    ("value.converter", "records are copied as bytes"),
    ("header.converter", "records are copied as bytes"),
];

/// Settings of the Kafka Connect storage topics that MirrorMaker 2's dedicated mode runs on.
/// `mm2.properties` files written for MM2 carry them; the gateway's mirror keeps no Connect
/// storage (positions live in MM2's own topics and the flow's consumer group), so they are
/// reported together, once, as accepted without effect.
const CONNECT_STORAGE_KEYS: &[&str] = &[
    "config.storage.topic",
    "config.storage.replication.factor",
    "offset.storage.topic",
    "offset.storage.replication.factor",
    "offset.storage.partitions",
    "status.storage.topic",
    "status.storage.replication.factor",
    "status.storage.partitions",
];

const DEFAULT_FILTER_CLASSES: &[(&str, &str)] = &[
    (
        "topic.filter.class",
        "org.apache.kafka.connect.mirror.DefaultTopicFilter",
    ),
    (
        "group.filter.class",
        "org.apache.kafka.connect.mirror.DefaultGroupFilter",
    ),
    (
        "config.property.filter.class",
        "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter",
    ),
];

struct Reader<'a> {
    properties: &'a BTreeMap<String, Property>,
    used: BTreeSet<String>,
}

impl Reader<'_> {
    fn raw(&mut self, key: &str) -> Option<(String, String)> {
        let property = self.properties.get(key)?;
        self.used.insert(key.to_owned());
        Some((key.to_owned(), property.value.trim().to_owned()))
    }

    /// `{flow}.key`, else `key`; returns the key actually found, for error messages.
    fn flow(&mut self, flow: &str, key: &str) -> Option<(String, String)> {
        let scoped = self.raw(&format!("{flow}.{key}"));
        let global = self.raw(key);
        scoped.or(global)
    }

    fn flow_string(&mut self, flow: &str, key: &str, default: &str) -> (String, String) {
        self.flow(flow, key)
            .unwrap_or_else(|| (key.to_owned(), default.to_owned()))
    }

    fn flow_bool(&mut self, flow: &str, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.flow(flow, key) {
            None => Ok(default),
            Some((found, value)) => match value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ConfigError::new(
                    found,
                    format!("`{value}` is not true or false"),
                )),
            },
        }
    }

    fn flow_int(
        &mut self,
        flow: &str,
        key: &str,
        default: i64,
        min: i64,
    ) -> Result<i64, ConfigError> {
        match self.flow(flow, key) {
            None => Ok(default),
            Some((found, value)) => match value.parse::<i64>() {
                Ok(number) if number >= min => Ok(number),
                Ok(_) => Err(ConfigError::new(found, format!("must be at least {min}"))),
                Err(_) => Err(ConfigError::new(
                    found,
                    format!("`{value}` is not an integer"),
                )),
            },
        }
    }

    fn replication_factor(
        &mut self,
        flow: &str,
        key: &str,
        default: i32,
    ) -> Result<i32, ConfigError> {
        let factor = self.flow_int(flow, key, i64::from(default), -1)?;
        if factor == 0 {
            return Err(ConfigError::new(
                key,
                "must be -1 (broker default) or at least 1",
            ));
        }
        i32::try_from(factor).map_err(|_| ConfigError::new(key, "is too large"))
    }

    /// An `X.enabled` + `X.interval.seconds` pair as one optional interval.
    fn periodic(
        &mut self,
        flow: &str,
        enabled_key: &str,
        interval_key: &str,
        enabled_default: bool,
        seconds_default: u64,
    ) -> Result<Option<Duration>, ConfigError> {
        let enabled = self.flow_bool(flow, enabled_key, enabled_default)?;
        let seconds = self.flow_int(
            flow,
            interval_key,
            i64::try_from(seconds_default).unwrap_or(i64::MAX),
            1,
        )?;
        Ok(enabled.then(|| Duration::from_secs(seconds.unsigned_abs())))
    }
}

fn is_valid_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && !alias.contains("->")
}

fn name_filter(
    include: &(String, String),
    exclude: &(String, String),
) -> Result<NameFilter, ConfigError> {
    let compile = |(key, list): &(String, String)| -> Result<Option<Regex>, ConfigError> {
        let items: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Ok(None);
        }
        for item in &items {
            Regex::new(item).map_err(|e| {
                ConfigError::new(
                    key.clone(),
                    format!("`{item}` is not a valid regular expression: {e}"),
                )
            })?;
        }
        let joined = format!("^(?:{})$", items.join("|"));
        Regex::new(&joined)
            .map(Some)
            .map_err(|e| ConfigError::new(key.clone(), e.to_string()))
    };
    let include = compile(include)?.unwrap_or_else(|| {
        Regex::new("^$").unwrap_or_else(|_| unreachable!("constant regex compiles"))
    });
    Ok(NameFilter {
        include,
        exclude: compile(exclude)?,
    })
}

/// Validates a parsed properties map. `source_name` names the file in warnings only.
pub fn validate(properties: &BTreeMap<String, Property>) -> Result<ValidatedMirror, ConfigError> {
    let mut reader = Reader {
        properties,
        used: BTreeSet::new(),
    };
    let (_, clusters_value) = reader.raw("clusters").ok_or_else(|| {
        ConfigError::new(
            "clusters",
            "is required (a comma-separated list of aliases)",
        )
    })?;
    let aliases: Vec<String> = clusters_value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if aliases.is_empty() {
        return Err(ConfigError::new("clusters", "must list at least one alias"));
    }
    let mut seen = BTreeSet::new();
    for alias in &aliases {
        if !is_valid_alias(alias) {
            return Err(ConfigError::new(
                "clusters",
                format!("`{alias}` is not a valid alias (letters, digits, `_` and `-`)"),
            ));
        }
        if !seen.insert(alias.clone()) {
            return Err(ConfigError::new(
                "clusters",
                format!("`{alias}` is listed twice"),
            ));
        }
    }

    let mut warnings = Vec::new();
    let mut clusters = BTreeMap::new();
    for alias in &aliases {
        clusters.insert(
            alias.clone(),
            cluster_settings(&mut reader, alias, &mut warnings)?,
        );
    }

    // Flows: every `X->Y.*` key names a pair; both must be clusters.
    let mut pairs = BTreeSet::new();
    for key in properties.keys() {
        if let Some((pair, _)) = key.split_once('.')
            && let Some((source, target)) = pair.split_once("->")
        {
            if !aliases.iter().any(|a| a == source) || !aliases.iter().any(|a| a == target) {
                return Err(ConfigError::new(
                    key.clone(),
                    format!("flow {pair} names a cluster that is not in `clusters`"),
                ));
            }
            if source == target {
                return Err(ConfigError::new(
                    key.clone(),
                    "a flow cannot mirror a cluster onto itself",
                ));
            }
            pairs.insert((source.to_owned(), target.to_owned()));
        }
    }
    let mut flows = Vec::new();
    for source in &aliases {
        for target in &aliases {
            if source == target {
                continue;
            }
            let name = format!("{source}->{target}");
            let enabled = reader.flow_bool(&name, "enabled", false);
            // The top-level `enabled` is a default for every pair; only pairs that are
            // enabled become flows.
            if enabled? {
                flows.push(flow(&mut reader, source, target)?);
            } else if pairs.contains(&(source.clone(), target.clone())) {
                // Read (and so mark as used) the keys of a disabled flow too.
                let _ = flow(&mut reader, source, target);
            }
        }
    }
    if flows.is_empty() {
        return Err(ConfigError::new(
            "enabled",
            "no flow is enabled: set `<source>-><target>.enabled = true`",
        ));
    }

    let mut connect_storage: Vec<(&String, usize)> = Vec::new();
    for (key, property) in properties {
        if reader.used.contains(key) {
            continue;
        }
        let bare = key
            .split_once('.')
            .filter(|(pair, _)| pair.contains("->"))
            .map_or(key.as_str(), |(_, rest)| rest);
        if CONNECT_STORAGE_KEYS.contains(&bare) {
            connect_storage.push((key, property.line));
            continue;
        }
        let message = match ACCEPTED_WITHOUT_EFFECT.iter().find(|(k, _)| *k == bare) {
            Some((_, reason)) => format!("accepted without effect: {reason}"),
            None => "unknown key, ignored".to_owned(),
        };
        warnings.push(ConfigWarning {
            key: key.clone(),
            line: Some(property.line),
            message,
        });
    }
    if let Some((first, line)) = connect_storage.first() {
        let keys: Vec<&str> = connect_storage.iter().map(|(k, _)| k.as_str()).collect();
        warnings.push(ConfigWarning {
            key: (*first).clone(),
            line: Some(*line),
            message: format!(
                "accepted without effect: MirrorMaker 2's Connect storage settings ({}) are \
                 not needed, the gateway's mirror keeps no Connect storage topics",
                keys.join(", ")
            ),
        });
    }
    Ok(ValidatedMirror {
        clusters,
        flows,
        warnings,
        instance_id: None,
    })
}

fn cluster_settings(
    reader: &mut Reader<'_>,
    alias: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ClusterSettings, ConfigError> {
    let bootstrap_key = format!("{alias}.bootstrap.servers");
    let (_, bootstrap) = reader.raw(&bootstrap_key).ok_or_else(|| {
        ConfigError::new(
            bootstrap_key.clone(),
            "is required for every cluster in `clusters`",
        )
    })?;
    let prefix = format!("{alias}.");
    let scoped: Vec<(String, Property)> = reader
        .properties
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| **k != bootstrap_key)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let truststore_type = |scope: &str| {
        reader
            .properties
            .get(&format!("{prefix}{scope}ssl.truststore.type"))
            .or_else(|| {
                reader
                    .properties
                    .get(&format!("{prefix}ssl.truststore.type"))
            })
            .map(|p| p.value.clone())
    };
    let mut cluster = ClusterConfig::new(bootstrap);
    cluster.client_id = format!("kafka-gateway-mirror-{alias}");
    let mut consumer = BTreeMap::new();
    let mut producer = BTreeMap::new();
    let mut admin = BTreeMap::new();
    let mut client_id = None;
    for (key, property) in scoped {
        let rest = &key[prefix.len()..];
        // Worker-level settings that MM2 reads per target cluster.
        if rest == "exactly.once.source.support" {
            continue; // read by flow()
        }
        let (scope, name, target) = if let Some(name) = rest.strip_prefix("consumer.") {
            ("consumer.", name, &mut consumer)
        } else if let Some(name) = rest.strip_prefix("producer.") {
            ("producer.", name, &mut producer)
        } else if let Some(name) = rest.strip_prefix("admin.") {
            ("admin.", name, &mut admin)
        } else {
            ("", rest, &mut cluster.properties)
        };
        reader.used.insert(key.clone());
        if name == "client.id" && scope.is_empty() {
            client_id = Some(property.value.clone());
            continue;
        }
        match translate(
            name,
            property.value.trim(),
            truststore_type(scope).as_deref(),
        ) {
            Translation::Set(pairs) => {
                for (k, v) in pairs {
                    target.insert(k, v);
                }
            }
            Translation::Ignored(reason) => warnings.push(ConfigWarning {
                key: key.clone(),
                line: Some(property.line),
                message: format!("ignored: {reason}"),
            }),
            Translation::Unknown => {
                reader.used.remove(&key);
            }
        }
    }
    if let Some(client_id) = client_id {
        cluster.client_id = client_id;
    }
    let cluster = cluster.validate(alias).map_err(|mut error| {
        if error.key == format!("{alias}.bootstrap_servers") {
            error.key = bootstrap_key.clone();
        }
        error
    })?;
    Ok(ClusterSettings {
        alias: alias.to_owned(),
        cluster,
        consumer,
        producer,
        admin,
    })
}
