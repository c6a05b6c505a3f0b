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
//!
//! [`RetryPolicy`] turns those classifications into decisions for one task: which action is
//! settled, which goes out again (and which must follow it to keep per-id order), which
//! fails the task, and how long to wait. It does no I/O and touches no counter, so its tests
//! feed it recorded `_bulk` answers as plain data; the sink's lanes carry the decisions out
//! ([`crate::settle`] for counters, logs and the DLQ).

use std::collections::HashSet;
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ElasticsearchSinkConfig, MalformedDocumentBehavior};
use crate::encoder::{EncodedAction, Operation};
use crate::service::ServiceError;

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

/// What one action's bulk item means for the task, in the order the lane must act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemDecision {
    /// Indexed, updated or deleted.
    Written,
    /// A replayed data stream `create` found its own id: counted as already indexed.
    AlreadyIndexed,
    /// `external.version.header`: the index holds an equal or newer version, which is what
    /// the user asked to keep; counted as a version conflict and done.
    NewerVersionKept(String),
    /// Sent again in the next request.
    Retry(String),
    /// A version conflict with retries left: sent again, counted as a conflict.
    RetryVersionConflict(String),
    /// An earlier action on the same id is retried, so this one goes out again after it,
    /// whatever its own answer was: an old version must never land over a newer one.
    FollowRetriedId,
    /// Refused as malformed with `behavior.on.malformed.documents` ignore or warn: reported
    /// to the DLQ, then done.
    SkipMalformed { reason: String, warn: bool },
    /// The task must stop at this action.
    Fail(Failure),
}

/// Why an action fails the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Refused as malformed with `behavior.on.malformed.documents=fail`.
    Malformed(String),
    /// A version conflict still there after `retries` retries.
    VersionConflict { reason: String, retries: u32 },
    /// Anything else the cluster refused for good (closed or forbidden index, …).
    Refused(String),
}

/// The next attempt after a retriable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextAttempt {
    pub wait: Duration,
    /// `max.retries` attempts are used up: the lane keeps retrying (it must not drop
    /// records) but `flush` now reports why nothing progresses.
    pub stalled: bool,
}

/// One task's retry policy, built from its config.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// `max.retries`.
    pub max_retries: u32,
    pub malformed_documents: MalformedDocumentBehavior,
    pub log_sensitive_data: bool,
}

