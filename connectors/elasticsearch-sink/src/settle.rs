//! Carries out the retry policy's decisions for one bulk answer: counters, logs and DLQ
//! reports, in the order of the request's actions.
//!
//! An action counts as done only after its effects happened, so a refused document's offset
//! is committed only after the DLQ has its record. A decision that fails the task stops the
//! walk: what was settled before it is not counted done either, so `flush` never reports
//! records whose batch failed.

use std::sync::Arc;

use connect_api::{ConnectError, ErrantRecordReporter};

use crate::encoder::{EncodedAction, Operation};
use crate::metrics::SinkCounters;
use crate::retry::{Failure, ItemDecision};

/// What one answered request left for the lane.
#[derive(Debug, Default)]
pub struct Settled {
    /// Actions finished for good.
    pub done: u64,
    /// Actions to send again, in their original order.
    pub retry: Vec<EncodedAction>,
    /// Why the last retried action failed, for logs and the stall reason.
    pub last_reason: String,
}

/// Where the effects of a decision go.
#[derive(Debug, Clone, Copy)]
pub struct Effects<'a> {
    pub counters: &'a SinkCounters,
    /// The runtime's DLQ, if the connector has one.
    pub reporter: Option<&'a Arc<dyn ErrantRecordReporter>>,
}

/// Acts on `decisions` (one per action, possibly fewer when the last one fails the task);
/// `Err` carries why the task must fail.
pub async fn settle(
    effects: Effects<'_>,
    actions: Vec<EncodedAction>,
    decisions: Vec<ItemDecision>,
) -> Result<Settled, String> {
    let counters = effects.counters;
    let mut settled = Settled::default();
    for (action, decision) in actions.into_iter().zip(decisions) {
        match decision {
            ItemDecision::Written => {
                settled.done += 1;
                if action.operation == Operation::Delete {
                    SinkCounters::add(&counters.documents_deleted, 1);
                } else {
                    SinkCounters::add(&counters.documents_indexed, 1);
                }
            }
            ItemDecision::AlreadyIndexed => {
                settled.done += 1;
                SinkCounters::add(&counters.documents_already_indexed, 1);
                tracing::info!(index = action.index, id = action.id, record = %action.coordinates,
                    "document already in the data stream (a replayed record), counted as already indexed");
            }
            ItemDecision::NewerVersionKept(reason) => {
                SinkCounters::add(&counters.version_conflicts, 1);
                settled.done += 1;
                tracing::info!(index = action.index, id = action.id, record = %action.coordinates,
                    version = action.external_version, reason,
                    "an equal or newer version of the document is indexed already (external.version.header); skipped");
            }
            ItemDecision::Retry(reason) => {
                SinkCounters::add(&counters.items_retried, 1);
                settled.last_reason = reason;
                settled.retry.push(action);
            }
            ItemDecision::RetryVersionConflict(reason) => {
                SinkCounters::add(&counters.version_conflicts, 1);
                tracing::warn!(
                    index = action.index,
                    id = action.id,
                    reason,
                    "version conflict, retrying"
                );
                settled.last_reason = reason;
                settled.retry.push(action);
            }
            ItemDecision::FollowRetriedId => settled.retry.push(action),
            ItemDecision::SkipMalformed { reason, warn } => {
                SinkCounters::add(&counters.documents_malformed, 1);
                if warn {
                    tracing::warn!(index = action.index, id = action.id, record = %action.coordinates, reason,
                        "skipping a malformed document (behavior.on.malformed.documents=warn)");
                }
                if let Err(error) = report_malformed(effects.reporter, &action, &reason).await {
                    return Err(format!(
                        "cannot report the malformed document {}/{} from record {}: {error}",
                        action.index, action.id, action.coordinates
                    ));
                }
                settled.done += 1;
            }
            ItemDecision::Fail(cause) => return Err(failure(counters, &action, cause)),
        }
    }
    Ok(settled)
}

/// Why the task fails at `action`; the cause is counted first so the task's trace shows it.
fn failure(counters: &SinkCounters, action: &EncodedAction, cause: Failure) -> String {
    let (index, id, record) = (&action.index, &action.id, &action.coordinates);
    match cause {
        Failure::Malformed(reason) => {
            SinkCounters::add(&counters.documents_malformed, 1);
            format!(
                "malformed document {index}/{id} from record {record}: {reason} (behavior.on.malformed.documents=fail)"
            )
        }
        Failure::VersionConflict { reason, retries } => {
            SinkCounters::add(&counters.version_conflicts, 1);
            format!(
                "version conflict on {index}/{id} (record {record}) persisted after {retries} retries: {reason}"
            )
        }
        Failure::Refused(reason) => {
            format!("cannot write {index}/{id} from record {record}: {reason}")
        }
    }
}

/// Hands a refused document's record to the runtime's DLQ, when there is one.
async fn report_malformed(
    reporter: Option<&Arc<dyn ErrantRecordReporter>>,
    action: &EncodedAction,
    reason: &str,
) -> Result<(), ConnectError> {
    match (reporter, &action.record) {
        (Some(reporter), Some(record)) => {
            let error = ConnectError::definite(format!(
                "Elasticsearch refused the document {}/{}: {reason}",
                action.index, action.id
            ));
            reporter.report(record, &error).await
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use connect_api::TaskMetrics;

    use super::*;
    use crate::encoder::RecordCoordinates;

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

    #[tokio::test]
    async fn counts_done_and_keeps_retries_in_order() {
        let counters = SinkCounters::register(&TaskMetrics::default());
        let effects = Effects {
            counters: &counters,
            reporter: None,
        };
        let settled = settle(
            effects,
            vec![
                action("a", Operation::Index),
                action("b", Operation::Delete),
                action("c", Operation::Index),
                action("d", Operation::Index),
                action("c", Operation::Index),
            ],
            vec![
                ItemDecision::Written,
                ItemDecision::Written,
                ItemDecision::Retry("es_rejected_execution_exception [429]".to_owned()),
                ItemDecision::SkipMalformed {
                    reason: "mapper_parsing_exception [400]".to_owned(),
                    warn: false,
                },
                ItemDecision::FollowRetriedId,
            ],
        )
        .await
        .unwrap();
        assert_eq!(settled.done, 3);
        let retried: Vec<_> = settled.retry.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(retried, ["c", "c"]);
        assert_eq!(settled.last_reason, "es_rejected_execution_exception [429]");
        let snapshot = counters.snapshot();
        assert_eq!(
            (
                snapshot.documents_indexed,
                snapshot.documents_deleted,
                snapshot.items_retried,
                snapshot.documents_malformed
            ),
            (1, 1, 1, 1)
        );
    }

    #[tokio::test]
    async fn a_failing_decision_names_the_document_and_counts_its_cause() {
        let counters = SinkCounters::register(&TaskMetrics::default());
        let effects = Effects {
            counters: &counters,
            reporter: None,
        };
        let error = settle(
            effects,
            vec![action("a", Operation::Update)],
            vec![ItemDecision::Fail(Failure::VersionConflict {
                reason: "version_conflict_engine_exception [409]".to_owned(),
                retries: 3,
            })],
        )
        .await
        .unwrap_err();
        assert!(
            error.starts_with("version conflict on orders/a (record ")
                && error.ends_with(
                    "persisted after 3 retries: version_conflict_engine_exception [409]"
                ),
            "{error}"
        );
        assert_eq!(counters.snapshot().version_conflicts, 1);
    }
}
