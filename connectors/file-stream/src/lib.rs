//! The two connectors Kafka ships in `connect-file`, with the same class names and config
//! keys, so that the runtime can be tried and tested on its own:
//!
//! - [`FileStreamSource`] (`org.apache.kafka.connect.file.FileStreamSourceConnector`):
//!   `file`, `topic`, `batch.size` (2000). One task; each line becomes a STRING record;
//!   source partition `{"filename":<file>}`, offset `{"position":<byte after the line>}`.
//! - [`FileStreamSink`] (`org.apache.kafka.connect.file.FileStreamSinkConnector`): `file`,
//!   `topics`. Each record's value is appended as one line; `flush` syncs the file, so
//!   the runtime commits consumer offsets only for lines that reached the disk.

mod sink;
mod source;

pub use sink::{FileStreamSink, FileStreamSinkTask};
pub use source::{FileStreamSource, FileStreamSourceTask};

/// The version `GET /connector-plugins` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
