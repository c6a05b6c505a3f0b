//! The request bodies and query of the consumer routes: the types the handlers read, and
//! documentation-only types where the OpenAPI document says more than serde checks (a
//! topic name's pattern, at least one entry, the ranges of offsets).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct TopicPartition {
    /// A legal Kafka topic name.
    #[schema(pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
    pub topic: String,
    pub partition: i32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PartitionsRequest {
    pub partitions: Vec<TopicPartition>,
}

/// A subscription as the handler accepts it (documentation only): a non-empty topic list
/// or a pattern (both: 409, mutually exclusive).
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum SubscriptionBody {
    Topics {
        /// Legal Kafka topic names.
        #[schema(min_items = 1, inline, value_type = Vec<TopicName>)]
        topics: Vec<String>,
        topic_pattern: Option<String>,
    },
    Pattern {
        topic_pattern: String,
        #[schema(inline, value_type = Option<Vec<TopicName>>)]
        topics: Option<Vec<String>>,
    },
}

/// A seek timestamp: epoch milliseconds or an RFC 3339 instant (documentation only).
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum SeekTimestamp {
    Millis(EpochMillis),
    #[schema(format = DateTime)]
    Instant(String),
}

/// Epoch milliseconds, not negative (documentation only; librdkafka refuses a negative
/// time, 400).
#[derive(Debug)]
pub(crate) struct EpochMillis;

impl utoipa::PartialSchema for EpochMillis {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .into()
    }
}

impl utoipa::ToSchema for EpochMillis {}

/// A legal Kafka topic name: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`
/// (documentation only).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
#[allow(dead_code)]
pub(crate) struct TopicName(String);

/// A seek as the handler accepts it (documentation only): at least one offset or one
/// timestamp. A partition named twice goes where its last entry says.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum PositionsBody {
    Offsets {
        #[schema(min_items = 1)]
        offsets: Vec<SeekOffset>,
    },
    Timestamps {
        #[schema(min_items = 1)]
        timestamps: Vec<PartitionTimestamp>,
    },
}

/// One partition's seek target (documentation only; the handler reads a
/// [`PartitionOffset`] and refuses a negative offset, 422).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct SeekOffset {
    /// A legal Kafka topic name.
    #[schema(pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
    topic: String,
    partition: i32,
    /// The next offset to read.
    #[schema(minimum = 0)]
    offset: i64,
}

/// The body of a seek to the beginning or the end: [`PartitionsRequest`] with at least one
/// partition (documentation only; the handlers read a `PartitionsRequest`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct SeekPartitionsRequest {
    #[schema(min_items = 1)]
    partitions: Vec<TopicPartition>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SubscriptionRequest {
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    #[serde(default)]
    pub topic_pattern: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct PartitionOffset {
    /// A legal Kafka topic name.
    #[schema(pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
    pub topic: String,
    pub partition: i32,
    /// Confluent flavor: the last offset processed, from -1 (the position committed is
    /// offset + 1). Strimzi flavor: the next offset to read, from 0 (-1 is refused, 422).
    #[schema(minimum = -1, maximum = 9_223_372_036_854_775_806_i64)]
    pub offset: i64,
    #[serde(default)]
    pub metadata: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PartitionTimestamp {
    /// A legal Kafka topic name.
    #[schema(pattern = "^(?!\\.\\.?$)[a-zA-Z0-9._-]{1,249}$")]
    pub topic: String,
    pub partition: i32,
    /// An RFC 3339 instant, or epoch milliseconds.
    #[schema(value_type = SeekTimestamp)]
    pub timestamp: Value,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PositionsRequest {
    #[serde(default)]
    pub offsets: Option<Vec<PartitionOffset>>,
    #[serde(default)]
    pub timestamps: Option<Vec<PartitionTimestamp>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct OffsetsRequest {
    pub offsets: Vec<PartitionOffset>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
// Query parameters: without this utoipa documents them as path parameters that the path
// template does not have (found by schemathesis).
#[into_params(parameter_in = Query)]
pub(crate) struct RecordsQuery {
    /// Longest wait in ms (Confluent caps it at the instance's request timeout).
    pub timeout: Option<i64>,
    /// Most key + value bytes in the response.
    pub max_bytes: Option<i64>,
    /// Most records in the response (a gateway extension); at least 1.
    #[param(minimum = 1)]
    pub max_records: Option<i64>,
}
