//! Source and sink plugin traits, their object-safe twins, and [`ConnectorPlugin`].
//!
//! A plugin implements the typed traits (`SourceConnector` + `SourceTask`, or
//! `SinkConnector` + `SinkTask`) with plain `async fn`s; the runtime only sees the erased
//! `Dyn*` twins, which every typed implementation gets for free.
//!
//! Delivery contract (at-least-once by construction):
//! - a source task's records are produced, **then** their `source_offset`s are written to
//!   the offsets topic after Kafka acknowledged them, **then** [`SourceTask::commit`] runs;
//! - a sink task's consumer offsets are committed only after [`SinkTask::flush`] returned
//!   `Ok`, which promises that every record given to `put` so far is durable downstream.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::config::{ConfigDef, ConfigMap, ConfigValue};
use crate::data::{SinkRecord, SourceRecord};
use crate::error::ConnectError;
use crate::metrics::TaskMetrics;
use crate::side_topics::{SideTopicClients, SideTopics};

/// What `GET /connector-plugins` shows, plus the class names the registry accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginInfo {
    /// The canonical class name, e.g. `org.apache.kafka.connect.file.FileStreamSourceConnector`.
    pub class: &'static str,
    /// Further class names (and short names) that resolve to this plugin, e.g.
    /// `io.debezium.connector.mysql.MySqlConnector` for our MySQL source.
    pub aliases: &'static [&'static str],
    pub version: &'static str,
}

/// Stored source offsets of one connector: partition JSON text → (partition, offset).
pub type StoredOffsets = BTreeMap<String, (Map<String, Value>, Map<String, Value>)>;

/// Offsets already stored for the connector when its task starts: source partition map →
/// offset map, read from the offsets topic.
#[derive(Debug, Clone, Default)]
pub struct SourceTaskContext {
    pub connector: String,
    pub task: u32,
    pub offsets: StoredOffsets,
    /// Where the task reports how far it is (e.g. a snapshot's rows done / estimated).
    pub progress: TaskProgress,
    /// Where the task registers its own metrics (exported with `connector` and `task`).
    pub metrics: TaskMetrics,
    /// The runtime's Kafka clients for side topics (a schema history): the worker's
    /// cluster and security settings. `None` only outside a runtime (unit tests).
    pub side_topics: Option<Arc<dyn SideTopics>>,
}

/// A task's own account of its progress, e.g. `{"phase": "snapshot", "rows_done": …}`.
/// The runtime publishes it, at most every few seconds, as `progress` in the task's entry
/// of `GET /connectors/{name}/status` (an extra field Kafka Connect clients ignore).
#[derive(Debug, Clone, Default)]
pub struct TaskProgress {
    state: Arc<std::sync::Mutex<(u64, Option<Value>)>>,
}

impl TaskProgress {
    pub fn set(&self, value: Value) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += 1;
        state.1 = Some(value);
    }

    /// The version (changed by every `set`) and the current value.
    pub fn read(&self) -> (u64, Option<Value>) {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.0, state.1.clone())
    }
}

impl SourceTaskContext {
    /// The offset stored for `partition`, if any (Kafka's `OffsetStorageReader.offset`).
    pub fn offset(&self, partition: &Map<String, Value>) -> Option<&Map<String, Value>> {
        let key = Value::Object(partition.clone()).to_string();
        self.offsets.get(&key).map(|(_, offset)| offset)
    }
}

/// Kafka Connect's `ErrantRecordReporter` (KIP-610): a sink task hands over a record it
/// cannot write, and the runtime applies the connector's `errors.*` policy — with
/// `errors.tolerance=all` the record goes to the dead letter queue (and/or the log) and
/// counts as done; with `none` the report fails, and so should the task.
///
/// `report` returns once the record is durable in the DLQ. A task that reports from
/// `put` or from its own background work must not let `flush` return before its reports
/// returned, so that the record's offset is committed only after that.
pub trait ErrantRecordReporter: Send + Sync + std::fmt::Debug {
    fn report<'a>(
        &'a self,
        record: &'a SinkRecord,
        error: &'a ConnectError,
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
}

