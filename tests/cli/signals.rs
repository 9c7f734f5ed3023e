//! SIGINT and SIGTERM: send what was read, close, exit 130.

use std::time::Duration;

use crate::server::{Behaviour, Server};
use crate::util::{LONG, messages_of, numbered, wsship};

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
    let mut running = wsship(&["--url", &server.url(), "--drain-timeout", "300ms"]).spawn();
    let line = format!("{}\n", "z".repeat(999_999));
    running.feed(line.repeat(40).into_bytes());
    server.wait_for_connections(1, LONG);
    running.signal(libc::SIGTERM);
    // Far less than --write-timeout (30s): the drain timeout decides.
    let done = running.wait(Duration::from_secs(20));
    done.expect_code(130);
    assert!(done.summary()["failed"] > 0);
}

#[test]
fn a_second_signal_exits_at_once() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    let mut running = wsship(&["--url", &server.url(), "--drain-timeout", "1h"]).spawn();
    let line = format!("{}\n", "z".repeat(999_999));
    running.feed(line.repeat(40).into_bytes());
    server.wait_for_connections(1, LONG);
    running.signal(libc::SIGINT);
    running.signal(libc::SIGTERM);
    running.wait(Duration::from_secs(20)).expect_code(130);
}
