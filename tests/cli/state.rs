//! `--state` without `--follow`: each run sends what was appended since the
//! last one, and the state never moves past a line that was not confirmed.

use crate::server::{Behaviour, Server};
use crate::util::{TempDir, append, messages_of, numbered, numbered_range, wsship};

/// Every line the server got, as the index `numbered` gave it.
fn indexes(server: &Server) -> Vec<usize> {
    messages_of(&server.messages())
        .iter()
        .map(|m| m[5..12].parse().expect("a numbered line"))
        .collect()
}

fn lines(from: usize, to: usize) -> Vec<usize> {
    (from..to).collect()
}

/// The position the state file records for its only file.
fn position(state: &str) -> u64 {
    let text = std::fs::read_to_string(state).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["version"], 1, "{text}");
    let files = value["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{text}");
    files[0]["position"].as_u64().unwrap()
}

#[test]
fn three_runs_send_exactly_what_was_appended_between_them() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("cron");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let run = || wsship(&["--url", &server.url(), "--state", &state, &log]).run(Vec::new());

    append(&log, &numbered(1000));
    let first = run();
    first.expect_code(0);
    assert_eq!(first.summary()["sent"], 1000);
    assert_eq!(position(&state), numbered(1000).len() as u64);

    append(&log, &numbered_range(1000, 1500));
    let second = run();
    second.expect_code(0);
    assert_eq!(second.summary()["sent"], 500);

    let third = run();
    third.expect_code(0);
    assert_eq!((third.summary()["read"], third.summary()["sent"]), (0, 0));
    assert_eq!(indexes(&server), lines(0, 1500), "each line once, in order");
    assert_eq!(position(&state), numbered(1500).len() as u64);
}

#[test]
fn a_line_still_being_written_waits_for_its_newline() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("partial");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let run = || wsship(&["--url", &server.url(), "--state", &state, &log]).run(Vec::new());
    append(&log, "one\ntwo\npart");
    run().expect_code(0);
    assert_eq!(position(&state), 8);
    append(&log, "ial\nthree\n");
    run().expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["one", "two", "partial", "three"]
    );
}

#[test]
fn dropped_lines_move_the_position_and_empty_ones_too() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("dropped");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let text = format!("ok\n{}\n\n\n", "x".repeat(50));
    append(&log, &text);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--state",
        &state,
        "--max-len",
        "10",
        &log,
    ])
    .run(Vec::new());
    done.expect_code(0);
    assert_eq!(done.summary()["dropped"], 1);
    assert_eq!(position(&state), text.len() as u64);
}

#[test]
fn several_workers_confirming_out_of_order_never_skip_a_line() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("workers");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let run = || {
        wsship(&[
            "--url",
            &server.url(),
            "--state",
            &state,
            "--workers",
            "4",
            "--batch-size",
            "7",
            &log,
        ])
        .run(Vec::new())
    };
    append(&log, &numbered(10_007));
    run().expect_code(0);
    append(&log, &numbered_range(10_007, 10_107));
    run().expect_code(0);
    let mut got = indexes(&server);
    got.sort();
    assert_eq!(got, lines(0, 10_107), "each line exactly once");
}

#[test]
fn failed_lines_are_sent_again_by_the_next_run() {
    let dir = TempDir::new("failed");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, &numbered(3000));
    // The first server confirms the first 1000 lines (the Ping after them
    // is answered), hangs up, and refuses every later handshake with 503:
    // the rest fail.
    static REFUSED: [bool; 100] = {
        let mut refused = [true; 100];
        refused[0] = false;
        refused
    };
    let failing = Server::start(Behaviour {
        hang_up_after: Some(1000),
        unavailable: &REFUSED,
        ..Behaviour::default()
    });
    let first = wsship(&[
        "--url",
        &failing.url(),
        "--state",
        &state,
        "--batch-size",
        "100",
        "--retry-limit",
        "1",
        "--backoff-init",
        "10ms",
        &log,
    ])
    .run(Vec::new());
    first.expect_code(1);
    let summary = first.summary();
    // At least the 1000 confirmed (more if a write ended past them, as a
    // batch cut short by --flush-interval on a loaded machine makes it).
    let sent = summary["sent"] as usize;
    assert!(
        (1000..3000).contains(&sent) && sent <= indexes(&failing).len(),
        "{summary:?}"
    );
    assert_eq!(summary["failed"] as usize, 3000 - sent, "{summary:?}");
    // One worker: the lines sent are the first ones, and the position stops
    // exactly before the first that failed.
    assert_eq!(position(&state), (sent * numbered(1).len()) as u64);

    let server = Server::start(Behaviour::default());
    let second = wsship(&["--url", &server.url(), "--state", &state, &log]).run(Vec::new());
    second.expect_code(0);
    // The next run starts exactly where the state stopped, and covers the rest.
    assert_eq!(indexes(&server), lines(sent, 3000));
}

#[test]
fn a_file_rotated_since_the_last_run_is_finished_before_its_successor() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("rotated");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let pattern = dir.file("app.log*");
    let run = || wsship(&["--url", &server.url(), "--state", &state, &pattern]).run(Vec::new());
    append(&log, &numbered(100));
    run().expect_code(0);
    // Written to the old file, then rotated away before the next run.
    append(&log, &numbered_range(100, 150));
    std::fs::rename(&log, dir.file("app.log.1")).unwrap();
    append(&log, &numbered_range(150, 200));
    // Named first on the command line, the new file still comes second.
    let done = wsship(&[
        "--url",
        &server.url(),
        "--state",
        &state,
        &log,
        &dir.file("app.log.1"),
    ])
    .run(Vec::new());
    done.expect_code(0);
    assert_eq!(indexes(&server), lines(0, 200));
    let again = run();
    again.expect_code(0);
    assert_eq!(again.summary()["sent"], 0);
}

