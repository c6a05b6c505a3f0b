use std::path::PathBuf;

use connect_api::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConnectError, Importance, PluginInfo,
    SinkConnector, SinkRecord, SinkTask, SinkTaskContext,
};
use serde_json::Value;
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;

const FILE: &str = "file";

/// `FileStreamSinkConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileStreamSink;

impl SinkConnector for FileStreamSink {
    type Task = FileStreamSinkTask;

    fn info(&self) -> PluginInfo {
        PluginInfo {
            class: "org.apache.kafka.connect.file.FileStreamSinkConnector",
            aliases: &["FileStreamSink", "file-stream-sink"],
            version: crate::VERSION,
        }
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(FILE, ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("Destination filename. If not specified, the standard output will be used"),
        )
    }

    fn validate(&self, config: &ConfigMap) -> Vec<connect_api::ConfigValue> {
        let mut value = connect_api::ConfigValue::new(FILE, config.get(FILE).cloned());
        if config.get(FILE).is_none_or(|f| f.trim().is_empty()) {
            value
                .errors
                .push("Writing to standard output is not supported; name a file".to_owned());
        }
        vec![value]
    }

    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        // Kafka hands the same config to every task; they all append to the same file.
        Ok(vec![config.clone(); max_tasks.max(1)])
    }

    async fn create_task(
        &self,
        config: &ConfigMap,
        _context: SinkTaskContext,
    ) -> Result<FileStreamSinkTask, ConnectError> {
        let def = self.config_def();
        let parsed = def.parse(config)?;
        let file = parsed.string(FILE);
        if file.trim().is_empty() {
            return Err(ConnectError::config(
                FILE,
                "writing to standard output is not supported; name a file",
            ));
        }
        let path = PathBuf::from(file);
        let handle = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|error| {
                ConnectError::definite(format!("cannot open {}: {error}", path.display()))
            })?;
        Ok(FileStreamSinkTask { path, file: handle })
    }
}

/// Appends one line per record.
#[derive(Debug)]
pub struct FileStreamSinkTask {
    path: PathBuf,
    file: File,
}

/// Kafka writes `value.toString()`: a string as is, anything else as text.
fn line_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

impl SinkTask for FileStreamSinkTask {
    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        let mut buffer = String::new();
        for record in records {
            buffer.push_str(&line_of(&record.record.value));
            buffer.push('\n');
        }
        self.file
            .write_all(buffer.as_bytes())
            .await
            .map_err(|error| {
                ConnectError::retriable(format!("cannot write {}: {error}", self.path.display()))
            })
    }

    async fn flush(&mut self) -> Result<(), ConnectError> {
        self.file.flush().await.map_err(|error| {
            ConnectError::retriable(format!("cannot flush {}: {error}", self.path.display()))
        })?;
        self.file.sync_data().await.map_err(|error| {
            ConnectError::retriable(format!("cannot sync {}: {error}", self.path.display()))
        })
    }
}
