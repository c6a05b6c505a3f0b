//! Canary test: a unique secret goes into the gateway config (via `${env:...}`), an
//! `mm2.properties` (via `${file:...}` and as a literal), and connector configs (via
//! `${env:...}` against a real MariaDB user whose password it is, and as a literal); the real
//! `kafka-gateway` binary runs with debug logs while every API is exercised, including
//! validation, failure traces and error answers. The canary must appear in no response body
//! and nowhere in the captured log.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::process::{GatewayProcess, free_port};
use tests::{Services, http_client, unique_name};

use crate::mysql_common::{cdc_config, exec, shared};

const CLASS: &str = "io.debezium.connector.mariadb.MariaDbConnector";

/// Every body the test received, to be searched for the canary at the end.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn call(&mut self, method: Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = http_client().request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        // Status 0: not listening yet (the gateway is starting).
        let Ok(response) = request.send().await else {
            return (0, Value::Null);
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        self.0.push(text.clone());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn raw(&mut self, method: Method, url: &str, content_type: &str, body: &str) -> u16 {
        let response = http_client()
            .request(method, url)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        self.0.push(response.text().await.unwrap_or_default());
        status
    }
}

async fn wait_until(seen: &mut Seen, url: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = seen.call(Method::GET, url, None).await;
        if done(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url}: last answer {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_secret_never_reaches_a_response_or_a_log_line() {
    let listener = Services::sasl_ssl();
    let services = Services::from_env();
    let canary = format!("Cn4ry{}", unique_name("x").trim_start_matches("x_"));
    let dir = std::env::temp_dir().join(unique_name("canary"));
    std::fs::create_dir_all(&dir).unwrap();

    // A MariaDB user whose password is the canary.
    let mut conn = shared().await;
    let database = unique_name("canary_db");
    let user = unique_name("canary_user");
    exec(&mut conn, &format!("CREATE DATABASE `{database}`")).await;
    exec(
        &mut conn,
        &format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{canary}'"),
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT \
             ON *.* TO '{user}'@'%'"
        ),
    )
    .await;

    // mm2.properties: cluster A over SASL_SSL with the password from a file provider, and the
    // canary as a literal secret of cluster B's client.
    let secrets_file = dir.join("secrets.properties");
    std::fs::write(
        &secrets_file,
        format!("kafka.password={}\n", listener.scram_password),
    )
    .unwrap();
    let mm2 = dir.join("mm2.properties");
    std::fs::write(
        &mm2,
        format!(
            "config.providers = file,env\n\
             config.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\n\
             clusters = A, B\nA.bootstrap.servers = {sasl}\nB.bootstrap.servers = {b}\n\
             A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-512\n\
             A.sasl.username = {user}\nA.sasl.password = ${{file:{file}:kafka.password}}\n\
             A.ssl.ca.location = {ca}\nB.ssl.key.password = {canary}\n\
             A->B.enabled = true\nA->B.topics = {topic}\nreplication.factor = 1\n\
             checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
             offset-syncs.topic.replication.factor = 1\n",
            sasl = listener.bootstrap,
            b = services.kafka_b_bootstrap,
            user = listener.scram_user,
            file = secrets_file.display(),
            ca = listener.ca_file,
            topic = unique_name("canary_mirror"),
        ),
    )
    .unwrap();

    // gateway.toml: Kafka over SASL_SSL, the password from the environment.
    let (bridge_port, connect_port) = (free_port(), free_port());
    let run = unique_name("canary");
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"[kafka]
bootstrap_servers = "{bootstrap}"
[kafka.properties]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "{user}"
"sasl.password" = "${{env:CANARY_KAFKA_PASSWORD}}"
"ssl.ca.location" = "{ca}"
[bridge]
enabled = true
[bridge.http]
listen = "127.0.0.1:{bridge_port}"
[metrics]
enabled = false
[connect]
enabled = true
group_id = "{run}_group"
config_storage_topic = "{run}_configs"
offset_storage_topic = "{run}_offsets"
status_storage_topic = "{run}_status"
replication_factor = 1
offset_storage_partitions = 2
session_timeout_ms = 6000
[connect.http]
listen = "127.0.0.1:{connect_port}"
[mirror]
enabled = true
properties_file = "{mm2}"
"#,
            bootstrap = listener.bootstrap,
            user = listener.scram_user,
            ca = listener.ca_file,
            mm2 = mm2.display(),
        ),
    )
    .unwrap();
    let mut gateway = GatewayProcess::spawn(
        &["run", "--config", config.to_str().unwrap()],
        &[
            ("RUST_LOG", "debug"),
            ("CANARY_KAFKA_PASSWORD", listener.scram_password.as_str()),
            ("CANARY_DB_PASSWORD", canary.as_str()),
        ],
        dir.join("gateway.log"),
    );
    let bridge = format!("http://127.0.0.1:{bridge_port}");
    let connect = format!("http://127.0.0.1:{connect_port}");
    let mut seen = Seen::default();
    wait_until(&mut seen, &format!("{connect}/connectors"), |s, _| s == 200).await;
    wait_until(&mut seen, &format!("{bridge}/topics"), |s, _| s == 200).await;

    let mysql = services.mysql_url.trim_start_matches("mysql://");
    let address = mysql.rsplit_once('@').map_or(mysql, |(_, a)| a);
    let prefix = unique_name("canary_cdc");

    // 1. By reference: validation and the running connector use the canary; the API shows
    //    the reference.
    let mut by_reference = cdc_config(&format!("mysql://{user}:x@{address}"), &prefix, &database);
    by_reference["database.password"] = json!("${env:CANARY_DB_PASSWORD}");
    // The schema history goes to Kafka with the worker's own SASL settings.
    by_reference["schema.history.internal.kafka.bootstrap.servers"] = json!(listener.bootstrap);
    for (key, value) in listener.properties(
        "SCRAM-SHA-512",
        &listener.scram_user,
        "${env:CANARY_KAFKA_PASSWORD}",
    ) {
        by_reference[format!("schema.history.internal.producer.{key}")] = json!(value);
        by_reference[format!("schema.history.internal.consumer.{key}")] = json!(value);
    }
    let validate = format!("{connect}/connector-plugins/{CLASS}/config/validate");
    let (status, answer) = seen
        .call(Method::PUT, &validate, Some(by_reference.clone()))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = seen
        .call(
            Method::POST,
            &format!("{connect}/connectors"),
            Some(json!({"name": "canary-ref", "config": by_reference})),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let (_, stored) = seen
        .call(
            Method::GET,
            &format!("{connect}/connectors/canary-ref/config"),
            None,
        )
        .await;
    assert_eq!(stored["database.password"], "${env:CANARY_DB_PASSWORD}");
    wait_until(
        &mut seen,
        &format!("{connect}/connectors/canary-ref/status"),
        |s, b| {
            s == 200
                && b["connector"]["state"] != "UNASSIGNED"
                && !b["tasks"].as_array().is_none_or(Vec::is_empty)
        },
    )
    .await;

    // 2. As a literal, with a user that does not exist: validation fails, creation is refused.
    let literal = cdc_config(
        &format!("mysql://no_such_{user}:{canary}@{address}"),
        &unique_name("canary_lit"),
        &database,
    );
    let (status, answer) = seen
        .call(Method::PUT, &validate, Some(literal.clone()))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = seen
        .call(
            Method::POST,
            &format!("{connect}/connectors"),
            Some(json!({"name": "canary-literal", "config": literal})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    // Without a connector class the error message prints the config.
    let (status, _) = seen
        .call(
            Method::PUT,
            &format!("{connect}/connectors/canary-noclass/config"),
            Some(json!({"database.password": canary})),
        )
        .await;
    assert!(status >= 400);

    // 3. A file connector carrying the canary literal runs; its config, info, tasks and the
    //    expanded list hide it.
    let file = dir.join("in.txt");
    std::fs::write(&file, "one\n").unwrap();
    let topic = unique_name("canary_file");
    let file_config = json!({"connector.class": "FileStreamSource",
        "file": file.to_string_lossy(), "topic": topic, "database.password": canary});
    // An unresolvable reference is refused at creation, naming the key.
    let mut unresolvable = file_config.clone();
    unresolvable["missing.secret"] = json!("${env:CANARY_UNSET_VARIABLE}");
    let (status, answer) = seen
        .call(
            Method::POST,
            &format!("{connect}/connectors"),
            Some(json!({"name": "canary-unresolvable", "config": unresolvable})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing.secret") && m.contains("CANARY_UNSET_VARIABLE")),
        "{answer}"
    );
    let (status, answer) = seen
        .call(
            Method::POST,
            &format!("{connect}/connectors"),
            Some(json!({"name": "canary-file", "config": file_config})),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    wait_until(
        &mut seen,
        &format!("{connect}/connectors/canary-file/status"),
        |s, b| s == 200 && b["connector"]["state"] == "RUNNING",
    )
    .await;
    for path in [
        "/connectors?expand=info&expand=status",
        "/connectors/canary-file",
        "/connectors/canary-file/config",
        "/connectors/canary-file/tasks",
        "/connectors/canary-ref",
        "/connectors/canary-ref/tasks",
        "/connectors/canary-ref/status",
    ] {
        seen.call(Method::GET, &format!("{connect}{path}"), None)
            .await;
    }

    // 4. The bridge over SASL_SSL, and some error answers.
    let (status, answer) = seen
        .call(Method::GET, &format!("{bridge}/topics"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    seen.raw(
        Method::POST,
        &format!("{bridge}/topics/{topic}"),
        "application/vnd.kafka.json.v2+json",
        &format!("{{\"records\": [{{\"value\": \"{canary}\"}}"),
    )
    .await;
    seen.raw(
        Method::POST,
        &format!("{connect}/connectors"),
        "application/json",
        "{not json",
    )
    .await;

    // Stop the gateway so that every log line is written, then search.
    let status = gateway.child.terminate(Duration::from_secs(60)).await;
    let log = gateway.log();
    assert!(status.success(), "gateway exit {status}; log:\n{log}");
    assert!(
        log.contains("canary-ref") && log.contains("DEBUG"),
        "the log captured the run at debug level"
    );
    for (index, body) in seen.0.iter().enumerate() {
        assert!(
            !body.contains(&canary),
            "response #{index} leaks the canary: {body}"
        );
    }
    for secret in [canary.as_str(), listener.scram_password.as_str()] {
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "log lines leak a secret:\n{}",
            leaks.join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    exec(&mut conn, &format!("DROP USER '{user}'@'%'")).await;
    exec(&mut conn, &format!("DROP DATABASE `{database}`")).await;
}
