//! The crash drill the mirror's delivery tests share: copy a topic, crash the mirror
//! mid-copy (SIGKILL of a `kafka-gateway mirror` process, or the in-process future dropped),
//! write more records while it is down, start it again, and check every record on the
//! target key by key.
//!
//! Records written while the mirror is down prove that the restarted mirror copies (a target
//! that already held everything would otherwise look "caught up" without the restart doing
//! anything), and the time to the first record past what was on the target at the crash is
//! the recovery time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use broker_core::KafkaClients;
use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    MirrorProcess, RunningMirror, Seen, committed_offsets, high_watermarks, produce_numbered,
    properties, properties_text, read_distinct_keys, replication_group, wait_for_copied,
};

/// Records on the source before the mirror starts.
pub(crate) const BEFORE_CRASH: u32 = 20_000;
/// Records written while the mirror is down.
pub(crate) const DURING_OUTAGE: u32 = 5_000;
pub(crate) const RECORDS: u32 = BEFORE_CRASH + DURING_OUTAGE;
pub(crate) const PARTITIONS: i32 = 3;
/// How long the restarted mirror may take to copy everything before the drill fails.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(120);

/// How the mirror dies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Crash {
    /// `kafka-gateway mirror --config` as its own process, killed with SIGKILL.
    Kill9,
    /// The in-process mirror future dropped: nothing flushed or committed any more.
    InProcess,
}

/// What a crash drill saw.
pub(crate) struct Drill {
    /// Copies of each key on the target after the restart.
    pub(crate) counts: BTreeMap<String, usize>,
    /// Records on the target past the source offsets committed when the mirror died: what
    /// an at-least-once restart may copy again.
    pub(crate) uncommitted_window: i64,
    /// From the restart to the first record written to the target.
    pub(crate) first_record_after: Duration,
    /// From the restart until every record was readable on the target.
    pub(crate) caught_up_after: Duration,
    /// Partitions whose committed source offset after the graceful stop is short of the
    /// source's end (partition, committed, end): a graceful stop must commit everything
    /// (at-least-once; exactly-once keeps its position in the offset map instead).
    pub(crate) uncommitted_after_stop: Vec<(i32, i64, i64)>,
}

impl Drill {
    pub(crate) fn missing(&self) -> Vec<u32> {
        (0..RECORDS)
            .filter(|id| !self.counts.contains_key(&format!("{id:08}")))
            .collect()
    }

    pub(crate) fn duplicates(&self) -> usize {
        self.counts.values().map(|n| n.saturating_sub(1)).sum()
    }
}

/// One running mirror, whichever way it is run.
enum Mirror {
    Process(MirrorProcess),
    InProcess(RunningMirror),
}

impl Mirror {
    fn start(crash: Crash, topic: &str, extra: &str) -> Self {
        match crash {
            Crash::Kill9 => Self::Process(MirrorProcess::start(&properties_text(topic, extra))),
            Crash::InProcess => Self::InProcess(RunningMirror::start(properties(topic, extra))),
        }
    }

    async fn crash(self) {
        match self {
            Self::Process(process) => process.kill(),
            Self::InProcess(mirror) => mirror.crash().await,
        }
    }

    async fn stop(self) {
        match self {
            Self::Process(process) => process.stop().await,
            Self::InProcess(mirror) => mirror.stop().await,
        }
    }

    fn log(&self) -> String {
        match self {
            Self::Process(process) => process.log(),
            Self::InProcess(_) => String::new(),
        }
    }
}

