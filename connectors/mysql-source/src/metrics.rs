//! Debezium's MySQL connector metrics, through the runtime's plugin metrics hook, named as
//! Debezium's JMX-exporter rule names the MBeans
//! `debezium.mysql:type=connector-metrics,context=<snapshot|streaming>,server=<topic.prefix>`:
//! `debezium_metrics_<Attribute>{plugin="mysql",name="<topic.prefix>",context="…"}` (the
//! runtime adds `connector` and `task`). Attributes keep Debezium's CamelCase and are
//! gauges, as that rule (untyped, no `lowercaseOutputName`) exports them.
//!
//! Counted from the records the task hands to the runtime, so they describe what reached
//! Connect: heartbeats and schema-history records are not events. A restarted task starts
//! from zero, as Debezium's MBeans do.

use std::collections::HashMap;

use connect_api::{Gauge, SourceRecord, TaskMetrics};
use serde_json::Value;

const PREFIX: &str = "debezium_metrics";

/// The attributes Debezium has in both contexts.
#[derive(Debug)]
struct EventCounts {
    seen: Gauge,
    creates: Gauge,
    updates: Gauge,
    deletes: Gauge,
}

impl EventCounts {
    fn register(metrics: &TaskMetrics, labels: &[(&str, &str)]) -> Self {
        let gauge = |attribute: &str, help: &str| {
            metrics.gauge_with_labels(&format!("{PREFIX}_{attribute}"), help, labels)
        };
        Self {
            seen: gauge("TotalNumberOfEventsSeen", "Change events handed to Connect"),
            creates: gauge(
                "TotalNumberOfCreateEventsSeen",
                "Create (and snapshot read) events",
            ),
            updates: gauge("TotalNumberOfUpdateEventsSeen", "Update events"),
            deletes: gauge("TotalNumberOfDeleteEventsSeen", "Delete events"),
        }
    }

    fn count(&self, op: &str) {
        self.seen.add(1);
        match op {
            "c" | "r" => self.creates.add(1),
            "u" => self.updates.add(1),
            "d" => self.deletes.add(1),
            _ => {}
        }
    }
}

/// One task's Debezium metrics.
#[derive(Debug)]
pub(crate) struct CdcMetrics {
    metrics: TaskMetrics,
    plugin: &'static str,
    server: String,
    snapshot: EventCounts,
    streaming: EventCounts,
    snapshot_running: Gauge,
    snapshot_completed: Gauge,
    connected: Gauge,
    behind_source_ms: Gauge,
    committed_transactions: Gauge,
    rows_scanned: HashMap<String, Gauge>,
    /// The transaction of the last streamed change (GTID, else binlog file and position
    /// of its start), to count a transaction once however many rows it changed.
    last_transaction: Option<String>,
}

fn labels<'a>(plugin: &'a str, server: &'a str, context: &'a str) -> [(&'a str, &'a str); 3] {
    [("plugin", plugin), ("name", server), ("context", context)]
}

impl CdcMetrics {
    /// `plugin`: `mysql`, or `mariadb` for Debezium's MariaDB connector class, whose MBeans
    /// live in the `debezium.mariadb` domain.
    pub(crate) fn register(metrics: &TaskMetrics, plugin: &'static str, server: &str) -> Self {
        let snapshot = labels(plugin, server, "snapshot");
        let streaming = labels(plugin, server, "streaming");
        let gauge = |attribute: &str, help: &str, labels: &[(&str, &str)]| {
            metrics.gauge_with_labels(&format!("{PREFIX}_{attribute}"), help, labels)
        };
        Self {
            snapshot: EventCounts::register(metrics, &snapshot),
            streaming: EventCounts::register(metrics, &streaming),
            snapshot_running: gauge("SnapshotRunning", "1 while a snapshot runs", &snapshot),
            snapshot_completed: gauge(
                "SnapshotCompleted",
                "1 once the snapshot completed",
                &snapshot,
            ),
            connected: gauge("Connected", "1 while the binlog reader runs", &streaming),
            behind_source_ms: gauge(
                "MilliSecondsBehindSource",
                "Milliseconds between the last change in the database and its handling",
                &streaming,
            ),
            committed_transactions: gauge(
                "NumberOfCommittedTransactions",
                "Transactions with at least one captured change",
                &streaming,
            ),
            metrics: metrics.clone(),
            plugin,
            server: server.to_owned(),
            rows_scanned: HashMap::new(),
            last_transaction: None,
        }
    }

    pub(crate) fn snapshot_started(&self) {
        self.snapshot_running.set(1);
        self.snapshot_completed.set(0);
    }

    pub(crate) fn snapshot_completed(&self) {
        self.snapshot_running.set(0);
        self.snapshot_completed.set(1);
    }

    pub(crate) fn connected(&self, connected: bool) {
        self.connected.set(i64::from(connected));
    }

