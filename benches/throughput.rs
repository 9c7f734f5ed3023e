//! Throughput benchmark: wsship end to end against a plain TCP socket on
//! loopback, measured in one run so that the ratio means something on a
//! noisy machine.
//!
//!     cargo bench --bench throughput                       # 1,000,000 lines
//!     cargo bench --bench throughput -- --lines 10000000   # the large variant
//!     cargo bench --bench throughput -- --runs 5 --no-huge
//!     cargo bench --bench throughput -- --only 'batch-size' --no-huge
//!     cargo bench --bench throughput -- --baseline old/wsship
//!     cargo bench --bench throughput -- --only wsship --levels  # every --compress-level
//!
//! For each case (defaults, --confirm write, --batch-size 1, --workers 2,
//! --follow --state on a file the input is appended to as fast as it goes,
//! --input-format ndjson on JSON lines, --multiline-start on a log with
//! stack traces, ids with path and offset, a filter that leaves out two
//! lines in five, the defaults with --metrics-listen scraped every 100 ms
//! by the benchmark, --compress, --message-per batch, and both) it starts the
//! release binary on a deterministic input file and times spawn → last
//! message counted by a receiving server in this process (tungstenite's
//! handshake, then a walk over the frame headers that counts text frames
//! and their bytes, as the plain reader counts newlines). With --baseline,
//! another build runs every case in the same rounds, so that a change is
//! compared with figures from one run. The TCP reference is the same JSON
//! bytes (one encoded line per line, as `--dry-run` writes them) pushed
//! through a plain socket into a plain reader: not a ceiling, since that
//! reader looks at every byte where the WebSocket receiver skips payloads.
//! Each round measures the reference and every case once. It reports the
//! median of the rounds with min and max, CPU seconds per million lines,
//! peak RSS (from /proc) and the receiver's CPU, and never fails on a
//! timing. For the compressing cases it also counts the bytes on the wire
//! against gzip -6 of the messages.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const WSSHIP: &str = env!("CARGO_BIN_EXE_wsship");

/// The case that follows a growing file instead of reading a whole one.
const FOLLOW: &str = "-F --state (appended)";
const NDJSON: &str = "--input-format ndjson";
const MULTILINE: &str = "--multiline-start";
const COMPRESS: &str = "--compress";
const PER_BATCH: &str = "--message-per batch";
const BOTH: &str = "--compress, per batch";
const IDS: &str = "--id-key --path-key --offset-key";
const FILTER: &str = "--exclude 'DEBUG|/healthz'";
/// The defaults with --metrics-listen, scraped every 100 ms while it runs.
const SCRAPED: &str = "--metrics-listen (scraped)";
/// The input through `cat` into standard input, without and with a spool
/// (a fresh one each run).
const STDIN: &str = "(stdin via cat)";
const SPOOL: &str = "--spool (stdin via cat)";

struct Options {
    lines: u64,
    runs: usize,
    huge: bool,
    /// Only the cases whose name contains this (to profile one of them).
    only: Option<String>,
    /// Another build of wsship to measure in the same rounds, so that a
    /// change is judged by figures from one run, not from two.
    baseline: Option<PathBuf>,
    /// Also measure --compress at every --compress-level.
    levels: bool,
}

/// One configuration of one binary.
struct Case {
    name: String,
    binary: PathBuf,
    input: Input,
    /// Options that shape the messages (so --dry-run must see them too).
    shape: &'static [&'static str],
    args: &'static [&'static str],
}

/// The generated inputs, each `--lines` lines long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// Log lines of about 120 bytes.
    Log,
    /// JSON objects of about the same size, one per line.
    Json,
    /// Log lines where every tenth is an error followed by a four-line
    /// stack trace.
    Traces,
}

impl Case {
    /// Whether its frames are not --dry-run's messages: compressed, or a
    /// batch to a message.
    fn frames_differ(&self) -> bool {
        self.shape
            .iter()
            .chain(self.args)
            .any(|arg| *arg == "--compress" || *arg == "--message-per")
    }
}

/// What the server must receive for an input and shape: the count of
/// messages and their bytes, from --dry-run.
struct Expected {
    messages: u64,
    bytes: u64,
}

