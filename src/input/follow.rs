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
//!   read again from the start, under a new record.
//! - Rotation (the name now holds another file): the open handle was read
//!   to its end first; the new file is opened and read from its start. The
//!   old one stays open (detached), and is read if it grows (a writer that
//!   has not reopened yet), until it has been quiet for --rotate-wait;
//!   then it is let go (`record::let_go`).
//! - Deletion: the same for the handle; the name is watched until a file
//!   appears there again. A name that is missing at start is waited for
//!   too, reported once. A name a pattern matched is forgotten instead: the
//!   next scan finds it again if it comes back.
//! - Patterns are matched again every --scan-interval; a file found under a
//!   new name that is already open (a rotated file) is not read twice, one
//!   let go earlier is left alone unless it grew, and then goes on from
//!   where it was let go.
//! - A file that cannot be opened (permission, too many open files) is
//!   said once, counted, and tried again at the next look or scan.
//! - Every --rotate-wait (a second at least), the files let go are looked
//!   for, and the record of one that is gone is dropped (`record::swept`).

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::plan::{self, Plan, Planned};
use super::record::{self, Opened};
use super::source::{self, Source};
use super::{Reader, Turn, Wake};
use crate::ledger::{Fingerprint, Phase, Record};
use crate::messages;

/// The first look at a file found at its end.
const IDLE_MIN: Duration = Duration::from_millis(1);
/// The longest wait between looks at a quiet file: bounds the delay of a
/// line appended to a file that has been quiet for a while.
const IDLE_MAX: Duration = Duration::from_millis(250);
/// Reads one file gets before the others have their turn (4 MiB).
const TURN_READS: usize = 64;
/// The shortest time between two looks for the files let go.
const SWEEP_MIN: Duration = Duration::from_secs(1);

pub struct Follower {
    /// Open files: each at its name, or detached from it.
    sources: Vec<Followed>,
    /// Standard input and the FILEs that are not regular files: read when
    /// readable, to their end, and not followed past it.
    streams: Vec<Source>,
    /// Names without a file open at them now.
    missing: Vec<Missing>,
    patterns: Vec<String>,
    next_scan: Instant,
    /// When the files let go are next looked for.
    next_sweep: Instant,
    /// What to open at start.
    start: Vec<Planned>,
    /// Names that could not be opened, each said once.
    unopenable: HashSet<PathBuf>,
}

/// A file being followed, and what following it has learnt.
struct Followed {
    source: Source,
    /// The last read found the end: wait for the next check.
    at_end: bool,
    next_check: Instant,
    /// How long the next idle wait is: short after data, longer while quiet.
    idle_wait: Duration,
    /// Size and modification time at the last check, to notice change.
    seen: Option<(u64, Option<SystemTime>)>,
    /// When the file stopped being at its name (rotated or deleted), and
    /// when it last grew since: it is let go once quiet for long enough.
    detached: Option<Instant>,
    grew: Instant,
    /// Its name came from a pattern: forgotten, not waited for, when gone.
    matched: bool,
}

struct Missing {
    path: PathBuf,
    next_check: Instant,
}

