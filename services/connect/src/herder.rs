//! What the REST API asks of the cluster. Every worker answers every request itself:
//! reads come from the stores (which every worker tails), writes go straight to the
//! config topic, whose single partition orders them; the worker the assignment picks then
//! acts on them. So there is no leader to forward to and no 409 "no known leader".

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use broker_core::secrets::HIDDEN;
use connect_api::{ConfigMap, ConfigType, ConnectorPlugin};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Map, Value};

use crate::connector_config;
use crate::error::RestError;
use crate::rest::entities::{
    ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo, ConnectorInfo, ConnectorOffset,
    ConnectorState, ConnectorStateInfo, TaskId, TaskInfo, TaskState,
};
use crate::runtime::Runtime;
use crate::storage::config_store::TargetState;
use crate::storage::status_store::State;
use crate::worker::sink::group_of;

/// Whether `key` holds a secret: PASSWORD in the plugin's ConfigDef, or a name that says so.
fn is_secret(plugin: Option<&ConnectorPlugin>, key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let by_name = lower
        .rsplit('.')
        .next()
        .is_some_and(|last| last.contains("password") || last == "secret")
        || lower.ends_with("secret.key")
        || lower.ends_with("secret_access_key")
        // Client settings a connector passes on (`producer.override.sasl.jaas.config`,
        // `schema.history.internal.consumer.sasl.jaas.config`, schema registry auth).
        || lower.ends_with("sasl.jaas.config")
        || lower.ends_with("basic.auth.user.info");
    by_name
        || plugin.is_some_and(|p| {
            p.config_def()
                .key(key)
                .is_some_and(|k| k.config_type == ConfigType::Password)
        })
}

