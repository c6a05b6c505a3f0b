//! The per-connector exactly-once keys of a source (KIP-618, Kafka's `SourceConnectorConfig`):
//! `exactly.once.support`, `transaction.boundary`, `transaction.boundary.interval.ms` and
//! `offsets.storage.topic`; their `ConfigDef`, the preflight rules Kafka's distributed herder
//! applies at validation, and their parsing into [`SourceTransactionSettings`].
//!
//! The worker's `exactly_once_source_support` decides whether source tasks use transactions
//! at all; these keys only say what one connector demands (`required` refuses a worker or a
//! plugin that cannot give it) and where its transactions end.

use std::time::Duration;

use connect_api::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, DynSourceConnector, ExactlyOnceSupport,
    Importance, Width,
};

use crate::error::ConfigIssue;

pub const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";
pub const TRANSACTION_BOUNDARY: &str = "transaction.boundary";
pub const TRANSACTION_BOUNDARY_INTERVAL: &str = "transaction.boundary.interval.ms";
pub const OFFSETS_STORAGE_TOPIC: &str = "offsets.storage.topic";

const EXACTLY_ONCE_GROUP: &str = "Exactly Once Support";
const OFFSETS_TOPIC_GROUP: &str = "offsets.topic";

/// `exactly.once.support`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExactlyOnceLevel {
    /// Exactly-once when the worker has it, at-least-once otherwise.
    #[default]
    Requested,
    /// Validation fails unless the worker and the plugin both can give exactly-once.
    Required,
}

/// `transaction.boundary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionBoundary {
    /// One transaction per poll batch.
    #[default]
    Poll,
    /// One transaction per interval; `None` = the worker's `offset.flush.interval.ms`.
    Interval(Option<Duration>),
    /// The task decides; refused at validation because no plugin can (see
    /// [`connect_api::SourceConnector::can_define_transaction_boundaries`]).
    Connector,
}

/// The typed exactly-once keys of a source connector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceTransactionSettings {
    pub level: ExactlyOnceLevel,
    pub boundary: TransactionBoundary,
    /// A connector-specific offsets topic; `None` = the worker's.
    pub offsets_topic: Option<String>,
}

/// Kafka spells the permitted values in a `HashSet`'s order; these are the orders that set
/// produces, so the messages read byte for byte like the Java worker's.
const SUPPORT_LEVELS_MESSAGE: &str =
    "String must be one of (case insensitive): REQUIRED, REQUESTED";
const BOUNDARIES_MESSAGE: &str =
    "String must be one of (case insensitive): INTERVAL, POLL, CONNECTOR";

fn support_level(value: &str) -> Result<(), String> {
    parse_level(value)
        .map(|_| ())
        .ok_or_else(|| SUPPORT_LEVELS_MESSAGE.to_owned())
}

fn boundary(value: &str) -> Result<(), String> {
    parse_boundary_name(value)
        .map(|_| ())
        .ok_or_else(|| BOUNDARIES_MESSAGE.to_owned())
}

fn at_least_zero(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(()),
        _ => Err("Value must be at least 0".to_owned()),
    }
}

fn non_empty(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err("String may not be empty".to_owned())
    } else {
        Ok(())
    }
}

fn parse_level(value: &str) -> Option<ExactlyOnceLevel> {
    match value.to_ascii_uppercase().as_str() {
        "REQUESTED" => Some(ExactlyOnceLevel::Requested),
        "REQUIRED" => Some(ExactlyOnceLevel::Required),
        _ => None,
    }
}

/// The boundary name alone; the interval is read separately.
fn parse_boundary_name(value: &str) -> Option<TransactionBoundary> {
    match value.to_ascii_uppercase().as_str() {
        "POLL" => Some(TransactionBoundary::Poll),
        "INTERVAL" => Some(TransactionBoundary::Interval(None)),
        "CONNECTOR" => Some(TransactionBoundary::Connector),
        _ => None,
    }
}

