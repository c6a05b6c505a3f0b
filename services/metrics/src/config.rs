//! `[metrics]` in `gateway.toml`: a serde DTO, a pure `validate()` and the validated value.
//!
//! The cluster keys are kafka_exporter's flags under our naming:
//!
//! | kafka_exporter flag   | `[metrics]` key        | default |
//! |-----------------------|------------------------|---------|
//! | `--topic.filter`      | `topic_filter`         | `.*`    |
//! | `--topic.exclude`     | `topic_exclude`        | `^$`    |
//! | `--group.filter`      | `group_filter`         | `.*`    |
//! | `--group.exclude`     | `group_exclude`        | `^$`    |
//! | `--kafka.labels`      | `[metrics.labels]`     | none    |
//! | `--topic.workers`     | `workers`              | 16      |
//! | `--web.listen-address`| `[metrics.http] listen`| `0.0.0.0:9308` |
//!
//! Filters are regular expressions matched anywhere in the name (Go's `MatchString`), so
//! existing flag values keep their meaning. `--kafka.server` and the SASL/TLS flags are the
//! gateway's `[kafka]` section; `--refresh.metadata` has no equivalent because metadata is
//! read on every scrape.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use broker_core::ConfigError;
use edge::{ListenerConfig, ValidatedListener};
use regex::Regex;
use serde::Deserialize;

use crate::DEFAULT_PORT;

/// `[metrics]` in `gateway.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    #[serde(default)]
    pub enabled: bool,
    /// `[metrics.http]`: listen address and edge limits.
    #[serde(default)]
    pub http: ListenerConfig,
    /// Whether `/metrics` also reads the cluster on each scrape and serves the
    /// kafka_exporter-compatible `kafka_*` series.
    #[serde(default = "default_true")]
    pub cluster_metrics: bool,
    /// Topics to report (regex, kafka_exporter `--topic.filter`).
    #[serde(default = "default_filter")]
    pub topic_filter: String,
    /// Topics to leave out even when they match `topic_filter` (`--topic.exclude`).
    #[serde(default = "default_exclude")]
    pub topic_exclude: String,
    /// Consumer groups to report (regex, `--group.filter`).
    #[serde(default = "default_filter")]
    pub group_filter: String,
    /// Consumer groups to leave out (`--group.exclude`).
    #[serde(default = "default_exclude")]
    pub group_exclude: String,
    /// Longest time one scrape may spend reading the cluster; past it the scrape answers
    /// without `kafka_*` series and with `kafka_gateway_cluster_scrape_success 0`.
    #[serde(default = "default_scrape_timeout_ms")]
    pub scrape_timeout_ms: u64,
    /// How many requests run at once where the read goes item by item: partitions whose
    /// ListOffsets batch failed, and groups on the librdkafka fallback (committed offsets are
    /// otherwise one request per coordinator).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Scrapes kept per partition to evaluate the Burrow-style group status.
    #[serde(default = "default_status_window")]
    pub status_window: usize,
    /// Lag at or below which a partition counts as caught up for the group status.
    #[serde(default)]
    pub status_allowed_lag: i64,
    /// Constant labels added to every `kafka_*` series (`--kafka.labels`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Records read per scrape at most for `kafka_consumergroup_lag_seconds` (one per
    /// lagging group position not read before; see `lag_seconds.rs`).
    #[serde(default = "default_lag_seconds_max_peeks")]
    pub lag_seconds_max_peeks: usize,
    /// Longest time one scrape spends reading those records (and never past the scrape's
    /// own `scrape_timeout_ms`).
    #[serde(default = "default_lag_seconds_peek_timeout_ms")]
    pub lag_seconds_peek_timeout_ms: u64,
}

fn default_true() -> bool {
    true
}
fn default_filter() -> String {
    ".*".to_owned()
}
fn default_exclude() -> String {
    "^$".to_owned()
}
fn default_scrape_timeout_ms() -> u64 {
    10_000
}
fn default_workers() -> usize {
    16
}
fn default_status_window() -> usize {
    10
}
fn default_lag_seconds_max_peeks() -> usize {
    500
}
fn default_lag_seconds_peek_timeout_ms() -> u64 {
    2_000
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            http: ListenerConfig::default(),
            cluster_metrics: true,
            topic_filter: default_filter(),
            topic_exclude: default_exclude(),
            group_filter: default_filter(),
            group_exclude: default_exclude(),
            scrape_timeout_ms: default_scrape_timeout_ms(),
            workers: default_workers(),
            status_window: default_status_window(),
            status_allowed_lag: 0,
            labels: BTreeMap::new(),
            lag_seconds_max_peeks: default_lag_seconds_max_peeks(),
            lag_seconds_peek_timeout_ms: default_lag_seconds_peek_timeout_ms(),
        }
    }
}

