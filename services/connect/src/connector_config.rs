//! The settings every connector has (Kafka's `ConnectorConfig` / `SinkConnectorConfig`),
//! their `ConfigDef` for `/config/validate`, and their parsing into [`ConnectorSettings`].

use std::sync::Arc;

use connect_api::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConfigValue, ConnectorPlugin, Importance, Width,
};

use crate::auto_restart::{self, AutoRestartPolicy};
use crate::client_overrides::{self, OverridePolicy};
use crate::converters::Converter;
use crate::error::ConfigIssue;
use crate::error_handling::ErrorPolicy;
use crate::exactly_once::{self, SourceTransactionSettings};
use crate::topic_creation::{self, TopicCreation};
use crate::transforms::{Direction, TransformChain};

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const PREDICATES: &str = "Predicates";
const ERRORS: &str = "Error Handling";

/// Kafka's `ConnectorConfig` keys (plus the sink ones for sinks).
pub fn common_def(plugin_type: &str) -> ConfigDef {
    let mut def = ConfigDef::new()
        .define(ConfigKey::new("name", ConfigType::String).importance(Importance::High).doc("Globally unique name to use for this connector.").group(COMMON, 1).width(Width::Medium).display("Connector name"))
        .define(ConfigKey::new("connector.class", ConfigType::String).importance(Importance::High).doc("Name or alias of the class for this connector.").group(COMMON, 2).width(Width::Long).display("Connector class"))
        .define(ConfigKey::new("tasks.max", ConfigType::Int).default_value("1").importance(Importance::High).doc("Maximum number of tasks to use for this connector.").group(COMMON, 3).width(Width::Short).display("Tasks max").validator(at_least_one))
        .define(ConfigKey::new("key.converter", ConfigType::Class).default_value("").importance(Importance::Low).doc("Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.").group(COMMON, 4).width(Width::Short).display("Key converter class"))
        .define(ConfigKey::new("value.converter", ConfigType::Class).default_value("").importance(Importance::Low).doc("Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.").group(COMMON, 5).width(Width::Short).display("Value converter class"))
        .define(ConfigKey::new("header.converter", ConfigType::Class).default_value("").importance(Importance::Low).doc("HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.").group(COMMON, 6).width(Width::Short).display("Header converter class"))
        .define(ConfigKey::new("transforms", ConfigType::List).default_value("").importance(Importance::Low).doc("Aliases for the transformations to be applied to records.").group(TRANSFORMS, 1).width(Width::Long).display("Transforms"))
        .define(ConfigKey::new("predicates", ConfigType::List).default_value("").importance(Importance::Low).doc("Aliases for the predicates used by transformations.").group(PREDICATES, 1).width(Width::Long).display("Predicates"))
        .define(ConfigKey::new("errors.retry.timeout", ConfigType::Long).default_value("0").importance(Importance::Medium).doc("The maximum duration in milliseconds that a failed operation will be reattempted. -1 means infinite retries.").group(ERRORS, 1).width(Width::Medium).display("Retry Timeout for Errors"))
        .define(ConfigKey::new("errors.retry.delay.max.ms", ConfigType::Long).default_value("60000").importance(Importance::Medium).doc("The maximum duration in milliseconds between consecutive retry attempts.").group(ERRORS, 2).width(Width::Medium).display("Maximum Delay Between Retries for Errors"))
        .define(ConfigKey::new("errors.tolerance", ConfigType::String).default_value("none").importance(Importance::Medium).doc("Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.").group(ERRORS, 3).width(Width::Short).display("Error Tolerance").recommended(&["none", "all"]).validator(tolerance))
        .define(ConfigKey::new("errors.log.enable", ConfigType::Boolean).default_value("false").importance(Importance::Medium).doc("If true, write each error and the details of the failed operation and problematic record to the Connect application log.").group(ERRORS, 4).width(Width::Short).display("Log Errors"))
        .define(ConfigKey::new("errors.log.include.messages", ConfigType::Boolean).default_value("false").importance(Importance::Medium).doc("Whether to include in the log the Connect record that resulted in a failure.").group(ERRORS, 5).width(Width::Short).display("Log Error Details"));
    if plugin_type == "sink" {
        def = def
            .define(ConfigKey::new("topics", ConfigType::List).default_value("").importance(Importance::High).doc("List of topics to consume, separated by commas").group(COMMON, 4).width(Width::Long).display("Topics"))
            .define(ConfigKey::new("topics.regex", ConfigType::String).default_value("").importance(Importance::High).doc("Regular expression giving topics to consume.").group(COMMON, 4).width(Width::Long).display("Topics regex"))
            .define(ConfigKey::new("errors.deadletterqueue.topic.name", ConfigType::String).default_value("").importance(Importance::Medium).doc("The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters.").group(ERRORS, 6).width(Width::Medium).display("Dead Letter Queue Topic Name"))
            .define(ConfigKey::new("errors.deadletterqueue.topic.replication.factor", ConfigType::Short).default_value("3").importance(Importance::Medium).doc("Replication factor used to create the dead letter queue topic when it doesn't already exist.").group(ERRORS, 7).width(Width::Medium).display("Dead Letter Queue Topic Replication Factor"))
            .define(ConfigKey::new("errors.deadletterqueue.context.headers.enable", ConfigType::Boolean).default_value("false").importance(Importance::Medium).doc("If true, add headers containing error context to the messages written to the dead letter queue.").group(ERRORS, 8).width(Width::Medium).display("Enable Error Context Headers"));
    }
    def
}

