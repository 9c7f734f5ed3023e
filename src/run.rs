//! The pipeline: reader (and batcher) → workers → sockets, one way only.
//!
//! The reader runs on this thread: it reads, encodes and batches, and hands
//! batches to a bounded queue shared by the workers. The queue is bounded,
//! and so is each worker's window, so a slow server blocks the workers, then
//! the reader, and finally the upstream pipe: memory stays flat whatever the
//! input rate. With --state, a thread writes the positions the workers'
//! confirmations move, about once a second and at the end.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::config::{Config, MessagePer, WhenFull};
use crate::deliver::worker::{Outage, Worker};
use crate::deliver::{Handoff, Tally};
use crate::dry_run;
use crate::encode::frame::Masks;
use crate::encode::{Encoder, Framing};
use crate::input;
use crate::input::state::{StateError, StateFile};
use crate::ledger::{FileId, Fingerprint, Ledger, Record, Saved};
use crate::messages;
use crate::metrics;
use crate::ping;
use crate::shutdown::{Cause, Shutdown};
use crate::spool::{self, Spool, intake};
use crate::stats::{Report, Stats, Summary};
use crate::ticker;
use crate::units::Batch;

pub struct Outcome {
    pub summary: Summary,
    /// Lines sent to each server.
    pub per_server: Vec<u64>,
    pub cause: Option<Cause>,
    /// False if the state file could not be written at the end.
    pub state_saved: bool,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self.cause {
            Some(Cause::Signal) => 130,
            Some(Cause::Fatal) => 1,
            None if self.summary.failed > 0
                || self.summary.input_errors > 0
                || self
                    .summary
                    .spool
                    .is_some_and(|spool| spool.spooled > 0 || spool.corrupt > 0)
                || !self.state_saved =>
            {
                1
            }
            None => 0,
        }
    }
}

