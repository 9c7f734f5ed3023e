//! The state file (`--state`): for each input file, its identity and the
//! position of the first byte not yet accounted for, so that the next run
//! starts exactly there.
//!
//! A file is known by its device and inode, which survive a rename (a
//! rotated `app.log.1` is still the file that was `app.log`), and by a
//! fingerprint of its first bytes (up to 1 KiB: FNV-1a, 64 bits, with the
//! count of bytes it covers), which tells it from a later file that reuses
//! the inode, or from the same file truncated and written again.
//!
//! The format is JSON, versioned, one object per file:
//!
//! ```json
//! {"version": 1, "files": [{"path": "/var/log/app.log", "dev": 2049,
//!   "inode": 1311, "fingerprint": {"bytes": 1024, "fnv1a": "5d2c…"},
//!   "position": 73411}]}
//! ```
//!
//! `path` is the name the file was opened under. A file let go (closed
//! once quiet away from its name, `input::record`) also has `"end"`: how
//! far it was read. `"generation"`, when not 0, counts the files seen on
//! the inode before this one (`ledger::Record`; ids take it in).
//! `"names"`, when there, lists FILEs given that records had and that have
//! none now. A version 1 reader that predates these ignores them.
//!
//! It is written whole to a temporary file in the same directory, synced,
//! renamed over the old one, and the directory synced: a crash leaves the
//! old state or the new, never half of one. A state that cannot be read
//! stops the run at start, naming the file: never a silent fresh start that
//! sends everything again. An advisory lock on `FILE.lock`, held for the
//! whole run, keeps a second wsship off the same state.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::ledger::{FileId, Fingerprint, Phase, Record, Saved};
use crate::messages::io_reason;

/// The format this build writes, and the newest it reads.
const VERSION: u64 = 1;

#[derive(Debug)]
pub enum StateError {
    /// Another process holds the lock.
    Locked { path: PathBuf },
    /// The file, its directory or its lock cannot be opened or read.
    Io { path: PathBuf, source: io::Error },
    /// The file is there but is not a state this build can read.
    Corrupt { path: PathBuf, reason: String },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Locked { path } => write!(
                f,
                "--state {}: another wsship is using this state file; each run needs a state \
                 of its own",
                path.display()
            ),
            StateError::Io { path, source } => {
                write!(f, "--state {}: {}", path.display(), io_reason(source))
            }
            StateError::Corrupt { path, reason } => write!(
                f,
                "--state {}: not a state file wsship can read ({reason}); restore it from a \
                 backup, or move it away to start afresh (every file is then read from \
                 --start-at)",
                path.display()
            ),
        }
    }
}

/// No `source()`: the Display says the cause already, and a reporter that
/// walks the chain would say it twice.
impl std::error::Error for StateError {}

/// The state file of this run, locked until the run ends.
pub struct StateFile {
    path: PathBuf,
    /// Held, never read: the lock lives as long as the descriptor.
    _lock: File,
}

