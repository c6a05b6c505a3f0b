//! `[bridge.consumer]`: how much each HTTP consumer instance's librdkafka consumer may
//! fetch ahead, so that a gateway can hold many instances.
//!
//! librdkafka's defaults suit one consumer per process: up to 64 MiB pre-fetched
//! (`queued.max.messages.kbytes`), fetching again below 100 000 queued messages
//! (`queued.min.messages`), 50 MiB per fetch (`fetch.max.bytes`). A gateway runs one consumer
//! per instance, and an instance hands records out only as fast as its client asks, so these
//! defaults pre-fetch 2 MiB per instance: more than one records response of a typical client
//! and what the broker returns in one fetch, which keeps an instance at the broker's pace
//! without holding a topic's worth of records in memory.
//!
//! Precedence, lowest first: broker-core's consumer defaults, `[kafka.properties]`, these
//! keys, then the instance's own settings from its create request.

use broker_core::ConfigError;
use rdkafka::ClientConfig;
use serde::Deserialize;

/// librdkafka requires `receive.message.max.bytes` to exceed `fetch.max.bytes` by this much
/// (room for the protocol framing of a fetch response).
const RECEIVE_MARGIN: u64 = 512;

/// `[bridge.consumer]` in `gateway.toml`; Kafka's (and librdkafka's) names with
/// underscores.
///
/// ```toml
/// [bridge.consumer]
/// queued_max_messages_kbytes = 2048
/// queued_min_messages = 1000
/// fetch_max_bytes = 1048576
/// max_partition_fetch_bytes = 1048576
/// receive_message_max_bytes = 100000000
/// fetch_queue_backoff_ms = 10
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// librdkafka `queued.max.messages.kbytes`: KiB of pre-fetched records an instance's
    /// consumer queues before it stops fetching.
    #[serde(default = "default_queued_max_messages_kbytes")]
    pub queued_max_messages_kbytes: u64,
    /// librdkafka `queued.min.messages`: the consumer fetches again once fewer records than
    /// this are queued (within the KiB bound above).
    #[serde(default = "default_queued_min_messages")]
    pub queued_min_messages: u64,
    /// Kafka `fetch.max.bytes`: most bytes one fetch returns (a first batch larger than this
    /// still comes whole, as Kafka does).
    #[serde(default = "default_fetch_max_bytes")]
    pub fetch_max_bytes: u64,
    /// Kafka `max.partition.fetch.bytes` (librdkafka `fetch.message.max.bytes`): most bytes
    /// per partition in one fetch.
    #[serde(default = "default_max_partition_fetch_bytes")]
    pub max_partition_fetch_bytes: u64,
    /// librdkafka `receive.message.max.bytes`: the largest response the consumer accepts
    /// from a broker; at least `fetch_max_bytes` + 512. A bound, not an allocation.
    #[serde(default = "default_receive_message_max_bytes")]
    pub receive_message_max_bytes: u64,
    /// librdkafka `fetch.queue.backoff.ms`: how long a partition waits before its next
    /// fetch once the bounds above are exceeded. librdkafka's 1000 ms stalls a consumer
    /// with small bounds: one fetch of compressed records can exceed them, and the
    /// partition then idles a second after its queue drained (measured: the consume rate
    /// of one instance halved, `docs/benchmarks.md`).
    #[serde(default = "default_fetch_queue_backoff_ms")]
    pub fetch_queue_backoff_ms: u64,
}

fn default_queued_max_messages_kbytes() -> u64 {
    2048
}
fn default_queued_min_messages() -> u64 {
    1000
}
fn default_fetch_max_bytes() -> u64 {
    1024 * 1024
}
fn default_max_partition_fetch_bytes() -> u64 {
    1024 * 1024
}
fn default_receive_message_max_bytes() -> u64 {
    100_000_000
}
fn default_fetch_queue_backoff_ms() -> u64 {
    10
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            queued_max_messages_kbytes: default_queued_max_messages_kbytes(),
            queued_min_messages: default_queued_min_messages(),
            fetch_max_bytes: default_fetch_max_bytes(),
            max_partition_fetch_bytes: default_max_partition_fetch_bytes(),
            receive_message_max_bytes: default_receive_message_max_bytes(),
            fetch_queue_backoff_ms: default_fetch_queue_backoff_ms(),
        }
    }
}

/// The instances' consumer bounds after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedConsumer {
    properties: Vec<(&'static str, String)>,
}

