//! The disk spool for standard input (--spool DIR): every line read is
//! written to disk before it is batched, batches are read back from disk,
//! and a line leaves the spool only once its batch is confirmed. Reading
//! standard input then never waits for the network, and a crash loses
//! nothing the spool took.
//!
//! Two threads share it. The intake (`intake`) owns standard input and
//! appends to the newest segment; the reader thread reads the segments in
//! order through a `Cursor` (`cursor`) and hands lines to the usual
//! pipeline. Confirmations move the spool's account in the ledger; a
//! keeper writes that position to the index about once a second and
//! deletes the segments wholly before it, which makes room for the intake.
//!
//! On disk, in DIR: `lock` (an advisory lock, held for the run), `index`
//! (the first line not yet confirmed, the next line's number as of the
//! last write, and the key ids are drawn from; replaced atomically), and
//! segments named by the number of their first line (`record` describes
//! their bytes). Each run appends to a segment of its own, so no run ever
//! writes after bytes a crash may have torn. A segment found damaged is
//! moved to `DIR/damaged/` once every line after the damage is confirmed.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::messages;

pub mod cursor;
pub mod intake;
pub mod record;

/// How often segments are forced to disk, unless for every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    Every(Duration),
    Always,
}

/// What --spool and its options set.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub sync: Sync,
    pub max_size: u64,
}

/// Segments hold about this much, or an eighth of --spool-max-size if less,
/// so that confirmed lines free room in steps well below the limit.
const SEGMENT_MAX: u64 = 8 << 20;
const SEGMENT_MIN: u64 = 4 << 10;

/// The spool of this run, locked until the run ends.
pub struct Spool {
    dir: PathBuf,
    /// Held, never read: the lock lives as long as the descriptor.
    _lock: File,
    /// --dry-run: read what is there, change nothing.
    read_only: bool,
    pub settings: Settings,
    segment_target: u64,
    /// What the ids of spooled lines are drawn from: the same in every run
    /// of this spool, so that a line sent again after a crash keeps its id.
    pub key: u128,
    /// The first line not confirmed when the run began, and how many lines
    /// the spool held then.
    pub start: u64,
    pub resumed: u64,
    shared: Mutex<Shared>,
    /// Signalled when segments are deleted (room for the intake).
    room: Condvar,
    /// Rung by the intake after each append; the reader polls the other end.
    bell: (UnixStream, UnixStream),
    /// The intake has stopped: nothing more will be appended.
    ended: AtomicBool,
    /// Lines lost to damage, found by the reader.
    corrupt: AtomicU64,
    /// What the intake just wrote, handed to the reader as well, so that a
    /// reader keeping up reads it from memory, not back from the file
    /// (which cost a copy and a checksum per line more); and the buffers
    /// coming back. A block that finds the queue full is simply not
    /// handed over: the reader reads the file.
    hot: (Sender<Block>, Receiver<Block>),
    spare: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
    /// A block taken that the reader is not at yet.
    held: Mutex<Option<Block>>,
    /// With --spool-sync DURATION, what the keeper forces to disk.
    unsynced: Mutex<Unsynced>,
}

/// The segments of this run not yet forced to disk since their last
/// write, whether one was named since, and whether anything was written.
#[derive(Default)]
struct Unsynced {
    files: Vec<(u64, File)>,
    named: bool,
    written: bool,
}

/// Records the intake wrote to a segment, whole, from `at` in its file.
pub struct Block {
    pub first: u64,
    pub at: u64,
    pub bytes: Vec<u8>,
}

/// Blocks that may wait for the reader: with writes of up to 320 KiB, a
/// few MiB at most.
const HOT_BLOCKS: usize = 8;

