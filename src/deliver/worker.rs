//! A worker thread: takes batches from the shared queue and delivers each on
//! its own connection, reconnecting with backoff when the connection fails.
//!
//! The worker is the only owner of its socket. It waits on three things at
//! once: a batch, a tick from the ping thread, and an idle timer that lets it
//! read what the server sent while no batch is coming.
//!
//! A write carries the batches waiting in the queue when the worker gets to
//! them, up to the larger of `WRITE_MESSAGES` and --batch-size messages, with one
//! flush: batches never wait for each other, but a busy worker does not pay
//! a syscall, a Ping and a Pong for each small batch. With `--confirm pong`
//! the write ends with a Ping carrying its sequence number, and its batches
//! stay in a window of at most --max-in-flight unanswered Pings until the
//! matching Pong arrives: only then are they sent. When a connection dies,
//! every unconfirmed batch is written again on the next one, oldest first
//! and each with its own Ping (at least once; the `resent` count bounds the
//! duplicates), so that a server that closes after every N messages still
//! moves forward. Every line taken is counted once, as sent or as failed.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, select};

use crate::config::{Config, Confirm, Endpoint, RetryLimit};
use crate::deliver::Tally;
use crate::deliver::backoff::Backoff;
use crate::error::{Error, Stage};
use crate::messages;
use crate::net::connection::Connection;
use crate::shutdown::Shutdown;
use crate::units::Batch;

/// How often an idle worker reads what the server sent (pings, a Close).
const IDLE_SERVICE: Duration = Duration::from_secs(1);

/// Messages one write may gather from small batches: enough to spread a flush
/// and a Ping over many messages, few enough to keep what one lost connection
/// writes twice (the window) small.
const WRITE_MESSAGES: usize = 256;

/// Server outages as seen by all workers together, so that each is reported
/// once when it starts and once when it ends, not per worker or attempt.
pub struct Outage {
    since: Vec<Mutex<Option<Instant>>>,
}

impl Outage {
    pub fn new(servers: usize) -> Outage {
        Outage {
            since: (0..servers).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn failed(&self, server: usize, endpoint: &Endpoint, err: &Error, retrying: bool) {
        let mut since = self.since[server].lock().unwrap_or_else(|p| p.into_inner());
        if since.is_none() {
            *since = Some(Instant::now());
            let next = if retrying {
                "; retrying (-v shows each attempt)"
            } else {
                ""
            };
            messages::notice!("{endpoint}: {err}{next}");
        }
    }

    /// Since when attempts to reach `server` have failed, if they do.
    pub fn since(&self, server: usize) -> Option<Instant> {
        *self.since[server].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recovered(&self, server: usize, endpoint: &Endpoint) {
        let since = self.since[server]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(since) = since {
            let down = Duration::from_millis(since.elapsed().as_millis() as u64);
            messages::notice!(
                "{endpoint}: connected again after {}",
                humantime::format_duration(down)
            );
        }
    }
}

pub struct Worker<'a> {
    id: usize,
    config: &'a Config,
    tally: Tally<'a>,
    shutdown: &'a Shutdown,
    outage: &'a Outage,
    conn: Option<Connection<'a>>,
    /// Which of the servers this worker uses now.
    server: usize,
    /// Servers tried since the last delivery without a pause: a failing
    /// server hands over to the next at once, a pause comes after a round.
    tried: usize,
    connected_before: bool,
    backoff: Backoff,
    /// Set once a batch has used up its retries while the server is down:
    /// later batches fail at once instead of each waiting through its own
    /// retries, except for one attempt each time this instant passes.
    given_up: Option<GivenUp>,
    /// Taken from the queue, not yet written on the current connection.
    unsent: VecDeque<Pending>,
    /// Writes on the current connection waiting for their Pong, oldest first.
    window: VecDeque<InFlight>,
    next_sequence: u64,
    /// A keepalive Ping not yet answered.
    keepalive: Option<Instant>,
    /// Connections in a row whose Pings all went unanswered.
    silent_connections: u32,
    delivered_batches: u64,
}

struct GivenUp {
    next_attempt: Instant,
    lines: usize,
}

struct Pending {
    batch: Batch,
    /// Written once already, on a connection that died before confirming.
    resend: bool,
}

/// One write's batches and the Ping that will confirm them.
struct InFlight {
    sequence: u64,
    pinged: Instant,
    batches: Vec<Batch>,
}

/// How far `pump` goes before returning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Everything taken is written; confirmations may still be due.
    Written,
    /// Everything taken is confirmed (the end of the run).
    Confirmed,
}

impl<'a> Worker<'a> {
    pub fn new(
        id: usize,
        config: &'a Config,
        tally: Tally<'a>,
        shutdown: &'a Shutdown,
        outage: &'a Outage,
    ) -> Worker<'a> {
        Worker {
            id,
            config,
            tally,
            shutdown,
            outage,
            conn: None,
            server: id % config.endpoints.len(),
            tried: 0,
            connected_before: false,
            backoff: Backoff::new(config.backoff_init, config.backoff_max),
            given_up: None,
            unsent: VecDeque::new(),
            window: VecDeque::new(),
            next_sequence: 0,
            keepalive: None,
            silent_connections: 0,
            delivered_batches: 0,
        }
    }