fn main() {
    let options = parse_options();
    let dir = std::env::temp_dir().join(format!("wsship-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.log");
    let input_bytes = generate(&input, options.lines, Input::Log);
    let json = dry_run(&input, &[]);
    println!(
        "wsship throughput: {} lines, {:.0} bytes per line on average ({:.1} MB in, {:.1} MB of JSON); {} runs, median [min, max]",
        options.lines,
        input_bytes as f64 / options.lines as f64,
        input_bytes as f64 / 1e6,
        json.len() as f64 / 1e6,
        options.runs,
    );
    let inputs = [
        (Input::Log, input.clone()),
        (Input::Json, dir.join("input.jsonl")),
        (Input::Traces, dir.join("traces.log")),
    ];
    for (kind, path) in &inputs[1..] {
        generate(path, options.lines, *kind);
    }
    let path_of = |kind: Input| &inputs.iter().find(|(k, _)| *k == kind).unwrap().1;

    let server = Server::start();
    type Configuration = (
        &'static str,
        Input,
        &'static [&'static str],
        &'static [&'static str],
    );
    const CONFIGURATIONS: [Configuration; 15] = [
        ("(defaults)", Input::Log, &[], &[]),
        ("--confirm write", Input::Log, &[], &["--confirm", "write"]),
        ("--batch-size 1", Input::Log, &[], &["--batch-size", "1"]),
        ("--workers 2", Input::Log, &[], &["--workers", "2"]),
        // The input is appended to an empty file as fast as it can be
        // while wsship follows it and keeps its state, as a service does.
        (FOLLOW, Input::Log, &[], &["--follow", "--state"]),
        (NDJSON, Input::Json, &["--input-format", "ndjson"], &[]),
        (
            MULTILINE,
            Input::Traces,
            &["--multiline-start", r"^\d{4}-"],
            &[],
        ),
        (
            IDS,
            Input::Log,
            &[
                "--id-key",
                "id",
                "--path-key",
                "path",
                "--offset-key",
                "offset",
            ],
            &[],
        ),
        // Leaves out about two lines in five.
        (FILTER, Input::Log, &["--exclude", "DEBUG|/healthz"], &[]),
        // The port is chosen when the case runs.
        (SCRAPED, Input::Log, &[], &[]),
        (STDIN, Input::Log, &[], &[]),
        // The spool's directory follows --spool when the case runs.
        (SPOOL, Input::Log, &[], &["--spool"]),
        (COMPRESS, Input::Log, &[], &["--compress"]),
        (PER_BATCH, Input::Log, &[], &["--message-per", "batch"]),
        (
            BOTH,
            Input::Log,
            &[],
            &["--compress", "--message-per", "batch"],
        ),
    ];
    const LEVELS: [Configuration; 6] = [
        (
            "--compress-level 3",
            Input::Log,
            &[],
            &["--compress", "--compress-level", "3"],
        ),
        (
            "--compress-level 6",
            Input::Log,
            &[],
            &["--compress", "--compress-level", "6"],
        ),
        (
            "--compress-level 9",
            Input::Log,
            &[],
            &["--compress", "--compress-level", "9"],
        ),
        (
            "per batch, level 1",
            Input::Log,
            &[],
            &[
                "--compress",
                "--compress-level",
                "1",
                "--message-per",
                "batch",
            ],
        ),
        (
            "per batch, level 6",
            Input::Log,
            &[],
            &[
                "--compress",
                "--compress-level",
                "6",
                "--message-per",
                "batch",
            ],
        ),
        (
            "per batch, level 9",
            Input::Log,
            &[],
            &[
                "--compress",
                "--compress-level",
                "9",
                "--message-per",
                "batch",
            ],
        ),
    ];
    let levels: &[Configuration] = if options.levels { &LEVELS } else { &[] };
    let builds = std::iter::once(("wsship", PathBuf::from(WSSHIP)))
        .chain(options.baseline.clone().map(|path| ("base", path)));
    let cases: Vec<Case> = builds
        .flat_map(|(label, binary)| {
            CONFIGURATIONS
                .iter()
                .chain(levels)
                .map(move |(name, input, shape, args)| Case {
                    name: format!("{label} {name}"),
                    binary: binary.clone(),
                    input: *input,
                    shape,
                    args,
                })
        })
        .filter(|case| {
            options
                .only
                .as_ref()
                .is_none_or(|only| case.name.contains(only.as_str()))
        })
        // An older build may predate an option: its case is left out.
        .filter(|case| {
            let scraped = case.name.ends_with(SCRAPED).then_some("--metrics-listen");
            case.shape
                .iter()
                .chain(case.args)
                .chain(&scraped)
                .all(|arg| !arg.starts_with("--") || knows(&case.binary, arg))
        })
        .collect();
    // What each case must deliver, from this build's --dry-run.
    let expected: Vec<Expected> = cases
        .iter()
        .map(|case| {
            let output = dry_run(path_of(case.input), case.shape);
            let messages = memchr::memchr_iter(b'\n', &output).count() as u64;
            Expected {
                messages,
                // --dry-run's output is every message and a newline.
                bytes: output.len() as u64 - messages,
            }
        })
        .collect();
    // Rounds rather than one case after another: each round measures the
    // reference and every case within seconds, so a neighbour's burst on a
    // shared machine weighs on all of them alike, not on one case alone.
    let mut reference = Vec::new();
    let mut samples: Vec<Vec<Sample>> = cases.iter().map(|_| Vec::new()).collect();
    for _ in 0..options.runs {
        reference.push(tcp_reference(&json, options.lines));
        for ((case, samples), expected) in cases.iter().zip(&mut samples).zip(&expected) {
            samples.push(server.measure(case, path_of(case.input), expected));
        }
    }
    let reference_rate = median(
        reference
            .iter()
            .map(|s| s.lines_per_second(options.lines))
            .collect(),
    );

    println!();
    println!(
        "{:<30} {:>24} {:>9} {:>8} {:>14} {:>10} {:>14}",
        "case", "lines/s", "MB/s", "vs TCP", "CPU s/M lines", "peak RSS", "receiver CPU"
    );
    report(
        "TCP reference (plain)",
        &reference,
        options.lines,
        json.len(),
        reference_rate,
    );
    let mut default_peak_kib = 0;
    let rate = |samples: &[Sample]| {
        median(
            samples
                .iter()
                .map(|s| s.lines_per_second(options.lines))
                .collect(),
        )
    };
    let mut file_rate = None;
    for (case, samples) in cases.iter().zip(&samples) {
        report(
            &case.name,
            samples,
            options.lines,
            json.len(),
            reference_rate,
        );
        if case.name == "wsship (defaults)" {
            default_peak_kib = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
            file_rate = Some(rate(samples));
        }
    }
    let ours = |name: &str| {
        cases
            .iter()
            .zip(&samples)
            .find(|(case, _)| case.name == format!("wsship {name}"))
            .map(|(_, samples)| rate(samples))
    };
    let wire = |name: &str| {
        cases
            .iter()
            .zip(&samples)
            .find(|(case, _)| case.name == format!("wsship {name}"))
            .map(|(_, samples)| {
                let wire = median(samples.iter().map(|s| s.wire as f64).collect());
                let payload = median(samples.iter().map(|s| s.payload as f64).collect());
                (wire, payload)
            })
    };
    if let Some((base, _)) = wire("(defaults)") {
        let gzip = gzip_6(&json);
        println!();
        println!(
            "bytes on the wire (after the handshake; payload: text frames' payload, headers aside); \
             gzip -6 of the messages one per line: {:.1} MB",
            gzip as f64 / 1e6
        );
        let mut names = vec!["(defaults)", COMPRESS, PER_BATCH, BOTH];
        if options.levels {
            names.extend(LEVELS.iter().map(|(name, ..)| *name));
        }
        for name in names {
            if let Some((total, payload)) = wire(name) {
                println!(
                    "  {name:<24} {:>7.1} MB ({:>5.1}% of the defaults'); payload {:>7.1} MB, {:.2} x gzip -6",
                    total / 1e6,
                    100.0 * total / base,
                    payload / 1e6,
                    payload / gzip as f64,
                );
            }
        }
    }
    if let Some(file_rate) = file_rate {
        println!();
        for (name, what) in [
            (FOLLOW, "following a file appended as fast as it goes"),
            (NDJSON, "JSON lines spliced as objects"),
            (MULTILINE, "lines joined into events"),
            (IDS, "each message with its id, path and offset"),
            (FILTER, "lines filtered (lines/s counts every line read)"),
            (SCRAPED, "metrics scraped every 100 ms"),
            (STDIN, "standard input through cat"),
            (SPOOL, "standard input through cat and the spool"),
            (COMPRESS, "messages compressed"),
            (PER_BATCH, "a batch to a message"),
            (BOTH, "a batch to a compressed message"),
        ] {
            if let Some(case_rate) = ours(name) {
                println!(
                    "{what}: {:.0}% of the defaults' lines/s",
                    100.0 * case_rate / file_rate
                );
            }
        }
    }

    if options.huge {
        println!();
        huge_line(&server, default_peak_kib);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn parse_options() -> Options {
    let mut options = Options {
        lines: 1_000_000,
        runs: 3,
        huge: true,
        only: None,
        baseline: None,
        levels: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lines" => {
                options.lines = args.next().and_then(|v| v.parse().ok()).expect("--lines N")
            }
            "--runs" => options.runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--no-huge" => options.huge = false,
            "--only" => options.only = Some(args.next().expect("--only NAME")),
            "--baseline" => options.baseline = Some(args.next().expect("--baseline PATH").into()),
            "--levels" => options.levels = true,
            // cargo bench passes --bench; ignore what is not ours.
            _ => {}
        }
    }
    options
}