/// A config as shown to clients: secrets replaced by `[hidden]`.
pub fn hide_secrets(runtime: &Runtime, config: &ConfigMap) -> ConfigMap {
    let plugin = config
        .get("connector.class")
        .and_then(|c| runtime.plugins.find(c));
    config
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret(plugin, k) && !v.starts_with("${") {
                HIDDEN.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

pub fn connector_type(runtime: &Runtime, config: &ConfigMap) -> String {
    config
        .get("connector.class")
        .and_then(|c| runtime.plugins.find(c))
        .map_or("unknown", |p| p.type_name())
        .to_owned()
}

pub fn connector_names(runtime: &Runtime) -> Vec<String> {
    runtime
        .configs
        .log
        .read(|s| s.connectors.keys().cloned().collect())
}

pub fn stored_config(runtime: &Runtime, name: &str) -> Result<ConfigMap, RestError> {
    runtime
        .configs
        .log
        .read(|s| s.connectors.get(name).cloned())
        .ok_or_else(|| RestError::connector_not_found(name))
}

pub fn connector_info(runtime: &Runtime, name: &str) -> Result<ConnectorInfo, RestError> {
    let config = stored_config(runtime, name)?;
    let task_count = runtime
        .configs
        .log
        .read(|s| s.tasks.get(name).map_or(0, Vec::len));
    Ok(ConnectorInfo {
        name: name.to_owned(),
        config: hide_secrets(runtime, &config),
        tasks: (0..task_count)
            .map(|i| TaskId {
                connector: name.to_owned(),
                task: u32::try_from(i).unwrap_or(u32::MAX),
            })
            .collect(),
        connector_type: connector_type(runtime, &config),
    })
}

pub fn task_infos(runtime: &Runtime, name: &str) -> Result<Vec<TaskInfo>, RestError> {
    stored_config(runtime, name)?;
    let tasks = runtime
        .configs
        .log
        .read(|s| s.tasks.get(name).cloned().unwrap_or_default());
    Ok(tasks
        .iter()
        .enumerate()
        .map(|(i, config)| TaskInfo {
            id: TaskId {
                connector: name.to_owned(),
                task: u32::try_from(i).unwrap_or(u32::MAX),
            },
            config: hide_secrets(runtime, config),
        })
        .collect())
}

pub fn connector_status(runtime: &Runtime, name: &str) -> Result<ConnectorStateInfo, RestError> {
    let config = stored_config(runtime, name)?;
    let status = runtime
        .statuses
        .connector(name)
        .ok_or_else(|| RestError::not_found(format!("No status found for connector {name}")))?;
    let task_count = runtime
        .configs
        .log
        .read(|s| s.tasks.get(name).map_or(0, Vec::len));
    let known: BTreeMap<u32, _> = runtime.statuses.tasks(name).into_iter().collect();
    let tasks = (0..u32::try_from(task_count).unwrap_or(0))
        .map(|id| match known.get(&id) {
            Some(status) => TaskState {
                id,
                state: status.state,
                worker_id: status.worker_id.clone(),
                trace: status.trace.clone().filter(|t| !t.is_empty()),
                progress: running_progress(status),
                auto_restart: status.auto_restart.clone(),
            },
            None => TaskState {
                id,
                state: State::Unassigned,
                worker_id: runtime.worker_id.clone(),
                trace: None,
                progress: None,
                auto_restart: None,
            },
        })
        .collect();
    Ok(ConnectorStateInfo {
        name: name.to_owned(),
        connector: ConnectorState {
            state: status.state,
            worker_id: status.worker_id,
            trace: status.trace.filter(|t| !t.is_empty()),
            auto_restart: status.auto_restart,
        },
        tasks,
        connector_type: connector_type(runtime, &config),
    })
}

pub fn task_status(runtime: &Runtime, name: &str, task: u32) -> Result<TaskState, RestError> {
    stored_config(runtime, name)?;
    let status = runtime
        .statuses
        .task(name, task)
        .ok_or_else(|| RestError::not_found(format!("No status found for task {name}-{task}")))?;
    Ok(TaskState {
        id: task,
        state: status.state,
        worker_id: status.worker_id.clone(),
        trace: status.trace.clone().filter(|t| !t.is_empty()),
        progress: running_progress(&status),
        auto_restart: status.auto_restart.clone(),
    })
}

/// Progress is shown only while the task runs; a paused or failed task's last report
/// would be stale.
fn running_progress(status: &crate::storage::status_store::Status) -> Option<serde_json::Value> {
    (status.state == State::Running)
        .then(|| status.progress.clone())
        .flatten()
}

/// Kafka's `ConfigInfos` for `config`.
pub fn validate_config(runtime: &Runtime, config: &ConfigMap) -> Result<ConfigInfos, RestError> {
    let class = config
        .get("connector.class")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            // Kafka prints the whole map here; ours has its secrets hidden first.
            RestError::bad_request(format!(
                "Connector config {:?} contains no connector type",
                hide_secrets(runtime, config)
            ))
        })?;
    let plugin = runtime.plugins.find(class).ok_or_else(|| {
        RestError::bad_request(format!(
            "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}",
            runtime.plugins.plugins().iter().map(|p| p.info().class).collect::<Vec<_>>().join(", ")
        ))
    })?;
    // As Kafka's herder does, validate what the connector will get: references resolved.
    // The answer shows the references, not what they resolved to.
    let resolved = crate::config_providers::resolve(config)
        .map_err(|error| RestError::bad_request(error.to_string()))?;
    let (def, mut values) = connector_config::validate(plugin, &resolved, &runtime.policies);
    // Side-topic clients (a schema history) against this worker's cluster and policy.
    if let ConnectorPlugin::Source(source) = plugin
        && let Some(request) = source.side_topic_clients(&resolved)
    {
        let issues = crate::worker::side_topics::validate(
            &request,
            runtime.clients.cluster().bootstrap_servers(),
            runtime.policies.override_policy,
        );
        connector_config::add_issues(&mut values, &resolved, issues);
    }
    let mut groups: Vec<String> = Vec::new();
    for key in def.keys() {
        if let Some(group) = &key.group
            && !groups.contains(group)
        {
            groups.push(group.clone());
        }
    }
    let error_count = values.iter().map(|v| v.errors.len()).sum();
    let configs = values
        .into_iter()
        .map(|value| {
            let key = def.key(&value.name);
            let secret = is_secret(Some(plugin), &value.name);
            ConfigInfo {
                definition: key.map_or_else(
                    || ConfigKeyInfo {
                        name: value.name.clone(),
                        config_type: "STRING".to_owned(),
                        required: false,
                        default_value: None,
                        importance: "LOW".to_owned(),
                        documentation: String::new(),
                        group: None,
                        width: "NONE".to_owned(),
                        display_name: value.name.clone(),
                        dependents: Vec::new(),
                        order: -1,
                    },
                    |key| ConfigKeyInfo {
                        name: key.name.clone(),
                        config_type: key.config_type.name().to_owned(),
                        required: key.required(),
                        default_value: key.default.clone(),
                        importance: key.importance.name().to_owned(),
                        documentation: key.documentation.clone(),
                        group: key.group.clone(),
                        width: key.width.name().to_owned(),
                        display_name: key.display_name.clone(),
                        dependents: Vec::new(),
                        order: key.order,
                    },
                ),
                value: Some(ConfigValueInfo {
                    value: if secret && value.value.is_some() {
                        Some(HIDDEN.to_owned())
                    } else if let Some(raw) = config
                        .get(&value.name)
                        .filter(|raw| broker_core::secrets::has_reference(raw))
                    {
                        Some(raw.clone())
                    } else {
                        value.value
                    },
                    name: value.name,
                    recommended_values: value.recommended_values,
                    errors: value.errors,
                    visible: value.visible,
                }),
            }
        })
        .collect();
    Ok(ConfigInfos {
        name: plugin.info().class.to_owned(),
        error_count,
        groups,
        configs,
    })
}

