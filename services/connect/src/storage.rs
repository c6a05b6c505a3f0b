//! The three compacted internal topics, keyed and encoded exactly as Kafka Connect does, so
//! that a restart (or another worker) rebuilds the same state by reading them from the
//! beginning:
//!
//! - [`config_store`]: `connector-<name>`, `task-<name>-<n>`, `commit-<name>`,
//!   `target-state-<name>`, `restart-connector-<name>` on a one-partition topic, so every
//!   worker applies the same writes in the same order.
//! - [`offset_store`]: key `["<connector>",{partition}]`, value the offset map.
//! - [`status_store`]: `status-connector-<name>`, `status-task-<name>-<n>`,
//!   `status-topic-<topic>:connector-<name>`.
//!
//! Every store is a [`log::KafkaLog`]: a reader that tails all partitions into memory and a
//! writer whose `write` returns only once the reader applied the record, so a REST call that
//! wrote something reads its own write.

pub mod config_store;
pub mod log;
pub mod offset_store;
pub mod status_store;
pub mod topics;
