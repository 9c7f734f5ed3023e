//! One input as the reader holds it: standard input or an open file, with
//! the splitter that carries its unfinished line, where the next read
//! starts, and, for a file, what tells it apart from any other (device,
//! inode and first bytes) and what following it has learnt.
//!
//! A FILE that is a pipe, a FIFO, a socket or a device (`<(cmd)`,
//! `/dev/stdin`) is a stream, as standard input is: it cannot seek, has no
//! first bytes to read again and no size to watch, and a read may block,
//! so it is read as it comes, when poll(2) says it is readable, with no
//! position kept.
//!
//! Owned by the reader thread. A file is read through the handle opened
//! first, whatever happens to its name: that is what lets a rotated or
//! deleted file be finished.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::multiline::Multiline;
use super::split::LineSplitter;
use crate::ledger::{Account, FINGERPRINT_MAX, FileId};

pub struct Source {
    /// As given or matched on the command line; `-` for standard input.
    pub name: PathBuf,
    handle: Handle,
    pub splitter: LineSplitter,
    /// Its lines joined into events, with --multiline-start or -continue.
    pub multiline: Option<Multiline>,
    /// Where the next read starts.
    pub offset: u64,
    /// Its account in the ledger, when a state file is kept.
    pub account: Option<Account>,
    /// How far its lines were accounted for when last handed on.
    pub passed: u64,
    /// Files only.
    pub id: Option<FileId>,
    /// The file's first bytes, up to FINGERPRINT_MAX, as read.
    pub head: Vec<u8>,
    /// What following has learnt (unused when not following).
    pub follow: Following,
    /// Standard input, or a file that is not a regular one.
    stream: bool,
}

enum Handle {
    /// Descriptor 0, never closed by us.
    Stdin(ManuallyDrop<File>),
    File(File),
}

/// A followed file's bookkeeping.
#[derive(Debug)]
pub struct Following {
    /// The last read found the end: wait for the next check.
    pub at_end: bool,
    pub next_check: Instant,
    /// How long the next idle wait is: short after data, longer while quiet.
    pub idle_wait: std::time::Duration,
    /// Size and modification time at the last check, to notice change.
    pub seen: Option<(u64, Option<SystemTime>)>,
    /// When the file stopped being at its name (rotated or deleted), and
    /// when it last grew since: it is released once quiet for long enough.
    pub detached: Option<Instant>,
    pub grew: Instant,
    /// Its name came from a pattern: forgotten, not waited for, when gone.
    pub matched: bool,
}

impl Following {
    fn new() -> Following {
        let now = Instant::now();
        Following {
            at_end: false,
            next_check: now,
            idle_wait: super::follow::IDLE_MIN,
            seen: None,
            detached: None,
            grew: now,
            matched: false,
        }
    }
}

impl Source {
    pub fn stdin(max_len: usize) -> Source {
        // SAFETY: descriptor 0 is open for the life of the process; the
        // ManuallyDrop keeps the File from closing it.
        let stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        Source::stream(PathBuf::from("-"), Handle::Stdin(stdin), max_len)
    }

    /// A file open that is not a regular file (see `is_stream`), read from
    /// where it stands.
    pub fn pipe(name: PathBuf, file: File, max_len: usize) -> Source {
        Source::stream(name, Handle::File(file), max_len)
    }

    fn stream(name: PathBuf, handle: Handle, max_len: usize) -> Source {
        Source {
            name,
            handle,
            splitter: LineSplitter::new(max_len, 0),
            multiline: None,
            offset: 0,
            account: None,
            passed: 0,
            id: None,
            head: Vec::new(),
            follow: Following::new(),
            stream: true,
        }
    }

    /// A file already open, to be read from `offset` on.
    pub fn file(
        name: PathBuf,
        file: File,
        metadata: &Metadata,
        offset: u64,
        max_len: usize,
    ) -> io::Result<Source> {
        let mut source = Source {
            name,
            handle: Handle::File(file),
            splitter: LineSplitter::new(max_len, offset),
            multiline: None,
            offset,
            account: None,
            passed: offset,
            id: Some(file_id(metadata)),
            head: Vec::new(),
            follow: Following::new(),
            stream: false,
        };
        source.head = source.read_head(FINGERPRINT_MAX)?;
        source.seek(offset)?;
        Ok(source)
    }

