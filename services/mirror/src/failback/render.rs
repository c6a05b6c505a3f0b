//! The failback report as an aligned text table (JSON is the report's serde form).

use super::{FailbackReport, RowOrigin};
use crate::failover::render::{show, time};

pub fn render_table(report: &FailbackReport) -> String {
    let (b, a) = report
        .flow
        .split_once("->")
        .unwrap_or(("the source", "the target"));
    let mut out = format!(
        "failback {}{}: {}\n\n",
        report.flow,
        if report.dry_run { " (dry run)" } else { "" },
        if report.caught_up {
            format!("everything {b} holds of the flow's topics is on {a}")
        } else {
            format!("NOT CAUGHT UP: {a} lacks records of {b} (see below)")
        }
    );
    out.push_str(&format!(
        "{:<24} {:<12} {:<24} {:<24} {:>4} {:>10} {:>10} {:>10} {:>6} {:>8} {:>5}\n",
        "GROUP",
        "OUTCOME",
        "FROM TOPIC",
        "TO TOPIC",
        "PART",
        "FROM",
        "TO",
        "BEFORE",
        "EXACT",
        "RE-READ",
        "SKIP"
    ));
    for group in &report.groups {
        let outcome = group.outcome.label();
        for row in &group.partitions {
            out.push_str(&format!(
                "{:<24} {:<12} {:<24} {:<24} {:>4} {:>10} {:>10} {:>10} {:>6} {:>8} {:>5}\n",
                group.group,
                outcome,
                row.from_topic,
                format!(
                    "{}{}",
                    row.to_topic,
                    if row.origin == RowOrigin::WrittenOnB {
                        " (new)"
                    } else {
                        ""
                    }
                ),
                row.partition,
                row.from_offset,
                show(row.to_offset),
                show(row.to_committed_before),
                if row.exact { "yes" } else { "no" },
                row.re_read,
                row.skip
            ));
        }
        if let Some(reason) = &group.reason {
            out.push_str(&format!("{:<24} refused: {reason}\n", group.group));
        }
    }
    out.push_str(&format!(
        "\nCopied back ({b} -> {a})\n{:<28} {:>4} {:>14} {:>14} {:>10}\n",
        "TOPIC ON ".to_owned() + b,
        "PART",
        "END",
        "COPIED TO",
        "BEHIND"
    ));
    for row in &report.catch_up {
        out.push_str(&format!(
            "{:<28} {:>4} {:>14} {:>14} {:>10}\n",
            row.topic,
            row.partition,
            row.source_end,
            show(row.replicated_end),
            row.behind
        ));
    }
    out.push_str(&format!(
        "\nRPO window (records on {a} that never reached {b} before the failover)\n\
         {:<28} {:>4} {:>12} {:>12} {:>8} {:>22} {:>22} {:>14}\n",
        "TOPIC ON ".to_owned() + a,
        "PART",
        "FROM",
        "TO (excl.)",
        "RECORDS",
        "FIRST",
        "LAST",
        "END SEEN"
    ));
    for row in &report.rpo_window {
        out.push_str(&format!(
            "{:<28} {:>4} {:>12} {:>12} {:>8} {:>22} {:>22} {:>14}\n",
            row.topic,
            row.partition,
            row.from_offset,
            row.to_offset,
            row.records,
            row.first_timestamp_ms.map_or_else(|| "-".to_owned(), time),
            row.last_timestamp_ms.map_or_else(|| "-".to_owned(), time),
            show(row.end_seen_before)
        ));
    }
    out.push_str(&format!(
        "\n{} group(s), {} refused, {} record(s) skipped, {} record(s) in the RPO window, {} ms\n",
        report.groups.len(),
        report.refused(),
        report.skipped(),
        report.lost(),
        report.took_ms
    ));
    out
}
