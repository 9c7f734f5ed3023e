//! Counters shared by every thread, and the one-line summary made from them.
//!
//! Lines are counted as read a chunk at a time, as the chunk goes to the
//! batcher, so that every line counted as read is also on its way to being
//! counted as sent, dropped, filtered or failed:
//! `read = sent + dropped + filtered + failed` holds at exit.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::config::StatsFormat;
use crate::gauges::Gauges;
use crate::messages::{self, Verbosity};
use crate::units::Chunk;

#[derive(Debug, Default)]
pub struct Stats {
    /// What is going on now, beside what has happened.
    pub gauges: Gauges,
    /// Lines sent to each server, in the order of --url/--addr.
    per_server: Vec<AtomicU64>,
    read: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    dropped_full: AtomicU64,
    filtered: AtomicU64,
    failed: AtomicU64,
    invalid_utf8: AtomicU64,
    invalid_json: AtomicU64,
    events: AtomicU64,
    reconnects: AtomicU64,
    retries: AtomicU64,
    resent: AtomicU64,
    bytes_sent: AtomicU64,
    input_errors: AtomicU64,
    /// With --spool: lines are counted as read by the intake, as they are
    /// read from standard input, not as chunks leave the spool.
    spooling: bool,
    resumed: AtomicU64,
    spool_corrupt: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub read: u64,
    pub sent: u64,
    /// Lines dropped by policy: over --max-len, or queues full under
    /// --when-full drop.
    pub dropped: u64,
    pub dropped_full: u64,
    /// Lines left out by --include and --exclude.
    pub filtered: u64,
    pub failed: u64,
    pub invalid_utf8: u64,
    /// --input-format ndjson lines that were not a JSON object (sent as
    /// text with an "error" member).
    pub invalid_json: u64,
    /// Messages formed, sent or not: fewer than `read` with multiline
    /// events, which count every line they hold in `read`, `sent`,
    /// `dropped` and `failed`.
    pub events: u64,
    pub reconnects: u64,
    pub retries: u64,
    /// Lines written again after a connection died before confirming them:
    /// an upper bound on the duplicates the server may have seen.
    pub resent: u64,
    pub bytes_sent: u64,
    pub input_errors: u64,
    /// With --spool: lines the last run left in the spool, lines lost to a
    /// damaged or missing segment, and lines this run leaves in it:
    /// `resumed + read = sent + dropped + filtered + failed + spool_corrupt
    /// + spooled`.
    pub spool: Option<SpoolCounts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpoolCounts {
    pub resumed: u64,
    pub corrupt: u64,
    pub spooled: u64,
}

impl Stats {
    pub fn new(servers: usize, workers: usize) -> Stats {
        Stats {
            gauges: Gauges::new(servers, workers),
            per_server: (0..servers).map(|_| AtomicU64::new(0)).collect(),
            ..Stats::default()
        }
    }

    /// Counts with a spool (see `spooling`), which held `resumed` lines
    /// when the run began.
    pub fn spooling(mut self, resumed: u64) -> Stats {
        self.spooling = true;
        self.resumed = AtomicU64::new(resumed);
        self
    }

    pub fn chunk(&self, chunk: &Chunk) {
        let lines = chunk.marks.last().map_or(0, |mark| mark.lines_end) as u64;
        if !self.spooling {
            self.read
                .fetch_add(lines + chunk.oversize + chunk.filtered, Relaxed);
        }
        self.events.fetch_add(
            chunk.marks.len() as u64 + chunk.oversize_events + chunk.filtered_events,
            Relaxed,
        );
        self.dropped.fetch_add(chunk.oversize, Relaxed);
        self.filtered.fetch_add(chunk.filtered, Relaxed);
        self.invalid_utf8.fetch_add(chunk.invalid_utf8, Relaxed);
        self.invalid_json.fetch_add(chunk.invalid_json, Relaxed);
    }

    pub fn sent(&self, server: usize, lines: usize, bytes: usize) {
        self.sent.fetch_add(lines as u64, Relaxed);
        if let Some(count) = self.per_server.get(server) {
            count.fetch_add(lines as u64, Relaxed);
        }
        self.bytes_sent.fetch_add(bytes as u64, Relaxed);
    }

