//! Self-healing: the policy that restarts FAILED connectors and tasks by themselves.
//!
//! The schedule is Strimzi's `autoRestart`: the n-th restart (n = restarts already made)
//! waits `n² + n` units after the failure, capped at 60 units; the unit is a minute by
//! default, so restarts happen at once, then after 2, 6, 12, 20, 30, 42, 56 minutes, then
//! every hour. `auto.restart.backoff.unit.ms` shortens the unit (tests use a second).
//!
//! The count resets once the unit has been RUNNING for [`HEALTHY_PERIOD_UNITS`] units
//! without failing (10 minutes by default), so a connector that fails once a day restarts
//! at once every time instead of waiting an hour.
//!
//! A definite configuration error (a ConfigException, an unknown connector class, refused
//! credentials) fails again at every start: it is not retried, and the status says why.
//!
//! The keys, per connector: `auto.restart.enabled`, `auto.restart.max.attempts` (Strimzi's
//! `enabled` / `maxRestarts`) and `auto.restart.backoff.unit.ms`; a key left out takes the
//! worker's default from `[connect.auto_restart]`.

use std::time::Duration;

use connect_api::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Width};
use serde::{Deserialize, Serialize};

use crate::error::ConfigIssue;

pub const ENABLED: &str = "auto.restart.enabled";
pub const MAX_ATTEMPTS: &str = "auto.restart.max.attempts";
pub const BACKOFF_UNIT_MS: &str = "auto.restart.backoff.unit.ms";

/// Strimzi caps the wait at 60 units (an hour).
const MAX_BACKOFF_UNITS: u64 = 60;

/// RUNNING this many units without a failure resets the count.
pub const HEALTHY_PERIOD_UNITS: u32 = 10;

/// Bounds of the unit: below 100 ms restarts would spin, above an hour the cap means days.
const UNIT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;

const GROUP: &str = "Auto Restart";

/// What a connector's auto-restart does: the worker defaults overlaid with its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoRestartPolicy {
    pub enabled: bool,
    /// `None`: restart for ever (Strimzi's default).
    pub max_attempts: Option<u32>,
    pub backoff_unit: Duration,
}

impl Default for AutoRestartPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            max_attempts: None,
            backoff_unit: Duration::from_secs(60),
        }
    }
}

/// `[connect.auto_restart]` in `gateway.toml`: the default of every connector that does not
/// set the keys itself.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AutoRestartConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Unset: no maximum.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default = "default_unit_ms")]
    pub backoff_unit_ms: u64,
}

fn default_unit_ms() -> u64 {
    60_000
}

impl Default for AutoRestartConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_attempts: None,
            backoff_unit_ms: default_unit_ms(),
        }
    }
}

impl AutoRestartConfig {
    /// `prefix` is where the section sits (`connect.auto_restart`), for the error's key.
    pub fn validate(&self, prefix: &str) -> Result<AutoRestartPolicy, broker_core::ConfigError> {
        if self.max_attempts == Some(0) {
            return Err(broker_core::ConfigError::new(
                format!("{prefix}.max_attempts"),
                "must be at least 1 (leave it out for no maximum)",
            ));
        }
        if !UNIT_RANGE_MS.contains(&self.backoff_unit_ms) {
            return Err(broker_core::ConfigError::new(
                format!("{prefix}.backoff_unit_ms"),
                "must be between 100 and 3600000",
            ));
        }
        Ok(AutoRestartPolicy {
            enabled: self.enabled,
            max_attempts: self.max_attempts,
            backoff_unit: Duration::from_millis(self.backoff_unit_ms),
        })
    }
}

/// The keys for `/config/validate`; without defaults, since the worker's apply.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new(ENABLED, ConfigType::Boolean).null_default().importance(Importance::Medium).doc("Whether the worker restarts this connector and its tasks by itself when they are FAILED, with Strimzi's backoff (n*n+n units after the n-th restart, at most 60). Left out: the worker's [connect.auto_restart] enabled.").group(GROUP, 1).width(Width::Short).display("Auto restart"))
        .define(ConfigKey::new(MAX_ATTEMPTS, ConfigType::Int).null_default().importance(Importance::Low).doc("How many restarts in a row before giving up (the count resets after a healthy period). Left out: the worker's default, which is no maximum.").group(GROUP, 2).width(Width::Short).display("Auto restart maximum attempts").validator(at_least_one))
        .define(ConfigKey::new(BACKOFF_UNIT_MS, ConfigType::Long).null_default().importance(Importance::Low).doc("The backoff unit in milliseconds (Strimzi: one minute).").group(GROUP, 3).width(Width::Short).display("Auto restart backoff unit").validator(unit_in_range))
}

fn at_least_one(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err("Value must be at least 1".to_owned()),
    }
}

fn unit_in_range(value: &str) -> Result<(), String> {
    match value.trim().parse::<u64>() {
        Ok(n) if UNIT_RANGE_MS.contains(&n) => Ok(()),
        _ => Err("Value must be between 100 and 3600000".to_owned()),
    }
}

