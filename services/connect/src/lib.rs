//! The connector runtime (Kafka Connect REST API on port 8083, configs, offsets and statuses
//! in compacted Kafka topics). Only its configuration exists so far; the runtime is issue
//! #4 and the gateway refuses `connect.enabled = true` until it lands.

mod config;

pub use config::{ConnectConfig, ValidatedConnect};

/// Default port of Kafka Connect's REST API.
pub const DEFAULT_PORT: u16 = 8083;