/// What the runtime gives a sink task at creation.
#[derive(Debug, Clone, Default)]
pub struct SinkTaskContext {
    pub connector: String,
    pub task: u32,
    /// `Some` when the connector configured a dead letter queue or error logging, as
    /// Kafka's `SinkTaskContext.errantRecordReporter()` is non-null only then.
    pub errant_record_reporter: Option<Arc<dyn ErrantRecordReporter>>,
    /// Where the task registers its own metrics (exported with `connector` and `task`).
    pub metrics: TaskMetrics,
}

/// Whether a source connector can give exactly-once semantics with a given config (Kafka's
/// `ExactlyOnceSupport`, KIP-618): its offsets must name a position from which a restarted
/// task emits exactly the records after the last committed ones, no fewer and no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSupport {
    Supported,
    Unsupported,
    /// The connector does not say (Kafka's `null`, the default).
    Unknown,
}

/// A source connector: describes its config and splits work into task configs.
pub trait SourceConnector: Send + Sync + 'static {
    type Task: SourceTask;

    fn info(&self) -> PluginInfo;
    fn config_def(&self) -> ConfigDef;
    /// Checks across keys, beyond what `config_def` checks per key.
    fn validate(&self, _config: &ConfigMap) -> Vec<ConfigValue> {
        Vec::new()
    }
    /// Asked at validation when the connector has `exactly.once.support=required`.
    fn exactly_once_support(&self, _config: &ConfigMap) -> ExactlyOnceSupport {
        ExactlyOnceSupport::Unknown
    }
    /// Asked at validation when the connector has `transaction.boundary=connector`; the
    /// runtime has no transaction context for tasks yet, so no plugin should answer true.
    fn can_define_transaction_boundaries(&self, _config: &ConfigMap) -> bool {
        false
    }
    /// The side-topic clients a task of this config will ask for (see [`SideTopics`]), so
    /// that the runtime checks them at validation, with the worker's settings, and a bad
    /// bootstrap list or override is a per-key error before any task runs.
    fn side_topic_clients(&self, _config: &ConfigMap) -> Option<SideTopicClients> {
        None
    }
    /// At most `max_tasks` task configs for the connector `config`.
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError>;
    /// Builds a task from one of the maps `task_configs` returned.
    fn create_task(
        &self,
        config: &ConfigMap,
        context: SourceTaskContext,
    ) -> impl Future<Output = Result<Self::Task, ConnectError>> + Send;
    /// A dry run: the records the connector would produce for (at most) `limit` items of
    /// its input, read without writing anything and without moving any offset.
    fn sample(
        &self,
        _config: &ConfigMap,
        _limit: usize,
    ) -> impl Future<Output = Result<Vec<SourceSample>, ConnectError>> + Send {
        async { Err(ConnectError::definite(NO_DRY_RUN)) }
    }
}

/// Why a dry run is refused for a plugin that does not offer one.
pub const NO_DRY_RUN: &str = "this connector does not support dry runs";

/// One input of a source dry run (a row, a line) and the records it gives.
#[derive(Debug, Clone)]
pub struct SourceSample {
    pub input: Value,
    pub records: Vec<SourceRecord>,
}

/// A running source task. `poll` should return within about a second (an empty batch is
/// fine) so that the runtime can pause, stop and commit in time.
pub trait SourceTask: Send + 'static {
    fn poll(&mut self) -> impl Future<Output = Result<Vec<SourceRecord>, ConnectError>> + Send;
    /// Called once the offsets of every record polled so far are stored.
    fn commit(&mut self) -> impl Future<Output = Result<(), ConnectError>> + Send {
        async { Ok(()) }
    }
    /// Whether the records of the last `poll` end at a resume point worth storing at once
    /// rather than at the next `offset.flush.interval.ms` (a finished snapshot chunk, whose
    /// replay after a crash would be expensive). The runtime then waits for Kafka's
    /// acknowledgements and stores the offsets before the next `poll`.
    fn store_offsets_now(&self) -> bool {
        false
    }
    fn stop(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A sink connector.
pub trait SinkConnector: Send + Sync + 'static {
    type Task: SinkTask;

    fn info(&self) -> PluginInfo;
    fn config_def(&self) -> ConfigDef;
    fn validate(&self, _config: &ConfigMap) -> Vec<ConfigValue> {
        Vec::new()
    }
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError>;
    fn create_task(
        &self,
        config: &ConfigMap,
        context: SinkTaskContext,
    ) -> impl Future<Output = Result<Self::Task, ConnectError>> + Send;
    /// A dry run: what the connector would write downstream for each record (already
    /// through converters and SMTs), as JSON, without writing. One answer per record: the
    /// writes it gives (none when it is skipped), or why it cannot be written.
    fn preview(
        &self,
        _config: &ConfigMap,
        _records: &[SinkRecord],
    ) -> Result<Vec<Result<Vec<Value>, ConnectError>>, ConnectError> {
        Err(ConnectError::definite(NO_DRY_RUN))
    }
}

