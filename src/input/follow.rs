//! `--follow`: files read as they grow, across rotation, truncation and
//! deletion, as `tail -F` does, on the reader thread's loop.
//!
//! At start the files are read in order, each to its end (as without
//! --follow); from then on every file with new data gets a turn of up to
//! `TURN_READS` reads in each round, so that a busy file never holds up a
//! quiet one. A file at its end is looked at again after `IDLE_MIN`, then
//! less and less often up to `IDLE_MAX` while it stays quiet: one fstat(2)
//! for growth or truncation, one stat(2) of its name for rotation.
//!
//! - Growth: read on.
//! - Truncation (shorter than what was read, or first bytes changed, which
//!   also catches a file refilled past the old position unseen): said once,
//!   read again from the start.
//! - Rotation (the name now holds another file): the open handle was read
//!   to its end first; the new file is opened and read from its start. The
//!   old one stays open, and is read if it grows (a writer that has not
//!   reopened yet), until it has been quiet for `RELEASE_AFTER`.
//! - Deletion: the same for the handle; the name is watched until a file
//!   appears there again. A name that is missing at start is waited for
//!   too, reported once. A name a pattern matched is forgotten instead: the
//!   next scan finds it again if it comes back.
//! - Patterns are matched again every --scan-interval; a file found under a
//!   new name that is already open (a rotated file) is not read twice.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::plan::{self, Plan, Planned};
use super::source::{self, Source};
use super::{Opened, Reader, Turn, Wake};
use crate::ledger::{Fingerprint, Record};
use crate::messages;

/// The first look at a file found at its end.
pub const IDLE_MIN: Duration = Duration::from_millis(1);
/// The longest wait between looks at a quiet file: bounds the delay of a
/// line appended to a file that has been quiet for a while.
pub const IDLE_MAX: Duration = Duration::from_millis(250);
/// How long a rotated or deleted file stays open once quiet, for a writer
/// that has not yet moved to the new file.
const RELEASE_AFTER: Duration = Duration::from_secs(60);
/// Reads one file gets before the others have their turn (4 MiB).
const TURN_READS: usize = 64;

pub struct Follower {
    /// Open files: each at its name, or detached from it.
    sources: Vec<Source>,
    /// Standard input and the FILEs that are not regular files: read when
    /// readable, to their end, and not followed past it.
    streams: Vec<Source>,
    /// Names without a file open at them now.
    missing: Vec<Missing>,
    patterns: Vec<String>,
    next_scan: Instant,
    /// What to open at start.
    start: Vec<Planned>,
}

struct Missing {
    path: PathBuf,
    next_check: Instant,
}

/// What a look at a quiet file found.
enum Found {
    Nothing,
    Grew,
    Truncated,
    /// Its name now holds another file, or none.
    Detached,
    /// Detached and quiet long enough: let it go.
    Released,
}

impl Follower {
    pub fn new(plan: Plan) -> Follower {
        Follower {
            sources: Vec::new(),
            streams: Vec::new(),
            missing: Vec::new(),
            patterns: plan.patterns,
            next_scan: Instant::now(),
            start: plan.inputs,
        }
    }

    pub fn run(mut self, reader: &mut Reader<'_>) {
        self.follow(reader);
        // Lines read before the signal, waiting in an event, are sent; a
        // line without its newline stays for the next run.
        for source in self.sources.iter_mut().chain(&mut self.streams) {
            reader.flush_event(source);
        }
    }

    fn follow(&mut self, reader: &mut Reader<'_>) {
        if self.open_at_start(reader) == Turn::Stop {
            return;
        }
        self.next_scan = Instant::now() + reader.config.scan_interval;
        loop {
            if reader.shutdown.is_stopping() {
                return;
            }
            let now = Instant::now();
            reader.flush_due(now);
            self.look(reader, now);
            let mut busy = false;
            let mut index = 0;
            while index < self.sources.len() {
                let source = &mut self.sources[index];
                if !source.follow.at_end {
                    match reader.read_turn(source, TURN_READS, false) {
                        Ok(Turn::More) => busy = true,
                        Ok(Turn::End) => source.at_end(Instant::now()),
                        Ok(Turn::Stop) => return,
                        Err(err) => {
                            reader.input_error(&source.name, &err);
                            self.sources.remove(index);
                            continue;
                        }
                    }
                }
                index += 1;
            }
            let deadline = match busy {
                true => Some(Instant::now()),
                false => self.deadline(reader),
            };
            if busy && self.streams.is_empty() {
                continue;
            }
            let fds: Vec<_> = self.streams.iter().map(Source::fd).collect();
            match reader.wait(&fds, deadline) {
                Wake::Shutdown => return,
                Wake::Deadline => {}
                Wake::Input(readable) => {
                    if self.read_streams(reader, &readable) == Turn::Stop {
                        return;
                    }
                }
            }
        }
    }