fn at_least_one(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err("Value must be at least 1".to_owned()),
    }
}

fn tolerance(value: &str) -> Result<(), String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "none" | "all" => Ok(()),
        _ => Err("String must be one of: none, all".to_owned()),
    }
}

/// The worker settings that change what a connector config may contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPolicies {
    /// `topic.creation.enable`: when false, `topic.creation.*` keys are ignored.
    pub topic_creation_enable: bool,
    /// `connector.client.config.override.policy`.
    pub override_policy: OverridePolicy,
    /// `exactly.once.source.support=enabled`: `exactly.once.support=required` needs it.
    pub exactly_once_source: bool,
    /// The worker's `key.converter` / `value.converter` and their settings, for connectors
    /// that name none (`[connect.converters]`).
    pub converter_defaults: Arc<ConfigMap>,
    /// `[connect.auto_restart]`: what a connector without `auto.restart.*` keys gets.
    pub auto_restart: AutoRestartPolicy,
}

impl Default for WorkerPolicies {
    fn default() -> Self {
        Self {
            topic_creation_enable: true,
            override_policy: OverridePolicy::All,
            exactly_once_source: false,
            converter_defaults: Arc::default(),
            auto_restart: AutoRestartPolicy::default(),
        }
    }
}

/// Which topics a sink reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTopics {
    List(Vec<String>),
    Regex(String),
}

/// The runtime's typed view of a connector config.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    pub name: String,
    pub tasks_max: usize,
    pub key_converter: Converter,
    pub value_converter: Converter,
    pub errors: ErrorPolicy,
    /// Set for sinks only.
    pub sink_topics: Option<SinkTopics>,
    /// Set for sources that use `topic.creation.*` on a worker that allows it.
    pub topic_creation: Option<TopicCreation>,
    /// KIP-618's keys (sources; the defaults for sinks).
    pub transactions: SourceTransactionSettings,
}

/// The client-override prefixes Kafka checks for a connector type: sources have a
/// producer (and an admin client for topic creation); sinks a consumer, plus a producer
/// and an admin client for the DLQ.
fn override_prefixes(plugin_type: &str) -> &'static [&'static str] {
    if plugin_type == "sink" {
        &[
            client_overrides::CONSUMER_PREFIX,
            client_overrides::PRODUCER_PREFIX,
            client_overrides::ADMIN_PREFIX,
        ]
    } else {
        &[
            client_overrides::PRODUCER_PREFIX,
            client_overrides::ADMIN_PREFIX,
        ]
    }
}

