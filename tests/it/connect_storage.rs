//! The internal topics as Kafka Connect lays them out: partitions, compaction, keys and
//! values; plus config providers, a FAILED task with its trace, and SMTs through Kafka.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{
    ClusterNames, TestWorker, call, clients, get, temp_file, wait_for, wait_for_state,
};

/// Every (key, value) of a topic, in order per partition.
fn read_topic(clients: &broker_core::KafkaClients, topic: &str) -> Vec<(String, Option<Value>)> {
    let consumer: BaseConsumer =
        broker_core::clients::create(&clients.consumer_config(&unique_name("reader")), "reader")
            .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut out = Vec::new();
    for partition in partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(10))
            .unwrap();
        if high == 0 {
            continue;
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
        consumer.assign(&list).unwrap();
        loop {
            let message = consumer
                .poll(Duration::from_secs(10))
                .expect("record within 10 s")
                .unwrap();
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            out.push((
                key,
                message
                    .payload()
                    .map(|p| serde_json::from_slice(p).unwrap()),
            ));
            if message.offset() + 1 >= high {
                break;
            }
        }
    }
    out
}

#[tokio::test]
async fn internal_topics_use_kafka_connect_layout_and_keys() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let mut config = names.config();
    config.offset_storage_partitions = 25;
    let shutdown = broker_core::Shutdown::new();
    let worker = connect::Worker::start(
        config,
        clients.clone(),
        connect::builtin_plugins(),
        &Default::default(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", worker.tcp.local_addr().unwrap());
    let served = tokio::spawn(async move { worker.serve().await.unwrap() });

    let inspector =
        broker_core::metadata::ClusterInspector::new(&clients, Duration::from_secs(10)).unwrap();
    for (topic, partitions) in [
        (&names.configs, 1),
        (&names.offsets, 25),
        (&names.statuses, 5),
    ] {
        assert_eq!(
            inspector.topic(topic).await.unwrap().partitions.len(),
            partitions,
            "{topic}"
        );
    }
    let admin = clients.admin().unwrap();
    let described = admin
        .describe_configs(
            &[
                ResourceSpecifier::Topic(&names.configs),
                ResourceSpecifier::Topic(&names.offsets),
                ResourceSpecifier::Topic(&names.statuses),
            ],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    for resource in described {
        let resource = resource.unwrap();
        let policy = resource
            .entries
            .iter()
            .find(|e| e.name == "cleanup.policy")
            .and_then(|e| e.value.clone());
        assert_eq!(policy.as_deref(), Some("compact"));
    }

    let topic = unique_name("connect_layout");
    create_topic(&clients, &topic, 1).await;
    let file = temp_file("connect_layout");
    tokio::fs::write(&file, "a\nb\n").await.unwrap();
    let (status, _) = call(
        Method::POST,
        &format!("{base}/connectors"),
        Some(json!({"name": "layout", "config": {
        "connector.class": "FileStreamSource", "file": file.to_string_lossy(), "topic": topic}})),
    )
    .await;
    assert_eq!(status, 201);
    wait_for(
        &format!("{base}/connectors/layout/offsets"),
        Duration::from_secs(30),
        |s, b| s == 200 && b["offsets"][0]["offset"]["position"] == 4,
    )
    .await;
    let (status, _) = call(
        Method::PUT,
        &format!("{base}/connectors/layout/pause"),
        None,
    )
    .await;
    assert_eq!(status, 202);

    let records: BTreeMap<String, Option<Value>> =
        read_topic(&clients, &names.configs).into_iter().collect();
    assert_eq!(
        records["connector-layout"].as_ref().unwrap()["properties"]["connector.class"],
        "FileStreamSource"
    );
    assert_eq!(
        records["task-layout-0"].as_ref().unwrap()["properties"]["topic"],
        topic.as_str()
    );
    assert_eq!(records["commit-layout"], Some(json!({"tasks": 1})));
    assert_eq!(
        records["target-state-layout"],
        Some(json!({"state": "PAUSED", "state.v2": "PAUSED"}))
    );

    let offsets = read_topic(&clients, &names.offsets);
    let expected_key = json!(["layout", {"filename": file.to_string_lossy()}]).to_string();
    let last = offsets
        .iter()
        .rev()
        .find(|(k, _)| *k == expected_key)
        .expect("offset record keyed like Kafka Connect");
    assert_eq!(last.1, Some(json!({"position": 4})));

    let statuses: BTreeMap<String, Option<Value>> =
        read_topic(&clients, &names.statuses).into_iter().collect();
    let connector_status = statuses["status-connector-layout"].as_ref().unwrap();
    assert!(
        connector_status.get("worker_id").is_some() && connector_status.get("generation").is_some()
    );
    assert!(statuses.contains_key("status-task-layout-0"));
    assert!(statuses.contains_key(&format!("status-topic-{topic}:connector-layout")));

    shutdown.trigger();
    served.await.unwrap();
    let _ = tokio::fs::remove_file(&file).await;
}

#[tokio::test]
async fn failed_task_shows_trace_and_restarts_when_fixed() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("connect_fail");
    create_topic(&clients, &topic, 1).await;
    let directory = std::env::temp_dir().join(unique_name("connect_missing_dir"));
    let output = directory.join("out.txt");
    let (status, _) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": "broken", "config": {
        "connector.class": "FileStreamSink", "file": output.to_string_lossy(), "topics": topic}})),
    )
    .await;
    assert_eq!(status, 201);
    let failed = wait_for(
        &worker.url("/connectors/broken/status"),
        Duration::from_secs(30),
        |s, b| s == 200 && b["tasks"][0]["state"] == "FAILED",
    )
    .await;
    let trace = failed["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.starts_with("org.apache.kafka.connect.errors.ConnectException: cannot open"),
        "{trace}"
    );
    assert_eq!(failed["connector"]["state"], "RUNNING");
    let (_, task) = get(&worker.url("/connectors/broken/tasks/0/status")).await;
    assert_eq!(task["state"], "FAILED");

    tokio::fs::create_dir_all(&directory).await.unwrap();
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors/broken/restart?includeTasks=true&onlyFailed=true"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        body["connector"]["state"], "RUNNING",
        "only failed instances restart"
    );
    assert_eq!(body["tasks"][0]["state"], "RESTARTING");
    let running = wait_for_state(&worker, "broken", "RUNNING", 1).await;
    assert!(running["tasks"][0].get("trace").is_none());
    worker.stop().await;
    let _ = tokio::fs::remove_dir_all(&directory).await;
}

