//! Two worker processes with one group id against the real Kafka: `kill -9` of the worker
//! running the file source moves its task to the other within 30 s, and no line is lost.
//! Also reports each worker's idle RSS. Needs Kafka at `KAFKA_BOOTSTRAP` (127.0.0.1:9092);
//! start it with `scripts/services up kafka`. Fails, never skips, when Kafka is down.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:9092".to_owned())
}

struct WorkerProcess {
    child: Child,
    base: String,
    worker_id: String,
}

fn spawn_worker(group: &str, topics: &[String; 3]) -> WorkerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connect-worker"))
        .env("KAFKA_BOOTSTRAP", bootstrap())
        .env("CONNECT_GROUP_ID", group)
        .env("CONNECT_CONFIG_TOPIC", &topics[0])
        .env("CONNECT_OFFSET_TOPIC", &topics[1])
        .env("CONNECT_STATUS_TOPIC", &topics[2])
        .env("CONNECT_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("listening on ") {
                let _ = tx.send(address.to_owned());
            }
        }
    });
    let Ok(address) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!(
            "connect worker did not start within 60 s: is Kafka up at {}? start it with `scripts/services up kafka`",
            bootstrap()
        );
    };
    WorkerProcess {
        child,
        base: format!("http://{address}"),
        worker_id: address,
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn status(http: &reqwest::Client, base: &str, name: &str) -> Value {
    match http
        .get(format!("{base}/connectors/{name}/status"))
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => {
            response.json().await.unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

async fn wait_running(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    on: Option<&str>,
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let body = status(http, base, name).await;
        let task = &body["tasks"][0];
        if task["state"] == "RUNNING" && on.is_none_or(|w| task["worker_id"] == w) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not RUNNING{} within {timeout:?}: {body}",
            on.map(|w| format!(" on {w}")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_moves_tasks_and_loses_nothing() {
    let group = unique("connect_dist");
    let topics = [unique("cfg"), unique("off"), unique("sts")];
    let data_topic = unique("dist_data");
    let input = std::env::temp_dir().join(format!("{}.txt", unique("dist_in")));
    let output = std::env::temp_dir().join(format!("{}.txt", unique("dist_out")));
    std::fs::write(&input, "").unwrap();

    let mut first = spawn_worker(&group, &topics);
    let mut second = spawn_worker(&group, &topics);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = (rss_kib(first.child.id()), rss_kib(second.child.id()));
    println!("idle RSS per worker: {} KiB, {} KiB", idle.0, idle.1);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let create = |name: &str, config: Value| {
        let http = http.clone();
        let url = format!("{}/connectors", first.base);
        let body = json!({"name": name, "config": config});
        async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            assert_eq!(
                response.status().as_u16(),
                201,
                "{}",
                response.text().await.unwrap_or_default()
            );
        }
    };
    // The source creates its topic through Kafka's auto-creation being off, so create it.
    let admin_topic = data_topic.clone();
    let clients = broker_core::KafkaClients::new(
        broker_core::ClusterConfig::new(bootstrap())
            .validate("kafka")
            .unwrap(),
    );
    let admin = clients.admin().unwrap();
    admin
        .create_topics(
            &[rdkafka::admin::NewTopic::new(
                &admin_topic,
                1,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await
        .unwrap();
    create("dist-source", json!({"connector.class": "FileStreamSource", "file": input.to_string_lossy(), "topic": data_topic, "batch.size": "20"})).await;
    create("dist-sink", json!({"connector.class": "FileStreamSink", "file": output.to_string_lossy(), "topics": data_topic})).await;
    let source_status = wait_running(
        &http,
        &second.base,
        "dist-source",
        None,
        Duration::from_secs(60),
    )
    .await;
    wait_running(
        &http,
        &second.base,
        "dist-sink",
        None,
        Duration::from_secs(60),
    )
    .await;
    let busy = (rss_kib(first.child.id()), rss_kib(second.child.id()));
    println!(
        "RSS with a running source and sink: {} KiB, {} KiB",
        busy.0, busy.1
    );

    // Append lines continuously while one worker dies.
    let writer_path = input.clone();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&writer_path)
            .await
            .unwrap();
        for i in 0..400 {
            file.write_all(format!("line-{i}\n").as_bytes())
                .await
                .unwrap();
            file.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let owner = source_status["tasks"][0]["worker_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (victim, survivor) = if owner == first.worker_id {
        (&mut first, &second)
    } else {
        (&mut second, &first)
    };
    victim.child.kill().unwrap(); // SIGKILL
    let _ = victim.child.wait();
    let killed_at = Instant::now();
    wait_running(
        &http,
        &survivor.base,
        "dist-source",
        Some(&survivor.worker_id),
        Duration::from_secs(30),
    )
    .await;
    let moved_after = killed_at.elapsed();
    println!(
        "source task moved to {} {moved_after:?} after kill -9 of {owner}",
        survivor.worker_id
    );
    assert!(moved_after < Duration::from_secs(30));

    writer.await.unwrap();
    let expected: BTreeSet<String> = (0..400).map(|i| format!("line-{i}")).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let seen: BTreeSet<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        if seen == expected {
            println!(
                "all 400 lines delivered; {} duplicates (at-least-once)",
                lines.len() - seen.len()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "missing lines: {:?}",
            expected.difference(&seen).take(10).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    first.child.kill().ok();
    second.child.kill().ok();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
}
