//! The intake: a thread of its own that owns standard input and appends
//! every line to the spool, so that reading never waits for the network,
//! only for disk, and for room under --spool-max-size.
//!
//! Lines are split with the usual cap (a line longer than --max-len is
//! dropped whole and counted), stamped with the time they were read, and
//! written out after each read. With `--spool-sync always` the intake
//! forces each write to disk itself; otherwise the keeper's thread does,
//! every --spool-sync, so that reading never waits for the disk to flush.
//! When the spool is full, --when-full says whether reading waits for
//! confirmations to free room or new lines are dropped (counted); lines
//! already spooled are never dropped to make room.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::record::{self, HEADER, MAGIC};
use super::{Block, Segment, Spool, Sync, name};
use crate::config::WhenFull;
use crate::input::split::{LineSplitter, Piece};
use crate::messages;
use crate::shutdown::Shutdown;
use crate::stats::Stats;

const READ_BUFFER: usize = 64 * 1024;

/// Written out at once past this much, even within one read.
const WRITE_AT: usize = 256 * 1024;

/// How often a reader blocked on a full spool looks for a shutdown.
const FULL_LOOK: Duration = Duration::from_millis(50);

/// Reads standard input into the spool until its end or a shutdown.
/// An error writing the spool stops the run: what cannot be spooled
/// cannot be promised.
pub fn run(spool: &Spool, max_len: usize, when_full: WhenFull, stats: &Stats, shutdown: &Shutdown) {
    let mut intake = Intake {
        writer: Writer::new(spool),
        splitter: LineSplitter::new(max_len, 0),
        when_full,
        stats,
        shutdown,
        full_said: false,
        error: None,
        lost: 0,
        read: 0,
    };
    intake.read();
    if let Err(err) = intake.writer.finish() {
        intake.fail(err);
    }
    if let Some(err) = &intake.error {
        if shutdown.abort() {
            messages::error!(
                "--spool {}: cannot write: {}; {} not spooled",
                spool.dir().display(),
                messages::io_reason(err),
                messages::count(intake.lost as usize, "line")
            );
        }
    }
    stats.not_spooled(intake.lost as usize);
    spool.end_intake();
}

struct Intake<'a> {
    writer: Writer<'a>,
    splitter: LineSplitter,
    when_full: WhenFull,
    stats: &'a Stats,
    shutdown: &'a Shutdown,
    full_said: bool,
    error: Option<io::Error>,
    /// Lines read that could not be spooled (an error, or a shutdown while
    /// waiting for room).
    lost: u64,
    /// Lines of this read, not yet counted.
    read: u64,
}

impl Intake<'_> {
    fn read(&mut self) {
        // SAFETY: descriptor 0 is open for the life of the process; the
        // ManuallyDrop keeps the File from closing it.
        let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        let mut buffer = vec![0; READ_BUFFER];
        loop {
            if self.shutdown.is_stopping() || self.error.is_some() {
                return;
            }
            if !wait(stdin.as_raw_fd(), self.shutdown) {
                return;
            }
            let n = match stdin.read(&mut buffer) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    messages::error!("-: {}", messages::io_reason(&err));
                    self.stats.input_error();
                    0
                }
            };
            let time = nanos(SystemTime::now());
            let mut splitter = std::mem::replace(&mut self.splitter, LineSplitter::new(0, 0));
            match n {
                0 => splitter.finish(|piece, _| self.take(piece, time)),
                _ => splitter.feed(&buffer[..n], |piece, _| self.take(piece, time)),
            }
            self.splitter = splitter;
            self.stats.read(std::mem::take(&mut self.read) as usize);
            if let Err(err) = self.writer.flush() {
                self.fail(err);
            }
            if n == 0 {
                return;
            }
        }
    }

    /// One line read: spooled, dropped, or lost to an error.
    fn take(&mut self, piece: Piece<'_>, time: i64) {
        let (line, plain) = match piece {
            Piece::Oversize => {
                self.stats.read_and_dropped(1);
                return;
            }
            Piece::Line { line, plain, .. } => (line, plain),
        };
        // Counted a read at a time: an atomic add per line, on a counter
        // the reader thread also writes, cost more than the rest here.
        self.read += 1;
        // A shutdown does not stop this: what was read is spooled, which
        // needs no network, for the next run to send.
        if self.error.is_some() {
            self.lost += 1;
            return;
        }
        loop {
            match self.writer.append(line, plain, time) {
                Ok(true) => break,
                Ok(false) => {}
                Err(err) => {
                    self.fail(err);
                    self.lost += 1;
                    return;
                }
            }
            // Full.
            if self.when_full == WhenFull::Drop {
                self.say_full("new lines are dropped (--when-full drop)");
                self.stats.dropped_full(1);
                return;
            }
            self.say_full("reading waits for lines to be confirmed (--when-full block)");
            if let Err(err) = self.writer.flush() {
                self.fail(err);
                self.lost += 1;
                return;
            }
            if !self
                .writer
                .wait_for_room(HEADER + line.len(), self.shutdown)
            {
                self.lost += 1;
                return;
            }
        }
        if self.full_said {
            self.full_said = false;
            messages::notice!(
                "--spool {}: room again; spooling every line",
                self.writer.spool.dir().display()
            );
        }
    }

    fn say_full(&mut self, what: &str) {
        if !std::mem::replace(&mut self.full_said, true) {
            messages::error!(
                "--spool {}: full (--spool-max-size {}): {what}",
                self.writer.spool.dir().display(),
                self.writer.spool.settings.max_size
            );
        }
    }

    fn fail(&mut self, err: io::Error) {
        if self.error.is_none() {
            self.error = Some(err);
        }
    }
}