    /// Opens the files there at start and reads each to its end, in order.
    fn open_at_start(&mut self, reader: &mut Reader<'_>) -> Turn {
        let now = Instant::now();
        for planned in std::mem::take(&mut self.start) {
            match planned {
                Planned::Stdin => self.streams.push(reader.stdin()),
                Planned::Unmatched(pattern) => messages::notice!(
                    "{pattern}: no file matches yet; looking again every {}",
                    humantime::format_duration(reader.config.scan_interval)
                ),
                Planned::File { path, matched } => {
                    if !self.try_open(reader, &path, Opened::AtStart, matched) && !matched {
                        self.missing.push(Missing {
                            path,
                            next_check: now + IDLE_MAX,
                        });
                    }
                }
            }
        }
        for source in &mut self.sources {
            loop {
                match reader.read_turn(source, usize::MAX, false) {
                    Ok(Turn::More) => {}
                    Ok(Turn::End) => break source.at_end(Instant::now()),
                    Ok(Turn::Stop) => return Turn::Stop,
                    Err(err) => {
                        reader.input_error(&source.name, &err);
                        break source.at_end(Instant::now());
                    }
                }
            }
        }
        Turn::End
    }

    /// Opens `path` to follow it, unless the file is already open (under
    /// this name or another, as after a rotation); says why not once, for a
    /// name missing at start. True if the file is now followed.
    fn try_open(
        &mut self,
        reader: &mut Reader<'_>,
        path: &PathBuf,
        opened: Opened,
        matched: bool,
    ) -> bool {
        if let Ok(metadata) = std::fs::metadata(path) {
            let id = source::file_id(&metadata);
            if let Some(open) = self.sources.iter_mut().find(|s| s.id.as_ref() == Some(&id)) {
                if open.follow.detached.is_some() {
                    // A rotated file found under its new name: follow it there.
                    open.attach(path.clone(), matched);
                    if let (Some(ledger), Some(account)) = (reader.ledger, open.account) {
                        ledger.set_path(account, source::absolute(path));
                    }
                }
                return true;
            }
        }
        match reader.open(path, opened) {
            Ok(source) if source.is_stream() => {
                self.streams.push(source);
                true
            }
            Ok(mut source) => {
                source.follow.matched = matched;
                self.sources.push(source);
                true
            }
            Err(err) => {
                if opened == Opened::AtStart {
                    match err.kind() {
                        io::ErrorKind::NotFound => messages::notice!(
                            "{}: {}; waiting for it to appear",
                            path.display(),
                            messages::io_reason(&err)
                        ),
                        _ => reader.input_error(path, &err),
                    }
                }
                false
            }
        }
    }

