//! Source topic creation (KIP-158): `topic.creation.groups`, `topic.creation.<group>.*`.
//!
//! A source connector "uses topic creation" as soon as one key starts with
//! `topic.creation.` (Kafka's rule). Then the `default` group's `replication.factor` and
//! `partitions` are required, and each topic a task writes to that does not exist yet is
//! created with the settings of the first group (in `topic.creation.groups` order) whose
//! `include` matches it and whose `exclude` does not, else with the `default` group's. The
//! `default` group matches every topic; its `include`/`exclude` are ignored, as in Kafka.
//! Any other `topic.creation.<group>.<name>` is a topic config (`cleanup.policy`,
//! `compression.type`, ...) handed to the broker as is.
//!
//! This module is pure (definitions, validation, parsing); the admin calls are in
//! `worker::topics`.

use std::collections::BTreeMap;

use connect_api::config::split_list;
use connect_api::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Width};
use regex::Regex;

use crate::error::ConfigIssue;

pub const PREFIX: &str = "topic.creation.";
pub const GROUPS_KEY: &str = "topic.creation.groups";
pub const DEFAULT_GROUP: &str = "default";
const INCLUDE: &str = "include";
const EXCLUDE: &str = "exclude";
const REPLICATION_FACTOR: &str = "replication.factor";
const PARTITIONS: &str = "partitions";
const CONFIG_GROUP: &str = "Topic Creation";

/// Kafka's value for "use the broker's default" (replication factor and partitions).
pub const BROKER_DEFAULT: i32 = -1;

/// Whether `config` asks for topic creation (any `topic.creation.*` key).
pub fn uses_topic_creation(config: &ConfigMap) -> bool {
    config.keys().any(|key| key.starts_with(PREFIX))
}

/// The group aliases of `topic.creation.groups`, deduplicated, `default` left out.
fn group_names(config: &ConfigMap) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in split_list(config.get(GROUPS_KEY).map_or("", String::as_str)) {
        if name != DEFAULT_GROUP && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn replication_factor(value: &str) -> Result<(), String> {
    match value.trim().parse::<i32>() {
        Ok(factor) if factor == BROKER_DEFAULT || factor >= 1 => Ok(()),
        _ => Err("Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default".to_owned()),
    }
}

fn partitions(value: &str) -> Result<(), String> {
    match value.trim().parse::<i32>() {
        Ok(count) if count == BROKER_DEFAULT || count >= 1 => Ok(()),
        _ => Err(
            "Number of partitions must be positive, or -1 to use the broker's default".to_owned(),
        ),
    }
}

fn regex_list(value: &str) -> Result<(), String> {
    for pattern in split_list(value) {
        Regex::new(&pattern)
            .map_err(|error| format!("Syntax error in regular expression: {error}"))?;
    }
    Ok(())
}

/// `topic.creation.groups`, always part of a source connector's definition.
pub fn groups_key() -> ConfigKey {
    ConfigKey::new(GROUPS_KEY, ConfigType::List)
        .default_value("")
        .importance(Importance::Low)
        .doc("Groups of configurations for topics created by source connectors")
        .group(CONFIG_GROUP, 1)
        .width(Width::Long)
        .display("Topic Creation Groups")
}

/// The keys of the `default` group and of every listed group, when `config` uses topic
/// creation; nothing otherwise. The listed groups' replication factor and partitions
/// default to the `default` group's values.
pub fn config_def(config: &ConfigMap) -> ConfigDef {
    let mut def = ConfigDef::new().define(groups_key());
    if !uses_topic_creation(config) {
        return def;
    }
    let default_key = |name: &str| format!("{PREFIX}{DEFAULT_GROUP}.{name}");
    let inherited = |name: &str| {
        config
            .get(&default_key(name))
            .map(|v| v.trim().to_owned())
            .filter(|v| v.parse::<i32>().is_ok())
            .unwrap_or_else(|| BROKER_DEFAULT.to_string())
    };
    let mut groups = vec![(DEFAULT_GROUP.to_owned(), None)];
    for name in group_names(config) {
        groups.push((
            name,
            Some((inherited(REPLICATION_FACTOR), inherited(PARTITIONS))),
        ));
    }
    for (name, defaults) in groups {
        let group = format!("{CONFIG_GROUP}: {name}");
        let key = |suffix: &str| format!("{PREFIX}{name}.{suffix}");
        let mut replication = ConfigKey::new(key(REPLICATION_FACTOR), ConfigType::Short)
            .importance(Importance::Low)
            .doc("The replication factor for new topics created by the connector. -1 uses the broker's default.")
            .group(&group, 3)
            .width(Width::Short)
            .display("Replication Factor for Topics in This Group")
            .validator(replication_factor);
        let mut partition_count = ConfigKey::new(key(PARTITIONS), ConfigType::Int)
            .importance(Importance::Low)
            .doc("The number of partitions new topics created by the connector have. -1 uses the broker's default.")
            .group(&group, 4)
            .width(Width::Short)
            .display("Partition Count for Topics in This Group")
            .validator(partitions);
        if let Some((replication_default, partitions_default)) = defaults {
            replication = replication.default_value(replication_default);
            partition_count = partition_count.default_value(partitions_default);
            def = def
                .define(
                    ConfigKey::new(key(INCLUDE), ConfigType::List)
                        .default_value("")
                        .importance(Importance::Low)
                        .doc("A list of regular expression literals used to match the topic names used by the source connector. This list is used to include topics that should be created using the topic settings defined by this group.")
                        .group(&group, 1)
                        .width(Width::Long)
                        .display(format!("Inclusion Topic Pattern for {name}"))
                        .validator(regex_list),
                )
                .define(
                    ConfigKey::new(key(EXCLUDE), ConfigType::List)
                        .default_value("")
                        .importance(Importance::Low)
                        .doc("A list of regular expression literals used to match the topic names used by the source connector. This list is used to exclude topics from being created with the topic settings defined by this group. Note that exclusion rules have precedent and override any inclusion rules for the topics.")
                        .group(&group, 2)
                        .width(Width::Long)
                        .display(format!("Exclusion Topic Pattern for {name}"))
                        .validator(regex_list),
                );
        }
        def = def.define(replication).define(partition_count);
    }
    def
}

/// The settings of one group.
#[derive(Debug, Clone)]
pub struct TopicCreationGroup {
    pub name: String,
    include: Option<Regex>,
    exclude: Option<Regex>,
    pub replication_factor: i32,
    pub partitions: i32,
    /// Topic configs (`cleanup.policy`, ...), passed to the broker as they are.
    pub topic_configs: BTreeMap<String, String>,
}

impl TopicCreationGroup {
    fn matches(&self, topic: &str) -> bool {
        self.include.as_ref().is_some_and(|r| r.is_match(topic))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(topic))
    }
}