pub fn run(config: &Config, shutdown: &Arc<Shutdown>) -> Result<Outcome, Error> {
    // Opened (and locked) before anything is read: a spool that cannot be
    // used stops the run.
    let spool = match &config.spool {
        Some(settings) => {
            Some(Spool::open(settings, config.dry_run, config.max_len + 1).map_err(Error::Spool)?)
        }
        None => None,
    };
    let stats = Stats::new(config.endpoints.len(), config.workers.get());
    let stats = match &spool {
        Some(spool) => stats.spooling(spool.resumed),
        None => stats,
    };
    let (state, saved) = match (&config.state, config.dry_run) {
        (None, _) => (None, Saved::default()),
        // --dry-run shows what the next run would send: it reads the state,
        // and writes nothing, neither the state nor its lock.
        (Some(path), true) => (None, StateFile::read(path).map_err(Error::State)?),
        (Some(path), false) => {
            let (file, saved) = StateFile::open(path).map_err(Error::State)?;
            (Some(file), saved)
        }
    };
    // Every file's record, with or without a state file; positions only
    // with one, or for the metrics.
    let ledger = Ledger::new();
    let positions = config.state.is_some() || config.metrics() || spool.is_some();
    for (record, phase) in saved.files {
        ledger.carry(record, phase);
    }
    ledger.keep_names(saved.names);
    // The spool's lines are numbered; its account's position is the first
    // line not yet confirmed.
    let spooled = spool.as_ref().map(|spool| {
        let account = ledger.open(Record {
            path: String::new(),
            id: FileId { dev: 0, ino: 0 },
            fingerprint: Fingerprint::of(b""),
            position: spool.start,
            generation: 0,
        });
        // Not a file: in no state and no file metrics.
        ledger.retire(account);
        (spool, account)
    });
    if let Err(err) = input::raise_open_files_limit() {
        messages::info!(
            "cannot raise the limit on open files: {}",
            messages::io_reason(&err)
        );
    }
    let plan = input::plan::plan(&config.inputs, &ledger);
    // Frames that depend on the connection (compressed, or a batch as one
    // message) are made by the worker that owns it; the others, by the
    // reader, straight into the chunk.
    let framing = match config.dry_run {
        true => Framing::Lines,
        false if config.compress.is_some() || config.message_per == MessagePer::Batch => {
            Framing::Sized
        }
        false => Framing::WebSocket(Box::new(Masks::new())),
    };
    let encoder = Encoder::new(config.format, &config.shape, framing);
    let tally = Tally {
        stats: &stats,
        ledger: positions.then_some(&ledger),
        spool: spool.as_ref(),
    };
    let keeper = state.as_ref().map(Keeper::new);
    // Bound before anything is read, so that a port taken stops the run.
    let listener = match &config.metrics_listen {
        Some(addr) => {
            let listener = metrics::http::bind(addr).map_err(|source| Error::Metrics {
                addr: addr.clone(),
                source,
            })?;
            // With port 0, the only way to learn the port.
            if let Ok(bound) = listener.local_addr() {
                messages::info!("metrics on http://{bound}/metrics, health on /health");
            }
            Some(listener)
        }
        None => None,
    };
    let metrics_file = config
        .metrics_file
        .as_deref()
        .map(|path| metrics::FileWriter {
            path,
            failing: Mutex::new(false),
        });

    let spool_keeper = spool.as_ref().map(SpoolKeeper::new);
    let mut spool_saved = true;
    let outage = Outage::new(config.endpoints.len());
    let capacity = queue_capacity(config.workers.get(), config.batch_size.get());
    let (batch_tx, batch_rx) = crossbeam_channel::bounded::<Batch>(capacity);
    // The metrics count what waits in the queue, through an end of their
    // own that never takes anything (held only for them: the reader learns
    // from the last end dropped that no worker is left).
    let sources = metrics::Sources {
        config,
        stats: &stats,
        ledger: &ledger,
        outage: &outage,
        queue: config.metrics().then(|| batch_rx.clone()),
        spool: spool.as_ref(),
    };
    thread::scope(|scope| -> io::Result<()> {
        // Dropped when this closure returns, which stops the tickers before
        // the scope joins them.
        let (_stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);

        let mut ticks = Vec::new();
        let mut workers = Vec::new();
        if config.dry_run {
            let batch_rx = batch_rx.clone();
            workers.push(
                thread::Builder::new()
                    .name("dry-run".into())
                    .spawn_scoped(scope, move || dry_run::run(&batch_rx, tally, shutdown))?,
            );
        }
        let connections = if config.dry_run {
            0
        } else {
            config.workers.get()
        };
        for id in 0..connections {
            let tick_rx = match config.ping_interval {
                Some(_) => {
                    let (tick_tx, tick_rx) = crossbeam_channel::bounded(1);
                    ticks.push(tick_tx);
                    tick_rx
                }
                None => crossbeam_channel::never(),
            };
            let batch_rx = batch_rx.clone();
            let outage = &outage;
            let worker = Worker::new(id, config, tally, shutdown, outage);
            workers.push(
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn_scoped(scope, move || worker.run(&batch_rx, &tick_rx))?,
            );
        }
        drop(batch_rx);

        if let (Some(interval), false) = (config.ping_interval, ticks.is_empty()) {
            let stop = stop_rx.clone();
            thread::Builder::new()
                .name("ping".into())
                .spawn_scoped(scope, move || ping::run(interval, &ticks, &stop))?;
        }
        if let Some(interval) = config.stats_interval {
            let (stop, stats) = (stop_rx.clone(), &stats);
            thread::Builder::new()
                .name("stats".into())
                .spawn_scoped(scope, move || {
                    ticker::every(interval, &stop, || {
                        stats.summary().report(Report::Stats, config.stats_format)
                    })
                })?;
        }
        if let Some((spool, account)) = spooled {
            if !config.dry_run {
                let stats = &stats;
                thread::Builder::new()
                    .name("intake".into())
                    .spawn_scoped(scope, move || {
                        intake::run(spool, config.max_len, config.when_full, stats, shutdown)
                    })?;
            } else {
                spool.end_intake();
            }
            let (stop, ledger) = (stop_rx.clone(), &ledger);
            let keeper = spool_keeper.as_ref().expect("kept with a spool");
            thread::Builder::new()
                .name("spool".into())
                .spawn_scoped(scope, move || {
                    ticker::every(spool_every(spool), &stop, || {
                        keeper.save(ledger.position(account));
                    })
                })?;
        }
        if let Some(keeper) = &keeper {
            let (stop, ledger) = (stop_rx.clone(), &ledger);
            thread::Builder::new()
                .name("state".into())
                .spawn_scoped(scope, move || {
                    ticker::every(STATE_EVERY, &stop, || {
                        keeper.save(ledger);
                    })
                })?;
        }

        if let Some(listener) = &listener {
            let (stop, sources) = (stop_rx.clone(), &sources);
            thread::Builder::new()
                .name("metrics".into())
                .spawn_scoped(scope, move || {
                    metrics::http::serve(listener, &stop, |path| answer(sources, path))
                })?;
        }
        if let Some(writer) = &metrics_file {
            let (stop, sources) = (stop_rx.clone(), &sources);
            let every = config.stats_interval.unwrap_or(metrics::FILE_EVERY);
            thread::Builder::new()
                .name("metrics-file".into())
                .spawn_scoped(scope, move || {
                    ticker::every(every, &stop, || writer.write(&sources.snapshot()))
                })?;
        }

        let handoff = Handoff {
            batches: batch_tx,
            // With a spool, --when-full is about the spool: what waits
            // for a worker waits on disk.
            when_full: match spool {
                Some(_) => WhenFull::Block,
                None => config.when_full,
            },
            shutdown,
            tally,
        };
        input::run(config, plan, encoder, handoff, &stats, &ledger, spooled);
        for worker in workers {
            let _ = worker.join();
        }
        // Before the last metrics, which show how full the spool is left.
        if let (Some((_, account)), Some(keeper)) = (spooled, &spool_keeper) {
            spool_saved = keeper.save(ledger.position(account));
        }
        if let Some(writer) = &metrics_file {
            writer.write(&sources.snapshot());
        }
        Ok(())
    })
    .map_err(Error::Threads)?;

    let mut state_saved = match &keeper {
        Some(keeper) => keeper.save(&ledger),
        None => true,
    };
    state_saved &= spool_saved;
    Ok(Outcome {
        summary: stats.summary(),
        per_server: stats.per_server(),
        cause: shutdown.cause(),
        state_saved,
    })
}