/// The four keys, with Kafka's defaults, validators and documentation.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new(EXACTLY_ONCE_SUPPORT, ConfigType::String).default_value("requested").validator(support_level).importance(Importance::Medium)
            .doc("Permitted values are requested, required. If set to \"required\", forces a preflight check for the connector to ensure that it can provide exactly-once semantics with the given configuration. Some connectors may be capable of providing exactly-once semantics but not signal to Connect that they support this; in that case, documentation for the connector should be consulted carefully before creating it, and the value for this property should be set to \"requested\". Additionally, if the value is set to \"required\" but the worker that performs preflight validation does not have exactly-once support enabled for source connectors, requests to create or validate the connector will fail.")
            .group(EXACTLY_ONCE_GROUP, 2).width(Width::Short).display("Exactly once support"))
        .define(ConfigKey::new(TRANSACTION_BOUNDARY, ConfigType::String).default_value("poll").validator(boundary).importance(Importance::Medium)
            .doc("Permitted values are: poll, interval, connector. If set to 'poll', a new producer transaction will be started and committed for every batch of records that each task from this connector provides to Connect. If set to 'connector', relies on connector-defined transaction boundaries; note that not all connectors are capable of defining their own transaction boundaries, and in that case, attempts to instantiate a connector with this value will fail. Finally, if set to 'interval', commits transactions only after a user-defined time interval has passed.")
            .group(EXACTLY_ONCE_GROUP, 3).width(Width::Short).display("Transaction Boundary"))
        .define(ConfigKey::new(TRANSACTION_BOUNDARY_INTERVAL, ConfigType::Long).null_default().validator(at_least_zero).importance(Importance::Low)
            .doc("If 'transaction.boundary' is set to 'interval', determines the interval for producer transaction commits by connector tasks. If unset, defaults to the value of the worker-level 'offset.flush.interval.ms' property. It has no effect if a different transaction.boundary is specified.")
            .group(EXACTLY_ONCE_GROUP, 4).width(Width::Short).display("Transaction boundary interval"))
        .define(ConfigKey::new(OFFSETS_STORAGE_TOPIC, ConfigType::String).null_default().validator(non_empty).importance(Importance::Low)
            .doc("The name of a separate offsets topic to use for this connector. If empty or not specified, the worker’s global offsets topic name will be used. If specified, the offsets topic will be created if it does not already exist on the Kafka cluster targeted by this connector (which may be different from the one used for the worker's global offsets topic if the bootstrap.servers property of the connector's producer has been overridden from the worker's). Only applicable in distributed mode; in standalone mode, setting this property will have no effect.")
            .group(OFFSETS_TOPIC_GROUP, 1).width(Width::Long).display("Offsets topic"))
}

/// Kafka's preflight checks (`DistributedHerder.validateSourceConnectorConfig`), run only on
/// keys whose value passed the `ConfigDef`: `required` needs an exactly-once worker and a
/// plugin that declares support; `connector` needs a plugin that defines boundaries.
pub fn preflight(
    plugin: &dyn DynSourceConnector,
    config: &ConfigMap,
    worker_exactly_once: bool,
) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let level = config
        .get(EXACTLY_ONCE_SUPPORT)
        .map_or(Some(ExactlyOnceLevel::Requested), |v| parse_level(v));
    if level == Some(ExactlyOnceLevel::Required) {
        if !worker_exactly_once {
            issues.push(ConfigIssue::new(
                EXACTLY_ONCE_SUPPORT,
                "This worker does not have exactly-once source support enabled.",
            ));
        }
        match plugin.exactly_once_support(config) {
            ExactlyOnceSupport::Supported => {}
            ExactlyOnceSupport::Unsupported => issues.push(ConfigIssue::new(
                EXACTLY_ONCE_SUPPORT,
                "The connector does not support exactly-once semantics with the provided configuration.",
            )),
            ExactlyOnceSupport::Unknown => issues.push(ConfigIssue::new(
                EXACTLY_ONCE_SUPPORT,
                "The connector does not implement the API required for preflight validation of exactly-once source support. Please consult the documentation for the connector to determine whether it supports exactly-once semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property (which will disable this preflight check and allow the connector to be created).",
            )),
        }
    }
    let boundary = config
        .get(TRANSACTION_BOUNDARY)
        .and_then(|v| parse_boundary_name(v));
    if boundary == Some(TransactionBoundary::Connector)
        && !plugin.can_define_transaction_boundaries(config)
    {
        issues.push(ConfigIssue::new(
            TRANSACTION_BOUNDARY,
            "The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition.",
        ));
    }
    issues
}

