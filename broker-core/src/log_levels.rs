//! Log levels changed at runtime (Kafka Connect's `/admin/loggers`, KIP-495).
//!
//! The process's tracing filter is built from the start-up filter (`RUST_LOG` or the
//! config) plus one directive per logger set here; setting a level rebuilds the filter and
//! swaps it in through a reload handle, without a restart. Java logger names that users
//! know map to the gateway's own targets (`org.apache.kafka.connect` → `connect`,
//! `io.debezium` → `mysql_source`, …); any other name is taken as a tracing target
//! (`connect::worker::sink`). `root` is the default level.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::reload::Handle;

/// Java logger name prefixes → the gateway targets they stand for.
const ALIASES: &[(&str, &str)] = &[
    ("org.apache.kafka.connect", "connect"),
    ("org.apache.kafka.connect.mirror", "mirror"),
    ("io.debezium", "mysql_source"),
    ("io.confluent.connect.jdbc", "mysql_source"),
    ("io.confluent.connect.elasticsearch", "elasticsearch_sink"),
    ("org.apache.kafka.clients", "librdkafka"),
];

/// One logger set at runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerLevel {
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `OFF`.
    pub level: String,
    /// When it was set, ms since the epoch.
    pub last_modified: Option<i64>,
}

#[derive(Default)]
struct State {
    base: String,
    loggers: BTreeMap<String, LoggerLevel>,
    reload: Option<Box<dyn Fn(EnvFilter) -> bool + Send + Sync>>,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        Mutex::new(State {
            base: "info".to_owned(),
            ..State::default()
        })
    })
}

/// Called once by the tracing set-up with the filter it started from.
pub(crate) fn install<S: 'static>(base: &str, handle: Handle<EnvFilter, S>) {
    let mut state = state().lock().unwrap_or_else(PoisonError::into_inner);
    state.base = base.to_owned();
    state.reload = Some(Box::new(move |filter| handle.reload(filter).is_ok()));
}

/// Kafka's level names; `FATAL` is `ERROR` here.
fn tracing_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        "OFF" => Some("off"),
        _ => None,
    }
}

/// The names a level can be set for: Java logger names (`org.apache.kafka.connect`,
/// `Outer$Inner`) and Rust targets (`connect::worker`), so the filter directive built from
/// one means that logger and nothing else (a `,` or `=` would split or end the directive).
/// The OpenAPI document states the same pattern.
pub const LOGGER_NAME_PATTERN: &str = r"^[A-Za-z0-9_$-]+((\.|::)[A-Za-z0-9_$-]+)*$";

fn is_logger_name(name: &str) -> bool {
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'))
    };
    name.replace("::", ".").split('.').all(segment_ok)
}

fn target_of(logger: &str) -> String {
    ALIASES
        .iter()
        .filter(|(java, _)| logger == *java || logger.starts_with(&format!("{java}.")))
        .max_by_key(|(java, _)| java.len())
        .map_or_else(
            || logger.replace('.', "::"),
            |(_, target)| (*target).to_owned(),
        )
}

fn directives(state: &State) -> String {
    let mut out = state.base.clone();
    if let Some(root) = state.loggers.get("root")
        && let Some(level) = tracing_level(&root.level)
    {
        // The root level replaces the start-up default, keeps its per-target directives.
        out = std::iter::once(level.to_owned())
            .chain(
                state
                    .base
                    .split(',')
                    .filter(|d| d.contains('='))
                    .map(str::to_owned),
            )
            .collect::<Vec<_>>()
            .join(",");
    }
    for (logger, set) in state.loggers.iter().filter(|(name, _)| *name != "root") {
        if let Some(level) = tracing_level(&set.level) {
            out.push_str(&format!(",{}={level}", target_of(logger)));
        }
    }
    out
}

