//! Confluent JDBC source keys → [`QueryConfig`].

use std::time::Duration;

use connect_api::config::split_list;
use connect_api::{ConfigDef, ConfigKey, ConfigMap, ConfigType, ConnectError, Importance};

pub const URL: &str = "connection.url";
pub const USER: &str = "connection.user";
pub const PASSWORD: &str = "connection.password";
pub const MODE: &str = "mode";
pub const WHITELIST: &str = "table.whitelist";
pub const INCLUDE: &str = "table.include.list";
pub const QUERY: &str = "query";
pub const INCREMENTING: &str = "incrementing.column.name";
pub const TIMESTAMP: &str = "timestamp.column.name";
pub const POLL: &str = "poll.interval.ms";
pub const BATCH: &str = "batch.max.rows";
pub const PREFIX: &str = "topic.prefix";
pub const DELAY: &str = "timestamp.delay.interval.ms";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Bulk,
    Incrementing {
        column: String,
    },
    Timestamp {
        column: String,
    },
    TimestampIncrementing {
        timestamp: String,
        incrementing: String,
    },
}

/// What to read: named tables, or one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Tables(Vec<String>),
    Query(String),
}

#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// `mysql://user:password@host:port/db` (a `jdbc:` prefix is accepted).
    pub url: String,
    pub mode: Mode,
    pub source: Source,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    pub topic_prefix: String,
    pub delay: Duration,
}

fn mode(text: &str) -> Result<(), String> {
    match text.trim() {
        "" | "bulk" | "incrementing" | "timestamp" | "timestamp+incrementing" => Ok(()),
        _ => Err(
            "String must be one of: bulk, incrementing, timestamp, timestamp+incrementing"
                .to_owned(),
        ),
    }
}

pub fn query_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new(URL, ConfigType::String).importance(Importance::High).doc("JDBC connection URL (jdbc:mysql://host:port/db or jdbc:mariadb://…)."))
        .define(ConfigKey::new(USER, ConfigType::String).default_value("").doc("JDBC connection user."))
        .define(ConfigKey::new(PASSWORD, ConfigType::Password).default_value("").doc("JDBC connection password."))
        .define(ConfigKey::new(MODE, ConfigType::String).default_value("").recommended(&["bulk", "incrementing", "timestamp", "timestamp+incrementing"]).doc("The mode for updating a table each time it is polled.").validator(mode))
        .define(ConfigKey::new(WHITELIST, ConfigType::List).default_value("").doc("Tables to copy (legacy name)."))
        .define(ConfigKey::new(INCLUDE, ConfigType::List).default_value("").doc("Tables to copy."))
        .define(ConfigKey::new(QUERY, ConfigType::String).default_value("").doc("A query to run instead of copying tables; the WHERE clause of the mode is appended."))
        .define(ConfigKey::new(INCREMENTING, ConfigType::String).default_value("").doc("Strictly increasing, non-null column."))
        .define(ConfigKey::new(TIMESTAMP, ConfigType::String).default_value("").doc("Timestamp column that changes with every write."))
        .define(ConfigKey::new(POLL, ConfigType::Int).default_value("5000").doc("Frequency in ms to poll for new data in each table."))
        .define(ConfigKey::new(BATCH, ConfigType::Int).default_value("100").doc("Maximum rows per poll."))
        .define(ConfigKey::new(PREFIX, ConfigType::String).default_value("").doc("Prefix of the topic names (topic = prefix + table; the prefix alone in query mode)."))
        .define(ConfigKey::new(DELAY, ConfigType::Long).default_value("0").doc("How long after a row's timestamp it becomes visible to timestamp modes, in ms."))
}

impl QueryConfig {
    pub fn parse(config: &ConfigMap) -> Result<Self, ConnectError> {
        let def = query_config_def();
        let parsed = def.parse(config)?;
        let raw_url = parsed.string(URL);
        let url = raw_url
            .trim()
            .trim_start_matches("jdbc:")
            .replacen("mariadb://", "mysql://", 1);
        if !url.starts_with("mysql://") {
            return Err(ConnectError::config(
                URL,
                "must be a jdbc:mysql:// or jdbc:mariadb:// URL",
            ));
        }
        let (user, password) = (parsed.string(USER), parsed.string(PASSWORD));
        let url = if user.is_empty() || url.contains('@') {
            url
        } else {
            let rest = url.trim_start_matches("mysql://");
            let credentials = if password.is_empty() {
                user
            } else {
                format!("{user}:{password}")
            };
            format!("mysql://{credentials}@{rest}")
        };
        let column = |key: &str| -> Result<String, ConnectError> {
            let value = parsed.string(key).trim().to_owned();
            if value.is_empty() {
                Err(ConnectError::config(
                    key,
                    format!("required by mode {}", parsed.string(MODE)),
                ))
            } else {
                Ok(value)
            }
        };
        let mode = match parsed.string(MODE).trim() {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing {
                column: column(INCREMENTING)?,
            },
            "timestamp" => Mode::Timestamp {
                column: column(TIMESTAMP)?,
            },
            "timestamp+incrementing" => Mode::TimestampIncrementing {
                timestamp: column(TIMESTAMP)?,
                incrementing: column(INCREMENTING)?,
            },
            _ => {
                return Err(ConnectError::config(
                    MODE,
                    "Missing required configuration \"mode\"",
                ));
            }
        };
        let query = parsed.string(QUERY).trim().to_owned();
        let mut tables = parsed.list(INCLUDE);
        tables.extend(parsed.list(WHITELIST));
        let source = match (query.is_empty(), tables.is_empty()) {
            (false, true) => Source::Query(query),
            (true, false) => Source::Tables(tables),
            (false, false) => {
                return Err(ConnectError::config(
                    QUERY,
                    "query and table.whitelist/table.include.list are exclusive",
                ));
            }
            (true, true) => {
                return Err(ConnectError::config(
                    WHITELIST,
                    "name the tables to copy, or set query",
                ));
            }
        };
        Ok(Self {
            url,
            mode,
            source,
            poll_interval: Duration::from_millis(parsed.long(POLL)?.unsigned_abs()),
            batch_max_rows: usize::try_from(parsed.long(BATCH)?).unwrap_or(100).max(1),
            topic_prefix: parsed.string(PREFIX),
            delay: Duration::from_millis(parsed.long(DELAY)?.unsigned_abs()),
        })
    }
}

pub fn tables_of(list: &str) -> Vec<String> {
    split_list(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn validate_rejects_incrementing_without_column() {
        let error = QueryConfig::parse(&map(&[
            (URL, "jdbc:mysql://h:3306/db"),
            (MODE, "incrementing"),
            (WHITELIST, "t"),
        ]))
        .unwrap_err();
        assert!(matches!(error, ConnectError::Config { ref key, .. } if key == INCREMENTING));
    }

    #[test]
    fn validate_rejects_query_and_tables_together() {
        let error = QueryConfig::parse(&map(&[
            (URL, "jdbc:mysql://h/db"),
            (MODE, "bulk"),
            (WHITELIST, "t"),
            (QUERY, "SELECT 1"),
        ]))
        .unwrap_err();
        assert!(matches!(error, ConnectError::Config { ref key, .. } if key == QUERY));
    }

    #[test]
    fn credentials_join_the_url() {
        let config = QueryConfig::parse(&map(&[
            (URL, "jdbc:mariadb://h:3306/db"),
            (USER, "u"),
            (PASSWORD, "p"),
            (MODE, "bulk"),
            (INCLUDE, "t"),
        ]))
        .unwrap();
        assert_eq!(config.url, "mysql://u:p@h:3306/db");
    }
}