impl SourceTransactionSettings {
    /// Parses a config that passed validation; errors name their key.
    pub fn parse(config: &ConfigMap) -> Result<Self, ConfigIssue> {
        let invalid = |key: &str, message: &str| {
            let value = config.get(key).map_or("", String::as_str);
            ConfigIssue::new(
                key,
                format!("Invalid value {value} for configuration {key}: {message}"),
            )
        };
        let level = match config.get(EXACTLY_ONCE_SUPPORT) {
            None => ExactlyOnceLevel::Requested,
            Some(value) => parse_level(value)
                .ok_or_else(|| invalid(EXACTLY_ONCE_SUPPORT, SUPPORT_LEVELS_MESSAGE))?,
        };
        let interval = match config.get(TRANSACTION_BOUNDARY_INTERVAL) {
            None => None,
            Some(value) => {
                let millis = value.trim().parse::<u64>().map_err(|_| {
                    invalid(TRANSACTION_BOUNDARY_INTERVAL, "Value must be at least 0")
                })?;
                Some(Duration::from_millis(millis))
            }
        };
        let boundary = match config.get(TRANSACTION_BOUNDARY) {
            None => TransactionBoundary::Poll,
            Some(value) => match parse_boundary_name(value) {
                Some(TransactionBoundary::Interval(_)) => TransactionBoundary::Interval(interval),
                Some(other) => other,
                None => return Err(invalid(TRANSACTION_BOUNDARY, BOUNDARIES_MESSAGE)),
            },
        };
        let offsets_topic = match config.get(OFFSETS_STORAGE_TOPIC).map(|t| t.trim()) {
            None => None,
            Some("") => return Err(invalid(OFFSETS_STORAGE_TOPIC, "String may not be empty")),
            Some(topic) => Some(topic.to_owned()),
        };
        Ok(Self {
            level,
            boundary,
            offsets_topic,
        })
    }
}

#[cfg(test)]
mod tests {
    use connect_api::ConnectorPlugin;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        [("file", "/tmp/in.txt"), ("topic", "t")]
            .iter()
            .chain(pairs)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn file_source() -> std::sync::Arc<dyn DynSourceConnector> {
        match ConnectorPlugin::source(file_stream::FileStreamSource) {
            ConnectorPlugin::Source(source) => source,
            ConnectorPlugin::Sink(_) => unreachable!("a source"),
        }
    }

    /// A plugin that says nothing about exactly-once, as most do.
    struct Silent;

