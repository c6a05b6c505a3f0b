//! Shared helpers of the schema registry tests: a registry over the real cluster A on a
//! topic and group of its own, driven in process with `oneshot`, and raw access to its
//! `_schemas` topic.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use broker_core::{KafkaClients, Shutdown};
use http_body_util::BodyExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use schema_registry::{Registry, SchemaRegistryConfig, router};
use serde_json::{Value, json};
use tests::{Services, kafka_clients, unique_name};
use tower::ServiceExt;

pub(crate) const MEDIA: &str = "application/vnd.schemaregistry.v1+json";

pub(crate) struct TestRegistry {
    router: Router,
    pub(crate) topic: String,
    pub(crate) clients: KafkaClients,
    shutdown: Shutdown,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: String,
    pub(crate) body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Reply {
    /// Asserts a Confluent error body with `code`.
    pub(crate) fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.body["error_code"].as_u64(), Some(code), "{self:?}");
        assert!(self.body["message"].is_string(), "{self:?}");
    }
}

/// Cluster A's clients, or a panic that says how to start Kafka.
pub(crate) async fn clients() -> KafkaClients {
    kafka_clients(&Services::from_env().kafka_bootstrap).await
}

impl TestRegistry {
    /// A registry on a fresh topic and group.
    pub(crate) async fn start() -> Self {
        Self::on_topic(&unique_name("_schemas_it"), "").await
    }

    /// A registry on `topic` (created when missing), `extra` TOML lines added.
    pub(crate) async fn on_topic(topic: &str, extra: &str) -> Self {
        let clients = clients().await;
        let text = format!(
            "enabled = true\nkafkastore_topic = \"{topic}\"\ngroup_id = \"{}\"\n\
             election_session_timeout_ms = 6000\n{extra}",
            unique_name("sr_group")
        );
        let config: SchemaRegistryConfig = toml::from_str(&text).expect("registry config");
        let validated = config.validate("schema_registry").expect("valid config");
        let shutdown = Shutdown::new();
        let registry = Registry::start(validated, &clients, shutdown.clone())
            .await
            .expect("registry starts");
        Self {
            router: router(std::sync::Arc::new(registry)),
            topic: topic.to_owned(),
            clients,
            shutdown,
        }
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(None, method, path, body).await
    }

    /// A request with `authorization` as its `Authorization` header.
    pub(crate) async fn call_as(
        &self,
        authorization: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", MEDIA);
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("router is infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            content_type,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Registers `schema` (AVRO unless `schema_type`) and returns its id, asserting 200.
    pub(crate) async fn register(&self, subject: &str, schema: &str, schema_type: &str) -> i64 {
        let reply = self
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": schema, "schemaType": schema_type}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["id"].as_i64().expect("id")
    }
}

/// Every record of a one-partition topic: key and value as text (`None` = tombstone).
pub(crate) async fn read_records(
    clients: &KafkaClients,
    topic: &str,
) -> Vec<(String, Option<String>)> {
    let consumer: StreamConsumer = clients
        .consumer(&unique_name("sr_check"))
        .expect("consumer");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&list).expect("assign");
    let mut records = Vec::new();
    let started = Instant::now();
    let mut next = 0;
    while next < high {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "read {next} of {high}"
        );
        let message = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("record within 10 s")
            .expect("record");
        next = message.offset() + 1;
        let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
        records.push((
            text(message.key()).unwrap_or_default(),
            text(message.payload()),
        ));
    }
    records
}

/// Creates `topic` as Confluent does (one partition, compacted) and writes `records` to it
/// in order, raw.
pub(crate) async fn write_raw(
    clients: &KafkaClients,
    topic: &str,
    records: &[(&str, Option<&str>)],
) {
    let admin = clients.admin().expect("admin");
    let new_topic =
        rdkafka::admin::NewTopic::new(topic, 1, rdkafka::admin::TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact");
    admin
        .create_topics(
            [&new_topic],
            &rdkafka::admin::AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topic");
    let producer: FutureProducer = clients.producer().expect("producer");
    for (key, value) in records {
        let mut record: FutureRecord<'_, str, str> = FutureRecord::to(topic).partition(0).key(*key);
        if let Some(value) = value {
            record = record.payload(*value);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(error, _)| error)
            .expect("raw record written");
    }
}

pub(crate) fn avro_record(name: &str, fields: &[(&str, &str)]) -> String {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(field, definition)| {
            let mut value: Value = serde_json::from_str(definition).expect("field json");
            value["name"] = json!(field);
            value
        })
        .collect();
    json!({"type": "record", "name": name, "fields": fields}).to_string()
}
