//! --metrics-listen and --metrics-file: scraped while wsship follows a file
//! into a real server, read with a Prometheus parser, and compared with
//! what the summary says.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use crate::follow::{follow, stop};
use crate::server::{Behaviour, Server};
use crate::util::{LONG, Running, TempDir, append, numbered, numbered_range, wait_until, wsship};

/// The address wsship serves its metrics on, from its -v line.
fn metrics_addr(running: &Running) -> String {
    // The line's end: stderr may arrive in pieces.
    running.wait_for_stderr("/metrics, health on /health", LONG);
    let stderr = running.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("metrics on http://"))
        .unwrap();
    let rest = line.split("http://").nth(1).unwrap();
    rest.split('/').next().unwrap().to_string()
}

/// One request: its status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: wsship\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// /metrics, parsed, checked for a HELP and a TYPE per family, as samples
/// by name and labels.
fn scrape(addr: &str) -> HashMap<String, f64> {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|f| body.contains(&format!("# TYPE {f} histogram")))
            .unwrap_or(name);
        assert!(body.contains(&format!("# HELP {family} ")), "{line}");
        assert!(body.contains(&format!("# TYPE {family} ")), "{line}");
    }
    let parsed = Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let mut samples = HashMap::new();
    for sample in parsed.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let key = match labels.is_empty() {
            true => sample.metric.clone(),
            false => format!("{}{{{}}}", sample.metric, labels.join(",")),
        };
        let value = match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => panic!("no summaries"),
        };
        samples.insert(key, value);
    }
    samples
}

/// A writer appending numbered lines every few milliseconds until stopped;
/// returns how many it wrote.
fn writer(log: &str) -> (Arc<AtomicBool>, thread::JoinHandle<usize>) {
    let writing = Arc::new(AtomicBool::new(true));
    let handle = {
        let (log, writing) = (log.to_string(), writing.clone());
        thread::spawn(move || {
            let mut file = OpenOptions::new().append(true).open(log).unwrap();
            let mut written = 0;
            while writing.load(Ordering::Relaxed) {
                file.write_all(numbered_range(written, written + 10).as_bytes())
                    .unwrap();
                written += 10;
                thread::sleep(Duration::from_millis(10));
            }
            written
        })
    };
    (writing, handle)
}

/// Handshakes refused after the first connection closes: an outage of a
/// few seconds, longer than the --ping-timeout the test gives.
static OUTAGE: [bool; 31] = {
    let mut refused = [true; 31];
    refused[0] = false;
    refused
};

#[test]
fn metrics_follow_the_run_a_server_away_and_back_and_end_as_the_summary() {
    // Each connection confirms 300 messages and closes; the first close
    // is followed by handshakes refused for a few seconds.
    let server = Server::start(Behaviour {
        hang_up_after: Some(300),
        unavailable: &OUTAGE,
        ..Behaviour::default()
    });
    let dir = TempDir::new("metrics");
    let log = dir.file("app.log");
    append(&log, &numbered(100));
    let running = follow(
        &server,
        &[
            "-v",
            "--metrics-listen",
            "127.0.0.1:0",
            "--ping-timeout",
            "1s",
            "--backoff-init",
            "100ms",
            "--backoff-max",
            "150ms",
        ],
        &[&log],
    );
    let addr = metrics_addr(&running);
    let (writing, written) = writer(&log);
    let connected = format!("wsship_connected{{server=ws://{}}}", server.addr());
    let is = |name: &str, value: f64| scrape(&addr).get(name) == Some(&value);
    wait_until("connected", LONG, || is(&connected, 1.0));
    assert_eq!(get(&addr, "/health").0, 200);
    // Closed after 300 messages, and refused for a while: away.
    wait_until("disconnected", LONG, || is(&connected, 0.0));
    wait_until("unhealthy", LONG, || get(&addr, "/health").0 == 503);
    let (_, why) = get(&addr, "/health");
    assert!(
        why.starts_with(&format!("ws://{}: no connection for ", server.addr())),
        "{why}"
    );
    // Back.
    wait_until("connected again", LONG, || is(&connected, 1.0));
    wait_until("healthy again", LONG, || get(&addr, "/health").0 == 200);
    writing.store(false, Ordering::Relaxed);
    let total = written.join().unwrap() + 100;
    let path = format!("wsship_file_confirmed_bytes{{path={log}}}");
    let size = std::fs::metadata(&log).unwrap().len() as f64;
    wait_until("everything confirmed", LONG, || is(&path, size));
    let last = scrape(&addr);
    assert_eq!(last[&format!("wsship_file_size_bytes{{path={log}}}")], size);
    assert_eq!(last[&format!("wsship_file_read_bytes{{path={log}}}")], size);
    assert_eq!(last["wsship_lines_read_total"], total as f64);
    let done = stop(running);
    let summary = done.summary();
    for (metric, field) in [
        ("wsship_lines_read_total", "read"),
        ("wsship_lines_sent_total", "sent"),
        ("wsship_lines_failed_total", "failed"),
        ("wsship_lines_filtered_total", "filtered"),
        ("wsship_lines_resent_total", "resent"),
        ("wsship_reconnects_total", "reconnects"),
        ("wsship_retries_total", "retries"),
        ("wsship_bytes_sent_total", "bytes_sent"),
        ("wsship_lines_invalid_utf8_total", "invalid_utf8"),
    ] {
        assert_eq!(last[metric], summary[field] as f64, "{metric}");
    }
    assert_eq!(last["wsship_lines_dropped_total{reason=oversize}"], 0.0);
    assert!(
        summary["reconnects"] >= 1 && summary["retries"] >= 1,
        "{summary:?}"
    );
    assert_eq!(last["wsship_queue_batches"], 0.0);
    assert_eq!(last["wsship_inflight_batches"], 0.0);
    let confirms = format!("wsship_confirm_seconds{{server=ws://{}}}", server.addr());
    assert!(last[&confirms] >= 1.0, "confirmations counted");
    assert!(
        last.keys()
            .any(|k| k.starts_with("wsship_build_info{version="))
    );
}