/// `lines` lines of `kind`, the same for every run; returns their bytes.
fn generate(path: &Path, lines: u64, kind: Input) -> u64 {
    const PATHS: [&str; 5] = [
        "/api/v1/items",
        "/api/v1/users/me",
        "/healthz",
        "/api/v2/orders",
        "/static/app.js",
    ];
    const LEVELS: [&str; 4] = ["INFO ", "INFO ", "WARN ", "DEBUG"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut total = 0;
    for i in 0..lines {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let time = format!(
            "2026-11-25T14:{:02}:{:02}.{:03}Z",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        );
        let (level, path) = (LEVELS[(seed % 4) as usize], PATHS[(seed >> 8) as usize % 5]);
        let status = [200, 200, 204, 404, 500][(seed >> 16) as usize % 5];
        let line = match (kind, i % 10) {
            (Input::Json, _) => format!(
                "{{\"time\":\"{time}\",\"level\":\"{}\",\"msg\":\"request handled\",\"path\":\"{path}/{}\",\"status\":{status},\"ms\":{},\"req\":\"{:08x}\"}}\n",
                level.trim_end(),
                seed % 100_000,
                seed % 997,
                seed as u32,
            ),
            (Input::Traces, 5) => format!(
                "{time} ERROR http: request failed path={path}/{} req={:08x}\n",
                seed % 100_000,
                seed as u32
            ),
            (Input::Traces, 6..=9) => format!(
                "\tat com.example.http.Handler.handle{}(Handler.java:{})\n",
                i % 10,
                seed % 997
            ),
            _ => format!(
                "{time} {level} http: request handled method=GET path={path}/{} status={status} ms={} req={:08x}\n",
                seed % 100_000,
                seed % 997,
                seed as u32,
            ),
        };
        total += line.len() as u64;
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    total
}

/// Scrapes /metrics at `addr` every `interval` while `scraping` holds,
/// checking each answer; returns how many were answered.
fn scrape_every(addr: &str, interval: Duration, scraping: &std::sync::atomic::AtomicBool) -> usize {
    let mut answered = 0;
    while scraping.load(Ordering::Relaxed) {
        let next = Instant::now() + interval;
        // Refused until wsship has bound the port, and after it exits:
        // until the first answer, tried again every millisecond.
        if let Ok(mut stream) = TcpStream::connect(addr) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut response = String::new();
            let asked = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n");
            if asked.is_ok() && stream.read_to_string(&mut response).is_ok() {
                assert!(
                    response.starts_with("HTTP/1.1 200")
                        && response.contains("wsship_lines_read_total "),
                    "a bad scrape: {response}"
                );
                answered += 1;
            }
        }
        let pause = match answered {
            0 => Duration::from_millis(1),
            _ => next.saturating_duration_since(Instant::now()),
        };
        thread::sleep(pause);
    }
    answered
}

/// What `gzip -6` makes of `data`.
fn gzip_6(data: &[u8]) -> usize {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gzip.write_all(data).unwrap();
    gzip.finish().unwrap().len()
}

/// Whether `binary`'s --help mentions `option`.
fn knows(binary: &Path, option: &str) -> bool {
    let help = Command::new(binary).arg("--help").output().unwrap();
    String::from_utf8_lossy(&help.stdout).contains(option)
}

/// The exact bytes wsship would put in its messages, one per line.
fn dry_run(input: &Path, shape: &[&str]) -> Vec<u8> {
    let output = Command::new(WSSHIP)
        .args(["--dry-run", "-q"])
        .args(shape)
        .arg(input)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "wsship --dry-run failed");
    output.stdout
}

