//! Faults met for real: servers that echo, vanish, drop us, refuse us,
//! never answer, or stop reading.

use crate::server::{Behaviour, Reserved, Server};
use crate::util::{LONG, assert_every_line_arrived, messages_of, numbered, wait_until, wsship};

#[test]
fn an_echo_server_cannot_deadlock_us() {
    // 300,000 lines echoed back are some 20 MB each way: far more than the
    // socket buffers hold, so a sender that stopped reading would block.
    let server = Server::start(Behaviour {
        echo: true,
        ..Behaviour::default()
    });
    let done = wsship(&["--url", &server.url()]).run(numbered(300_000));
    server.assert_echoed_without_a_stall(&done, 300_000);
}

#[test]
fn a_server_that_comes_up_late_gets_every_line() {
    let port = Reserved::new();
    let url = format!("ws://{}/late", port.addr);
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
    let server = Server::start_on(port, Behaviour::default());
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
    let port = Reserved::new();
    let url = format!("ws://{}/gone", port.addr);
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
    done.expect_stderr("lines failed after 3 attempts");
}

#[test]
fn quiet_keeps_the_error_and_nothing_else() {
    let port = Reserved::new();
    let url = format!("ws://{}/gone", port.addr);
    let run = |quiet: &[&str]| {
        let mut args = vec![
            "--url",
            &url,
            "--retry-limit",
            "1",
            "--backoff-init",
            "10ms",
        ];
        args.extend(quiet);
        let done = wsship(&args).run(numbered(10));
        done.expect_code(1);
        done.stderr.lines().map(String::from).collect::<Vec<_>>()
    };
    let loud = run(&[]);
    assert!(loud.iter().any(|l| l.contains("retrying")), "{loud:?}");
    assert!(
        loud.iter().any(|l| l.starts_with("wsship: summary: ")),
        "{loud:?}"
    );
    let quiet = run(&["-q"]);
    assert_eq!(quiet.len(), 1, "{quiet:?}");
    assert!(
        quiet[0].contains("10 lines failed after 2 attempts"),
        "{quiet:?}"
    );
    assert_eq!(run(&["--quiet"]), quiet);
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

#[test]
fn a_closing_handshake_the_server_never_finishes_is_named_for_what_it_is() {
    let server = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--confirm",
        "write",
        "--connect-timeout",
        "300ms",
        "-v",
    ])
    .run("x\n");
    done.expect_code(0);
    done.expect_stderr(
        "worker 0: closing: server did not finish the closing handshake within --connect-timeout",
    );
    assert!(!done.stderr.contains("--write-timeout"), "{}", done.stderr);
}

/// The `read=` of every stats line so far.
fn reads(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("wsship: stats: read="))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn a_server_that_holds_its_pongs_stops_the_reading_within_the_window() {
    // A deaf server reads every frame and answers no Ping: each write
    // waits for a Pong that never comes.
    let server = Server::start(Behaviour {
        deaf: true,
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--max-in-flight",
        "4",
        "--batch-size",
        "10",
        "--flush-interval",
        "5ms",
        "--ping-interval",
        "0",
        "--ping-timeout",
        "1h",
        "--stats-interval",
        "30ms",
    ])
    .spawn();
    running.feed(numbered(300_000).into_bytes());
    // Reading stops: the read count stays the same over several stats
    // lines, far below the input.
    wait_until("the reading to stop", LONG, || {
        let reads = reads(&running.stderr());
        reads.len() >= 5 && reads[reads.len() - 5..].windows(2).all(|w| w[0] == w[1])
    });
    let read = *reads(&running.stderr()).last().unwrap();
    assert!(read < 20_000, "read {read} lines with nothing confirmed");
    // The window: four writes, each with its Ping, and nothing after them.
    let (keepalives, confirmations) = server.pings();
    assert_eq!((keepalives, confirmations), (0, 4));
    let messages = server.messages().len();
    assert!(
        (40..=4 * 256).contains(&messages),
        "{messages} messages in 4 writes"
    );
    let peak = running.peak_rss_kib();
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB");
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    assert_eq!(done.summary()["sent"], 0);
}

/// The delays `-v` reports before each retry, in order.
fn retry_delays(stderr: &str) -> Vec<std::time::Duration> {
    stderr
        .lines()
        .filter(|line| line.contains("; retry "))
        .filter_map(|line| line.rsplit(" in ").next())
        .filter_map(|delay| humantime::parse_duration(delay).ok())
        .collect()
}