/// A connector's topic creation rules.
#[derive(Debug, Clone)]
pub struct TopicCreation {
    groups: Vec<TopicCreationGroup>,
    default: TopicCreationGroup,
}

impl TopicCreation {
    /// `None` when `config` does not use topic creation; the first issue otherwise (the
    /// config passed validation, so there should be none).
    pub fn from_config(config: &ConfigMap) -> Result<Option<Self>, ConfigIssue> {
        if !uses_topic_creation(config) {
            return Ok(None);
        }
        let default = parse_group(config, DEFAULT_GROUP, None)?;
        let inherited = (default.replication_factor, default.partitions);
        let groups = group_names(config)
            .iter()
            .map(|name| parse_group(config, name, Some(inherited)))
            .collect::<Result<_, _>>()?;
        Ok(Some(Self { groups, default }))
    }

    /// The group whose settings a new `topic` gets.
    pub fn group_for(&self, topic: &str) -> &TopicCreationGroup {
        self.groups
            .iter()
            .find(|group| group.matches(topic))
            .unwrap_or(&self.default)
    }
}

/// A full-match regex of the comma-separated patterns, `None` when there are none.
fn full_match(config: &ConfigMap, key: &str) -> Result<Option<Regex>, ConfigIssue> {
    let patterns = split_list(config.get(key).map_or("", String::as_str));
    if patterns.is_empty() {
        return Ok(None);
    }
    let alternatives: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    Regex::new(&format!("^(?:{})$", alternatives.join("|")))
        .map(Some)
        .map_err(|error| {
            ConfigIssue::new(key, format!("Syntax error in regular expression: {error}"))
        })
}