struct Sample {
    /// Bytes the receiver read from wsship after the handshake.
    wire: u64,
    /// Of those, the payload of text frames.
    payload: u64,
    wall: Duration,
    cpu: Duration,
    /// CPU time of the receiving end (this process), which shares the cores.
    receiver_cpu: Duration,
    peak_rss_kib: u64,
}

impl Sample {
    fn lines_per_second(&self, lines: u64) -> f64 {
        lines as f64 / self.wall.as_secs_f64()
    }
}

fn tcp_reference(json: &[u8], lines: u64) -> Sample {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0; 1 << 20];
        let mut count = 0u64;
        loop {
            match stream.read(&mut buf).unwrap() {
                0 => return (count, Instant::now()),
                n => count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64,
            }
        }
    });
    let started = Instant::now();
    let cpu_before = process_cpu();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(json).unwrap();
    drop(stream);
    let (count, ended) = reader.join().unwrap();
    assert_eq!(count, lines, "the plain reader lost lines");
    Sample {
        wire: json.len() as u64,
        payload: json.len() as u64 - lines,
        wall: ended - started,
        cpu: process_cpu() - cpu_before,
        receiver_cpu: Duration::ZERO,
        peak_rss_kib: 0,
    }
}

/// CPU time of this process (both ends of the plain socket run here).
fn process_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// A receiver built to cost the client's cores as little as the plain
/// reader does. tungstenite does the opening handshake; then the receiver
/// walks the frames itself (RFC 6455 section 5.2) as the plain reader walks
/// newlines: it reads each header, counts a text frame and its payload
/// length, and skips the payload without unmasking it or checking its UTF-8
/// (the tests check content; here the bytes are checked against
/// `--dry-run`). It answers Pings, which confirm wsship's batches, and a
/// Close. A frame no client may send ends the benchmark.
struct Server {
    addr: String,
    state: Arc<(Mutex<Option<Instant>>, Condvar)>,
    count: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    /// Every byte read after the handshakes: frames, headers and all.
    wire: Arc<AtomicU64>,
    target: Arc<AtomicU64>,
    /// When the last read that completed a text frame ended: the clock of a
    /// case whose frames cannot be counted against --dry-run's messages.
    last_frame: Arc<Mutex<Option<Instant>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server {
            addr: listener.local_addr().unwrap().to_string(),
            state: Arc::new((Mutex::new(None), Condvar::new())),
            count: Arc::new(AtomicU64::new(0)),
            bytes: Arc::new(AtomicU64::new(0)),
            wire: Arc::new(AtomicU64::new(0)),
            target: Arc::new(AtomicU64::new(u64::MAX)),
            last_frame: Arc::new(Mutex::new(None)),
        };
        let shared = server.shared();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = shared.shared();
                thread::spawn(move || server.receive(stream));
            }
        });
        server
    }

    fn shared(&self) -> Server {
        Server {
            addr: self.addr.clone(),
            state: Arc::clone(&self.state),
            count: Arc::clone(&self.count),
            bytes: Arc::clone(&self.bytes),
            wire: Arc::clone(&self.wire),
            target: Arc::clone(&self.target),
            last_frame: Arc::clone(&self.last_frame),
        }
    }

    fn receive(&self, stream: TcpStream) {
        // permessage-deflate is accepted when offered: compressed frames are
        // counted like any other, never inflated (the tests check content).
        #[allow(clippy::result_large_err)]
        let accept = |request: &tungstenite::handshake::server::Request,
                      mut response: tungstenite::handshake::server::Response| {
            let offered = request
                .headers()
                .get("sec-websocket-extensions")
                .is_some_and(|v| v.to_str().unwrap_or("").contains("permessage-deflate"));
            if offered {
                response.headers_mut().insert(
                    "sec-websocket-extensions",
                    "permessage-deflate".parse().unwrap(),
                );
            }
            Ok(response)
        };
        let Ok(ws) = tungstenite::accept_hdr(stream, accept) else {
            return;
        };
        // The client sends nothing before the handshake's answer, so no
        // frame is left behind in the WebSocket's buffer.
        let mut stream = ws.into_inner();
        let mut buf = vec![0; 1 << 20];
        // Unread bytes at the start of `buf`; payload bytes of the current
        // text frame not seen yet; whether such a frame is open.
        let (mut have, mut skip, mut open) = (0, 0, false);
        loop {
            let n = match stream.read(&mut buf[have..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            have += n;
            self.wire.fetch_add(n as u64, Ordering::Relaxed);
            let (mut at, mut frames, mut bytes) = (0, 0, 0);
            loop {
                let take = skip.min(have - at);
                (at, skip) = (at + take, skip - take);
                if skip > 0 {
                    break;
                }
                if std::mem::take(&mut open) {
                    frames += 1;
                }
                let Some(header) = Header::parse(&buf[at..have]) else {
                    break;
                };
                if header.opcode == TEXT {
                    bytes += header.len as u64;
                    (at, skip, open) = (at + header.size, header.len, true);
                    continue;
                }
                // A control frame: at most 125 bytes, handled whole.
                if header.len > 125 {
                    fail("a control frame of more than 125 bytes");
                }
                let end = at + header.size + header.len;
                if end > have {
                    break;
                }
                let mut payload = buf[at + header.size..end].to_vec();
                for (i, byte) in payload.iter_mut().enumerate() {
                    *byte ^= header.mask[i % 4];
                }
                at = end;
                let (opcode, echo) = match header.opcode {
                    PING => (PONG, &payload[..]),
                    CLOSE => (CLOSE, &[][..]),
                    other => fail(&format!("a frame with opcode {other:#x}")),
                };
                // A server's frames are not masked.
                let mut reply = vec![0x80 | opcode, echo.len() as u8];
                reply.extend_from_slice(echo);
                if stream.write_all(&reply).is_err() || opcode == CLOSE {
                    self.counted(frames, bytes);
                    return;
                }
            }
            buf.copy_within(at..have, 0);
            have -= at;
            self.counted(frames, bytes);
        }
    }

    /// Adds the frames one read completed; the frame that completes the
    /// target stops the clock.
    fn counted(&self, frames: u64, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if frames == 0 {
            return;
        }
        let now = Instant::now();
        *self.last_frame.lock().unwrap() = Some(now);
        let n = self.count.fetch_add(frames, Ordering::Relaxed) + frames;
        if n == self.target.load(Ordering::Relaxed) {
            *self.state.0.lock().unwrap() = Some(now);
            self.state.1.notify_all();
        }
    }

    /// Runs `case` on `input` until the server has counted the messages
    /// and bytes `expected`.
    fn measure(&self, case: &Case, input: &Path, expected: &Expected) -> Sample {
        self.count.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.wire.store(0, Ordering::Relaxed);
        // Compressed or batched messages are not --dry-run's: such a case
        // runs until wsship exits, which with --confirm pong is once the
        // server read everything, and its clock stops, as the others' do,
        // at the last frame received (not at the exit, which would charge
        // it with the closing handshake and the teardown).
        let exact = !case.frames_differ();
        let target = if exact { expected.messages } else { u64::MAX };
        self.target.store(target, Ordering::Relaxed);
        *self.state.0.lock().unwrap() = None;
        *self.last_frame.lock().unwrap() = None;
        let follow = case.name.ends_with(FOLLOW);
        let dir = input.with_file_name("follow");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let followed = dir.join("app.log");
        let mut command = Command::new(&case.binary);
        command.args(["--addr", &self.addr, "-q"]).args(case.shape);
        let piped = case.name.ends_with(STDIN) || case.name.ends_with(SPOOL);
        match follow {
            false if piped => {
                command.args(case.args);
                if case.name.ends_with(SPOOL) {
                    command.arg(dir.join("spool"));
                }
                &mut command
            }
            false => command.args(case.args).arg(input),
            true => {
                std::fs::write(&followed, b"").unwrap();
                command
                    .args(case.args)
                    .arg(dir.join("app.state"))
                    .arg(&followed)
            }
        };
        // Read beforehand: the clock is for wsship, not for our disk.
        let data = match follow {
            true => std::fs::read(input).unwrap(),
            false => Vec::new(),
        };
        let scraped = case.name.ends_with(SCRAPED);
        let metrics = scraped.then(|| {
            // A port free a moment ago: the benchmark is alone on it.
            let port = TcpListener::bind("127.0.0.1:0").unwrap();
            port.local_addr().unwrap().to_string()
        });
        if let Some(addr) = &metrics {
            command.args(["--metrics-listen", addr]);
        }
        let started = Instant::now();
        let receiver_before = process_cpu();
        let mut cat = piped.then(|| {
            Command::new("cat")
                .arg(input)
                .stdout(Stdio::piped())
                .spawn()
                .expect("cat")
        });
        if let Some(cat) = &mut cat {
            command.stdin(cat.stdout.take().unwrap());
        }
        let mut child = command.spawn().unwrap();
        // The read end is the child's alone now.
        drop(command);
        let scraping = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let scraper = metrics.map(|addr| {
            let scraping = scraping.clone();
            thread::spawn(move || scrape_every(&addr, Duration::from_millis(100), &scraping))
        });
        let peak = watch_peak_rss(child.id());
        if follow {
            append_as_fast_as_possible(&data, &followed);
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        let wait_for_every_line = || {
            let mut ended = self.state.0.lock().unwrap();
            while ended.is_none() {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "the server never received every line");
                ended = self.state.1.wait_timeout(ended, left).unwrap().0;
            }
            ended.unwrap()
        };
        let (status, cpu, peak_rss_kib, ended) = match follow {
            false if !exact => {
                let (status, cpu, peak) = wait4(&mut child, peak);
                let last = *self.last_frame.lock().unwrap();
                (
                    status,
                    cpu,
                    peak,
                    last.expect("the server received no frame"),
                )
            }
            false => {
                let (status, cpu, peak) = wait4(&mut child, peak);
                (status, cpu, peak, wait_for_every_line())
            }
            true => {
                // A followed file never ends: the service is stopped.
                let ended = wait_for_every_line();
                // SAFETY: kill(2) on our own child.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                let (status, cpu, peak) = wait4(&mut child, peak);
                (if status == 130 { 0 } else { status }, cpu, peak, ended)
            }
        };
        scraping.store(false, Ordering::Relaxed);
        if let Some(scraper) = scraper {
            // A short run may end before the first scrape: none is owed.
            scraper.join().unwrap();
        }
        if let Some(mut cat) = cat {
            let _ = cat.wait();
        }
        assert!(status == 0, "wsship exited with {status}");
        let _ = std::fs::remove_dir_all(&dir);
        if exact {
            assert_eq!(
                self.bytes.load(Ordering::Relaxed),
                expected.bytes,
                "the messages' bytes differ from --dry-run's"
            );
        }
        Sample {
            wall: ended - started,
            cpu,
            receiver_cpu: process_cpu() - receiver_before,
            peak_rss_kib,
            wire: self.wire.load(Ordering::Relaxed),
            payload: self.bytes.load(Ordering::Relaxed),
        }
    }
}

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A client frame's header (RFC 6455 section 5.2).
struct Header {
    opcode: u8,
    /// Header bytes, masking key included.
    size: usize,
    /// Payload bytes.
    len: usize,
    mask: [u8; 4],
}

impl Header {
    /// The header at the start of `bytes`, or None if it is not all there.
    fn parse(bytes: &[u8]) -> Option<Header> {
        let (&first, &second) = (bytes.first()?, bytes.get(1)?);
        // FIN set, RSV2 and RSV3 clear; RSV1 is permessage-deflate's.
        if first & 0xB0 != 0x80 || second & 0x80 == 0 {
            fail("a fragmented, extended or unmasked frame");
        }
        let (len, at) = match second & 0x7F {
            126 => (
                u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize,
                4,
            ),
            127 => (
                u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
                10,
            ),
            len => (len as usize, 2),
        };
        Some(Header {
            opcode: first & 0x0F,
            size: at + 4,
            len,
            mask: bytes.get(at..at + 4)?.try_into().ok()?,
        })
    }
}

/// Appends `input` to `to` in writes of 64 KiB, as fast as they go, as a
/// busy application would (one that writes whole lines, as logs do: a
/// write ends on a newline).
fn append_as_fast_as_possible(data: &[u8], to: &Path) {
    let mut out = std::fs::OpenOptions::new().append(true).open(to).unwrap();
    let mut rest = data;
    while !rest.is_empty() {
        let cut = rest.len().min(64 * 1024);
        let end = match memchr::memrchr(b'\n', &rest[..cut]) {
            Some(newline) => newline + 1,
            None => cut,
        };
        out.write_all(&rest[..end]).unwrap();
        rest = &rest[end..];
    }
}

/// wsship sent what no client may: the figures would mean nothing.
fn fail(what: &str) -> ! {
    eprintln!("throughput: the receiver got {what}");
    std::process::exit(1);
}

/// Samples a child's peak RSS (VmHWM) until it exits. wait4's ru_maxrss
/// cannot be used: Linux carries the parent's high-water mark across the
/// vfork-and-exec that spawns the child, so it would report ours.
fn watch_peak_rss(pid: u32) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut peak = 0;
        loop {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let hwm = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            match hwm {
                Some(kib) => peak = peak.max(kib),
                None => return peak, // exited: a zombie has no memory left
            }
            thread::sleep(Duration::from_millis(5));
        }
    })
}