impl ConsumerConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedConsumer, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        // librdkafka's own ranges, checked here so that a typo fails at start-up naming the
        // key rather than at the first consumer creation.
        let ranges: [(&str, u64, u64, u64); 6] = [
            (
                "queued_max_messages_kbytes",
                self.queued_max_messages_kbytes,
                1,
                2_097_151,
            ),
            (
                "queued_min_messages",
                self.queued_min_messages,
                1,
                10_000_000,
            ),
            ("fetch_max_bytes", self.fetch_max_bytes, 1, 2_147_483_135),
            (
                "max_partition_fetch_bytes",
                self.max_partition_fetch_bytes,
                1,
                1_000_000_000,
            ),
            (
                "receive_message_max_bytes",
                self.receive_message_max_bytes,
                1000,
                2_147_483_647,
            ),
            (
                "fetch_queue_backoff_ms",
                self.fetch_queue_backoff_ms,
                0,
                86_400_000,
            ),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key(name),
                    format!("must be between {min} and {max}, not {value}"),
                ));
            }
        }
        if self.receive_message_max_bytes < self.fetch_max_bytes + RECEIVE_MARGIN {
            return Err(ConfigError::new(
                key("receive_message_max_bytes"),
                format!(
                    "must be at least `{}` + {RECEIVE_MARGIN} ({}), as librdkafka requires",
                    key("fetch_max_bytes"),
                    self.fetch_max_bytes + RECEIVE_MARGIN
                ),
            ));
        }
        Ok(ValidatedConsumer {
            properties: vec![
                (
                    "queued.max.messages.kbytes",
                    self.queued_max_messages_kbytes.to_string(),
                ),
                ("queued.min.messages", self.queued_min_messages.to_string()),
                ("fetch.max.bytes", self.fetch_max_bytes.to_string()),
                (
                    "max.partition.fetch.bytes",
                    self.max_partition_fetch_bytes.to_string(),
                ),
                (
                    "receive.message.max.bytes",
                    self.receive_message_max_bytes.to_string(),
                ),
                (
                    "fetch.queue.backoff.ms",
                    self.fetch_queue_backoff_ms.to_string(),
                ),
            ],
        })
    }
}

impl ValidatedConsumer {
    /// Sets the bounds on an instance's consumer config (over `[kafka.properties]`).
    pub fn apply(&self, config: &mut ClientConfig) {
        for (name, value) in &self.properties {
            config.set(*name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<ValidatedConsumer, ConfigError> {
        toml::from_str::<ConsumerConfig>(text)
            .unwrap()
            .validate("bridge.consumer")
    }

    #[test]
    fn defaults_bound_the_prefetch_to_a_few_mib() {
        let mut config = ClientConfig::new();
        config.set("queued.max.messages.kbytes", "65536");
        validate("").unwrap().apply(&mut config);
        assert_eq!(config.get("queued.max.messages.kbytes"), Some("2048"));
        assert_eq!(config.get("queued.min.messages"), Some("1000"));
        assert_eq!(config.get("fetch.max.bytes"), Some("1048576"));
        assert_eq!(config.get("max.partition.fetch.bytes"), Some("1048576"));
        assert_eq!(config.get("receive.message.max.bytes"), Some("100000000"));
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("10"));
    }

    #[test]
    fn validate_rejects_unknown_key() {
        let error = toml::from_str::<ConsumerConfig>("queued_max_kbytes = 1").unwrap_err();
        assert!(error.to_string().contains("queued_max_kbytes"), "{error}");
    }

    #[test]
    fn validate_rejects_values_outside_librdkafka_ranges() {
        for (text, key) in [
            (
                "queued_max_messages_kbytes = 0",
                "bridge.consumer.queued_max_messages_kbytes",
            ),
            (
                "queued_min_messages = 0",
                "bridge.consumer.queued_min_messages",
            ),
            (
                "fetch_max_bytes = 3000000000",
                "bridge.consumer.fetch_max_bytes",
            ),
            (
                "max_partition_fetch_bytes = 0",
                "bridge.consumer.max_partition_fetch_bytes",
            ),
            (
                "receive_message_max_bytes = 10",
                "bridge.consumer.receive_message_max_bytes",
            ),
            (
                "fetch_queue_backoff_ms = 86400001",
                "bridge.consumer.fetch_queue_backoff_ms",
            ),
        ] {
            assert_eq!(validate(text).unwrap_err().key, key, "{text}");
        }
    }

    #[test]
    fn validate_rejects_receive_bound_below_fetch_bound() {
        let error =
            validate("fetch_max_bytes = 4000000\nreceive_message_max_bytes = 4000000").unwrap_err();
        assert_eq!(error.key, "bridge.consumer.receive_message_max_bytes");
        assert!(error.reason.contains("4000512"), "{}", error.reason);
    }
}