/// A name filter: kept when `include` matches and `exclude` does not.
#[derive(Debug, Clone)]
pub struct NameFilter {
    include: Regex,
    exclude: Regex,
}

impl NameFilter {
    pub fn new(include: Regex, exclude: Regex) -> Self {
        Self { include, exclude }
    }

    pub fn matches(&self, name: &str) -> bool {
        self.include.is_match(name) && !self.exclude.is_match(name)
    }
}

impl PartialEq for NameFilter {
    fn eq(&self, other: &Self) -> bool {
        self.include.as_str() == other.include.as_str()
            && self.exclude.as_str() == other.exclude.as_str()
    }
}

impl Eq for NameFilter {}

/// The validated cluster-metrics settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedClusterMetrics {
    pub topics: NameFilter,
    pub groups: NameFilter,
    pub scrape_timeout: Duration,
    pub workers: usize,
    pub status_window: usize,
    pub status_allowed_lag: i64,
    pub labels: Vec<(String, String)>,
    pub lag_seconds_max_peeks: usize,
    pub lag_seconds_peek_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedMetrics {
    pub listener: ValidatedListener,
    /// `None` when `cluster_metrics = false`.
    pub cluster: Option<ValidatedClusterMetrics>,
}

/// Label names the collector sets itself; a constant label may not shadow them.
const RESERVED_LABELS: &[&str] = &[
    "id",
    "address",
    "topic",
    "partition",
    "consumergroup",
    "status",
];

