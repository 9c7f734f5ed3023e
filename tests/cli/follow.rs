//! `--follow`: files read as they grow, across rotation, truncation and
//! deletion, and, with `--state`, resumed exactly after a crash.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::server::{Behaviour, Server};
use crate::util::{
    LONG, Running, TempDir, append, fifo, messages_of, numbered, numbered_range, wait_until, wsship,
};

/// Bytes of each line `numbered` writes.
const LINE: usize = 31;

fn indexes(server: &Server) -> Vec<usize> {
    messages_of(&server.messages())
        .iter()
        .map(|m| m[5..12].parse().expect("a numbered line"))
        .collect()
}

/// wsship following `files` into `server`, with a short flush interval.
pub fn follow(server: &Server, extra: &[&str], files: &[&str]) -> Running {
    let url = server.url();
    let mut args = vec!["--url", &url, "-F", "--flush-interval", "20ms"];
    args.extend_from_slice(extra);
    args.extend_from_slice(files);
    wsship(&args).spawn()
}

/// Ends a follow with SIGTERM, as a service manager would: exit 130.
pub fn stop(running: Running) -> crate::util::Finished {
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    done
}

#[test]
fn appended_lines_arrive_and_a_quiet_file_is_looked_at_often_enough() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("appended");
    let log = dir.file("app.log");
    append(&log, &numbered(10));
    // The defaults: the README promises about 250 ms plus --flush-interval
    // (100 ms) for a line appended to a quiet file.
    let running = wsship(&["--url", &server.url(), "-F", &log]).spawn();
    server.wait_for_messages(10, LONG);
    // Quiet long enough for the looks to be as far apart as they get.
    for round in 0..3 {
        let before = Instant::now();
        while before.elapsed() < Duration::from_millis(600) {
            thread::sleep(Duration::from_millis(50));
        }
        let appended = Instant::now();
        append(&log, &numbered_range(10 + round, 11 + round));
        // 350 ms promised; a second leaves room for a loaded machine, and
        // none for a quiet file looked at less often than every 250 ms
        // twice over.
        server.wait_for_messages(11 + round, Duration::from_secs(1));
        eprintln!(
            "a line appended to a quiet file arrived after {:?}",
            appended.elapsed()
        );
    }
    stop(running);
    assert_eq!(indexes(&server), (0..13).collect::<Vec<_>>());
}

#[test]
fn rotation_by_rename_at_speed_loses_nothing_and_repeats_nothing() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("rotation");
    let log = dir.file("app.log");
    append(&log, "");
    let running = follow(&server, &["-v"], &[&log]);
    // Only once it has the first file open: a file renamed before wsship
    // ever saw it is not one it was asked to follow.
    running.wait_for_stderr("app.log: reading from byte 0", LONG);
    let mut next = 0;
    // Where each file's lines start: a file holds one run of line numbers.
    let mut starts = vec![0];
    let mut file = OpenOptions::new().append(true).open(&log).unwrap();
    for rotation in 1..=5 {
        // As fast as it goes, in writes of 100 lines.
        for _ in 0..20 {
            file.write_all(numbered_range(next, next + 100).as_bytes())
                .unwrap();
            next += 100;
        }
        // logrotate's rename; the application writes on to the old file
        // until it reopens its log.
        std::fs::rename(&log, format!("{log}.{rotation}")).unwrap();
        file.write_all(numbered_range(next, next + 50).as_bytes())
            .unwrap();
        next += 50;
        file = File::create(&log).unwrap();
        starts.push(next);
        file.write_all(numbered_range(next, next + 10).as_bytes())
            .unwrap();
        next += 10;
        // The next rotation only once this one was seen: a name rotated
        // twice between two looks cannot be followed by any tail -F.
        server.wait_for_message(&format!("line {:07} ", next - 10), LONG);
    }
    starts.push(usize::MAX);
    server.wait_for_messages(next, LONG);
    let done = stop(running);
    let got = indexes(&server);
    let unique: HashSet<usize> = got.iter().copied().collect();
    assert_eq!(unique.len(), next, "every line");
    assert_eq!(got.len(), next, "and each once");
    assert_eq!(done.summary()["sent"], next as u64);
    for file in starts.windows(2) {
        let lines: Vec<usize> = got
            .iter()
            .copied()
            .filter(|i| (file[0]..file[1]).contains(i))
            .collect();
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "the file from line {} out of order",
            file[0]
        );
    }
}