    /// Runs until the queue is closed and empty and every batch is
    /// confirmed or failed, then closes the connection.
    pub fn run(mut self, batches: &Receiver<Batch>, ticks: &Receiver<()>) {
        loop {
            // A batch is usually waiting while lines flow: take it without
            // a select, whose registering and unregistering on the queue's
            // waker contended with the reader's hand-offs for a lock (a
            // sixth of the worker's context switches).
            match batches.try_recv() {
                Ok(batch) => {
                    if ticks.try_recv().is_ok() {
                        self.check(true);
                    }
                    self.take(batch, batches);
                    self.pump(Until::Written);
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            select! {
                recv(batches) -> batch => match batch {
                    Ok(batch) => {
                        self.take(batch, batches);
                        self.pump(Until::Written);
                    }
                    Err(_) => break,
                },
                recv(ticks) -> _ => self.check(true),
                default(IDLE_SERVICE) => self.check(false),
            }
        }
        self.pump(Until::Confirmed);
        self.tally.stats.gauges.link(self.id, self.server, false);
        if let Some(conn) = self.conn.take() {
            match conn.close() {
                Ok(()) => messages::info!("worker {}: closed", self.id),
                Err(err) => messages::info!("worker {}: closing: {err}", self.id),
            }
        }
    }

    /// Takes `batch` and whatever else is already queued, up to one write's
    /// worth, without waiting for more.
    fn take(&mut self, batch: Batch, batches: &Receiver<Batch>) {
        let mut messages = batch.messages();
        self.unsent.push_back(Pending {
            batch,
            resend: false,
        });
        while messages + self.config.batch_size.get() <= self.write_messages() {
            let Ok(batch) = batches.try_recv() else { break };
            messages += batch.messages();
            self.unsent.push_back(Pending {
                batch,
                resend: false,
            });
        }
    }

    /// The most messages one write gathers: a whole batch, however large.
    fn write_messages(&self) -> usize {
        self.config.batch_size.get().max(WRITE_MESSAGES)
    }

    /// Writes (and, with `Until::Confirmed`, confirms) what was taken,
    /// reconnecting with backoff; what cannot be delivered is counted failed.
    fn pump(&mut self, until: Until) {
        let nothing_due = match until {
            Until::Written => self.unsent.is_empty(),
            Until::Confirmed => self.unsent.is_empty() && self.window.is_empty(),
        };
        if nothing_due {
            return;
        }
        let mut retries = 0;
        loop {
            if self.shutdown.expired() {
                self.fail_pending();
                return;
            }
            if let Some(given_up) = &self.given_up {
                if Instant::now() < given_up.next_attempt {
                    self.fail_pending();
                    return;
                }
            }
            let progress = self.delivered_batches;
            let err = match self.attempt(until) {
                Ok(()) => return,
                Err(err) => err,
            };
            // A connection that confirmed something before it died was not
            // a failed attempt: the retry limit counts attempts in a row
            // that delivered nothing.
            if self.delivered_batches > progress {
                retries = 0;
            }
            self.requeue();
            if self.shutdown.expired() {
                self.fail_pending();
                return;
            }
            if err.is_fatal() {
                if self.shutdown.abort() {
                    messages::error!("{}: {err}", self.endpoint());
                }
                self.fail_pending();
                return;
            }
            let may_retry = self.tally.retry_on()
                || self.given_up.is_none()
                    && match self.config.retry_limit {
                        RetryLimit::Forever => true,
                        RetryLimit::Limited(limit) => retries < limit,
                    };
            self.outage
                .failed(self.server, self.endpoint(), &err, may_retry);
            let delay = self.backoff.next_delay();
            if !may_retry {
                return self.give_up(retries, &err, delay);
            }
            retries += 1;
            self.tally.stats.retry();
            let servers = self.config.endpoints.len();
            self.server = (self.server + 1) % servers;
            self.tried += 1;
            if self.tried < servers {
                messages::info!("worker {}: {err}; trying {} now", self.id, self.endpoint());
                continue;
            }
            self.tried = 0;
            messages::info!(
                "worker {}: {err}; retry {retries} of {} in {}",
                self.id,
                messages::count(self.pending_lines(), "line"),
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
            );
            self.shutdown.sleep(delay);
        }
    }

    /// One try on the current connection, or a new one.
    fn attempt(&mut self, until: Until) -> Result<(), Error> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.connect()?,
        };
        match self.write_and_confirm(&mut conn, until) {
            Ok(()) => {
                self.conn = Some(conn);
                Ok(())
            }
            Err(err) => {
                // A Pong read just before the Close that ended the
                // connection still confirms its batches.
                self.absorb(&conn);
                self.tally.stats.gauges.link(self.id, self.server, false);
                Err(self.judge(err, &conn))
            }
        }
    }