/// A running sink task.
pub trait SinkTask: Send + 'static {
    /// Takes a batch; may buffer what it needs of it.
    ///
    /// The batch is borrowed, not owned: the runtime keeps it to hand the same records to a
    /// retried `put` after a retriable error, so owning it would cost a copy of every batch
    /// per attempt. A task that keeps records past the call (a buffer, a DLQ report) clones
    /// only those; most tasks encode or write them at once and keep nothing.
    fn put(
        &mut self,
        records: &[SinkRecord],
    ) -> impl Future<Output = Result<(), ConnectError>> + Send;
    /// Makes everything given to `put` so far durable downstream.
    fn flush(&mut self) -> impl Future<Output = Result<(), ConnectError>> + Send;
    fn stop(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Object-safe twin of [`SourceConnector`].
pub trait DynSourceConnector: Send + Sync {
    fn info(&self) -> PluginInfo;
    fn config_def(&self) -> ConfigDef;
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue>;
    fn exactly_once_support(&self, config: &ConfigMap) -> ExactlyOnceSupport;
    fn can_define_transaction_boundaries(&self, config: &ConfigMap) -> bool;
    fn side_topic_clients(&self, config: &ConfigMap) -> Option<SideTopicClients>;
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError>;
    fn create_task<'a>(
        &'a self,
        config: &'a ConfigMap,
        context: SourceTaskContext,
    ) -> BoxFuture<'a, Result<Box<dyn DynSourceTask>, ConnectError>>;
    fn sample<'a>(
        &'a self,
        config: &'a ConfigMap,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SourceSample>, ConnectError>>;
}

/// Object-safe twin of [`SourceTask`].
pub trait DynSourceTask: Send {
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, ConnectError>>;
    fn commit(&mut self) -> BoxFuture<'_, Result<(), ConnectError>>;
    /// See [`SourceTask::store_offsets_now`].
    fn store_offsets_now(&self) -> bool;
    fn stop(&mut self) -> BoxFuture<'_, ()>;
}

/// Object-safe twin of [`SinkConnector`].
pub trait DynSinkConnector: Send + Sync {
    fn info(&self) -> PluginInfo;
    fn config_def(&self) -> ConfigDef;
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue>;
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError>;
    fn create_task<'a>(
        &'a self,
        config: &'a ConfigMap,
        context: SinkTaskContext,
    ) -> BoxFuture<'a, Result<Box<dyn DynSinkTask>, ConnectError>>;
    fn preview(
        &self,
        config: &ConfigMap,
        records: &[SinkRecord],
    ) -> Result<Vec<Result<Vec<Value>, ConnectError>>, ConnectError>;
}

/// Object-safe twin of [`SinkTask`].
pub trait DynSinkTask: Send {
    /// See [`SinkTask::put`]: the batch is borrowed so retries reuse it.
    fn put<'a>(&'a mut self, records: &'a [SinkRecord]) -> BoxFuture<'a, Result<(), ConnectError>>;
    fn flush(&mut self) -> BoxFuture<'_, Result<(), ConnectError>>;
    fn stop(&mut self) -> BoxFuture<'_, ()>;
}

