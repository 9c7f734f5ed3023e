//! A file's record across rotation, with and without a wsship running: a
//! file rotated while wsship was stopped is found and finished, one that
//! cannot be found is said and counted, a file let go is neither kept
//! forever nor read twice, and a changed device number replays nothing.

use std::time::Duration;

use crate::server::{Behaviour, Server};
use crate::util::{Finished, LONG, TempDir, append, messages_of, wait_until, wsship};

/// Lines `prefix-from` to `prefix-to`, as the issue's `seq | sed` made them.
fn lines(prefix: &str, from: usize, to: usize) -> String {
    (from..=to).map(|i| format!("{prefix}-{i}\n")).collect()
}

fn list(text: &str) -> Vec<String> {
    text.lines().map(String::from).collect()
}

/// The state's records: (path, inode, position, end if let go).
fn records(state: &str) -> Vec<(String, u64, u64, Option<u64>)> {
    let Ok(text) = std::fs::read_to_string(state) else {
        return Vec::new();
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            (
                file["path"].as_str().unwrap().to_string(),
                file["inode"].as_u64().unwrap(),
                file["position"].as_u64().unwrap(),
                file.get("end").and_then(serde_json::Value::as_u64),
            )
        })
        .collect()
}

/// One run over `files` into `server`, with `state` and --start-at.
fn with_state(server: &Server, state: &str, start_at: &str, files: &[&str]) -> Finished {
    let url = server.url();
    let mut args = vec!["--url", &url, "--state", state, "--start-at", start_at];
    args.extend_from_slice(files);
    wsship(&args).run(Vec::new())
}

fn inode(path: &str) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

#[test]
fn a_file_rotated_while_wsship_was_stopped_is_finished_before_its_successor() {
    // The README's cron example with logrotate's `create` between two runs,
    // from the start of each file and from the end.
    for start_at in ["beginning", "end"] {
        let server = Server::start(Behaviour::default());
        let dir = TempDir::new("rotated-while-stopped");
        let (log, state) = (dir.file("app.log"), dir.file("st"));
        let run = || with_state(&server, &state, start_at, &[&log]);
        append(&log, &lines("a", 1, 100));
        let first = run();
        first.expect_code(0);
        append(&log, &lines("b", 1, 50));
        std::fs::rename(&log, dir.file("app.log.1")).unwrap();
        append(&log, &lines("c", 1, 70));
        let second = run();
        second.expect_code(0);
        assert!(
            !second.stderr.contains("gone since"),
            "{start_at}: {}",
            second.stderr
        );
        let mut want = match start_at {
            "beginning" => list(&lines("a", 1, 100)),
            _ => Vec::new(),
        };
        want.extend(list(&lines("b", 1, 50)));
        want.extend(list(&lines("c", 1, 70)));
        assert_eq!(
            messages_of(&server.messages()),
            want,
            "--start-at {start_at}"
        );
        assert_eq!(second.summary()["sent"], 120);
        // Nothing is left to send, and nothing is sent again.
        let third = run();
        third.expect_code(0);
        assert_eq!(third.summary()["read"], 0);
    }
}

#[test]
fn a_recorded_file_that_cannot_be_found_is_said_once_and_counted() {
    for start_at in ["beginning", "end"] {
        let server = Server::start(Behaviour::default());
        let dir = TempDir::new("rotated-and-compressed");
        let (log, state) = (dir.file("app.log"), dir.file("st"));
        let run = || with_state(&server, &state, start_at, &[&log]);
        append(&log, &lines("a", 1, 100));
        run().expect_code(0);
        let position = records(&state)[0].2;
        append(&log, &lines("b", 1, 50));
        // logrotate without delaycompress: app.log.1.gz, and no app.log.1.
        std::fs::rename(&log, dir.file("app.log.1")).unwrap();
        append(&log, &lines("c", 1, 70));
        std::fs::write(dir.file("app.log.1.gz"), b"\x1f\x8b compressed").unwrap();
        std::fs::remove_file(dir.file("app.log.1")).unwrap();
        let second = run();
        second.expect_code(1);
        let said = format!(
            "wsship: {log}: gone since the last run (deleted, or rotated and then compressed or \
             moved out of its directory): lines written to it after byte {position} could not \
             be sent\n"
        );
        assert_eq!(
            second.stderr.matches(&said).count(),
            1,
            "--start-at {start_at}:\n{}",
            second.stderr
        );
        // The new file at the name is read whole, even with --start-at end.
        assert_eq!(second.summary()["sent"], 70, "--start-at {start_at}");
        let sent = messages_of(&server.messages());
        assert_eq!(sent[sent.len() - 70..], list(&lines("c", 1, 70)));
        // Said once: the next run has nothing to say.
        let third = run();
        third.expect_code(0);
        assert!(!third.stderr.contains("gone since"), "{}", third.stderr);
        assert_eq!(records(&state).len(), 1);
    }
}