struct Shared {
    segments: VecDeque<Segment>,
    /// The number the next appended line takes.
    next: u64,
    /// The segment the intake appends to (its first line), and how much of
    /// it is written out: the reader reads no further.
    current: Option<u64>,
    written: u64,
    /// Bytes of every segment on disk.
    size: u64,
    /// What the index says now.
    index: Index,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    first: u64,
    size: u64,
    damaged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Index {
    confirmed: u64,
    appended: u64,
    key: u128,
}

/// Why a spool cannot be used.
#[derive(Debug)]
pub enum Error {
    Io { dir: PathBuf, source: io::Error },
    Locked { dir: PathBuf },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { dir, source } => write!(
                f,
                "--spool {}: cannot use it: {}",
                dir.display(),
                messages::io_reason(source)
            ),
            Error::Locked { dir } => write!(
                f,
                "--spool {}: another wsship is using this spool",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Spool {
    /// Creates or opens the spool in `settings.dir`, locks it, and finds
    /// where the last run left it. `read_only` (--dry-run) writes nothing,
    /// not even the lock, and fails on a spool that does not exist.
    pub fn open(settings: &Settings, read_only: bool, max_line: usize) -> Result<Spool, Error> {
        let dir = settings.dir.clone();
        let io_error = |source| Error::Io {
            dir: dir.clone(),
            source,
        };
        if !read_only {
            fs::create_dir_all(&dir).map_err(io_error)?;
        }
        let lock = match read_only {
            true => File::open(dir.join("lock")).map_err(io_error)?,
            false => OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join("lock"))
                .map_err(io_error)?,
        };
        let flags = match read_only {
            true => libc::LOCK_SH | libc::LOCK_NB,
            false => libc::LOCK_EX | libc::LOCK_NB,
        };
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), flags) } != 0 {
            let err = io::Error::last_os_error();
            return Err(match err.kind() {
                io::ErrorKind::WouldBlock => Error::Locked { dir },
                _ => io_error(err),
            });
        }
        let mut segments = list(&dir).map_err(io_error)?;
        let index = match read_index(&dir) {
            Ok(Some(index)) => index,
            Ok(None) => {
                if !segments.is_empty() {
                    messages::error!(
                        "--spool {}: it has no index: sending every line it holds, some perhaps \
                         again",
                        dir.display()
                    );
                }
                Index {
                    confirmed: segments.front().map_or(0, |s| s.first),
                    appended: 0,
                    key: rand::random(),
                }
            }
            Err(reason) => {
                // Never a silent fresh start, never a refusal: what cannot
                // be known is sent again.
                let first = segments.front().map_or(0, |s| s.first);
                messages::error!(
                    "--spool {}: its index cannot be read ({reason}): sending every line it \
                     holds, some perhaps again",
                    dir.display()
                );
                Index {
                    confirmed: first,
                    appended: 0,
                    key: rand::random(),
                }
            }
        };
        let last = last_line(&dir, &segments, max_line).map_err(io_error)?;
        let next = last
            .map_or(0, |seq| seq + 1)
            .max(index.appended)
            .max(index.confirmed)
            .max(segments.back().map_or(0, |s| s.first));
        let index = Index {
            appended: next,
            ..index
        };
        if !read_only {
            // The newest segments may hold no sound line (a crash just
            // after one was started, or damage to its end): this run's
            // segment takes the next number, which may be one's name.
            while let Some(segment) = segments.back().filter(|s| s.first >= next) {
                let path = dir.join(name(segment.first));
                match segment.size <= record::MAGIC.len() as u64 {
                    true => fs::remove_file(&path).map_err(io_error)?,
                    false => {
                        move_aside(&dir, &path).map_err(io_error)?;
                        messages::error!(
                            "--spool {}: segment {} holds no sound line; moved to {}/damaged",
                            dir.display(),
                            name(segment.first),
                            dir.display()
                        );
                    }
                }
                segments.pop_back();
            }
            // Segments wholly confirmed whose deletion a crash cut short.
            while segments.len() > 1 && segments[1].first <= index.confirmed {
                let segment = segments.pop_front().expect("two at least");
                fs::remove_file(dir.join(name(segment.first))).map_err(io_error)?;
            }
            if segments.len() == 1 && next <= index.confirmed {
                let segment = segments.pop_front().expect("one");
                fs::remove_file(dir.join(name(segment.first))).map_err(io_error)?;
            }
            // Also proves the directory can be written, before any line is
            // read.
            write_index(&dir, &index).map_err(io_error)?;
        }
        let size = segments.iter().map(|s| s.size).sum();
        let bell = UnixStream::pair().map_err(io_error)?;
        bell.0.set_nonblocking(true).map_err(io_error)?;
        bell.1.set_nonblocking(true).map_err(io_error)?;
        Ok(Spool {
            _lock: lock,
            read_only,
            segment_target: (settings.max_size / 8).clamp(SEGMENT_MIN, SEGMENT_MAX),
            settings: settings.clone(),
            key: index.key,
            start: index.confirmed,
            resumed: next - index.confirmed,
            shared: Mutex::new(Shared {
                segments,
                next,
                current: None,
                written: 0,
                size,
                index,
            }),
            room: Condvar::new(),
            bell,
            ended: AtomicBool::new(false),
            corrupt: AtomicU64::new(0),
            hot: crossbeam_channel::bounded(HOT_BLOCKS),
            spare: crossbeam_channel::bounded(HOT_BLOCKS),
            held: Mutex::new(None),
            unsynced: Mutex::new(Unsynced::default()),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The descriptor the reader polls: readable after an append, and when
    /// the intake ends.
    pub fn bell_fd(&self) -> std::os::fd::RawFd {
        self.bell.1.as_raw_fd()
    }

    fn ring(&self) {
        // Full (WouldBlock) means rung already and not yet heard: enough.
        let _ = (&self.bell.0).write(&[1]);
    }

    /// Empties the bell before the reader looks for more, so that an append
    /// after the look rings it again.
    pub fn hush(&self) {
        let mut sink = [0u8; 64];
        while matches!((&self.bell.1).read(&mut sink), Ok(n) if n > 0) {}
    }

    /// Says that the intake will append nothing more.
    pub fn end_intake(&self) {
        self.ended.store(true, Relaxed);
        self.ring();
    }

    pub fn intake_ended(&self) -> bool {
        self.ended.load(Relaxed)
    }

    pub fn corrupt(&self) -> u64 {
        self.corrupt.load(Relaxed)
    }

    fn add_corrupt(&self, lines: u64) {
        self.corrupt.fetch_add(lines, Relaxed);
    }

    /// Lines in the spool that are not confirmed, as the index last said,
    /// and the bytes its segments take: for the metrics.
    pub fn gauge(&self) -> (u64, u64) {
        let shared = self.lock();
        (shared.next - shared.index.confirmed, shared.size)
    }

    /// Records that every line before `confirmed` is confirmed: writes the
    /// index if that moved it, and deletes (or, if damaged, moves aside)
    /// the segments wholly before it. False if the index cannot be written.
    pub fn confirm(&self, confirmed: u64) -> io::Result<()> {
        if self.read_only {
            return Ok(());
        }
        // No lock is held while the disk works (the index is forced to
        // disk twice, a segment's pages are dropped): the intake takes it
        // for every write, and held here it stalled reading for as long.
        let index = {
            let shared = self.lock();
            Index {
                confirmed: confirmed.max(shared.index.confirmed),
                appended: shared.next,
                key: self.key,
            }
        };
        // Segments may be done with an index unchanged: the last one, once
        // the intake ends.
        if index != self.lock().index {
            write_index(&self.dir, &index)?;
        }
        let mut done = Vec::new();
        {
            let mut shared = self.lock();
            shared.index = index;
            loop {
                let whole = match (shared.segments.front(), shared.segments.get(1)) {
                    (Some(_), Some(next)) => next.first <= index.confirmed,
                    (Some(only), None) => {
                        shared.current != Some(only.first)
                            && shared.next <= index.confirmed
                            && self.intake_ended()
                    }
                    (None, _) => false,
                };
                if !whole {
                    break;
                }
                done.push(shared.segments.pop_front().expect("checked"));
            }
        }
        for segment in &done {
            let path = self.dir.join(name(segment.first));
            let result = match segment.damaged {
                true => move_aside(&self.dir, &path),
                false => fs::remove_file(&path),
            };
            if let Err(err) = result {
                messages::error!(
                    "--spool {}: cannot remove {}: {}",
                    self.dir.display(),
                    path.display(),
                    messages::io_reason(&err)
                );
            }
        }
        if !done.is_empty() {
            // Counted free only once the files are gone.
            self.lock().size -= done.iter().map(|s| s.size).sum::<u64>();
            self.room.notify_all();
        }
        Ok(())
    }

    fn unsynced(&self) -> MutexGuard<'_, Unsynced> {
        self.unsynced.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A segment the intake just started, for `sync` to force to disk.
    fn track(&self, first: u64, file: File) {
        let mut unsynced = self.unsynced();
        unsynced.files.push((first, file));
        unsynced.named = true;
        unsynced.written = true;
    }

    /// The intake wrote to its segment.
    fn written(&self) {
        self.unsynced().written = true;
    }

    /// Forces to disk what was written since the last time, of the
    /// segments still here: lines confirmed (and their segments deleted)
    /// need no durability, and forcing each segment as it filled cost a
    /// quarter of a fast run's time. No lock is held while the disk
    /// flushes, so that the intake never waits for it.
    pub fn sync(&self) -> io::Result<()> {
        let (files, named) = {
            let mut unsynced = self.unsynced();
            if !std::mem::take(&mut unsynced.written) {
                return Ok(());
            }
            (
                std::mem::take(&mut unsynced.files),
                std::mem::take(&mut unsynced.named),
            )
        };
        let current = self.lock().current;
        let mut result = Ok(());
        let mut kept = Vec::new();
        for (first, file) in files {
            let held = self.holds(first);
            if held && result.is_ok() {
                result = file.sync_data();
            }
            // The segment appended to is forced again after its next
            // writes; one finished, once is enough, unless this failed.
            if held && (Some(first) == current || result.is_err()) {
                kept.push((first, file));
            }
        }
        if named && result.is_ok() {
            result = File::open(&self.dir).and_then(|dir| dir.sync_all());
        }
        let mut unsynced = self.unsynced();
        kept.append(&mut unsynced.files);
        unsynced.files = kept;
        if result.is_err() {
            // Tried again next time.
            unsynced.written = true;
            unsynced.named |= named;
        }
        result
    }

    /// Marks the segment starting at `first` as damaged: it is moved aside
    /// rather than deleted.
    fn set_damaged(&self, first: u64) {
        let mut shared = self.lock();
        if let Some(segment) = shared.segments.iter_mut().find(|s| s.first == first) {
            segment.damaged = true;
        }
    }

    /// The segment after the one starting at `first`.
    fn after(&self, first: u64) -> Option<u64> {
        let shared = self.lock();
        shared.segments.iter().map(|s| s.first).find(|&f| f > first)
    }

    /// The segment that holds line `seq`, or would: the last one starting
    /// at or before it, else the first.
    fn segment_for(&self, seq: u64) -> Option<u64> {
        let shared = self.lock();
        let before = shared.segments.iter().rev().find(|s| s.first <= seq);
        before.or(shared.segments.front()).map(|s| s.first)
    }

    /// How far the segment starting at `first` may be read: all of it
    /// (None), unless the intake is appending to it.
    fn limit(&self, first: u64) -> Option<u64> {
        let shared = self.lock();
        (shared.current == Some(first)).then_some(shared.written)
    }

    /// Hands what was just written to the reader, if it has room.
    fn hand_over(&self, block: Block) {
        if let Err(full) = self.hot.0.try_send(block) {
            self.recycle(full.into_inner().bytes);
        }
    }

    /// The records at `at` in the segment starting at `first`, if they
    /// were handed over: older blocks are dropped, a later one kept.
    fn take_over(&self, first: u64, at: u64) -> Option<Block> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let block = held.take().or_else(|| self.hot.1.try_recv().ok())?;
            if (block.first, block.at) == (first, at) {
                return Some(block);
            }
            if (block.first, block.at) > (first, at) {
                *held = Some(block);
                return None;
            }
            self.recycle(block.bytes);
        }
    }