/// Validates before a write: 400 with Kafka's message listing every error.
fn ensure_valid(runtime: &Runtime, config: &ConfigMap) -> Result<(), RestError> {
    let infos = validate_config(runtime, config)?;
    if infos.error_count == 0 {
        return Ok(());
    }
    let errors: Vec<String> = infos
        .configs
        .iter()
        .filter_map(|c| c.value.as_ref())
        .flat_map(|v| v.errors.iter().cloned())
        .collect();
    Err(RestError::bad_request(format!(
        "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
        errors.len(),
        errors.join("\n")
    )))
}

/// Keeps stored secrets where the client sent back `[hidden]`.
fn restore_hidden(mut config: ConfigMap, previous: Option<&ConfigMap>) -> ConfigMap {
    if let Some(previous) = previous {
        for (key, value) in &mut config {
            if value == HIDDEN
                && let Some(old) = previous.get(key)
            {
                value.clone_from(old);
            }
        }
    }
    config
}

/// JSON config values → strings, as Jackson coerces them into `Map<String,String>`.
pub fn stringify(config: BTreeMap<String, Value>) -> Result<ConfigMap, RestError> {
    config
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            Value::Null => Err(RestError::bad_request(format!(
                "Config value of {k} must not be null"
            ))),
            _ => Err(RestError::bad_request(format!(
                "Config value of {k} must be a string"
            ))),
        })
        .collect()
}

pub async fn create_connector(
    runtime: &Runtime,
    name: &str,
    config: ConfigMap,
    initial: Option<TargetState>,
) -> Result<ConnectorInfo, RestError> {
    if runtime
        .configs
        .log
        .read(|s| s.connectors.contains_key(name))
    {
        return Err(RestError::conflict(format!(
            "Connector {name} already exists"
        )));
    }
    let mut config = config;
    config.insert("name".to_owned(), name.to_owned());
    ensure_valid(runtime, &config)?;
    runtime
        .configs
        .put_connector(name, &config, initial)
        .await?;
    connector_info(runtime, name)
}

/// PUT: returns whether the connector was created.
pub async fn put_config(
    runtime: &Runtime,
    name: &str,
    config: ConfigMap,
) -> Result<(bool, ConnectorInfo), RestError> {
    if let Some(body_name) = config.get("name")
        && body_name.trim() != name
    {
        return Err(RestError::bad_request(format!(
            "Connector name configuration ({body_name}) doesn't match connector name in the URL ({name})"
        )));
    }
    let previous = runtime
        .configs
        .log
        .read(|s| s.connectors.get(name).cloned());
    let mut config = restore_hidden(config, previous.as_ref());
    config.insert("name".to_owned(), name.to_owned());
    ensure_valid(runtime, &config)?;
    runtime.configs.put_connector(name, &config, None).await?;
    Ok((previous.is_none(), connector_info(runtime, name)?))
}

