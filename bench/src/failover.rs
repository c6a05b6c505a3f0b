//! Failover at scale (#15): N consumer groups committed on A over P partitions, the mirror
//! running until B holds a checkpoint of every (group, partition), then the time of
//! `kafka-gateway mirror failover` (dry run and real) end to end as a process. The
//! reference is MirrorMaker 2's documented procedure run as a Java program against the
//! Kafka distribution's jars (`bench/java/MirrorFailover.java`, compiled into `.cache/`):
//! `RemoteClusterUtils.translateOffsets` per group then `Admin.alterConsumerGroupOffsets`,
//! and the same with the Pattern overload of `translateOffsets` (one read of the
//! checkpoints for all groups). Both read the checkpoints our mirror wrote on B (MM2's
//! format); between real runs the groups are deleted on B so each contender commits into
//! an empty B, and each contender's commits are checked against the translation.
//!
//! `cargo run --release -p bench -- failover [--groups N] [--partitions P]
//! [--records-per-partition R] [--skip-mm2]`; the `kafka-gateway` binary of the same
//! profile must be built (`cargo build --release -p gateway -p bench`). Env:
//! `KAFKA_BOOTSTRAP`, `KAFKA_B_BOOTSTRAP`. Topics and groups have random names and are
//! deleted afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::wire::WireClient;
use broker_core::wire::offset_commit::GroupCommits;
use broker_core::{ClusterConfig, KafkaClients};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{FutureProducer, FutureRecord};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Group → (topic, partition) → offset.
type Positions = BTreeMap<String, BTreeMap<(String, i32), i64>>;

#[derive(Debug, Clone)]
struct Options {
    groups: usize,
    partitions: i32,
    records_per_partition: i64,
    skip_mm2: bool,
    a: String,
    b: String,
}

fn options(args: &[String]) -> BenchResult<Options> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut options = Options {
        groups: 100,
        partitions: 50,
        records_per_partition: 20,
        skip_mm2: false,
        a: env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        b: env("KAFKA_B_BOOTSTRAP", "127.0.0.1:9192"),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--groups" => options.groups = value()?.parse::<usize>()?.max(1),
            "--partitions" => options.partitions = value()?.parse::<i32>()?.max(1),
            "--records-per-partition" => {
                options.records_per_partition = value()?.parse::<i64>()?.max(1);
            }
            "--skip-mm2" => options.skip_mm2 = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(options)
}

/// One timed run of a command.
#[derive(Debug)]
struct Timing {
    name: String,
    took: Duration,
    groups_committed: usize,
    wrong: usize,
}

/// The names of one run: alias, topics, groups.
#[derive(Debug)]
struct Names {
    alias: String,
    topic: String,
    remote: String,
    groups: Vec<String>,
    group_regex: String,
}

impl Names {
    fn new(groups: usize) -> Self {
        let suffix = std::process::id();
        let alias = format!("F{suffix}");
        let topic = format!("bench_failover_{suffix}");
        Self {
            remote: format!("{alias}.{topic}"),
            groups: (0..groups)
                .map(|i| format!("bench_fo_{suffix}_{i}"))
                .collect(),
            group_regex: format!("bench_fo_{suffix}_.*"),
            alias,
            topic,
        }
    }
}

pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    let options = options(&args)?;
    let names = Names::new(options.groups);
    let a = KafkaClients::new(ClusterConfig::new(&options.a).validate("bench")?);
    let b = KafkaClients::new(ClusterConfig::new(&options.b).validate("bench")?);
    let work = std::env::temp_dir().join(format!("bench-failover-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = measure(&options, &names, &a, &b, &work).await;
    cleanup(&a, &b, &names).await;
    if let Err(error) = std::fs::remove_dir_all(&work) {
        eprintln!("could not remove {}: {error}", work.display());
    }
    let timings = result?;
    println!(
        "\n{} groups x {} partitions (one topic, {} records per partition), machine: {}",
        options.groups,
        options.partitions,
        options.records_per_partition,
        uptime()
    );
    println!("| Command | wall time (s) | groups committed | wrong offsets |");
    println!("|---|---|---|---|");
    for timing in &timings {
        println!(
            "| {} | {:.2} | {} | {} |",
            timing.name,
            timing.took.as_secs_f64(),
            timing.groups_committed,
            timing.wrong
        );
    }
    Ok(())
}

async fn measure(
    options: &Options,
    names: &Names,
    a: &KafkaClients,
    b: &KafkaClients,
    work: &Path,
) -> BenchResult<Vec<Timing>> {
    a.admin()?
        .create_topics(
            &[NewTopic::new(
                &names.topic,
                options.partitions,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    let producer: FutureProducer = a.producer()?;
    for partition in 0..options.partitions {
        for id in 0..options.records_per_partition {
            producer
                .send(
                    FutureRecord::to(&names.topic)
                        .partition(partition)
                        .key(&id.to_be_bytes()[..])
                        .payload("x"),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|(e, _)| e)?;
        }
    }
    // Every group at its own position on each partition, 0..=end.
    let on_a: Positions = names
        .groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            let offsets = (0..options.partitions)
                .map(|p| {
                    let spread = i64::try_from(i).unwrap_or(0) + i64::from(p);
                    (
                        (names.topic.clone(), p),
                        spread % (options.records_per_partition + 1),
                    )
                })
                .collect();
            (group.clone(), offsets)
        })
        .collect();
    let wire_a = wire(&options.a)?;
    let wire_b = wire(&options.b)?;
    commit_all(&wire_a, &on_a).await?;

    let text = properties(options, names);
    let path = work.join("mm2.properties");
    std::fs::write(&path, &text)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["mirror", "child-gateway", &path.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let checkpointed = wait_for_checkpoints(options, names, &text, &on_a).await;
    child.kill().ok();
    child.wait().ok();
    let checkpointed_in = checkpointed?;
    eprintln!(
        "checkpoints of {} groups x {} partitions on B after {:.1} s",
        options.groups,
        options.partitions,
        checkpointed_in.as_secs_f64()
    );
    // What every contender must commit on B: the copy started at B's offset 0 with no
    // duplicates, so each translated offset equals the source offset.
    let expected: Positions = on_a
        .iter()
        .map(|(group, offsets)| {
            let remote = offsets
                .iter()
                .map(|((_, p), offset)| ((names.remote.clone(), *p), *offset))
                .collect();
            (group.clone(), remote)
        })
        .collect();

    let gateway = gateway_binary()?;
    let mut timings = Vec::new();
    for dry_run in [true, false] {
        let mut args = vec![
            "mirror".to_owned(),
            "failover".to_owned(),
            "--config".to_owned(),
            path.display().to_string(),
            "--from".to_owned(),
            names.alias.clone(),
            "--to".to_owned(),
            "B".to_owned(),
            "--group".to_owned(),
            names.group_regex.clone(),
            "--output".to_owned(),
            "json".to_owned(),
        ];
        if dry_run {
            args.push("--dry-run".to_owned());
        }
        let (took, stdout) = timed(Command::new(&gateway).args(&args))?;
        let report: serde_json::Value = serde_json::from_str(&stdout)?;
        let committed = report["groups"].as_array().map_or(0, |groups| {
            groups
                .iter()
                .filter(|g| g["outcome"] == if dry_run { "would_commit" } else { "committed" })
                .count()
        });
        let wrong = if dry_run {
            0
        } else {
            count_wrong(&wire_b, &expected).await?
        };
        timings.push(Timing {
            name: format!(
                "kafka-gateway mirror failover{}",
                if dry_run { " --dry-run" } else { "" }
            ),
            took,
            groups_committed: committed,
            wrong,
        });
    }
    if !options.skip_mm2 {
        let classes = compile_reference()?;
        for mode in ["per-group", "pattern"] {
            for dry_run in [true, false] {
                if !dry_run {
                    delete_groups(b, &names.groups).await?;
                }
                let mut command = Command::new("java");
                command
                    .arg("-cp")
                    .arg(format!(
                        "{}:.cache/services/kafka/libs/*",
                        classes.display()
                    ))
                    .arg("MirrorFailover")
                    .args([&options.b, &names.alias, &names.group_regex, mode]);
                if dry_run {
                    command.arg("--dry-run");
                }
                let (took, stdout) = timed(&mut command)?;
                let committed = stdout
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("committed="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let wrong = if dry_run {
                    0
                } else {
                    count_wrong(&wire_b, &expected).await?
                };
                timings.push(Timing {
                    name: format!(
                        "MM2 RemoteClusterUtils ({mode}) + alterConsumerGroupOffsets{}",
                        if dry_run { ", translate only" } else { "" }
                    ),
                    took,
                    groups_committed: if dry_run {
                        stdout
                            .split_whitespace()
                            .find_map(|field| field.strip_prefix("groups="))
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0)
                    } else {
                        committed
                    },
                    wrong,
                });
            }
        }
    }
    Ok(timings)
}

fn wire(bootstrap: &str) -> BenchResult<WireClient> {
    Ok(WireClient::new(
        &ClusterConfig::new(bootstrap).validate("bench")?,
        Duration::from_secs(30),
    )?)
}

async fn commit_all(wire: &WireClient, positions: &Positions) -> BenchResult<()> {
    let commits: GroupCommits = positions.clone();
    let results = wire
        .commit_group_offsets(&commits, Instant::now() + Duration::from_secs(60))
        .await?;
    if let Some((group, Err(error))) = results.iter().find(|(_, r)| r.is_err()) {
        return Err(format!("commit for {group} on A: {error}").into());
    }
    Ok(())
}

/// One flow `alias → B` of the bench topic: checkpoints every second, no group sync (the
/// failover is what moves the groups).
fn properties(options: &Options, names: &Names) -> String {
    let alias = &names.alias;
    format!(
        "clusters = {alias}, B\n{alias}.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
         {alias}->B.enabled = true\n{alias}->B.topics = {}\n{alias}->B.groups = {}\n\
         replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\noffset-syncs.topic.replication.factor = 1\n\
         emit.checkpoints.interval.seconds = 1\nsync.group.offsets.enabled = false\n\
         refresh.groups.interval.seconds = 1\nrefresh.topics.interval.seconds = 1\n",
        options.a, options.b, names.topic, names.group_regex
    )
}

/// Waits until B holds a checkpoint of every (group, partition) at the group's position
/// on A (read through the failover's own dry run, in process).
async fn wait_for_checkpoints(
    options: &Options,
    names: &Names,
    text: &str,
    on_a: &Positions,
) -> BenchResult<Duration> {
    let started = Instant::now();
    let config = mirror::parse_properties(text)?;
    let failover_options = mirror::failover::FailoverOptions {
        from: names.alias.clone(),
        to: "B".to_owned(),
        groups: Some(regex::Regex::new(&names.group_regex)?),
        dry_run: true,
        force: false,
        source_timeout: Duration::from_secs(5),
    };
    let limit = Duration::from_secs(300);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let report = match mirror::failover::failover(&config, &failover_options).await {
            Ok(report) => report,
            // The mirror creates the internal topics on its first pass.
            Err(error) if started.elapsed() < limit => {
                eprintln!("waiting for the mirror: {error}");
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let seen: Positions = report
            .groups
            .iter()
            .map(|g| {
                let offsets = g
                    .partitions
                    .iter()
                    .filter_map(|p| {
                        Some(((p.source_topic.clone(), p.partition), p.checkpoint_offset?))
                    })
                    .collect();
                (g.group.clone(), offsets)
            })
            .collect();
        if &seen == on_a {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(format!(
                "B holds checkpoints of {} of {} groups after {limit:?} ({} partitions each)",
                seen.iter()
                    .filter(|(g, o)| on_a.get(*g) == Some(*o))
                    .count(),
                options.groups,
                options.partitions
            )
            .into());
        }
    }
}

/// The `kafka-gateway` binary of the bench's own profile.
fn gateway_binary() -> BenchResult<PathBuf> {
    let binary = std::env::current_exe()?
        .parent()
        .ok_or("bench binary has no directory")?
        .join("kafka-gateway");
    if !binary.exists() {
        return Err(format!(
            "{} is missing: build it with the same profile (cargo build --release -p gateway -p bench)",
            binary.display()
        )
        .into());
    }
    Ok(binary)
}

/// Runs a command to its end; its wall time and stdout. A non-zero exit is an error.
fn timed(command: &mut Command) -> BenchResult<(Duration, String)> {
    let started = Instant::now();
    let output = command.output()?;
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{command:?} exited with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok((took, String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// Compiles the MM2 reference into `.cache/bench-java` (not timed).
fn compile_reference() -> BenchResult<PathBuf> {
    let classes = PathBuf::from(".cache/bench-java");
    std::fs::create_dir_all(&classes)?;
    let output = Command::new("javac")
        .args(["-cp", ".cache/services/kafka/libs/*", "-d"])
        .arg(&classes)
        .arg("bench/java/MirrorFailover.java")
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "javac failed (run from the repository root): {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(classes)
}

/// (group, partition) positions on B that differ from `expected`.
async fn count_wrong(wire_b: &WireClient, expected: &Positions) -> BenchResult<usize> {
    let groups: Vec<String> = expected.keys().cloned().collect();
    let answers = wire_b
        .committed_offsets(&groups, Instant::now() + Duration::from_secs(30))
        .await?;
    let mut wrong = 0;
    for (group, offsets) in expected {
        let on_b: BTreeMap<(String, i32), i64> = match answers.get(group) {
            Some(Ok(committed)) => committed
                .iter()
                .map(|c| ((c.topic.clone(), c.partition), c.offset))
                .collect(),
            _ => BTreeMap::new(),
        };
        wrong += offsets
            .iter()
            .filter(|(key, offset)| on_b.get(*key) != Some(*offset))
            .count();
    }
    Ok(wrong)
}

async fn delete_groups(clients: &KafkaClients, groups: &[String]) -> BenchResult<()> {
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    clients
        .admin()?
        .delete_groups(&names, &AdminOptions::new())
        .await?;
    Ok(())
}

/// Deletes the run's groups (A and B) and topics (A's bench topic, every topic on B named
/// after the run's alias); failures are reported, not fatal.
async fn cleanup(a: &KafkaClients, b: &KafkaClients, names: &Names) {
    for (cluster, clients) in [("A", a), ("B", b)] {
        if let Err(error) = delete_groups(clients, &names.groups).await {
            eprintln!("could not delete the bench groups on {cluster}: {error}");
        }
    }
    drop_topics(a, vec![names.topic.clone()]).await;
    let on_b = match ClusterInspector::new(b, Duration::from_secs(10)) {
        Ok(inspector) => inspector.metadata(None).await.map(|m| {
            m.topics
                .into_iter()
                .map(|t| t.name)
                .filter(|name| name.contains(&names.alias))
                .collect()
        }),
        Err(error) => Err(error),
    };
    match on_b {
        Ok(topics) => drop_topics(b, topics).await,
        Err(error) => eprintln!("could not list B's topics: {error}"),
    }
}

async fn drop_topics(clients: &KafkaClients, topics: Vec<String>) {
    if topics.is_empty() {
        return;
    }
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let deleted = match clients.admin() {
        Ok(admin) => admin
            .delete_topics(&names, &AdminOptions::new())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = deleted {
        eprintln!("could not delete bench topics {topics:?}: {error}");
    }
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", fields.join(", "))
        })
        .unwrap_or_else(|_| "load unknown".to_owned())
}