/// What a look at a quiet file found.
#[derive(Debug, PartialEq, Eq)]
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
        let now = Instant::now();
        Follower {
            sources: Vec::new(),
            streams: Vec::new(),
            missing: Vec::new(),
            patterns: plan.patterns,
            next_scan: now,
            next_sweep: now,
            start: plan.inputs,
            unopenable: HashSet::new(),
        }
    }

    pub fn run(mut self, reader: &mut Reader<'_>) {
        self.follow(reader);
        // Lines read before the signal, waiting in an event, are sent; a
        // line without its newline stays for the next run.
        for followed in &mut self.sources {
            reader.flush_event(&mut followed.source);
        }
        for stream in &mut self.streams {
            reader.flush_event(stream);
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
                let followed = &mut self.sources[index];
                if !followed.at_end {
                    match reader.read_turn(&mut followed.source, TURN_READS, false) {
                        Ok(Turn::More) => busy = true,
                        Ok(Turn::End) => followed.found_end(Instant::now()),
                        Ok(Turn::Stop) => return,
                        Err(err) => {
                            reader.input_error(&followed.source.name, &err);
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
                    let opened = self.try_open(reader, &path, Opened::AtStart, matched);
                    if !opened && !matched {
                        self.missing.push(Missing {
                            path,
                            next_check: now + IDLE_MAX,
                        });
                    }
                }
            }
        }
        for followed in &mut self.sources {
            loop {
                match reader.read_turn(&mut followed.source, usize::MAX, false) {
                    Ok(Turn::More) => {}
                    Ok(Turn::End) => break followed.found_end(Instant::now()),
                    Ok(Turn::Stop) => return Turn::Stop,
                    Err(err) => {
                        reader.input_error(&followed.source.name, &err);
                        break followed.found_end(Instant::now());
                    }
                }
            }
        }
        Turn::End
    }

    /// Opens `path` to follow it, unless the file is already open (under
    /// this name or another, as after a rotation); says once why it cannot,
    /// but for a name missing (which, named at start, is said to be waited
    /// for). True if the file is now followed.
    fn try_open(
        &mut self,
        reader: &mut Reader<'_>,
        path: &PathBuf,
        opened: Opened,
        matched: bool,
    ) -> bool {
        // stat(2) first: it needs no descriptor, so that a name missing is
        // told apart from one that cannot be opened while none is free.
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if opened == Opened::AtStart {
                    messages::notice!(
                        "{}: {}; waiting for it to appear",
                        path.display(),
                        messages::io_reason(&err)
                    );
                }
                return false;
            }
            Err(err) => return self.cannot_open(reader, path, &err, matched),
        };
        let id = source::file_id(&metadata);
        let open = self
            .sources
            .iter_mut()
            .find(|f| f.source.id.as_ref() == Some(&id));
        if let Some(open) = open {
            if open.detached.is_some() {
                // A rotated file found under a new name. A pattern's match:
                // still away from the name it was opened under, and let go
                // once quiet (the pattern finds it again if it grows). A
                // FILE given: followed at that name from now on.
                open.source.name = path.clone();
                open.matched = matched;
                if !matched {
                    open.detached = None;
                    reader.set_phase(&open.source, Phase::Open);
                }
            }
            return true;
        }
        match reader.open(path, opened, !matched) {
            Ok(source) => {
                if self.unopenable.remove(path) {
                    messages::notice!("{}: opened at last; following it", path.display());
                }
                if source.is_stream() {
                    self.streams.push(source);
                    return true;
                }
                let mut followed = Followed::new(source, matched);
                if reader.phase(&followed.source) == Some(Phase::Detached) {
                    followed.detached = Some(Instant::now());
                }
                self.sources.push(followed);
                true
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => false,
            Err(err) => self.cannot_open(reader, path, &err, matched),
        }
    }

    /// A file that is there but cannot be opened (permission denied, too
    /// many open files): said and counted once, then tried again at each
    /// look (a name) or scan (a pattern's match). False.
    fn cannot_open(
        &mut self,
        reader: &Reader<'_>,
        path: &Path,
        err: &io::Error,
        matched: bool,
    ) -> bool {
        if self.unopenable.insert(path.to_path_buf()) {
            let again = match matched {
                true => "at the next scan",
                false => "until it can be opened",
            };
            messages::error!(
                "{}: {}; trying again {again}",
                path.display(),
                messages::io_reason(err)
            );
            reader.stats.input_error();
        }
        false
    }

    /// Looks at every quiet file, missing name and pattern that is due, and
    /// sends the events whose --multiline-timeout passed.
    fn look(&mut self, reader: &mut Reader<'_>, now: Instant) {
        for followed in &mut self.sources {
            reader.event_due(&mut followed.source, now);
        }
        for stream in &mut self.streams {
            reader.event_due(stream, now);
        }
        let mut index = 0;
        while index < self.sources.len() {
            let due = {
                let followed = &self.sources[index];
                followed.at_end && followed.next_check <= now
            };
            if due {
                match self.look_at(reader, index, now) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(err) => {
                        reader.input_error(&self.sources[index].source.name, &err);
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
        if self.next_sweep <= now {
            sweep(reader, &self.patterns);
            self.next_sweep = now + reader.config.rotate_wait.max(SWEEP_MIN);
        }
    }

    /// Looks at the quiet file at `index`; false if it was let go (and
    /// removed from the list).
    fn look_at(&mut self, reader: &mut Reader<'_>, index: usize, now: Instant) -> io::Result<bool> {
        let followed = &mut self.sources[index];
        match followed.check(now, reader.config.rotate_wait)? {
            Found::Nothing => followed.idle(now),
            Found::Grew => followed.at_end = false,
            Found::Truncated => {
                let source = &mut followed.source;
                messages::notice!(
                    "{}: truncated; reading it again from the start",
                    source.name.display()
                );
                source.restart(0, reader.config.max_len)?;
                if let Some(account) = source.account {
                    // Its old position means nothing for the new content,
                    // and its lines get new ids.
                    reader.ledger.retire(account);
                    let ino = source.id.as_ref().map_or(0, |id| id.ino);
                    source.generation = reader.ledger.next_generation(ino);
                    source.account = Some(reader.ledger.open(Record {
                        path: source.path.clone(),
                        id: source.id.clone().expect("a file"),
                        fingerprint: Fingerprint::of(&source.head),
                        position: 0,
                        generation: source.generation,
                    }));
                }
                followed.at_end = false;
            }
            Found::Detached => {
                let (path, matched) = (followed.source.name.clone(), followed.matched);
                followed.detached = Some(now);
                followed.idle(now);
                reader.set_phase(&followed.source, Phase::Detached);
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
                let mut source = self.sources.remove(index).source;
                // Nothing more will be written to it: a last line without
                // a newline is a line.
                reader.finish(&mut source);
                let deleted = source.metadata()?.nlink() == 0;
                reader.set_phase(&source, record::let_go(deleted, source.offset));
                messages::info!(
                    "{}: quiet for {} away from its name; let go",
                    source.name.display(),
                    humantime::format_duration(reader.config.rotate_wait)
                );
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
                    .any(|f| f.detached.is_none() && f.source.name == path)
                    || self.missing.iter().any(|m| m.path == path);
                if followed || reader.let_go_unchanged(&path) {
                    continue;
                }
                if self.try_open(reader, &path, Opened::Later, true) {
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
            .filter(|f| f.at_end)
            .map(|f| f.next_check);
        let missing = self.missing.iter().map(|m| m.next_check);
        let scan = (!self.patterns.is_empty()).then_some(self.next_scan);
        let events = self
            .sources
            .iter()
            .map(|f| &f.source)
            .chain(&self.streams)
            .filter_map(Source::event_deadline);
        quiet
            .chain(missing)
            .chain(scan)
            .chain([self.next_sweep])
            .chain(events)
            .chain(reader.batcher.deadline())
            .min()
    }
}

/// Looks for the files let go (in their directory, and among what the
/// `patterns` match), and drops the record of each that is gone: no record
/// of a file that is no more is written, and its inode, once a new file
/// takes it, is that file's alone.
fn sweep(reader: &Reader<'_>, patterns: &[String]) {
    let mut let_go = reader.ledger.live();
    let_go.retain(|(_, _, phase)| matches!(phase, Phase::LetGo { .. }));
    if let_go.is_empty() {
        return;
    }
    let matched: Vec<PathBuf> = patterns.iter().flat_map(|p| plan::expand(p)).collect();
    for (account, record, phase) in let_go {
        let swept = record::swept(phase, &source::locate(&record, &matched));
        if swept != phase {
            messages::info!("{}: the file let go is gone; forgetting it", record.path);
            reader.ledger.set_phase(account, swept);
        }
    }
}

impl Followed {
    fn new(source: Source, matched: bool) -> Followed {
        let now = Instant::now();
        Followed {
            source,
            at_end: false,
            next_check: now,
            idle_wait: IDLE_MIN,
            seen: None,
            detached: None,
            grew: now,
            matched,
        }
    }

    /// What has become of this quiet file since it was last looked at; one
    /// away from its name is let go after `rotate_wait` without growth.
    fn check(&mut self, now: Instant, rotate_wait: Duration) -> io::Result<Found> {
        let source = &self.source;
        let metadata = source.metadata()?;
        let size = metadata.len();
        let seen = (size, metadata.modified().ok());
        let changed = self.seen.replace(seen) != Some(seen);
        if size < source.offset || (changed && !source.same_head()?) {
            return Ok(Found::Truncated);
        }
        if size > source.offset {
            self.grew = now;
            return Ok(Found::Grew);
        }
        if self.detached.is_some() {
            return Ok(match now.duration_since(self.grew) >= rotate_wait {
                true => Found::Released,
                false => Found::Nothing,
            });
        }
        match std::fs::metadata(&source.name) {
            Ok(at_name) if Some(source::file_id(&at_name)) == source.id => Ok(Found::Nothing),
            Ok(_) => Ok(Found::Detached),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Found::Detached),
            // Permission trouble on the directory, say: keep reading the handle.
            Err(_) => Ok(Found::Nothing),
        }
    }

    /// Found at its end: look again soon, then less often.
    fn found_end(&mut self, now: Instant) {
        self.at_end = true;
        self.idle_wait = IDLE_MIN;
        self.next_check = now + IDLE_MIN;
    }

    fn idle(&mut self, now: Instant) {
        self.idle_wait = (self.idle_wait * 2).min(IDLE_MAX);
        self.next_check = now + self.idle_wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scratch::Scratch;
    use crate::ledger::FINGERPRINT_MAX;
    use std::io::Write;

    /// `path` opened as a followed file and read to its end.
    fn at_end(path: &PathBuf) -> Followed {
        let file = std::fs::File::open(path).unwrap();
        let metadata = file.metadata().unwrap();
        let head = source::read_head(&file, FINGERPRINT_MAX).unwrap();
        let mut source = Source::file(path.clone(), file, &metadata, head, 0, 100).unwrap();
        let mut buf = [0; 64];
        while source.read(&mut buf).unwrap() > 0 {}
        Followed::new(source, false)
    }

    /// What the README promises: a quiet file is looked at at least every
    /// 250 ms, and a file away from its name is let go after a minute (the
    /// default --rotate-wait).
    const README_LOOKS: Duration = Duration::from_millis(250);
    const README_QUIET: Duration = Duration::from_secs(60);

    #[test]
    fn growth_truncation_and_a_refill_past_the_old_end_are_told_apart() {
        let scratch = Scratch::new("refill");
        let log = scratch.write("app.log", "first line\nsecond line\n");
        let mut followed = at_end(&log);
        let now = Instant::now();
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Nothing);
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(b"third\n").unwrap();
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Grew);
        let mut buf = [0; 64];
        while followed.source.read(&mut buf).unwrap() > 0 {}
        // Emptied and written again, longer than before, between two looks:
        // only the first bytes tell.
        std::fs::write(&log, "another file altogether, and longer\n").unwrap();
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Truncated);
        // Shorter than what was read.
        let mut followed = at_end(&log);
        std::fs::write(&log, "short\n").unwrap();
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Truncated);
    }

    #[test]
    fn a_name_that_moved_or_went_detaches_and_a_detached_file_is_let_go_after_a_quiet_minute() {
        let scratch = Scratch::new("moved");
        let log = scratch.write("app.log", "line\n");
        let mut followed = at_end(&log);
        let now = Instant::now();
        let moved = log.with_extension("1");
        std::fs::rename(&log, &moved).unwrap();
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Detached);
        std::fs::write(&log, "new file\n").unwrap();
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Detached);
        followed.detached = Some(now);
        followed.grew = now;
        assert_eq!(followed.check(now, README_QUIET).unwrap(), Found::Nothing);
        let almost = now + README_QUIET - Duration::from_millis(1);
        assert_eq!(
            followed.check(almost, README_QUIET).unwrap(),
            Found::Nothing
        );
        let later = now + README_QUIET;
        assert_eq!(
            followed.check(later, README_QUIET).unwrap(),
            Found::Released
        );
        // Growth starts the quiet minute again.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&moved)
            .unwrap();
        file.write_all(b"late line\n").unwrap();
        assert_eq!(followed.check(later, README_QUIET).unwrap(), Found::Grew);
        let mut buf = [0; 64];
        while followed.source.read(&mut buf).unwrap() > 0 {}
        assert_eq!(followed.check(later, README_QUIET).unwrap(), Found::Nothing);
    }

    #[test]
    fn looks_thin_out_while_quiet_and_come_soon_after_data() {
        let scratch = Scratch::new("looks");
        let log = scratch.write("app.log", "");
        let mut followed = at_end(&log);
        let now = Instant::now();
        followed.found_end(now);
        assert!(followed.next_check <= now + Duration::from_millis(1));
        let mut waits = Vec::new();
        for _ in 0..12 {
            followed.idle(now);
            waits.push(followed.idle_wait);
        }
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert!(waits[0] <= Duration::from_millis(5), "{waits:?}");
        assert_eq!(*waits.last().unwrap(), README_LOOKS);
        assert_eq!(followed.next_check, now + README_LOOKS);
        followed.found_end(now);
        assert!(followed.idle_wait <= Duration::from_millis(1));
    }
}