impl MetricsConfig {
    pub fn validate(&self, prefix: &str) -> Result<ValidatedMetrics, ConfigError> {
        let key = |name: &str| format!("{prefix}.{name}");
        let default_listen = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
        let listener = self.http.validate(&key("http"), default_listen)?;
        let regex = |name: &str, pattern: &str| {
            Regex::new(pattern).map_err(|error| {
                ConfigError::new(
                    key(name),
                    format!("`{pattern}` is not a regular expression: {error}"),
                )
            })
        };
        let topics = NameFilter::new(
            regex("topic_filter", &self.topic_filter)?,
            regex("topic_exclude", &self.topic_exclude)?,
        );
        let groups = NameFilter::new(
            regex("group_filter", &self.group_filter)?,
            regex("group_exclude", &self.group_exclude)?,
        );
        if self.scrape_timeout_ms == 0 {
            return Err(ConfigError::new(
                key("scrape_timeout_ms"),
                "must be greater than 0",
            ));
        }
        let scrape_timeout = Duration::from_millis(self.scrape_timeout_ms);
        if self.cluster_metrics && scrape_timeout >= listener.request_timeout {
            return Err(ConfigError::new(
                key("scrape_timeout_ms"),
                format!(
                    "must be less than `{}` ({} ms), or every slow scrape is cut off without \
                     an answer",
                    key("http.request_timeout_ms"),
                    listener.request_timeout.as_millis()
                ),
            ));
        }
        if self.workers == 0 {
            return Err(ConfigError::new(key("workers"), "must be greater than 0"));
        }
        if self.status_window < 2 {
            return Err(ConfigError::new(
                key("status_window"),
                "must be at least 2: a status compares scrapes",
            ));
        }
        if self.status_allowed_lag < 0 {
            return Err(ConfigError::new(
                key("status_allowed_lag"),
                "must not be negative",
            ));
        }
        if self.lag_seconds_max_peeks == 0 {
            return Err(ConfigError::new(
                key("lag_seconds_max_peeks"),
                "must be greater than 0",
            ));
        }
        let lag_seconds_peek_timeout = Duration::from_millis(self.lag_seconds_peek_timeout_ms);
        if lag_seconds_peek_timeout.is_zero() {
            return Err(ConfigError::new(
                key("lag_seconds_peek_timeout_ms"),
                "must be greater than 0",
            ));
        }
        for name in self.labels.keys() {
            let valid =
                name.chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                }) && !name.is_empty()
                    && !name.starts_with("__");
            if !valid {
                return Err(ConfigError::new(
                    key(&format!("labels.{name}")),
                    "is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading `__`)",
                ));
            }
            if RESERVED_LABELS.contains(&name.as_str()) {
                return Err(ConfigError::new(
                    key(&format!("labels.{name}")),
                    "is set by the collector itself; pick another name",
                ));
            }
        }
        let cluster = self.cluster_metrics.then(|| ValidatedClusterMetrics {
            topics,
            groups,
            scrape_timeout,
            workers: self.workers,
            status_window: self.status_window,
            status_allowed_lag: self.status_allowed_lag,
            labels: self
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            lag_seconds_max_peeks: self.lag_seconds_max_peeks,
            lag_seconds_peek_timeout,
        });
        Ok(ValidatedMetrics { listener, cluster })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MetricsConfig {
        toml::from_str(text).expect("parses")
    }

    fn rejected_key(text: &str) -> String {
        parse(text).validate("metrics").unwrap_err().key
    }

    #[test]
    fn defaults_to_kafka_exporter_port_and_filters() {
        let validated = MetricsConfig::default().validate("metrics").unwrap();
        assert_eq!(validated.listener.listen.port(), 9308);
        let cluster = validated.cluster.unwrap();
        assert!(cluster.topics.matches("orders"));
        assert!(cluster.groups.matches("billing"));
        assert!(!cluster.groups.matches(""), "`^$` excludes the empty name");
        assert_eq!(cluster.scrape_timeout, Duration::from_secs(10));
    }

    #[test]
    fn filters_match_anywhere_like_go_match_string() {
        let cluster = parse("topic_filter = \"orders\"\ntopic_exclude = \"^_\"")
            .validate("metrics")
            .unwrap()
            .cluster
            .unwrap();
        assert!(cluster.topics.matches("eu.orders.v1"));
        assert!(!cluster.topics.matches("_orders"));
        assert!(!cluster.topics.matches("payments"));
    }

    #[test]
    fn cluster_metrics_can_be_switched_off() {
        let validated = parse("cluster_metrics = false")
            .validate("metrics")
            .unwrap();
        assert!(validated.cluster.is_none());
    }

    #[test]
    fn validate_rejects_bad_listen() {
        assert_eq!(
            rejected_key("[http]\nlisten = \"nope\""),
            "metrics.http.listen"
        );
    }

    #[test]
    fn validate_rejects_zero_lag_seconds_max_peeks() {
        assert_eq!(
            rejected_key("lag_seconds_max_peeks = 0"),
            "metrics.lag_seconds_max_peeks"
        );
    }

    #[test]
    fn validate_rejects_zero_lag_seconds_peek_timeout() {
        assert_eq!(
            rejected_key("lag_seconds_peek_timeout_ms = 0"),
            "metrics.lag_seconds_peek_timeout_ms"
        );
    }

    #[test]
    fn validate_rejects_bad_topic_filter() {
        assert_eq!(rejected_key("topic_filter = \"(\""), "metrics.topic_filter");
    }

    #[test]
    fn validate_rejects_bad_topic_exclude() {
        assert_eq!(
            rejected_key("topic_exclude = \"[\""),
            "metrics.topic_exclude"
        );
    }

    #[test]
    fn validate_rejects_bad_group_filter() {
        assert_eq!(rejected_key("group_filter = \"*\""), "metrics.group_filter");
    }

    #[test]
    fn validate_rejects_bad_group_exclude() {
        assert_eq!(
            rejected_key("group_exclude = \"(?\""),
            "metrics.group_exclude"
        );
    }

    #[test]
    fn validate_rejects_zero_scrape_timeout() {
        assert_eq!(
            rejected_key("scrape_timeout_ms = 0"),
            "metrics.scrape_timeout_ms"
        );
    }

    #[test]
    fn validate_rejects_scrape_timeout_beyond_request_timeout() {
        let error = parse("scrape_timeout_ms = 5000\n[http]\nrequest_timeout_ms = 5000")
            .validate("metrics")
            .unwrap_err();
        assert_eq!(error.key, "metrics.scrape_timeout_ms");
        assert!(
            error.reason.contains("metrics.http.request_timeout_ms"),
            "{error}"
        );
    }

    #[test]
    fn validate_rejects_zero_workers() {
        assert_eq!(rejected_key("workers = 0"), "metrics.workers");
    }

    #[test]
    fn validate_rejects_short_status_window() {
        assert_eq!(rejected_key("status_window = 1"), "metrics.status_window");
    }

    #[test]
    fn validate_rejects_negative_allowed_lag() {
        assert_eq!(
            rejected_key("status_allowed_lag = -1"),
            "metrics.status_allowed_lag"
        );
    }

    #[test]
    fn validate_rejects_bad_label_name() {
        assert_eq!(
            rejected_key("[labels]\n\"1dc\" = \"x\""),
            "metrics.labels.1dc"
        );
    }

    #[test]
    fn validate_rejects_reserved_label_name() {
        assert_eq!(
            rejected_key("[labels]\ntopic = \"x\""),
            "metrics.labels.topic"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let error = toml::from_str::<MetricsConfig>("topic_filters = \".*\"").unwrap_err();
        assert!(error.to_string().contains("topic_filters"), "{error}");
    }
}