/// Nanoseconds since the Unix epoch, as records keep time.
pub fn nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Appends records to the newest segment, a segment of this run's own.
struct Writer<'a> {
    spool: &'a Spool,
    file: Option<File>,
    /// The segment's first line, its size on disk, and what waits to be
    /// written.
    first: u64,
    size: u64,
    buf: Vec<u8>,
    /// The number of the next line.
    next: u64,
    /// Bytes that may still be appended before the spool is full, as last
    /// counted.
    room: u64,
    /// With `--spool-sync always`: a segment was named since the last
    /// time the directory was forced to disk.
    named: bool,
}

impl<'a> Writer<'a> {
    fn new(spool: &'a Spool) -> Writer<'a> {
        let mut writer = Writer {
            spool,
            file: None,
            first: 0,
            size: 0,
            buf: Vec::with_capacity(WRITE_AT + READ_BUFFER),
            next: spool.next(),
            room: 0,
            named: false,
        };
        writer.count_room();
        writer
    }

    fn count_room(&mut self) {
        let used = self.spool.lock().size + self.buf.len() as u64;
        self.room = self.spool.settings.max_size.saturating_sub(used);
    }

    /// Appends a line; false if the spool has no room for it.
    fn append(&mut self, line: &[u8], plain: bool, time: i64) -> io::Result<bool> {
        // First, since a new segment takes room too.
        if self.file.is_none() || self.size + self.buf.len() as u64 >= self.spool.segment_target {
            self.roll()?;
        }
        let need = (HEADER + line.len()) as u64;
        if need > self.room {
            self.count_room();
            if need > self.room {
                return Ok(false);
            }
        }
        record::write(&mut self.buf, self.next, time, line, plain);
        self.next += 1;
        self.room -= need;
        if self.buf.len() >= WRITE_AT {
            self.flush()?;
        }
        Ok(true)
    }

    /// Writes out what waits, tells the reader, and forces it to disk if
    /// --spool-sync says so.
    fn flush(&mut self) -> io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        if self.buf.is_empty() {
            return Ok(());
        }
        file.write_all(&self.buf)?;
        let written = self.buf.len() as u64;
        let at = self.size;
        self.size += written;
        {
            let mut shared = self.spool.lock();
            shared.size += written;
            shared.written = self.size;
            shared.next = self.next;
            if let Some(segment) = shared.segments.back_mut() {
                segment.size = self.size;
            }
        }
        // After `written` moved: the reader takes a block only where the
        // file may be read.
        let bytes = std::mem::replace(&mut self.buf, self.spool.buffer(WRITE_AT + READ_BUFFER));
        self.spool.hand_over(Block {
            first: self.first,
            at,
            bytes,
        });
        self.spool.ring();
        match self.spool.settings.sync {
            Sync::Always => self.sync(),
            // Forced by the keeper's thread, not here: reading waits for
            // no flush of the disk.
            Sync::Every(_) => {
                self.spool.written();
                Ok(())
            }
        }
    }

    /// Forces the segment to disk, and its name if it is new: with
    /// `--spool-sync always`, after every write.
    fn sync(&mut self) -> io::Result<()> {
        if let Some(file) = &self.file {
            file.sync_data()?;
        }
        if std::mem::take(&mut self.named) {
            File::open(self.spool.dir())?.sync_all()?;
        }
        Ok(())
    }

    /// Starts a new segment, named by the next line's number.
    fn roll(&mut self) -> io::Result<()> {
        self.flush()?;
        let dir = self.spool.dir();
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(dir.join(name(self.next)))?;
        file.write_all(MAGIC)?;
        if let Sync::Every(_) = self.spool.settings.sync {
            self.spool.track(self.next, file.try_clone()?);
        }
        self.file = Some(file);
        // The new name must survive a crash as much as what is in it.
        self.named = true;
        self.first = self.next;
        self.size = MAGIC.len() as u64;
        let mut shared = self.spool.lock();
        shared.segments.push_back(Segment {
            first: self.next,
            size: self.size,
            damaged: false,
        });
        shared.current = Some(self.next);
        shared.written = self.size;
        shared.size += self.size;
        self.room = self.room.saturating_sub(self.size);
        Ok(())
    }

    /// Waits until `need` bytes fit, or a shutdown begins (false).
    fn wait_for_room(&mut self, need: usize, shutdown: &Shutdown) -> bool {
        let max = self.spool.settings.max_size;
        let mut shared = self.spool.lock();
        while shared.size + need as u64 > max {
            if shutdown.is_stopping() {
                return false;
            }
            shared = self
                .spool
                .room
                .wait_timeout(shared, FULL_LOOK)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(shared);
        self.count_room();
        true
    }

    /// Writes out what is left; the segment is no longer appended to.
    /// The keeper forces to disk what is still unconfirmed, within
    /// --spool-sync and at the end: a run that delivers everything soon
    /// after its input ends forces nothing at all.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        self.spool.lock().current = None;
        Ok(())
    }
}

/// Waits until `fd` is readable (or at its end, or in error: a read
/// tells), or a shutdown begins (false).
fn wait(fd: i32, shutdown: &Shutdown) -> bool {
    let mut fds = [shutdown.wake_fd(), fd].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: `fds` holds two valid pollfds.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        // If poll itself failed, the read says why.
        return fds[0].revents == 0;
    }
}