#[test]
fn truncation_in_place_is_noticed_once_and_what_follows_arrives() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("truncated");
    let log = dir.file("app.log");
    append(&log, &numbered(100));
    let running = follow(&server, &[], &[&log]);
    server.wait_for_messages(100, LONG);
    // copytruncate: the content was copied away; the file is emptied in place.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &numbered_range(1000, 1050));
    server.wait_for_messages(150, LONG);
    // `> app.log`, then more than was there before.
    File::create(&log).unwrap();
    append(&log, &numbered_range(2000, 2300));
    server.wait_for_messages(450, LONG);
    let done = stop(running);
    let mut want: Vec<usize> = (0..100).collect();
    want.extend(1000..1050);
    want.extend(2000..2300);
    assert_eq!(indexes(&server), want);
    assert_eq!(
        done.stderr.matches("truncated;").count(),
        2,
        "{}",
        done.stderr
    );
}

#[test]
fn a_deleted_file_is_finished_and_its_name_waited_for() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("deleted");
    let log = dir.file("app.log");
    append(&log, &numbered(10));
    let running = follow(&server, &["-v"], &[&log]);
    server.wait_for_messages(10, LONG);
    // Lines wsship has not read yet, and the file deleted at once (within
    // microseconds, where its looks are 250 ms apart once it is quiet):
    // what remains is read through the open handle.
    let mut file = OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(numbered_range(10, 5000).as_bytes()).unwrap();
    std::fs::remove_file(&log).unwrap();
    drop(file);
    running.wait_for_stderr("app.log: gone; waiting for it to come back", LONG);
    server.wait_for_messages(5000, LONG);
    append(&log, &numbered_range(5000, 5010));
    server.wait_for_messages(5010, LONG);
    stop(running);
    assert_eq!(indexes(&server), (0..5010).collect::<Vec<_>>());
}

#[test]
fn a_file_missing_at_start_is_reported_once_and_read_when_it_appears() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("missing");
    let log = dir.file("later.log");
    let running = follow(&server, &[], &[&log]);
    running.wait_for_stderr("No such file or directory; waiting for it to appear", LONG);
    append(&log, &numbered(5));
    server.wait_for_messages(5, LONG);
    let done = stop(running);
    assert_eq!(
        done.stderr.matches("waiting for it").count(),
        1,
        "{}",
        done.stderr
    );
    assert_eq!(indexes(&server), (0..5).collect::<Vec<_>>());
}

#[test]
fn a_pattern_picks_up_files_created_after_start() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("pattern");
    append(dir.file("a.log"), &numbered(3));
    let pattern = dir.file("*.log");
    let running = follow(&server, &["--scan-interval", "100ms"], &[&pattern]);
    server.wait_for_messages(3, LONG);
    append(dir.file("ignored.txt"), "not matched\n");
    append(dir.file("b.log"), &numbered_range(3, 6));
    server.wait_for_messages(6, LONG);
    append(dir.file("a.log"), &numbered_range(6, 8));
    server.wait_for_messages(8, LONG);
    stop(running);
    assert_eq!(indexes(&server), (0..8).collect::<Vec<_>>());
}

