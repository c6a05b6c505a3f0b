//! Every REST endpoint of the connector runtime against the real Kafka, through HTTP.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::{create_topic, unique_name};

use crate::connect_support::{
    ClusterNames, TestWorker, call, clients, get, temp_file, wait_for, wait_for_state,
};

const SOURCE: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";

#[tokio::test]
async fn root_health_and_plugins() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;

    let (status, root) = get(&worker.url("/")).await;
    assert_eq!(status, 200);
    assert_eq!(root["version"], "3.9.0");
    assert!(
        root["kafka_cluster_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{root}"
    );

    let (status, document) = get(&worker.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(
        document["paths"]
            .get("/connectors/{name}/offsets")
            .is_some(),
        "{document}"
    );

    let (status, health) = get(&worker.url("/health")).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("healthy")));

    let (status, plugins) = get(&worker.url("/connector-plugins")).await;
    assert_eq!(status, 200);
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        vec![
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "org.apache.kafka.connect.file.FileStreamSourceConnector"
        ]
    );
    assert_eq!(plugins[1]["type"], "source");
    let (_, all) = get(&worker.url("/connector-plugins?connectorsOnly=false")).await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|p| p["type"] == "transformation"
                && p["class"] == "org.apache.kafka.connect.transforms.InsertField$Value")
    );

    let (status, definitions) =
        get(&worker.url("/connector-plugins/FileStreamSource/config")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = definitions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    // The plugin's keys, then the framework's (Kafka 3.6+, KAFKA-14843).
    assert_eq!(names[..3], ["file", "topic", "batch.size"]);
    for framework in [
        "connector.class",
        "exactly.once.support",
        "offsets.storage.topic",
    ] {
        assert!(names.contains(&framework), "{framework} in {names:?}");
    }
    assert_eq!(definitions[1]["required"], true);
    assert_eq!(definitions[2]["default_value"], "2000");

    let (status, missing) = get(&worker.url("/connector-plugins/NoSuchConnector/config")).await;
    assert_eq!(status, 404);
    assert_eq!(
        missing,
        json!({"error_code": 404, "message": "Unknown plugin NoSuchConnector."})
    );
    worker.stop().await;
}

