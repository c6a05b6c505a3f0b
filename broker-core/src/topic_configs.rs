//! Types of Kafka's topic-level configs, to check a value before it is sent.
//!
//! The legacy AlterConfigs request (the only one rust-rdkafka offers) is answered with
//! success by a Kafka 4 cluster even when a value does not parse, and the value is then
//! silently not applied. Checking the type here turns that into an error the caller sees.
//! Names Kafka does not list here (a newer broker's, a plugin's) pass unchecked: the
//! broker remains the authority for them.

/// What a config's value must parse as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Long,
    Int,
    Double,
    Boolean,
    /// Comma-separated, each item one of these.
    ListOf(&'static [&'static str]),
    OneOf(&'static [&'static str]),
    /// Free text (lists of replicas, for example).
    Text,
}

const TOPIC_CONFIGS: &[(&str, Kind)] = &[
    ("cleanup.policy", Kind::ListOf(&["compact", "delete"])),
    (
        "compression.type",
        Kind::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
    ),
    ("compression.gzip.level", Kind::Int),
    ("compression.lz4.level", Kind::Int),
    ("compression.zstd.level", Kind::Int),
    ("delete.retention.ms", Kind::Long),
    ("file.delete.delay.ms", Kind::Long),
    ("flush.messages", Kind::Long),
    ("flush.ms", Kind::Long),
    ("follower.replication.throttled.replicas", Kind::Text),
    ("index.interval.bytes", Kind::Int),
    ("leader.replication.throttled.replicas", Kind::Text),
    ("local.retention.bytes", Kind::Long),
    ("local.retention.ms", Kind::Long),
    ("max.compaction.lag.ms", Kind::Long),
    ("max.message.bytes", Kind::Int),
    ("message.timestamp.after.max.ms", Kind::Long),
    ("message.timestamp.before.max.ms", Kind::Long),
    (
        "message.timestamp.type",
        Kind::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    ("min.cleanable.dirty.ratio", Kind::Double),
    ("min.compaction.lag.ms", Kind::Long),
    ("min.insync.replicas", Kind::Int),
    ("preallocate", Kind::Boolean),
    ("remote.log.copy.disable", Kind::Boolean),
    ("remote.log.delete.on.disable", Kind::Boolean),
    ("remote.storage.enable", Kind::Boolean),
    ("retention.bytes", Kind::Long),
    ("retention.ms", Kind::Long),
    ("segment.bytes", Kind::Int),
    ("segment.index.bytes", Kind::Int),
    ("segment.jitter.ms", Kind::Long),
    ("segment.ms", Kind::Long),
    ("unclean.leader.election.enable", Kind::Boolean),
];

/// `Err` with a sentence naming the key when `value` cannot be a value of topic config
/// `name`.
pub fn check_topic_config(name: &str, value: &str) -> Result<(), String> {
    let Some((_, kind)) = TOPIC_CONFIGS.iter().find(|(known, _)| *known == name) else {
        return Ok(());
    };
    let trimmed = value.trim();
    let valid = match kind {
        Kind::Long => trimmed.parse::<i64>().is_ok(),
        Kind::Int => trimmed.parse::<i32>().is_ok(),
        Kind::Double => trimmed.parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Boolean => {
            trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false")
        }
        Kind::ListOf(allowed) => trimmed
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .all(|item| allowed.iter().any(|a| a.eq_ignore_ascii_case(item))),
        Kind::OneOf(allowed) => allowed.iter().any(|a| a.eq_ignore_ascii_case(trimmed)),
        Kind::Text => true,
    };
    if valid {
        return Ok(());
    }
    let expected = match kind {
        Kind::Long => "a number of type LONG".to_owned(),
        Kind::Int => "a number of type INT".to_owned(),
        Kind::Double => "a number of type DOUBLE".to_owned(),
        Kind::Boolean => "true or false".to_owned(),
        Kind::ListOf(allowed) => format!("a list of {}", allowed.join(", ")),
        Kind::OneOf(allowed) => format!("one of {}", allowed.join(", ")),
        Kind::Text => String::new(),
    };
    Err(format!(
        "Invalid value {value} for configuration {name}: expected {expected}."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_the_config_type() {
        assert!(check_topic_config("retention.ms", "60000").is_ok());
        assert!(check_topic_config("retention.ms", "-1").is_ok());
        let error = check_topic_config("retention.ms", "soon").unwrap_err();
        assert!(
            error.contains("retention.ms") && error.contains("LONG"),
            "{error}"
        );
        assert!(check_topic_config("max.message.bytes", "3000000000").is_err());
        assert!(check_topic_config("min.cleanable.dirty.ratio", "0.5").is_ok());
        assert!(check_topic_config("min.cleanable.dirty.ratio", "NaN").is_err());
        assert!(check_topic_config("preallocate", "TRUE").is_ok());
        assert!(check_topic_config("preallocate", "yes").is_err());
        assert!(check_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(check_topic_config("cleanup.policy", "compact, shred").is_err());
        assert!(check_topic_config("compression.type", "zstd").is_ok());
        assert!(check_topic_config("compression.type", "brotli").is_err());
        assert!(check_topic_config("some.plugin.config", "anything").is_ok());
    }
}
