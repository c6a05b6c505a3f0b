//! The CDC connector's config: Debezium's key names → a typed, validated [`CdcConfig`].
//!
//! Three stages, as everywhere in this project: the runtime's string map is checked key by
//! key against [`cdc_config_def`] (types, enumerations, regexes: Kafka's `ConfigInfos`
//! messages), then [`CdcConfig::parse`] builds the typed value with no I/O, then the task
//! uses it to connect. Every rule has a `validate_rejects_*` test below.

use std::time::Duration;

use connect_api::config::split_list;
use connect_api::{
    ClientOverride, ConfigDef, ConfigKey, ConfigMap, ConfigType, ConnectError, Importance,
    SideTopicClients, Width,
};
use regex::Regex;

use crate::history::HistorySettings;
use crate::types::TypeModes;

pub const HOSTNAME: &str = "database.hostname";
pub const PORT: &str = "database.port";
pub const USER: &str = "database.user";
pub const PASSWORD: &str = "database.password";
pub const SERVER_ID: &str = "database.server.id";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const DATABASE_INCLUDE: &str = "database.include.list";
pub const DATABASE_EXCLUDE: &str = "database.exclude.list";
pub const TABLE_INCLUDE: &str = "table.include.list";
pub const TABLE_EXCLUDE: &str = "table.exclude.list";
pub const COLUMN_INCLUDE: &str = "column.include.list";
pub const COLUMN_EXCLUDE: &str = "column.exclude.list";
pub const SNAPSHOT_MODE: &str = "snapshot.mode";
pub const SNAPSHOT_LOCKING_MODE: &str = "snapshot.locking.mode";
pub const SNAPSHOT_FETCH_SIZE: &str = "snapshot.fetch.size";
pub const TOMBSTONES_ON_DELETE: &str = "tombstones.on.delete";
pub const HEARTBEAT_INTERVAL: &str = "heartbeat.interval.ms";
pub const INCLUDE_SCHEMA_CHANGES: &str = "include.schema.changes";
pub const HISTORY_TOPIC: &str = "schema.history.internal.kafka.topic";
pub const HISTORY_BOOTSTRAP: &str = "schema.history.internal.kafka.bootstrap.servers";
pub const DECIMAL_MODE: &str = "decimal.handling.mode";
pub const TIME_PRECISION_MODE: &str = "time.precision.mode";
pub const BIGINT_UNSIGNED_MODE: &str = "bigint.unsigned.handling.mode";
pub const BINARY_MODE: &str = "binary.handling.mode";
pub const MAX_BATCH_SIZE: &str = "max.batch.size";
pub const MAX_QUEUE_SIZE: &str = "max.queue.size";
pub const POLL_INTERVAL: &str = "poll.interval.ms";
/// Debezium's pass-through client settings of the schema history producer (librdkafka
/// property names here, as for `producer.override.*`).
pub const HISTORY_PRODUCER_PREFIX: &str = "schema.history.internal.producer.";
/// The history consumer's settings: accepted for Debezium configs, unused (the history is
/// not read back).
pub const HISTORY_CONSUMER_PREFIX: &str = "schema.history.internal.consumer.";

/// `snapshot.mode`, with Debezium's old names accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when no offset is stored, then stream.
    Initial,
    /// Snapshot at every start, then stream.
    Always,
    /// Snapshot when no offset is stored, then stop streaming.
    InitialOnly,
    /// No data snapshot: stream from the current position (`no_data`, `schema_only`,
    /// `recovery`, `schema_only_recovery`).
    NoData,
    /// Like `initial`, and take a new snapshot when the stored position was purged.
    WhenNeeded,
    /// Never snapshot: stream from the oldest binlog the server still has.
    Never,
}

impl SnapshotMode {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "initial" => Self::Initial,
            "always" => Self::Always,
            "initial_only" => Self::InitialOnly,
            "no_data" | "schema_only" | "recovery" | "schema_only_recovery" => Self::NoData,
            "when_needed" => Self::WhenNeeded,
            "never" => Self::Never,
            _ => return None,
        })
    }
}