#[tokio::test]
async fn validation_reports_per_key_errors_never_500() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let url = worker.url("/connector-plugins/FileStreamSourceConnector/config/validate");
    let (status, infos) = call(
        Method::PUT,
        &url,
        Some(json!({"connector.class": SOURCE, "batch.size": "many", "tasks.max": "0", "errors.tolerance": "some",
            "transforms": "x", "transforms.x.type": "com.example.Missing"})),
    )
    .await;
    assert_eq!(status, 200, "{infos}");
    let errors_of = |key: &str| -> Vec<String> {
        infos["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["definition"]["name"] == key || c["value"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        errors_of("topic"),
        vec!["Missing required configuration \"topic\" which has no default value."]
    );
    assert_eq!(
        errors_of("batch.size"),
        vec!["Invalid value many for configuration batch.size: Not a number of type INT"]
    );
    assert_eq!(
        errors_of("tasks.max"),
        vec!["Invalid value 0 for configuration tasks.max: Value must be at least 1"]
    );
    assert_eq!(errors_of("errors.tolerance").len(), 1);
    assert_eq!(errors_of("transforms.x.type").len(), 1);
    assert_eq!(infos["error_count"], 6, "{infos}");
    assert_eq!(infos["name"], SOURCE);
    assert!(
        infos["groups"]
            .as_array()
            .unwrap()
            .contains(&json!("Common"))
    );
    let topic_definition = infos["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "topic")
        .unwrap();
    assert_eq!(topic_definition["definition"]["type"], "LIST");
    assert!(topic_definition["definition"].get("order").is_some());

    // Mismatching plugin in the URL: 400.
    let (status, body) = call(
        Method::PUT,
        &worker.url("/connector-plugins/FileStreamSink/config/validate"),
        Some(json!({"connector.class": SOURCE})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Creating an invalid connector: 400 listing the errors; never 500.
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": "bad", "config": {"connector.class": SOURCE}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("contains the following 1 error(s)"),
        "{body}"
    );
    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": "bad", "config": {"connector.class": "com.example.Nope"}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let response = tests::http_client()
        .post(worker.url("/connectors"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 400);
    worker.stop().await;
}

#[tokio::test]
async fn connector_lifecycle_through_every_endpoint() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("connect_rest");
    create_topic(&clients, &topic, 1).await;
    let file = temp_file("connect_rest_source");
    tokio::fs::write(&file, "one\ntwo\n").await.unwrap();
    let name = unique_name("src");
    let config = json!({"connector.class": "FileStreamSource", "file": file.to_string_lossy(), "topic": topic,
        "tasks.max": 1, "database.password": "s3cr3t"});

    // Create: 201 + Location, name injected, password hidden.
    let response = tests::http_client()
        .post(worker.url("/connectors"))
        .json(&json!({"name": format!(" {name} "), "config": config}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        response.headers()["location"],
        format!("/connectors/{name}")
    );
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["name"], name.as_str());
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["name"], name.as_str());
    assert_eq!(info["config"]["tasks.max"], "1");
    assert_eq!(info["config"]["database.password"], "[hidden]");

    let (status, conflict) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": name, "config": config})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        conflict["message"],
        format!("Connector {name} already exists")
    );

    let status_body = wait_for_state(&worker, &name, "RUNNING", 1).await;
    assert_eq!(status_body["type"], "source");
    assert_eq!(
        status_body["connector"]["worker_id"],
        worker.worker_id.as_str()
    );
    assert!(status_body["tasks"][0].get("trace").is_none());

    let (_, list) = get(&worker.url("/connectors")).await;
    assert!(list.as_array().unwrap().contains(&json!(name)));
    let (_, expanded) = get(&worker.url("/connectors?expand=status&expand=info")).await;
    assert_eq!(expanded[&name]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(
        expanded[&name]["info"]["config"]["database.password"],
        "[hidden]"
    );

    let (status, got) = get(&worker.url(&format!("/connectors/{name}"))).await;
    assert_eq!(status, 200);
    assert_eq!(got["tasks"], json!([{"connector": name, "task": 0}]));
    let (_, tasks) = get(&worker.url(&format!("/connectors/{name}/tasks"))).await;
    assert_eq!(tasks[0]["id"], json!({"connector": name, "task": 0}));
    assert_eq!(tasks[0]["config"]["database.password"], "[hidden]");
    let (status, task_status) =
        get(&worker.url(&format!("/connectors/{name}/tasks/0/status"))).await;
    assert_eq!(
        (status, task_status["state"].as_str()),
        (200, Some("RUNNING"))
    );

    // Config: GET hides, PUT with [hidden] keeps the secret, PATCH null removes a key.
    let (_, stored) = get(&worker.url(&format!("/connectors/{name}/config"))).await;
    assert_eq!(stored["database.password"], "[hidden]");
    let mut updated = stored.clone();
    updated["batch.size"] = json!("10");
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/config")),
        Some(updated),
    )
    .await;
    assert_eq!(status, 200);
    let (status, patched) = call(
        Method::PATCH,
        &worker.url(&format!("/connectors/{name}/config")),
        Some(json!({"batch.size": null, "extra.key": "x"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert!(patched["config"].get("batch.size").is_none());
    assert_eq!(patched["config"]["extra.key"], "x");
    let (status, body) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/config")),
        Some(json!({"name": "other", "connector.class": SOURCE})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Topics tracked from the produced records, then reset.
    wait_for(
        &worker.url(&format!("/connectors/{name}/topics")),
        Duration::from_secs(30),
        |s, b| s == 200 && b[&name]["topics"] == json!([topic]),
    )
    .await;
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/topics/reset")),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let (_, topics) = get(&worker.url(&format!("/connectors/{name}/topics"))).await;
    assert_eq!(topics[&name]["topics"], json!([]));

    // Source offsets: stored once the two lines were acknowledged.
    let offsets = wait_for(
        &worker.url(&format!("/connectors/{name}/offsets")),
        Duration::from_secs(30),
        |s, b| s == 200 && b["offsets"][0]["offset"]["position"] == 8,
    )
    .await;
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"filename": file.to_string_lossy()})
    );
    let (status, refused) = call(
        Method::DELETE,
        &worker.url(&format!("/connectors/{name}/offsets")),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with("Connectors must be in the STOPPED state"),
        "{refused}"
    );

    // Pause / resume.
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/pause")),
        None,
    )
    .await;
    assert_eq!(status, 202);
    wait_for_state(&worker, &name, "PAUSED", 1).await;
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/resume")),
        None,
    )
    .await;
    assert_eq!(status, 202);
    wait_for_state(&worker, &name, "RUNNING", 1).await;

    // Restarts: 204 for the instance only, 202 with RESTARTING otherwise.
    let (status, body) = call(
        Method::POST,
        &worker.url(&format!("/connectors/{name}/restart")),
        None,
    )
    .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = call(
        Method::POST,
        &worker.url(&format!("/connectors/{name}/restart?includeTasks=true")),
        None,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(body["connector"]["state"], "RESTARTING");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING");
    let (status, body) = call(
        Method::POST,
        &worker.url(&format!(
            "/connectors/{name}/restart?includeTasks=true&onlyFailed=true"
        )),
        None,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(body["tasks"][0]["state"], "RUNNING");
    let (status, _) = call(
        Method::POST,
        &worker.url(&format!("/connectors/{name}/tasks/0/restart")),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        Method::POST,
        &worker.url(&format!("/connectors/{name}/tasks/7/restart")),
        None,
    )
    .await;
    assert_eq!(status, 404);
    wait_for_state(&worker, &name, "RUNNING", 1).await;

    // Stop: tasks emptied, then offsets can be altered and reset.
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/stop")),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_for(
        &worker.url(&format!("/connectors/{name}/status")),
        Duration::from_secs(30),
        |s, b| s == 200 && b["connector"]["state"] == "STOPPED" && b["tasks"] == json!([]),
    )
    .await;
    let (_, info) = get(&worker.url(&format!("/connectors/{name}"))).await;
    assert_eq!(info["tasks"], json!([]));
    let (status, body) = call(
        Method::PATCH,
        &worker.url(&format!("/connectors/{name}/offsets")),
        Some(json!({"offsets": []})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let alter = json!({"offsets": [{"partition": {"filename": file.to_string_lossy()}, "offset": {"position": 4}}]});
    let (status, body) = call(
        Method::PATCH,
        &worker.url(&format!("/connectors/{name}/offsets")),
        Some(alter),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "The offsets for this connector have been altered successfully"
    );
    let (_, offsets) = get(&worker.url(&format!("/connectors/{name}/offsets"))).await;
    assert_eq!(offsets["offsets"][0]["offset"]["position"], 4);
    let (status, body) = call(
        Method::DELETE,
        &worker.url(&format!("/connectors/{name}/offsets")),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["message"],
        "The offsets for this connector have been reset successfully"
    );
    let (_, offsets) = get(&worker.url(&format!("/connectors/{name}/offsets"))).await;
    assert_eq!(offsets["offsets"], json!([]));

    // Resume from STOPPED.
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/resume")),
        None,
    )
    .await;
    assert_eq!(status, 202);
    wait_for_state(&worker, &name, "RUNNING", 1).await;

    // Delete, then 404 everywhere in Kafka's shape.
    let (status, _) = call(
        Method::DELETE,
        &worker.url(&format!("/connectors/{name}")),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = get(&worker.url(&format!("/connectors/{name}"))).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error_code": 404, "message": format!("Connector {name} not found")})
    );
    let (status, _) = get(&worker.url(&format!("/connectors/{name}/status"))).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{name}/pause")),
        None,
    )
    .await;
    assert_eq!(status, 404);
    worker.stop().await;
    let _ = tokio::fs::remove_file(&file).await;
}

#[tokio::test]
async fn initial_state_and_put_create() {
    let clients = clients().await;
    let worker = TestWorker::start(&clients, &ClusterNames::unique()).await;
    let topic = unique_name("connect_initial");
    create_topic(&clients, &topic, 1).await;
    let file = temp_file("connect_initial");
    tokio::fs::write(&file, "").await.unwrap();
    let name = unique_name("paused");
    let config = json!({"connector.class": SOURCE, "file": file.to_string_lossy(), "topic": topic});
    let (status, _) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": name, "config": config, "initial_state": "paused"})),
    )
    .await;
    assert_eq!(status, 201);
    wait_for_state(&worker, &name, "PAUSED", 1).await;

    let stopped = unique_name("stopped");
    let (status, _) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": stopped, "config": config, "initial_state": "STOPPED"})),
    )
    .await;
    assert_eq!(status, 201);
    wait_for(
        &worker.url(&format!("/connectors/{stopped}/status")),
        Duration::from_secs(30),
        |s, b| s == 200 && b["connector"]["state"] == "STOPPED",
    )
    .await;

    let (status, body) = call(
        Method::POST,
        &worker.url("/connectors"),
        Some(json!({"name": unique_name("x"), "config": config, "initial_state": "SLEEPING"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let created = unique_name("put");
    let (status, info) = call(
        Method::PUT,
        &worker.url(&format!("/connectors/{created}/config")),
        Some(config.clone()),
    )
    .await;
    assert_eq!(status, 201, "{info}");
    assert_eq!(info["name"], created.as_str());
    worker.stop().await;
    let _ = tokio::fs::remove_file(&file).await;
}

/// `/admin/loggers`: set a level on this worker, read it back, bad input is a 400 in
/// Kafka's error shape.
#[tokio::test]
async fn admin_loggers_set_and_read_levels() {
    let worker = TestWorker::start(&clients().await, &ClusterNames::unique()).await;
    let logger = format!("io.debezium.test{}", unique_name("l"));
    let (status, body) = call(
        Method::PUT,
        &worker.url(&format!("/admin/loggers/{logger}")),
        Some(json!({"level": "debug"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([logger]));
    let (status, body) = call(
        Method::GET,
        &worker.url(&format!("/admin/loggers/{logger}")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["level"], "DEBUG");
    assert!(body["last_modified"].is_i64(), "{body}");
    let (status, all) = call(Method::GET, &worker.url("/admin/loggers"), None).await;
    assert_eq!(status, 200);
    assert_eq!(all[&logger]["level"], "DEBUG", "{all}");
    assert!(all["root"]["level"].is_string(), "{all}");

    let (status, body) = call(
        Method::GET,
        &worker.url("/admin/loggers/no.such.logger.ever"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (404, json!(404)),
        "{body}"
    );
    let (status, body) = call(
        Method::PUT,
        &worker.url(&format!("/admin/loggers/{logger}")),
        Some(json!({"level": "LOUD"})),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (400, json!(400)),
        "{body}"
    );
    let (status, body) = call(
        Method::PUT,
        &worker.url(&format!("/admin/loggers/{logger}?scope=cluster")),
        Some(json!({"level": "LOUD"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // An unknown scope falls through to the worker scope, as Kafka's LoggingResource does.
    let (status, body) = call(
        Method::PUT,
        &worker.url(&format!("/admin/loggers/{logger}?scope=galaxy")),
        Some(json!({"level": "INFO"})),
    )
    .await;
    assert_eq!((status, body), (200, json!([logger])));
    worker.stop().await;
}

/// `scope=cluster` (KIP-976): the level goes through the config topic as Kafka writes it
/// (`logger-cluster-<name>` → `{"level": …}`) and another worker process of the group
/// applies it.
#[tokio::test]
async fn admin_loggers_cluster_scope_reaches_every_worker() {
    use tests::process::{GatewayProcess, free_port};
    let names = ClusterNames::unique();
    let worker = TestWorker::start(&clients().await, &names).await;
    let port = free_port();
    let directory = std::env::temp_dir().join(unique_name("loggers"));
    std::fs::create_dir_all(&directory).unwrap();
    let config = directory.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[kafka]
bootstrap_servers = "{bootstrap}"
[bridge]
enabled = false
[metrics]
enabled = false
[connect]
enabled = true
group_id = "{group}"
config_storage_topic = "{configs}"
offset_storage_topic = "{offsets}"
status_storage_topic = "{statuses}"
offset_storage_partitions = 5
session_timeout_ms = 6000
[connect.http]
listen = "127.0.0.1:{port}"
"#,
            bootstrap = tests::Services::from_env().kafka_bootstrap,
            group = names.group_id,
            configs = names.configs,
            offsets = names.offsets,
            statuses = names.statuses,
        ),
    )
    .unwrap();
    let mut other = GatewayProcess::spawn(
        &["run", "--config", &config.to_string_lossy()],
        &[],
        directory.join("gateway.log"),
    );
    let other_url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while reqwest::get(format!("{other_url}/connectors"))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the second worker did not answer: {}",
            std::fs::read_to_string(&other.log_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let logger = format!("io.debezium.cluster{}", unique_name("l"));
    let (status, body) = call(
        Method::PUT,
        &worker.url(&format!("/admin/loggers/{logger}?scope=cluster")),
        Some(json!({"level": "trace"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let applied = crate::connect_support::wait_for(
        &format!("{other_url}/admin/loggers/{logger}"),
        Duration::from_secs(30),
        |status, body| status == 200 && body["level"] == "TRACE",
    )
    .await;
    assert!(applied["last_modified"].is_i64(), "{applied}");

    // The record as Kafka Connect writes it.
    let consumer: rdkafka::consumer::StreamConsumer = clients()
        .await
        .consumer_config(&unique_name("loggers_reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    rdkafka::consumer::Consumer::subscribe(&consumer, &[names.configs.as_str()]).unwrap();
    let key = format!("logger-cluster-{logger}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let value = loop {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .expect("the logger record in the config topic")
            .unwrap();
        if rdkafka::Message::key(&message) == Some(key.as_bytes()) {
            break serde_json::from_slice::<Value>(rdkafka::Message::payload(&message).unwrap())
                .unwrap();
        }
    };
    assert_eq!(value, json!({"level": "TRACE"}));
    other.child.terminate(Duration::from_secs(30)).await;
    worker.stop().await;
    let _ = std::fs::remove_dir_all(&directory);
}