#[tokio::test]
async fn config_providers_and_smts_apply_on_the_way_to_kafka() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("connect_smt");
    let routed = format!("{topic}-routed");
    create_topic(&clients, &routed, 1).await;
    let file = temp_file("connect_smt");
    tokio::fs::write(&file, "hello\nworld\n").await.unwrap();
    // The input path comes from a properties file through the `file` config provider.
    let properties = temp_file("connect_smt_secrets");
    tokio::fs::write(
        &properties,
        format!("# test secrets\ninput.path={}\n", file.to_string_lossy()),
    )
    .await
    .unwrap();
    let reference = format!("${{file:{}:input.path}}", properties.to_string_lossy());
    let config = json!({
        "connector.class": "FileStreamSource", "file": reference, "topic": topic,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
        "transforms": "hoist,insert,route,header",
        "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value", "transforms.hoist.field": "line",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.static.field": "origin", "transforms.insert.static.value": "file",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-routed",
        "transforms.header.type": "org.apache.kafka.connect.transforms.InsertHeader",
        "transforms.header.header": "source", "transforms.header.value.literal": "gateway"});
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": "smt", "config": config})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["config"]["file"],
        reference.as_str(),
        "references are stored and shown unresolved"
    );

    let consumer = clients.consumer(&unique_name("smt_reader")).unwrap();
    consumer.subscribe(&[&routed]).unwrap();
    let mut stream = consumer.stream();
    let mut values = Vec::new();
    while values.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("records within 30 s")
            .unwrap()
            .unwrap();
        use rdkafka::message::Headers;
        let header = message.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == "source")
                .and_then(|h| h.value.map(<[u8]>::to_vec))
        });
        assert_eq!(header.as_deref(), Some(&b"gateway"[..]));
        values.push(serde_json::from_slice::<Value>(message.payload().unwrap()).unwrap());
    }
    assert_eq!(
        values,
        vec![
            json!({"line": "hello", "origin": "file"}),
            json!({"line": "world", "origin": "file"})
        ]
    );
    worker.stop().await;
    let _ = tokio::fs::remove_file(&file).await;
    let _ = tokio::fs::remove_file(&properties).await;
}

#[tokio::test]
async fn worker_refuses_unusable_internal_topics() {
    let clients = clients().await;
    // A config topic with two partitions.
    let names = ClusterNames::unique();
    create_topic(&clients, &names.configs, 2).await;
    let error = connect::Worker::start(
        names.config(),
        clients.clone(),
        connect::builtin_plugins(),
        &Default::default(),
        broker_core::Shutdown::new(),
    )
    .await
    .expect_err("a two-partition config topic is refused");
    assert!(error.to_string().contains("exactly one"), "{error}");

    // A status topic that is not compacted.
    let names = ClusterNames::unique();
    create_topic(&clients, &names.statuses, 1).await;
    let error = connect::Worker::start(
        names.config(),
        clients.clone(),
        connect::builtin_plugins(),
        &Default::default(),
        broker_core::Shutdown::new(),
    )
    .await
    .expect_err("a non-compacted status topic is refused");
    assert!(error.to_string().contains("must be compact"), "{error}");
}