/// Sets `logger` to `level`; `Err` names what is wrong with the level.
pub fn set(logger: &str, level: &str, now_ms: i64) -> Result<(), String> {
    if tracing_level(level).is_none() {
        return Err(format!(
            "Invalid log level '{level}': use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF"
        ));
    }
    if logger.trim().is_empty() {
        return Err("The logger name must not be empty".to_owned());
    }
    if !is_logger_name(logger) {
        return Err(format!(
            "Invalid logger name '{logger}': use a Java logger or Rust target name \
             (segments of letters, digits, '_', '$' and '-', joined by '.' or '::')"
        ));
    }
    let mut state = state().lock().unwrap_or_else(PoisonError::into_inner);
    let previous = state.loggers.insert(
        logger.to_owned(),
        LoggerLevel {
            level: level.trim().to_ascii_uppercase(),
            last_modified: Some(now_ms),
        },
    );
    // A name the filter cannot take is refused and leaves the levels as they were.
    let filter = match EnvFilter::try_new(directives(&state)) {
        Ok(filter) => filter,
        Err(error) => {
            match previous {
                Some(previous) => state.loggers.insert(logger.to_owned(), previous),
                None => state.loggers.remove(logger),
            };
            return Err(format!("Invalid logger name '{logger}': {error}"));
        }
    };
    if let Some(reload) = &state.reload {
        reload(filter);
    }
    Ok(())
}

/// Every logger set at runtime, plus `root`.
pub fn all() -> BTreeMap<String, LoggerLevel> {
    let state = state().lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = state.loggers.clone();
    out.entry("root".to_owned()).or_insert_with(|| LoggerLevel {
        level: root_level(&state.base),
        last_modified: None,
    });
    out
}

/// The level of one logger set at runtime (or `root`).
pub fn get(logger: &str) -> Option<LoggerLevel> {
    all().remove(logger)
}

fn root_level(base: &str) -> String {
    base.split(',')
        .find(|d| !d.contains('=') && !d.trim().is_empty())
        .unwrap_or("info")
        .trim()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_names_are_java_or_rust_names() {
        for good in [
            "org.apache.kafka.connect",
            "Outer$Inner",
            "connect::worker",
            "a-b",
            "root",
            "0",
        ] {
            assert!(is_logger_name(good), "{good}");
        }
        for bad in [
            "a,b", "a=b", "a[b", "a b", "été", "a..b", ".", "a:b", "a:::b", "",
        ] {
            assert!(!is_logger_name(bad), "{bad}");
        }
    }

    #[test]
    fn java_names_map_to_gateway_targets() {
        assert_eq!(target_of("org.apache.kafka.connect"), "connect");
        assert_eq!(
            target_of("org.apache.kafka.connect.mirror.MirrorSourceTask"),
            "mirror"
        );
        assert_eq!(target_of("io.debezium.connector.mysql"), "mysql_source");
        assert_eq!(target_of("connect::worker::sink"), "connect::worker::sink");
    }

    #[test]
    fn directives_keep_the_base_and_add_loggers() {
        let mut state = State {
            base: "info,librdkafka=warn".to_owned(),
            ..State::default()
        };
        state.loggers.insert(
            "io.debezium".to_owned(),
            LoggerLevel {
                level: "DEBUG".to_owned(),
                last_modified: Some(1),
            },
        );
        assert_eq!(
            directives(&state),
            "info,librdkafka=warn,mysql_source=debug"
        );
        state.loggers.insert(
            "root".to_owned(),
            LoggerLevel {
                level: "WARN".to_owned(),
                last_modified: Some(2),
            },
        );
        assert_eq!(
            directives(&state),
            "warn,librdkafka=warn,mysql_source=debug"
        );
        assert!(EnvFilter::try_new(directives(&state)).is_ok());
    }

    #[test]
    fn a_name_the_filter_refuses_changes_nothing() {
        assert!(set("bad name [with spaces", "DEBUG", 1).is_err());
        assert!(get("bad name [with spaces").is_none());
        assert!(set("connect::worker", "DEBUG", 2).is_ok());
        assert_eq!(get("connect::worker").unwrap().level, "DEBUG");
    }

    #[test]
    fn levels_are_kafkas() {
        assert_eq!(tracing_level("fatal"), Some("error"));
        assert_eq!(tracing_level("VERBOSE"), None);
        assert_eq!(root_level("warn,librdkafka=error"), "WARN");
    }
}
