//! Faults met for real: servers that echo, vanish, drop us, refuse us,
//! never answer, or stop reading.

use crate::server::{Behaviour, Server};
use crate::util::{LONG, assert_every_line_arrived, messages_of, numbered, wsship};
use std::net::TcpListener;

/// An address where nothing listens (a port that was free a moment ago).
fn free_addr() -> std::net::SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn an_echo_server_cannot_deadlock_a_million_lines() {
    let server = Server::start(Behaviour {
        echo: true,
        ..Behaviour::default()
    });
    let done = wsship(&["--url", &server.url()]).run(numbered(1_000_000));
    done.expect_code(0);
    assert_eq!(done.summary()["sent"], 1_000_000);
    server.wait_for_messages(1_000_000, LONG);
}

#[test]
fn a_server_that_comes_up_late_gets_every_line() {
    let addr = free_addr();
    let url = format!("ws://{addr}/late");
    let mut running = wsship(&[
        "--url",
        &url,
        "--retry-limit",
        "forever",
        "--backoff-init",
        "20ms",
        "--backoff-max",
        "100ms",
    ])
    .spawn();
    running.write(numbered(1000).as_bytes());
    running.wait_for_stderr("Connection refused; retrying", LONG);
    let server = Server::start_on(addr, Behaviour::default());
    running.wait_for_stderr("connected again after", LONG);
    let done = running.wait(LONG);
    done.expect_code(0);
    let expected = numbered(1000);
    assert_eq!(
        messages_of(&server.messages()),
        expected.lines().collect::<Vec<_>>()
    );
    let summary = done.summary();
    assert!(summary["retries"] >= 1, "{summary:?}");
    assert_eq!(
        done.stderr.matches("Connection refused").count(),
        1,
        "reported once:\n{}",
        done.stderr
    );
}

#[test]
fn a_server_closing_every_1000_messages_loses_nothing() {
    let server = Server::start(Behaviour {
        close_every: Some(1000),
        ..Behaviour::default()
    });
    let input = numbered(20_000);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "300",
        "--backoff-init",
        "10ms",
    ])
    .run(input.clone());
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(summary["sent"], 20_000);
    assert!(server.connections() > 1);
    assert_eq!(
        summary["reconnects"],
        server.connections() as u64 - 1,
        "{summary:?}"
    );

    // At least once, and with one worker in order: the first time each
    // line arrives is its place in the input.
    let received = messages_of(&server.messages());
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<&str> = received
        .iter()
        .map(|s| s.as_str())
        .filter(|s| seen.insert(*s))
        .collect();
    assert_every_line_arrived(&input, |line| seen.contains(line));
    let expected: Vec<&str> = input.lines().collect();
    let first_difference = firsts.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(
        first_difference,
        None,
        "out of order: {:?}",
        first_difference.map(|i| &firsts[i..i + 3])
    );
}

#[test]
fn retries_exhausted_fail_the_batch_and_the_run() {
    let url = format!("ws://{}/gone", free_addr());
    let done = wsship(&[
        "--url",
        &url,
        "--batch-size",
        "5",
        "--retry-limit",
        "2",
        "--backoff-init",
        "10ms",
    ])
    .run(numbered(10));
    done.expect_code(1);
    let summary = done.summary();
    assert_eq!(
        (summary["sent"], summary["failed"], summary["retries"]),
        (0, 10, 2)
    );
    // Both batches may have gone in one write: the count is not fixed.
    done.expect_stderr("lines after 3 attempts");
}

#[test]
fn a_refused_handshake_is_not_retried() {
    let server = Server::start(Behaviour {
        reject: Some(403),
        ..Behaviour::default()
    });
    let done = wsship(&["--url", &server.url(), "--backoff-init", "10ms"]).run(numbered(10));
    done.expect_code(1);
    done.expect_stderr("HTTP 403 Forbidden");
    assert_eq!(done.summary()["failed"], 10);
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_503_is_retried() {
    let server = Server::start(Behaviour {
        reject: Some(503),
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--retry-limit",
        "1",
        "--backoff-init",
        "10ms",
    ])
    .run("x\n");
    done.expect_code(1);
    assert_eq!(server.connections(), 2);
    assert_eq!(done.summary()["retries"], 1);
}

#[test]
fn a_silent_handshake_times_out() {
    let server = Server::start(Behaviour {
        mute: true,
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--connect-timeout",
        "300ms",
        "--retry-limit",
        "0",
    ])
    .run("x\n");
    done.expect_code(1);
    done.expect_stderr("handshake timed out");
}

#[test]
fn a_server_that_stops_reading_is_abandoned_after_the_write_timeout() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    // 64 MB: far more than the socket buffers on both sides hold.
    let line = format!("{}\n", "z".repeat(999_999));
    let input = line.repeat(64);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--write-timeout",
        "300ms",
        "--retry-limit",
        "0",
    ])
    .run(input);
    done.expect_code(1);
    done.expect_stderr("accepted no data");
    assert!(done.summary()["failed"] > 0);
}

#[test]
fn when_full_drop_keeps_reading_from_a_stalled_server_and_counts_the_drops() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    // Far more than the queues and socket buffers hold: with --when-full
    // block this would wait on the server; with drop, stdin keeps flowing.
    let done = wsship(&[
        "--url",
        &server.url(),
        "--when-full",
        "drop",
        "--ping-timeout",
        "500ms",
        "--retry-limit",
        "0",
    ])
    .run(numbered(300_000));
    done.expect_code(1);
    let summary = done.summary();
    assert_eq!(summary["read"], 300_000, "every line was read: {summary:?}");
    assert!(summary["dropped_full"] > 0, "{summary:?}");
    assert_eq!(summary["dropped_oversize"], 0);
    assert_eq!(summary["dropped"], summary["dropped_full"]);
    assert!(
        summary["failed"] > 0,
        "what was written to the stalled server is not confirmed"
    );
}

#[test]
fn single_line_batches_written_together_still_get_past_a_server_closing_every_100() {
    // A write may gather up to 256 waiting one-line batches, more than this
    // server takes per connection: what it cut off is written again batch
    // by batch, so every connection moves the stream forward.
    let server = Server::start(Behaviour {
        close_every: Some(100),
        ..Behaviour::default()
    });
    let input = numbered(3000);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "1",
        "--backoff-init",
        "1ms",
        "--backoff-max",
        "5ms",
        "--retry-limit",
        "forever",
    ])
    .run(input.clone());
    done.expect_code(0);
    assert_eq!(done.summary()["sent"], 3000);
    let received = messages_of(&server.messages());
    let seen: std::collections::HashSet<&str> = received.iter().map(|s| s.as_str()).collect();
    assert_every_line_arrived(&input, |line| seen.contains(line));
}
