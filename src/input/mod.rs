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
//! watched (`follow`). Every file has a record in the ledger, whose life
//! `record` decides, with or without a state file. With --state, every
//! chunk also says how far its file is accounted for, each batch how far
//! its lines reach, and the ledger turns confirmations into positions
//! (`state` writes them).

use std::collections::HashSet;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Instant, SystemTime};

use crate::config::{Config, StartAt};
use crate::deliver::Handoff;
use crate::deliver::batch::Batcher;
use crate::encode::Encoder;
use crate::ledger::{Account, FINGERPRINT_MAX, Fingerprint, Ledger, Phase, Record};
use crate::messages::{self, io_reason};
use crate::shutdown::Shutdown;
use crate::spool::Spool;
use crate::stats::Stats;

mod chunk;
mod follow;
mod multiline;
pub mod plan;
mod record;
#[cfg(test)]
pub(crate) mod scratch;
mod source;
pub mod split;
mod spooled;
pub mod state;

use chunk::{Pending, Recycler};
use multiline::{Event, Multiline};
use plan::{Lost, Plan, Planned};
use record::{Likeness, Opened, Opening, Place, Seen, Start};
use source::Source;

pub use source::raise_open_files_limit;

const READ_BUFFER: usize = 64 * 1024;

/// Runs the reader on this thread until the input ends, or a shutdown
/// begins; what was read by then goes out in a last batch.
pub fn run(
    config: &Config,
    mut plan: Plan,
    encoder: Encoder,
    handoff: Handoff<'_>,
    stats: &Stats,
    ledger: &Ledger,
    spool: Option<(&Spool, Account)>,
) {
    let mut reader = Reader {
        config,
        encoder,
        batcher: Batcher::new(config.batch_size.get(), config.flush_interval),
        chunks: Recycler::default(),
        buffer: vec![0; READ_BUFFER],
        shutdown: handoff.shutdown,
        positions: handoff.tally.ledger.is_some(),
        handoff,
        stats,
        ledger,
        known_names: std::mem::take(&mut plan.known_names),
        warned_oversize: false,
    };
    for lost in std::mem::take(&mut plan.lost) {
        reader.lost(&lost);
    }
    match (spool, config.follow) {
        (Some((spool, account)), _) => reader.read_spool(spool, account),
        (None, true) => follow::Follower::new(plan).run(&mut reader),
        (None, false) => reader.read_in_order(plan.inputs),
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

pub struct Reader<'a> {
    config: &'a Config,
    encoder: Encoder,
    batcher: Batcher,
    chunks: Recycler,
    buffer: Vec<u8>,
    handoff: Handoff<'a>,
    shutdown: &'a Shutdown,
    stats: &'a Stats,
    /// Every file's record.
    ledger: &'a Ledger,
    /// Whether the ledger keeps positions (a state file is kept, or metrics
    /// show them): chunks then say how far each file's lines are accounted
    /// for.
    positions: bool,
    /// The names the last run's records had (see `record::open`).
    known_names: HashSet<String>,
    warned_oversize: bool,
}

impl Reader<'_> {
    /// Without --follow: each input in turn, to its end, as `cat` does.
    fn read_in_order(&mut self, inputs: Vec<Planned>) {
        for input in inputs {
            let mut source = match input {
                Planned::Stdin => self.stdin(),
                Planned::File { path, matched } => {
                    match self.open(&path, Opened::AtStart, !matched) {
                        Ok(source) => source,
                        Err(err) => {
                            self.input_error(&path, &err);
                            continue;
                        }
                    }
                }
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
            // still being written: the next run sends it whole, unless the
            // file is let go now. Either way, what was read before a signal
            // is sent.
            match self.close(&source) {
                Some(phase) => {
                    self.finish(&mut source);
                    self.set_phase(&source, phase);
                }
                None if self.config.state.is_none() || source.is_stream() => {
                    self.finish(&mut source)
                }
                None => self.flush_event(&mut source),
            }
            if turn == Turn::Stop {
                return;
            }
        }
    }

    /// The phase a file read to its end without --follow goes to, if it is
    /// let go: away from its name, and quiet for --rotate-wait by its
    /// modification time.
    fn close(&self, source: &Source) -> Option<Phase> {
        let account = source.account?;
        let metadata = source.metadata().ok()?;
        let modified = metadata.modified().ok()?;
        let quiet = SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default();
        let phase = self.ledger.phase(account);
        let wait = self.config.rotate_wait;
        let closed = record::closed(phase, quiet, wait, metadata.nlink() == 0, source.offset);
        (closed != phase).then_some(closed)
    }

    /// The phase of a file's record.
    fn phase(&self, source: &Source) -> Option<Phase> {
        source.account.map(|account| self.ledger.phase(account))
    }

    /// Whether the file at `path` is one let go, still as long as it was
    /// when let go: opening it would read nothing, and hold a descriptor
    /// for --rotate-wait to no end.
    fn let_go_unchanged(&self, path: &Path) -> bool {
        let Ok(metadata) = std::fs::metadata(path) else {
            return false;
        };
        let end = metadata.len();
        let records = self.ledger.closed_with_inode(metadata.ino());
        records.iter().any(|(_, record, phase)| {
            *phase == Phase::LetGo { end } && source::compare(record, path) == Some(Likeness::Same)
        })
    }

    fn set_phase(&self, source: &Source, phase: Phase) {
        if let Some(account) = source.account {
            self.ledger.set_phase(account, phase);
        }
    }

    /// Says that a recorded file could not be found, and counts it: the
    /// run's exit status shows it, as `cat`'s does for a file it cannot
    /// read.
    fn lost(&self, lost: &Lost) {
        messages::error!("{}", said_lost(lost));
        self.stats.input_error();
    }

    /// Reads up to `reads` times from `source`, handing on what it finds.
    /// With `wait`, a stream is waited for (its reads block) along with the
    /// batch's deadline and a shutdown, whichever comes first; without, the
    /// caller has seen it readable.
    fn read_turn(&mut self, source: &mut Source, reads: usize, wait: bool) -> io::Result<Turn> {
        let turn = self.read_and_hand_on(source, reads, wait);
        if self.config.metrics() {
            if let Some(account) = source.account {
                // Through the open handle: a rotated file is still this one.
                let size = source.metadata().map_or(source.offset, |m| m.len());
                self.ledger.observe(account, source.offset, size);
            }
        }
        turn
    }

    fn read_and_hand_on(
        &mut self,
        source: &mut Source,
        reads: usize,
        wait: bool,
    ) -> io::Result<Turn> {
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
                if let Some(account) = source.account {
                    self.ledger
                        .set_fingerprint(account, Fingerprint::of(&source.head));
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
        self.encoder.set_origin(source.origin());
        let mut pending = Pending::with_capacity(n, &mut self.chunks);
        let (encoder, filter) = (&mut self.encoder, &self.config.filter);
        let shaped = !filter.keeps_all() || encoder.places();
        let data = &self.buffer[..n];
        match &mut source.multiline {
            None if shaped => source.splitter.feed(data, |piece, end| {
                pending.add::<true>(piece, end, encoder, filter)
            }),
            None => source.splitter.feed(data, |piece, end| {
                pending.add::<false>(piece, end, encoder, filter)
            }),
            Some(multiline) => {
                let now = Instant::now();
                let mut emit = |event: Event<'_>| pending.add_event(event, encoder, filter);
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
        self.encoder.set_origin(source.origin());
        let (encoder, filter) = (&mut self.encoder, &self.config.filter);
        match &mut source.multiline {
            None => source
                .splitter
                .finish(|piece, end| pending.add::<true>(piece, end, encoder, filter)),
            Some(multiline) => {
                let (read, now) = (SystemTime::now(), Instant::now());
                let mut emit = |event: Event<'_>| pending.add_event(event, encoder, filter);
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
        if source.multiline.is_none() {
            return;
        }
        self.encoder.set_origin(source.origin());
        let Some(multiline) = &mut source.multiline else {
            return;
        };
        let mut pending = Pending::default();
        let (encoder, filter) = (&mut self.encoder, &self.config.filter);
        multiline.flush(&mut |event| pending.add_event(event, encoder, filter));
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
        let account = source.account.filter(|_| self.positions);
        if pending.is_empty() && (account.is_none() || accounted == source.passed) {
            return;
        }
        source.passed = accounted;
        let chunk = pending.finish(account, accounted);
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
        if let Some(end) = passed {
            self.ledger.pass(end);
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

    /// Opens a file and starts reading it where its record says
    /// (`record::open`): where the state or an earlier look left it if the
    /// file has a record, else its beginning (or, for a file there at start
    /// with --start-at end, at a name no record had, its last line).
    /// `named`: a FILE given on the command line (see `record::Place`).
    fn open(&mut self, path: &Path, opened: Opened, named: bool) -> io::Result<Source> {
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
        let name = source::absolute(path);
        let head = source::read_head(&file, FINGERPRINT_MAX)?;
        let seen = Seen {
            id: &id,
            head: &head,
            size: metadata.len(),
        };
        let records = self.ledger.closed_with_inode(id.ino);
        let Opening {
            start,
            phase,
            replaced,
        } = record::open(
            &records,
            seen,
            Place {
                name: &name,
                named,
                opened,
                known: self.known_names.contains(&name),
            },
            self.config.start_at == StartAt::End,
        );
        if let Some((account, phase)) = replaced {
            self.ledger.retire(account);
            if phase == Phase::Carried {
                messages::notice!(
                    "{}: truncated or replaced since the last run; reading it from the start",
                    path.display()
                );
            }
        }
        let (offset, inside_oversize, why) = match start {
            Start::Resume { position, .. } => (position, false, " (where its record left it)"),
            Start::Beginning => (0, false, ""),
            Start::End => {
                match source::last_line_start(&file, metadata.len(), self.config.max_len)? {
                    Some(offset) => (offset, false, " (its end: --start-at end)"),
                    None => (
                        metadata.len(),
                        true,
                        " (its end: --start-at end, within a line longer than --max-len)",
                    ),
                }
            }
        };
        messages::info!("{}: reading from byte {offset}{why}", path.display());
        let mut source = Source::file(
            path.to_path_buf(),
            file,
            &metadata,
            head,
            offset,
            self.config.max_len,
        )?;
        if inside_oversize {
            source.splitter = split::LineSplitter::inside_oversize(self.config.max_len, offset);
        }
        let fingerprint = Fingerprint::of(&source.head);
        // The name the file had when first opened, even in a run before;
        // and for a new file on an inode that had others, a generation
        // of its own.
        (source.path, source.generation) = match start {
            Start::Resume { account, .. } => records
                .iter()
                .find(|(of, _, _)| *of == account)
                .map_or((name.clone(), 0), |(_, record, _)| {
                    (record.path.clone(), record.generation)
                }),
            Start::Beginning | Start::End => (name.clone(), self.ledger.next_generation(id.ino)),
        };
        source.account = Some(match start {
            Start::Resume { account, .. } => {
                self.ledger.reopen(account, id);
                self.ledger.set_phase(account, phase);
                // It may have grown past what the last fingerprint covered.
                self.ledger.set_fingerprint(account, fingerprint);
                account
            }
            Start::Beginning | Start::End => self.ledger.open(Record {
                path: name,
                id,
                fingerprint,
                position: offset,
                generation: source.generation,
            }),
        });
        source.passed = offset;
        source.multiline = self.multiline(offset);
        Ok(source)
    }

    fn input_error(&self, name: &Path, err: &io::Error) {
        messages::error!("{}: {}", name.display(), io_reason(err));
        self.stats.input_error();
    }
}

/// What is said of a recorded file that is lost: which, how, and what of
/// it could not be sent.
fn said_lost(lost: &Lost) -> String {
    let what = match lost.unsent {
        Some(bytes) => format!(
            "the {} it held after byte {} {} never sent",
            messages::count(bytes as usize, "byte"),
            lost.position,
            if bytes == 1 { "was" } else { "were" }
        ),
        None => format!(
            "lines written to it after byte {} could not be sent",
            lost.position
        ),
    };
    match lost.replaced {
        true => format!(
            "{}: truncated or replaced since the last run (a new file on its inode): {what}; \
             reading it from the start",
            lost.path
        ),
        false => format!(
            "{}: gone since the last run (deleted, or rotated and then compressed or moved out \
             of its directory): {what}",
            lost.path
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earlier_deadline_or_the_only_one() {
        let now = Instant::now();
        let later = now + Duration::from_millis(5);
        assert_eq!(earliest(Some(now), Some(later)), Some(now));
        assert_eq!(earliest(Some(later), Some(now)), Some(now));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(later), None), Some(later));
        assert_eq!(earliest(None, None), None);
    }

    #[test]
    fn a_lost_file_is_named_with_what_could_not_be_sent() {
        let lost = |unsent, replaced| Lost {
            path: "/var/log/app.log".into(),
            position: 3091,
            unsent,
            replaced,
        };
        assert_eq!(
            said_lost(&lost(None, false)),
            "/var/log/app.log: gone since the last run (deleted, or rotated and then compressed \
             or moved out of its directory): lines written to it after byte 3091 could not be \
             sent"
        );
        assert_eq!(
            said_lost(&lost(Some(1), false)),
            "/var/log/app.log: gone since the last run (deleted, or rotated and then compressed \
             or moved out of its directory): the 1 byte it held after byte 3091 was never sent"
        );
        assert_eq!(
            said_lost(&lost(Some(120), true)),
            "/var/log/app.log: truncated or replaced since the last run (a new file on its \
             inode): the 120 bytes it held after byte 3091 were never sent; reading it from the \
             start"
        );
    }
}
