//! Confirmed delivery: a batch is sent once the server's Pong proves it read
//! it; what a dying connection had not confirmed is written again.

use std::collections::HashMap;

use crate::server::{Behaviour, Server};
use crate::util::{LONG, assert_every_line_arrived, messages_of, numbered, wsship};

/// How often each line arrived, checking that none is missing.
#[track_caller]
fn arrivals(server: &Server, input: &str) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for message in messages_of(&server.messages()) {
        *seen.entry(message).or_insert(0) += 1;
    }
    assert_every_line_arrived(input, |line| seen.contains_key(line));
    seen
}

#[test]
fn a_server_killed_every_50000_messages_loses_nothing_and_duplicates_stay_within_the_window() {
    let server = Server::start(Behaviour {
        drop_every: Some(50_000),
        ..Behaviour::default()
    });
    let input = numbered(500_000);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--backoff-init",
        "10ms",
        "--max-in-flight",
        "8",
    ])
    .run(input.clone());
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(summary["sent"], 500_000);
    let seen = arrivals(&server, &input);
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let restarts = server.connections() as u64 - 1;
    assert!(restarts >= 9, "{restarts} restarts");
    // Every duplicate is a line wsship wrote again, and it writes again at
    // most the window (8 batches of 500) per lost connection.
    assert!(
        duplicates as u64 <= summary["resent"],
        "{duplicates} duplicates, {summary:?}"
    );
    assert!(summary["resent"] <= restarts * 8 * 500, "{summary:?}");
}

#[test]
fn a_connection_cut_before_the_pong_means_a_resend() {
    // Each connection reads 750 messages, then dies: the third batch of 300
    // was half read and never confirmed, so it must come again, whole.
    // Batches of 256 lines or more go one per write, each with its own Ping.
    let server = Server::start(Behaviour {
        drop_every: Some(750),
        ..Behaviour::default()
    });
    let input = numbered(900);
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
    let seen = arrivals(&server, &input);
    assert_eq!(server.connections(), 2);
    // The server read these on the first connection, yet they were not
    // counted as sent on the strength of a write alone.
    assert_eq!(
        seen["line 0000600 of the test input"], 2,
        "resent after the cut"
    );
    assert_eq!(
        seen["line 0000899 of the test input"], 1,
        "never read before the cut"
    );
    let summary = done.summary();
    assert_eq!(summary["sent"], 900);
    // The second batch's Pong may die with the connection too.
    assert!([300, 600].contains(&summary["resent"]), "{summary:?}");
}

#[test]
fn a_server_that_never_answers_pings_is_named_once() {
    let server = Server::start(Behaviour {
        deaf: true,
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--ping-timeout",
        "300ms",
        "--backoff-init",
        "10ms",
    ])
    .run(numbered(10));
    done.expect_code(1);
    done.expect_stderr("use --confirm write");
    assert_eq!(
        done.stderr.matches("--confirm write").count(),
        1,
        "{}",
        done.stderr
    );
    assert_eq!(
        server.connections(),
        2,
        "gave up after two silent connections"
    );
    assert_eq!(done.summary()["failed"], 10);
}

#[test]
fn confirm_write_works_with_a_server_that_never_answers_pings() {
    let server = Server::start(Behaviour {
        deaf: true,
        ..Behaviour::default()
    });
    let input = numbered(5000);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--confirm",
        "write",
        "--ping-timeout",
        "300ms",
    ])
    .run(input.clone());
    done.expect_code(0);
    server.wait_for_messages(5000, LONG);
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().collect::<Vec<_>>()
    );
}

#[test]
fn a_black_hole_is_found_by_the_ping_timeout() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--ping-timeout",
        "300ms",
        "--retry-limit",
        "0",
    ])
    .run("x\n");
    done.expect_code(1);
    done.expect_stderr("no Pong within --ping-timeout");
}

#[test]
fn confirm_write_keeps_a_connection_whose_server_ignores_keepalives() {
    let server = Server::start(Behaviour {
        deaf: true,
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--confirm",
        "write",
        "--ping-interval",
        "20ms",
        "--ping-timeout",
        "50ms",
        "--stats-interval",
        "20ms",
        "--flush-interval",
        "10ms",
    ])
    .spawn();
    running.write(b"first\n");
    server.wait_for_messages(1, LONG);
    // Twenty statistics lines later, keepalives have long gone unanswered.
    running.wait_for_stderr_times("stats: ", 20, LONG);
    running.write(b"second\n");
    server.wait_for_messages(2, LONG);
    let done = running.wait(LONG);
    done.expect_code(0);
    assert_eq!(server.connections(), 1, "no reconnect: {}", done.stderr);
    assert_eq!(messages_of(&server.messages()), ["first", "second"]);
}

#[test]
fn pongs_that_answer_no_ping_of_ours_confirm_nothing() {
    // Pongs nobody asked for, 8 bytes each, and Pings answered with other
    // payloads: the server reads every line, and proves none of it.
    let server = Server::start(Behaviour {
        false_pongs: true,
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--retry-limit",
        "0",
        "--ping-timeout",
        "2s",
        "-v",
    ])
    .run(numbered(1000));
    done.expect_code(1);
    let summary = done.summary();
    assert_eq!(
        (summary["sent"], summary["failed"]),
        (0, 1000),
        "{summary:?}"
    );
    assert_eq!(server.messages().len(), 1000, "the server read them all");
    done.expect_stderr(
        "worker 0: the server sent a Pong that answers none of our Pings: ignored, as every \
         such Pong on this connection will be (it proves nothing was read)",
    );
    done.expect_stderr("Pongs that answered none of our Pings ignored on this connection");
    assert_eq!(
        done.stderr.matches("answers none of our Pings").count(),
        1,
        "said once:\n{}",
        done.stderr
    );
}
