//! The dry run: each record through the same [`Encoder`] as the task, shown as the bulk
//! action it would become (`{"action","index","id","document"}`), with nothing sent.

use connect_api::{ConfigMap, ConnectError, SinkRecord};
use serde_json::{Value, json};

use crate::config::{ElasticsearchSinkConfig, config_def};
use crate::encoder::{Encoded, EncodedAction, Encoder};

/// One answer per record: the action it gives (none when skipped) or why it cannot be
/// written.
pub fn preview(
    config: &ConfigMap,
    records: &[SinkRecord],
) -> Result<Vec<Result<Vec<Value>, ConnectError>>, ConnectError> {
    config_def().parse(config)?;
    let validated = ElasticsearchSinkConfig::validate(config).map_err(|issues| {
        issues.into_iter().next().map_or_else(
            || ConnectError::definite("invalid config"),
            ConnectError::from,
        )
    })?;
    let encoder = Encoder::new(validated);
    Ok(records
        .iter()
        .map(|record| match encoder.encode(record) {
            Ok(Encoded::Action(action)) => Ok(vec![shown(&action)]),
            Ok(Encoded::Skip(_)) => Ok(Vec::new()),
            Err(error) => Err(ConnectError::definite(error.to_string())),
        })
        .collect())
}

/// The action as the bulk request would carry it; the document is its source line.
fn shown(action: &EncodedAction) -> Value {
    let document = action
        .lines
        .split(|byte| *byte == b'\n')
        .nth(1)
        .filter(|line| !line.is_empty())
        .and_then(|line| serde_json::from_slice::<Value>(line).ok());
    let mut shown = json!({
        "action": action.operation.name(),
        "index": action.index,
        "id": action.id,
    });
    if let Some(document) = document {
        shown["document"] = document;
    }
    shown
}

#[cfg(test)]
mod tests {
    use connect_api::ConnectRecord;

    use super::*;

    fn record(key: Value, value: Value) -> SinkRecord {
        SinkRecord {
            record: ConnectRecord {
                topic: "Orders".to_owned(),
                kafka_partition: Some(0),
                key_schema: None,
                key,
                value_schema: None,
                value,
                timestamp: None,
                headers: Vec::new(),
            },
            original_topic: "Orders".to_owned(),
            kafka_partition: 0,
            kafka_offset: 7,
        }
    }

    #[test]
    fn records_become_the_actions_the_task_would_send() {
        let config: ConfigMap = [
            ("connection.url", "http://127.0.0.1:1"),
            ("schema.ignore", "true"),
            ("behavior.on.null.values", "delete"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let answers = preview(
            &config,
            &[
                record(json!("a"), json!({"n": 1})),
                record(json!("a"), Value::Null),
                record(json!("b"), json!(3)),
            ],
        )
        .unwrap();
        assert_eq!(
            answers[0].as_ref().unwrap(),
            &vec![json!({"action": "index", "index": "orders", "id": "a", "document": {"n": 1}})]
        );
        assert_eq!(
            answers[1].as_ref().unwrap(),
            &vec![json!({"action": "delete", "index": "orders", "id": "a"})]
        );
        assert!(answers[2].is_err(), "a number is no document");
    }
}