    fn write_and_confirm(&mut self, conn: &mut Connection<'a>, until: Until) -> Result<(), Error> {
        self.absorb(conn);
        while !self.unsent.is_empty() {
            self.make_room(conn)?;
            let count = self.next_write();
            let sequence = self.next_sequence;
            let confirm = (self.config.confirm == Confirm::Pong).then_some(sequence);
            // On failure everything stays unsent, to be written again whole.
            conn.send(self.unsent.iter().take(count).map(|p| &p.batch), confirm)?;
            let mut written = Vec::with_capacity(count);
            for pending in self.unsent.drain(..count) {
                if pending.resend {
                    self.tally.stats.resent(pending.batch.lines());
                }
                written.push(pending.batch);
            }
            match confirm {
                None => {
                    self.tally.stats.gauges.confirmed(self.server, None);
                    self.delivered(&written);
                }
                Some(_) => {
                    self.next_sequence += 1;
                    self.window.push_back(InFlight {
                        sequence,
                        pinged: Instant::now(),
                        batches: written,
                    });
                    self.publish_in_flight();
                }
            }
            self.absorb(conn);
        }
        if until == Until::Confirmed {
            while !self.window.is_empty() {
                self.await_oldest(conn)?;
            }
        }
        self.check_deadlines(conn)
    }

    /// How many of the unsent batches the next write takes: one that is
    /// written again goes alone, with its own Ping, so that its confirmation
    /// does not hang on the batches after it; new ones go together.
    fn next_write(&self) -> usize {
        let mut messages = 0;
        let fresh = self.unsent.iter().take_while(|pending| {
            messages += pending.batch.messages();
            !pending.resend && messages <= self.write_messages()
        });
        fresh.count().max(1)
    }

