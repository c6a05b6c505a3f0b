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
pub const BLACKLIST: &str = "table.blacklist";
pub const EXCLUDE: &str = "table.exclude.list";
pub const TABLE_TYPES: &str = "table.types";
pub const TABLE_POLL: &str = "table.poll.interval.ms";
pub const SUFFIX: &str = "query.suffix";
pub const INITIAL: &str = "timestamp.initial";
pub const VALIDATE_NON_NULL: &str = "validate.non.null";

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

/// What to read: named tables, every table of the database, or one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Tables(Vec<String>),
    /// No table listed and no query: as the JDBC source, every table of the URL's
    /// database (of `table.types`) minus the excluded ones, found again every
    /// `table.poll.interval.ms`.
    Discover {
        exclude: Vec<String>,
        views: bool,
        tables: bool,
        every: Duration,
    },
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
    /// `query.suffix`: appended to every query (e.g. a locking or optimizer hint).
    pub suffix: String,
    /// `timestamp.initial`: where timestamp modes start without a stored offset, in
    /// microseconds since the epoch; `None` = from the beginning. -1 in the config = now.
    pub timestamp_initial: Option<i64>,
    /// `validate.non.null`: refuse nullable incrementing/timestamp columns at start.
    pub validate_non_null: bool,
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
        .define(ConfigKey::new(BLACKLIST, ConfigType::List).default_value("").doc("Tables not to copy when tables are discovered (legacy name)."))
        .define(ConfigKey::new(EXCLUDE, ConfigType::List).default_value("").doc("Tables not to copy when tables are discovered."))
        .define(ConfigKey::new(TABLE_TYPES, ConfigType::List).default_value("TABLE").validator(table_types).doc("Table types to discover: TABLE, VIEW."))
        .define(ConfigKey::new(TABLE_POLL, ConfigType::Long).default_value("60000").doc("How often to look for new or dropped tables, in ms."))
        .define(ConfigKey::new(SUFFIX, ConfigType::String).default_value("").doc("Suffix appended to every query."))
        .define(ConfigKey::new(INITIAL, ConfigType::Long).default_value("").doc("Epoch ms where timestamp modes start without a stored offset; -1 = now; empty = from the beginning."))
        .define(ConfigKey::new(VALIDATE_NON_NULL, ConfigType::Boolean).default_value("true").doc("Refuse incrementing and timestamp columns that are nullable."))
}

fn table_types(text: &str) -> Result<(), String> {
    for item in split_list(text) {
        if !matches!(item.to_ascii_uppercase().as_str(), "TABLE" | "VIEW") {
            return Err(format!(
                "unsupported table type {item}; use TABLE and/or VIEW"
            ));
        }
    }
    Ok(())
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
                let types: Vec<String> = parsed
                    .list(TABLE_TYPES)
                    .iter()
                    .map(|t| t.to_ascii_uppercase())
                    .collect();
                let mut exclude = parsed.list(EXCLUDE);
                exclude.extend(parsed.list(BLACKLIST));
                if !url_names_database(&url) {
                    return Err(ConnectError::config(
                        URL,
                        "name a database in the URL (jdbc:mysql://host:port/db) so that its \
                         tables can be discovered, or list them in table.include.list",
                    ));
                }
                Source::Discover {
                    exclude,
                    tables: types.iter().any(|t| t == "TABLE"),
                    views: types.iter().any(|t| t == "VIEW"),
                    every: Duration::from_millis(parsed.long(TABLE_POLL)?.unsigned_abs().max(1000)),
                }
            }
        };
        let initial = parsed.string(INITIAL);
        let timestamp_initial = match initial.trim() {
            "" => None,
            text => {
                let ms: i64 = text.parse().map_err(|_| {
                    ConnectError::config(INITIAL, format!("`{text}` is not a number"))
                })?;
                if ms == -1 {
                    Some(now_micros())
                } else if ms < 0 {
                    return Err(ConnectError::config(
                        INITIAL,
                        "must be -1 (now) or epoch milliseconds",
                    ));
                } else {
                    Some(ms.saturating_mul(1000))
                }
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
            suffix: parsed.string(SUFFIX).trim().to_owned(),
            timestamp_initial,
            validate_non_null: parsed.boolean(VALIDATE_NON_NULL),
        })
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Whether `mysql://user@host:port/db?…` has a non-empty database part.
fn url_names_database(url: &str) -> bool {
    let rest = url.trim_start_matches("mysql://");
    let after_host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    after_host
        .split_once('/')
        .map(|(_, path)| path.split('?').next().unwrap_or_default())
        .is_some_and(|db| !db.is_empty())
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
    fn without_tables_the_database_is_discovered() {
        let config = QueryConfig::parse(&map(&[
            (URL, "jdbc:mysql://h:3306/shop?useSSL=false"),
            (MODE, "bulk"),
            (BLACKLIST, "audit"),
            (EXCLUDE, "tmp"),
            (TABLE_TYPES, "table,view"),
        ]))
        .unwrap();
        assert_eq!(
            config.source,
            Source::Discover {
                exclude: vec!["tmp".to_owned(), "audit".to_owned()],
                views: true,
                tables: true,
                every: Duration::from_secs(60),
            }
        );
        let error =
            QueryConfig::parse(&map(&[(URL, "jdbc:mysql://h:3306/"), (MODE, "bulk")])).unwrap_err();
        assert!(matches!(error, ConnectError::Config { ref key, .. } if key == URL));
        let error = QueryConfig::parse(&map(&[
            (URL, "jdbc:mysql://h/db"),
            (MODE, "bulk"),
            (TABLE_TYPES, "SYNONYM"),
        ]))
        .unwrap_err();
        assert!(matches!(error, ConnectError::Config { ref key, .. } if key == TABLE_TYPES));
    }

    #[test]
    fn timestamp_initial_is_epoch_ms_or_now() {
        let parse = |initial: &str| {
            QueryConfig::parse(&map(&[
                (URL, "jdbc:mysql://h/db"),
                (MODE, "bulk"),
                (WHITELIST, "t"),
                (INITIAL, initial),
            ]))
        };
        assert_eq!(parse("1500").unwrap().timestamp_initial, Some(1_500_000));
        assert!(parse("-1").unwrap().timestamp_initial.unwrap() > 1_700_000_000_000_000);
        assert!(parse("-5").is_err());
        let absent = QueryConfig::parse(&map(&[
            (URL, "jdbc:mysql://h/db"),
            (MODE, "bulk"),
            (WHITELIST, "t"),
        ]));
        assert_eq!(absent.unwrap().timestamp_initial, None);
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
