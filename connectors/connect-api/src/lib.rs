//! The plugin API of the connector runtime, kept apart from the runtime so that connector
//! crates (file stream, MySQL source, Elasticsearch sink) depend on this small crate only.
//!
//! - [`data`]: Connect records, schemas and headers (values are JSON values with an optional
//!   Connect schema, the same model JsonConverter writes on the wire).
//! - [`config`]: `ConfigDef`, the typed description of a connector's string map, its
//!   per-key validation (Kafka's `ConfigInfos` shape) and typed getters.
//! - [`connector`]: the typed `SourceConnector`/`SourceTask`/`SinkConnector`/`SinkTask`
//!   traits, their object-safe twins and [`ConnectorPlugin`], what a registry holds.
//! - [`error`]: [`ConnectError`], sorted into retriable and definite.
//! - [`metrics`]: [`TaskMetrics`], where a task registers counters and gauges that the
//!   runtime exports on `/metrics`.
//! - [`side_topics`]: [`SideTopics`], the runtime's Kafka clients for topics a source task
//!   writes beside its records (Debezium's schema history), in plain types.

pub mod config;
pub mod connector;
pub mod data;
pub mod error;
pub mod metrics;
pub mod side_topics;

/// Named tasks and the secret placeholder, re-exported so that plugins need no other crate
/// of the workspace.
pub use common::{HIDDEN, task};
pub use config::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance, ParsedConfig, Width,
};
pub use connector::{
    ConnectorPlugin, DynSinkConnector, DynSinkTask, DynSourceConnector, DynSourceTask,
    ErrantRecordReporter, ExactlyOnceSupport, NO_DRY_RUN, PluginInfo, SinkConnector, SinkTask,
    SinkTaskContext, SourceConnector, SourceSample, SourceTask, SourceTaskContext, StoredOffsets,
    TaskProgress,
};
pub use data::{
    ConnectRecord, Field, Header, Parameters, Schema, SchemaType, SinkRecord, SourceRecord,
};
pub use error::ConnectError;
pub use metrics::{Counter, Gauge, TaskMetrics};
pub use side_topics::{
    ClientOverride, NewSideTopic, SideTopicClients, SideTopicWriter, SideTopics,
};
