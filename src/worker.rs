//! A worker thread: takes batches from the shared queue and delivers each on
//! its own connection, reconnecting with backoff when the connection fails.
//!
//! The worker is the only owner of its socket. It waits on three things at
//! once: a batch, a tick from the ping thread, and an idle timer that lets it
//! read what the server sent while no batch is coming. Every line it takes is
//! counted once, as sent or as failed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::backoff::Backoff;
use crate::batch::Batch;
use crate::cli::RetryLimit;
use crate::config::Config;
use crate::connection::Connection;
use crate::error::Error;
use crate::messages;
use crate::shutdown::Shutdown;
use crate::stats::Stats;

/// How often an idle worker reads what the server sent (pings, a Close).
const IDLE_SERVICE: Duration = Duration::from_secs(1);

/// A server outage as seen by all workers together, so that it is reported
/// once when it starts and once when it ends, not per worker or per attempt.
#[derive(Default)]
pub struct Outage {
    since: Mutex<Option<Instant>>,
}

impl Outage {
    fn failed(&self, config: &Config, err: &Error, retrying: bool) {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        if since.is_none() {
            *since = Some(Instant::now());
            let next = if retrying {
                "; retrying (-v shows each attempt)"
            } else {
                ""
            };
            messages::notice!("{}: {err}{next}", config.endpoint);
        }
    }

    fn recovered(&self, config: &Config) {
        let since = self.since.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(since) = since {
            let down = Duration::from_millis(since.elapsed().as_millis() as u64);
            messages::notice!(
                "{}: connected again after {}",
                config.endpoint,
                humantime::format_duration(down)
            );
        }
    }
}

pub struct Worker<'a> {
    id: usize,
    config: &'a Config,
    stats: &'a Stats,
    shutdown: &'a Shutdown,
    outage: &'a Outage,
    conn: Option<Connection<'a>>,
    connected_before: bool,
    backoff: Backoff,
    /// Set once a batch has used up its retries while the server is down:
    /// later batches fail at once instead of each waiting through its own
    /// retries, except for one attempt each time this instant passes.
    given_up: Option<GivenUp>,
}

struct GivenUp {
    next_attempt: Instant,
    lines: usize,
}

impl<'a> Worker<'a> {
    pub fn new(
        id: usize,
        config: &'a Config,
        stats: &'a Stats,
        shutdown: &'a Shutdown,
        outage: &'a Outage,
    ) -> Worker<'a> {
        Worker {
            id,
            config,
            stats,
            shutdown,
            outage,
            conn: None,
            connected_before: false,
            backoff: Backoff::new(config.backoff_init, config.backoff_max),
            given_up: None,
        }
    }

    /// Runs until the queue is closed and empty, then closes the connection.
    pub fn run(mut self, batches: &Receiver<Batch>, ticks: &Receiver<()>) {
        loop {
            select! {
                recv(batches) -> batch => match batch {
                    Ok(batch) => self.deliver(batch),
                    Err(_) => break,
                },
                recv(ticks) -> _ => self.on_connection(Connection::ping),
                default(IDLE_SERVICE) => self.on_connection(Connection::service),
            }
        }
        if let Some(conn) = self.conn.take() {
            match conn.close() {
                Ok(()) => messages::info!("worker {}: closed", self.id),
                Err(err) => messages::info!("worker {}: closing: {err}", self.id),
            }
        }
    }

    /// Delivers one batch, retrying on new connections, or counts it failed.
    fn deliver(&mut self, batch: Batch) {
        let lines = batch.lines();
        let mut retries = 0;
        loop {
            if self.shutdown.expired() {
                self.stats.failed(lines);
                return;
            }
            if let Some(given_up) = &mut self.given_up {
                if Instant::now() < given_up.next_attempt {
                    given_up.lines += lines;
                    self.stats.failed(lines);
                    return;
                }
            }
            let err = match self.attempt(&batch) {
                Ok(()) => return self.delivered(&batch),
                Err(err) => err,
            };
            if self.shutdown.expired() {
                self.stats.failed(lines);
                return;
            }
            if err.is_fatal() {
                if self.shutdown.abort() {
                    messages::error!("{}: {err}", self.config.endpoint);
                }
                self.stats.failed(lines);
                return;
            }
            let delay = self.backoff.next_delay();
            let may_retry = self.given_up.is_none()
                && match self.config.retry_limit {
                    RetryLimit::Forever => true,
                    RetryLimit::Limited(limit) => retries < limit,
                };
            self.outage.failed(self.config, &err, may_retry);
            if !may_retry {
                self.give_up(lines, retries, &err, delay);
                return;
            }
            retries += 1;
            self.stats.retry();
            messages::info!(
                "worker {}: {err}; retry {retries} of a batch of {lines} lines in {}",
                self.id,
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
            );
            self.shutdown.sleep(delay);
        }
    }

    fn attempt(&mut self, batch: &Batch) -> Result<(), Error> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.connect()?,
        };
        conn.send(&batch.messages)?;
        self.conn = Some(conn);
        Ok(())
    }

    fn connect(&mut self) -> Result<Connection<'a>, Error> {
        let config = self.config;
        let conn = Connection::open(config, self.shutdown)?;
        if std::mem::replace(&mut self.connected_before, true) {
            self.stats.reconnect();
        }
        messages::info!("worker {}: connected to {}", self.id, config.endpoint);
        Ok(conn)
    }

    fn delivered(&mut self, batch: &Batch) {
        self.stats.sent(batch.lines(), batch.bytes());
        self.backoff.reset();
        self.outage.recovered(self.config);
        if let Some(given_up) = self.given_up.take() {
            messages::error!(
                "{}: {} lines failed while the server was unreachable",
                self.config.endpoint,
                given_up.lines
            );
        }
    }

    fn give_up(&mut self, lines: usize, retries: u32, err: &Error, delay: Duration) {
        self.stats.failed(lines);
        let next_attempt = Instant::now() + delay;
        match &mut self.given_up {
            Some(given_up) => {
                given_up.lines += lines;
                given_up.next_attempt = next_attempt;
                messages::info!("worker {}: {err}; batch of {lines} lines failed", self.id);
            }
            None => {
                messages::error!(
                    "{}: dropped a batch of {lines} lines after {} attempts: {err}; \
                     until the server is back, later batches fail unless a retry succeeds",
                    self.config.endpoint,
                    retries + 1
                );
                self.given_up = Some(GivenUp {
                    next_attempt,
                    lines,
                });
            }
        }
    }

    /// Runs a ping or an idle read on the open connection, if there is one;
    /// a failure just drops it, and the next batch reconnects.
    fn on_connection(&mut self, action: fn(&mut Connection<'a>) -> Result<(), Error>) {
        if let Some(mut conn) = self.conn.take() {
            match action(&mut conn) {
                Ok(()) => self.conn = Some(conn),
                Err(err) => messages::info!("worker {}: {err}", self.id),
            }
        }
    }
}
