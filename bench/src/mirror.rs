//! Mirror benchmark: N × 1 KiB records A → B through (1) this gateway's mirror, (2) real
//! MirrorMaker 2 (dedicated mode, same `tasks.max`), each at-least-once and exactly-once,
//! and (3) a raw rdkafka consume → produce pipe. Each contender runs as its own child
//! process so that CPU seconds (utime + stime from `/proc/<pid>/stat`) and peak RSS
//! (`VmHWM`) are measured the same way; the ratios against the raw pipe and against MM2 in
//! the same mode are printed at the end.
//!
//! `cargo run --release -p bench -- mirror [--records N] [--tasks T] [--partitions P]
//! [--timeout-seconds S] [--skip-mm2] [--modes alo,eos] [--rounds R] [--compression C] [--processes N]`.
//! With `--processes N` the gateway's mirror runs as N processes sharing the flow (#22);
//! CPU seconds are their sum and the table adds CPU per process. With several rounds
//! the gateway and the raw pipe run R times each, interleaved; the ratios use the median
//! run of each contender (and the best runs are printed too). Env: `KAFKA_BOOTSTRAP`,
//! `KAFKA_B_BOOTSTRAP`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::metadata::ClusterInspector;
use broker_core::telemetry::MetricsRegistry;
use broker_core::{ClusterConfig, KafkaClients, Shutdown};
use rdkafka::Message;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, FutureProducer, FutureRecord};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const RECORD_BYTES: usize = 1024;
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone)]
struct Options {
    records: u64,
    tasks: usize,
    partitions: i32,
    timeout: Duration,
    skip_mm2: bool,
    /// Rounds of the gateway and raw-pipe runs, interleaved so that a busy moment of the
    /// shared machine hits each contender alike; MM2 runs once (a minute or more a run).
    rounds: usize,
    /// Which delivery modes to run: at-least-once, exactly-once.
    modes: Vec<Mode>,
    /// Gateway mirror processes sharing the flow (each its own `instance_id`).
    processes: usize,
    /// `B.producer.compression.type` for every contender (the raw pipe included); unset,
    /// each runs its own default.
    compression: Option<String>,
    a: String,
    b: String,
}

