//! The pipeline: reader → batcher → workers → sockets, one way only.
//!
//! The reader thread sends chunks of encoded lines over a small bounded
//! channel; the batcher (this thread) groups them by count and age and hands
//! batches to a bounded queue shared by the workers. Every queue is bounded,
//! so a slow server blocks the workers, then the batcher, then the reader, and
//! finally the upstream pipe: memory stays flat whatever the input rate.

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, Select, Sender, TrySendError};

use crate::config::{Config, WhenFull};
use crate::deliver::batch::Batcher;
use crate::deliver::worker::{Outage, Worker};
use crate::dry_run;
use crate::encode::frame::Masks;
use crate::encode::{Encoder, Framing};
use crate::input;
use crate::ping;
use crate::shutdown::{Cause, Shutdown};
use crate::stats::{Report, Stats, Summary};
use crate::ticker;
use crate::units::{Batch, Chunk};

/// Chunks (one per read, up to 64 KiB of input each) waiting for the batcher.
const CHUNKS_IN_FLIGHT: usize = 4;

pub struct Outcome {
    pub summary: Summary,
    /// Lines sent to each server.
    pub per_server: Vec<u64>,
    pub cause: Option<Cause>,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self.cause {
            Some(Cause::Signal) => 130,
            Some(Cause::Fatal) => 1,
            None if self.summary.failed > 0 || self.summary.input_errors > 0 => 1,
            None => 0,
        }
    }
}

pub fn run(config: &Config, shutdown: &Arc<Shutdown>) -> io::Result<Outcome> {
    let stats = Arc::new(Stats::new(config.endpoints.len()));
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded(CHUNKS_IN_FLIGHT);
    let framing = match config.dry_run {
        true => Framing::Lines,
        false => Framing::WebSocket(Box::new(Masks::new())),
    };
    // Not scoped: after a signal it may sit in a blocking read of stdin
    // forever, and the process must not wait for it.
    input::spawn(
        config.inputs.clone(),
        config.max_len,
        Encoder::new(config.format, &config.fields, framing),
        chunk_tx,
        Arc::clone(shutdown),
        Arc::clone(&stats),
    )?;

    let outage = Outage::new(config.endpoints.len());
    thread::scope(|scope| -> io::Result<()> {
        // Dropped when this closure returns, which stops the tickers before
        // the scope joins them.
        let (_stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let capacity = queue_capacity(config.workers.get(), config.batch_size.get());
        let (batch_tx, batch_rx) = crossbeam_channel::bounded::<Batch>(capacity);

        let mut ticks = Vec::new();
        let mut workers = Vec::new();
        if config.dry_run {
            let (batch_rx, stats) = (batch_rx.clone(), &*stats);
            workers.push(
                thread::Builder::new()
                    .name("dry-run".into())
                    .spawn_scoped(scope, move || dry_run::run(&batch_rx, stats, shutdown))?,
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
            let (stats, outage) = (&*stats, &outage);
            let worker = Worker::new(id, config, stats, shutdown, outage);
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

        batch_lines(config, &chunk_rx, &batch_tx, shutdown, &stats);
        drop(batch_tx);
        for worker in workers {
            let _ = worker.join();
        }
        Ok(())
    })?;

    Ok(Outcome {
        summary: stats.summary(),
        per_server: stats.per_server(),
        cause: shutdown.cause(),
    })
}

/// Lines that may wait for each worker, counted in whole batches.
const QUEUED_LINES_PER_WORKER: usize = 1024;

/// Batches the worker queue holds: about QUEUED_LINES_PER_WORKER lines per
/// worker, and at least one batch each. Counting lines rather than batches
/// lets small batches queue up, so that a busy worker takes the next one
/// without sleeping and the batcher hands over without waking it each time;
/// with one slot, `--batch-size 1` cost two context switches per line.
fn queue_capacity(workers: usize, batch_size: usize) -> usize {
    workers * (QUEUED_LINES_PER_WORKER / batch_size).max(1)
}

/// The batcher loop: until input ends or a shutdown begins.
fn batch_lines(
    config: &Config,
    chunks: &Receiver<Chunk>,
    batches: &Sender<Batch>,
    shutdown: &Shutdown,
    stats: &Stats,
) {
    let mut batcher = Batcher::new(config.batch_size.get(), config.flush_interval);
    let take = |chunk: Chunk, batcher: &mut Batcher| {
        stats.chunk(&chunk);
        batcher.push(&chunk.frames, &chunk.marks, Instant::now(), |batch| {
            dispatch(batch, batches, config, shutdown, stats)
        });
    };
    loop {
        let flush_at = match batcher.deadline() {
            Some(deadline) => crossbeam_channel::at(deadline),
            None => crossbeam_channel::never(),
        };
        crossbeam_channel::select! {
            recv(chunks) -> chunk => match chunk {
                Ok(chunk) => take(chunk, &mut batcher),
                Err(_) => break,
            },
            recv(flush_at) -> _ => {
                if let Some(batch) = batcher.take() {
                    dispatch(batch, batches, config, shutdown, stats);
                }
            }
            recv(shutdown.wake()) -> _ => {
                // Stop reading, but what was read before the signal is sent.
                while let Ok(chunk) = chunks.try_recv() {
                    take(chunk, &mut batcher);
                }
                break;
            }
        }
    }
    if let Some(batch) = batcher.take() {
        dispatch(batch, batches, config, shutdown, stats);
    }
}

/// Hands a batch to the workers, blocking while all are busy. During a
/// shutdown it waits no longer than the drain deadline; a batch that cannot
/// be handed over by then is counted as failed.
fn dispatch(
    batch: Batch,
    batches: &Sender<Batch>,
    config: &Config,
    shutdown: &Shutdown,
    stats: &Stats,
) {
    let stopping = shutdown.is_stopping();
    let batch = match stopping {
        true => batch,
        // A worker usually has room: setting up a select for every batch
        // cost more than the rest of batching with --batch-size 1.
        false => match batches.try_send(batch) {
            Ok(()) => return,
            Err(TrySendError::Disconnected(lost)) => return stats.failed(lost.lines()),
            // Reading must never stall: a batch no worker can take now is
            // dropped, and counted as such.
            Err(TrySendError::Full(full)) if config.when_full == WhenFull::Drop => {
                return stats.dropped_full(full.lines());
            }
            Err(TrySendError::Full(batch)) => batch,
        },
    };
    if !stopping {
        let mut select = Select::new();
        let send = select.send(batches);
        select.recv(shutdown.wake());
        let operation = select.select();
        if operation.index() == send {
            if let Err(lost) = operation.send(batches, batch) {
                stats.failed(lost.into_inner().lines());
            }
            return;
        }
        let _ = operation.recv(shutdown.wake());
    }
    let deadline = shutdown.deadline().unwrap_or_else(Instant::now);
    if let Err(lost) = batches.send_deadline(batch, deadline) {
        stats.failed(lost.into_inner().lines());
    }
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