#[test]
fn a_busy_file_never_holds_up_a_quiet_one() {
    let server = Server::start(Behaviour {
        keep_only: Some("quiet"),
        ..Behaviour::default()
    });
    let dir = TempDir::new("busy");
    let (busy, quiet) = (dir.file("busy.log"), dir.file("quiet.log"));
    append(&busy, "");
    append(&quiet, "");
    let running = follow(&server, &["-v"], &[&busy, &quiet]);
    running.wait_for_stderr("quiet.log: reading from byte 0", LONG);
    // A line in one file, then at once a backlog that takes a while to send
    // in the other: both are found by the same look, since the quiet one is
    // written first, and the busy one gets one turn of 4 MiB before the
    // quiet one has its own.
    const BUSY: usize = 1_000_000;
    let block = "busy ".repeat(8) + "\n";
    append(&quiet, "quiet line\n");
    append(&busy, &block.repeat(BUSY));
    server.wait_for_count(BUSY + 1, LONG);
    let before = server.arrived_after()[0];
    eprintln!("the quiet line arrived after {before} of {BUSY} busy lines");
    let turn = 4 << 20;
    assert!(
        before <= turn / block.len() + 1,
        "the quiet line waited for {before} busy lines, more than a turn"
    );
    stop(running);
}

#[test]
fn start_at_end_follows_only_what_is_written_from_now_on() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-end");
    let log = dir.file("app.log");
    append(&log, &numbered(20));
    let running = follow(&server, &["--start-at", "end", "-v"], &[&log]);
    running.wait_for_stderr(&format!("app.log: reading from byte {}", 20 * LINE), LONG);
    append(&log, &numbered_range(20, 25));
    server.wait_for_messages(5, LONG);
    stop(running);
    assert_eq!(indexes(&server), (20..25).collect::<Vec<_>>());
}

#[test]
fn start_at_end_never_starts_in_the_middle_of_a_long_last_line() {
    // The last line is still being written, and longer than a read (64
    // KiB): it is sent whole once its newline comes.
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-end-long");
    let log = dir.file("app.log");
    let long = "x".repeat(100 * 1024);
    append(&log, &format!("{}{long}", numbered(20)));
    let running = follow(&server, &["--start-at", "end", "-v"], &[&log]);
    running.wait_for_stderr(&format!("app.log: reading from byte {}", 20 * LINE), LONG);
    append(&log, " end of the long line\n");
    append(&log, &numbered_range(20, 22));
    server.wait_for_messages(3, LONG);
    let done = stop(running);
    let got = messages_of(&server.messages());
    assert_eq!(got[0], format!("{long} end of the long line"));
    assert_eq!(
        got[1..],
        [
            "line 0000020 of the test input",
            "line 0000021 of the test input"
        ]
    );
    assert_eq!(done.summary()["dropped"], 0);

    // Longer than --max-len already: it would be dropped whole, so the
    // rest of it is skipped, counted as one dropped line; not sent as a
    // fragment.
    std::fs::write(&log, format!("{}{long}", numbered(3))).unwrap();
    let server = Server::start(Behaviour::default());
    let running = follow(
        &server,
        &["--start-at", "end", "--max-len", "1000", "-v"],
        &[&log],
    );
    running.wait_for_stderr("within a line longer than --max-len", LONG);
    append(&log, "tail of it\n");
    append(&log, &numbered_range(3, 4));
    server.wait_for_messages(1, LONG);
    let done = stop(running);
    assert_eq!(
        messages_of(&server.messages()),
        ["line 0000003 of the test input"]
    );
    assert_eq!((done.summary()["read"], done.summary()["dropped"]), (2, 1));
}

#[test]
fn sigterm_drains_and_leaves_the_state_at_the_end() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-sigterm");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, &numbered(500));
    let running = follow(&server, &["--state", &state], &[&log]);
    server.wait_for_messages(500, LONG);
    let done = stop(running);
    assert_eq!(done.summary()["sent"], 500);
    let again = wsship(&["--url", &server.url(), "--state", &state, &log]).run(Vec::new());
    again.expect_code(0);
    assert_eq!(again.summary()["read"], 0);
}

/// The position the state records for its one file, as a line count.
fn state_lines(state: &str) -> Option<usize> {
    let text = std::fs::read_to_string(state).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let position = value["files"].get(0)?["position"].as_u64()?;
    Some(position as usize / LINE)
}