#[test]
fn a_new_file_at_a_name_the_state_knows_is_read_from_its_beginning() {
    // Deleted and created again while wsship was stopped, with --start-at
    // end in both runs.
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("recreated");
    let (log, other, state) = (dir.file("app.log"), dir.file("other.log"), dir.file("st"));
    let run = |files: &[&str]| with_state(&server, &state, "end", files);
    append(&log, &lines("old", 1, 10));
    run(&[&log]).expect_code(0);
    std::fs::remove_file(&log).unwrap();
    append(&log, &lines("new", 1, 5));
    // A name the state never saw, there at start: its end.
    append(&other, &lines("history", 1, 5));
    let done = run(&[&log, &other]);
    done.expect_code(1);
    // Whether the new file took the old one's inode (as file systems often
    // do at once) or not, the old one is said to be lost, once.
    let said: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.starts_with(&format!("wsship: {log}: ")))
        .collect();
    assert_eq!(said.len(), 1, "{}", done.stderr);
    assert!(
        said[0].contains(" since the last run")
            && said[0].contains("lines written to it after byte 61 could not be sent"),
        "{}",
        said[0]
    );
    assert_eq!(messages_of(&server.messages()), list(&lines("new", 1, 5)));
}

#[test]
fn a_name_stays_known_through_a_run_that_found_no_file_there() {
    // Deleted before one run, created again only before the next: that
    // run still knows the name, and reads the new file whole.
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("known-name");
    let (log, state) = (dir.file("app.log"), dir.file("st"));
    let run = || with_state(&server, &state, "end", &[&log]);
    append(&log, &lines("old", 1, 10));
    run().expect_code(0);
    std::fs::remove_file(&log).unwrap();
    let missing = run();
    missing.expect_code(1);
    missing.expect_stderr(&format!("{log}: gone since the last run"));
    missing.expect_stderr(&format!("{log}: No such file or directory"));
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"names\""), "{text}");
    append(&log, &lines("new", 1, 5));
    run().expect_code(0);
    assert_eq!(messages_of(&server.messages()), list(&lines("new", 1, 5)));
    // Once it has a record again, the name needs no keeping apart.
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("\"names\""), "{text}");
}

#[test]
fn a_changed_device_number_neither_replays_nor_skips() {
    // A reboot that renumbered the filesystem's device: the state's dev no
    // longer matches, its inode and first bytes do.
    for start_at in ["beginning", "end"] {
        let server = Server::start(Behaviour::default());
        let dir = TempDir::new("device");
        let (log, state) = (dir.file("app.log"), dir.file("st"));
        let run = || with_state(&server, &state, start_at, &[&log]);
        append(&log, &lines("before", 1, 20));
        run().expect_code(0);
        let text = std::fs::read_to_string(&state).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let dev = value["files"][0]["dev"].as_u64().unwrap();
        value["files"][0]["dev"] = (dev + 1).into();
        std::fs::write(&state, value.to_string()).unwrap();
        append(&log, &lines("after", 1, 7));
        let done = run();
        done.expect_code(0);
        let mut want = match start_at {
            "beginning" => list(&lines("before", 1, 20)),
            _ => Vec::new(),
        };
        want.extend(list(&lines("after", 1, 7)));
        assert_eq!(
            messages_of(&server.messages()),
            want,
            "--start-at {start_at}"
        );
        // One record, under the device number the file has now.
        let text = std::fs::read_to_string(&state).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["files"].as_array().unwrap().len(), 1, "{text}");
        assert_eq!(value["files"][0]["dev"].as_u64(), Some(dev), "{text}");
    }
}