impl StateFile {
    /// Locks the state and reads what it holds (nothing, if it does not
    /// exist yet). Creates the directory it lives in if need be.
    pub fn open(path: &Path) -> Result<(StateFile, Saved), StateError> {
        let io_error = |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        };
        fs::create_dir_all(directory_of(path)).map_err(io_error)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .map_err(io_error)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = io::Error::last_os_error();
            return Err(match err.kind() {
                io::ErrorKind::WouldBlock => StateError::Locked {
                    path: path.to_path_buf(),
                },
                _ => io_error(err),
            });
        }
        let records = StateFile::read(path)?;
        let file = StateFile {
            path: path.to_path_buf(),
            _lock: lock,
        };
        Ok((file, records))
    }

    /// What the state holds (nothing, if it does not exist yet), without
    /// locking it or creating anything: for --dry-run, which writes nothing.
    pub fn read(path: &Path) -> Result<Saved, StateError> {
        match fs::read_to_string(path) {
            Ok(text) => parse(&text).map_err(|reason| StateError::Corrupt {
                path: path.to_path_buf(),
                reason,
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Saved::default()),
            Err(err) if err.kind() == io::ErrorKind::InvalidData => Err(StateError::Corrupt {
                path: path.to_path_buf(),
                reason: "it is not UTF-8".into(),
            }),
            Err(source) => Err(StateError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the state with `saved`, atomically and durably.
    pub fn write(&self, saved: &Saved) -> io::Result<()> {
        let dir = directory_of(&self.path);
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = dir.join(format!(".{name}.tmp"));
        let mut out = File::create(&temporary)?;
        out.write_all(render(saved).as_bytes())?;
        out.sync_all()?;
        drop(out);
        fs::rename(&temporary, &self.path)?;
        // The rename itself must survive a crash too.
        File::open(dir)?.sync_all()
    }
}

/// The directory `path` is in: "." for a bare name, whose parent is "".
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn render(saved: &Saved) -> String {
    let files: Vec<Value> = saved
        .files
        .iter()
        .map(|(record, phase)| {
            let mut file = json!({
                "path": record.path,
                "dev": record.id.dev,
                "inode": record.id.ino,
                "fingerprint": {
                    "bytes": record.fingerprint.len,
                    "fnv1a": format!("{:016x}", record.fingerprint.hash),
                },
                "position": record.position,
            });
            if let Phase::LetGo { end } = phase {
                file["end"] = json!(end);
            }
            if record.generation > 0 {
                file["generation"] = json!(record.generation);
            }
            file
        })
        .collect();
    let mut state = json!({ "version": VERSION, "files": files });
    if !saved.names.is_empty() {
        state["names"] = json!(saved.names);
    }
    let mut text = serde_json::to_string_pretty(&state).expect("JSON values render");
    text.push('\n');
    text
}

fn parse(text: &str) -> Result<Saved, String> {
    let state: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let version = state
        .get("version")
        .and_then(Value::as_u64)
        .ok_or("no \"version\" number")?;
    if version > VERSION {
        return Err(format!(
            "version {version}, written by a newer wsship; this one reads up to {VERSION}"
        ));
    }
    let files = state
        .get("files")
        .and_then(Value::as_array)
        .ok_or("no \"files\" list")?;
    let files = files
        .iter()
        .enumerate()
        .map(|(i, file)| parse_file(file).map_err(|e| format!("file {}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    let names = match state.get("names") {
        None => Vec::new(),
        Some(names) => names
            .as_array()
            .and_then(|names| names.iter().map(|n| n.as_str().map(String::from)).collect())
            .ok_or("\"names\" is not a list of strings")?,
    };
    Ok(Saved { files, names })
}

fn parse_file(file: &Value) -> Result<(Record, Phase), String> {
    let number = |value: Option<&Value>, key: &str| {
        value
            .and_then(Value::as_u64)
            .ok_or(format!("no \"{key}\" number"))
    };
    let fingerprint = file.get("fingerprint").ok_or("no \"fingerprint\"")?;
    let len = number(fingerprint.get("bytes"), "bytes")? as usize;
    let hash = fingerprint
        .get("fnv1a")
        .and_then(Value::as_str)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or("no \"fnv1a\" hexadecimal digest")?;
    if len > crate::ledger::FINGERPRINT_MAX {
        return Err(format!("a fingerprint of {len} bytes"));
    }
    let phase = match file.get("end") {
        None => Phase::Carried,
        end => Phase::LetGo {
            end: number(end, "end")?,
        },
    };
    let record = Record {
        path: file
            .get("path")
            .and_then(Value::as_str)
            .ok_or("no \"path\" string")?
            .to_string(),
        id: FileId {
            dev: number(file.get("dev"), "dev")?,
            ino: number(file.get("inode"), "inode")?,
        },
        fingerprint: Fingerprint { len, hash },
        position: number(file.get("position"), "position")?,
        generation: match file.get("generation") {
            None => 0,
            some => u32::try_from(number(some, "generation")?)
                .map_err(|_| "a \"generation\" past 2^32")?,
        },
    };
    Ok((record, phase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scratch::Scratch;

    fn record(path: &str, ino: u64, position: u64) -> Record {
        Record {
            path: path.into(),
            id: FileId { dev: 7, ino },
            fingerprint: Fingerprint::of(b"2026-12-01 first line\n"),
            position,
            generation: 0,
        }
    }

    #[test]
    fn a_state_is_locked_for_its_run_and_read_back_by_the_next() {
        let scratch = Scratch::new("state");
        let path = scratch.path().join("made").join("app.state");
        let (state, saved) = StateFile::open(&path).unwrap();
        assert_eq!(saved, Saved::default());
        let second = StateFile::open(&path)
            .err()
            .expect("the first holds the lock");
        assert!(matches!(second, StateError::Locked { .. }), "{second}");
        assert_eq!(
            second.to_string(),
            format!(
                "--state {}: another wsship is using this state file; each run needs a \
                 state of its own",
                path.display()
            )
        );
        let rewritten = Record {
            generation: 3,
            ..record("/var/log/copied.log", 12, 10)
        };
        let saved = Saved {
            files: vec![
                (record("/var/log/app.log", 11, 4096), Phase::Carried),
                (rewritten, Phase::Carried),
            ],
            names: vec!["/var/log/gone.log".into()],
        };
        state.write(&saved).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"generation\": 3").count(), 1, "{text}");
        assert_eq!(
            text.matches("\"generation\"").count(),
            1,
            "0 is left out: {text}"
        );
        drop(state);
        let (_, read) = StateFile::open(&path).unwrap();
        assert_eq!(read, saved);
        let mut beside: Vec<String> = fs::read_dir(scratch.path().join("made"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        beside.sort();
        assert_eq!(beside, ["app.state", "app.state.lock"], "no temporary left");
    }

    #[test]
    fn a_state_that_cannot_be_read_stops_the_run_and_says_what_to_do() {
        let scratch = Scratch::new("bad-state");
        let corrupt = scratch.path().join("corrupt.state");
        fs::write(&corrupt, "{\"version\": 1").unwrap();
        let err = StateFile::open(&corrupt).err().unwrap();
        let text = err.to_string();
        let start = format!(
            "--state {}: not a state file wsship can read (invalid JSON",
            corrupt.display()
        );
        assert!(text.starts_with(&start), "{text}");
        assert!(
            text.ends_with(
                "); restore it from a backup, or move it away to start afresh (every \
                 file is then read from --start-at)"
            ),
            "{text}"
        );
        let binary = scratch.path().join("binary.state");
        fs::write(&binary, b"{\xff}").unwrap();
        let err = StateFile::open(&binary).err().unwrap();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("(it is not UTF-8)"), "{err}");
        // A directory in its place is an error, never a fresh start.
        let directory = scratch.path().join("directory.state");
        fs::create_dir(&directory).unwrap();
        let err = StateFile::open(&directory).err().unwrap();
        assert!(matches!(err, StateError::Io { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("--state {}: Is a directory", directory.display())
        );
    }

    #[test]
    fn a_bare_name_lives_in_the_current_directory() {
        assert_eq!(directory_of(Path::new("app.state")), Path::new("."));
        assert_eq!(directory_of(Path::new("a/app.state")), Path::new("a"));
        assert_eq!(directory_of(Path::new("/app.state")), Path::new("/"));
        assert_eq!(
            lock_path(Path::new("a/app.state")),
            Path::new("a/app.state.lock")
        );
    }

    #[test]
    fn what_is_written_reads_back() {
        let saved = Saved {
            files: vec![
                (record("/var/log/app.log", 11, 4096), Phase::Carried),
                (record("b\"q.log", 12, 0), Phase::Carried),
                (record("/var/log/app.log", 13, 70), Phase::LetGo { end: 90 }),
            ],
            names: Vec::new(),
        };
        let text = render(&saved);
        assert_eq!(parse(&text).unwrap(), saved);
        assert_eq!(text.matches("\"end\": 90").count(), 1, "{text}");
        assert!(!text.contains("names"), "{text}");
    }

    #[test]
    fn an_open_or_detached_file_is_carried_by_the_next_run() {
        let saved = Saved {
            files: vec![
                (record("a.log", 11, 1), Phase::Open),
                (record("b.log", 12, 2), Phase::Detached),
            ],
            names: Vec::new(),
        };
        let read: Vec<Phase> = parse(&render(&saved))
            .unwrap()
            .files
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert_eq!(read, [Phase::Carried, Phase::Carried]);
    }

    #[test]
    fn what_cannot_be_read_is_refused_with_the_reason() {
        let cases = [
            ("", "invalid JSON"),
            ("{\"files\": []}", "no \"version\""),
            ("{\"version\": 2, \"files\": []}", "newer wsship"),
            ("{\"version\": 1}", "no \"files\""),
            (
                "{\"version\": 1, \"files\": [{\"path\": \"a\"}]}",
                "file 1: no \"fingerprint\"",
            ),
            (
                "{\"version\": 1, \"files\": [{\"path\": \"a\", \"dev\": 1, \"inode\": 2, \
                 \"fingerprint\": {\"bytes\": 3, \"fnv1a\": \"xyz\"}, \"position\": 0}]}",
                "hexadecimal",
            ),
            (
                "{\"version\": 1, \"files\": [{\"path\": \"a\", \"dev\": 1, \"inode\": 2, \
                 \"fingerprint\": {\"bytes\": 3, \"fnv1a\": \"ff\"}, \"position\": -1}]}",
                "no \"position\" number",
            ),
            (
                "{\"version\": 1, \"files\": [{\"path\": \"a\", \"dev\": 1, \"inode\": 2, \
                 \"fingerprint\": {\"bytes\": 1025, \"fnv1a\": \"ff\"}, \"position\": 0}]}",
                "a fingerprint of 1025 bytes",
            ),
            (
                "{\"version\": 1, \"files\": [{\"path\": \"a\", \"dev\": 1, \"inode\": 2, \
                 \"fingerprint\": {\"bytes\": 3, \"fnv1a\": \"ff\"}, \"position\": 0, \
                 \"end\": \"far\"}]}",
                "file 1: no \"end\" number",
            ),
            (
                "{\"version\": 1, \"files\": [], \"names\": [\"a\", 7]}",
                "\"names\" is not a list of strings",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        // The largest fingerprint there is.
        let text = "{\"version\": 1, \"files\": [{\"path\": \"a\", \"dev\": 1, \"inode\": 2, \
                    \"fingerprint\": {\"bytes\": 1024, \"fnv1a\": \"ff\"}, \"position\": 0}]}";
        assert_eq!(parse(text).unwrap().files[0].0.fingerprint.len, 1024);
    }
}