    /// A buffer for the intake's next writes: one handed back, or a new one.
    fn buffer(&self, capacity: usize) -> Vec<u8> {
        match self.spare.1.try_recv() {
            Ok(mut buffer) => {
                buffer.clear();
                buffer
            }
            Err(_) => Vec::with_capacity(capacity),
        }
    }

    pub fn recycle(&self, buffer: Vec<u8>) {
        // Enough buffers are waiting already: this one is freed.
        let _ = self.spare.0.try_send(buffer);
    }

    /// Whether the segment starting at `first` is still in the spool.
    fn holds(&self, first: u64) -> bool {
        self.lock().segments.iter().any(|s| s.first == first)
    }

    /// The number the next line appended will take.
    pub fn next(&self) -> u64 {
        self.lock().next
    }
}

/// A segment's file name: its first line's number, zero-padded so that
/// names sort as numbers.
pub fn name(first: u64) -> String {
    format!("{first:020}.seg")
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    match digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        true => digits.parse().ok(),
        false => None,
    }
}

/// The segments in `dir`, in order.
fn list(dir: &Path) -> io::Result<VecDeque<Segment>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(first) = entry.file_name().to_str().and_then(parse_name) else {
            continue;
        };
        segments.push(Segment {
            first,
            size: entry.metadata()?.len(),
            damaged: false,
        });
    }
    segments.sort_by_key(|s| s.first);
    Ok(segments.into())
}