fn parse_group(
    config: &ConfigMap,
    name: &str,
    inherited: Option<(i32, i32)>,
) -> Result<TopicCreationGroup, ConfigIssue> {
    let prefix = format!("{PREFIX}{name}.");
    let number = |suffix: &str, default: Option<i32>, check: fn(&str) -> Result<(), String>| {
        let key = format!("{prefix}{suffix}");
        match (config.get(&key), default) {
            (Some(text), _) => {
                check(text).map_err(|reason| {
                    ConfigIssue::new(
                        &key,
                        format!("Invalid value {text} for configuration {key}: {reason}"),
                    )
                })?;
                text.trim()
                    .parse::<i32>()
                    .map_err(|_| ConfigIssue::new(&key, "Not a number of type INT"))
            }
            (None, Some(value)) => Ok(value),
            (None, None) => Err(ConfigIssue::new(
                &key,
                format!("Missing required configuration \"{key}\" which has no default value."),
            )),
        }
    };
    let replication_factor = number(
        REPLICATION_FACTOR,
        inherited.map(|(r, _)| r),
        replication_factor,
    )?;
    let partition_count = number(PARTITIONS, inherited.map(|(_, p)| p), partitions)?;
    let (include, exclude) = if name == DEFAULT_GROUP {
        (
            Some(Regex::new(".*").map_err(|e| ConfigIssue::new(&prefix, e.to_string()))?),
            None,
        )
    } else {
        (
            full_match(config, &format!("{prefix}{INCLUDE}"))?,
            full_match(config, &format!("{prefix}{EXCLUDE}"))?,
        )
    };
    let topic_configs = config
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix(&prefix)
                .filter(|k| ![INCLUDE, EXCLUDE, REPLICATION_FACTOR, PARTITIONS].contains(k))
                .map(|k| (k.to_owned(), value.clone()))
        })
        .collect();
    Ok(TopicCreationGroup {
        name: name.to_owned(),
        include,
        exclude,
        replication_factor,
        partitions: partition_count,
        topic_configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn errors(config: &ConfigMap) -> Vec<(String, String)> {
        config_def(config)
            .validate(config)
            .into_iter()
            .flat_map(|v| {
                let name = v.name.clone();
                v.errors.into_iter().map(move |e| (name.clone(), e))
            })
            .collect()
    }

    #[test]
    fn no_topic_creation_keys_means_no_creation() {
        let config = config(&[("topic", "t")]);
        assert!(TopicCreation::from_config(&config).unwrap().is_none());
        assert!(errors(&config).is_empty());
    }

    #[test]
    fn validate_rejects_missing_default_group() {
        let config = config(&[("topic.creation.groups", "compacted")]);
        let errors = errors(&config);
        let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "topic.creation.default.replication.factor",
                "topic.creation.default.partitions"
            ]
        );
        assert!(errors[0].1.starts_with("Missing required configuration"));
    }

    #[test]
    fn validate_rejects_zero_replication_factor_and_partitions() {
        let config = config(&[
            ("topic.creation.default.replication.factor", "0"),
            ("topic.creation.default.partitions", "-2"),
        ]);
        let errors = errors(&config);
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].1,
            "Invalid value 0 for configuration topic.creation.default.replication.factor: Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default"
        );
        assert!(
            errors[1]
                .1
                .contains("Number of partitions must be positive")
        );
    }

    #[test]
    fn validate_rejects_bad_group_values() {
        let config = config(&[
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "-1"),
            ("topic.creation.groups", "a"),
            ("topic.creation.a.include", "(unclosed"),
            ("topic.creation.a.partitions", "many"),
        ]);
        let keys: Vec<String> = errors(&config).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["topic.creation.a.include", "topic.creation.a.partitions"]
        );
    }

    #[test]
    fn first_matching_group_wins_and_exclude_beats_include() {
        let config = config(&[
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.compression.type", "gzip"),
            ("topic.creation.groups", "compacted, other"),
            ("topic.creation.compacted.include", "db\\..*, audit"),
            ("topic.creation.compacted.exclude", "db\\.tmp.*"),
            ("topic.creation.compacted.partitions", "1"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.other.include", ".*"),
            ("topic.creation.other.partitions", "7"),
        ]);
        let creation = TopicCreation::from_config(&config).unwrap().unwrap();
        let group = creation.group_for("db.users");
        assert_eq!(group.name, "compacted");
        assert_eq!((group.replication_factor, group.partitions), (1, 1));
        assert_eq!(group.topic_configs["cleanup.policy"], "compact");
        assert_eq!(creation.group_for("audit").name, "compacted");
        assert_eq!(creation.group_for("xaudit").name, "other");
        assert_eq!(creation.group_for("db.tmp1").name, "other");
        assert_eq!(creation.group_for("db.tmp1").replication_factor, 1);
        let only_default = TopicCreation::from_config(&config_without_others()).unwrap();
        let default = only_default.as_ref().unwrap().group_for("anything");
        assert_eq!(default.name, "default");
        assert_eq!(default.topic_configs["compression.type"], "gzip");
    }

    fn config_without_others() -> ConfigMap {
        config(&[
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "2"),
            ("topic.creation.default.compression.type", "gzip"),
        ])
    }
}