/// `snapshot.locking.mode`: how the snapshot start is aligned with the binlog position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockingMode {
    /// MariaDB: no lock at all (the consistent-snapshot transaction reports its binlog
    /// position). MySQL: `FLUSH TABLES WITH READ LOCK` held while the position is read.
    Minimal,
    /// No lock: only safe when no DDL runs during the snapshot.
    None,
}

/// Include/exclude regexes, anchored on the whole identifier as Debezium does.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    database_include: Vec<Regex>,
    database_exclude: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
    column_include: Vec<Regex>,
    column_exclude: Vec<Regex>,
}

fn any_match(patterns: &[Regex], text: &str) -> bool {
    patterns.iter().any(|p| p.is_match(text))
}

impl Filters {
    /// Databases that are never captured whatever the lists say.
    const SYSTEM: [&'static str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

    pub fn database(&self, database: &str) -> bool {
        if Self::SYSTEM.contains(&database) {
            return false;
        }
        if !self.database_include.is_empty() {
            return any_match(&self.database_include, database);
        }
        !any_match(&self.database_exclude, database)
    }

    pub fn table(&self, database: &str, table: &str) -> bool {
        if !self.database(database) {
            return false;
        }
        let id = format!("{database}.{table}");
        if !self.table_include.is_empty() {
            return any_match(&self.table_include, &id);
        }
        !any_match(&self.table_exclude, &id)
    }

    pub fn column(&self, database: &str, table: &str, column: &str) -> bool {
        let id = format!("{database}.{table}.{column}");
        if !self.column_include.is_empty() {
            return any_match(&self.column_include, &id);
        }
        !any_match(&self.column_exclude, &id)
    }
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

impl Connection {
    pub fn opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.hostname.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass((!self.password.is_empty()).then(|| self.password.clone()))
            .prefer_socket(false)
            .init(vec![
                "SET time_zone = '+00:00'".to_owned(),
                "SET NAMES utf8mb4".to_owned(),
            ])
            .into()
    }
}

/// The validated CDC config.
#[derive(Debug, Clone)]
pub struct CdcConfig {
    pub connection: Connection,
    pub server_id: u32,
    pub topic_prefix: String,
    pub filters: Filters,
    pub snapshot_mode: SnapshotMode,
    pub locking_mode: LockingMode,
    pub snapshot_chunk_rows: usize,
    pub tombstones_on_delete: bool,
    pub heartbeat_interval: Option<Duration>,
    pub include_schema_changes: bool,
    /// `schema.history.internal.kafka.topic` and its clients, when set.
    pub history: Option<HistorySettings>,
    pub modes: TypeModes,
    pub max_batch_size: usize,
    pub max_queue_size: usize,
    pub poll_interval: Duration,
}

fn one_of(text: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&text.trim().to_ascii_lowercase().as_str()) {
        Ok(())
    } else {
        Err(format!("String must be one of: {}", allowed.join(", ")))
    }
}

fn snapshot_mode(text: &str) -> Result<(), String> {
    SnapshotMode::parse(text).map(|_| ()).ok_or_else(|| {
        "must be one of initial, always, initial_only, no_data, schema_only, recovery, when_needed, never".to_owned()
    })
}

fn locking_mode(text: &str) -> Result<(), String> {
    one_of(text, &["minimal", "none"])
}

fn decimal_mode(text: &str) -> Result<(), String> {
    one_of(text, &["precise", "double", "string"])
}

fn time_mode(text: &str) -> Result<(), String> {
    one_of(text, &["adaptive_time_microseconds", "adaptive", "connect"])
}

fn bigint_mode(text: &str) -> Result<(), String> {
    one_of(text, &["long", "precise"])
}

fn binary_mode(text: &str) -> Result<(), String> {
    one_of(text, &["bytes", "base64", "hex"])
}

fn regex_list(text: &str) -> Result<(), String> {
    for item in split_list(text) {
        Regex::new(&item).map_err(|error| format!("`{item}` is not a valid regex: {error}"))?;
    }
    Ok(())
}

fn positive(text: &str) -> Result<(), String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err("Value must be at least 1".to_owned()),
    }
}

fn non_negative(text: &str) -> Result<(), String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(()),
        _ => Err("Value must be at least 0".to_owned()),
    }
}