pub(crate) async fn crash_and_restart(crash: Crash, extra: &str, read_committed: bool) -> Drill {
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_crash");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, PARTITIONS).await;
    let producer = a.producer().expect("producer");
    produce_numbered(&producer, &topic, 0..BEFORE_CRASH, PARTITIONS).await;

    let mirror = Mirror::start(crash, &topic, extra);
    wait_for_copied(&b, &remote, i64::from(BEFORE_CRASH) / 4).await;
    mirror.crash().await;

    // The mirror is dead: what is on B and what it committed on A are final now.
    let on_target = high_watermarks(&b, &remote).await;
    let uncommitted_window = uncommitted_window(&a, &topic, &on_target).await;
    eprintln!("crashed with {on_target:?} on the target, {uncommitted_window} past the commits");
    produce_numbered(&producer, &topic, BEFORE_CRASH..RECORDS, PARTITIONS).await;

    let restarted = Instant::now();
    let mirror = Mirror::start(crash, &topic, extra);
    let first_record_after = first_record(&b, &remote, on_target.values().sum(), &mirror).await;
    let first_pass = read_keys(&b, &remote, read_committed).await;
    let caught_up_after = restarted.elapsed();
    let distinct: BTreeSet<&String> = first_pass.iter().map(|seen| &seen.key).collect();
    if distinct.len() < usize::try_from(RECORDS).unwrap() {
        report_partitions(&b, &remote, &first_pass).await;
    }
    assert!(
        distinct.len() >= usize::try_from(RECORDS).unwrap(),
        "only {} of {RECORDS} records arrived within {CATCH_UP_TIMEOUT:?} of the restart; \
         mirror log:\n{}",
        distinct.len(),
        mirror.log()
    );
    // Stop gracefully, then read everything again to count duplicates.
    mirror.stop().await;
    let uncommitted_after_stop = uncommitted_after_stop(&a, &topic).await;
    let seen = read_keys(&b, &remote, read_committed).await;
    report_partitions(&b, &remote, &seen).await;
    let mut counts = BTreeMap::new();
    for record in seen {
        *counts.entry(record.key).or_insert(0) += 1;
    }
    Drill {
        counts,
        uncommitted_window,
        first_record_after,
        caught_up_after,
        uncommitted_after_stop,
    }
}

async fn uncommitted_after_stop(a: &KafkaClients, topic: &str) -> Vec<(i32, i64, i64)> {
    let ends = high_watermarks(a, topic).await;
    let (reader, group, source) = (a.clone(), replication_group(topic), topic.to_owned());
    let committed = tokio::task::spawn_blocking(move || {
        committed_offsets(&reader, &group, &source, PARTITIONS)
    })
    .await
    .unwrap();
    ends.into_iter()
        .map(|(partition, end)| {
            (
                partition,
                committed.get(&partition).copied().unwrap_or(-1),
                end,
            )
        })
        .filter(|(_, committed, end)| committed < end)
        .collect()
}

/// Records on the target past the offsets the replication group committed on the source.
pub(crate) async fn uncommitted_window(
    a: &KafkaClients,
    topic: &str,
    on_target: &BTreeMap<i32, i64>,
) -> i64 {
    let (reader, group, source) = (a.clone(), replication_group(topic), topic.to_owned());
    let committed = tokio::task::spawn_blocking(move || {
        committed_offsets(&reader, &group, &source, PARTITIONS)
    })
    .await
    .unwrap();
    on_target
        .iter()
        .map(|(partition, end)| end - committed.get(partition).copied().unwrap_or(0))
        .sum()
}

/// Time until the target holds more than `at_crash` records (markers included).
async fn first_record(b: &KafkaClients, remote: &str, at_crash: i64, mirror: &Mirror) -> Duration {
    let started = Instant::now();
    loop {
        let copied: i64 = high_watermarks(b, remote).await.values().sum();
        if copied > at_crash {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < CATCH_UP_TIMEOUT,
            "the restarted mirror wrote nothing to the target in {CATCH_UP_TIMEOUT:?}; \
             mirror log:\n{}",
            mirror.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every record of `remote`, read until all [`RECORDS`] keys are there and the topic is
/// quiet.
async fn read_keys(b: &KafkaClients, remote: &str, read_committed: bool) -> Vec<Seen> {
    let (reader, remote) = (b.clone(), remote.to_owned());
    let expected = usize::try_from(RECORDS).unwrap();
    tokio::task::spawn_blocking(move || {
        read_distinct_keys(&reader, &remote, expected, CATCH_UP_TIMEOUT, read_committed)
    })
    .await
    .unwrap()
}

/// Context for a failure: records read per partition vs the log's end offsets.
async fn report_partitions(b: &KafkaClients, remote: &str, seen: &[Seen]) {
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for record in seen {
        *per_partition.entry(record.partition).or_insert(0) += 1;
    }
    eprintln!(
        "read {} records, per partition {per_partition:?}; high watermarks {:?}",
        seen.len(),
        high_watermarks(b, remote).await
    );
}