fn options(args: &[String]) -> BenchResult<Options> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut options = Options {
        records: 1_000_000,
        tasks: 1,
        partitions: 4,
        timeout: Duration::from_secs(900),
        skip_mm2: false,
        rounds: 1,
        modes: vec![Mode::AtLeastOnce, Mode::ExactlyOnce],
        compression: None,
        processes: 1,
        a: env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        b: env("KAFKA_B_BOOTSTRAP", "127.0.0.1:9192"),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--records" => options.records = value()?.parse()?,
            "--tasks" => options.tasks = value()?.parse()?,
            "--partitions" => options.partitions = value()?.parse()?,
            "--timeout-seconds" => options.timeout = Duration::from_secs(value()?.parse()?),
            "--skip-mm2" => options.skip_mm2 = true,
            "--compression" => options.compression = Some(value()?),
            "--processes" => options.processes = value()?.parse::<usize>()?.max(1),
            "--rounds" => options.rounds = value()?.parse::<usize>()?.max(1),
            "--modes" => {
                options.modes = value()?
                    .split(',')
                    .map(|mode| match mode.trim() {
                        "alo" | "at-least-once" => Ok(Mode::AtLeastOnce),
                        "eos" | "exactly-once" => Ok(Mode::ExactlyOnce),
                        other => Err(format!("--modes: unknown mode {other} (alo, eos)")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(options)
}

fn clients(bootstrap: &str) -> BenchResult<KafkaClients> {
    Ok(KafkaClients::new(
        ClusterConfig::new(bootstrap).validate("bench")?,
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    AtLeastOnce,
    ExactlyOnce,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::AtLeastOnce => "at-least-once",
            Self::ExactlyOnce => "exactly-once",
        }
    }
}

/// What one contender achieved.
#[derive(Debug)]
struct Outcome {
    name: String,
    mode: Option<Mode>,
    processes: usize,
    seconds: f64,
    steady_rate: f64,
    cpu_seconds: f64,
    peak_rss_mib: f64,
    copied: i64,
}

/// Entry point of `bench -- mirror`, and of the hidden child roles.
pub(crate) async fn run(args: Vec<String>) -> BenchResult<()> {
    match args.first().map(String::as_str) {
        Some("child-gateway") => {
            return child_gateway(
                args.get(1).cloned().unwrap_or_default(),
                args.get(2).cloned(),
            )
            .await;
        }
        Some("child-raw") => {
            let args = args[1..].to_vec();
            prepare_raw(&args).await?;
            return tokio::task::spawn_blocking(move || child_raw(&args)).await?;
        }
        _ => {}
    }
    let options = options(&args)?;
    let a = clients(&options.a)?;
    let b = clients(&options.b)?;
    let suffix = std::process::id();
    let topic = format!("bench_mirror_{suffix}");
    let admin = a.admin()?;
    admin
        .create_topics(
            &[NewTopic::new(
                &topic,
                options.partitions,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "producing {} × {RECORD_BYTES} B records to {topic} on A",
        options.records
    );
    produce(&a, &topic, options.records).await?;

    let work = std::env::temp_dir().join(format!("bench-mirror-{suffix}"));
    std::fs::create_dir_all(&work)?;
    let mut outcomes = Vec::new();
    for round in 0..options.rounds {
        for &mode in &options.modes {
            outcomes.push(run_gateway(&options, &work, &topic, &b, mode, round).await?);
            if !options.skip_mm2 && round == 0 {
                outcomes.push(run_mm2(&options, &work, &topic, &b, mode).await?);
            }
        }
        outcomes.push(run_raw(&options, &topic, &b, round).await?);
    }
    print_runs(&options, &outcomes);
    let medians = pick(&outcomes, Pick::Median);
    if options.rounds > 1 {
        println!(
            "\nmedian run of each contender ({} rounds):",
            options.rounds
        );
        print_table(&medians);
    }
    print_ratios(&medians, "median");
    if options.rounds > 1 {
        print_ratios(&pick(&outcomes, Pick::Best), "best");
    }
    drop_topic(&a, &topic).await;
    Ok(())
}

/// This gateway's mirror (alias G…), target G….<topic>. Aliases unique per run, mode and
/// round: a consumer group of a killed earlier run would otherwise hold the first rebalance
/// for `session.timeout.ms`.
async fn run_gateway(
    options: &Options,
    work: &std::path::Path,
    topic: &str,
    b: &KafkaClients,
    mode: Mode,
    round: usize,
) -> BenchResult<Outcome> {
    let tag = if mode == Mode::ExactlyOnce { "E" } else { "" };
    let gateway_alias = format!("G{tag}{}r{round}", std::process::id());
    let properties = work.join(format!("gateway{tag}{round}.properties"));
    std::fs::write(
        &properties,
        mm2_properties(&gateway_alias, options, topic, mode),
    )?;
    let mut children = Vec::new();
    for process in 0..options.processes {
        children.push(
            Command::new(std::env::current_exe()?)
                .args([
                    "mirror",
                    "child-gateway",
                    &properties.display().to_string(),
                    &format!("bench-{process}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    let target = format!("{gateway_alias}.{topic}");
    let name = if options.processes > 1 {
        format!(
            "gateway mirror ({}, {} processes)",
            mode.label(),
            options.processes
        )
    } else {
        format!("gateway mirror ({})", mode.label())
    };
    measure(name, Some(mode), children, b, &target, options).await
}

/// MirrorMaker 2 (alias M…), target M….<topic>.
async fn run_mm2(
    options: &Options,
    work: &std::path::Path,
    topic: &str,
    b: &KafkaClients,
    mode: Mode,
) -> BenchResult<Outcome> {
    let tag = if mode == Mode::ExactlyOnce { "E" } else { "" };
    let mm2_alias = format!("M{tag}{}", std::process::id());
    let properties = work.join(format!("mm2{tag}.properties"));
    std::fs::write(
        &properties,
        mm2_properties(&mm2_alias, options, topic, mode) + &mm2_worker(mode)?,
    )?;
    let libs = PathBuf::from(".cache/services/kafka/libs");
    let log = std::fs::File::create(work.join(format!("mm2{tag}.log")))?;
    let child = Command::new("java")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg("org.apache.kafka.connect.mirror.MirrorMaker")
        .arg(&properties)
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let target = format!("{mm2_alias}.{topic}");
    let name = format!("MirrorMaker 2 ({})", mode.label());
    measure(name, Some(mode), vec![child], b, &target, options).await
}

/// The raw rdkafka consume → produce pipe, target raw<round>.<topic>.
async fn run_raw(
    options: &Options,
    topic: &str,
    b: &KafkaClients,
    round: usize,
) -> BenchResult<Outcome> {
    let target = format!("raw{round}.{topic}");
    let child = Command::new(std::env::current_exe()?)
        .args([
            "mirror",
            "child-raw",
            &options.a,
            &options.b,
            topic,
            &target,
            options.compression.as_deref().unwrap_or(""),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    measure(
        "raw rdkafka pipe".to_owned(),
        None,
        vec![child],
        b,
        &target,
        options,
    )
    .await
}

fn print_runs(options: &Options, outcomes: &[Outcome]) {
    println!(
        "\nmirror benchmark: {} records × {RECORD_BYTES} B, {} partitions, tasks.max={}, {} round(s)",
        options.records, options.partitions, options.tasks, options.rounds
    );
    print_table(&outcomes.iter().collect::<Vec<_>>());
}

fn print_table(outcomes: &[&Outcome]) {
    println!(
        "| contender | msgs/s (steady) | MB/s (steady) | msgs/s (incl. start-up) | CPU s | CPU s per process | CPU ms per MB | peak RSS MiB | copied | wall s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let rate = o.copied as f64 / o.seconds;
        println!(
            "| {} | {:.0} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {:.1} |",
            o.name,
            o.steady_rate,
            o.steady_rate * RECORD_BYTES as f64 / 1_000_000.0,
            rate,
            o.cpu_seconds,
            o.cpu_seconds / o.processes as f64,
            1000.0 * o.cpu_seconds / (o.copied.max(1) as f64 * RECORD_BYTES as f64 / 1_000_000.0),
            o.peak_rss_mib,
            o.copied,
            o.seconds
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Pick {
    Median,
    Best,
}

/// One run per contender (in order of first appearance): the median or the best by steady
/// rate. The median of an even count is the lower middle run.
fn pick(outcomes: &[Outcome], how: Pick) -> Vec<&Outcome> {
    let mut names: Vec<&str> = Vec::new();
    for o in outcomes {
        if !names.contains(&o.name.as_str()) {
            names.push(&o.name);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let mut runs: Vec<&Outcome> = outcomes.iter().filter(|o| o.name == name).collect();
            runs.sort_by(|x, y| x.steady_rate.total_cmp(&y.steady_rate));
            match how {
                Pick::Median => runs.get((runs.len() - 1) / 2).copied(),
                Pick::Best => runs.last().copied(),
            }
        })
        .collect()
}

/// Steady throughput of each mode's gateway mirror against the raw pipe and MM2 in the same
/// mode, CPU and RSS against MM2.
fn print_ratios(outcomes: &[&Outcome], which: &str) {
    let raw = outcomes.iter().find(|o| o.mode.is_none());
    println!("\nratios ({which} runs):");
    for mode in [Mode::AtLeastOnce, Mode::ExactlyOnce] {
        let of = |prefix: &str| {
            outcomes
                .iter()
                .find(|o| o.mode == Some(mode) && o.name.starts_with(prefix))
        };
        let Some(gateway) = of("gateway") else {
            continue;
        };
        let mut line = format!("{}:", mode.label());
        if let Some(raw) = raw {
            line += &format!(
                " gateway / raw pipe {:.0} %",
                100.0 * gateway.steady_rate / raw.steady_rate.max(1.0)
            );
        }
        if let Some(mm2) = of("MirrorMaker") {
            line += &format!(
                "; gateway / MM2 {:.2}× steady, {:.2}× incl. start-up; CPU {:.2} of MM2's; peak RSS {:.2} of MM2's",
                gateway.steady_rate / mm2.steady_rate.max(1.0),
                (gateway.copied as f64 / gateway.seconds)
                    / (mm2.copied as f64 / mm2.seconds).max(1.0),
                gateway.cpu_seconds / mm2.cpu_seconds.max(0.01),
                gateway.peak_rss_mib / mm2.peak_rss_mib.max(1.0),
            );
        }
        println!("{line}");
    }
}

/// The Connect worker settings MM2 needs on single-broker clusters; in exactly-once mode
/// also its internal REST server (KIP-710: zombie fencing goes through the leader).
fn mm2_worker(mode: Mode) -> BenchResult<String> {
    let mut worker =
        "config.storage.replication.factor = 1\noffset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\nsync.topic.acls.enabled = false\n"
            .to_owned();
    if mode == Mode::ExactlyOnce {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        worker += &format!(
            "dedicated.mode.enable.internal.rest = true\nlisteners = http://127.0.0.1:{port}\n"
        );
    }
    Ok(worker)
}

/// One flow `alias → B` of `topic`. Exactly-once as MM2 documents it: the target's
/// `exactly.once.source.support`, and the source read `read_committed` (MM2 refuses
/// exactly-once otherwise); our mirror reads the same keys.
fn mm2_properties(alias: &str, options: &Options, topic: &str, mode: Mode) -> String {
    let mut properties = format!(
        "clusters = {alias}, B\n{alias}.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
         {alias}->B.enabled = true\n{alias}->B.topics = {topic}\ntasks.max = {}\n\
         replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\noffset-syncs.topic.replication.factor = 1\n",
        options.a, options.b, options.tasks
    );
    if let Some(codec) = &options.compression {
        properties += &format!("B.producer.compression.type = {codec}\n");
    }
    if mode == Mode::ExactlyOnce {
        properties += &format!(
            "B.exactly.once.source.support = enabled\n{alias}.consumer.isolation.level = read_committed\n"
        );
    }
    properties
}

async fn produce(a: &KafkaClients, topic: &str, records: u64) -> BenchResult<()> {
    let producer: FutureProducer = a.producer()?;
    // Random bytes, 1,024 distinct payloads (1 MiB, larger than lz4's 64 KiB window):
    // compression (lz4 in broker-core's defaults, none in MM2's) cannot shrink them, so
    // every contender moves the full 1 KiB per record.
    let payloads: Vec<Vec<u8>> = (0..1024)
        .map(|_| (0..RECORD_BYTES).map(|_| rand::random::<u8>()).collect())
        .collect();
    let mut pending = Vec::new();
    for id in 0..records {
        let key = id.to_be_bytes();
        let payload = &payloads[usize::try_from(id % 1024).unwrap_or_default()];
        let mut record = FutureRecord::to(topic).key(&key[..]).payload(&payload[..]);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((_, back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        if pending.len() >= 50_000 {
            for delivery in pending.drain(..) {
                delivery.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for delivery in pending {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    Ok(())
}

/// Waits until `target` holds every record (or the timeout), then stops the child and
/// reads its CPU time and peak RSS.
async fn measure(
    name: String,
    mode: Option<Mode>,
    children: Vec<Child>,
    b: &KafkaClients,
    target: &str,
    options: &Options,
) -> BenchResult<Outcome> {
    eprintln!("running {name} → {target}");
    let start = Instant::now();
    let inspector = ClusterInspector::new(b, Duration::from_secs(5))?;
    let mut copied = 0;
    let mut first_seen: Option<(Instant, i64)> = None;
    let goal = i64::try_from(options.records)?;
    while start.elapsed() < options.timeout {
        tokio::time::sleep(Duration::from_millis(250)).await;
        copied = high_watermarks(&inspector, target).await;
        if copied > 0 && first_seen.is_none() {
            first_seen = Some((Instant::now(), copied));
        }
        if copied >= goal {
            break;
        }
    }
    let mut end = Instant::now();
    if mode == Some(Mode::ExactlyOnce) && copied >= goal {
        // A transactional target's high watermark also counts the commit markers, so it
        // reaches N a little before the last records: wait until it stops moving and count
        // from the last move.
        let mut still = 0;
        while still < 8 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = high_watermarks(&inspector, target).await;
            if now == copied {
                still += 1;
            } else {
                copied = now;
                end = Instant::now();
                still = 0;
            }
        }
    }
    let seconds = end.duration_since(start).as_secs_f64();
    // Steady-state rate: from the first copied record on, so that process start-up (JVM and
    // Connect herder for MM2, group join for all) is reported apart.
    let steady_rate = first_seen.map_or(0.0, |(at, count)| {
        (copied - count) as f64 / end.duration_since(at).as_secs_f64().max(0.001)
    });
    let processes = children.len();
    let mut cpu_seconds = 0.0;
    let mut peak_rss_mib: f64 = 0.0;
    for mut child in children {
        let (cpu, rss) = process_usage(child.id());
        cpu_seconds += cpu;
        peak_rss_mib = peak_rss_mib.max(rss);
        child.kill().ok();
        child.wait().ok();
    }
    eprintln!("{name}: {copied} records in {seconds:.1} s");
    // A gigabyte per contender: a few runs would fill the development disk.
    drop_topic(b, target).await;
    Ok(Outcome {
        name,
        mode,
        processes,
        seconds,
        steady_rate,
        cpu_seconds,
        peak_rss_mib,
        copied,
    })
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

/// The sum of `target`'s high watermarks on B (0 while it does not exist).
async fn high_watermarks(inspector: &ClusterInspector, target: &str) -> i64 {
    let Ok(info) = inspector.topic(target).await else {
        return 0;
    };
    let mut sum = 0;
    for partition in info.partitions {
        if let Ok(marks) = inspector.watermarks(target, partition.id).await {
            sum += marks.high;
        }
    }
    sum
}

/// utime + stime (s) and VmHWM (MiB) of a live process.
fn process_usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_SECOND;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, hwm_kib / 1024.0)
}

/// Child role: this gateway's mirror on a properties file, until killed.
async fn child_gateway(properties: String, instance_id: Option<String>) -> BenchResult<()> {
    let mut config = mirror::load_properties(&properties)?;
    if let Some(id) = instance_id {
        config.instance_id = Some(mirror::InstanceId::parse("instance id", &id)?);
    }
    mirror::run(config, MetricsRegistry::new(), Shutdown::new()).await?;
    Ok(())
}

/// Creates the raw pipe's target topic with the source partition count.
async fn prepare_raw(args: &[String]) -> BenchResult<()> {
    let [a, b, source, target, _] = args else {
        return Err("child-raw needs A B SOURCE TARGET COMPRESSION".into());
    };
    let inspector = ClusterInspector::new(&clients(a)?, Duration::from_secs(5))?;
    let partitions = inspector.topic(source).await?.partitions.len();
    clients(b)?
        .admin()?
        .create_topics(
            &[NewTopic::new(
                target,
                i32::try_from(partitions)?,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new(),
        )
        .await?;
    Ok(())
}

/// Child role: the simplest correct pipe, consume A → produce B, same partition, key,
/// value, headers and timestamp (what any mirror must carry over; until 2026-12-07 it
/// dropped headers and timestamps, which spared it librdkafka's per-record header parse).
fn child_raw(args: &[String]) -> BenchResult<()> {
    let [a, b, source, target, compression] = args else {
        return Err("child-raw needs A B SOURCE TARGET COMPRESSION".into());
    };
    let b_clients = clients(b)?;
    let mut config = clients(a)?.consumer_config(&format!("bench-raw-{}", std::process::id()));
    config.set("enable.auto.commit", "true");
    let consumer: BaseConsumer = config.create()?;
    consumer.subscribe(&[source])?;
    let mut producer_config = b_clients.producer_config();
    if !compression.is_empty() {
        producer_config.set("compression.type", compression);
    }
    let producer: BaseProducer = producer_config.create()?;
    loop {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            let mut record = BaseRecord::to(target).partition(message.partition());
            if let Some(timestamp) = message.timestamp().to_millis() {
                record = record.timestamp(timestamp);
            }
            if let Some(headers) = message.headers() {
                record = record.headers(headers.detach());
            }
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(payload) = message.payload() {
                record = record.payload(payload);
            }
            while let Err((error, back)) = producer.send(record) {
                if !matches!(
                    error,
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull
                    )
                ) {
                    return Err(error.into());
                }
                record = back;
                producer.poll(Duration::from_millis(5));
            }
        }
        producer.poll(Duration::ZERO);
    }
}
