//! What to do with each answer Elasticsearch gives, and how long to wait before trying again.
//!
//! A `_bulk` answer is read item by item ([`classify_item`]):
//! - retriable: 429, any 5xx, `es_rejected_execution_exception` (a full write queue),
//!   `cluster_block_exception` with a retryable block, shard unavailability — the item is
//!   sent again in a smaller bulk after an exponential, jittered backoff;
//! - malformed: the document itself is wrong (mapping conflicts, parse errors) — handled by
//!   `behavior.on.malformed.documents`, and always counted;
//! - version conflict: never swallowed. A `create` into a data stream that finds its own id
//!   already there is a replay of a record indexed before a crash (the id is deterministic),
//!   counted as a duplicate and logged; any other conflict is retried and, when it persists,
//!   fails the task;
//! - anything else (index closed, forbidden, …) is definite and fails the task.
//!
//! A whole request that fails ([`classify_status`]) is retried on transport errors, 429 and
//! 5xx; other statuses are definite.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::encoder::Operation;

/// The error types Confluent's connector treats as a malformed document.
pub const MALFORMED_ERROR_TYPES: &[&str] = &[
    "strict_dynamic_mapping_exception",
    "mapper_parsing_exception",
    "illegal_argument_exception",
    "action_request_validation_exception",
    "document_parsing_exception",
];

const RETRIABLE_ERROR_TYPES: &[&str] = &[
    "es_rejected_execution_exception",
    "rejected_execution_exception",
    "circuit_breaking_exception",
    "unavailable_shards_exception",
    "no_shard_available_action_exception",
    "process_cluster_event_timeout_exception",
    "node_not_connected_exception",
    "connect_transport_exception",
];

/// Where Elasticsearch and OpenSearch start quoting a field's value in a parse error.
const VALUE_PREVIEW: &str = "Preview of field's value";

/// A `_bulk` response body; only what we read.
#[derive(Debug, Clone, Deserialize)]
pub struct BulkResponse {
    #[serde(default)]
    pub errors: bool,
    #[serde(default)]
    pub items: Vec<Map<String, Value>>,
}

/// One item of a bulk response (`{"index": {"status": 201, ...}}`, unwrapped).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BulkItem {
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub result: Option<String>,
}

impl BulkItem {
    /// Unwraps `{"<operation>": {...}}`.
    pub fn from_entry(entry: &Map<String, Value>) -> Self {
        entry
            .values()
            .next()
            .and_then(|inner| serde_json::from_value(inner.clone()).ok())
            .unwrap_or_default()
    }

    fn error_type(&self) -> &str {
        self.error
            .as_ref()
            .and_then(|e| e.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `type: reason`, for logs and task traces. Without `sensitive` the parts that quote
    /// the document are left out: the value preview of a parse error and the cause's reason
    /// (`For input string: "…"`); their types stay.
    pub fn error_text(&self, sensitive: bool) -> String {
        match &self.error {
            None => format!("status {}", self.status),
            Some(error) => {
                let mut reason = error.get("reason").and_then(Value::as_str).unwrap_or("");
                if !sensitive && let Some(cut) = reason.find(VALUE_PREVIEW) {
                    reason = reason[..cut].trim_end();
                }
                let cause = error.get("caused_by");
                let caused = if sensitive {
                    cause.and_then(|c| c.get("reason")).and_then(Value::as_str)
                } else {
                    cause.and_then(|c| c.get("type")).and_then(Value::as_str)
                };
                let caused = caused
                    .map(|c| format!(" (caused by: {c})"))
                    .unwrap_or_default();
                format!("{} [{}]: {reason}{caused}", self.error_type(), self.status)
            }
        }
    }
}

/// What one bulk item's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Indexed, updated or deleted (a delete of a missing document is done too).
    Done,
    /// A data stream `create` found its own deterministic id: indexed before, by a replay.
    AlreadyIndexed,
    Retry(String),
    Malformed(String),
    VersionConflict(String),
    Fatal(String),
}

/// `log_sensitive_data` decides whether the outcome's text may quote the document.
pub fn classify_item(
    operation: Operation,
    item: &BulkItem,
    log_sensitive_data: bool,
) -> ItemOutcome {
    if item.error.is_none() && (200..300).contains(&item.status) {
        return ItemOutcome::Done;
    }
    if item.error.is_none() && item.status == 404 && operation == Operation::Delete {
        return ItemOutcome::Done;
    }
    let kind = item.error_type();
    let text = item.error_text(log_sensitive_data);
    if operation == Operation::Delete && kind == "index_not_found_exception" {
        return ItemOutcome::Done;
    }
    if kind == "version_conflict_engine_exception" || item.status == 409 {
        return if operation == Operation::Create {
            ItemOutcome::AlreadyIndexed
        } else {
            ItemOutcome::VersionConflict(text)
        };
    }
    if item.status == 429 || item.status >= 500 || RETRIABLE_ERROR_TYPES.contains(&kind) {
        return ItemOutcome::Retry(text);
    }
    if kind == "cluster_block_exception" {
        // Read-only blocks (disk watermark) lift by themselves once space is freed.
        return ItemOutcome::Retry(text);
    }
    if MALFORMED_ERROR_TYPES.contains(&kind) {
        return ItemOutcome::Malformed(text);
    }
    ItemOutcome::Fatal(text)
}

/// Whether a whole-request HTTP status is worth retrying.
pub fn classify_status(status: u16) -> bool {
    status == 429 || status == 408 || status >= 500
}

/// Exponential backoff with jitter: attempt `n` waits a random time between half and all of
/// `base · 2ⁿ`, capped at `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn wait(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2_u32.saturating_pow(attempt.min(20)))
            .min(self.max)
            .max(Duration::from_millis(1));
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let low = millis / 2;
        Duration::from_millis(rand::rng().random_range(low..=millis))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(value: &Value) -> BulkItem {
        BulkItem::from_entry(value.as_object().unwrap())
    }

