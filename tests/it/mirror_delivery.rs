//! Delivery guarantees across a real crash: `kafka-gateway mirror` runs as its own process,
//! is killed with SIGKILL mid-copy (nothing flushed, committed or aborted), and started
//! again; more records are written while it is down. Every record is then checked on the
//! target, key by key (the drill is in `mirror_drill`).

use crate::mirror_drill::{Crash, RECORDS, crash_and_restart};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_loses_nothing_across_a_kill_9() {
    let drill = crash_and_restart(Crash::Kill9, "", false).await;
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