#[test]
fn a_rotated_file_let_go_is_forgotten_when_gone_and_not_read_again_when_found() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("let-go");
    std::fs::create_dir(dir.file("archive")).unwrap();
    let (log, state) = (dir.file("app.log"), dir.file("st"));
    append(&log, &lines("one", 1, 30));
    let url = server.url();
    let archive = dir.file("archive/*.log");
    let args = [
        "--url",
        &url,
        "-F",
        "--state",
        &state,
        "--rotate-wait",
        "300ms",
        "--scan-interval",
        "200ms",
        "--flush-interval",
        "20ms",
        "-v",
        &log,
        &archive,
    ];
    let running = wsship(&args).spawn();
    server.wait_for_messages(30, LONG);
    let first = inode(&log);
    // Rotated by rename: the old file is finished, then let go.
    std::fs::rename(&log, dir.file("app.log.1")).unwrap();
    append(dir.file("app.log.1"), &lines("late", 1, 3));
    append(&log, &lines("two", 1, 10));
    running.wait_for_stderr(
        &format!("{}: quiet for 300ms away from its name; let go", log),
        LONG,
    );
    server.wait_for_messages(43, LONG);
    // Let go, its record stays while it is there, with how far it was read.
    wait_until("the let-go record in the state", LONG, || {
        records(&state)
            .iter()
            .any(|r| r.1 == first && r.3 == Some(r.2) && r.2 > 0)
    });
    // Moved where a pattern finds it (as logrotate's olddir does): passed
    // over while it has not grown, and once it has, read on from where it
    // was let go, not from its start.
    let archived = dir.file("archive/app.log.1.log");
    std::fs::rename(dir.file("app.log.1"), &archived).unwrap();
    append(&archived, &lines("later", 1, 2));
    running.wait_for_stderr(
        &format!("{archived}: matches {archive}; following it"),
        LONG,
    );
    server.wait_for_messages(45, LONG);
    // Deleted: its record goes.
    std::fs::remove_file(&archived).unwrap();
    running.wait_for_stderr(&format!("{archived}: quiet for 300ms"), LONG);
    wait_until("the record of the deleted file to go", LONG, || {
        records(&state).iter().all(|r| r.1 != first)
    });
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    let mut want = list(&lines("one", 1, 30));
    want.extend(list(&lines("late", 1, 3)));
    want.extend(list(&lines("two", 1, 10)));
    want.extend(list(&lines("later", 1, 2)));
    let mut got = messages_of(&server.messages());
    let mut sorted_want = want.clone();
    got.sort();
    sorted_want.sort();
    assert_eq!(got, sorted_want, "each line exactly once");
    assert_eq!(records(&state).len(), 1, "only the file at app.log");
}