/// What `GET /connector-plugins/{p}/config` lists: the plugin's keys, then the framework's
/// (`SourceConnectorConfig` / `SinkConnectorConfig`) that the plugin does not define itself,
/// as Kafka 3.6+ does (KAFKA-14843).
pub fn plugin_definition(plugin: &ConnectorPlugin) -> ConfigDef {
    let mut framework = common_def(plugin.type_name());
    if plugin.type_name() == "source" {
        framework = framework
            .define(topic_creation::groups_key())
            .merge(exactly_once::config_def());
    }
    let own = plugin.config_def();
    let mut def = own.clone();
    for key in framework.keys() {
        if own.key(&key.name).is_none() {
            def = def.define(key.clone());
        }
    }
    def
}

/// Every problem with `config`, per key: common keys, converters, SMTs, the plugin's keys
/// and its own cross-key checks. Returned in the order Kafka's `ConfigInfos` lists them.
pub fn validate(
    plugin: &ConnectorPlugin,
    config: &ConfigMap,
    policies: &WorkerPolicies,
) -> (ConfigDef, Vec<ConfigValue>) {
    let mut def = common_def(plugin.type_name());
    if plugin.type_name() == "source" {
        def = def.merge(if policies.topic_creation_enable {
            topic_creation::config_def(config)
        } else {
            ConfigDef::new().define(topic_creation::groups_key())
        });
        def = def.merge(exactly_once::config_def());
    }
    let def = def
        .merge(auto_restart::config_def())
        .merge(plugin.config_def());
    let mut values = def.validate(config);
    let preflight: Vec<ConfigIssue> = match plugin {
        // Kafka runs these only on values the ConfigDef accepted.
        ConnectorPlugin::Source(source) => {
            exactly_once::preflight(source.as_ref(), config, policies.exactly_once_source)
                .into_iter()
                .filter(|issue| {
                    values
                        .iter()
                        .find(|v| v.name == issue.key)
                        .is_none_or(|v| v.errors.is_empty())
                })
                .collect()
        }
        ConnectorPlugin::Sink(_) => Vec::new(),
    };
    let mut add_issue = |issue: ConfigIssue| match values.iter_mut().find(|v| v.name == issue.key) {
        Some(value) => value.errors.push(issue.message),
        None => {
            let mut value = ConfigValue::new(&issue.key, config.get(&issue.key).cloned());
            value.errors.push(issue.message);
            values.push(value);
        }
    };
    for (prefix, default) in [
        ("key.converter", Converter::json(true)),
        ("value.converter", Converter::json(true)),
    ] {
        if config.get(prefix).is_some_and(|c| !c.trim().is_empty())
            && let Err(issue) = Converter::from_config(config, prefix, default)
        {
            add_issue(issue);
        }
    }
    let direction = if plugin.type_name() == "sink" {
        Direction::Sink
    } else {
        Direction::Source
    };
    if let Err(issues) = TransformChain::from_config(config, direction) {
        issues.into_iter().for_each(&mut add_issue);
    }
    if plugin.type_name() == "sink" {
        if let Err(issue) = sink_topics(config) {
            add_issue(issue);
        }
        if let Err(issue) = ErrorPolicy::from_config(config) {
            add_issue(issue);
        }
    }
    for prefix in override_prefixes(plugin.type_name()) {
        client_overrides::validate(config, prefix, policies.override_policy)
            .into_iter()
            .for_each(&mut add_issue);
    }
    preflight.into_iter().for_each(&mut add_issue);
    for extra in plugin.validate(config) {
        for error in extra.errors {
            add_issue(ConfigIssue::new(&extra.name, error));
        }
    }
    (def, values)
}

/// Adds `issues` to the per-key answer of [`validate`] (a key not listed yet gets an entry).
pub fn add_issues(
    values: &mut Vec<ConfigValue>,
    config: &ConfigMap,
    issues: impl IntoIterator<Item = ConfigIssue>,
) {
    for issue in issues {
        match values.iter_mut().find(|v| v.name == issue.key) {
            Some(value) => value.errors.push(issue.message),
            None => {
                let mut value = ConfigValue::new(&issue.key, config.get(&issue.key).cloned());
                value.errors.push(issue.message);
                values.push(value);
            }
        }
    }
}

