//! Delivery guarantees across a real crash: `kafka-gateway mirror` runs as its own process,
//! is killed with SIGKILL mid-copy (nothing flushed, committed or aborted), and started
//! again; more records are written while it is down. Every record is then checked on the
//! target, key by key (the drill is in `mirror_drill`).

use std::time::{Duration, Instant};

use tests::{Services, create_topic, kafka_clients, unique_name};

use crate::mirror_common::{
    MirrorProcess, high_watermarks, produce_numbered, properties_text, wait_for_copied,
};
use crate::mirror_drill::{Crash, PARTITIONS, RECORDS, crash_and_restart, uncommitted_window};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_loses_nothing_across_a_kill_9() {
    // Two tasks, as in #21's drill: both must get their partitions back at once.
    let drill = crash_and_restart(Crash::Kill9, "tasks.max = 2", false).await;
    let missing = drill.missing();
    assert!(
        missing.is_empty(),
        "{} records lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let duplicates = drill.duplicates();
    eprintln!(
        "at-least-once kill -9: 0 lost, {duplicates} duplicates (uncommitted window at the \
         kill: {} records), first record {:?} and every record {:?} after the restart",
        drill.uncommitted_window, drill.first_record_after, drill.caught_up_after
    );
    // A restart resumes from the committed source offsets, so it copies again at most what
    // was on the target past them: one commit interval's worth.
    assert!(
        i64::try_from(duplicates).unwrap() <= drill.uncommitted_window,
        "{duplicates} duplicates, more than the {} records past the committed offsets",
        drill.uncommitted_window
    );
    assert!(
        drill.uncommitted_after_stop.is_empty(),
        "a graceful stop left (partition, committed, end) {:?}",
        drill.uncommitted_after_stop
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_copies_every_record_once_across_a_kill_9() {
    let drill = crash_and_restart(Crash::Kill9, "exactly.once.support = enabled", true).await;
    let missing = drill.missing();
    let duplicated: Vec<(&String, &usize)> = drill.counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "exactly-once kill -9: {} lost, {} duplicated, first record {:?} and every record {:?} \
         after the restart",
        missing.len(),
        duplicated.len(),
        drill.first_record_after,
        drill.caught_up_after
    );
    assert!(missing.is_empty(), "{} records lost", missing.len());
    assert!(
        duplicated.is_empty(),
        "{} records duplicated, e.g. {:?}",
        duplicated.len(),
        duplicated.first()
    );
    assert_eq!(drill.counts.len(), usize::try_from(RECORDS).unwrap());
}

/// #21: offsets are committed as soon as the offset-map records covering them are
/// acknowledged, so at a kill -9 under steady load the records on the target past the
/// committed source offsets (what a restart copies again) are at most one
/// `offset.flush.interval.ms` of copying, plus the map's acknowledgement time (0.5 s
/// allowed). The copy rate is measured over the 2 s before the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_kill_9_leaves_at_most_one_commit_interval_uncommitted() {
    const INTERVAL: Duration = Duration::from_secs(1);
    const ACK_ALLOWANCE: Duration = Duration::from_millis(500);
    let services = Services::from_env();
    let a = kafka_clients(&services.kafka_bootstrap).await;
    let b = kafka_clients(&services.kafka_b_bootstrap).await;
    let topic = unique_name("mirror_interval");
    let remote = format!("A.{topic}");
    create_topic(&a, &topic, PARTITIONS).await;
    let producer = a.producer().expect("producer");
    let steady = tokio::spawn({
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            // About 4,000 records/s, in steps of 200 every 50 ms, until aborted.
            for step in 0_u32.. {
                produce_numbered(&producer, &topic, step * 200..(step + 1) * 200, PARTITIONS).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let extra = format!(
        "tasks.max = 2\noffset.flush.interval.ms = {}",
        INTERVAL.as_millis()
    );
    let mirror = MirrorProcess::start(&properties_text(&topic, &extra));
    wait_for_copied(&b, &remote, 1).await;
    // Several commit intervals of steady copying, then the rate over the last 2 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let copied_before: i64 = high_watermarks(&b, &remote).await.values().sum();
    let rate_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let copied_at_kill: i64 = high_watermarks(&b, &remote).await.values().sum();
    let rate = (copied_at_kill - copied_before) as f64 / rate_from.elapsed().as_secs_f64();
    mirror.kill();
    steady.abort();
    let on_target = high_watermarks(&b, &remote).await;
    let window = uncommitted_window(&a, &topic, &on_target).await;
    let allowed = rate * (INTERVAL + ACK_ALLOWANCE).as_secs_f64();
    eprintln!(
        "at-least-once kill -9 under steady load: {window} records past the committed offsets, \
         copy rate {rate:.0} records/s, one interval = {:.0} records",
        rate * INTERVAL.as_secs_f64()
    );
    assert!(
        rate > 0.0,
        "the mirror copied nothing in the 2 s before the kill"
    );
    assert!(
        window as f64 <= allowed,
        "{window} records past the committed offsets at the kill, more than one interval \
         ({INTERVAL:?}) plus {ACK_ALLOWANCE:?} at {rate:.0} records/s ({allowed:.0})"
    );
}