fn server_id(text: &str) -> Result<(), String> {
    match text.trim().parse::<i64>() {
        Ok(n) if (1..=i64::from(u32::MAX)).contains(&n) => Ok(()),
        _ => Err(
            "must be between 1 and 4294967295 and differ from every other replica's server_id"
                .to_owned(),
        ),
    }
}

fn port(text: &str) -> Result<(), String> {
    match text.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("must be a TCP port (1-65535)".to_owned()),
    }
}

fn not_blank(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(())
    }
}

fn key(name: &str, config_type: ConfigType, group: &str, order: i32) -> ConfigKey {
    ConfigKey::new(name, config_type)
        .group(group, order)
        .width(Width::Medium)
}

/// Debezium MySQL/MariaDB connector keys this connector understands.
pub fn cdc_config_def() -> ConfigDef {
    const CONN: &str = "Connection";
    const FILTERS: &str = "Filters";
    const EVENTS: &str = "Events";
    const SNAPSHOT: &str = "Snapshot";
    const TYPES: &str = "Types";
    ConfigDef::new()
        .define(key(HOSTNAME, ConfigType::String, CONN, 1).importance(Importance::High).doc("Resolvable hostname or IP address of the database server.").validator(not_blank))
        .define(key(PORT, ConfigType::Int, CONN, 2).default_value("3306").importance(Importance::High).doc("Port of the database server.").validator(port))
        .define(key(USER, ConfigType::String, CONN, 3).importance(Importance::High).doc("Name of the database user to connect as.").validator(not_blank))
        .define(key(PASSWORD, ConfigType::Password, CONN, 4).default_value("").importance(Importance::High).doc("Password of the database user."))
        .define(key(SERVER_ID, ConfigType::Long, CONN, 5).importance(Importance::High).doc("Numeric id of this client in the replication topology; must differ from every server and replica.").validator(server_id))
        .define(key(TOPIC_PREFIX, ConfigType::String, CONN, 6).importance(Importance::High).doc("Logical name of the server: the prefix of every topic (`<prefix>.<db>.<table>`) and the source partition.").validator(not_blank))
        .define(key(DATABASE_INCLUDE, ConfigType::List, FILTERS, 1).default_value("").doc("Regexes of databases to capture (whole-name match).").validator(regex_list))
        .define(key(DATABASE_EXCLUDE, ConfigType::List, FILTERS, 2).default_value("").doc("Regexes of databases not to capture.").validator(regex_list))
        .define(key(TABLE_INCLUDE, ConfigType::List, FILTERS, 3).default_value("").doc("Regexes of `db.table` identifiers to capture.").validator(regex_list))
        .define(key(TABLE_EXCLUDE, ConfigType::List, FILTERS, 4).default_value("").doc("Regexes of `db.table` identifiers not to capture.").validator(regex_list))
        .define(key(COLUMN_INCLUDE, ConfigType::List, FILTERS, 5).default_value("").doc("Regexes of `db.table.column` identifiers to keep in events.").validator(regex_list))
        .define(key(COLUMN_EXCLUDE, ConfigType::List, FILTERS, 6).default_value("").doc("Regexes of `db.table.column` identifiers to drop from events.").validator(regex_list))
        .define(key(SNAPSHOT_MODE, ConfigType::String, SNAPSHOT, 1).default_value("initial").recommended(&["initial", "always", "initial_only", "no_data", "when_needed", "never"]).doc("When to take a consistent snapshot of the captured tables.").validator(snapshot_mode))
        .define(key(SNAPSHOT_LOCKING_MODE, ConfigType::String, SNAPSHOT, 2).default_value("minimal").recommended(&["minimal", "none"]).doc("minimal: MariaDB takes no lock, MySQL holds a global read lock only while reading the binlog position; none: no lock.").validator(locking_mode))
        .define(key(SNAPSHOT_FETCH_SIZE, ConfigType::Int, SNAPSHOT, 3).default_value("10000").doc("Rows per snapshot chunk (one chunk = one batch; the offset after each chunk is a resume point).").validator(positive))
        .define(key(TOMBSTONES_ON_DELETE, ConfigType::Boolean, EVENTS, 1).default_value("true").doc("Emit a tombstone (null value) after each delete event."))
        .define(key(HEARTBEAT_INTERVAL, ConfigType::Int, EVENTS, 2).default_value("0").doc("Milliseconds between heartbeat records on `__debezium-heartbeat.<prefix>`; 0 disables them.").validator(non_negative))
        .define(key(INCLUDE_SCHEMA_CHANGES, ConfigType::Boolean, EVENTS, 3).default_value("true").doc("Publish DDL statements as schema change events on the topic `<prefix>`."))
        .define(key(HISTORY_TOPIC, ConfigType::String, EVENTS, 4).default_value("").doc("Topic that records every DDL with its binlog position (Debezium's schema history format)."))
        .define(key(HISTORY_BOOTSTRAP, ConfigType::String, EVENTS, 5).default_value("").doc("Kafka bootstrap servers of the schema history topic. The history is written to the worker's cluster with the worker's security settings (plus schema.history.internal.producer.*): empty means the worker's cluster, and a list that shares no address with the worker's bootstrap.servers fails the task with an error naming this key."))
        .define(key(DECIMAL_MODE, ConfigType::String, TYPES, 1).default_value("precise").recommended(&["precise", "double", "string"]).doc("DECIMAL as Connect Decimal (precise), float64 (double) or string.").validator(decimal_mode))
        .define(key(TIME_PRECISION_MODE, ConfigType::String, TYPES, 2).default_value("adaptive_time_microseconds").recommended(&["adaptive_time_microseconds", "adaptive", "connect"]).doc("How TIME, DATE and DATETIME are represented.").validator(time_mode))
        .define(key(BIGINT_UNSIGNED_MODE, ConfigType::String, TYPES, 3).default_value("long").recommended(&["long", "precise"]).doc("BIGINT UNSIGNED as int64 (long, Debezium's default: values above 2^63-1 fail the task instead of turning negative as in Debezium) or Decimal(20,0) (precise: never negative).").validator(bigint_mode))
        .define(key(BINARY_MODE, ConfigType::String, TYPES, 4).default_value("bytes").recommended(&["bytes", "base64", "hex"]).doc("BINARY/BLOB as bytes or as a base64 or hex string.").validator(binary_mode))
        .define(key(MAX_BATCH_SIZE, ConfigType::Int, EVENTS, 8).default_value("2048").doc("Maximum records per poll while streaming.").validator(positive))
        .define(key(MAX_QUEUE_SIZE, ConfigType::Int, EVENTS, 9).default_value("8192").doc("Records buffered between the binlog reader and poll.").validator(positive))
        .define(key(POLL_INTERVAL, ConfigType::Int, EVENTS, 10).default_value("500").doc("Longest wait of one poll for new binlog events, in milliseconds.").validator(positive))
}

