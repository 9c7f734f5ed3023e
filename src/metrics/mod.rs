//! --metrics-listen and --metrics-file: what a service manager and a
//! monitoring system ask of a long run. Is it connected, how far behind is
//! each file, is it losing or retrying anything.
//!
//! A snapshot is taken from the counters (`stats`), the gauges the workers
//! and the reader keep (`gauges`), the ledger's open files and the queue,
//! and rendered (`exposition`) in Prometheus' text format 0.0.4. Nothing on
//! the pipeline's path waits for it: the counters are atomics, the ledger's
//! lock is the one the workers already take once per write. `http` serves
//! it on a thread of its own, one request at a time; `write_file` replaces
//! a file whole.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::config::Config;
use crate::deliver::worker::Outage;
use crate::gauges::Histogram;
use crate::ledger::{FileGauge, Ledger};
use crate::spool::Spool;
use crate::stats::{Stats, Summary};
use crate::units::Batch;

mod exposition;
pub mod http;

pub use exposition::render;

/// Everything the metrics show, at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub summary: Summary,
    pub servers: Vec<ServerView>,
    pub files: Vec<FileGauge>,
    /// Batches waiting for a worker, and written but not yet confirmed.
    pub queue: usize,
    pub in_flight: u64,
    /// How long the reader has been waiting for a worker to take a batch.
    pub reader_wait: Option<Duration>,
    /// With --spool.
    pub spool: Option<SpoolView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolView {
    /// Lines in it not confirmed, as its index last said.
    pub lines: u64,
    /// What its segments take on disk, and the most they may.
    pub bytes: u64,
    pub max_bytes: u64,
    /// Lines lost to damage.
    pub corrupt: u64,
}

#[derive(Debug, Clone)]
pub struct ServerView {
    /// Scheme, host and port: never credentials, path or query.
    pub label: String,
    pub connected: bool,
    pub confirm: Histogram,
    pub last_confirm: Option<f64>,
    /// How long attempts to reach it have failed, if they do.
    pub failing_for: Option<Duration>,
}

/// Where a snapshot is taken from.
pub struct Sources<'a> {
    pub config: &'a Config,
    pub stats: &'a Stats,
    pub ledger: &'a Ledger,
    pub outage: &'a Outage,
    /// The workers' queue, only to count what waits in it.
    pub queue: Option<Receiver<Batch>>,
    pub spool: Option<&'a Spool>,
}

impl Sources<'_> {
    pub fn snapshot(&self) -> Snapshot {
        let gauges = &self.stats.gauges;
        let servers = self.config.endpoints.iter().enumerate();
        let servers = servers.map(|(i, endpoint)| ServerView {
            label: endpoint.label(),
            connected: gauges.connected(i),
            confirm: gauges.confirm_times(i),
            last_confirm: gauges.last_confirm(i),
            failing_for: self.outage.since(i).map(|since| since.elapsed()),
        });
        Snapshot {
            // The counters last, so that none shows a line the summary
            // has not counted yet.
            servers: servers.collect(),
            files: self.ledger.open_files(),
            queue: self.queue.as_ref().map_or(0, Receiver::len),
            in_flight: gauges.in_flight_total(),
            reader_wait: gauges.reader_wait(),
            spool: self.spool.map(|spool| {
                let (lines, bytes) = spool.gauge();
                SpoolView {
                    lines,
                    bytes,
                    max_bytes: spool.settings.max_size,
                    corrupt: spool.corrupt(),
                }
            }),
            summary: self.stats.summary(),
        }
    }
}

/// What /health answers: `Ok` with a line to say, or `Err` with the reason
/// it is unhealthy. A server is unhealthy when it has no open connection
/// and attempts to reach it have failed for --ping-timeout; the reader,
/// when it has waited that long for a worker to take a batch.
pub fn health(snapshot: &Snapshot, ping_timeout: Duration) -> Result<String, String> {
    let seconds = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
    for server in &snapshot.servers {
        if let Some(failing) = server.failing_for.filter(|_| !server.connected) {
            if failing >= ping_timeout {
                return Err(format!(
                    "{}: no connection for {}",
                    server.label,
                    seconds(failing)
                ));
            }
        }
    }
    if let Some(wait) = snapshot.reader_wait.filter(|&w| w >= ping_timeout) {
        return Err(format!(
            "reader: waiting {} for a worker to take a batch",
            seconds(wait)
        ));
    }
    let connected = snapshot.servers.iter().filter(|s| s.connected).count();
    Ok(format!(
        "ok: {connected} of {} servers connected",
        snapshot.servers.len()
    ))
}

