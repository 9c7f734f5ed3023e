//! One input as the reader holds it: standard input or an open file, with
//! the splitter that carries its unfinished line, where the next read
//! starts, and, for a file, what tells it apart from any other (device,
//! inode and first bytes).
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
//!
//! Beside it, the few looks at the file system that the reader and the
//! follower share: opening without waiting, a file's identity and first
//! bytes, and where a record's file is now (`locate`).

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::multiline::Multiline;
use super::record::{self, Likeness, Seen, Whereabouts};
use super::split::LineSplitter;
use crate::encode::origin::Origin;
use crate::ledger::{Account, FINGERPRINT_MAX, FileId, Record};

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
    /// Standard input, or a file that is not a regular one.
    stream: bool,
    /// What --path-key says of a file: the absolute name it had when its
    /// record was made. Empty for a stream.
    pub path: String,
    /// Its record's generation (`ledger::Record`).
    pub generation: u32,
    /// What a stream's ids are drawn from (see `encode::origin`).
    key: u128,
}

enum Handle {
    /// Descriptor 0, never closed by us.
    Stdin(ManuallyDrop<File>),
    File(File),
    /// The spool, read through its cursor; the descriptor (not ours) is
    /// the one polled for more.
    Spool(RawFd),
}

impl Source {
    pub fn stdin(max_len: usize) -> Source {
        // SAFETY: descriptor 0 is open for the life of the process; the
        // ManuallyDrop keeps the File from closing it.
        let stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        Source::stream(PathBuf::from("-"), Handle::Stdin(stdin), max_len)
    }

