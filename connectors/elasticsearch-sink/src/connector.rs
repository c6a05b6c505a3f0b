//! The connector: its names, its config definition and its tasks.

use connect_api::{
    ConfigDef, ConfigMap, ConfigType, ConfigValue, ConnectError, PluginInfo, SinkConnector,
    SinkRecord, SinkTaskContext,
};

use crate::config::{ElasticsearchSinkConfig, config_def};
use crate::sink::ElasticsearchSinkTask;

/// The key `task_configs` adds so a task knows its number (for logs and counters).
pub const TASK_ID: &str = "task.id";

/// The Elasticsearch / OpenSearch sink connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct ElasticsearchSink;

impl SinkConnector for ElasticsearchSink {
    type Task = ElasticsearchSinkTask;

    fn info(&self) -> PluginInfo {
        PluginInfo {
            class: "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            aliases: &[
                "io.kafkagateway.connect.elasticsearch.ElasticsearchSinkConnector",
                "ElasticsearchSink",
                "elasticsearch-sink",
                "opensearch-sink",
            ],
            version: crate::VERSION,
        }
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    /// Checks across keys; per-key type errors are reported by the definition already.
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue> {
        let def = config_def();
        if def.parse(config).is_err() {
            return Vec::new();
        }
        match ElasticsearchSinkConfig::validate(config) {
            Ok(_) => Vec::new(),
            Err(issues) => issues
                .into_iter()
                .map(|issue| {
                    let hidden = def
                        .key(issue.key)
                        .is_some_and(|key| key.config_type == ConfigType::Password);
                    let shown = config.get(issue.key).map(|value| {
                        if hidden {
                            connect_api::HIDDEN.to_owned()
                        } else {
                            value.clone()
                        }
                    });
                    let mut value = ConfigValue::new(issue.key, shown);
                    value.errors.push(issue.message);
                    value
                })
                .collect(),
        }
    }

    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        // Every task gets the same settings; Kafka's consumer group splits the partitions.
        Ok((0..max_tasks.max(1))
            .map(|task| {
                let mut task_config = config.clone();
                task_config.insert(TASK_ID.to_owned(), task.to_string());
                task_config
            })
            .collect())
    }

    fn preview(
        &self,
        config: &ConfigMap,
        records: &[SinkRecord],
    ) -> Result<Vec<Result<Vec<serde_json::Value>, ConnectError>>, ConnectError> {
        crate::preview::preview(config, records)
    }

    async fn create_task(
        &self,
        config: &ConfigMap,
        context: SinkTaskContext,
    ) -> Result<ElasticsearchSinkTask, ConnectError> {
        let def = config_def();
        def.parse(config)?;
        let validated = ElasticsearchSinkConfig::validate(config).map_err(|issues| {
            issues.into_iter().next().map_or_else(
                || ConnectError::definite("invalid config"),
                ConnectError::from,
            )
        })?;
        // The runtime names the task; a bare context (tests, benchmarks) falls back to the
        // config.
        let context = if context.connector.is_empty() {
            SinkTaskContext {
                connector: config
                    .get("name")
                    .map_or("elasticsearch-sink", String::as_str)
                    .to_owned(),
                task: config
                    .get(TASK_ID)
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0),
                ..context
            }
        } else {
            context
        };
        ElasticsearchSinkTask::start(validated, &context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn cross_key_issues_name_their_key() {
        let values = ElasticsearchSink.validate(&map(&[
            ("connection.url", "http://a:9200"),
            ("connection.password", "x"),
        ]));
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].name, "connection.username");
    }

    #[test]
    fn cross_key_issues_hide_passwords() {
        let values = ElasticsearchSink.validate(&map(&[
            ("connection.url", "http://a:9200"),
            ("proxy.password", "s3cr3t"),
        ]));
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].name, "proxy.password");
        assert_eq!(values[0].value.as_deref(), Some("[hidden]"));
    }

    #[test]
    fn unsupported_authentication_is_a_validation_error() {
        let values = ElasticsearchSink.validate(&map(&[
            ("connection.url", "http://a:9200"),
            ("kerberos.user.principal", "me@EXAMPLE.COM"),
        ]));
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].name, "kerberos.user.principal");
        assert!(values[0].errors[0].starts_with("not supported by this gateway"));
    }

    #[test]
    fn task_configs_number_the_tasks() {
        let configs = ElasticsearchSink
            .task_configs(&map(&[("connection.url", "http://a:9200")]), 3)
            .unwrap();
        assert_eq!(configs.len(), 3);
        assert_eq!(configs[2].get(TASK_ID).map(String::as_str), Some("2"));
    }

    #[tokio::test]
    async fn create_task_rejects_a_bad_key() {
        let error = ElasticsearchSink
            .create_task(
                &map(&[("connection.url", "http://a:9200"), ("batch.size", "x")]),
                connect_api::SinkTaskContext::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectError::Config { ref key, .. } if key == "batch.size"));
    }
}
