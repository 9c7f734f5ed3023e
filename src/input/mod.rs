//! Reading input: files and standard input, split into lines, encoded into
//! frames, batched, and handed to the workers.
//!
//! One thread, the reader, owns every input handle and runs one loop with
//! deadlines: the next read, the batch that must leave by --flush-interval,
//! the followed files due for a look, the next pattern scan. It never sleeps
//! blindly: when nothing is ready it waits in poll(2) on the streams being
//! read (standard input, pipes, FIFOs) and on the shutdown pipe, until the
//! earliest deadline.
//! Batching runs here too (`deliver::batch`, pure), so a read's lines go
//! from the buffer into frames and out in batches without crossing a
//! thread.
//!
//! Each read becomes one chunk (`chunk`), split into lines with a size cap
//! (`split`): a line is never held beyond `max_len` (+1 for a possible `\r`)
//! bytes, whatever its length. Without --follow the inputs are read in
//! order, each to its end (`cat`); with it, every file is read in turns and
//! watched (`follow`). With --state, every chunk says how far its file is
//! accounted for, each batch how far its lines reach, and the ledger turns
//! confirmations into positions (`state` writes them).

use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Instant, SystemTime};

use crate::config::{Config, StartAt};
use crate::deliver::Handoff;
use crate::deliver::batch::Batcher;
use crate::encode::Encoder;
use crate::ledger::{Fingerprint, Ledger, Record};
use crate::messages::{self, io_reason};
use crate::shutdown::Shutdown;
use crate::stats::Stats;

mod chunk;
mod follow;
mod multiline;
pub mod plan;
mod source;
mod split;
pub mod state;

use chunk::{Pending, Recycler};
use multiline::{Event, Multiline};
use plan::{Plan, Planned};
use source::Source;

const READ_BUFFER: usize = 64 * 1024;

/// Runs the reader on this thread until the input ends, or a shutdown
/// begins; what was read by then goes out in a last batch.
pub fn run(
    config: &Config,
    plan: Plan,
    encoder: Encoder,
    handoff: Handoff<'_>,
    stats: &Stats,
    ledger: Option<&Ledger>,
) {
    let mut reader = Reader {
        config,
        encoder,
        batcher: Batcher::new(config.batch_size.get(), config.flush_interval),
        chunks: Recycler::default(),
        buffer: vec![0; READ_BUFFER],
        shutdown: handoff.shutdown,
        handoff,
        stats,
        ledger,
        warned_oversize: false,
    };
    match config.follow {
        true => follow::Follower::new(plan).run(&mut reader),
        false => reader.read_in_order(plan.inputs),
    }
    reader.flush();
}

/// What reading one input came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// It may have more.
    More,
    /// It is at its end (for now, if it is followed).
    End,
    /// A shutdown began: stop reading.
    Stop,
}

/// How a file came to be opened, which decides where reading starts when
/// neither it nor the state says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opened {
    /// There when wsship started: --start-at applies.
    AtStart,
    /// Appeared later (created, rotated in): read from its beginning.
    Later,
}

pub struct Reader<'a> {
    config: &'a Config,
    encoder: Encoder,
    batcher: Batcher,
    chunks: Recycler,
    buffer: Vec<u8>,
    handoff: Handoff<'a>,
    shutdown: &'a Shutdown,
    stats: &'a Stats,
    ledger: Option<&'a Ledger>,
    warned_oversize: bool,
}

