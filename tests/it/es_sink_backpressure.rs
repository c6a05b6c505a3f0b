//! The sink task driven directly (as the runtime drives it) against the real shared
//! OpenSearch: tombstones delete, and a buffer of three records bounds what `put` accepts.
//! A TCP proxy that only cuts traffic holds the acknowledgements back, so `put` must refuse
//! more than the buffer with a retriable error, and the runtime's retry of the same records
//! then gets every one of them indexed.

use std::time::Duration;

use connect_api::{ConfigMap, ConnectRecord, SinkConnector, SinkRecord, SinkTask, SinkTaskContext};
use elasticsearch_sink::ElasticsearchSink;
use serde_json::{Value, json};
use tests::unique_name;

use crate::es_sink_support::{Proxy, delete_index, documents, search_url};

fn record(topic: &str, offset: i64, key: &str, value: Value) -> SinkRecord {
    SinkRecord {
        record: ConnectRecord::new(topic, None, value).with_key(None, json!(key)),
        original_topic: topic.to_owned(),
        kafka_partition: 0,
        kafka_offset: offset,
    }
}

fn records(topic: &str, offsets: std::ops::Range<i64>) -> Vec<SinkRecord> {
    offsets
        .map(|i| record(topic, i, &format!("k{i}"), json!({"i": i})))
        .collect()
}

/// What the runtime does: `put` again with the same records while it reports a retriable
/// error, then `flush` until it succeeds.
async fn put_and_flush(task: &mut impl SinkTask, records: &[SinkRecord]) {
    let mut put_done = false;
    for _ in 0..60 {
        if !put_done {
            match task.put(records).await {
                Ok(()) => put_done = true,
                Err(error) => assert!(error.is_retriable(), "{error}"),
            }
        }
        if put_done {
            match task.flush().await {
                Ok(()) => return,
                Err(error) => assert!(error.is_retriable(), "{error}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("put/flush of {} records did not succeed", records.len());
}

#[tokio::test]
async fn tombstones_delete_and_a_full_buffer_holds_put_back() {
    let search = search_url().await;
    let proxy = Proxy::start(&search).await;
    let topic = unique_name("es_sink_buffer");
    let config: ConfigMap = [
        ("name", "buffer"),
        ("connection.url", proxy.url.as_str()),
        ("max.buffered.records", "3"),
        ("batch.size", "10"),
        ("behavior.on.null.values", "delete"),
        ("flush.timeout.ms", "2000"),
        ("retry.backoff.ms", "50"),
        ("read.timeout.ms", "2000"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut task = ElasticsearchSink
        .create_task(&config, SinkTaskContext::default())
        .await
        .unwrap();

    // Thirty records through a buffer of three, then a tombstone for the first one.
    put_and_flush(&mut task, &records(&topic, 0..30)).await;
    put_and_flush(&mut task, &[record(&topic, 30, "k0", Value::Null)]).await;
    let docs = documents(&search, &topic).await;
    assert_eq!(docs.len(), 29, "{:?}", docs.keys());
    assert!(!docs.contains_key("k0"));
    let counters = task.counters();
    assert!(
        counters.documents_indexed >= 30 && counters.documents_deleted == 1,
        "{counters}"
    );

    // No acknowledgement comes back: three records fill the buffer, and `put` gives up on
    // the rest after flush.timeout.ms with a retriable error instead of buffering more.
    proxy.block(true);
    let error = task.put(&records(&topic, 100..110)).await.unwrap_err();
    assert!(error.is_retriable(), "{error}");
    assert!(
        error.to_string().contains("max.buffered.records"),
        "{error}"
    );
    assert!(task.flush().await.unwrap_err().is_retriable());
    assert_eq!(documents(&search, &topic).await.len(), 29);

    // The runtime retries `put` with the same records, then flushes, until both succeed.
    proxy.block(false);
    put_and_flush(&mut task, &records(&topic, 100..110)).await;
    let docs = documents(&search, &topic).await;
    assert_eq!(docs.len(), 39, "{:?}", docs.keys());
    for i in 100..110 {
        assert_eq!(docs[&format!("k{i}")]["i"], i);
    }
    task.stop().await;
    delete_index(&search, &topic).await;
}
