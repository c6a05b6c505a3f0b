//! Kafka Connect's REST entities (`KR:entities/*.java`), field for field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auto_restart::AutoRestartStatus;
use crate::storage::status_store::State;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthInfo {
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

/// The create/PUT/PATCH/GET answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub connector_type: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Ours: restarts made by auto-restart and the next one (Connect clients ignore it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<AutoRestartStatus>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskState {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Ours: what the task reports of its progress while RUNNING, e.g. a CDC snapshot's
    /// `rows_done`, `rows_estimated` and `eta_seconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<serde_json::Value>,
    /// Ours: restarts made by auto-restart and the next one (Connect clients ignore it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<AutoRestartStatus>,
}

/// `GET /connectors/{c}/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub connector_type: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: BTreeMap<String, String>,
}

/// `POST /connectors` body. Config values may be any JSON scalar; they are kept as strings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateConnectorRequest {
    /// Not blank, without `/`; when absent, the config's `name`.
    #[schema(pattern = r"^[^/]*[^/\s][^/]*$")]
    pub name: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub config: Option<BTreeMap<String, Value>>,
    /// `RUNNING`, `PAUSED` or `STOPPED` (case-insensitive).
    #[schema(
        pattern = r"^\s*([Rr][Uu][Nn][Nn][Ii][Nn][Gg]|[Pp][Aa][Uu][Ss][Ee][Dd]|[Ss][Tt][Oo][Pp][Pp][Ee][Dd])\s*$"
    )]
    pub initial_state: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub order: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: Option<ConfigValueInfo>,
}

/// `PUT /connector-plugins/{p}/config/validate`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginDesc {
    pub class: String,
    #[serde(rename = "type")]
    pub plugin_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectorOffset {
    #[schema(value_type = Object)]
    pub partition: serde_json::Map<String, Value>,
    #[schema(value_type = Option<Object>)]
    pub offset: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// Body of `PATCH …/offsets`: as [`ConnectorOffsets`], with at least one entry (Kafka
/// Connect refuses an empty list).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AlterOffsetsRequest {
    #[schema(min_items = 1)]
    pub offsets: Vec<ConnectorOffset>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActiveTopics {
    pub topics: Vec<String>,
}
