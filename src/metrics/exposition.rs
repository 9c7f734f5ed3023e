//! A snapshot in Prometheus' text exposition format, version 0.0.4: a
//! `# HELP` and a `# TYPE` line for every metric, then its samples. Pure:
//! a snapshot in, text out.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Snapshot;
use crate::gauges::CONFIRM_BUCKETS;

pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    let s = &snapshot.summary;
    let counters: [(&str, &str, u64); 12] = [
        (
            "wsship_lines_read_total",
            "Lines read from the inputs.",
            s.read,
        ),
        (
            "wsship_lines_sent_total",
            "Lines confirmed sent (by a Pong, or written with --confirm write).",
            s.sent,
        ),
        (
            "wsship_lines_filtered_total",
            "Lines left out by --include and --exclude.",
            s.filtered,
        ),
        (
            "wsship_lines_failed_total",
            "Lines given up on: not confirmed when retries or the drain time ran out.",
            s.failed,
        ),
        (
            "wsship_lines_invalid_utf8_total",
            "Lines sent with U+FFFD in place of bytes that were not UTF-8.",
            s.invalid_utf8,
        ),
        (
            "wsship_lines_invalid_json_total",
            "--input-format ndjson lines that were not a JSON object.",
            s.invalid_json,
        ),
        (
            "wsship_events_total",
            "Messages formed from the lines (fewer with multiline events).",
            s.events,
        ),
        (
            "wsship_lines_resent_total",
            "Lines written again after a connection died before confirming them.",
            s.resent,
        ),
        (
            "wsship_reconnects_total",
            "Connections opened after the first.",
            s.reconnects,
        ),
        (
            "wsship_retries_total",
            "Attempts retried after a failure.",
            s.retries,
        ),
        (
            "wsship_bytes_sent_total",
            "Bytes of the messages confirmed sent.",
            s.bytes_sent,
        ),
        (
            "wsship_input_errors_total",
            "Inputs that could not be read, or files lost, as said on stderr.",
            s.input_errors,
        ),
    ];
    for (name, help, value) in counters {
        single(&mut out, name, "counter", help, value);
    }
    family(
        &mut out,
        "wsship_lines_dropped_total",
        "counter",
        "Lines dropped by policy: over --max-len (oversize), or queues full under --when-full drop (full).",
    );
    let dropped = [
        ("oversize", s.dropped.saturating_sub(s.dropped_full)),
        ("full", s.dropped_full),
    ];
    for (reason, value) in dropped {
        let _ = writeln!(
            out,
            "wsship_lines_dropped_total{{reason=\"{reason}\"}} {value}"
        );
    }

    family(
        &mut out,
        "wsship_connected",
        "gauge",
        "1 while some worker has a connection open to the server.",
    );
    for server in &snapshot.servers {
        let label = escape(&server.label);
        let _ = writeln!(
            out,
            "wsship_connected{{server=\"{label}\"}} {}",
            u8::from(server.connected)
        );
    }
    family(
        &mut out,
        "wsship_confirm_seconds",
        "histogram",
        "Time from a write until the Pong that confirms it is read (an idle worker reads once a second).",
    );
    for server in &snapshot.servers {
        let label = escape(&server.label);
        let times = &server.confirm;
        let bounds = CONFIRM_BUCKETS.iter().map(|b| b.to_string());
        for (bound, count) in bounds
            .chain(std::iter::once("+Inf".to_string()))
            .zip(&times.cumulative)
        {
            let _ = writeln!(
                out,
                "wsship_confirm_seconds_bucket{{server=\"{label}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "wsship_confirm_seconds_sum{{server=\"{label}\"}} {}",
            times.sum
        );
        let _ = writeln!(
            out,
            "wsship_confirm_seconds_count{{server=\"{label}\"}} {}",
            times.count
        );
    }
    family(
        &mut out,
        "wsship_last_confirm_timestamp_seconds",
        "gauge",
        "When the server last confirmed a write, in seconds since the Unix epoch.",
    );
    for server in &snapshot.servers {
        if let Some(at) = server.last_confirm {
            let label = escape(&server.label);
            let _ = writeln!(
                out,
                "wsship_last_confirm_timestamp_seconds{{server=\"{label}\"}} {at:.3}"
            );
        }
    }

    // A file and the files rotated away from its name while still read
    // share a path: one series each, summed, so that size - confirmed is
    // the lag of everything written under that name.
    let mut files: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for file in &snapshot.files {
        let entry = files.entry(&file.path).or_default();
        entry[0] += file.size;
        entry[1] += file.read;
        entry[2] += file.confirmed;
    }
    let per_file = [
        (
            "wsship_file_size_bytes",
            "The file's size when last read (with files rotated from its name and still read).",
        ),
        ("wsship_file_read_bytes", "How far the file is read."),
        (
            "wsship_file_confirmed_bytes",
            "How far the file is confirmed sent, as the state would record: size minus this is the lag.",
        ),
    ];
    for (i, (name, help)) in per_file.into_iter().enumerate() {
        family(&mut out, name, "gauge", help);
        for (path, counts) in &files {
            let _ = writeln!(out, "{name}{{path=\"{}\"}} {}", escape(path), counts[i]);
        }
    }

    let gauges = [
        (
            "wsship_queue_batches",
            "Batches waiting for a worker.",
            snapshot.queue as u64,
        ),
        (
            "wsship_inflight_batches",
            "Batches written and waiting for their Pong.",
            snapshot.in_flight,
        ),
    ];
    for (name, help, value) in gauges {
        single(&mut out, name, "gauge", help, value);
    }
    if let Some(spool) = &snapshot.spool {
        let spooled: [(&str, &str, &str, u64); 4] = [
            (
                "wsship_spool_lines",
                "gauge",
                "Lines in the spool not yet confirmed (as its index last said, about once a second).",
                spool.lines,
            ),
            (
                "wsship_spool_bytes",
                "gauge",
                "Bytes the spool's segments take on disk.",
                spool.bytes,
            ),
            (
                "wsship_spool_max_bytes",
                "gauge",
                "--spool-max-size: when the spool reaches it, --when-full applies.",
                spool.max_bytes,
            ),
            (
                "wsship_spool_corrupt_lines_total",
                "counter",
                "Spooled lines lost to a damaged or missing segment.",
                spool.corrupt,
            ),
        ];
        for (name, kind, help, value) in spooled {
            single(&mut out, name, kind, help, value);
        }
    }
    family(
        &mut out,
        "wsship_build_info",
        "gauge",
        "The version of wsship running.",
    );
    let _ = writeln!(
        out,
        "wsship_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A family of one sample without labels.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the format writes it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::FileGauge;
    use crate::metrics::{ServerView, Snapshot};
    use crate::stats::Stats;

    fn snapshot() -> Snapshot {
        let mut summary = Stats::new(1, 1).summary();
        (
            summary.read,
            summary.sent,
            summary.dropped,
            summary.dropped_full,
        ) = (10, 6, 3, 1);
        summary.filtered = 1;
        let gauges = crate::gauges::Gauges::new(1, 1);
        gauges.confirmed(0, Some(std::time::Duration::from_millis(2)));
        let file = |path: &str, size, confirmed| FileGauge {
            path: path.into(),
            size,
            read: size,
            confirmed,
        };
        Snapshot {
            summary,
            servers: vec![ServerView {
                label: "wss://logs.example:443".into(),
                connected: true,
                confirm: gauges.confirm_times(0),
                last_confirm: Some(1764583953.123),
                failing_for: None,
            }],
            files: vec![
                file("/var/log/app.log", 100, 40),
                file("/var/log/a \"b\".log", 7, 7),
                // Rotated away from app.log, still read.
                file("/var/log/app.log", 50, 50),
            ],
            queue: 2,
            in_flight: 3,
            reader_wait: None,
            spool: Some(crate::metrics::SpoolView {
                lines: 12,
                bytes: 4096,
                max_bytes: 1 << 30,
                corrupt: 1,
            }),
        }
    }

    #[test]
    fn every_metric_has_help_and_type_and_the_counters_are_the_summary() {
        let text = render(&snapshot());
        let mut families = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                families += 1;
                let name = rest.split(' ').next().unwrap();
                assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let family = name
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_sum")
                    .trim_end_matches("_count");
                assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
            }
        }
        assert_eq!(families, 26);
        for sample in [
            "wsship_spool_lines 12",
            "wsship_spool_bytes 4096",
            "wsship_spool_max_bytes 1073741824",
            "wsship_spool_corrupt_lines_total 1",
            "wsship_lines_read_total 10",
            "wsship_lines_sent_total 6",
            "wsship_lines_filtered_total 1",
            "wsship_lines_dropped_total{reason=\"oversize\"} 2",
            "wsship_lines_dropped_total{reason=\"full\"} 1",
            "wsship_connected{server=\"wss://logs.example:443\"} 1",
            "wsship_confirm_seconds_bucket{server=\"wss://logs.example:443\",le=\"0.001\"} 0",
            "wsship_confirm_seconds_bucket{server=\"wss://logs.example:443\",le=\"0.0025\"} 1",
            "wsship_confirm_seconds_bucket{server=\"wss://logs.example:443\",le=\"+Inf\"} 1",
            "wsship_confirm_seconds_sum{server=\"wss://logs.example:443\"} 0.002",
            "wsship_confirm_seconds_count{server=\"wss://logs.example:443\"} 1",
            "wsship_last_confirm_timestamp_seconds{server=\"wss://logs.example:443\"} 1764583953.123",
            "wsship_file_size_bytes{path=\"/var/log/app.log\"} 150",
            "wsship_file_confirmed_bytes{path=\"/var/log/app.log\"} 90",
            "wsship_file_read_bytes{path=\"/var/log/a \\\"b\\\".log\"} 7",
            "wsship_queue_batches 2",
            "wsship_inflight_batches 3",
        ] {
            assert!(
                text.lines().any(|l| l == sample),
                "no {sample:?} in\n{text}"
            );
        }
        assert!(text.contains(&format!(
            "wsship_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
        assert_eq!(text.matches("wsship_file_size_bytes{").count(), 2);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