fn sink_topics(config: &ConfigMap) -> Result<SinkTopics, ConfigIssue> {
    let topics = connect_api::config::split_list(config.get("topics").map_or("", String::as_str));
    let regex = config
        .get("topics.regex")
        .map(|r| r.trim())
        .filter(|r| !r.is_empty());
    match (topics.is_empty(), regex) {
        (false, None) => Ok(SinkTopics::List(topics)),
        (true, Some(regex)) => regex::Regex::new(regex)
            .map(|_| SinkTopics::Regex(regex.to_owned()))
            .map_err(|error| {
                ConfigIssue::new(
                    "topics.regex",
                    format!("Invalid value {regex} for configuration topics.regex: {error}"),
                )
            }),
        (false, Some(_)) => Err(ConfigIssue::new(
            "topics",
            "topics and topics.regex are mutually exclusive options, but both are set.",
        )),
        (true, None) => Err(ConfigIssue::new(
            "topics",
            "Must configure one of topics or topics.regex",
        )),
    }
}

/// A plugin may define `topic.creation.default.*` itself with defaults (the MySQL source
/// does); its definition wins in [`validate`], so parsing must see the same defaults. Only
/// applied when the config uses topic creation, so no key is added that would switch it on.
fn with_plugin_defaults(plugin: &ConnectorPlugin, config: &ConfigMap) -> ConfigMap {
    let mut effective = config.clone();
    if !topic_creation::uses_topic_creation(config) {
        return effective;
    }
    let def = plugin.config_def();
    for key in def.keys() {
        if key.name.starts_with(topic_creation::PREFIX)
            && let Some(default) = &key.default
        {
            effective
                .entry(key.name.clone())
                .or_insert_with(|| default.clone());
        }
    }
    effective
}

