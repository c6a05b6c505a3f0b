//! The failover report as an aligned text table (JSON is the report's serde form).

use super::FailoverReport;

/// An optional offset or count, `-` when absent.
pub(crate) fn show(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// `2026-12-07T16:00:00Z`-style UTC time of a millisecond timestamp.
pub(crate) fn time(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

pub fn render_table(report: &FailoverReport) -> String {
    let mut out = format!(
        "failover {}{}: source {}\n\n",
        report.flow,
        if report.dry_run { " (dry run)" } else { "" },
        if report.source_reachable {
            "reachable: positions from its committed offsets".to_owned()
        } else {
            format!(
                "UNREACHABLE ({}): positions from the target's checkpoints",
                report.source_error.as_deref().unwrap_or("no answer")
            )
        }
    );
    out.push_str(&format!(
        "{:<24} {:<12} {:<28} {:>4} {:>26} {:>12} {:>12} {:>8} {:>5}\n",
        "GROUP",
        "OUTCOME",
        "TARGET TOPIC",
        "PART",
        "SOURCE OFFSET",
        "TARGET",
        "BEFORE",
        "RE-READ",
        "SKIP"
    ));
    for group in &report.groups {
        let outcome = group.outcome.label();
        for row in &group.partitions {
            let source = match (row.source_offset, row.checkpoint_time_ms) {
                (Some(offset), _) => offset.to_string(),
                (None, Some(at)) => format!("unknown, last seen {}", time(at)),
                (None, None) => "unknown".to_owned(),
            };
            let re_read = if row.re_read_at_most > 0 {
                format!("<={}", row.re_read_at_most)
            } else {
                row.re_read.to_string()
            };
            out.push_str(&format!(
                "{:<24} {:<12} {:<28} {:>4} {:>26} {:>12} {:>12} {:>8} {:>5}\n",
                group.group,
                outcome,
                row.target_topic,
                row.partition,
                source,
                show(row.target_offset),
                show(row.target_committed_before),
                re_read,
                row.skip
            ));
        }
        if let Some(reason) = &group.reason {
            out.push_str(&format!("{:<24} refused: {reason}\n", group.group));
        }
    }
    out.push_str(&format!(
        "\nRPO (records on {} that never reached the target)\n{:<28} {:>4} {:>14} {:>14} {:>10} {:>30}\n",
        report.flow.split("->").next().unwrap_or("the source"),
        "SOURCE TOPIC",
        "PART",
        "REPLICATED TO",
        "SOURCE END",
        "MISSING",
        "OLDEST MISSING"
    ));
    for row in &report.rpo {
        out.push_str(&format!(
            "{:<28} {:>4} {:>14} {:>14} {:>10} {:>30}\n",
            row.source_topic,
            row.partition,
            show(row.replicated_end),
            show(row.source_end),
            match (row.missing, row.missing_at_least) {
                (Some(missing), _) => missing.to_string(),
                (None, Some(least)) => format!(">={least}"),
                (None, None) => "unknown".to_owned(),
            },
            match (row.oldest_missing_timestamp_ms, row.source_end_seen_ms) {
                (Some(at), _) => time(at),
                (None, Some(seen)) => format!("end seen {}", time(seen)),
                (None, None) => "-".to_owned(),
            }
        ));
    }
    out.push_str(&format!(
        "\n{} group(s), {} refused, {} record(s) skipped, {} ms\n",
        report.groups.len(),
        report.refused(),
        report.skipped(),
        report.took_ms
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times_render_as_iso_dates() {
        assert_eq!(super::time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::time(1_796_660_776_753), "2026-12-07T16:26:16Z");
        assert_eq!(super::time(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