    /// The spool (--spool), whose next line is numbered `next`, and whose
    /// ids are drawn from `key` in every run.
    pub fn spooled(bell: RawFd, key: u128, next: u64, max_len: usize) -> Source {
        let mut source = Source::stream(PathBuf::from("-"), Handle::Spool(bell), max_len);
        source.key = key;
        source.splitter = LineSplitter::new(max_len, next);
        (source.offset, source.passed) = (next, next);
        source
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
            stream: true,
            path: String::new(),
            generation: 0,
            key: rand::random(),
        }
    }

    /// A file already open, to be read from `offset` on, whose first bytes
    /// (up to FINGERPRINT_MAX, `read_head`) are `head`.
    pub fn file(
        name: PathBuf,
        file: File,
        metadata: &Metadata,
        head: Vec<u8>,
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
            head,
            stream: false,
            path: String::new(),
            generation: 0,
            key: 0,
        };
        source.seek(offset)?;
        Ok(source)
    }

    /// What the encoder needs to know of this input for the messages' path,
    /// offset and id.
    pub fn origin(&self) -> Origin<'_> {
        match (&self.id, self.stream) {
            (Some(id), false) => Origin::File {
                path: &self.path,
                ino: id.ino,
                generation: self.generation,
                head: &self.head,
            },
            _ => Origin::Stream { key: self.key },
        }
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
            Handle::Spool(fd) => *fd,
        }
    }

    /// Reads the next bytes into `buf`; 0 at the end (for now, if followed).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            let result = match &mut self.handle {
                Handle::Stdin(file) => file.read(buf),
                Handle::File(file) => file.read(buf),
                // Read through its cursor.
                Handle::Spool(_) => Ok(0),
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
            Handle::Spool(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Up to `len` bytes from the start of the file, without moving the
    /// read position.
    pub fn read_head(&self, len: usize) -> io::Result<Vec<u8>> {
        match &self.handle {
            Handle::File(file) if !self.stream => read_head(file, len),
            _ => Ok(Vec::new()),
        }
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

/// Up to `len` bytes from the start of `file`, without moving its read
/// position; fewer only if the file is shorter.
pub fn read_head(file: &File, len: usize) -> io::Result<Vec<u8>> {
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

/// Where the last line of a file of `size` bytes starts, so that
/// `--start-at end` never begins in the middle of a line: just past the
/// last newline, looked for backwards a read at a time. `None` if the last
/// line is already longer than `max_len` (+1 for a `\r`): a line that will
/// be dropped whole, whose newline is still to come, and nothing before
/// that newline needs reading.
pub fn last_line_start(file: &File, size: u64, max_len: usize) -> io::Result<Option<u64>> {
    const READ: u64 = 64 * 1024;
    let longest = (max_len as u64).saturating_add(1);
    let mut tail = vec![0; READ as usize];
    let mut to = size;
    while to > 0 {
        if size - to > longest {
            return Ok(None);
        }
        let from = to.saturating_sub(READ);
        let part = &mut tail[..(to - from) as usize];
        file.read_exact_at(part, from)?;
        if let Some(at) = memchr::memrchr(b'\n', part) {
            let start = from + at as u64 + 1;
            return Ok((size - start <= longest).then_some(start));
        }
        to = from;
    }
    Ok((size <= longest).then_some(0))
}

/// Where a record's file is now: at its path; or else under another name in
/// the same directory (rotated), found with a `readdir` and an `lstat` of
/// each entry, and the first bytes of an entry only if it has the record's
/// inode; or else at one of `also` (the files this run's patterns match,
/// which may be in another directory, as logrotate's `olddir` makes them);
/// or nowhere. A directory that cannot be read hides the file: gone.
pub fn locate(record: &Record, also: &[PathBuf]) -> Whereabouts {
    let path = Path::new(&record.path);
    match compare(record, path) {
        Some(Likeness::Same) => return Whereabouts::AtPath,
        Some(Likeness::Replaced) => return Whereabouts::Replaced,
        Some(Likeness::Other) | None => {}
    }
    let directory = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let entries = std::fs::read_dir(directory).into_iter().flatten().flatten();
    let candidates = entries
        .map(|entry| entry.path())
        .chain(also.iter().cloned());
    for candidate in candidates {
        let right_inode = std::fs::symlink_metadata(&candidate)
            .is_ok_and(|m| m.is_file() && m.ino() == record.id.ino);
        if right_inode && candidate != path && compare(record, &candidate) == Some(Likeness::Same) {
            return Whereabouts::Moved(candidate);
        }
    }
    Whereabouts::Gone
}

/// How the regular file at `path` compares with `record`, reading its first
/// bytes only if it has the record's inode; `None` if there is none.
pub fn compare(record: &Record, path: &Path) -> Option<Likeness> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    let id = file_id(&metadata);
    if id.ino != record.id.ino {
        return Some(Likeness::Other);
    }
    let head = read_head(&File::open(path).ok()?, record.fingerprint.len).ok()?;
    let seen = Seen {
        id: &id,
        head: &head,
        size: metadata.len(),
    };
    Some(record::likeness(record, seen))
}

/// The absolute form of a path for the state file, which may be read from
/// another working directory.
pub fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Raises the soft limit on open files to the hard one, as other log
/// shippers do: each followed file holds a descriptor, and the usual soft
/// limit of 1024 is far below what the hard limit allows. Returns the limit
/// in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) and setrlimit(2) with a valid rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(io::Error::last_os_error());
            }
            limit = raised;
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scratch::Scratch;
    use crate::ledger::Fingerprint;

    fn last_line(scratch: &Scratch, content: &[u8], max_len: usize) -> Option<u64> {
        let path = scratch.write("last", content);
        let file = File::open(path).unwrap();
        last_line_start(&file, content.len() as u64, max_len).unwrap()
    }

    #[test]
    fn the_last_line_starts_after_the_last_newline_however_far_back() {
        let scratch = Scratch::new("last-line");
        assert_eq!(last_line(&scratch, b"", 100), Some(0));
        assert_eq!(last_line(&scratch, b"one\ntwo\n", 100), Some(8));
        assert_eq!(last_line(&scratch, b"one\ntwo", 100), Some(4));
        assert_eq!(last_line(&scratch, b"no newline at all", 100), Some(0));
        // Longer than a read back (64 KiB), within --max-len.
        let long = [b"first\n".as_slice(), &[b'x'; 200_000]].concat();
        assert_eq!(last_line(&scratch, &long, 1 << 20), Some(6));
        let one_line = vec![b'x'; 200_000];
        assert_eq!(last_line(&scratch, &one_line, 1 << 20), Some(0));
        // Already longer than --max-len (+1 for a \r): dropped whole anyway.
        assert_eq!(last_line(&scratch, &long, 1000), None);
        assert_eq!(last_line(&scratch, &one_line, 1000), None);
        let exactly = [b"a\n".as_slice(), &[b'x'; 1001]].concat();
        assert_eq!(last_line(&scratch, &exactly, 1000), Some(2));
        let over = [b"a\n".as_slice(), &[b'x'; 1002]].concat();
        assert_eq!(last_line(&scratch, &over, 1000), None);
    }

    #[test]
    fn a_head_is_the_first_bytes_or_the_whole_of_a_shorter_file() {
        let scratch = Scratch::new("head");
        let path = scratch.write("f", b"0123456789");
        let file = File::open(path).unwrap();
        assert_eq!(read_head(&file, 4).unwrap(), b"0123");
        assert_eq!(read_head(&file, 64).unwrap(), b"0123456789");
    }

    fn record_of(path: &Path, position: u64) -> Record {
        let metadata = std::fs::metadata(path).unwrap();
        let head = std::fs::read(path).unwrap();
        Record {
            path: path.to_string_lossy().into_owned(),
            id: file_id(&metadata),
            fingerprint: Fingerprint::of(&head[..head.len().min(FINGERPRINT_MAX)]),
            position,
            generation: 0,
        }
    }

    #[test]
    fn a_record_s_file_is_found_at_its_path_in_its_directory_or_not_at_all() {
        let scratch = Scratch::new("locate");
        let log = scratch.write("app.log", b"first line\n");
        let record = record_of(&log, 11);
        assert_eq!(locate(&record, &[]), Whereabouts::AtPath);
        // Rotated: under any other name in the same directory.
        let rotated = scratch.path().join("app.log.1");
        std::fs::rename(&log, &rotated).unwrap();
        scratch.write("app.log", b"a new file\n");
        assert_eq!(locate(&record, &[]), Whereabouts::Moved(rotated.clone()));
        // Another device number (a reboot): the inode and first bytes
        // decide.
        let rebooted = Record {
            id: FileId {
                dev: record.id.dev + 1,
                ..record.id.clone()
            },
            ..record.clone()
        };
        assert_eq!(locate(&rebooted, &[]), Whereabouts::Moved(rotated.clone()));
        // Moved to another directory: found only among the files given.
        let elsewhere = Scratch::new("locate-elsewhere");
        let moved = elsewhere.path().join("app.log.1");
        std::fs::rename(&rotated, &moved).unwrap();
        assert_eq!(locate(&record, &[]), Whereabouts::Gone);
        let also = [elsewhere.path().join("other"), moved.clone()];
        assert_eq!(locate(&record, &also), Whereabouts::Moved(moved.clone()));
        std::fs::rename(&moved, &rotated).unwrap();
        // Written over at the same inode: not the file the record knew.
        std::fs::write(&rotated, b"other content\n").unwrap();
        assert_eq!(locate(&record, &[]), Whereabouts::Gone);
        // Compressed away.
        std::fs::remove_file(&rotated).unwrap();
        assert_eq!(locate(&record, &[]), Whereabouts::Gone);
        // In place, with other content: replaced.
        let log = scratch.write("b.log", b"first line\n");
        let record = record_of(&log, 11);
        std::fs::write(&log, b"second file\n").unwrap();
        assert_eq!(locate(&record, &[]), Whereabouts::Replaced);
        // A directory that cannot be read hides it.
        let lost = Record {
            path: "/nonexistent/dir/app.log".into(),
            ..record
        };
        assert_eq!(locate(&lost, &[]), Whereabouts::Gone);
    }

    #[test]
    fn the_soft_limit_on_open_files_is_at_least_what_it_was() {
        let mut before = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit(2) with a valid rlimit.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut before) },
            0
        );
        let limit = raise_open_files_limit().unwrap();
        assert_eq!(limit, before.rlim_max);
    }
}