pub async fn patch_config(
    runtime: &Runtime,
    name: &str,
    patch: BTreeMap<String, Value>,
) -> Result<ConnectorInfo, RestError> {
    let mut config = stored_config(runtime, name)?;
    for (key, value) in patch {
        match value {
            Value::Null => {
                config.remove(&key);
            }
            Value::String(s) if s == HIDDEN => {}
            Value::String(s) => {
                config.insert(key, s);
            }
            Value::Number(n) => {
                config.insert(key, n.to_string());
            }
            Value::Bool(b) => {
                config.insert(key, b.to_string());
            }
            _ => {
                return Err(RestError::bad_request(format!(
                    "Config value of {key} must be a string"
                )));
            }
        }
    }
    if config.get("name").is_some_and(|n| n != name) {
        return Err(RestError::bad_request(
            "Connector name configuration must not be patched",
        ));
    }
    config.insert("name".to_owned(), name.to_owned());
    ensure_valid(runtime, &config)?;
    runtime.configs.put_connector(name, &config, None).await?;
    connector_info(runtime, name)
}

pub async fn delete_connector(runtime: &Runtime, name: &str) -> Result<(), RestError> {
    stored_config(runtime, name)?;
    let task_count = runtime
        .configs
        .log
        .read(|s| s.tasks.get(name).map_or(0, Vec::len));
    runtime.configs.delete_connector(name).await?;
    runtime
        .statuses
        .delete(name, u32::try_from(task_count).unwrap_or(0))
        .await?;
    Ok(())
}

pub async fn set_target_state(
    runtime: &Runtime,
    name: &str,
    state: TargetState,
) -> Result<(), RestError> {
    stored_config(runtime, name)?;
    runtime.configs.put_target_state(name, state).await?;
    Ok(())
}

/// Kafka's restart: `None` = 204 (connector only), `Some(status)` = 202 with the
/// instances to be restarted shown as RESTARTING.
pub async fn restart_connector(
    runtime: &Runtime,
    name: &str,
    include_tasks: bool,
    only_failed: bool,
) -> Result<Option<ConnectorStateInfo>, RestError> {
    stored_config(runtime, name)?;
    runtime
        .configs
        .request_restart(name, include_tasks, only_failed)
        .await?;
    if !include_tasks && !only_failed {
        return Ok(None);
    }
    let mut status = connector_status(runtime, name)?;
    if !only_failed || status.connector.state == State::Failed {
        status.connector.state = State::Restarting;
    }
    if include_tasks {
        for task in &mut status.tasks {
            if !only_failed || task.state == State::Failed {
                task.state = State::Restarting;
            }
        }
    }
    Ok(Some(status))
}

pub async fn restart_task(runtime: &Runtime, name: &str, task: u32) -> Result<(), RestError> {
    stored_config(runtime, name)?;
    let count = runtime
        .configs
        .log
        .read(|s| s.tasks.get(name).map_or(0, Vec::len));
    if task as usize >= count {
        return Err(RestError::not_found(format!("Unknown task: {name}-{task}")));
    }
    runtime.configs.request_task_restart(name, task).await?;
    Ok(())
}

fn ensure_stopped(runtime: &Runtime, name: &str) -> Result<ConfigMap, RestError> {
    let config = stored_config(runtime, name)?;
    let target = runtime.configs.log.read(|s| s.target_state(name));
    let stopped = runtime
        .statuses
        .connector(name)
        .is_some_and(|s| s.state == State::Stopped);
    if target != TargetState::Stopped || !stopped {
        return Err(RestError::bad_request(format!(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )));
    }
    Ok(config)
}

fn sink_topics(runtime: &Runtime, name: &str, config: &ConfigMap) -> Vec<String> {
    let mut topics =
        connect_api::config::split_list(config.get("topics").map_or("", String::as_str));
    topics.extend(runtime.statuses.topics(name));
    topics.sort();
    topics.dedup();
    topics
}