    /// Counts the change events among `records` (heartbeats have no `op`).
    pub(crate) fn handed_out(&mut self, records: &[SourceRecord]) {
        for record in records {
            let value = &record.record.value;
            let Some(op) = value.get("op").and_then(Value::as_str) else {
                continue;
            };
            let source = value.get("source").unwrap_or(&Value::Null);
            if op == "r" {
                self.snapshot.count(op);
                self.row_scanned(source);
            } else {
                self.streaming.count(op);
                self.streamed(source);
            }
        }
    }

    fn row_scanned(&mut self, source: &Value) {
        let text = |key: &str| source.get(key).and_then(Value::as_str).unwrap_or_default();
        let table = format!("{}.{}", text("db"), text("table"));
        if !self.rows_scanned.contains_key(&table) {
            let mut labels = labels(self.plugin, &self.server, "snapshot").to_vec();
            labels.push(("table", &table));
            let gauge = self.metrics.gauge_with_labels(
                &format!("{PREFIX}_RowsScanned"),
                "Rows read by the snapshot, per table",
                &labels,
            );
            self.rows_scanned.insert(table.clone(), gauge);
        }
        if let Some(gauge) = self.rows_scanned.get(&table) {
            gauge.add(1);
        }
    }

    fn streamed(&mut self, source: &Value) {
        if let Some(ts_ms) = source.get("ts_ms").and_then(Value::as_i64) {
            let now_ms = crate::envelope::now_micros() / 1000;
            self.behind_source_ms.set((now_ms - ts_ms).max(0));
        }
        let transaction = match source.get("gtid").and_then(Value::as_str) {
            Some(gtid) => gtid.to_owned(),
            None => format!(
                "{}:{}",
                source
                    .get("file")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                source
                    .get("pos")
                    .and_then(Value::as_u64)
                    .unwrap_or_default()
            ),
        };
        if self.last_transaction.as_deref() != Some(transaction.as_str()) {
            self.committed_transactions.add(1);
            self.last_transaction = Some(transaction);
        }
    }
}

#[cfg(test)]
mod tests {
    use connect_api::ConnectRecord;
    use serde_json::json;

    use super::*;

    fn record(value: Value) -> SourceRecord {
        SourceRecord {
            record: ConnectRecord {
                topic: "t".into(),
                kafka_partition: None,
                key_schema: None,
                key: Value::Null,
                value_schema: None,
                value,
                timestamp: None,
                headers: Vec::new(),
            },
            source_partition: serde_json::Map::new(),
            source_offset: serde_json::Map::new(),
        }
    }

    fn value_of(metrics: &TaskMetrics, name: &str, context: &str) -> i64 {
        metrics
            .samples()
            .into_iter()
            .find(|s| {
                s.name == name
                    && s.labels
                        .contains(&("context".to_owned(), context.to_owned()))
                    && !s.labels.iter().any(|(k, _)| k == "table")
            })
            .map_or(-1, |s| s.value)
    }

    #[test]
    fn events_are_counted_per_context_and_transactions_once() {
        let metrics = TaskMetrics::default();
        let mut cdc = CdcMetrics::register(&metrics, "mysql", "shop");
        cdc.handed_out(&[
            record(json!({"op": "r", "source": {"db": "d", "table": "a"}})),
            record(json!({"op": "r", "source": {"db": "d", "table": "a"}})),
            record(json!({"op": "c", "source": {"gtid": "0-1-5", "ts_ms": 1}})),
            record(json!({"op": "u", "source": {"gtid": "0-1-5", "ts_ms": 1}})),
            record(json!({"op": "d", "source": {"file": "b.1", "pos": 9, "ts_ms": 1}})),
            record(json!({"ts_ms": 5})),
        ]);
        let name = |attribute: &str| format!("debezium_metrics_{attribute}");
        assert_eq!(
            value_of(&metrics, &name("TotalNumberOfEventsSeen"), "snapshot"),
            2
        );
        assert_eq!(
            value_of(&metrics, &name("TotalNumberOfEventsSeen"), "streaming"),
            3
        );
        assert_eq!(
            value_of(
                &metrics,
                &name("TotalNumberOfUpdateEventsSeen"),
                "streaming"
            ),
            1
        );
        assert_eq!(
            value_of(
                &metrics,
                &name("NumberOfCommittedTransactions"),
                "streaming"
            ),
            2
        );
        let rows = metrics
            .samples()
            .into_iter()
            .find(|s| s.name == name("RowsScanned"))
            .expect("rows scanned");
        assert!(
            rows.labels
                .contains(&("table".to_owned(), "d.a".to_owned()))
        );
        assert_eq!(rows.value, 2);
        assert!(value_of(&metrics, &name("MilliSecondsBehindSource"), "streaming") > 0);
    }
}
