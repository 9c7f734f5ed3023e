//! Running the real binary: arguments in, stdin fed from its own thread,
//! every wait bounded, and on failure the arguments, status and stderr shown.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const LONG: Duration = Duration::from_secs(60);

pub fn wsship(args: &[&str]) -> Wsship {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wsship"));
    command.args(args);
    // Options and proxies may come from the environment: none may leak in
    // from the one running the tests.
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy().to_ascii_lowercase();
        if name.starts_with("wsship_") || name.ends_with("_proxy") {
            command.env_remove(key);
        }
    }
    Wsship {
        command,
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

pub struct Wsship {
    command: Command,
    args: Vec<String>,
}

impl Wsship {
    pub fn env(mut self, key: &str, value: &str) -> Wsship {
        self.command.env(key, value);
        self.args.insert(0, format!("{key}={value}"));
        self
    }

    /// Starts wsship with at most `limit` open files (soft and hard), as
    /// a service manager's LimitNOFILE would set it; `soft` alone lowers
    /// only the soft limit, which wsship raises.
    pub fn open_files_limit(mut self, soft: u64, hard: Option<u64>) -> Wsship {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit(2) only, between fork and exec.
        unsafe {
            self.command.pre_exec(move || {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                limit.rlim_max = hard.unwrap_or(limit.rlim_max);
                limit.rlim_cur = soft.min(limit.rlim_max);
                match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
        self.args.insert(0, format!("(open files {soft}/{hard:?})"));
        self
    }

    /// Runs to completion with `input` on stdin.
    pub fn run(self, input: impl Into<Vec<u8>>) -> Finished {
        let mut running = self.spawn();
        let mut stdin = running.stdin.take().unwrap();
        let input = input.into();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        running.wait(LONG)
    }

    pub fn spawn(mut self) -> Running {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wsship");
        let stderr = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let reader = thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.0
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                sink.1.notify_all();
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Running {
            stdin: child.stdin.take(),
            child,
            args: self.args,
            stderr,
            reader: Some(reader),
            stdout: Some(stdout),
        }
    }
}

pub struct Running {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    args: Vec<String>,
    stderr: Arc<(Mutex<String>, Condvar)>,
    reader: Option<thread::JoinHandle<()>>,
    stdout: Option<thread::JoinHandle<String>>,
}

impl Running {
    /// Writes `data` from a thread of its own, for input larger than wsship
    /// may accept before the test acts (a stalled server stops its reading).
    pub fn feed(&mut self, data: Vec<u8>) {
        let mut stdin = self.stdin.take().expect("stdin open");
        thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }

    /// Writes `data` from a thread of its own, and waits for the write to
    /// end within LONG: if wsship stops reading, the test fails instead of
    /// hanging.
    #[track_caller]
    pub fn write(&mut self, data: &[u8]) {
        let mut stdin = self.stdin.take().expect("stdin open");
        let data = data.to_vec();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let result = stdin.write_all(&data);
            let _ = tx.send((stdin, result));
        });
        match rx.recv_timeout(LONG) {
            Ok((stdin, result)) => {
                result.expect("write to wsship");
                self.stdin = Some(stdin);
            }
            Err(_) => panic!(
                "wsship {:?} took no input for {LONG:?}; stderr:\n{}",
                self.args,
                self.stderr()
            ),
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.0.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`.
    #[track_caller]
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        self.wait_for_stderr_times(needle, 1, timeout)
    }

    /// Waits until stderr contains `needle` at least `times` times.
    #[track_caller]
    pub fn wait_for_stderr_times(&self, needle: &str, times: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut text = self.stderr.0.lock().unwrap();
        while text.matches(needle).count() < times {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "wsship {:?}: no {needle:?} on stderr within {timeout:?}:\n{text}",
                    self.args
                );
            }
            text = self.stderr.1.wait_timeout(text, left).unwrap().0;
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Peak resident memory so far, in KiB, from /proc.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status")
    }

    /// Waits for exit; kills it and fails the test after `timeout`.
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Finished {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "wsship {:?} still running after {timeout:?}; stderr:\n{}",
                    self.args,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        let _ = self.reader.take().unwrap().join();
        let stdout = self.stdout.take().unwrap().join().unwrap();
        Finished {
            status,
            stderr: self.stderr(),
            stdout,
            args: self.args.clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed assertion must not leave a wsship behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stderr: String,
    pub stdout: String,
    args: Vec<String>,
}

impl Finished {
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Finished {
        assert_eq!(
            self.status.code(),
            Some(code),
            "wsship {:?} exited with {}; stderr:\n{}",
            self.args,
            self.status,
            self.stderr
        );
        self
    }

    /// Checks that stderr says `needle`.
    #[track_caller]
    pub fn expect_stderr(&self, needle: &str) -> &Finished {
        assert!(
            self.stderr.contains(needle),
            "wsship {:?}: no {needle:?} on stderr:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// The `summary:` line as numbers, checked for
    /// read = sent + dropped + filtered + failed.
    #[track_caller]
    pub fn summary(&self) -> HashMap<String, u64> {
        let line = self
            .stderr
            .lines()
            .find_map(|line| line.strip_prefix("wsship: summary: "))
            .unwrap_or_else(|| panic!("no summary line in stderr:\n{}", self.stderr));
        let counts: HashMap<String, u64> = line
            .split_whitespace()
            .map(|pair| {
                let (key, value) = pair.split_once('=').expect("key=value");
                (key.to_string(), value.parse().expect("a count"))
            })
            .collect();
        let settled = counts["sent"] + counts["dropped"] + counts["filtered"] + counts["failed"];
        match counts.get("spooled") {
            None => assert_eq!(
                counts["read"], settled,
                "read != sent + dropped + filtered + failed in: {line}"
            ),
            Some(spooled) => assert_eq!(
                counts["resumed"] + counts["read"],
                settled + counts["spool_corrupt"] + spooled,
                "resumed + read != sent + dropped + filtered + failed + spool_corrupt + spooled \
                 in: {line}"
            ),
        }
        counts
    }
}

/// `count` distinct, numbered lines.
pub fn numbered(count: usize) -> String {
    (0..count)
        .map(|i| format!("line {i:07} of the test input\n"))
        .collect()
}

/// The `message` field of each JSON message, checking the whole shape.
#[track_caller]
pub fn messages_of(received: &[String]) -> Vec<String> {
    received
        .iter()
        .map(|text| {
            let value: serde_json::Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
            let object = value.as_object().expect("a JSON object");
            let timestamp = object["timestamp"].as_str().expect("timestamp string");
            assert!(
                timestamp.len() == 24
                    && timestamp.ends_with('Z')
                    && chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
                "timestamp not RFC 3339 UTC with milliseconds: {timestamp}"
            );
            object["message"]
                .as_str()
                .expect("message string")
                .to_string()
        })
        .collect()
}

/// At least once: every line of `input` is among what arrived.
#[track_caller]
pub fn assert_every_line_arrived(input: &str, arrived: impl Fn(&str) -> bool) {
    let missing = input.lines().filter(|line| !arrived(line)).count();
    assert_eq!(missing, 0, "{missing} lines never arrived");
}

/// A directory of its own for one test, removed with everything in it when
/// the test ends, passed or failed.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "wsship-test-{}-{unique}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path in the directory, as a string for the command line.
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Appends `text` to the file at `path`, creating it if need be.
pub fn append(path: impl AsRef<Path>, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Lines `from..to`, numbered as `numbered` numbers them.
pub fn numbered_range(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("line {i:07} of the test input\n"))
        .collect()
}

/// Polls `ready` until it holds, failing the test after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// A FIFO made at `path`, and an end of it held open for writing: opened
/// read-write, which (on Linux) does not wait for a reader as a write-only
/// open would. wsship reads the FIFO to its end once this is dropped.
pub fn fifo(path: &str) -> std::fs::File {
    make_fifo(path);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

/// A FIFO made at `path`, with no end of it open.
pub fn make_fifo(path: &str) {
    let c_path = std::ffi::CString::new(path).unwrap();
    // SAFETY: mkfifo(3) with a valid C string.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {path}");
}