impl Reader<'_> {
    /// Without --follow: each input in turn, to its end, as `cat` does.
    fn read_in_order(&mut self, inputs: Vec<Planned>) {
        for input in inputs {
            let mut source = match input {
                Planned::Stdin => self.stdin(),
                Planned::File { path, .. } => match self.open(&path, Opened::AtStart) {
                    Ok(source) => source,
                    Err(err) => {
                        self.input_error(&path, &err);
                        continue;
                    }
                },
                Planned::Unmatched(pattern) => {
                    messages::error!("{pattern}: no file matches this pattern");
                    self.stats.input_error();
                    continue;
                }
            };
            let turn = loop {
                match self.read_turn(&mut source, usize::MAX, true) {
                    Ok(Turn::More) => {}
                    Ok(turn) => break turn,
                    Err(err) => {
                        self.input_error(&source.name, &err);
                        break Turn::End;
                    }
                }
            };
            // With a state, a last line without its newline is taken to be
            // still being written: the next run sends it whole. Either way,
            // what was read before a signal is sent.
            match self.ledger.is_none() || source.is_stream() {
                true => self.finish(&mut source),
                false => self.flush_event(&mut source),
            }
            if turn == Turn::Stop {
                return;
            }
        }
    }

    /// Reads up to `reads` times from `source`, handing on what it finds.
    /// With `wait`, a stream is waited for (its reads block) along with the
    /// batch's deadline and a shutdown, whichever comes first; without, the
    /// caller has seen it readable.
    fn read_turn(&mut self, source: &mut Source, reads: usize, wait: bool) -> io::Result<Turn> {
        for _ in 0..reads {
            if self.shutdown.is_stopping() {
                return Ok(Turn::Stop);
            }
            let now = Instant::now();
            self.flush_due(now);
            self.event_due(source, now);
            if wait && source.is_stream() {
                let deadline = earliest(self.batcher.deadline(), source.event_deadline());
                match self.wait(&[source.fd()], deadline) {
                    Wake::Input(_) => {}
                    Wake::Deadline => continue,
                    Wake::Shutdown => return Ok(Turn::Stop),
                }
            }
            let head = source.head.len();
            let n = source.read(&mut self.buffer)?;
            if n == 0 {
                return Ok(Turn::End);
            }
            if source.head.len() != head {
                if let (Some(ledger), Some(account)) = (self.ledger, source.account) {
                    ledger.set_fingerprint(account, Fingerprint::of(&source.head));
                }
            }
            self.take(source, n);
        }
        Ok(Turn::More)
    }

    /// Splits, encodes and batches the `n` bytes just read from `source`.
    fn take(&mut self, source: &mut Source, n: usize) {
        let read = SystemTime::now();
        self.encoder.set_time(read);
        let mut pending = Pending::with_capacity(n, &mut self.chunks);
        let encoder = &mut self.encoder;
        let data = &self.buffer[..n];
        match &mut source.multiline {
            None => source
                .splitter
                .feed(data, |piece, end| pending.add(piece, end, encoder)),
            Some(multiline) => {
                let now = Instant::now();
                let mut emit = |event: Event<'_>| pending.add_event(event, encoder);
                source.splitter.feed(data, |piece, end| {
                    multiline.push(piece, end, read, now, &mut emit)
                });
            }
        }
        self.hand_on(pending, source);
    }

    /// Ends `source` for good: a last line without a newline is a line,
    /// and a pending event is sent.
    fn finish(&mut self, source: &mut Source) {
        let mut pending = Pending::default();
        let encoder = &mut self.encoder;
        match &mut source.multiline {
            None => source
                .splitter
                .finish(|piece, end| pending.add(piece, end, encoder)),
            Some(multiline) => {
                let (read, now) = (SystemTime::now(), Instant::now());
                let mut emit = |event: Event<'_>| pending.add_event(event, encoder);
                source
                    .splitter
                    .finish(|piece, end| multiline.push(piece, end, read, now, &mut emit));
                multiline.flush(&mut emit);
            }
        }
        self.hand_on(pending, source);
    }

    /// Sends the pending event of `source`: its input ended (a line still
    /// being written stays where it is), or its --multiline-timeout passed.
    fn flush_event(&mut self, source: &mut Source) {
        let Some(multiline) = &mut source.multiline else {
            return;
        };
        let mut pending = Pending::default();
        let encoder = &mut self.encoder;
        multiline.flush(&mut |event| pending.add_event(event, encoder));
        self.hand_on(pending, source);
    }

    /// Sends the pending event of `source` if its timeout passed.
    fn event_due(&mut self, source: &mut Source, now: Instant) {
        if source
            .event_deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            self.flush_event(source);
        }
    }

    fn hand_on(&mut self, pending: Pending, source: &mut Source) {
        let accounted = source.accounted();
        if pending.is_empty() && (source.account.is_none() || accounted == source.passed) {
            return;
        }
        source.passed = accounted;
        let chunk = pending.finish(source.account, accounted);
        if chunk.oversize > 0 && !std::mem::replace(&mut self.warned_oversize, true) {
            messages::notice!(
                "dropping lines longer than --max-len ({} bytes); the summary counts them",
                self.config.max_len
            );
        }
        self.stats.chunk(&chunk);
        self.chunks.keep(&chunk.frames);
        let handoff = &self.handoff;
        let passed = self
            .batcher
            .push(&chunk, Instant::now(), |batch| handoff.send(batch));
        if let (Some(ledger), Some(end)) = (self.ledger, passed) {
            ledger.pass(end);
        }
    }

    /// Sends the open batch if its --flush-interval is over.
    fn flush_due(&mut self, now: Instant) {
        if self
            .batcher
            .deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let Some(batch) = self.batcher.take() {
            self.handoff.send(batch);
        }
    }

    /// Waits until one of `inputs` (streams) is readable, `deadline` passes
    /// or a shutdown begins.
    fn wait(&self, inputs: &[RawFd], deadline: Option<Instant>) -> Wake {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.shutdown.wake_fd())
            .chain(inputs.iter().copied())
            .map(pollfd)
            .collect();
        loop {
            let timeout = match deadline {
                None => -1,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            // SAFETY: `fds` holds fds.len() valid pollfds.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if fds[0].revents != 0 {
                return Wake::Shutdown;
            }
            // Readable, at its end or in error: a read will tell which (as
            // it will if poll itself failed).
            let readable: Vec<usize> = (1..fds.len())
                .filter(|&i| fds[i].revents != 0 || ready < 0)
                .map(|i| i - 1)
                .collect();
            return match readable.is_empty() {
                true => Wake::Deadline,
                false => Wake::Input(readable),
            };
        }
    }

    /// Standard input as a source.
    fn stdin(&self) -> Source {
        let mut source = Source::stdin(self.config.max_len);
        source.multiline = self.multiline(0);
        source
    }

    /// The events of an input read from `offset`, if lines join into events.
    fn multiline(&self, offset: u64) -> Option<Multiline> {
        let settings = self.config.multiline.clone()?;
        Some(Multiline::new(settings, self.config.max_len, offset))
    }

    /// Opens a file and decides where reading starts: where the state left
    /// it if the state knows the file, else its beginning (or, for a file
    /// there at start with --start-at end, the end of its last line).
    fn open(&mut self, path: &Path, opened: Opened) -> io::Result<Source> {
        let file = source::open(path)?;
        let metadata = file.metadata()?;
        if source::is_stream(&metadata) {
            messages::info!(
                "{}: not a regular file: read as it comes, with no position kept",
                path.display()
            );
            let mut source = Source::pipe(path.to_path_buf(), file, self.config.max_len);
            source.multiline = self.multiline(0);
            return Ok(source);
        }
        let id = source::file_id(&metadata);
        let fresh = match (opened, self.config.start_at) {
            (Opened::AtStart, StartAt::End) => source::last_line_start(&file, metadata.len()),
            _ => 0,
        };
        let mut start = fresh;
        let mut resumed = None;
        if let Some((account, record)) = self.ledger.and_then(|ledger| ledger.dormant(&id)) {
            let mut head = vec![0; record.fingerprint.len];
            let same = std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, 0).is_ok()
                && Fingerprint::of(&head) == record.fingerprint;
            let ledger = self.ledger.expect("a dormant record");
            if !same || metadata.len() < record.position {
                // Another file under a reused inode, or this one truncated
                // (and perhaps written again) since: its position means
                // nothing now.
                messages::notice!(
                    "{}: truncated or replaced since the last run; reading it from the start",
                    path.display()
                );
                ledger.retire(account);
                start = 0;
            } else {
                start = record.position;
                resumed = Some(account);
            }
        }
        let why = match (resumed, start) {
            (Some(_), _) => " (where the state left it)",
            (None, 0) => "",
            (None, _) => " (its end: --start-at end)",
        };
        messages::info!("{}: reading from byte {start}{why}", path.display());
        let mut source = Source::file(
            path.to_path_buf(),
            file,
            &metadata,
            start,
            self.config.max_len,
        )?;
        if let Some(ledger) = self.ledger {
            let name = source::absolute(path);
            source.account = Some(match resumed {
                Some(account) => {
                    ledger.wake(account, name);
                    // It may have grown past what the last fingerprint covered.
                    ledger.set_fingerprint(account, Fingerprint::of(&source.head));
                    account
                }
                None => ledger.open(Record {
                    path: name,
                    id,
                    fingerprint: Fingerprint::of(&source.head),
                    position: start,
                }),
            });
        }
        source.passed = start;
        source.multiline = self.multiline(start);
        Ok(source)
    }

    fn input_error(&self, name: &Path, err: &io::Error) {
        messages::error!("{}: {}", name.display(), io_reason(err));
        self.stats.input_error();
    }
}

/// The earlier of two deadlines, if any.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Why `Reader::wait` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wake {
    /// These inputs (their places in the list waited on) can be read.
    Input(Vec<usize>),
    Deadline,
    Shutdown,
}
