//! The compacted-topic log every store is built on lives in broker-core, shared with the
//! bridge's instance directory.

pub use broker_core::kafka_log::{KafkaLog, LogState};