    /// Lines read into the spool.
    pub fn read(&self, lines: usize) {
        self.read.fetch_add(lines as u64, Relaxed);
    }

    /// Lines read and dropped before the spool, for --max-len.
    pub fn read_and_dropped(&self, lines: usize) {
        self.read.fetch_add(lines as u64, Relaxed);
        self.dropped.fetch_add(lines as u64, Relaxed);
        self.events.fetch_add(lines as u64, Relaxed);
    }

    /// Spooled lines lost to damage.
    pub fn spool_corrupt(&self, lines: u64) {
        self.spool_corrupt.fetch_add(lines, Relaxed);
    }

    /// Lines that could not be delivered. With a spool they stay in it,
    /// for the next run: `spooled`, not failed.
    pub fn failed(&self, lines: usize) {
        if !self.spooling {
            self.failed.fetch_add(lines as u64, Relaxed);
        }
    }

    /// Lines read that could not be written to the spool.
    pub fn not_spooled(&self, lines: usize) {
        self.failed.fetch_add(lines as u64, Relaxed);
    }

    pub fn dropped_full(&self, lines: usize) {
        self.dropped.fetch_add(lines as u64, Relaxed);
        self.dropped_full.fetch_add(lines as u64, Relaxed);
    }

    pub fn reconnect(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub fn resent(&self, lines: usize) {
        self.resent.fetch_add(lines as u64, Relaxed);
    }

    pub fn input_error(&self) {
        self.input_errors.fetch_add(1, Relaxed);
    }

    pub fn per_server(&self) -> Vec<u64> {
        self.per_server
            .iter()
            .map(|count| count.load(Relaxed))
            .collect()
    }

    pub fn summary(&self) -> Summary {
        Summary {
            read: self.read.load(Relaxed),
            sent: self.sent.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            dropped_full: self.dropped_full.load(Relaxed),
            filtered: self.filtered.load(Relaxed),
            failed: self.failed.load(Relaxed),
            invalid_utf8: self.invalid_utf8.load(Relaxed),
            invalid_json: self.invalid_json.load(Relaxed),
            events: self.events.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            retries: self.retries.load(Relaxed),
            resent: self.resent.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            input_errors: self.input_errors.load(Relaxed),
            spool: self.spooling.then(|| self.spool_counts()),
        }
    }

    /// What is left in the spool is what came in and was not settled:
    /// sent, dropped, filtered, failed or lost.
    fn spool_counts(&self) -> SpoolCounts {
        let resumed = self.resumed.load(Relaxed);
        let corrupt = self.spool_corrupt.load(Relaxed);
        let settled = [
            &self.sent,
            &self.dropped,
            &self.filtered,
            &self.failed,
            &self.spool_corrupt,
        ]
        .iter()
        .map(|count| count.load(Relaxed))
        .sum::<u64>();
        SpoolCounts {
            resumed,
            corrupt,
            spooled: (resumed + self.read.load(Relaxed)).saturating_sub(settled),
        }
    }
}

/// Which line is being reported: the end of the run, or a periodic one.
#[derive(Debug, Clone, Copy)]
pub enum Report {
    Summary,
    Stats,
}

impl Summary {
    /// Prints the line on stderr (unless `-q`) in the chosen format.
    pub fn report(&self, kind: Report, format: StatsFormat) {
        let name = match kind {
            Report::Summary => "summary",
            Report::Stats => "stats",
        };
        match format {
            StatsFormat::Text => messages::notice!("{name}: {self}"),
            StatsFormat::Json => messages::emit_raw(Verbosity::Normal, &self.to_json(name)),
        }
    }