impl AutoRestartPolicy {
    /// The connector's policy: its keys over the worker's `defaults`.
    pub fn for_connector(config: &ConfigMap, defaults: &Self) -> Result<Self, ConfigIssue> {
        let text = |key: &str| config.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let enabled = match text(ENABLED) {
            None => defaults.enabled,
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(ConfigIssue::new(
                    ENABLED,
                    "Expected value to be either true or false",
                ));
            }
        };
        let max_attempts = match text(MAX_ATTEMPTS) {
            None => defaults.max_attempts,
            Some(value) => Some(
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ConfigIssue::new(MAX_ATTEMPTS, "Value must be at least 1"))?,
            ),
        };
        let backoff_unit = match text(BACKOFF_UNIT_MS) {
            None => defaults.backoff_unit,
            Some(value) => Duration::from_millis(
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| UNIT_RANGE_MS.contains(n))
                    .ok_or_else(|| {
                        ConfigIssue::new(BACKOFF_UNIT_MS, "Value must be between 100 and 3600000")
                    })?,
            ),
        };
        Ok(Self {
            enabled,
            max_attempts,
            backoff_unit,
        })
    }

    /// The wait before the restart that follows `restarts_made` restarts.
    pub fn delay(&self, restarts_made: u32) -> Duration {
        let n = u64::from(restarts_made);
        let units = n.saturating_mul(n).saturating_add(n).min(MAX_BACKOFF_UNITS);
        self.backoff_unit
            .saturating_mul(u32::try_from(units).unwrap_or(u32::MAX))
    }

    /// How long a restarted unit must run before its count is forgotten.
    pub fn healthy_period(&self) -> Duration {
        self.backoff_unit.saturating_mul(HEALTHY_PERIOD_UNITS)
    }
}

/// Why a failure is not worth a restart, read from its trace: the same start fails again.
pub fn definite_cause(trace: &str) -> Option<&'static str> {
    let first_line = trace.lines().next().unwrap_or_default();
    if first_line.starts_with("org.apache.kafka.common.config.ConfigException") {
        Some("a configuration error")
    } else if first_line.contains("Failed to find any class that implements Connector") {
        Some("an unknown connector class")
    } else if [
        "access denied for user",
        "status 401",
        "401 unauthorized",
        "authentication failed",
    ]
    .iter()
    .any(|needle| first_line.to_ascii_lowercase().contains(needle))
    {
        Some("refused credentials")
    } else {
        None
    }
}

/// What `/status` shows of the auto-restart of a connector or a task (ours; Connect
/// clients ignore the field), and what the status topic carries so every worker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutoRestartStatus {
    /// Restarts made since the last healthy period.
    pub count: u32,
    /// Unset: no maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// When the next restart happens (RFC 3339, UTC); unset when none is planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    /// The first line of the trace of the last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// Set when the worker stopped restarting, with the reason; a manual restart starts over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gave_up: Option<String>,
}

/// Epoch milliseconds as RFC 3339 in UTC.
pub fn rfc3339(epoch_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(unit_ms: u64) -> AutoRestartPolicy {
        AutoRestartPolicy {
            enabled: true,
            max_attempts: None,
            backoff_unit: Duration::from_millis(unit_ms),
        }
    }

    #[test]
    fn the_schedule_is_strimzis_in_minutes() {
        let minutes: Vec<u64> = (0..10)
            .map(|n| policy(60_000).delay(n).as_secs() / 60)
            .collect();
        assert_eq!(minutes, [0, 2, 6, 12, 20, 30, 42, 56, 60, 60]);
        assert_eq!(policy(60_000).delay(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn connector_keys_override_the_worker_defaults() {
        let defaults = AutoRestartPolicy {
            enabled: true,
            max_attempts: Some(5),
            backoff_unit: Duration::from_secs(60),
        };
        let none = ConfigMap::new();
        assert_eq!(
            AutoRestartPolicy::for_connector(&none, &defaults),
            Ok(defaults)
        );
        let own: ConfigMap = [
            (ENABLED.to_owned(), "false".to_owned()),
            (MAX_ATTEMPTS.to_owned(), "2".to_owned()),
            (BACKOFF_UNIT_MS.to_owned(), "1000".to_owned()),
        ]
        .into();
        assert_eq!(
            AutoRestartPolicy::for_connector(&own, &defaults),
            Ok(AutoRestartPolicy {
                enabled: false,
                max_attempts: Some(2),
                backoff_unit: Duration::from_secs(1),
            })
        );
    }

    #[test]
    fn validate_rejects_a_zero_maximum_and_names_the_key() {
        let bad: ConfigMap = [(MAX_ATTEMPTS.to_owned(), "0".to_owned())].into();
        let issue = AutoRestartPolicy::for_connector(&bad, &AutoRestartPolicy::default())
            .expect_err("zero attempts");
        assert_eq!(issue.key, MAX_ATTEMPTS);
        let section = AutoRestartConfig {
            max_attempts: Some(0),
            ..AutoRestartConfig::default()
        };
        let error = section
            .validate("connect.auto_restart")
            .expect_err("zero attempts");
        assert!(
            error
                .to_string()
                .contains("connect.auto_restart.max_attempts")
        );
    }

    #[test]
    fn validate_rejects_a_unit_out_of_range() {
        let section = AutoRestartConfig {
            backoff_unit_ms: 10,
            ..AutoRestartConfig::default()
        };
        let error = section
            .validate("connect.auto_restart")
            .expect_err("unit too small");
        assert!(
            error
                .to_string()
                .contains("connect.auto_restart.backoff_unit_ms")
        );
    }

    #[test]
    fn definite_errors_are_told_from_outages() {
        assert!(
            definite_cause(
                "org.apache.kafka.common.config.ConfigException: invalid value for configuration connection.url: bad"
            )
            .is_some()
        );
        assert!(definite_cause("org.apache.kafka.connect.errors.ConnectException: Failed to find any class that implements Connector and which name matches Nope").is_some());
        assert!(definite_cause("org.apache.kafka.connect.errors.ConnectException: Access denied for user 'x'@'localhost'").is_some());
        assert!(
            definite_cause(
                "org.apache.kafka.connect.errors.ConnectException: bulk request failed: connection refused"
            )
            .is_none()
        );
    }

    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(rfc3339(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
    }
}