fn sink_consumer(runtime: &Runtime, name: &str) -> Result<BaseConsumer, RestError> {
    let mut config = runtime.clients.consumer_config(&group_of(name));
    config.set("enable.auto.commit", "false");
    broker_core::clients::create(&config, "sink offsets client").map_err(RestError::from)
}

pub async fn offsets(runtime: &Runtime, name: &str) -> Result<Vec<ConnectorOffset>, RestError> {
    let config = stored_config(runtime, name)?;
    if connector_type(runtime, &config) != "sink" {
        return Ok(runtime
            .offsets
            .offsets(name)
            .into_values()
            .map(|(partition, offset)| ConnectorOffset {
                partition,
                offset: Some(offset),
            })
            .collect());
    }
    let topics = sink_topics(runtime, name, &config);
    let consumer = sink_consumer(runtime, name)?;
    let offsets = broker_core::task::spawn_blocking(
        "connect-sink-offsets-read",
        move || -> Result<Vec<ConnectorOffset>, rdkafka::error::KafkaError> {
            let mut list = TopicPartitionList::new();
            for topic in &topics {
                let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
                for t in metadata.topics() {
                    for p in t.partitions() {
                        list.add_partition(topic, p.id());
                    }
                }
            }
            let committed = consumer.committed_offsets(list, Duration::from_secs(10))?;
            Ok(committed
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(offset) => {
                        let mut partition = Map::new();
                        partition.insert("kafka_topic".to_owned(), Value::from(e.topic()));
                        partition.insert("kafka_partition".to_owned(), Value::from(e.partition()));
                        let mut value = Map::new();
                        value.insert("kafka_offset".to_owned(), Value::from(offset));
                        Some(ConnectorOffset {
                            partition,
                            offset: Some(value),
                        })
                    }
                    _ => None,
                })
                .collect())
        },
    )
    .await
    .map_err(|e| {
        RestError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("offset lookup failed: {e}"),
        )
    })?
    .map_err(|e| RestError::from(broker_core::BrokerError::kafka("sink offset lookup", e)))?;
    Ok(offsets)
}

pub async fn alter_offsets(
    runtime: &Runtime,
    name: &str,
    offsets: Vec<ConnectorOffset>,
) -> Result<String, RestError> {
    let config = ensure_stopped(runtime, name)?;
    if offsets.is_empty() {
        return Err(RestError::bad_request("Offsets to modify cannot be empty"));
    }
    if connector_type(runtime, &config) != "sink" {
        let writes: Vec<_> = offsets
            .into_iter()
            .map(|o| (o.partition, o.offset))
            .collect();
        runtime.offsets.write(name, &writes).await?;
        return Ok("The offsets for this connector have been altered successfully".to_owned());
    }
    let parsed = parse_sink_offsets(&offsets)?;
    let mut list = TopicPartitionList::new();
    let mut resets = Vec::new();
    for (topic, partition, offset) in parsed {
        match offset {
            Some(offset) => list
                .add_partition_offset(&topic, partition, Offset::Offset(offset))
                .map_err(|e| RestError::bad_request(e.to_string()))?,
            None => resets.push((topic, partition)),
        }
    }
    reset_sink_partitions(runtime, name, &resets).await?;
    if list.count() == 0 {
        return Ok(SINK_ALTERED.to_owned());
    }
    let consumer = sink_consumer(runtime, name)?;
    broker_core::task::spawn_blocking("connect-sink-offsets-alter", move || {
        consumer.commit(&list, rdkafka::consumer::CommitMode::Sync)
    })
    .await
    .map_err(|e| {
        RestError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("offset commit failed: {e}"),
        )
    })?
    .map_err(|e| RestError::from(broker_core::BrokerError::kafka("sink offset alter", e)))?;
    Ok(SINK_ALTERED.to_owned())
}

const SINK_ALTERED: &str = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.";

/// A sink partition's new position: `None` resets it (its commit is deleted).
type SinkOffset = (String, i32, Option<i64>);