/// Waits for a child and returns its exit status, CPU time and peak RSS
/// (from `peak`, started as soon as the child was: once it has exited there
/// is nothing left to read).
fn wait4(child: &mut std::process::Child, peak: thread::JoinHandle<u64>) -> (i32, Duration, u64) {
    let pid = child.id();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; both out-pointers are ours.
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid as libc::pid_t, "wait4 failed");
    // Already reaped; this only lets std know.
    let _ = child.try_wait();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        code,
        timeval(usage.ru_utime) + timeval(usage.ru_stime),
        peak.join().unwrap(),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report(name: &str, samples: &[Sample], lines: u64, bytes: usize, reference_rate: f64) {
    let rates: Vec<f64> = samples.iter().map(|s| s.lines_per_second(lines)).collect();
    let rate = median(rates.clone());
    let (min, max) = rates
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let wall = lines as f64 / rate;
    let cpu = median(samples.iter().map(|s| s.cpu.as_secs_f64()).collect());
    let rss = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
    let receiver = median(
        samples
            .iter()
            .map(|s| s.receiver_cpu.as_secs_f64())
            .collect(),
    );
    println!(
        "{:<30} {:>24} {:>9.0} {:>7.1}% {:>14.3} {:>10} {:>14}",
        name,
        format!("{} [{}, {}]", human(rate), human(min), human(max)),
        bytes as f64 / wall / 1e6,
        100.0 * rate / reference_rate,
        cpu / (lines as f64 / 1e6),
        if rss == 0 {
            "-".to_string()
        } else {
            format!("{:.1} MiB", rss as f64 / 1024.0)
        },
        if receiver == 0.0 {
            "-".to_string()
        } else {
            format!("{:.2}", receiver / (lines as f64 / 1e6))
        },
    );
}