fn regexes(values: Vec<String>) -> Result<Vec<Regex>, String> {
    values
        .into_iter()
        .map(|v| Regex::new(&format!("^(?:{v})$")).map_err(|e| e.to_string()))
        .collect()
}

/// The schema history settings: the topic, the bootstrap list (checked against the
/// worker's by the runtime) and the `schema.history.internal.producer.*` overrides.
fn history_settings(
    config: &ConfigMap,
    topic: &str,
    bootstrap: &str,
) -> Result<Option<HistorySettings>, ConnectError> {
    let topic = topic.trim();
    if topic.is_empty() {
        return Ok(None);
    }
    let mut producer_overrides = Vec::new();
    for (key, value) in config {
        let Some(property) = key.strip_prefix(HISTORY_PRODUCER_PREFIX) else {
            continue;
        };
        if property.is_empty() {
            return Err(ConnectError::config(key, "names no client property"));
        }
        if property == "bootstrap.servers" {
            return Err(ConnectError::config(
                key,
                format!("set {HISTORY_BOOTSTRAP} instead"),
            ));
        }
        producer_overrides.push(ClientOverride {
            key: key.clone(),
            property: property.to_owned(),
            value: value.clone(),
        });
    }
    let bootstrap = bootstrap.trim();
    Ok(Some(HistorySettings {
        topic: topic.to_owned(),
        clients: SideTopicClients {
            bootstrap_servers: (!bootstrap.is_empty())
                .then(|| (HISTORY_BOOTSTRAP.to_owned(), bootstrap.to_owned())),
            producer_overrides,
        },
    }))
}