/// Kafka Connect's `SinkUtils.parseSinkConnectorOffsets`: `kafka_topic` and
/// `kafka_partition` required, numbers accepted as JSON numbers or strings, `"offset":
/// null` a reset, and its messages for each mistake.
fn parse_sink_offsets(offsets: &[ConnectorOffset]) -> Result<Vec<SinkOffset>, RestError> {
    /// Java's `String.valueOf` of a JSON value: "10" and 10 both read as 10.
    fn text(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
    offsets
        .iter()
        .map(|entry| {
            let (Some(topic), Some(partition)) = (
                entry.partition.get("kafka_topic"),
                entry.partition.get("kafka_partition"),
            ) else {
                return Err(RestError::bad_request(
                    "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'",
                ));
            };
            if topic.is_null() {
                return Err(RestError::bad_request(
                    "Kafka topic names must be valid strings and may not be null",
                ));
            }
            if partition.is_null() {
                return Err(RestError::bad_request(
                    "Kafka partitions must be valid numbers and may not be null",
                ));
            }
            let partition: i32 = text(partition).parse().map_err(|_| {
                RestError::bad_request(format!(
                    "Failed to parse the following Kafka partition value in the provided offsets: '{}'. Partition values for sink connectors need to be integers.",
                    text(partition)
                ))
            })?;
            let offset = match &entry.offset {
                None => None,
                Some(offset) => {
                    let Some(value) = offset.get("kafka_offset") else {
                        return Err(RestError::bad_request(
                            "The offset for a sink connector should either be null or contain the key 'kafka_offset'",
                        ));
                    };
                    Some(text(value).parse::<i64>().map_err(|_| {
                        RestError::bad_request(format!(
                            "Failed to parse the following Kafka offset value in the provided offsets: '{}'. Offset values for sink connectors need to be integers.",
                            text(value)
                        ))
                    })?)
                }
            };
            Ok((text(topic), partition, offset))
        })
        .collect()
}

/// Deletes the sink group's commits on `partitions` (KIP-875's `"offset": null`), as Kafka
/// Connect does with `Admin.deleteConsumerGroupOffsets`: the task then starts there from
/// `consumer.auto.offset.reset`.
async fn reset_sink_partitions(
    runtime: &Runtime,
    name: &str,
    partitions: &[(String, i32)],
) -> Result<(), RestError> {
    if partitions.is_empty() {
        return Ok(());
    }
    let wire =
        broker_core::wire::WireClient::new(runtime.clients.cluster(), Duration::from_secs(30))
            .map_err(|e| RestError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    wire.delete_committed_offsets(&group_of(name), partitions)
        .await
        .map_err(|e| {
            RestError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Failed to reset the offsets of sink partitions: {e}"),
            )
        })
}

pub async fn reset_offsets(runtime: &Runtime, name: &str) -> Result<String, RestError> {
    let config = ensure_stopped(runtime, name)?;
    if connector_type(runtime, &config) != "sink" {
        let writes: Vec<_> = runtime
            .offsets
            .offsets(name)
            .into_values()
            .map(|(partition, _)| (partition, None))
            .collect();
        runtime.offsets.write(name, &writes).await?;
        return Ok("The offsets for this connector have been reset successfully".to_owned());
    }
    let admin = runtime.clients.admin()?;
    let group = group_of(name);
    let results = admin
        .delete_groups(&[group.as_str()], &rdkafka::admin::AdminOptions::new())
        .await
        .map_err(|e| RestError::from(broker_core::BrokerError::kafka("sink offset reset", e)))?;
    for result in results {
        if let Err((_, code)) = result
            && code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound
        {
            return Err(RestError::from(broker_core::BrokerError::Resource {
                operation: "sink offset reset",
                resource: group.clone(),
                code,
            }));
        }
    }
    Ok("The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.".to_owned())
}

#[cfg(test)]
mod secret_tests {
    use super::is_secret;

    #[test]
    fn client_credentials_passed_to_connectors_are_secret() {
        for key in [
            "database.password",
            "producer.override.sasl.jaas.config",
            "schema.history.internal.consumer.sasl.jaas.config",
            "value.converter.basic.auth.user.info",
            "consumer.override.ssl.key.password",
        ] {
            assert!(is_secret(None, key), "{key}");
        }
        assert!(!is_secret(None, "topic.prefix"));
    }
}