/// A graceful stop commits the source offsets of what was written, and the task does not
/// fail on the way out (the offset store must outlive the draining tasks).
#[tokio::test]
async fn graceful_stop_stores_the_last_source_offsets() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let mut config = names.config();
    // Far longer than the test: only the commit on stop can store the offsets.
    config.offset_flush_interval = Duration::from_secs(600);
    let worker = TestWorker::start_with(&clients, config).await;
    let topic = unique_name("connect_stop");
    create_topic(&clients, &topic, 1).await;
    let file = temp_file("connect_stop");
    // Fixed-width lines, so that a position in the file says how many lines it covers; many
    // of them, so that the task is still busy when the stop comes.
    let lines: String = (0..200_000).map(|i| format!("line-{i:06}\n")).collect();
    tokio::fs::write(&file, lines).await.unwrap();
    let (status, _) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": "stopper", "config": {
            "connector.class": "FileStreamSource", "file": file.to_string_lossy(),
            "topic": topic}})),
    )
    .await;
    assert_eq!(status, 201);
    let inspector =
        broker_core::metadata::ClusterInspector::new(&clients, Duration::from_secs(10)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while inspector.watermarks(&topic, 0).await.map_or(0, |w| w.high) < 1000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the lines never reached {topic}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop().await;
    let written = inspector.watermarks(&topic, 0).await.unwrap().high;

    let expected_key = json!(["stopper", {"filename": file.to_string_lossy()}]).to_string();
    let offsets = read_topic(&clients, &names.offsets);
    let last = offsets.iter().rev().find(|(k, _)| *k == expected_key);
    assert_eq!(
        last.map(|(_, v)| v.clone()),
        Some(Some(json!({"position": written * 12}))),
        "the stored position covers exactly the {written} records written"
    );
    let statuses: BTreeMap<String, Option<Value>> =
        read_topic(&clients, &names.statuses).into_iter().collect();
    let task = statuses["status-task-stopper-0"].as_ref().unwrap();
    assert_ne!(task["state"], "FAILED", "task status after stop: {task}");
    let _ = tokio::fs::remove_file(&file).await;
}

/// Connector and task states and record counts on the worker's metrics registry, named
/// as the JMX exporter names Kafka Connect's.
#[tokio::test]
async fn connector_and_task_states_are_gauges() {
    let clients = clients().await;
    let names = ClusterNames::unique();
    let registry = broker_core::telemetry::MetricsRegistry::new();
    let shutdown = broker_core::Shutdown::new();
    let worker = connect::Worker::start(
        names.config(),
        clients.clone(),
        connect::builtin_plugins(),
        &registry,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", worker.tcp.local_addr().unwrap());
    let served = tokio::spawn(async move { worker.serve().await.unwrap() });
    let topic = unique_name("connect_gauges");
    create_topic(&clients, &topic, 1).await;
    let file = temp_file("connect_gauges");
    tokio::fs::write(&file, "a\nb\n").await.unwrap();
    let (status, _) = call(
        Method::POST,
        &format!("{base}/connectors"),
        Some(json!({"name": "gauged", "config": {
            "connector.class": "FileStreamSource", "file": file.to_string_lossy(),
            "topic": topic}})),
    )
    .await;
    assert_eq!(status, 201);
    wait_for(
        &format!("{base}/connectors/gauged/status"),
        Duration::from_secs(30),
        |s, b| s == 200 && b["tasks"][0]["state"] == "RUNNING",
    )
    .await;
    let wait_for_text = |wanted: Vec<String>| {
        let registry = registry.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let text = registry.render().unwrap();
                if wanted.iter().all(|line| text.contains(line.as_str())) {
                    return text;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "missing one of {wanted:?} in\n{text}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let text = wait_for_text(vec![
        r#"kafka_connect_connector_status{connector="gauged",status="running"} 1"#.to_owned(),
        r#"kafka_connect_connector_task_status{connector="gauged",task="0",status="running"} 1"#
            .to_owned(),
        "kafka_connect_worker_task_count 1".to_owned(),
        "kafka_gateway_connect_source_records_total 2".to_owned(),
    ])
    .await;
    assert!(
        text.contains("kafka_connect_worker_connector_count 1"),
        "{text}"
    );

    let (status, _) = call(
        Method::PUT,
        &format!("{base}/connectors/gauged/pause"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let text = wait_for_text(vec![
        r#"kafka_connect_connector_task_status{connector="gauged",task="0",status="paused"} 1"#
            .to_owned(),
    ])
    .await;
    assert!(
        !text.contains(r#"task="0",status="running""#),
        "one state per task: {text}"
    );
    let (status, _) = call(Method::DELETE, &format!("{base}/connectors/gauged"), None).await;
    assert_eq!(status, 204);
    wait_for_text(vec!["kafka_connect_worker_connector_count 0".to_owned()]).await;

    shutdown.trigger();
    served.await.unwrap();
    let _ = tokio::fs::remove_file(&file).await;
}