#[test]
fn kill_9_while_following_loses_nothing_and_resumes_where_the_state_says() {
    let dir = TempDir::new("kill-9");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, "");
    // A steady writer, 100 lines every 5 ms, until the kills are over.
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (log, writing) = (log.clone(), writing.clone());
        thread::spawn(move || {
            let mut file = OpenOptions::new().append(true).open(log).unwrap();
            let mut written = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                file.write_all(numbered_range(written, written + 100).as_bytes())
                    .unwrap();
                written += 100;
                thread::sleep(Duration::from_millis(5));
            }
            written
        })
    };
    let mut servers: Vec<Server> = Vec::new();
    let mut recorded = Vec::new();
    for _ in 0..4 {
        let server = Server::start(Behaviour::default());
        let running = follow(&server, &["--state", &state], &[&log]);
        let before = state_lines(&state).unwrap_or(0);
        server.wait_for_messages(1000, LONG);
        // Kill it only once the state has moved in this run.
        wait_until("the state to move", LONG, || {
            state_lines(&state).is_some_and(|lines| lines > before)
        });
        let at_kill = state_lines(&state).unwrap();
        running.signal(libc::SIGKILL);
        let _ = running.wait(LONG);
        recorded.push(at_kill);
        servers.push(server);
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let total = writer.join().unwrap();
    let last = Server::start(Behaviour::default());
    let running = follow(&last, &["--state", &state], &[&log]);
    last.wait_for_message(&format!("line {:07} ", total - 1), LONG);
    stop(running);
    servers.push(last);

    let runs: Vec<Vec<usize>> = servers.iter().map(indexes).collect();
    let mut union = HashSet::new();
    for (i, run) in runs.iter().enumerate() {
        assert!(run.windows(2).all(|w| w[0] < w[1]), "run {i} out of order");
        union.extend(run.iter().copied());
        if i > 0 {
            // It starts where the state said at the kill, or later if the
            // state was written once more before the process died.
            let first = run.first().copied().unwrap_or(usize::MAX);
            assert!(
                first >= recorded[i - 1],
                "run {i} replayed lines the state had passed"
            );
            assert!(
                first <= runs[i - 1].last().copied().unwrap_or(0) + 1,
                "run {i} skipped lines"
            );
        }
    }
    assert_eq!(union.len(), total, "every line at least once");
    let sent: usize = runs.iter().map(Vec::len).sum();
    eprintln!(
        "{} duplicates over 4 kills, {total} lines at about 20,000 lines/s",
        sent - total
    );
}

#[test]
fn a_followed_file_read_from_its_state_position_after_a_restart() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-resume");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, &numbered(100));
    let running = follow(&server, &["--state", &state], &[&log]);
    server.wait_for_messages(100, LONG);
    stop(running);
    // Written while nothing was following it.
    append(&log, &numbered_range(100, 130));
    let running = follow(&server, &["--state", &state], &[&log]);
    server.wait_for_messages(130, LONG);
    stop(running);
    assert_eq!(indexes(&server), (0..130).collect::<Vec<_>>());
    assert!(Path::new(&state).exists());
}

#[test]
fn standard_input_is_read_beside_followed_files_and_may_end_first() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-stdin");
    let log = dir.file("app.log");
    append(&log, &numbered(3));
    let mut running = follow(&server, &[], &[&log, "-"]);
    server.wait_for_messages(3, LONG);
    running.write(b"from standard input\n");
    server.wait_for_message("from standard input", LONG);
    drop(running.stdin.take());
    append(&log, &numbered_range(3, 5));
    server.wait_for_messages(6, LONG);
    let done = stop(running);
    assert_eq!(done.summary()["sent"], 6);
    let mut got = messages_of(&server.messages());
    got.sort();
    let mut want: Vec<String> = numbered(5).lines().map(String::from).collect();
    want.push("from standard input".into());
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_fifo_among_followed_files_is_read_as_it_comes_until_its_writer_leaves() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-fifo");
    let (pipe, log) = (dir.file("pipe"), dir.file("app.log"));
    let mut writer = fifo(&pipe);
    append(&log, "file 1\n");
    let running = follow(&server, &[], &[&pipe, &log]);
    server.wait_for_messages(1, LONG);
    // Neither waits for the other: the FIFO is read when it has something,
    // the file looked at as it grows.
    writer.write_all(b"pipe 1\n").unwrap();
    server.wait_for_messages(2, LONG);
    append(&log, "file 2\n");
    server.wait_for_messages(3, LONG);
    writer.write_all(b"pipe 2\nlast, no newline").unwrap();
    drop(writer);
    server.wait_for_messages(5, LONG);
    // The FIFO ended; the file is still followed.
    append(&log, "file 3\n");
    server.wait_for_messages(6, LONG);
    stop(running);
    assert_eq!(
        messages_of(&server.messages()),
        [
            "file 1",
            "pipe 1",
            "file 2",
            "pipe 2",
            "last, no newline",
            "file 3"
        ]
    );
}

