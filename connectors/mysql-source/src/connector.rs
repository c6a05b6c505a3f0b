//! The plugins: Debezium-compatible CDC under Debezium's class names, and the
//! JDBC-source-compatible query connector under Confluent's.

use connect_api::{
    ConfigDef, ConfigMap, ConfigValue, ConnectError, ExactlyOnceSupport, PluginInfo,
    SideTopicClients, SourceConnector, SourceTaskContext,
};

use crate::config::{CdcConfig, cdc_config_def};
use crate::preflight;
use crate::query::{QueryTask, config::QueryConfig};
use crate::task::CdcTask;

/// Binlog CDC, Debezium-compatible (`io.debezium.connector.mysql.MySqlConnector`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MySqlCdcSource;

/// The MariaDB class name resolves to the same plugin; `source.connector` says `mariadb`
/// only when the config names that class.
fn connector_name(config: &ConfigMap) -> &'static str {
    if config
        .get("connector.class")
        .is_some_and(|c| c.to_ascii_lowercase().contains("mariadb"))
    {
        "mariadb"
    } else {
        "mysql"
    }
}

impl SourceConnector for MySqlCdcSource {
    type Task = CdcTask;

    fn info(&self) -> PluginInfo {
        PluginInfo {
            class: "io.debezium.connector.mysql.MySqlConnector",
            aliases: &[
                "io.debezium.connector.mariadb.MariaDbConnector",
                "MySqlCdc",
                "MariaDbCdc",
                "mysql-cdc",
            ],
            version: crate::VERSION,
        }
    }

    fn config_def(&self) -> ConfigDef {
        cdc_config_def()
    }

    /// The offset names the binlog position before the record's transaction plus how many of
    /// its events were handed out, so a resumed stream skips exactly those (see
    /// [`crate::position`]); an interrupted snapshot resumes after the last committed key.
    /// With records and offsets in one Kafka transaction every change event lands once, as
    /// Debezium declares for its MySQL connector.
    fn exactly_once_support(&self, _config: &ConfigMap) -> ExactlyOnceSupport {
        ExactlyOnceSupport::Supported
    }

    /// The schema history's clients, checked by the runtime against the worker's cluster
    /// and override policy at validation.
    fn side_topic_clients(&self, config: &ConfigMap) -> Option<SideTopicClients> {
        CdcConfig::parse(config)
            .ok()
            .and_then(|config| config.history)
            .map(|history| history.clients)
    }

    /// Cross-key rules, then the server checks (reachable, binlog ROW/FULL, privileges),
    /// each reported on the key that fixes it.
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue> {
        let parsed = match CdcConfig::parse(config) {
            Ok(parsed) => parsed,
            Err(ConnectError::Config { key, message }) => {
                let mut value = ConfigValue::new(&key, config.get(&key).cloned());
                value.errors.push(message);
                return vec![value];
            }
            Err(_) => return Vec::new(),
        };
        preflight::check_blocking(&parsed.connection)
            .into_iter()
            .map(|problem| {
                let mut value = ConfigValue::new(problem.key, config.get(problem.key).cloned());
                value.errors.push(problem.message);
                value
            })
            .collect()
    }

    fn task_configs(
        &self,
        config: &ConfigMap,
        _max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        CdcConfig::parse(config)?;
        // One binlog, one reader: Debezium's MySQL connector also runs exactly one task.
        Ok(vec![config.clone()])
    }

    async fn create_task(
        &self,
        config: &ConfigMap,
        context: SourceTaskContext,
    ) -> Result<CdcTask, ConnectError> {
        let parsed = CdcConfig::parse(config)?;
        CdcTask::start(parsed, connector_name(config), &context).await
    }

    async fn sample(
        &self,
        config: &ConfigMap,
        limit: usize,
    ) -> Result<Vec<connect_api::SourceSample>, ConnectError> {
        let parsed = CdcConfig::parse(config)?;
        crate::snapshot::sample::sample(&parsed, connector_name(config), limit)
            .await
            .map_err(ConnectError::from)
    }
}

/// Polling queries, Confluent-JDBC-source-compatible (`io.confluent.connect.jdbc.JdbcSourceConnector`).
#[derive(Debug, Clone, Copy, Default)]
pub struct JdbcQuerySource;

impl SourceConnector for JdbcQuerySource {
    type Task = QueryTask;

    fn info(&self) -> PluginInfo {
        PluginInfo {
            class: "io.confluent.connect.jdbc.JdbcSourceConnector",
            aliases: &["MySqlQuery", "mysql-query", "JdbcSource"],
            version: crate::VERSION,
        }
    }

    fn config_def(&self) -> ConfigDef {
        crate::query::config::query_config_def()
    }

    /// Polling cannot promise it: every mode skips a row whose id or timestamp was assigned
    /// before, but committed after, a row already read (a loss no transaction can undo), and
    /// `bulk` re-reads the whole table on purpose. Transactions still make each poll's rows
    /// and offset atomic when the connector runs with `exactly.once.support=requested`.
    fn exactly_once_support(&self, _config: &ConfigMap) -> ExactlyOnceSupport {
        ExactlyOnceSupport::Unsupported
    }

    fn task_configs(
        &self,
        config: &ConfigMap,
        _max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        QueryConfig::parse(config)?;
        Ok(vec![config.clone()])
    }

    async fn create_task(
        &self,
        config: &ConfigMap,
        context: SourceTaskContext,
    ) -> Result<QueryTask, ConnectError> {
        QueryTask::start(QueryConfig::parse(config)?, &context).await
    }
}