    /// One JSON object; the field names are a stable interface for scripts.
    fn to_json(self, kind: &str) -> String {
        let mut value = serde_json::json!({
            "type": kind,
            "read": self.read,
            "sent": self.sent,
            "dropped": self.dropped,
            "dropped_oversize": self.dropped.saturating_sub(self.dropped_full),
            "dropped_full": self.dropped_full,
            "filtered": self.filtered,
            "failed": self.failed,
            "invalid_utf8": self.invalid_utf8,
            "invalid_json": self.invalid_json,
            "events": self.events,
            "reconnects": self.reconnects,
            "retries": self.retries,
            "resent": self.resent,
            "bytes_sent": self.bytes_sent,
            "input_errors": self.input_errors,
        });
        if let Some(spool) = self.spool {
            value["resumed"] = spool.resumed.into();
            value["spool_corrupt"] = spool.corrupt.into();
            value["spooled"] = spool.spooled.into();
        }
        value.to_string()
    }
}

/// `key=value` pairs: readable, and easy to pick apart with `grep -o`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read={} sent={} dropped={} dropped_oversize={} dropped_full={} filtered={} failed={} invalid_utf8={} invalid_json={} reconnects={} retries={} resent={} bytes_sent={}",
            self.read,
            self.sent,
            self.dropped,
            self.dropped.saturating_sub(self.dropped_full),
            self.dropped_full,
            self.filtered,
            self.failed,
            self.invalid_utf8,
            self.invalid_json,
            self.reconnects,
            self.retries,
            self.resent,
            self.bytes_sent
        )?;
        if self.events != self.read {
            write!(f, " events={}", self.events)?;
        }
        if self.input_errors > 0 {
            write!(f, " input_errors={}", self.input_errors)?;
        }
        if let Some(spool) = self.spool {
            write!(
                f,
                " resumed={} spool_corrupt={} spooled={}",
                spool.resumed, spool.corrupt, spool.spooled
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_count_under_a_stable_name() {
        let summary = Summary {
            read: 9,
            sent: 5,
            dropped: 3,
            dropped_full: 1,
            filtered: 10,
            failed: 1,
            invalid_utf8: 2,
            invalid_json: 3,
            events: 7,
            reconnects: 4,
            retries: 6,
            resent: 8,
            bytes_sent: 700,
            input_errors: 0,
            spool: None,
        };
        let value: serde_json::Value = serde_json::from_str(&summary.to_json("summary")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"type": "summary", "read": 9, "sent": 5, "dropped": 3,
                "dropped_oversize": 2, "dropped_full": 1, "filtered": 10, "failed": 1,
                "invalid_utf8": 2, "invalid_json": 3, "events": 7, "reconnects": 4, "retries": 6, "resent": 8, "bytes_sent": 700,
                "input_errors": 0})
        );
        assert_eq!(
            summary.to_string(),
            "read=9 sent=5 dropped=3 dropped_oversize=2 dropped_full=1 filtered=10 failed=1 \
             invalid_utf8=2 invalid_json=3 reconnects=4 retries=6 resent=8 bytes_sent=700 events=7"
        );
    }

    #[test]
    fn a_chunk_counts_every_line_it_read_once_as_sent_dropped_or_filtered_to_come() {
        use crate::units::{Chunk, Mark};
        let mark = |lines_end| Mark {
            frame_end: 0,
            text_end: 0,
            input_end: 0,
            lines_end,
        };
        let stats = Stats::new(1, 1);
        // Three messages of 1, 4 and 2 lines; 5 lines dropped in 2 events;
        // 7 filtered in 3.
        let chunk = Chunk {
            marks: vec![mark(1), mark(5), mark(7)],
            oversize: 5,
            oversize_events: 2,
            filtered: 7,
            filtered_events: 3,
            invalid_utf8: 1,
            invalid_json: 2,
            ..Chunk::default()
        };
        stats.chunk(&chunk);
        stats.chunk(&Chunk::default());
        let summary = stats.summary();
        assert_eq!(
            (
                summary.read,
                summary.dropped,
                summary.filtered,
                summary.events
            ),
            (19, 5, 7, 8)
        );
        assert_eq!((summary.invalid_utf8, summary.invalid_json), (1, 2));
        assert_eq!((summary.sent, summary.failed), (0, 0));
    }
}