#[test]
fn once_retries_are_spent_later_batches_fail_at_once_but_for_one_try_per_backoff() {
    let server = Server::start(Behaviour {
        reject: Some(503),
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--retry-limit",
        "1",
        "--backoff-init",
        "400ms",
        "--backoff-max",
        "400ms",
        "--batch-size",
        "1",
        "--flush-interval",
        "5ms",
    ])
    .spawn();
    let started = std::time::Instant::now();
    // Forty lines over about a second: the input's pace, not a wait.
    for i in 0..40 {
        running.write(format!("line {i}\n").as_bytes());
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let done = running.wait(LONG);
    let elapsed = started.elapsed();
    done.expect_code(1);
    assert_eq!(done.summary()["failed"], 40);
    // Two tries for the first batch, then one per backoff period (at
    // least 200 ms with jitter), not two for each of forty batches.
    let tries = server.requests().len();
    let periods = (elapsed.as_millis() / 200) as usize + 1;
    assert!(tries <= 2 + periods, "{tries} tries in {elapsed:?}");
    done.expect_stderr("later batches fail unless a retry succeeds");
}

#[test]
fn lines_failed_in_an_outage_are_counted_when_the_server_is_back() {
    // Refused twice (the first line's only try, then the one try a backoff
    // period allows), then in.
    let server = Server::start(Behaviour {
        unavailable: &[true, true],
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--retry-limit",
        "0",
        "--backoff-init",
        "50ms",
        "--backoff-max",
        "50ms",
        "--batch-size",
        "1",
        "--flush-interval",
        "5ms",
    ])
    .spawn();
    // A line every 20 ms until one arrives: the input's pace, not a wait.
    let deadline = std::time::Instant::now() + LONG;
    let mut written = 0u64;
    while server.messages().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing ever arrived");
        running.write(format!("line {written}\n").as_bytes());
        written += 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let done = running.wait(LONG);
    done.expect_code(1);
    let summary = done.summary();
    let (sent, failed) = (summary["sent"], summary["failed"]);
    assert_eq!(sent + failed, written);
    assert!(failed >= 1, "{}", done.stderr);
    assert_eq!(server.messages().len() as u64, sent);
    // The first failure says how many tries it took (one, in the singular),
    // and the recovery the whole count, as the summary has it.
    done.expect_stderr("failed after 1 attempt: ");
    let lines = match failed {
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    };
    done.expect_stderr(&format!("{lines} failed while the server was unreachable"));
}

#[test]
fn the_backoff_starts_over_after_a_success() {
    // 503 three times, then in; that connection is closed once its first
    // 5 messages are confirmed, and the next two handshakes get 503 again.
    let server = Server::start(Behaviour {
        unavailable: &[true, true, true, false, true, true],
        hang_up_after: Some(5),
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--backoff-init",
        "100ms",
        "--backoff-max",
        "10s",
        "--batch-size",
        "5",
        "--flush-interval",
        "5ms",
        "-v",
    ])
    .spawn();
    running.write(numbered(5).as_bytes());
    server.wait_for_messages(5, LONG);
    running.write(crate::util::numbered_range(5, 10).as_bytes());
    server.wait_for_messages(10, LONG);
    let done = running.wait(LONG);
    done.expect_code(0);
    let delays = retry_delays(&done.stderr);
    let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
    assert!(ms.len() >= 4, "{ms:?}\n{}", done.stderr);
    // The first outage: 100 ms, then doubled twice (each with jitter down
    // to half).
    assert!(ms[0] <= 100 && ms[2] >= 200, "{ms:?}\n{}", done.stderr);
    // After the success, from the start again.
    assert!(ms[3] <= 100, "{ms:?}\n{}", done.stderr);
}

#[test]
fn a_pong_read_just_before_the_close_still_confirms_its_batch() {
    // The server answers the Ping that confirms the first 5 messages, then
    // closes: both arrive in one read, Pong first.
    let server = Server::start(Behaviour {
        hang_up_after: Some(5),
        ..Behaviour::default()
    });
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "5",
        "--flush-interval",
        "5ms",
        "--backoff-init",
        "10ms",
    ])
    .spawn();
    running.write(numbered(5).as_bytes());
    server.wait_for_messages(5, LONG);
    running.write(crate::util::numbered_range(5, 10).as_bytes());
    let done = running.wait(LONG);
    done.expect_code(0);
    // Only the batch written after the Close is written again (the server
    // may have read it while closing: that is the window's duplicate).
    assert_eq!(done.summary()["resent"], 5, "{}", done.stderr);
    let got = messages_of(&server.messages());
    let expected = numbered(10);
    assert_eq!(
        got[..5],
        expected.lines().take(5).collect::<Vec<_>>()[..],
        "once"
    );
    assert_every_line_arrived(&expected, |line| got.iter().any(|g| g == line));
    assert!(got.len() <= 15, "{got:?}");
}
