//! Delivery across an in-process abrupt stop (the mirror future is dropped mid-stream, so
//! nothing is flushed or committed) and a restart: the `mirror_drill` of `mirror_delivery`
//! without a process boundary.

use crate::mirror_drill::{Crash, crash_and_restart};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_loses_nothing_across_an_in_process_crash() {
    let drill = crash_and_restart(Crash::InProcess, "", false).await;
    let missing = drill.missing();
    assert!(
        missing.is_empty(),
        "{} records lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        i64::try_from(drill.duplicates()).unwrap() <= drill.uncommitted_window,
        "{} duplicates, more than the {} records past the committed offsets",
        drill.duplicates(),
        drill.uncommitted_window
    );
    assert!(
        drill.uncommitted_after_stop.is_empty(),
        "a graceful stop left (partition, committed, end) {:?}",
        drill.uncommitted_after_stop
    );
}