fn human(rate: f64) -> String {
    match rate {
        r if r >= 1e6 => format!("{:.2}M", r / 1e6),
        r => format!("{:.0}k", r / 1e3),
    }
}

/// One line of 1 GiB without a newline, piped into wsship connected to the
/// server as in every other case: peak RSS must stay near --max-len plus
/// the baseline (the peak of a default run), not near the line.
fn huge_line(server: &Server, baseline_kib: u64) {
    let max_len_kib = 1024;
    let mut child = Command::new(WSSHIP)
        .args(["--addr", &server.addr, "-q", "--max-len", "1MiB"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let peak = watch_peak_rss(child.id());
    let block = vec![b'x'; 1 << 20];
    let mut stdin = child.stdin.take().unwrap();
    for _ in 0..1024 {
        stdin.write_all(&block).unwrap();
    }
    drop(stdin);
    let (status, _, peak) = wait4(&mut child, peak);
    assert_eq!(status, 0, "wsship failed on the 1 GiB line");
    println!(
        "1 GiB line without newline, --max-len 1MiB: peak RSS {:.1} MiB; bound 2 x max-len + the default run's peak = {:.1} MiB",
        peak as f64 / 1024.0,
        (2 * max_len_kib + baseline_kib) as f64 / 1024.0,
    );
}