    /// Waits for confirmations while --max-in-flight Pings are unanswered.
    fn make_room(&mut self, conn: &mut Connection<'a>) -> Result<(), Error> {
        while self.window.len() >= self.config.max_in_flight.get() {
            self.await_oldest(conn)?;
        }
        Ok(())
    }

    /// Waits until the oldest unconfirmed batch is confirmed, or its Ping
    /// has gone unanswered for --ping-timeout.
    fn await_oldest(&mut self, conn: &mut Connection<'a>) -> Result<(), Error> {
        let Some(oldest) = self.window.front() else {
            return Ok(());
        };
        let (sequence, deadline) = (oldest.sequence, oldest.pinged + self.config.ping_timeout);
        loop {
            conn.service()?;
            self.absorb(conn);
            if self.window.front().is_none_or(|f| f.sequence != sequence) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(Stage::Ping));
            }
            conn.wait_for_server(deadline)?;
        }
    }

    /// Counts as sent every batch the connection's Pongs have confirmed.
    fn absorb(&mut self, conn: &Connection<'a>) {
        let pongs = conn.pongs();
        if pongs.answers > 0 {
            self.silent_connections = 0;
        }
        if !pongs.keepalive_waiting() {
            self.keepalive = None;
        }
        let Some(confirmed) = pongs.confirmed else {
            return;
        };
        while self.window.front().is_some_and(|f| f.sequence <= confirmed) {
            if let Some(done) = self.window.pop_front() {
                let took = done.pinged.elapsed();
                self.tally.stats.gauges.confirmed(self.server, Some(took));
                self.delivered(&done.batches);
            }
        }
        self.publish_in_flight();
    }

    /// A connection whose oldest Ping, confirming or keepalive, has gone
    /// unanswered for --ping-timeout is dead (measured from the Ping, not
    /// from the last Pong). With --confirm write, a server that has never
    /// answered a Ping on this connection is taken not to answer them at
    /// all, which is what that mode is for: its keepalives prove nothing.
    fn check_deadlines(&self, conn: &Connection<'a>) -> Result<(), Error> {
        let answers = self.config.confirm == Confirm::Pong || conn.pongs().answers > 0;
        let keepalive = self.keepalive.filter(|_| answers);
        let oldest = self
            .window
            .front()
            .map(|f| f.pinged)
            .into_iter()
            .chain(keepalive)
            .min();
        match oldest {
            Some(sent) if sent.elapsed() >= self.config.ping_timeout => {
                Err(Error::Timeout(Stage::Ping))
            }
            _ => Ok(()),
        }
    }

    /// A Ping timeout on a connection that never answered one, twice in a
    /// row, is more likely a server without Pings than a dead link: say so
    /// once rather than reconnect forever.
    fn judge(&mut self, err: Error, conn: &Connection<'a>) -> Error {
        if matches!(err, Error::Timeout(Stage::Ping)) && conn.pongs().answers == 0 {
            self.silent_connections += 1;
            if self.silent_connections >= 2 {
                return Error::NoPongs;
            }
        }
        err
    }

    /// The periodic look at an open connection: on a tick, also a keepalive
    /// Ping. A dead connection is dropped; what it had not confirmed is
    /// written again on a new one.
    fn check(&mut self, ping: bool) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let result = conn.service().and_then(|()| {
            self.absorb(&conn);
            self.check_deadlines(&conn)?;
            if ping && self.keepalive.is_none() {
                conn.ping()?;
                self.keepalive = Some(Instant::now());
            }
            Ok(())
        });
        match result {
            Ok(()) => self.conn = Some(conn),
            Err(err) => {
                self.absorb(&conn);
                self.tally.stats.gauges.link(self.id, self.server, false);
                let err = self.judge(err, &conn);
                messages::info!("worker {}: {err}", self.id);
                self.keepalive = None;
                self.requeue();
                if err.is_fatal() && self.shutdown.abort() {
                    messages::error!("{}: {err}", self.endpoint());
                }
                if !self.unsent.is_empty() {
                    self.pump(Until::Written);
                }
            }
        }
    }

    fn endpoint(&self) -> &'a Endpoint {
        &self.config.endpoints[self.server]
    }

    fn connect(&mut self) -> Result<Connection<'a>, Error> {
        let conn = Connection::open(self.id, self.config, self.endpoint(), self.shutdown)?;
        self.tally.stats.gauges.link(self.id, self.server, true);
        if std::mem::replace(&mut self.connected_before, true) {
            self.tally.stats.reconnect();
        }
        self.keepalive = None;
        messages::info!("worker {}: connected to {}", self.id, self.endpoint());
        Ok(conn)
    }

    /// The connection is gone: its unconfirmed batches go back, in order,
    /// ahead of what was never written.
    fn requeue(&mut self) {
        while let Some(in_flight) = self.window.pop_back() {
            for batch in in_flight.batches.into_iter().rev() {
                self.unsent.push_front(Pending {
                    batch,
                    resend: true,
                });
            }
        }
        self.publish_in_flight();
    }

    /// Tells the gauges how many batches wait for their Pong here.
    fn publish_in_flight(&self) {
        let batches = self.window.iter().map(|f| f.batches.len()).sum();
        self.tally.stats.gauges.in_flight(self.id, batches);
    }

    fn pending_lines(&self) -> usize {
        let unsent: usize = self.unsent.iter().map(|p| p.batch.lines()).sum();
        let window = self.window.iter().flat_map(|f| &f.batches);
        unsent + window.map(Batch::lines).sum::<usize>()
    }

    /// Counts everything taken and not confirmed as failed.
    fn fail_pending(&mut self) -> usize {
        let lines = self.pending_lines();
        let unsent = self.unsent.iter().map(|p| &p.batch);
        let window = self.window.iter().flat_map(|f| &f.batches);
        self.tally.failed(unsent.chain(window));
        self.unsent.clear();
        self.window.clear();
        self.publish_in_flight();
        if let Some(given_up) = &mut self.given_up {
            given_up.lines += lines;
        }
        lines
    }

    /// Counts the batches of one write as sent: once per write, not per
    /// batch, which with --batch-size 1 is once per line.
    fn delivered(&mut self, batches: &[Batch]) {
        self.delivered_batches += batches.len() as u64;
        self.tried = 0;
        self.tally.sent(self.server, batches.iter());
        self.backoff.reset();
        self.outage.recovered(self.server, self.endpoint());
        if let Some(given_up) = self.given_up.take() {
            messages::error!(
                "{}: {} failed while the server was unreachable",
                self.endpoint(),
                messages::count(given_up.lines, "line")
            );
        }
    }

    fn give_up(&mut self, retries: u32, err: &Error, delay: Duration) {
        let next_attempt = Instant::now() + delay;
        let first = self.given_up.is_none();
        if first {
            self.given_up = Some(GivenUp {
                next_attempt,
                lines: 0,
            });
        }
        let lines = self.fail_pending();
        if let Some(given_up) = &mut self.given_up {
            given_up.next_attempt = next_attempt;
        }
        match first {
            // Nothing is lost by stopping: the rest stays in the spool,
            // and reading it all only to fail each batch would be waste.
            true if self.tally.spool.is_some() => {
                if self.shutdown.abort() {
                    messages::error!(
                        "{}: {err} after {}; stopping: what is not confirmed stays in the spool",
                        self.endpoint(),
                        messages::count(retries as usize + 1, "attempt"),
                    );
                }
            }
            // "failed", as the summary counts them: "dropped" is for lines
            // a policy let go.
            true => messages::error!(
                "{}: {} failed after {}: {err}; until the server is back, later batches fail \
                 unless a retry succeeds",
                self.endpoint(),
                messages::count(lines, "line"),
                messages::count(retries as usize + 1, "attempt"),
            ),
            false => messages::info!(
                "worker {}: {err}; {} failed",
                self.id,
                messages::count(lines, "line")
            ),
        }
    }
}