/// Replaces `path` with `text` whole: written to a temporary file beside
/// it, then renamed over it, so that a reader never sees half of it.
pub fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = std::path::PathBuf::from(temporary);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(err) => {
            let _ = std::fs::remove_file(&temporary);
            Err(err)
        }
    }
}

/// How often --metrics-file is written without --stats-interval.
pub const FILE_EVERY: Duration = Duration::from_secs(10);

/// Keeps --metrics-file written, saying once when writing fails and once
/// when it works again.
pub struct FileWriter<'a> {
    pub path: &'a Path,
    pub failing: std::sync::Mutex<bool>,
}

impl FileWriter<'_> {
    pub fn write(&self, snapshot: &Snapshot) {
        let result = write_file(self.path, &render(snapshot));
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match (&result, *failing) {
            (Err(err), false) => crate::messages::error!(
                "--metrics-file {}: cannot write it: {}",
                self.path.display(),
                crate::messages::io_reason(err)
            ),
            (Ok(()), true) => {
                crate::messages::notice!("--metrics-file {}: written again", self.path.display())
            }
            _ => {}
        }
        *failing = result.is_err();
    }
}

/// A moment to compare with, for tests of `health`.
#[cfg(test)]
fn view(label: &str, connected: bool, failing_for: Option<Duration>) -> ServerView {
    ServerView {
        label: label.into(),
        connected,
        confirm: crate::gauges::Gauges::new(1, 1).confirm_times(0),
        last_confirm: None,
        failing_for,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(servers: Vec<ServerView>, reader_wait: Option<Duration>) -> Snapshot {
        Snapshot {
            summary: Stats::new(1, 1).summary(),
            servers,
            files: Vec::new(),
            queue: 0,
            in_flight: 0,
            reader_wait,
            spool: None,
        }
    }

    #[test]
    fn healthy_until_a_server_has_failed_or_the_reader_waited_for_the_ping_timeout() {
        let timeout = Duration::from_secs(30);
        let secs = Duration::from_secs;
        let ok = |servers, wait| health(&snapshot(servers, wait), timeout);
        assert_eq!(
            ok(
                vec![view("ws://a:1", true, None), view("ws://b:2", false, None)],
                None
            ),
            Ok("ok: 1 of 2 servers connected".into())
        );
        // Failing, but not for long yet; or connected again by another worker.
        assert!(ok(vec![view("ws://a:1", false, Some(secs(29)))], None).is_ok());
        assert!(ok(vec![view("ws://a:1", true, Some(secs(90)))], None).is_ok());
        assert_eq!(
            ok(
                vec![view("ws://a:1", false, Some(Duration::from_millis(30_500)))],
                None
            ),
            Err("ws://a:1: no connection for 30s".into())
        );
        assert!(ok(vec![view("ws://a:1", true, None)], Some(secs(29))).is_ok());
        assert_eq!(
            ok(vec![view("ws://a:1", true, None)], Some(secs(31))),
            Err("reader: waiting 31s for a worker to take a batch".into())
        );
    }

    #[test]
    fn the_metrics_file_holds_the_last_snapshot_and_knows_when_it_fails() {
        let dir = std::env::temp_dir().join(format!("wsship-metrics-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("wsship.prom");
        let snapshot = snapshot(vec![view("ws://a:1", true, None)], None);
        let writer = FileWriter {
            path: &good,
            failing: std::sync::Mutex::new(false),
        };
        writer.write(&snapshot);
        assert_eq!(std::fs::read_to_string(&good).unwrap(), render(&snapshot));
        assert!(!*writer.failing.lock().unwrap());
        let bad = dir.join("missing").join("wsship.prom");
        let writer = FileWriter {
            path: &bad,
            failing: std::sync::Mutex::new(false),
        };
        writer.write(&snapshot);
        assert!(*writer.failing.lock().unwrap());
        std::fs::create_dir(dir.join("missing")).unwrap();
        writer.write(&snapshot);
        assert!(!*writer.failing.lock().unwrap());
        assert!(bad.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = std::env::temp_dir().join(format!("wsship-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wsship.prom");
        write_file(&path, "a 1\n").unwrap();
        write_file(&path, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["wsship.prom"]);
        assert!(write_file(&dir.join("missing/x.prom"), "a 1\n").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
