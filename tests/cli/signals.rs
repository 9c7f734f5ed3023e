//! SIGINT and SIGTERM: send what was read, close, exit 130.

use std::time::{Duration, Instant};

use crate::server::{Behaviour, Server};
use crate::util::{LONG, messages_of, numbered, wait_until, wsship};

#[test]
fn sigterm_sends_what_was_read_and_exits_130() {
    sends_what_was_read_and_exits_130(libc::SIGTERM);
}

#[test]
fn sighup_is_handled_like_sigterm() {
    sends_what_was_read_and_exits_130(libc::SIGHUP);
}

fn sends_what_was_read_and_exits_130(signal: i32) {
    let server = Server::start(Behaviour::default());
    // A batch that would wait an hour: only the signal can send it.
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "100000",
        "--flush-interval",
        "1h",
        "--stats-interval",
        "20ms",
    ])
    .spawn();
    running.write(numbered(5000).as_bytes());
    running.wait_for_stderr("stats: read=5000 ", LONG);
    assert!(server.messages().is_empty());
    running.signal(signal);
    let done = running.wait(LONG);
    done.expect_code(130);
    assert_eq!(done.summary()["sent"], 5000);
    let expected = numbered(5000);
    assert_eq!(
        messages_of(&server.messages()),
        expected.lines().collect::<Vec<_>>()
    );
}

#[test]
fn a_stalled_server_gets_only_the_drain_timeout() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--drain-timeout",
        "300ms",
        "--stats-interval",
        "20ms",
    ])
    .spawn();
    let line = format!("{}\n", "z".repeat(999_999));
    running.feed(line.repeat(40).into_bytes());
    // Interrupt what the test is about: a write the server will never
    // take. Every line is read, the handshake is done, nothing is sent:
    // 40 MB cannot fit in the socket's buffers.
    running.wait_for_stderr("stats: read=40 sent=0 ", LONG);
    wait_until("the handshake", LONG, || server.targets().len() == 1);
    let signalled = Instant::now();
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    let took = signalled.elapsed();
    done.expect_code(130);
    // Far less than --write-timeout (30s): the drain timeout decides.
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after the signal"
    );
    let summary = done.summary();
    assert_eq!((summary["sent"], summary["failed"]), (0, 40));
}

#[test]
fn a_second_signal_exits_at_once() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--drain-timeout",
        "1h",
        "--stats-interval",
        "20ms",
    ])
    .spawn();
    let line = format!("{}\n", "z".repeat(999_999));
    running.feed(line.repeat(40).into_bytes());
    running.wait_for_stderr("stats: read=40 sent=0 ", LONG);
    running.signal(libc::SIGINT);
    let signalled = Instant::now();
    running.signal(libc::SIGTERM);
    running.wait(LONG).expect_code(130);
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "exited {took:?} after the second signal"
    );
}
