//! The few pieces every crate of the workspace shares, kept free of Kafka and HTTP so that
//! connector plugins can use them without pulling in librdkafka: plugins depend on
//! `connect-api`, which re-exports this crate's items; broker-core re-exports them for the
//! services.
//!
//! - [`task`]: the one way to spawn a task, a blocking call or a thread: named, with its
//!   start, end and panics logged.
//! - [`HIDDEN`]: the placeholder shown instead of a secret.

pub mod task;

/// The placeholder shown instead of a secret, in REST answers, validation results and
/// `Debug` output alike: Kafka Connect's `[hidden]`, the one spelling the whole gateway uses.
pub const HIDDEN: &str = "[hidden]";
