//! The Elasticsearch sink's remaining Confluent options against the real Kafka and
//! OpenSearch: gzip and a proxy (through a real forwarding proxy in the test), external
//! versions from a header, non-compact map entries, and the options this gateway refuses.

use std::time::Duration;

use broker_core::KafkaClients;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, http_client, unique_name};

use crate::connect_support::{ClusterNames, call, clients};
use crate::es_sink_support::{
    RecordingProxy, create_connector, delete_index, documents, index_mapping, keyed, produce,
    search_url, sink_config, start_worker, wait_for_count, wait_for_es_counter, wait_for_task,
};

/// `base64("proxy-user:proxy-secret")`, what a basic-auth proxy must receive.
const PROXY_AUTHORIZATION: &str = "Basic cHJveHktdXNlcjpwcm94eS1zZWNyZXQ=";

#[tokio::test]
async fn compressed_bulk_requests_go_through_the_proxy_with_its_credentials() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let proxy = RecordingProxy::start().await;
    let topic = unique_name("es_sink_proxy_gzip");
    create_topic(&clients, &topic, 1).await;
    let records: Vec<(&str, Value)> = vec![
        ("a", json!({"n": 1, "text": "compressed ".repeat(50)})),
        ("b", json!({"n": 2, "text": "compressed ".repeat(50)})),
        ("c", json!({"n": 3, "text": "compressed ".repeat(50)})),
    ];
    produce(&clients, &topic, &keyed(&records)).await;
    let name = format!("es-proxy-{}", unique_name("c"));
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({
                "connection.compression": "true",
                "proxy.host": "127.0.0.1",
                "proxy.port": proxy.port.to_string(),
                "proxy.username": "proxy-user",
                "proxy.password": "proxy-secret",
            }),
        ),
    )
    .await;
    wait_for_count(&search, &topic, 3, Duration::from_secs(60)).await;
    let stored = documents(&search, &topic).await;
    assert_eq!(stored["b"]["n"], 2, "{stored:?}");

    let seen = proxy.seen();
    let bulks: Vec<_> = seen
        .iter()
        .filter(|r| r.method == "POST" && r.target.ends_with("/_bulk"))
        .collect();
    assert!(
        !bulks.is_empty(),
        "no _bulk went through the proxy: {seen:?}"
    );
    for bulk in &bulks {
        assert!(
            bulk.target.starts_with("http://127.0.0.1:9200/") || bulk.target.starts_with(&search),
            "{}",
            bulk.target
        );
        assert_eq!(
            bulk.headers
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("gzip"),
            "{:?}",
            bulk.headers
        );
        assert_eq!(
            bulk.headers
                .get("proxy-authorization")
                .and_then(|v| v.to_str().ok()),
            Some(PROXY_AUTHORIZATION)
        );
    }
    // Every call of the task, GET / and index creation included, used the proxy.
    assert!(
        seen.iter().any(|r| r.method == "GET"),
        "the server check bypassed the proxy: {seen:?}"
    );
    let status = wait_for_task(&worker, &name, "RUNNING").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    worker.stop().await;
    delete_index(&search, &topic).await;
}

/// Produces `(key, version header, value)` records to partition 0.
async fn produce_versioned(
    clients: &KafkaClients,
    topic: &str,
    records: &[(&str, Option<&str>, Value)],
) {
    let producer = clients.producer().unwrap();
    for (key, version, value) in records {
        let payload = value.to_string();
        let mut record = FutureRecord::<str, str>::to(topic)
            .partition(0)
            .key(key)
            .payload(&payload);
        if let Some(version) = version {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "doc-version",
                value: Some(*version),
            }));
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
}

