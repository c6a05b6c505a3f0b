//! The connector plugins this binary ships. Connector crates stay independent of each other;
//! this is the one place that lists them.

use connect::{PluginRegistry, builtin_plugins};
use connect_api::ConnectorPlugin;

pub(crate) fn all() -> PluginRegistry {
    builtin_plugins()
        .with(ConnectorPlugin::source(mysql_source::MySqlCdcSource))
        .with(ConnectorPlugin::source(mysql_source::JdbcQuerySource))
        .with(ConnectorPlugin::sink(elasticsearch_sink::ElasticsearchSink))
}
