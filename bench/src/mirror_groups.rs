//! Checkpoints at scale (#23): N consumer groups on A commit the head of a mirrored topic;
//! the time from each commit on A to the translated commit on B (`sync.group.offsets`),
//! p50 / p99 / max, for this gateway's mirror and MirrorMaker 2's checkpoint connector
//! (dedicated mode, from the project's Kafka libs) with the same intervals.
//!
//! `cargo run -p bench -- mirror-groups [--groups N] [--interval-seconds S] [--rounds R]
//! [--skip-mm2] [--offset-flush-ms MS]`. A round: produce a few records, wait until B has
//! them, then every group commits the new end offset on A (native OffsetCommit, all groups
//! in one call) and B is read (batched OffsetFetch) every 100 ms until each group's commit
//! changed there. Groups are memberless on both sides, as in a DR standby. Env:
//! `KAFKA_BOOTSTRAP`, `KAFKA_B_BOOTSTRAP`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::wire::WireClient;
use broker_core::wire::offset_commit::GroupCommits;
use broker_core::{ClusterConfig, KafkaClients};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{FutureProducer, FutureRecord};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const RECORDS_PER_ROUND: i64 = 10;

#[derive(Debug, Clone)]
struct Options {
    groups: usize,
    interval: u64,
    rounds: usize,
    skip_mm2: bool,
    /// `offset.flush.interval.ms` for both contenders; unset, each keeps its default
    /// (ours 1 s, MM2's Connect worker 60 s, which gates MM2's offset syncs and so its
    /// checkpoints).
    offset_flush_ms: Option<u64>,
    a: String,
    b: String,
}