impl<T: SourceConnector> DynSourceConnector for T {
    fn info(&self) -> PluginInfo {
        SourceConnector::info(self)
    }
    fn config_def(&self) -> ConfigDef {
        SourceConnector::config_def(self)
    }
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue> {
        SourceConnector::validate(self, config)
    }
    fn exactly_once_support(&self, config: &ConfigMap) -> ExactlyOnceSupport {
        SourceConnector::exactly_once_support(self, config)
    }
    fn can_define_transaction_boundaries(&self, config: &ConfigMap) -> bool {
        SourceConnector::can_define_transaction_boundaries(self, config)
    }
    fn side_topic_clients(&self, config: &ConfigMap) -> Option<SideTopicClients> {
        SourceConnector::side_topic_clients(self, config)
    }
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        SourceConnector::task_configs(self, config, max_tasks)
    }
    fn create_task<'a>(
        &'a self,
        config: &'a ConfigMap,
        context: SourceTaskContext,
    ) -> BoxFuture<'a, Result<Box<dyn DynSourceTask>, ConnectError>> {
        Box::pin(async move {
            let task = SourceConnector::create_task(self, config, context).await?;
            Ok(Box::new(task) as Box<dyn DynSourceTask>)
        })
    }
    fn sample<'a>(
        &'a self,
        config: &'a ConfigMap,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SourceSample>, ConnectError>> {
        Box::pin(SourceConnector::sample(self, config, limit))
    }
}

impl<T: SourceTask> DynSourceTask for T {
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>, ConnectError>> {
        Box::pin(SourceTask::poll(self))
    }
    fn commit(&mut self) -> BoxFuture<'_, Result<(), ConnectError>> {
        Box::pin(SourceTask::commit(self))
    }
    fn store_offsets_now(&self) -> bool {
        SourceTask::store_offsets_now(self)
    }
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(SourceTask::stop(self))
    }
}

impl<T: SinkConnector> DynSinkConnector for T {
    fn info(&self) -> PluginInfo {
        SinkConnector::info(self)
    }
    fn config_def(&self) -> ConfigDef {
        SinkConnector::config_def(self)
    }
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue> {
        SinkConnector::validate(self, config)
    }
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        SinkConnector::task_configs(self, config, max_tasks)
    }
    fn create_task<'a>(
        &'a self,
        config: &'a ConfigMap,
        context: SinkTaskContext,
    ) -> BoxFuture<'a, Result<Box<dyn DynSinkTask>, ConnectError>> {
        Box::pin(async move {
            let task = SinkConnector::create_task(self, config, context).await?;
            Ok(Box::new(task) as Box<dyn DynSinkTask>)
        })
    }
    fn preview(
        &self,
        config: &ConfigMap,
        records: &[SinkRecord],
    ) -> Result<Vec<Result<Vec<Value>, ConnectError>>, ConnectError> {
        SinkConnector::preview(self, config, records)
    }
}

impl<T: SinkTask> DynSinkTask for T {
    fn put<'a>(&'a mut self, records: &'a [SinkRecord]) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(SinkTask::put(self, records))
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), ConnectError>> {
        Box::pin(SinkTask::flush(self))
    }
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(SinkTask::stop(self))
    }
}

/// What a plugin registry holds: one erased connector of either kind.
#[derive(Clone)]
pub enum ConnectorPlugin {
    Source(Arc<dyn DynSourceConnector>),
    Sink(Arc<dyn DynSinkConnector>),
}

impl std::fmt::Debug for ConnectorPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorPlugin")
            .field("class", &self.info().class)
            .field("type", &self.type_name())
            .finish()
    }
}

impl ConnectorPlugin {
    pub fn source(connector: impl SourceConnector) -> Self {
        Self::Source(Arc::new(connector))
    }

    pub fn sink(connector: impl SinkConnector) -> Self {
        Self::Sink(Arc::new(connector))
    }

    pub fn info(&self) -> PluginInfo {
        match self {
            Self::Source(c) => c.info(),
            Self::Sink(c) => c.info(),
        }
    }

    pub fn config_def(&self) -> ConfigDef {
        match self {
            Self::Source(c) => c.config_def(),
            Self::Sink(c) => c.config_def(),
        }
    }

    pub fn validate(&self, config: &ConfigMap) -> Vec<ConfigValue> {
        match self {
            Self::Source(c) => c.validate(config),
            Self::Sink(c) => c.validate(config),
        }
    }

    pub fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        match self {
            Self::Source(c) => c.task_configs(config, max_tasks),
            Self::Sink(c) => c.task_configs(config, max_tasks),
        }
    }

    /// `source` or `sink`, as in the REST API's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Source(_) => "source",
            Self::Sink(_) => "sink",
        }
    }
}