async fn document(search: &str, index: &str, id: &str) -> Value {
    http_client()
        .get(format!("{search}/{index}/_doc/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn external_version_header_keeps_the_newest_version() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("es_sink_external_version");
    create_topic(&clients, &topic, 1).await;
    produce_versioned(
        &clients,
        &topic,
        &[
            ("doc", Some("5"), json!({"v": 5})),
            ("doc", Some("3"), json!({"v": 3})),
            // No header: invalid, dropped with drop.invalid.message=true.
            ("other", None, json!({"v": 0})),
        ],
    )
    .await;
    let name = format!("es-version-{}", unique_name("c"));
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({"external.version.header": "doc-version", "drop.invalid.message": "true"}),
        ),
    )
    .await;
    wait_for_es_counter(&worker, &name, "version_conflicts", |v| v >= 1.0).await;
    wait_for_es_counter(&worker, &name, "records_dropped_invalid", |v| v >= 1.0).await;
    let kept = document(&search, &topic, "doc").await;
    assert_eq!(kept["_version"], 5, "{kept}");
    assert_eq!(kept["_source"], json!({"v": 5}), "{kept}");
    assert_eq!(document(&search, &topic, "other").await["found"], false);

    produce_versioned(&clients, &topic, &[("doc", Some("7"), json!({"v": 7}))]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let current = document(&search, &topic, "doc").await;
        if current["_version"] == 7 {
            assert_eq!(current["_source"], json!({"v": 7}), "{current}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "v7 never landed: {current}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let conflicts = wait_for_es_counter(&worker, &name, "version_conflicts", |v| v >= 1.0).await;
    assert!((conflicts - 1.0).abs() < f64::EPSILON, "{conflicts}");
    let status = wait_for_task(&worker, &name, "RUNNING").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    worker.stop().await;
    delete_index(&search, &topic).await;
}

#[tokio::test]
async fn non_compact_map_entries_become_key_value_documents() {
    let clients = clients().await;
    let search = search_url().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("es_sink_map_entries");
    create_topic(&clients, &topic, 1).await;
    let value = json!({
        "schema": {"type": "struct", "name": "t.Value", "fields": [
            {"field": "id", "type": "int32"},
            {"field": "attrs", "type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}},
        ]},
        "payload": {"id": 1, "attrs": {"a": 1, "b": 2}},
    });
    produce(
        &clients,
        &topic,
        &[(Some("m1".to_owned()), Some(value.to_string()))],
    )
    .await;
    let name = format!("es-maps-{}", unique_name("c"));
    create_connector(
        &worker,
        &name,
        sink_config(
            &search,
            &topic,
            &json!({"value.converter.schemas.enable": "true", "compact.map.entries": "false"}),
        ),
    )
    .await;
    wait_for_count(&search, &topic, 1, Duration::from_secs(60)).await;
    let stored = documents(&search, &topic).await;
    assert_eq!(
        stored["m1"],
        json!({"id": 1, "attrs": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]})
    );
    let mapping = index_mapping(&search, &topic).await;
    let attrs = &mapping[&topic]["mappings"]["properties"]["attrs"]["properties"];
    assert_eq!(attrs["value"]["type"], "integer", "{mapping}");
    assert_eq!(attrs["key"]["type"], "text", "{mapping}");
    // Entries are searchable by key and value.
    let (status, found) = call(
        Method::POST,
        &format!("{search}/{topic}/_search"),
        Some(json!({"query": {"term": {"attrs.value": 2}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["hits"]["total"]["value"], 1, "{found}");
    worker.stop().await;
    delete_index(&search, &topic).await;
}

#[tokio::test]
async fn validate_refuses_kerberos_java_stores_and_incomplete_proxies_per_key() {
    let clients = clients().await;
    let worker = start_worker(&clients, &ClusterNames::unique()).await;
    let config = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "name": "v", "topics": "t", "connection.url": "https://a:9200",
        "kerberos.user.principal": "svc@EXAMPLE.COM",
        "kerberos.keytab.path": "/etc/svc.keytab",
        "elastic.https.ssl.truststore.location": "/etc/ssl/es.jks",
        "elastic.https.ssl.truststore.type": "JKS",
        "elastic.https.ssl.keystore.location": "/etc/ssl/client.p12",
        "elastic.https.ssl.keystore.type": "PKCS12",
        "proxy.port": "3128",
        "proxy.password": "proxy-s3cr3t",
        "external.version.header": "v",
        "write.method": "upsert",
    });
    let (status, body) = call(
        Method::PUT,
        &worker.url("/connector-plugins/io.confluent.connect.elasticsearch.ElasticsearchSinkConnector/config/validate"),
        Some(config),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let errors = |key: &str| -> Vec<String> {
        body["configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["value"]["name"] == key)
            .flat_map(|c| c["value"]["errors"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    };
    for key in [
        "kerberos.user.principal",
        "kerberos.keytab.path",
        "elastic.https.ssl.truststore.type",
        "elastic.https.ssl.keystore.type",
    ] {
        let found = errors(key);
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("not supported by this gateway")),
            "{key}: {found:?} in {body}"
        );
    }
    for key in ["proxy.port", "proxy.password", "external.version.header"] {
        assert!(!errors(key).is_empty(), "{key} has no error: {body}");
    }
    assert!(body["error_count"].as_u64().unwrap_or(0) >= 7, "{body}");
    assert!(!body.to_string().contains("proxy-s3cr3t"), "{body}");
    worker.stop().await;
}