/// The number of the last sound line in the newest segment that has one.
fn last_line(dir: &Path, segments: &VecDeque<Segment>, max_line: usize) -> io::Result<Option<u64>> {
    for segment in segments.iter().rev() {
        let mut scan = cursor::Scan::open(&dir.join(name(segment.first)), max_line)?;
        let mut last = None;
        while let Some(seq) = scan.next_seq()? {
            last = Some(seq);
        }
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

fn move_aside(dir: &Path, path: &Path) -> io::Result<()> {
    let aside = dir.join("damaged");
    fs::create_dir_all(&aside)?;
    fs::rename(path, aside.join(path.file_name().unwrap_or_default()))
}

fn read_index(dir: &Path) -> Result<Option<Index>, String> {
    let text = match fs::read_to_string(dir.join("index")) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(messages::io_reason(&err)),
    };
    parse_index(&text).map(Some)
}

fn parse_index(text: &str) -> Result<Index, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "it is not JSON".to_string())?;
    let number = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .ok_or(format!("no \"{key}\" number"))
    };
    let key = value
        .get("key")
        .and_then(serde_json::Value::as_str)
        .and_then(|hex| u128::from_str_radix(hex, 16).ok())
        .ok_or_else(|| "no \"key\" of hex digits".to_string())?;
    Ok(Index {
        confirmed: number("confirmed")?,
        appended: number("appended")?,
        key,
    })
}