    /// Standard input, a pipe, a FIFO, a socket or a device: read when
    /// poll(2) says so, to its end, and never given a position.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    pub fn fd(&self) -> RawFd {
        match &self.handle {
            Handle::Stdin(file) => file.as_raw_fd(),
            Handle::File(file) => file.as_raw_fd(),
        }
    }

    /// Reads the next bytes into `buf`; 0 at the end (for now, if followed).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            let result = match &mut self.handle {
                Handle::Stdin(file) => file.read(buf),
                Handle::File(file) => file.read(buf),
            };
            match result {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        // The first bytes are the file's fingerprint.
        if self.id.is_some() && self.offset < FINGERPRINT_MAX as u64 {
            let have = self.head.len() as u64;
            if self.offset + n as u64 > have && self.offset <= have {
                let from = (have - self.offset) as usize;
                let upto = (FINGERPRINT_MAX - self.head.len()).min(n - from);
                self.head.extend_from_slice(&buf[from..from + upto]);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }

    /// The file's metadata through the open handle.
    pub fn metadata(&self) -> io::Result<Metadata> {
        match &self.handle {
            Handle::Stdin(file) => file.metadata(),
            Handle::File(file) => file.metadata(),
        }
    }

    /// Up to `len` bytes from the start of the file, without moving the
    /// read position.
    pub fn read_head(&self, len: usize) -> io::Result<Vec<u8>> {
        let Handle::File(file) = &self.handle else {
            return Ok(Vec::new());
        };
        if self.stream {
            return Ok(Vec::new());
        }
        let mut head = vec![0; len];
        let mut have = 0;
        while have < len {
            match file.read_at(&mut head[have..], have as u64) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        head.truncate(have);
        Ok(head)
    }

    /// Whether the file still starts with the bytes first read from it.
    pub fn same_head(&self) -> io::Result<bool> {
        Ok(self.read_head(self.head.len())? == self.head)
    }

    /// Where everything before is accounted for: the end of the last line
    /// handed on, but not past the start of a pending event.
    pub fn accounted(&self) -> u64 {
        let consumed = self.splitter.consumed();
        match self.multiline.as_ref().and_then(Multiline::pending_start) {
            Some(start) => start.min(consumed),
            None => consumed,
        }
    }

    /// When the pending event must be sent if no line comes first.
    pub fn event_deadline(&self) -> Option<Instant> {
        self.multiline.as_ref().and_then(Multiline::deadline)
    }

    /// Starts again at `offset`, forgetting any unfinished line or event.
    pub fn restart(&mut self, offset: u64, max_len: usize) -> io::Result<()> {
        self.splitter = LineSplitter::new(max_len, offset);
        if let Some(multiline) = &mut self.multiline {
            multiline.restart(offset);
        }
        self.passed = offset;
        self.head = self.read_head(FINGERPRINT_MAX)?;
        self.seek(offset)
    }

    fn seek(&mut self, offset: u64) -> io::Result<()> {
        if let Handle::File(file) = &mut self.handle {
            file.seek(SeekFrom::Start(offset))?;
        }
        self.offset = offset;
        Ok(())
    }
}

/// Opens `path` for reading without waiting: a FIFO's open(2) would wait
/// for a writer, where no signal could end the wait. poll(2) waits for it
/// instead, along with the shutdown pipe. Reads block as usual, and are
/// made only when poll(2) says a stream is readable.
pub fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl(2) on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Whether a file is a stream: a FIFO (a pipe), a character device or a
/// socket, none of which can seek or be read again. A directory is not: it
/// fails at its first read, as with `cat`.
pub fn is_stream(metadata: &Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    kind.is_fifo() || kind.is_char_device() || kind.is_socket()
}

pub fn file_id(metadata: &Metadata) -> FileId {
    FileId {
        dev: metadata.dev(),
        ino: metadata.ino(),
    }
}

/// Where a line starts at or before `size`: just past the last newline, so
/// that `--start-at end` never begins in the middle of a line. Looks back
/// at most one read's worth; failing that, `size` itself.
pub fn last_line_start(file: &File, size: u64) -> u64 {
    const LOOK_BACK: u64 = 64 * 1024;
    let from = size.saturating_sub(LOOK_BACK);
    let mut tail = vec![0; (size - from) as usize];
    match file.read_exact_at(&mut tail, from) {
        Ok(()) => match memchr::memrchr(b'\n', &tail) {
            Some(at) => from + at as u64 + 1,
            None if from == 0 => 0,
            None => size,
        },
        Err(_) => size,
    }
}

/// The absolute form of a path for the state file, which may be read from
/// another working directory.
pub fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}