#[test]
fn a_rotated_file_matched_by_a_pattern_is_not_read_twice() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-pattern-rotation");
    let log = dir.file("app.log");
    append(&log, &numbered(50));
    let pattern = dir.file("app.log*");
    let running = follow(&server, &["--scan-interval", "50ms", "-v"], &[&pattern]);
    server.wait_for_messages(50, LONG);
    std::fs::rename(&log, dir.file("app.log.1")).unwrap();
    append(dir.file("app.log.1"), &numbered_range(50, 60));
    append(&log, &numbered_range(60, 70));
    // The rotated file is found by the pattern under its new name, and by
    // the look at its old one: it is the same file, read once.
    running.wait_for_stderr("app.log: rotated; following the new file", LONG);
    server.wait_for_messages(70, LONG);
    // Several scans later, nothing came twice.
    running.wait_for_stderr("app.log.1", LONG);
    append(dir.file("app.log.1"), &numbered_range(70, 75));
    server.wait_for_messages(75, LONG);
    let done = stop(running);
    let mut got = indexes(&server);
    got.sort();
    assert_eq!(got, (0..75).collect::<Vec<_>>(), "each line once");
    assert_eq!(done.summary()["sent"], 75);
}

#[test]
fn start_at_end_reads_files_that_appear_later_from_their_beginning() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-end-later");
    let (there, later, named) = (
        dir.file("there.log"),
        dir.file("later.log"),
        dir.file("named.log"),
    );
    append(&there, &numbered(10));
    let pattern = dir.file("*.log");
    let running = follow(
        &server,
        &["--start-at", "end", "--scan-interval", "50ms", "-v"],
        &[&pattern, &named],
    );
    running.wait_for_stderr(
        "named.log: No such file or directory; waiting for it to appear",
        LONG,
    );
    // A file the pattern finds later, and a named one that was missing.
    append(&later, &numbered_range(10, 13));
    append(&named, &numbered_range(13, 15));
    server.wait_for_messages(5, LONG);
    append(&there, &numbered_range(15, 16));
    server.wait_for_messages(6, LONG);
    stop(running);
    let mut got = indexes(&server);
    got.sort();
    assert_eq!(got, (10..16).collect::<Vec<_>>());
}

#[test]
fn the_record_of_a_file_deleted_while_followed_is_dropped() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("follow-deleted-record");
    let (kept, deleted, state) = (
        dir.file("kept.log"),
        dir.file("deleted.log"),
        dir.file("st"),
    );
    append(&kept, &numbered(5));
    append(&deleted, &numbered_range(5, 10));
    let running = follow(
        &server,
        &["--state", &state, "--rotate-wait", "100ms", "-v"],
        &[&kept, &deleted],
    );
    server.wait_for_messages(10, LONG);
    let paths = || -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(&state) else {
            return Vec::new();
        };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let files = value["files"].as_array().unwrap().iter();
        let mut paths: Vec<String> = files
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect();
        paths.sort();
        paths
    };
    wait_until("both records", LONG, || paths().len() == 2);
    std::fs::remove_file(&deleted).unwrap();
    running.wait_for_stderr(
        "deleted.log: quiet for 100ms away from its name; let go",
        LONG,
    );
    wait_until("the deleted file's record to go", LONG, || {
        paths() == [kept.clone()]
    });
    stop(running);
    assert_eq!(paths(), [kept]);
}