    /// Looks at every quiet file, missing name and pattern that is due, and
    /// sends the events whose --multiline-timeout passed.
    fn look(&mut self, reader: &mut Reader<'_>, now: Instant) {
        for source in self.sources.iter_mut().chain(&mut self.streams) {
            reader.event_due(source, now);
        }
        let mut index = 0;
        while index < self.sources.len() {
            let due = {
                let follow = &self.sources[index].follow;
                follow.at_end && follow.next_check <= now
            };
            if due {
                match self.look_at(reader, index, now) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(err) => {
                        reader.input_error(&self.sources[index].name, &err);
                        self.sources.remove(index);
                        continue;
                    }
                }
            }
            index += 1;
        }
        let mut index = 0;
        while index < self.missing.len() {
            if self.missing[index].next_check <= now {
                let path = self.missing[index].path.clone();
                if self.try_open(reader, &path, Opened::Later, false) {
                    messages::info!("{}: appeared; following it", path.display());
                    self.missing.remove(index);
                    continue;
                }
                self.missing[index].next_check = now + IDLE_MAX;
            }
            index += 1;
        }
        if !self.patterns.is_empty() && self.next_scan <= now {
            self.scan(reader);
            self.next_scan = now + reader.config.scan_interval;
        }
    }

    /// Looks at the quiet file at `index`; false if it was let go (and
    /// removed from the list).
    fn look_at(&mut self, reader: &mut Reader<'_>, index: usize, now: Instant) -> io::Result<bool> {
        let source = &mut self.sources[index];
        match check(source, now)? {
            Found::Nothing => source.idle(now),
            Found::Grew => source.follow.at_end = false,
            Found::Truncated => {
                messages::notice!(
                    "{}: truncated; reading it again from the start",
                    source.name.display()
                );
                source.restart(0, reader.config.max_len)?;
                if let (Some(ledger), Some(account)) = (reader.ledger, source.account) {
                    // Its old position means nothing for the new content.
                    ledger.retire(account);
                    source.account = Some(ledger.open(Record {
                        path: source::absolute(&source.name),
                        id: source.id.clone().expect("a file"),
                        fingerprint: Fingerprint::of(&source.head),
                        position: 0,
                    }));
                }
                source.follow.at_end = false;
            }
            Found::Detached => {
                let (path, matched) = (source.name.clone(), source.follow.matched);
                source.follow.detached = Some(now);
                source.idle(now);
                if self.try_open(reader, &path, Opened::Later, matched) {
                    messages::info!("{}: rotated; following the new file", path.display());
                } else if !matched {
                    messages::info!("{}: gone; waiting for it to come back", path.display());
                    self.missing.push(Missing {
                        path,
                        next_check: now + IDLE_MAX,
                    });
                }
            }
            Found::Released => {
                let mut source = self.sources.remove(index);
                // Nothing more will be written to it: a last line without
                // a newline is a line.
                reader.finish(&mut source);
                let deleted = source
                    .metadata()
                    .map(|m| std::os::unix::fs::MetadataExt::nlink(&m) == 0);
                if let (Some(ledger), Some(account), Ok(true)) =
                    (reader.ledger, source.account, deleted)
                {
                    // A deleted file can never be met again.
                    ledger.retire(account);
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Matches every pattern again and follows what is new.
    fn scan(&mut self, reader: &mut Reader<'_>) {
        for pattern in self.patterns.clone() {
            for path in plan::expand(&pattern) {
                let followed = self
                    .sources
                    .iter()
                    .any(|s| s.follow.detached.is_none() && s.name == path)
                    || self.missing.iter().any(|m| m.path == path);
                if !followed && self.try_open(reader, &path, Opened::Later, true) {
                    messages::info!("{}: matches {pattern}; following it", path.display());
                }
            }
        }
    }

    /// Reads once from each stream poll(2) found `readable` (places in
    /// `streams`, in order); one at its end is finished and let go.
    fn read_streams(&mut self, reader: &mut Reader<'_>, readable: &[usize]) -> Turn {
        // From the last, so that letting one go moves none still to read.
        for &index in readable.iter().rev() {
            let stream = &mut self.streams[index];
            match reader.read_turn(stream, 1, false) {
                Ok(Turn::Stop) => return Turn::Stop,
                Ok(Turn::More) => {}
                Ok(Turn::End) => {
                    let mut stream = self.streams.remove(index);
                    reader.finish(&mut stream);
                }
                Err(err) => {
                    let mut stream = self.streams.remove(index);
                    reader.input_error(&stream.name, &err);
                    reader.finish(&mut stream);
                }
            }
        }
        Turn::More
    }

    /// The earliest moment something is due.
    fn deadline(&self, reader: &Reader<'_>) -> Option<Instant> {
        let quiet = self
            .sources
            .iter()
            .filter(|s| s.follow.at_end)
            .map(|s| s.follow.next_check);
        let missing = self.missing.iter().map(|m| m.next_check);
        let scan = (!self.patterns.is_empty()).then_some(self.next_scan);
        let events = self
            .sources
            .iter()
            .chain(&self.streams)
            .filter_map(Source::event_deadline);
        quiet
            .chain(missing)
            .chain(scan)
            .chain(events)
            .chain(reader.batcher.deadline())
            .min()
    }
}

/// What has become of a quiet file since it was last looked at.
fn check(source: &mut Source, now: Instant) -> io::Result<Found> {
    let metadata = source.metadata()?;
    let size = metadata.len();
    let seen = (size, metadata.modified().ok());
    let changed = source.follow.seen.replace(seen) != Some(seen);
    if size < source.offset || (changed && !source.same_head()?) {
        return Ok(Found::Truncated);
    }
    if size > source.offset {
        source.follow.grew = now;
        return Ok(Found::Grew);
    }
    if source.follow.detached.is_some() {
        return Ok(
            match now.duration_since(source.follow.grew) >= RELEASE_AFTER {
                true => Found::Released,
                false => Found::Nothing,
            },
        );
    }
    match std::fs::metadata(&source.name) {
        Ok(at_name) if Some(source::file_id(&at_name)) == source.id => Ok(Found::Nothing),
        Ok(_) => Ok(Found::Detached),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Found::Detached),
        // Permission trouble on the directory, say: keep reading the handle.
        Err(_) => Ok(Found::Nothing),
    }
}

impl Source {
    /// Found at its end: look again soon, then less often.
    fn at_end(&mut self, now: Instant) {
        self.follow.at_end = true;
        self.follow.idle_wait = IDLE_MIN;
        self.follow.next_check = now + IDLE_MIN;
    }

    fn idle(&mut self, now: Instant) {
        self.follow.idle_wait = (self.follow.idle_wait * 2).min(IDLE_MAX);
        self.follow.next_check = now + self.follow.idle_wait;
    }

    fn attach(&mut self, name: PathBuf, matched: bool) {
        self.name = name;
        self.follow.matched = matched;
        self.follow.detached = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of its own in the temporary directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, content: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("wsship-unit-{}-{name}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// `path` opened as a followed source and read to its end.
    fn at_end(path: &PathBuf) -> Source {
        let file = std::fs::File::open(path).unwrap();
        let metadata = file.metadata().unwrap();
        let mut source = Source::file(path.clone(), file, &metadata, 0, 100).unwrap();
        let mut buf = [0; 64];
        while source.read(&mut buf).unwrap() > 0 {}
        source
    }

    #[test]
    fn growth_truncation_and_a_refill_past_the_old_end_are_told_apart() {
        let scratch = Scratch::new("refill", "first line\nsecond line\n");
        let mut source = at_end(&scratch.0);
        let now = Instant::now();
        assert!(matches!(check(&mut source, now).unwrap(), Found::Nothing));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&scratch.0)
            .unwrap();
        file.write_all(b"third\n").unwrap();
        assert!(matches!(check(&mut source, now).unwrap(), Found::Grew));
        let mut buf = [0; 64];
        while source.read(&mut buf).unwrap() > 0 {}
        // Emptied and written again, longer than before, between two looks:
        // only the first bytes tell.
        std::fs::write(&scratch.0, "another file altogether, and longer\n").unwrap();
        assert!(matches!(check(&mut source, now).unwrap(), Found::Truncated));
        // Shorter than what was read.
        let mut source = at_end(&scratch.0);
        std::fs::write(&scratch.0, "short\n").unwrap();
        assert!(matches!(check(&mut source, now).unwrap(), Found::Truncated));
    }

    #[test]
    fn a_name_that_moved_or_went_detaches_and_a_detached_file_is_let_go_when_quiet() {
        let scratch = Scratch::new("moved", "line\n");
        let mut source = at_end(&scratch.0);
        let now = Instant::now();
        let moved = scratch.0.with_extension("1");
        std::fs::rename(&scratch.0, &moved).unwrap();
        assert!(matches!(check(&mut source, now).unwrap(), Found::Detached));
        std::fs::write(&scratch.0, "new file\n").unwrap();
        assert!(matches!(check(&mut source, now).unwrap(), Found::Detached));
        source.follow.detached = Some(now);
        source.follow.grew = now;
        assert!(matches!(check(&mut source, now).unwrap(), Found::Nothing));
        let later = now + RELEASE_AFTER;
        assert!(matches!(
            check(&mut source, later).unwrap(),
            Found::Released
        ));
        let _ = std::fs::remove_file(moved);
    }

    #[test]
    fn looks_thin_out_while_quiet_and_come_soon_after_data() {
        let scratch = Scratch::new("looks", "");
        let mut source = at_end(&scratch.0);
        let now = Instant::now();
        source.at_end(now);
        assert_eq!(source.follow.next_check, now + IDLE_MIN);
        let mut waits = Vec::new();
        for _ in 0..12 {
            source.idle(now);
            waits.push(source.follow.idle_wait);
        }
        assert_eq!(waits[0], IDLE_MIN * 2);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().unwrap(), IDLE_MAX);
        source.at_end(now);
        assert_eq!(source.follow.idle_wait, IDLE_MIN);
    }
}
