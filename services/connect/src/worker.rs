//! Running connectors and tasks on this worker.
//!
//! - [`membership`]: which workers are alive, from Kafka's group coordinator.
//! - [`assignment`]: the same pure function on every worker turns (members, configs) into
//!   "who runs what", so no leader has to hand out work.
//! - [`supervisor`]: starts, stops, pauses and restarts what is assigned here;
//!   `auto_restarter` restarts what FAILED, with backoff.
//! - [`source`] / [`sink`]: the task loops, at-least-once by construction; exactly-once
//!   sources end transactions at the connector's boundary (`source_transaction`) and keep
//!   offsets where `offsets.storage.topic` says (`source_offsets`).
//! - [`task_metrics`]: Kafka Connect's per-task metric groups and the plugins' metrics.
//! - [`topics`]: the topics a source task writes to (recorded; created with KIP-158).
//! - [`side_topics`]: the Kafka clients a source task gets for topics beside its records
//!   (a schema history), built from the worker's properties.

pub mod assignment;
mod auto_restarter;
mod errant;
pub mod membership;
pub mod side_topics;
pub mod sink;
pub mod source;
mod source_batch;
mod source_offsets;
mod source_transaction;
pub mod supervisor;
pub mod task_metrics;
mod task_trace;
pub mod topics;
pub mod transactions;

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A `trace` in Kafka's shape: exception class, then the message.
pub(crate) fn trace_of(error: &connect_api::ConnectError) -> String {
    format!("{}: {error}", error.exception_class())
}