#[test]
fn a_let_go_file_found_by_the_next_run_is_not_read_again_and_is_dropped_when_gone() {
    // Without --follow: a rotated file found at start and read to its end is
    // let go when it has been quiet for --rotate-wait (by its modification
    // time); then its disappearance is no loss.
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("let-go-cron");
    let (log, state) = (dir.file("app.log"), dir.file("st"));
    let pattern = dir.file("app.log*");
    let run = |files: &[&str]| {
        let url = server.url();
        let mut args = vec!["--url", &url, "--state", &state, "--rotate-wait", "1s"];
        args.extend_from_slice(files);
        wsship(&args).run(Vec::new())
    };
    append(&log, &lines("a", 1, 10));
    run(&[&log]).expect_code(0);
    append(&log, &lines("b", 1, 5));
    let rotated = dir.file("app.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    // Last written long ago.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .append(true)
        .open(&rotated)
        .unwrap()
        .set_modified(old)
        .unwrap();
    append(&log, &lines("c", 1, 3));
    run(&[&log]).expect_code(0);
    let kept = records(&state);
    let let_go = kept.iter().find(|r| r.1 == inode(&rotated)).unwrap();
    assert_eq!(
        let_go.3,
        Some(let_go.2),
        "let go, read to its end: {kept:?}"
    );
    // A pattern now matches it: it is not read again.
    let again = run(&[&pattern]);
    again.expect_code(0);
    assert_eq!(again.summary()["read"], 0);
    // Compressed away: nothing of it was unsent, so nothing is said.
    std::fs::remove_file(&rotated).unwrap();
    let last = run(&[&log]);
    last.expect_code(0);
    assert!(!last.stderr.contains("gone since"), "{}", last.stderr);
    assert_eq!(records(&state).len(), 1);
    let mut want = list(&lines("a", 1, 10));
    want.extend(list(&lines("b", 1, 5)));
    want.extend(list(&lines("c", 1, 3)));
    assert_eq!(messages_of(&server.messages()), want);
}

#[test]
fn files_that_cannot_be_opened_are_said_once_and_tried_again_at_the_next_scan() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("emfile");
    const FILES: usize = 40;
    let name = |i: usize| dir.file(&format!("f{i:02}.log"));
    append(name(0), "file 00\n");
    let pattern = dir.file("f*.log");
    let url = server.url();
    let args = [
        "--url",
        &url,
        "-F",
        "--rotate-wait",
        "0",
        "--scan-interval",
        "100ms",
        &pattern,
    ];
    // Room for wsship itself, its connection and about half of the files.
    let running = wsship(&args).open_files_limit(32, Some(32)).spawn();
    server.wait_for_messages(1, LONG);
    for i in 1..FILES {
        append(name(i), &format!("file {i:02}\n"));
    }
    const REFUSED: &str = ": Too many open files; trying again at the next scan";
    let refused = || {
        running
            .stderr()
            .lines()
            .filter(|l| l.ends_with(REFUSED))
            .count()
    };
    wait_until("each file to be sent or refused", LONG, || {
        server.messages().len() + refused() == FILES
    });
    assert!(refused() > 0, "{}", running.stderr());
    // Three descriptors freed at a time (a file sent, deleted, let go): the
    // next scan opens what fits, and tries the others again, in vain.
    let mut deleted = 0;
    while server.messages().len() < FILES {
        let sent = messages_of(&server.messages());
        for line in sent.iter().skip(deleted).take(3) {
            std::fs::remove_file(name(line[5..7].parse().unwrap())).unwrap();
        }
        deleted = (deleted + 3).min(sent.len());
        wait_until("another file to be opened", LONG, || {
            server.messages().len() > sent.len()
        });
    }
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    let mut got = messages_of(&server.messages());
    got.sort();
    let want: Vec<String> = (0..FILES).map(|i| format!("file {i:02}")).collect();
    assert_eq!(got, want, "every file once");
    // Each refused file was said once, over many scans, and named.
    let said: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.ends_with(REFUSED))
        .collect();
    let mut unique = said.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), said.len(), "each said once:\n{}", done.stderr);
    for line in &said {
        let path = line
            .strip_prefix("wsship: ")
            .and_then(|l| l.strip_suffix(REFUSED))
            .unwrap_or_else(|| panic!("{line}"));
        assert!(path.starts_with(&dir.file("f")), "{line}");
        assert!(
            done.stderr
                .contains(&format!("wsship: {path}: opened at last; following it")),
            "{path}:\n{}",
            done.stderr
        );
    }
}

#[test]
fn the_soft_limit_on_open_files_is_raised_to_the_hard_one() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("nofile");
    const FILES: usize = 300;
    for i in 0..FILES {
        append(dir.file(&format!("f{i:03}.log")), &format!("file {i:03}\n"));
    }
    let pattern = dir.file("f*.log");
    let url = server.url();
    let running = wsship(&["--url", &url, "-F", &pattern])
        .open_files_limit(64, Some(4096))
        .spawn();
    server.wait_for_messages(FILES, LONG);
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    assert!(
        !done.stderr.contains("Too many open files"),
        "{}",
        done.stderr
    );
}