    #[test]
    fn success_and_missing_delete_are_done() {
        let created = item(&json!({"index": {"status": 201, "result": "created"}}));
        assert_eq!(
            classify_item(Operation::Index, &created, true),
            ItemOutcome::Done
        );
        let missing = item(&json!({"delete": {"status": 404, "result": "not_found"}}));
        assert_eq!(
            classify_item(Operation::Delete, &missing, true),
            ItemOutcome::Done
        );
    }

    #[test]
    fn rejections_and_server_errors_are_retried() {
        let rejected = item(
            &json!({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}}),
        );
        assert!(matches!(
            classify_item(Operation::Index, &rejected, true),
            ItemOutcome::Retry(_)
        ));
        let server = item(
            &json!({"index": {"status": 503, "error": {"type": "unavailable_shards_exception", "reason": "x"}}}),
        );
        assert!(matches!(
            classify_item(Operation::Index, &server, true),
            ItemOutcome::Retry(_)
        ));
    }

    #[test]
    fn mapping_conflicts_are_malformed() {
        let conflict = item(
            &json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [n] of type [long]"}}}),
        );
        let outcome = classify_item(Operation::Index, &conflict, true);
        assert!(
            matches!(&outcome, ItemOutcome::Malformed(text) if text.contains("mapper_parsing_exception"))
        );
    }

    #[test]
    fn version_conflicts_are_never_done() {
        let conflict = item(
            &json!({"update": {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "x"}}}),
        );
        assert!(matches!(
            classify_item(Operation::Update, &conflict, true),
            ItemOutcome::VersionConflict(_)
        ));
        assert_eq!(
            classify_item(Operation::Create, &conflict, true),
            ItemOutcome::AlreadyIndexed
        );
    }

    #[test]
    fn document_contents_stay_out_of_the_text_unless_sensitive_logging() {
        let parse = item(
            &json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception",
                "reason": "failed to parse field [n] of type [long] in document with id '1'. Preview of field's value: 'secret-value'",
                "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"secret-value\""}}}}),
        );
        let ItemOutcome::Malformed(hidden) = classify_item(Operation::Index, &parse, false) else {
            panic!("malformed expected")
        };
        assert!(!hidden.contains("secret-value"), "{hidden}");
        assert!(
            hidden.contains("failed to parse field [n]")
                && hidden.contains("caused by: illegal_argument_exception"),
            "{hidden}"
        );
        let ItemOutcome::Malformed(shown) = classify_item(Operation::Index, &parse, true) else {
            panic!("malformed expected")
        };
        assert!(shown.contains("secret-value"), "{shown}");
    }

    #[test]
    fn other_errors_are_fatal() {
        let closed = item(
            &json!({"index": {"status": 400, "error": {"type": "index_closed_exception", "reason": "closed"}}}),
        );
        assert!(matches!(
            classify_item(Operation::Index, &closed, true),
            ItemOutcome::Fatal(_)
        ));
    }

    #[test]
    fn statuses() {
        assert!(classify_status(429) && classify_status(503) && classify_status(500));
        assert!(!classify_status(400) && !classify_status(401) && !classify_status(413));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let wait = backoff.wait(attempt);
            let ceiling =
                Duration::from_millis(100 * 2_u64.pow(attempt)).min(Duration::from_secs(1));
            assert!(
                wait <= ceiling && wait >= ceiling / 2,
                "{attempt}: {wait:?}"
            );
        }
    }
}