fn render_index(index: &Index) -> String {
    format!(
        "{}\n",
        serde_json::json!({
            "version": 1,
            "confirmed": index.confirmed,
            "appended": index.appended,
            "key": format!("{:032x}", index.key),
        })
    )
}

/// Replaces the index, atomically and durably.
fn write_index(dir: &Path, index: &Index) -> io::Result<()> {
    let temporary = dir.join(".index.tmp");
    let mut out = File::create(&temporary)?;
    out.write_all(render_index(index).as_bytes())?;
    out.sync_all()?;
    drop(out);
    fs::rename(&temporary, dir.join("index"))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_as_their_numbers_and_nothing_else_is_one() {
        assert_eq!(name(42), "00000000000000000042.seg");
        assert_eq!(parse_name(&name(42)), Some(42));
        assert_eq!(parse_name(&name(u64::MAX)), Some(u64::MAX));
        assert!(name(9) < name(10));
        for other in [
            "index",
            "lock",
            "42.seg",
            "0000000000000000004x.seg",
            "00000000000000000042",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    use crate::input::scratch::Scratch;

    fn settings(scratch: &Scratch) -> Settings {
        Settings {
            dir: scratch.path().to_path_buf(),
            sync: Sync::Always,
            max_size: 1 << 20,
        }
    }

    /// A segment holding lines `from..to`.
    fn segment(from: u64, to: u64) -> Vec<u8> {
        let mut bytes = record::MAGIC.to_vec();
        for seq in from..to {
            record::write(&mut bytes, seq, 0, b"x", true);
        }
        bytes
    }

    fn index(scratch: &Scratch, confirmed: u64, appended: u64) {
        scratch.write(
            "index",
            format!("{{\"confirmed\":{confirmed},\"appended\":{appended},\"key\":\"ab\"}}"),
        );
    }

    /// The segments in the spool, and those moved aside.
    fn on_disk(scratch: &Scratch) -> (Vec<u64>, Vec<u64>) {
        let firsts = |dir: &Path| -> Vec<u64> {
            let mut firsts: Vec<u64> = fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.unwrap().file_name().to_str().and_then(parse_name))
                        .collect()
                })
                .unwrap_or_default();
            firsts.sort();
            firsts
        };
        (
            firsts(scratch.path()),
            firsts(&scratch.path().join("damaged")),
        )
    }

    #[test]
    fn segments_are_an_eighth_of_the_spool_within_4_kib_and_8_mib() {
        let scratch = Scratch::new("spool-target");
        let target = |max_size| {
            let settings = Settings {
                max_size,
                ..settings(&scratch)
            };
            Spool::open(&settings, false, 100).unwrap().segment_target
        };
        assert_eq!(target(256 << 10), 32 << 10);
        assert_eq!(target(16 << 10), 4 << 10);
        assert_eq!(target(1 << 30), 8 << 20);
    }

    #[test]
    fn an_index_not_there_is_none_and_one_that_cannot_be_read_says_why() {
        let scratch = Scratch::new("spool-index-read");
        assert_eq!(read_index(scratch.path()), Ok(None));
        fs::create_dir(scratch.path().join("index")).unwrap();
        let err = read_index(scratch.path()).unwrap_err();
        assert!(err.contains("directory"), "{err}");
    }

    #[test]
    fn what_a_crash_left_is_tidied_at_open() {
        let scratch = Scratch::new("spool-tidy");
        scratch.write(&name(0), segment(0, 3));
        scratch.write(&name(3), segment(3, 6));
        scratch.write(&name(6), segment(6, 8));
        // Started just before the crash: only its magic.
        scratch.write(&name(8), record::MAGIC);
        index(&scratch, 4, 7);
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        assert_eq!((spool.start, spool.resumed, spool.next()), (4, 4, 8));
        assert_eq!(spool.key, 0xab);
        assert_eq!(on_disk(&scratch), (vec![3, 6], vec![]));
        let index = read_index(scratch.path()).unwrap().unwrap();
        assert_eq!((index.confirmed, index.appended), (4, 8));
        assert_eq!(
            spool.gauge().1,
            (segment(3, 6).len() + segment(6, 8).len()) as u64
        );
    }

    #[test]
    fn a_newest_segment_with_no_sound_line_is_moved_aside() {
        let scratch = Scratch::new("spool-garbage");
        scratch.write(&name(0), segment(0, 3));
        let mut garbage = record::MAGIC.to_vec();
        garbage.extend_from_slice(&[0xee; 40]);
        scratch.write(&name(3), garbage);
        index(&scratch, 0, 3);
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        assert_eq!((spool.start, spool.next()), (0, 3));
        assert_eq!(on_disk(&scratch), (vec![0], vec![3]));
    }

    #[test]
    fn a_spool_wholly_confirmed_is_emptied_at_open() {
        let scratch = Scratch::new("spool-confirmed");
        scratch.write(&name(0), segment(0, 3));
        index(&scratch, 3, 3);
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        assert_eq!((spool.start, spool.resumed), (3, 0));
        assert_eq!(on_disk(&scratch), (vec![], vec![]));
    }

    #[test]
    fn numbering_goes_on_past_every_line_the_index_or_a_segment_knows() {
        // Past the index's count, when the segments hold more.
        let scratch = Scratch::new("spool-next-segments");
        scratch.write(&name(0), segment(0, 5));
        index(&scratch, 0, 2);
        assert_eq!(
            Spool::open(&settings(&scratch), false, 100).unwrap().next(),
            5
        );
        // Past the segments, when the index counted more (a cut tail).
        let scratch = Scratch::new("spool-next-index");
        scratch.write(&name(0), segment(0, 5));
        index(&scratch, 0, 9);
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        assert_eq!((spool.next(), spool.resumed), (9, 9));
    }

    #[test]
    fn without_an_index_every_line_held_is_sent_again() {
        let scratch = Scratch::new("spool-no-index");
        scratch.write(&name(5), segment(5, 8));
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        assert_eq!((spool.start, spool.resumed, spool.next()), (5, 3, 8));
        let scratch = Scratch::new("spool-bad-index");
        scratch.write(&name(5), segment(5, 8));
        scratch.write("index", "{");
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        assert_eq!((spool.start, spool.resumed, spool.next()), (5, 3, 8));
        // Written again, whole.
        assert_eq!(read_index(scratch.path()).unwrap().unwrap().confirmed, 5);
    }

    #[test]
    fn one_process_per_spool_and_a_dry_run_changes_nothing() {
        let scratch = Scratch::new("spool-lock");
        scratch.write(&name(0), segment(0, 3));
        scratch.write(&name(3), record::MAGIC);
        index(&scratch, 1, 3);
        scratch.write("lock", "");
        let before = fs::read(scratch.path().join("index")).unwrap();
        // Read only: nothing tidied, nothing written, nothing locked out.
        let looking = Spool::open(&settings(&scratch), true, 100).unwrap();
        assert_eq!((looking.start, looking.next()), (1, 3));
        looking.confirm(3).unwrap();
        assert_eq!(on_disk(&scratch), (vec![0, 3], vec![]));
        assert_eq!(fs::read(scratch.path().join("index")).unwrap(), before);
        let refused = Spool::open(&settings(&scratch), false, 100).err().unwrap();
        assert!(matches!(refused, Error::Locked { .. }), "{refused:?}");
        drop(looking);
        let spool = Spool::open(&settings(&scratch), false, 100).unwrap();
        let refused = Spool::open(&settings(&scratch), true, 100).err().unwrap();
        assert_eq!(
            refused.to_string(),
            format!(
                "--spool {}: another wsship is using this spool",
                scratch.path().display()
            )
        );
        drop(spool);
        // A spool that is not there is not made by a dry run.
        let missing = Settings {
            dir: scratch.path().join("nowhere"),
            ..settings(&scratch)
        };
        let err = Spool::open(&missing, true, 100).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "--spool {}: cannot use it: No such file or directory",
                missing.dir.display()
            )
        );
        assert!(!missing.dir.exists());
        assert!(Spool::open(&missing, false, 100).is_ok());
        assert!(missing.dir.join("index").exists());
    }

    #[test]
    fn the_last_segment_goes_once_the_intake_ends_even_with_the_index_unchanged() {
        let scratch = crate::input::scratch::Scratch::new("spool-last");
        let mut bytes = record::MAGIC.to_vec();
        for seq in 0..3 {
            record::write(&mut bytes, seq, 0, b"x", true);
        }
        scratch.write(&name(0), bytes);
        let settings = Settings {
            dir: scratch.path().to_path_buf(),
            sync: Sync::Always,
            max_size: 1 << 20,
        };
        let spool = Spool::open(&settings, false, 100).unwrap();
        assert_eq!((spool.start, spool.resumed, spool.next()), (0, 3, 3));
        let segment = scratch.path().join(name(0));
        spool.confirm(2).unwrap();
        let index = read_index(scratch.path()).unwrap().unwrap();
        assert_eq!(
            (index.confirmed, index.appended),
            (2, 3),
            "written as it moves"
        );
        spool.confirm(3).unwrap();
        assert!(segment.exists(), "the intake may still append to the spool");
        assert_eq!(spool.gauge().0, 0);
        spool.end_intake();
        spool.confirm(3).unwrap();
        assert!(!segment.exists());
        assert_eq!(spool.gauge(), (0, 0));
        let index = read_index(scratch.path()).unwrap().unwrap();
        assert_eq!((index.confirmed, index.appended), (3, 3));
    }

    #[test]
    fn the_index_reads_back_and_a_damaged_one_says_why() {
        let index = Index {
            confirmed: 10,
            appended: 25,
            key: 0xabc,
        };
        let text = render_index(&index);
        assert_eq!(
            text,
            "{\"appended\":25,\"confirmed\":10,\"key\":\"00000000000000000000000000000abc\",\"version\":1}\n"
        );
        assert_eq!(parse_index(&text), Ok(index));
        assert_eq!(parse_index("{"), Err("it is not JSON".into()));
        assert_eq!(
            parse_index("{\"confirmed\":1,\"appended\":2}"),
            Err("no \"key\" of hex digits".into())
        );
        assert_eq!(
            parse_index("{\"confirmed\":-1,\"appended\":2,\"key\":\"a\"}"),
            Err("no \"confirmed\" number".into())
        );
    }
}
