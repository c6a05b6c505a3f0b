//! The plugin registry: a plain list of [`ConnectorPlugin`]s, looked up by class name.
//!
//! The connector crates depend only on `connect-api`; whoever builds the process registers
//! their plugins (`builtin_plugins().with(ConnectorPlugin::source(MySqlSource))`). A class
//! resolves when it equals a plugin's class or one of its aliases, or when its simple name
//! (after the last `.`) equals theirs with or without the `Connector` suffix, as Kafka's
//! plugin aliases do. So `io.debezium.connector.mysql.MySqlConnector` resolves exactly when a
//! plugin lists it as an alias.

use connect_api::ConnectorPlugin;

#[derive(Debug, Clone, Default)]
pub struct PluginRegistry {
    plugins: Vec<ConnectorPlugin>,
}

/// The connectors shipped with the runtime itself: Kafka's file stream source and sink.
pub fn builtin_plugins() -> PluginRegistry {
    PluginRegistry::default()
        .with(ConnectorPlugin::source(file_stream::FileStreamSource))
        .with(ConnectorPlugin::sink(file_stream::FileStreamSink))
}

fn simple(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

fn matches(wanted: &str, candidate: &str) -> bool {
    if wanted == candidate {
        return true;
    }
    let (wanted, candidate) = (simple(wanted), simple(candidate));
    wanted == candidate
        || candidate.strip_suffix("Connector") == Some(wanted)
        || wanted.strip_suffix("Connector") == Some(candidate)
}

impl PluginRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin; a later plugin with the same class replaces the earlier one.
    pub fn with(mut self, plugin: ConnectorPlugin) -> Self {
        self.register(plugin);
        self
    }

    pub fn register(&mut self, plugin: ConnectorPlugin) {
        let class = plugin.info().class;
        self.plugins.retain(|p| p.info().class != class);
        self.plugins.push(plugin);
    }

    pub fn plugins(&self) -> &[ConnectorPlugin] {
        &self.plugins
    }

    /// The plugin for `class` (exact names first, then simple names and aliases).
    pub fn find(&self, class: &str) -> Option<&ConnectorPlugin> {
        let class = class.trim();
        self.plugins
            .iter()
            .find(|p| p.info().class == class || p.info().aliases.contains(&class))
            .or_else(|| {
                self.plugins.iter().find(|p| {
                    let info = p.info();
                    matches(class, info.class) || info.aliases.iter().any(|a| matches(class, a))
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_class_simple_name_and_alias() {
        let registry = builtin_plugins();
        for name in [
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "FileStreamSourceConnector",
            "FileStreamSource",
            "file-stream-source",
        ] {
            assert_eq!(
                registry.find(name).map(|p| p.type_name()),
                Some("source"),
                "{name}"
            );
        }
        assert_eq!(
            registry.find("FileStreamSink").map(|p| p.type_name()),
            Some("sink")
        );
        assert!(
            registry
                .find("io.debezium.connector.mysql.MySqlConnector")
                .is_none()
        );
    }
}