impl ConnectorSettings {
    /// Parses a config that passed [`validate`]; errors name their key.
    pub fn parse(
        plugin: &ConnectorPlugin,
        config: &ConfigMap,
        policies: &WorkerPolicies,
    ) -> Result<Self, ConfigIssue> {
        let tasks_max = config
            .get("tasks.max")
            .map_or(Ok(1), |v| v.trim().parse::<usize>())
            .map_err(|_| ConfigIssue::new("tasks.max", "Not a number of type INT"))?
            .max(1);
        let default = Converter::json(true);
        let converter = |prefix: &str| match config.get(prefix).map(|c| c.trim()) {
            // As Kafka Connect: the worker's converter, with the worker's settings for it.
            None | Some("") if policies.converter_defaults.contains_key(prefix) => {
                let mut worker = (*policies.converter_defaults).clone();
                if let Some(name) = config.get("name") {
                    worker.insert("name".to_owned(), name.clone());
                }
                Converter::from_config(&worker, prefix, default.clone())
            }
            None | Some("") => Ok(default.clone()),
            Some(_) => Converter::from_config(config, prefix, default.clone()),
        };
        Ok(Self {
            name: config.get("name").cloned().unwrap_or_default(),
            tasks_max,
            key_converter: converter("key.converter")?,
            value_converter: converter("value.converter")?,
            errors: ErrorPolicy::from_config(config)?,
            sink_topics: if plugin.type_name() == "sink" {
                Some(sink_topics(config)?)
            } else {
                None
            },
            topic_creation: if plugin.type_name() == "source" && policies.topic_creation_enable {
                TopicCreation::from_config(&with_plugin_defaults(plugin, config))?
            } else {
                None
            },
            transactions: if plugin.type_name() == "source" {
                SourceTransactionSettings::parse(config)?
            } else {
                SourceTransactionSettings::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_config(pairs: &[(&str, &str)]) -> ConfigMap {
        [
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("file", "/tmp/in.txt"),
            ("topic", "t"),
        ]
        .iter()
        .chain(pairs)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    fn errors(config: &ConfigMap, policies: &WorkerPolicies) -> Vec<String> {
        let plugins = crate::builtin_plugins();
        let plugin = plugins.find("FileStreamSource").unwrap();
        validate(plugin, config, policies)
            .1
            .into_iter()
            .filter(|v| !v.errors.is_empty())
            .map(|v| v.name)
            .collect()
    }

    #[test]
    fn a_connector_without_converters_takes_the_workers() {
        let plugins = crate::builtin_plugins();
        let plugin = plugins.find("FileStreamSource").unwrap();
        let defaults: ConfigMap = [
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let policies = WorkerPolicies {
            converter_defaults: Arc::new(defaults),
            ..WorkerPolicies::default()
        };
        let settings = ConnectorSettings::parse(plugin, &source_config(&[]), &policies).unwrap();
        assert!(matches!(
            settings.value_converter,
            Converter::Json {
                schemas_enable: false,
                ..
            }
        ));
        assert!(matches!(settings.key_converter, Converter::String));
        // A connector's own converter wins, without the worker's settings for its prefix.
        let own = source_config(&[("value.converter", "JsonConverter")]);
        let settings = ConnectorSettings::parse(plugin, &own, &policies).unwrap();
        assert!(matches!(
            settings.value_converter,
            Converter::Json {
                schemas_enable: true,
                ..
            }
        ));
    }

    #[test]
    fn source_without_topic_creation_keys_creates_nothing() {
        let plugins = crate::builtin_plugins();
        let plugin = plugins.find("FileStreamSource").unwrap();
        let config = source_config(&[]);
        assert!(errors(&config, &WorkerPolicies::default()).is_empty());
        let settings =
            ConnectorSettings::parse(plugin, &config, &WorkerPolicies::default()).unwrap();
        assert!(settings.topic_creation.is_none());
    }

    #[test]
    fn disabled_topic_creation_ignores_the_keys() {
        let plugins = crate::builtin_plugins();
        let plugin = plugins.find("FileStreamSource").unwrap();
        let config = source_config(&[
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "0"),
        ]);
        assert_eq!(
            errors(&config, &WorkerPolicies::default()),
            ["topic.creation.default.partitions"]
        );
        let disabled = WorkerPolicies {
            topic_creation_enable: false,
            ..WorkerPolicies::default()
        };
        assert!(errors(&config, &disabled).is_empty());
        let settings = ConnectorSettings::parse(plugin, &config, &disabled).unwrap();
        assert!(settings.topic_creation.is_none());
    }

    #[test]
    fn validate_rejects_required_exactly_once_on_an_at_least_once_worker() {
        let config = source_config(&[("exactly.once.support", "required")]);
        assert_eq!(
            errors(&config, &WorkerPolicies::default()),
            ["exactly.once.support"]
        );
        let exactly_once = WorkerPolicies {
            exactly_once_source: true,
            ..WorkerPolicies::default()
        };
        assert!(errors(&config, &exactly_once).is_empty());
        // A value the ConfigDef refuses gets that one error only, as in Kafka.
        let typo = source_config(&[("exactly.once.support", "always")]);
        let plugins = crate::builtin_plugins();
        let plugin = plugins.find("FileStreamSource").unwrap();
        let values = validate(plugin, &typo, &WorkerPolicies::default()).1;
        let value = values
            .iter()
            .find(|v| v.name == "exactly.once.support")
            .unwrap();
        assert_eq!(value.errors.len(), 1);
    }

    #[test]
    fn plugin_definition_lists_the_plugins_keys_then_the_frameworks() {
        let plugins = crate::builtin_plugins();
        let source = plugin_definition(plugins.find("FileStreamSource").unwrap());
        let names: Vec<&str> = source.keys().iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names[..3], ["file", "topic", "batch.size"]);
        for key in ["name", "exactly.once.support", "offsets.storage.topic"] {
            assert!(names.contains(&key), "{key}");
        }
        let sink = plugin_definition(plugins.find("FileStreamSink").unwrap());
        assert!(sink.key("transaction.boundary").is_none());
        assert!(sink.key("topics").is_some());
    }

    #[test]
    fn validate_rejects_overrides_under_policy_none() {
        let config = source_config(&[("producer.override.acks", "1")]);
        assert!(errors(&config, &WorkerPolicies::default()).is_empty());
        let none = WorkerPolicies {
            override_policy: OverridePolicy::None,
            ..WorkerPolicies::default()
        };
        assert_eq!(errors(&config, &none), ["producer.override.acks"]);
    }
}