#[test]
fn bad_requests_leave_the_pipeline_and_the_next_scrape_unharmed() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("metrics-bad");
    let log = dir.file("app.log");
    append(&log, &numbered(100));
    let running = follow(&server, &["-v", "--metrics-listen", "127.0.0.1:0"], &[&log]);
    let addr = metrics_addr(&running);
    server.wait_for_messages(100, LONG);
    // Garbage, then a megabyte of headers, then a client that says nothing
    // while the others are served.
    let mut silent = TcpStream::connect(&addr).unwrap();
    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage
        .write_all(b"\x00\x01 not http at all\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    let _ = garbage.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
    let mut large = TcpStream::connect(&addr).unwrap();
    let header = format!(
        "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n",
        "x".repeat(1 << 20)
    );
    // The server stops reading at its limit: the rest may not be taken.
    let _ = large.write_all(header.as_bytes());
    let mut reply = String::new();
    let _ = large.read_to_string(&mut reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "{reply:?}"
    );
    for (path, status) in [("/nothing", 404), ("/health", 200), ("/metrics?x=1", 200)] {
        assert_eq!(get(&addr, path).0, status, "{path}");
    }
    // The pipeline went on meanwhile.
    append(&log, &numbered_range(100, 200));
    server.wait_for_messages(200, LONG);
    wait_until("200 lines confirmed", LONG, || {
        scrape(&addr)["wsship_lines_sent_total"] == 200.0
    });
    silent.write_all(b"GET").unwrap();
    drop(silent);
    stop(running);
}

#[test]
fn the_metrics_file_is_always_whole_and_says_the_last_word_at_exit() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("metrics-file");
    let (log, prom) = (dir.file("app.log"), dir.file("wsship.prom"));
    append(&log, &numbered(50));
    let url = server.url();
    let running = wsship(&[
        "--url",
        &url,
        "-F",
        "--flush-interval",
        "20ms",
        "--metrics-file",
        &prom,
        "--stats-interval",
        "100ms",
        "-q",
        &log,
    ])
    .spawn();
    let (writing, written) = writer(&log);
    // Read it as node_exporter would, over and over, while it is replaced.
    let mut reads = 0;
    wait_until("twenty whole reads", LONG, || {
        if let Ok(text) = std::fs::read_to_string(&prom) {
            assert!(
                text.ends_with(&format!(
                    "wsship_build_info{{version=\"{}\"}} 1\n",
                    env!("CARGO_PKG_VERSION")
                )),
                "a file read half written:\n{text}"
            );
            Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
            reads += 1;
        }
        reads >= 20
    });
    writing.store(false, Ordering::Relaxed);
    let total = written.join().unwrap() + 50;
    server.wait_for_messages(total, LONG);
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains(&format!("\nwsship_lines_sent_total {total}\n")),
        "{text}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "no temporary left: {names:?}");
}

#[test]
fn a_port_that_cannot_be_bound_stops_the_run_before_it_reads() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let done = wsship(&["--metrics-listen", &addr, "--addr", "127.0.0.1:1"]).run("line\n");
    done.expect_code(1)
        .expect_stderr(&format!("wsship: --metrics-listen {addr}: cannot listen: "));
    assert!(!done.stderr.contains("summary"), "{}", done.stderr);
}