    impl connect_api::SourceConnector for Silent {
        type Task = file_stream::FileStreamSourceTask;
        fn info(&self) -> connect_api::PluginInfo {
            connect_api::PluginInfo {
                class: "Silent",
                aliases: &[],
                version: "",
            }
        }
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new()
        }
        fn task_configs(
            &self,
            _config: &ConfigMap,
            _max_tasks: usize,
        ) -> Result<Vec<ConfigMap>, connect_api::ConnectError> {
            Ok(Vec::new())
        }
        async fn create_task(
            &self,
            _config: &ConfigMap,
            _context: connect_api::SourceTaskContext,
        ) -> Result<Self::Task, connect_api::ConnectError> {
            Err(connect_api::ConnectError::definite("not runnable"))
        }
    }

    fn messages(issues: Vec<ConfigIssue>) -> Vec<(String, String)> {
        issues.into_iter().map(|i| (i.key, i.message)).collect()
    }

    #[test]
    fn validate_rejects_required_on_a_worker_without_exactly_once() {
        let issues = preflight(
            file_source().as_ref(),
            &config(&[(EXACTLY_ONCE_SUPPORT, "required")]),
            false,
        );
        assert_eq!(
            messages(issues),
            [(
                EXACTLY_ONCE_SUPPORT.to_owned(),
                "This worker does not have exactly-once source support enabled.".to_owned()
            )]
        );
    }

    #[test]
    fn required_passes_on_an_exactly_once_worker_with_a_supporting_plugin() {
        let required = config(&[(EXACTLY_ONCE_SUPPORT, "REQUIRED")]);
        assert!(preflight(file_source().as_ref(), &required, true).is_empty());
        // `requested` never fails, whatever the worker.
        let requested = config(&[(EXACTLY_ONCE_SUPPORT, "requested")]);
        assert!(preflight(file_source().as_ref(), &requested, false).is_empty());
    }

    #[test]
    fn validate_rejects_required_when_the_plugin_does_not_declare_support() {
        let issues = messages(preflight(
            &Silent,
            &config(&[(EXACTLY_ONCE_SUPPORT, "required")]),
            true,
        ));
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0]
                .1
                .starts_with("The connector does not implement the API required for preflight")
        );
        let stdin = messages(preflight(
            file_source().as_ref(),
            &config(&[(EXACTLY_ONCE_SUPPORT, "required"), ("file", "")]),
            true,
        ));
        assert_eq!(
            stdin[0].1,
            "The connector does not support exactly-once semantics with the provided configuration."
        );
    }

    #[test]
    fn validate_rejects_connector_defined_boundaries() {
        let issues = messages(preflight(
            file_source().as_ref(),
            &config(&[(TRANSACTION_BOUNDARY, "connector")]),
            true,
        ));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].0, TRANSACTION_BOUNDARY);
        assert!(issues[0].1.starts_with(
            "The connector does not support connector-defined transaction boundaries"
        ));
    }

    #[test]
    fn validate_rejects_unknown_values_with_kafkas_messages() {
        let values = config_def().validate(&config(&[
            (EXACTLY_ONCE_SUPPORT, "always"),
            (TRANSACTION_BOUNDARY, "sometimes"),
            (TRANSACTION_BOUNDARY_INTERVAL, "-1"),
            (OFFSETS_STORAGE_TOPIC, " "),
        ]));
        let errors: Vec<&str> = values.iter().map(|v| v.errors[0].as_str()).collect();
        assert_eq!(
            errors,
            [
                "Invalid value always for configuration exactly.once.support: String must be one of (case insensitive): REQUIRED, REQUESTED",
                "Invalid value sometimes for configuration transaction.boundary: String must be one of (case insensitive): INTERVAL, POLL, CONNECTOR",
                "Invalid value -1 for configuration transaction.boundary.interval.ms: Value must be at least 0",
                "Invalid value   for configuration offsets.storage.topic: String may not be empty",
            ]
        );
        // Left out, every key is fine: two defaults and two nulls.
        assert!(
            config_def()
                .validate(&config(&[]))
                .iter()
                .all(|v| v.errors.is_empty())
        );
    }

    #[test]
    fn parses_defaults_and_the_interval() {
        assert_eq!(
            SourceTransactionSettings::parse(&config(&[])).unwrap(),
            SourceTransactionSettings::default()
        );
        let parsed = SourceTransactionSettings::parse(&config(&[
            (EXACTLY_ONCE_SUPPORT, "Required"),
            (TRANSACTION_BOUNDARY, "interval"),
            (TRANSACTION_BOUNDARY_INTERVAL, "250"),
            (OFFSETS_STORAGE_TOPIC, "my-offsets"),
        ]))
        .unwrap();
        assert_eq!(parsed.level, ExactlyOnceLevel::Required);
        assert_eq!(
            parsed.boundary,
            TransactionBoundary::Interval(Some(Duration::from_millis(250)))
        );
        assert_eq!(parsed.offsets_topic.as_deref(), Some("my-offsets"));
        let unset =
            SourceTransactionSettings::parse(&config(&[(TRANSACTION_BOUNDARY, "INTERVAL")]))
                .unwrap();
        assert_eq!(unset.boundary, TransactionBoundary::Interval(None));
    }
}