/// The longest wait between two retries of the same request.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl RetryPolicy {
    /// `max.retries`, `retry.backoff.ms`, `behavior.on.malformed.documents` and
    /// `log.sensitive.data` of the task's config.
    pub fn from_config(config: &ElasticsearchSinkConfig) -> Self {
        Self {
            backoff: Backoff {
                base: config.bulk.retry_backoff,
                max: MAX_BACKOFF,
            },
            max_retries: config.bulk.max_retries,
            malformed_documents: config.malformed_documents,
            log_sensitive_data: config.log_sensitive_data,
        }
    }

    /// What follows a request that got no `_bulk` answer; `None` when the task must fail.
    pub fn on_request_error(&self, error: &ServiceError, attempt: u32) -> Option<NextAttempt> {
        error.is_retriable().then(|| self.next_attempt(attempt))
    }

    /// The wait before attempt `attempt + 1`.
    pub fn next_attempt(&self, attempt: u32) -> NextAttempt {
        NextAttempt {
            wait: self.backoff.wait(attempt),
            stalled: attempt >= self.max_retries,
        }
    }

    /// One decision per action of the request, in order, ending early at the first one that
    /// fails the task (nothing after it is acted on). `Err` when the answer does not match
    /// the request, which no retry can repair.
    pub fn decide_items(
        &self,
        actions: &[EncodedAction],
        response: &BulkResponse,
        attempt: u32,
    ) -> Result<Vec<ItemDecision>, String> {
        if response.items.len() != actions.len() {
            return Err(format!(
                "the bulk response has {} items for {} actions",
                response.items.len(),
                actions.len()
            ));
        }
        let mut retried_ids: HashSet<(&str, &str)> = HashSet::new();
        let mut decisions = Vec::with_capacity(actions.len());
        for (action, entry) in actions.iter().zip(&response.items) {
            let key = (action.index.as_str(), action.id.as_str());
            let decision = if retried_ids.contains(&key) {
                ItemDecision::FollowRetriedId
            } else {
                let item = BulkItem::from_entry(entry);
                self.decide_item(action, &item, attempt)
            };
            if matches!(
                decision,
                ItemDecision::Retry(_) | ItemDecision::RetryVersionConflict(_)
            ) {
                retried_ids.insert(key);
            }
            let fails = matches!(decision, ItemDecision::Fail(_));
            decisions.push(decision);
            if fails {
                break;
            }
        }
        Ok(decisions)
    }

    fn decide_item(&self, action: &EncodedAction, item: &BulkItem, attempt: u32) -> ItemDecision {
        match classify_item(action.operation, item, self.log_sensitive_data) {
            ItemOutcome::Done => ItemDecision::Written,
            ItemOutcome::AlreadyIndexed => ItemDecision::AlreadyIndexed,
            ItemOutcome::Retry(reason) => ItemDecision::Retry(reason),
            ItemOutcome::VersionConflict(reason) if action.external_version.is_some() => {
                ItemDecision::NewerVersionKept(reason)
            }
            ItemOutcome::VersionConflict(reason) if attempt >= self.max_retries => {
                ItemDecision::Fail(Failure::VersionConflict {
                    reason,
                    retries: self.max_retries,
                })
            }
            ItemOutcome::VersionConflict(reason) => ItemDecision::RetryVersionConflict(reason),
            ItemOutcome::Malformed(reason) => match self.malformed_documents {
                MalformedDocumentBehavior::Ignore => ItemDecision::SkipMalformed {
                    reason,
                    warn: false,
                },
                MalformedDocumentBehavior::Warn => {
                    ItemDecision::SkipMalformed { reason, warn: true }
                }
                MalformedDocumentBehavior::Fail => ItemDecision::Fail(Failure::Malformed(reason)),
            },
            ItemOutcome::Fatal(reason) => ItemDecision::Fail(Failure::Refused(reason)),
        }
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

    // The policy fed with `_bulk` answers as OpenSearch and Elasticsearch send them.

    use bytes::Bytes;

    use crate::encoder::RecordCoordinates;

    fn policy(malformed_documents: MalformedDocumentBehavior) -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(10),
            },
            max_retries: 2,
            malformed_documents,
            log_sensitive_data: false,
        }
    }

    fn action(id: &str, operation: Operation) -> EncodedAction {
        EncodedAction {
            index: "orders".to_owned(),
            id: id.to_owned(),
            operation,
            lines: Bytes::from_static(b"{}\n"),
            coordinates: RecordCoordinates {
                topic: "orders".to_owned(),
                partition: 0,
                offset: 0,
            },
            external_version: None,
            record: None,
        }
    }

    fn answer(text: &str) -> BulkResponse {
        serde_json::from_str(text).expect("a recorded _bulk answer")
    }

    /// A saturated write thread pool refuses the second item; the third is a mapping
    /// conflict (OpenSearch 2.x, abridged).
    const MIXED: &str = r#"{"took":3,"errors":true,"items":[
        {"index":{"_index":"orders","_id":"a","_version":1,"result":"created","status":201}},
        {"index":{"_index":"orders","_id":"b","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}},
        {"index":{"_index":"orders","_id":"c","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long] in document with id 'c'. Preview of field's value: 'one'"}}}
    ]}"#;

    #[test]
    fn policy_settles_retries_and_skips_item_by_item() {
        let actions = [
            action("a", Operation::Index),
            action("b", Operation::Index),
            action("c", Operation::Index),
        ];
        let decisions = policy(MalformedDocumentBehavior::Warn)
            .decide_items(&actions, &answer(MIXED), 0)
            .unwrap();
        assert_eq!(decisions.len(), 3);
        assert_eq!(decisions[0], ItemDecision::Written);
        assert!(
            matches!(&decisions[1], ItemDecision::Retry(reason) if reason.contains("es_rejected_execution_exception"))
        );
        assert!(
            matches!(&decisions[2], ItemDecision::SkipMalformed { reason, warn: true } if !reason.contains("'one'"))
        );
    }

    #[test]
    fn policy_stops_at_a_malformed_document_when_told_to_fail() {
        let actions = [action("c", Operation::Index), action("d", Operation::Index)];
        let recorded = r#"{"errors":true,"items":[
            {"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse"}}},
            {"index":{"status":201,"result":"created"}}
        ]}"#;
        let decisions = policy(MalformedDocumentBehavior::Fail)
            .decide_items(&actions, &answer(recorded), 0)
            .unwrap();
        assert_eq!(decisions.len(), 1, "nothing after the failure is acted on");
        assert!(matches!(
            &decisions[0],
            ItemDecision::Fail(Failure::Malformed(_))
        ));
    }

    #[test]
    fn policy_resends_later_actions_on_a_retried_id_after_it() {
        let actions = [
            action("a", Operation::Index),
            action("b", Operation::Index),
            action("a", Operation::Index),
        ];
        let recorded = r#"{"errors":true,"items":[
            {"index":{"_id":"a","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
            {"index":{"_id":"b","status":200,"result":"updated"}},
            {"index":{"_id":"a","status":200,"result":"updated"}}
        ]}"#;
        let decisions = policy(MalformedDocumentBehavior::Fail)
            .decide_items(&actions, &answer(recorded), 0)
            .unwrap();
        assert!(matches!(&decisions[0], ItemDecision::Retry(_)));
        assert_eq!(decisions[1], ItemDecision::Written);
        assert_eq!(decisions[2], ItemDecision::FollowRetriedId);
    }

    #[test]
    fn policy_retries_version_conflicts_then_fails_unless_versions_are_external() {
        let recorded = r#"{"errors":true,"items":[
            {"update":{"_id":"a","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[a]: version conflict, current version [2] is different than the one provided [1]"}}}
        ]}"#;
        let policy = policy(MalformedDocumentBehavior::Fail);
        let update = [action("a", Operation::Update)];
        let early = policy.decide_items(&update, &answer(recorded), 1).unwrap();
        assert!(matches!(&early[0], ItemDecision::RetryVersionConflict(_)));
        let late = policy.decide_items(&update, &answer(recorded), 2).unwrap();
        assert!(matches!(
            &late[0],
            ItemDecision::Fail(Failure::VersionConflict { retries: 2, .. })
        ));
        let mut external = action("a", Operation::Index);
        external.external_version = Some(7);
        let kept = policy
            .decide_items(&[external], &answer(recorded), 0)
            .unwrap();
        assert!(matches!(&kept[0], ItemDecision::NewerVersionKept(_)));
        let replay = policy
            .decide_items(&[action("a", Operation::Create)], &answer(recorded), 0)
            .unwrap();
        assert_eq!(replay[0], ItemDecision::AlreadyIndexed);
    }

    #[test]
    fn policy_refuses_an_answer_that_does_not_match_the_request() {
        let actions = [action("a", Operation::Index), action("b", Operation::Index)];
        let recorded = r#"{"errors":false,"items":[{"index":{"status":201}}]}"#;
        let error = policy(MalformedDocumentBehavior::Fail)
            .decide_items(&actions, &answer(recorded), 0)
            .unwrap_err();
        assert_eq!(error, "the bulk response has 1 items for 2 actions");
    }

    #[test]
    fn policy_retries_unanswered_requests_and_stalls_after_max_retries() {
        let policy = policy(MalformedDocumentBehavior::Fail);
        let busy = ServiceError::Status {
            host: "search:9200".to_owned(),
            status: 429,
            body: "es_rejected_execution_exception".to_owned(),
        };
        let down = ServiceError::Transport {
            host: "search:9200".to_owned(),
            message: "connection refused".to_owned(),
        };
        let forbidden = ServiceError::Status {
            host: "search:9200".to_owned(),
            status: 403,
            body: "security_exception".to_owned(),
        };
        let first = policy.on_request_error(&busy, 0).unwrap();
        assert!(!first.stalled && first.wait <= Duration::from_millis(100));
        assert!(policy.on_request_error(&down, 2).unwrap().stalled);
        assert_eq!(policy.on_request_error(&forbidden, 0), None);
        assert!(!policy.next_attempt(1).stalled && policy.next_attempt(2).stalled);
    }
}