#[test]
fn start_at_end_skips_what_was_there_and_sends_what_comes_later() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("start-at-end");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let run = || {
        wsship(&[
            "--url",
            &server.url(),
            "--state",
            &state,
            "--start-at",
            "end",
            &log,
        ])
        .run(Vec::new())
    };
    append(&log, &numbered(50));
    let first = run();
    first.expect_code(0);
    assert_eq!(first.summary()["sent"], 0);
    append(&log, &numbered_range(50, 60));
    run().expect_code(0);
    assert_eq!(indexes(&server), lines(50, 60));
}

#[test]
fn a_file_truncated_or_replaced_since_the_last_run_is_read_from_its_start() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("replaced");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let run = || wsship(&["--url", &server.url(), "--state", &state, &log]).run(Vec::new());
    append(&log, &numbered(100));
    run().expect_code(0);
    // Shorter than the position: truncated. What was written after the
    // position before that (if anything) is gone, and said to be: exit 1.
    std::fs::write(&log, numbered_range(500, 510)).unwrap();
    let said = |position: usize| {
        format!(
            "wsship: {log}: truncated or replaced since the last run (a new file on its inode): \
             lines written to it after byte {position} could not be sent; reading it from the \
             start\n"
        )
    };
    let done = run();
    done.expect_code(1);
    assert_eq!(
        done.stderr.matches(&said(100 * 31)).count(),
        1,
        "{}",
        done.stderr
    );
    // Longer, but other first bytes: the same inode, another file.
    std::fs::write(&log, numbered_range(1000, 1200)).unwrap();
    let done = run();
    done.expect_code(1);
    assert_eq!(
        done.stderr.matches(&said(10 * 31)).count(),
        1,
        "{}",
        done.stderr
    );
    run().expect_code(0);
    let mut want = lines(0, 100);
    want.extend(500..510);
    want.extend(1000..1200);
    assert_eq!(indexes(&server), want);
}

#[test]
fn a_state_that_cannot_be_read_stops_the_run_and_is_left_alone() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("corrupt");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, "never sent\n");
    for bad in [
        "{\"version\": 1, \"files\": [{\"path\"",
        "{\"version\": 9, \"files\": []}",
    ] {
        std::fs::write(&state, bad).unwrap();
        let done = wsship(&["--url", &server.url(), "--state", &state, &log]).run(Vec::new());
        done.expect_code(1);
        let first = done.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&format!("wsship: --state {state}: not a state file")),
            "{}",
            done.stderr
        );
        assert_eq!(done.stderr.lines().count(), 1, "one line:\n{}", done.stderr);
        assert_eq!(std::fs::read_to_string(&state).unwrap(), bad);
    }
    assert!(server.messages().is_empty());
}

#[test]
fn a_second_wsship_on_the_same_state_is_refused_at_once() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("locked");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, "first\n");
    let running = wsship(&["--url", &server.url(), "--state", &state, "-F", &log]).spawn();
    server.wait_for_messages(1, crate::util::LONG);
    // At once: not after the first one ends (which is only after this).
    let second = wsship(&["--url", &server.url(), "--state", &state, &log])
        .spawn()
        .wait(std::time::Duration::from_secs(5));
    second.expect_code(1);
    second.expect_stderr("another wsship is using this state file");
    running.signal(libc::SIGTERM);
    running.wait(crate::util::LONG).expect_code(130);
    assert_eq!(messages_of(&server.messages()), ["first"]);
}

#[test]
fn dry_run_shows_what_the_next_run_would_send_without_moving_the_state() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("dry-run");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, "old\n");
    wsship(&["--url", &server.url(), "--state", &state, &log])
        .run(Vec::new())
        .expect_code(0);
    append(&log, "new\n");
    let before = std::fs::read_to_string(&state).unwrap();
    let dry = wsship(&["--dry-run", "--state", &state, &log]).run(Vec::new());
    dry.expect_code(0);
    assert_eq!(
        messages_of(&dry.stdout.lines().map(String::from).collect::<Vec<_>>()),
        ["new"]
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before);

    // It writes nothing, not even the lock or a directory for a new state,
    // so it also runs beside the service that holds the state.
    let unborn = dir.file("not/yet/app.state");
    let fresh = wsship(&["--dry-run", "--state", &unborn, &log]).run(Vec::new());
    fresh.expect_code(0);
    assert_eq!(
        messages_of(&fresh.stdout.lines().map(String::from).collect::<Vec<_>>()),
        ["old", "new"]
    );
    assert!(!std::path::Path::new(&dir.file("not")).exists());
    let running = wsship(&["--url", &server.url(), "--state", &state, "-F", &log]).spawn();
    server.wait_for_messages(2, crate::util::LONG);
    let beside = wsship(&["--dry-run", "--state", &state, &log]).run(Vec::new());
    beside.expect_code(0);
    running.signal(libc::SIGTERM);
    running.wait(crate::util::LONG).expect_code(130);
    assert_eq!(messages_of(&server.messages()), ["old", "new"]);
}