fn options(args: &[String]) -> BenchResult<Options> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut options = Options {
        groups: 100,
        interval: 5,
        rounds: 3,
        skip_mm2: false,
        offset_flush_ms: None,
        a: env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        b: env("KAFKA_B_BOOTSTRAP", "127.0.0.1:9192"),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--groups" => options.groups = value()?.parse()?,
            "--interval-seconds" => options.interval = value()?.parse::<u64>()?.max(1),
            "--rounds" => options.rounds = value()?.parse::<usize>()?.max(1),
            "--skip-mm2" => options.skip_mm2 = true,
            "--offset-flush-ms" => options.offset_flush_ms = Some(value()?.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(options)
}

fn wire(bootstrap: &str) -> BenchResult<WireClient> {
    Ok(WireClient::new(
        &ClusterConfig::new(bootstrap).validate("bench")?,
        Duration::from_secs(30),
    )?)
}

/// What one contender achieved.
#[derive(Debug)]
struct Outcome {
    name: String,
    latencies: Vec<Duration>,
    missing: usize,
    wrong: usize,
}

pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    let options = options(&args)?;
    let a = KafkaClients::new(ClusterConfig::new(&options.a).validate("bench")?);
    let b = KafkaClients::new(ClusterConfig::new(&options.b).validate("bench")?);
    let suffix = std::process::id();
    let topic = format!("bench_mirror_groups_{suffix}");
    a.admin()?
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    let groups: Vec<String> = (0..options.groups)
        .map(|i| format!("bench_mg_{suffix}_{i}"))
        .collect();
    let work = std::env::temp_dir().join(format!("bench-mirror-groups-{suffix}"));
    std::fs::create_dir_all(&work)?;
    let producer: FutureProducer = a.producer()?;
    let mut outcomes = Vec::new();
    let mut contenders = vec![("gateway mirror", format!("G{suffix}"))];
    if !options.skip_mm2 {
        contenders.push(("MirrorMaker 2", format!("M{suffix}")));
    }
    for (name, alias) in contenders {
        let properties = work.join(format!("{alias}.properties"));
        let mut text = flow_properties(&alias, &options, &topic);
        let child = if name == "MirrorMaker 2" {
            text += "config.storage.replication.factor = 1\noffset.storage.replication.factor = 1\n\
                     status.storage.replication.factor = 1\nsync.topic.acls.enabled = false\n";
            std::fs::write(&properties, text)?;
            let libs = PathBuf::from(".cache/services/kafka/libs");
            let log = std::fs::File::create(work.join(format!("{alias}.log")))?;
            Command::new("java")
                .arg("-cp")
                .arg(format!("{}/*", libs.display()))
                .arg("org.apache.kafka.connect.mirror.MirrorMaker")
                .arg(&properties)
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?
        } else {
            std::fs::write(&properties, text)?;
            Command::new(std::env::current_exe()?)
                .args(["mirror", "child-gateway", &properties.display().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?
        };
        let outcome = measure(
            name, child, &options, &a, &b, &producer, &topic, &alias, &groups,
        )
        .await;
        drop_topic(&b, &format!("{alias}.{topic}")).await;
        outcomes.push(outcome?);
    }
    print_table(&options, &outcomes);
    drop_topic(&a, &topic).await;
    if let Err(error) = std::fs::remove_dir_all(&work) {
        eprintln!("could not remove {}: {error}", work.display());
    }
    Ok(())
}

/// One flow `alias → B` of `topic`, checkpoints and group sync every interval, and the
/// group list refreshed as often (MM2's default of 600 s would not see new groups at all
/// within a run; ours lists groups every pass anyway).
fn flow_properties(alias: &str, options: &Options, topic: &str) -> String {
    let interval = options.interval;
    let flush = options.offset_flush_ms.map_or(String::new(), |ms| {
        format!("offset.flush.interval.ms = {ms}\n")
    });
    format!(
        "clusters = {alias}, B\n{alias}.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
         {alias}->B.enabled = true\n{alias}->B.topics = {topic}\n\
         {alias}->B.groups = bench_mg_.*\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nemit.checkpoints.interval.seconds = {interval}\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = {interval}\n\
         refresh.groups.interval.seconds = {interval}\nrefresh.topics.interval.seconds = {interval}\n\
         {flush}",
        options.a, options.b
    )
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    name: &str,
    mut child: Child,
    options: &Options,
    a: &KafkaClients,
    b: &KafkaClients,
    producer: &FutureProducer,
    topic: &str,
    alias: &str,
    groups: &[String],
) -> BenchResult<Outcome> {
    eprintln!("running {name} ({alias}), {} groups", groups.len());
    let remote = format!("{alias}.{topic}");
    let wire_a = wire(&options.a)?;
    let wire_b = wire(&options.b)?;
    let inspector_a = ClusterInspector::new(a, Duration::from_secs(5))?;
    let inspector_b = ClusterInspector::new(b, Duration::from_secs(5))?;
    let pass_limit = Duration::from_secs(options.interval * 10 + 120);
    let mut outcome = Outcome {
        name: name.to_owned(),
        latencies: Vec::new(),
        missing: 0,
        wrong: 0,
    };
    // Round 0 is the warm-up: the flow starts, copies, and syncs every group once.
    for round in 0..=options.rounds {
        for id in 0..RECORDS_PER_ROUND {
            producer
                .send(
                    FutureRecord::to(topic)
                        .key(&id.to_be_bytes()[..])
                        .payload("x"),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|(e, _)| e)?;
        }
        let end = inspector_a.watermarks(topic, 0).await?.high;
        let copied_by = Instant::now() + pass_limit;
        while inspector_b
            .watermarks(&remote, 0)
            .await
            .map_or(0, |m| m.high)
            < end
        {
            if Instant::now() > copied_by {
                child.kill().ok();
                child.wait().ok();
                return Err(format!("{name}: records not on B within {pass_limit:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let before = read_b(&wire_b, groups, &remote).await?;
        let commits: GroupCommits = groups
            .iter()
            .map(|g| (g.clone(), BTreeMap::from([((topic.to_owned(), 0), end)])))
            .collect();
        let results = wire_a
            .commit_group_offsets(&commits, Instant::now() + Duration::from_secs(60))
            .await?;
        let committed_at = Instant::now();
        if let Some((group, Err(error))) = results.iter().find(|(_, r)| r.is_err()) {
            return Err(format!("commit for {group} on A: {error}").into());
        }
        let mut pending: BTreeMap<&str, Option<i64>> = groups
            .iter()
            .map(|g| (g.as_str(), before.get(g).copied()))
            .collect();
        while !pending.is_empty() && committed_at.elapsed() < pass_limit {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = read_b(&wire_b, groups, &remote).await?;
            let seen_at = committed_at.elapsed();
            pending.retain(|group, baseline| match now.get(*group) {
                Some(offset) if Some(*offset) != *baseline => {
                    if round > 0 {
                        outcome.latencies.push(seen_at);
                        if *offset != end {
                            outcome.wrong += 1;
                        }
                    }
                    false
                }
                _ => true,
            });
        }
        if round > 0 {
            outcome.missing += pending.len();
        }
        eprintln!(
            "{name} round {round}: {} of {} groups on B, {} missing",
            groups.len() - pending.len(),
            groups.len(),
            pending.len()
        );
    }
    child.kill().ok();
    child.wait().ok();
    Ok(outcome)
}

/// Each group's committed offset on `remote`[0] on B (absent when none).
async fn read_b(
    wire_b: &WireClient,
    groups: &[String],
    remote: &str,
) -> BenchResult<BTreeMap<String, i64>> {
    let answers = wire_b
        .committed_offsets(groups, Instant::now() + Duration::from_secs(30))
        .await?;
    Ok(answers
        .into_iter()
        .filter_map(|(group, answer)| {
            let offset = answer
                .ok()?
                .into_iter()
                .find(|c| c.topic == remote && c.partition == 0)?
                .offset;
            Some((group, offset))
        })
        .collect())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64()
}

fn print_table(options: &Options, outcomes: &[Outcome]) {
    println!(
        "\n{} groups, emit.checkpoints / sync.group.offsets interval {} s, {} rounds, \
         offset.flush.interval.ms {}",
        options.groups,
        options.interval,
        options.rounds,
        options
            .offset_flush_ms
            .map_or("default".to_owned(), |ms| ms.to_string())
    );
    println!(
        "| Contender | commits seen on B | p50 (s) | p99 (s) | max (s) | missing | wrong offset |"
    );
    println!("|---|---|---|---|---|---|---|");
    for outcome in outcomes {
        let mut sorted = outcome.latencies.clone();
        sorted.sort();
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
            outcome.name,
            sorted.len(),
            percentile(&sorted, 50.0),
            percentile(&sorted, 99.0),
            percentile(&sorted, 100.0),
            outcome.missing,
            outcome.wrong
        );
    }
}

/// Deletes a bench topic; a failure is reported, not fatal (the figures are taken).
async fn drop_topic(clients: &KafkaClients, topic: &str) {
    let deleted = match clients.admin() {
        Ok(admin) => admin
            .delete_topics(&[topic], &AdminOptions::new())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = deleted {
        eprintln!("could not delete bench topic {topic}: {error}");
    }
}