/// What --metrics-listen answers for `path`.
fn answer(sources: &metrics::Sources<'_>, path: &str) -> metrics::http::Response {
    match path {
        "/metrics" => metrics::http::Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics::render(&sources.snapshot()),
        },
        "/health" => match metrics::health(&sources.snapshot(), sources.config.ping_timeout) {
            Ok(line) => metrics::http::plain(200, &format!("{line}\n")),
            Err(why) => metrics::http::plain(503, &format!("{why}\n")),
        },
        _ => metrics::http::plain(404, "not found: try /metrics or /health\n"),
    }
}

/// How often the state file is written while positions move.
const STATE_EVERY: Duration = Duration::from_secs(1);

/// How often the spool's keeper looks: as often as the state's, or as
/// --spool-sync asks if that is more often, since it forces the spool to
/// disk.
fn spool_every(spool: &Spool) -> Duration {
    match spool.settings.sync {
        spool::Sync::Every(every) => every.min(STATE_EVERY),
        spool::Sync::Always => STATE_EVERY,
    }
}

/// Writes the state file for the thread that ticks and for the end of the
/// run, reporting a failure once, and its end once.
struct Keeper<'a> {
    file: &'a StateFile,
    failing: Mutex<bool>,
}

impl<'a> Keeper<'a> {
    fn new(file: &'a StateFile) -> Keeper<'a> {
        Keeper {
            file,
            failing: Mutex::new(false),
        }
    }

    /// Writes what moved since the last write; false if that failed.
    fn save(&self, ledger: &Ledger) -> bool {
        let Some(saved) = ledger.changes() else {
            return !*self.failing.lock().unwrap_or_else(|p| p.into_inner());
        };
        let result = self.file.write(&saved);
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match (&result, *failing) {
            (Err(err), false) => messages::error!(
                "--state {}: cannot write it: {}; the next run may send again what this one sent",
                self.file.path().display(),
                messages::io_reason(err)
            ),
            (Ok(()), true) => {
                messages::notice!("--state {}: written again", self.file.path().display())
            }
            _ => {}
        }
        if result.is_err() {
            // Whatever moved must be written next time.
            ledger.touch();
        }
        *failing = result.is_err();
        result.is_ok()
    }
}

/// Writes the spool's index for the thread that ticks and for the end of
/// the run, reporting a failure once, and its end once.
struct SpoolKeeper<'a> {
    spool: &'a Spool,
    failing: Mutex<bool>,
}

impl<'a> SpoolKeeper<'a> {
    fn new(spool: &'a Spool) -> SpoolKeeper<'a> {
        SpoolKeeper {
            spool,
            failing: Mutex::new(false),
        }
    }

    /// Records that every line before `confirmed` is confirmed; false if
    /// the index could not be written.
    fn save(&self, confirmed: u64) -> bool {
        let result = self
            .spool
            .confirm(confirmed)
            .and_then(|()| self.spool.sync());
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match (&result, *failing) {
            (Err(err), false) => messages::error!(
                "--spool {}: cannot write its index or force it to disk: {}; the next run may \
                 send again what this one sent, and a power loss may cost lines",
                self.spool.dir().display(),
                messages::io_reason(err)
            ),
            (Ok(()), true) => {
                messages::notice!(
                    "--spool {}: index written again",
                    self.spool.dir().display()
                )
            }
            _ => {}
        }
        *failing = result.is_err();
        result.is_ok()
    }
}

/// Why a run could not start.
#[derive(Debug)]
pub enum Error {
    State(StateError),
    Spool(spool::Error),
    Threads(io::Error),
    /// --metrics-listen could not be bound.
    Metrics {
        addr: String,
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::State(err) => err.fmt(f),
            Error::Spool(err) => err.fmt(f),
            Error::Metrics { addr, source } => write!(
                f,
                "--metrics-listen {addr}: cannot listen: {}",
                messages::io_reason(source)
            ),
            Error::Threads(err) => write!(f, "cannot start: {}", messages::io_reason(err)),
        }
    }
}

/// No `source()`: the Display says the cause already.
impl std::error::Error for Error {}

/// Lines that may wait for each worker, counted in whole batches.
const QUEUED_LINES_PER_WORKER: usize = 1024;

/// Batches the worker queue holds: about QUEUED_LINES_PER_WORKER lines per
/// worker, and at least one batch each. Counting lines rather than batches
/// lets small batches queue up, so that a busy worker takes the next one
/// without sleeping and the reader hands over without waking it each time;
/// with one slot, `--batch-size 1` cost two context switches per line.
fn queue_capacity(workers: usize, batch_size: usize) -> usize {
    workers * (QUEUED_LINES_PER_WORKER / batch_size).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_holds_about_a_thousand_lines_per_worker_and_a_batch_at_least() {
        assert_eq!(queue_capacity(1, 500), 2);
        assert_eq!(queue_capacity(4, 1), 4096);
        assert_eq!(queue_capacity(2, 5000), 2);
    }
}