impl CdcConfig {
    /// Per-key checks, then cross-key rules; no I/O.
    pub fn parse(config: &ConfigMap) -> Result<Self, ConnectError> {
        let def = cdc_config_def();
        let parsed = def.parse(config)?;
        let list = |name: &str| {
            regexes(parsed.list(name)).map_err(|message| ConnectError::config(name, message))
        };
        let filters = Filters {
            database_include: list(DATABASE_INCLUDE)?,
            database_exclude: list(DATABASE_EXCLUDE)?,
            table_include: list(TABLE_INCLUDE)?,
            table_exclude: list(TABLE_EXCLUDE)?,
            column_include: list(COLUMN_INCLUDE)?,
            column_exclude: list(COLUMN_EXCLUDE)?,
        };
        if !filters.database_include.is_empty() && !filters.database_exclude.is_empty() {
            return Err(ConnectError::config(
                DATABASE_EXCLUDE,
                "database.include.list and database.exclude.list cannot both be set",
            ));
        }
        if !filters.table_include.is_empty() && !filters.table_exclude.is_empty() {
            return Err(ConnectError::config(
                TABLE_EXCLUDE,
                "table.include.list and table.exclude.list cannot both be set",
            ));
        }
        if !filters.column_include.is_empty() && !filters.column_exclude.is_empty() {
            return Err(ConnectError::config(
                COLUMN_EXCLUDE,
                "column.include.list and column.exclude.list cannot both be set",
            ));
        }
        let history = history_settings(
            config,
            &parsed.string(HISTORY_TOPIC),
            &parsed.string(HISTORY_BOOTSTRAP),
        )?;
        let usize_of = |name: &str| -> Result<usize, ConnectError> {
            usize::try_from(parsed.long(name)?)
                .map_err(|_| ConnectError::config(name, "must not be negative"))
        };
        let heartbeat = parsed.long(HEARTBEAT_INTERVAL)?;
        Ok(Self {
            connection: Connection {
                hostname: parsed.string(HOSTNAME).trim().to_owned(),
                port: u16::try_from(parsed.int(PORT)?)
                    .map_err(|_| ConnectError::config(PORT, "must be a TCP port"))?,
                user: parsed.string(USER),
                password: parsed.string(PASSWORD),
            },
            server_id: u32::try_from(parsed.long(SERVER_ID)?)
                .map_err(|_| ConnectError::config(SERVER_ID, "out of range"))?,
            topic_prefix: parsed.string(TOPIC_PREFIX).trim().to_owned(),
            filters,
            snapshot_mode: SnapshotMode::parse(&parsed.string(SNAPSHOT_MODE))
                .ok_or_else(|| ConnectError::config(SNAPSHOT_MODE, "unknown mode"))?,
            locking_mode: if parsed.string(SNAPSHOT_LOCKING_MODE).trim() == "none" {
                LockingMode::None
            } else {
                LockingMode::Minimal
            },
            snapshot_chunk_rows: usize_of(SNAPSHOT_FETCH_SIZE)?,
            tombstones_on_delete: parsed.boolean(TOMBSTONES_ON_DELETE),
            heartbeat_interval: (heartbeat > 0)
                .then(|| Duration::from_millis(heartbeat.unsigned_abs())),
            include_schema_changes: parsed.boolean(INCLUDE_SCHEMA_CHANGES),
            history,
            modes: TypeModes::parse(
                &parsed.string(DECIMAL_MODE),
                &parsed.string(TIME_PRECISION_MODE),
                &parsed.string(BIGINT_UNSIGNED_MODE),
                &parsed.string(BINARY_MODE),
            ),
            max_batch_size: usize_of(MAX_BATCH_SIZE)?,
            max_queue_size: usize_of(MAX_QUEUE_SIZE)?,
            poll_interval: Duration::from_millis(parsed.long(POLL_INTERVAL)?.unsigned_abs()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn base() -> ConfigMap {
        [
            (HOSTNAME, "127.0.0.1"),
            (USER, "root"),
            (SERVER_ID, "5400"),
            (TOPIC_PREFIX, "shop"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn rejected_key(map: &ConfigMap) -> String {
        match CdcConfig::parse(map) {
            Err(ConnectError::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    fn with(key: &str, value: &str) -> ConfigMap {
        let mut map = base();
        map.insert(key.to_owned(), value.to_owned());
        map
    }

    #[test]
    fn defaults_follow_debezium() {
        let config = CdcConfig::parse(&base()).unwrap();
        assert_eq!(config.connection.port, 3306);
        assert_eq!(config.snapshot_mode, SnapshotMode::Initial);
        assert!(config.tombstones_on_delete);
        assert!(config.include_schema_changes);
        assert_eq!(config.max_batch_size, 2048);
        assert!(config.history.is_none());
    }

    #[test]
    fn validate_rejects_missing_hostname() {
        let mut map = base();
        map.remove(HOSTNAME);
        assert_eq!(rejected_key(&map), HOSTNAME);
    }

    #[test]
    fn validate_rejects_bad_server_id() {
        assert_eq!(rejected_key(&with(SERVER_ID, "0")), SERVER_ID);
        assert_eq!(rejected_key(&with(SERVER_ID, "abc")), SERVER_ID);
    }

    #[test]
    fn validate_rejects_unknown_snapshot_mode() {
        assert_eq!(
            rejected_key(&with(SNAPSHOT_MODE, "sometimes")),
            SNAPSHOT_MODE
        );
    }

    #[test]
    fn validate_accepts_old_snapshot_mode_names() {
        let config = CdcConfig::parse(&with(SNAPSHOT_MODE, "schema_only")).unwrap();
        assert_eq!(config.snapshot_mode, SnapshotMode::NoData);
    }

    #[test]
    fn validate_rejects_bad_regex() {
        assert_eq!(
            rejected_key(&with(TABLE_INCLUDE, "shop\\.(")),
            TABLE_INCLUDE
        );
    }

    #[test]
    fn validate_rejects_include_and_exclude_together() {
        let mut map = with(TABLE_INCLUDE, "a\\.b");
        map.insert(TABLE_EXCLUDE.to_owned(), "a\\.c".to_owned());
        assert_eq!(rejected_key(&map), TABLE_EXCLUDE);
    }

    #[test]
    fn history_without_bootstrap_goes_to_the_workers_cluster() {
        let config = CdcConfig::parse(&with(HISTORY_TOPIC, "history")).unwrap();
        let history = config.history.unwrap();
        assert_eq!(history.topic, "history");
        assert_eq!(history.clients.bootstrap_servers, None);
    }

    #[test]
    fn history_carries_bootstrap_and_producer_overrides_only() {
        let mut map = with(HISTORY_TOPIC, "history");
        map.insert(HISTORY_BOOTSTRAP.to_owned(), "kafka:9093".to_owned());
        map.insert(
            format!("{HISTORY_PRODUCER_PREFIX}sasl.username"),
            "cdc".to_owned(),
        );
        map.insert(
            format!("{HISTORY_CONSUMER_PREFIX}sasl.username"),
            "cdc".to_owned(),
        );
        let clients = CdcConfig::parse(&map).unwrap().history.unwrap().clients;
        assert_eq!(
            clients.bootstrap_servers,
            Some((HISTORY_BOOTSTRAP.to_owned(), "kafka:9093".to_owned()))
        );
        assert_eq!(
            clients.producer_overrides,
            vec![ClientOverride {
                key: "schema.history.internal.producer.sasl.username".to_owned(),
                property: "sasl.username".to_owned(),
                value: "cdc".to_owned(),
            }]
        );
    }

    #[test]
    fn validate_rejects_a_history_producer_bootstrap_override() {
        let mut map = with(HISTORY_TOPIC, "history");
        let key = format!("{HISTORY_PRODUCER_PREFIX}bootstrap.servers");
        map.insert(key.clone(), "other:9092".to_owned());
        assert_eq!(rejected_key(&map), key);
    }

    #[test]
    fn validate_rejects_unknown_decimal_mode() {
        assert_eq!(rejected_key(&with(DECIMAL_MODE, "float")), DECIMAL_MODE);
    }

    #[test]
    fn filters_anchor_whole_identifiers_and_skip_system_databases() {
        let config = CdcConfig::parse(&with(TABLE_INCLUDE, "shop\\.order.*")).unwrap();
        assert!(config.filters.table("shop", "orders"));
        assert!(!config.filters.table("shop", "customers"));
        assert!(!config.filters.table("myshop", "orders"));
        assert!(!config.filters.database("mysql"));
    }
}
