//! Delivery: batches formed by count and age (on the reader's thread),
//! handed to a pool of workers, each of which writes them on its own
//! connection, confirms them, and retries with backoff when the connection
//! fails.
//!
//! Every batch ends up settled once: sent, dropped by policy or failed.
//! `Tally` is the one place that settles it, in the counters and, when a
//! state file is kept, in the ledger of positions, so that neither can be
//! forgotten where the other is kept.

use std::time::Instant;

use crossbeam_channel::{Select, Sender, TrySendError};

use crate::config::WhenFull;
use crate::ledger::{Ledger, Outcome};
use crate::shutdown::Shutdown;
use crate::spool::Spool;
use crate::stats::Stats;
use crate::units::Batch;

pub mod backoff;
pub mod batch;
pub mod worker;

/// Where the fate of each batch is recorded.
#[derive(Clone, Copy)]
pub struct Tally<'a> {
    pub stats: &'a Stats,
    pub ledger: Option<&'a Ledger>,
    /// With --spool, what is not delivered stays in it.
    pub spool: Option<&'a Spool>,
}

impl Tally<'_> {
    /// Whether a worker should keep trying whatever --retry-limit says:
    /// with a spool, while standard input is open, lines wait on disk
    /// rather than fail. Once it ended, the limit says when to stop and
    /// leave the rest in the spool.
    pub fn retry_on(&self) -> bool {
        self.spool.is_some_and(|spool| !spool.intake_ended())
    }
}

impl Tally<'_> {
    /// The batches of one write, confirmed on `server`'s connection.
    pub fn sent<'b>(&self, server: usize, batches: impl Iterator<Item = &'b Batch> + Clone) {
        let lines = batches.clone().map(Batch::lines).sum();
        let bytes = batches.clone().map(Batch::bytes).sum();
        self.stats.sent(server, lines, bytes);
        self.settle(batches, Outcome::Done);
    }

    pub fn failed<'b>(&self, batches: impl Iterator<Item = &'b Batch> + Clone) {
        self.stats.failed(batches.clone().map(Batch::lines).sum());
        self.settle(batches, Outcome::Failed);
    }

    /// Dropped by --when-full drop: by policy, so its lines are passed.
    pub fn dropped_full(&self, batch: &Batch) {
        self.stats.dropped_full(batch.lines());
        self.settle(std::iter::once(batch), Outcome::Done);
    }

    fn settle<'b>(&self, batches: impl Iterator<Item = &'b Batch>, outcome: Outcome) {
        if let Some(ledger) = self.ledger {
            ledger.settle(batches.flat_map(Batch::entries), outcome);
        }
    }
}

/// The reader's end of the queue to the workers.
pub struct Handoff<'a> {
    pub batches: Sender<Batch>,
    pub when_full: WhenFull,
    pub shutdown: &'a Shutdown,
    pub tally: Tally<'a>,
}

impl Handoff<'_> {
    /// Hands a batch to the workers, blocking while all are busy. During a
    /// shutdown it waits no longer than the drain deadline; a batch that
    /// cannot be handed over by then is counted as failed.
    pub fn send(&self, mut batch: Batch) {
        if let Some(ledger) = self.tally.ledger {
            batch.set_entries(ledger.enter(batch.ends()));
        }
        let stopping = self.shutdown.is_stopping();
        let batch = match stopping {
            true => batch,
            // A worker usually has room: setting up a select for every
            // batch cost more than the rest of batching with --batch-size 1.
            false => match self.batches.try_send(batch) {
                Ok(()) => return,
                Err(TrySendError::Disconnected(lost)) => {
                    return self.tally.failed(std::iter::once(&lost));
                }
                // Reading must never stall: a batch no worker can take now
                // is dropped, and counted as such.
                Err(TrySendError::Full(full)) if self.when_full == WhenFull::Drop => {
                    return self.tally.dropped_full(&full);
                }
                Err(TrySendError::Full(batch)) => batch,
            },
        };
        if !stopping {
            // Waiting for a worker: what /health calls a stuck reader once
            // it lasts.
            let gauges = &self.tally.stats.gauges;
            gauges.reader_waiting(true);
            let mut select = Select::new();
            let send = select.send(&self.batches);
            select.recv(self.shutdown.wake());
            let operation = select.select();
            gauges.reader_waiting(false);
            if operation.index() == send {
                if let Err(lost) = operation.send(&self.batches, batch) {
                    self.tally.failed(std::iter::once(&lost.into_inner()));
                }
                return;
            }
            let _ = operation.recv(self.shutdown.wake());
        }
        let deadline = self.shutdown.deadline().unwrap_or_else(Instant::now);
        if let Err(lost) = self.batches.send_deadline(batch, deadline) {
            self.tally.failed(std::iter::once(&lost.into_inner()));
        }
    }
}
