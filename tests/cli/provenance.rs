//! Where each event came from (--path-key, --offset-key, --host-key), the
//! ids that make a resend harmless (--id-key), and the filters that choose
//! what is sent (--include, --exclude).

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::events;
use crate::follow::{follow, stop};
use crate::server::{Behaviour, Server};
use crate::util::{LONG, TempDir, append, numbered, numbered_range, wait_until, wsship};

/// Every message the servers received, parsed, in order.
fn values(servers: &[&Server]) -> Vec<Value> {
    servers
        .iter()
        .flat_map(|server| events::values(server))
        .collect()
}

/// Checks that each id names one message text, and returns how many
/// distinct ids there are and the ids each text was sent with.
#[track_caller]
fn ids_by_text(values: &[Value]) -> (usize, HashMap<String, HashSet<String>>) {
    let mut texts: HashMap<&str, &str> = HashMap::new();
    let mut by_text: HashMap<String, HashSet<String>> = HashMap::new();
    for value in values {
        let id = value["id"].as_str().expect("an id");
        assert!(
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "an id of 32 lowercase hex digits: {id}"
        );
        let text = value["message"].as_str().expect("a message");
        let first = *texts.entry(id).or_insert(text);
        assert_eq!(first, text, "id {id} was sent with two texts");
        by_text.entry(text.into()).or_default().insert(id.into());
    }
    (texts.len(), by_text)
}

#[test]
fn each_message_says_which_file_offset_and_host_it_came_from() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("provenance");
    let (a, b) = (dir.file("a.log"), dir.file("logs/b.log"));
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    append(&a, "first\n\nsecond \"quoted\"\r\n");
    append(&b, "from b\n");
    let pattern = dir.file("logs/*.log");
    let keys = [
        "--path-key",
        "log.file.path",
        "--offset-key",
        "log.offset",
        "--host-key",
        "host.name",
        "--host-name",
        "web-1",
    ];
    let url = server.url();
    let mut args = vec!["--url", &url];
    args.extend_from_slice(&keys);
    args.extend_from_slice(&[&a, "-", &pattern]);
    wsship(&args).run("from stdin\nagain\n").expect_code(0);
    let file = |path: &str, offset: u64, message: &str| json!({"message": message, "log.file.path": path, "log.offset": offset, "host.name": "web-1"});
    let stdin = |offset: u64, message: &str| json!({"message": message, "log.offset": offset, "host.name": "web-1"});
    assert_eq!(
        events::without_timestamps(values(&[&server])),
        [
            file(&a, 0, "first"),
            file(&a, 7, "second \"quoted\""),
            stdin(0, "from stdin"),
            stdin(11, "again"),
            file(&b, 0, "from b"),
        ]
    );
    // The system's host name when none is given.
    let server = Server::start(Behaviour::default());
    wsship(&["--url", &server.url(), "--host-key", "host"])
        .run("x\n")
        .expect_code(0);
    let host = values(&[&server])[0]["host"].as_str().unwrap().to_string();
    assert!(!host.is_empty());
}

#[test]
fn a_rotated_file_keeps_the_name_it_was_opened_under_in_this_run_and_the_next() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("provenance-rotated");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let rotated = dir.file("app.log.1");
    append(&log, "before\n");
    let extra = [
        "--state",
        &state,
        "--path-key",
        "path",
        "--offset-key",
        "offset",
    ];
    let running = follow(&server, &extra, &[&log]);
    server.wait_for_messages(1, LONG);
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, "late in the old file\n");
    append(&log, "in the new file\n");
    server.wait_for_messages(3, LONG);
    stop(running);
    // Rotated again while wsship is stopped: the file it was reading is
    // finished first, under the name it had.
    append(&log, "before the second rotation\n");
    let old = dir.file("app.log.2");
    std::fs::rename(&log, &old).unwrap();
    append(&old, "after it\n");
    append(&log, "newest\n");
    let again = Server::start(Behaviour::default());
    let running = follow(&again, &extra, &[&log]);
    again.wait_for_messages(3, LONG);
    stop(running);
    let mut got: Vec<(String, String, u64)> =
        events::without_timestamps(values(&[&server, &again]))
            .iter()
            .map(|v| {
                let text = v["message"].as_str().unwrap().to_string();
                (
                    text,
                    v["path"].as_str().unwrap().to_string(),
                    v["offset"].as_u64().unwrap(),
                )
            })
            .collect();
    // Two files are read in turns: their lines may interleave.
    got.sort();
    let mut want = vec![
        ("before".to_string(), log.clone(), 0),
        ("late in the old file".into(), log.clone(), 7),
        ("in the new file".into(), log.clone(), 0),
        ("before the second rotation".into(), log.clone(), 16),
        ("after it".into(), log.clone(), 43),
        ("newest".into(), log.clone(), 0),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_cut_connection_resends_lines_with_their_ids_and_identical_lines_have_their_own() {
    // Dropped abruptly after 250 messages, before the Ping that would have
    // confirmed the last batch: that batch is sent again.
    let server = Server::start(Behaviour {
        drop_every: Some(250),
        ..Behaviour::default()
    });
    let dir = TempDir::new("ids-resent");
    let log = dir.file("app.log");
    // Every text twice: "same 0", "same 0", "same 1", ...
    let lines: String = (0..2000).map(|i| format!("same {}\n", i / 2)).collect();
    append(&log, &lines);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "100",
        "--id-key",
        "id",
        "--retry-limit",
        "forever",
        "--backoff-init",
        "10ms",
        &log,
    ])
    .run("");
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(summary["sent"], 2000);
    assert!(summary["resent"] > 0, "{summary:?}");
    let got = values(&[&server]);
    assert!(got.len() > 2000, "some lines arrived twice: {}", got.len());
    let (distinct, by_text) = ids_by_text(&got);
    assert_eq!(distinct, 2000, "one id per line, however often sent");
    assert_eq!(by_text.len(), 1000);
    assert!(
        by_text.values().all(|ids| ids.len() == 2),
        "identical lines, two ids each"
    );

    // Standard input too, within its run.
    let server = Server::start(Behaviour {
        drop_every: Some(250),
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "100",
        "--id-key",
        "id",
        "--backoff-init",
        "10ms",
    ])
    .run(lines.clone());
    done.expect_code(0);
    let got = values(&[&server]);
    assert!(got.len() > 2000);
    let (distinct, by_text) = ids_by_text(&got);
    assert_eq!((distinct, by_text.len()), (2000, 1000));
    // Another run reads the same bytes anew: other ids.
    let server_2 = Server::start(Behaviour::default());
    wsship(&["--url", &server_2.url(), "--id-key", "id"])
        .run(lines)
        .expect_code(0);
    let (_, by_text_2) = ids_by_text(&values(&[&server_2]));
    assert!(by_text_2["same 0"].is_disjoint(&by_text["same 0"]));
}

#[test]
fn new_content_after_a_copytruncate_gets_new_ids_even_when_it_repeats_the_old() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("ids-copytruncate");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, &numbered(50));
    let extra = [
        "--state",
        &state,
        "--id-key",
        "id",
        "--offset-key",
        "offset",
    ];
    let running = follow(&server, &extra, &[&log]);
    server.wait_for_messages(50, LONG);
    // copytruncate, then the very same lines again.
    std::fs::copy(&log, dir.file("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    running.wait_for_stderr("truncated", LONG);
    append(&log, &numbered(50));
    server.wait_for_messages(100, LONG);
    stop(running);
    // And again while wsship is stopped, with fewer lines than before.
    std::fs::copy(&log, dir.file("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, &numbered(20));
    let again = Server::start(Behaviour::default());
    let running = follow(&again, &extra, &[&log]);
    again.wait_for_messages(20, LONG);
    stop(running);
    let got = values(&[&server, &again]);
    assert_eq!(got.len(), 120);
    let (distinct, by_text) = ids_by_text(&got);
    assert_eq!(distinct, 120, "each copy of a line has its own id");
    assert_eq!(by_text["line 0000000 of the test input"].len(), 3);
    // The same offsets, each time.
    let offsets: Vec<u64> = got.iter().map(|v| v["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets[0], offsets[50]);
    assert_eq!(offsets[0], offsets[100]);
}

#[test]
fn kill_9_in_a_loop_over_a_followed_rotated_file_gives_each_line_one_id() {
    let dir = TempDir::new("ids-kill-9");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    append(&log, "");
    // A steady writer that rotates every 10,000 lines (app.log.1, .2, ...:
    // nothing is deleted), until the kills are over.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (log, writing, dir) = (log.clone(), writing.clone(), dir.path().to_path_buf());
        thread::spawn(move || {
            let mut written = 0;
            let mut rotations = 0;
            let mut file = OpenOptions::new().append(true).open(&log).unwrap();
            while writing.load(Ordering::Relaxed) {
                file.write_all(numbered_range(written, written + 100).as_bytes())
                    .unwrap();
                written += 100;
                if written % 10_000 == 0 {
                    rotations += 1;
                    let rotated = dir.join(format!("app.log.{rotations}"));
                    std::fs::rename(&log, rotated).unwrap();
                    file = OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(&log)
                        .unwrap();
                }
                thread::sleep(Duration::from_millis(5));
            }
            written
        })
    };
    let extra = ["--state", &state, "--id-key", "id", "--rotate-wait", "1s"];
    let mut servers: Vec<Server> = Vec::new();
    for kill in 0..5 {
        let server = Server::start(Behaviour::default());
        let before = std::fs::read_to_string(&state).ok();
        let running = follow(&server, &extra, &[&log]);
        // At a different moment each time, once the state has moved.
        server.wait_for_messages(500 + 700 * kill, LONG);
        wait_until("the state to move", LONG, || {
            std::fs::read_to_string(&state).ok() != before
        });
        running.signal(libc::SIGKILL);
        let _ = running.wait(LONG);
        servers.push(server);
    }
    writing.store(false, Ordering::Relaxed);
    let total = writer.join().unwrap();
    let last = Server::start(Behaviour::default());
    let running = follow(&last, &extra, &[&log]);
    let everything = |servers: &[&Server]| {
        let texts: HashSet<String> = values(servers)
            .iter()
            .map(|v| v["message"].as_str().unwrap().to_string())
            .collect();
        texts.len()
    };
    servers.push(last);
    let all: Vec<&Server> = servers.iter().collect();
    wait_until("every line written", LONG, || everything(&all) == total);
    stop(running);
    let got = values(&all);
    let (distinct, by_text) = ids_by_text(&got);
    assert_eq!(by_text.len(), total, "every line arrived");
    assert_eq!(distinct, total, "one id per line over {} sends", got.len());
    eprintln!(
        "{} sends of {total} lines over 5 kills and {} rotations: {} duplicates, all with the \
         first send's id",
        got.len(),
        total / 10_000,
        got.len() - total
    );
}

#[test]
fn json_lines_keep_their_own_members_and_a_batch_message_has_an_id_per_line() {
    let keys = ["--id-key", "id", "--offset-key", "offset"];
    let input = "{\"id\":\"mine\",\"n\":1}\n{\"n\":2}\nnot json\n";
    let server = Server::start(Behaviour::default());
    let url = server.url();
    let mut args = vec!["--url", &url, "--input-format", "ndjson"];
    args.extend_from_slice(&keys);
    wsship(&args).run(input).expect_code(0);
    let got = events::without_timestamps(values(&[&server]));
    assert_eq!(got[0], json!({"id": "mine", "n": 1, "offset": 0}));
    let second = input.find("{\"n\":2}").unwrap();
    let third = input.find("not json").unwrap();
    assert_eq!(
        (&got[1]["n"], &got[1]["offset"]),
        (&json!(2), &json!(second))
    );
    assert_eq!(
        (&got[2]["message"], &got[2]["offset"]),
        (&json!("not json"), &json!(third))
    );
    let ids: HashSet<&str> = got[1..].iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert!(
        ids.len() == 2 && ids.iter().all(|id| id.len() == 32),
        "{ids:?}"
    );

    // One message per batch: each line's object in it has its own id.
    let server = Server::start(Behaviour::default());
    let url = server.url();
    let mut args = vec!["--url", &url, "--message-per", "batch", "--batch-size", "5"];
    args.extend_from_slice(&keys);
    wsship(&args).run(numbered(10)).expect_code(0);
    let batches = server.messages();
    assert_eq!(batches.len(), 2);
    let lines: Vec<Value> = batches
        .iter()
        .flat_map(|batch| batch.lines().map(|l| serde_json::from_str(l).unwrap()))
        .collect();
    let (distinct, by_text) = ids_by_text(&lines);
    assert_eq!((lines.len(), distinct, by_text.len()), (10, 10, 10));
    let offsets: Vec<u64> = lines
        .iter()
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, (0..10).map(|i| i * 31).collect::<Vec<u64>>());
}

#[test]
fn filters_keep_or_leave_out_a_stack_trace_whole_and_count_what_they_leave() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("filters");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let events = "\
2026-12-04 10:00:00 INFO started
2026-12-04 10:00:01 DEBUG cache warm
2026-12-04 10:00:02 ERROR failed
java.lang.IllegalStateException: boom
\tat a.B.c(B.java:10)
2026-12-04 10:00:03 ERROR health check failed
\tat a.H.check(H.java:3)
2026-12-04 10:00:04 WARN slow
2026-12-04 10:00:05 INFO done
2026-12-04 10:00:06 DEBUG last
";
    append(&log, events);
    let run = |server: &Server| {
        wsship(&[
            "--url",
            &server.url(),
            "--state",
            &state,
            "--multiline-start",
            r"^\d{4}-",
            "--include",
            "ERROR",
            "--include",
            "(?i)warn",
            "--exclude",
            "health",
            "--offset-key",
            "offset",
            &log,
        ])
        .run("")
    };
    let done = run(&server);
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(
        (
            summary["read"],
            summary["sent"],
            summary["filtered"],
            summary["events"]
        ),
        (10, 4, 6, 7)
    );
    let got = events::without_timestamps(values(&[&server]));
    assert_eq!(
        got,
        [
            json!({"message": "2026-12-04 10:00:02 ERROR failed\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:10)", "offset": 70}),
            json!({"message": "2026-12-04 10:00:04 WARN slow", "offset": 232}),
        ]
    );
    // The state moved past the lines left out, the last ones included.
    let again = Server::start(Behaviour::default());
    let done = run(&again);
    done.expect_code(0);
    assert_eq!((done.summary()["read"], again.messages().len()), (0, 0));
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(state["files"][0]["position"], events.len());
    // The JSON stats say the same.
    let done = wsship(&["--dry-run", "--exclude", "x", "--stats-format", "json"]).run("x\ny\n");
    let line = done
        .stderr
        .lines()
        .find(|l| l.contains("\"summary\""))
        .unwrap();
    let stats: Value = serde_json::from_str(line.trim_start_matches("wsship: ")).unwrap();
    assert_eq!(
        (&stats["read"], &stats["sent"], &stats["filtered"]),
        (&json!(2), &json!(1), &json!(1))
    );
}

#[test]
fn keys_that_collide_or_have_nowhere_to_go_are_usage_errors() {
    for (args, says) in [
        (
            &["--id-key", "message"][..],
            "--id-key 'message' is also --message-key",
        ),
        (
            &["--path-key", "timestamp"],
            "--path-key 'timestamp' is also --timestamp-key",
        ),
        (
            &["--field", "host=x", "--host-key", "host"],
            "--field 'host' is also --host-key",
        ),
        (
            &["--offset-key", "o", "--id-key", "o"],
            "--id-key 'o' is also --offset-key",
        ),
        (
            &["--format", "raw", "--id-key", "id"],
            "--id-key needs --format json",
        ),
        (&["--host-name", "h"], "--host-name needs --host-key"),
        (&["--include", "(x"], "--include '(x'"),
    ] {
        let done = wsship(args).run("line\n");
        done.expect_code(2).expect_stderr(says);
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    }
    // From the environment as well.
    let server = Server::start(Behaviour::default());
    wsship(&["--url", &server.url()])
        .env("WSSHIP_ID_KEY", "event.id")
        .env("WSSHIP_EXCLUDE", "^skip")
        .run("skip me\nkeep me\n")
        .expect_code(0);
    let got = values(&[&server]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["message"], "keep me");
    assert_eq!(got[0]["event.id"].as_str().unwrap().len(), 32);
}

#[test]
fn the_example_receiver_keeps_one_message_per_id_however_often_it_is_sent() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    // Built beside the tests, as `cargo test` builds every example.
    let deps = std::env::current_exe().unwrap();
    let receiver = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/receiver");
    let mut child = Command::new(&receiver)
        .args(["127.0.0.1:0", "--unique-by", "id"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", receiver.display()));
    let (lines, got) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let Ok(ready) = got.recv_timeout(LONG) else {
        let _ = child.wait();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        panic!(
            "{} did not start (built before --unique-by? `cargo test` builds examples, \
             `cargo test --test cli` does not): {stderr}",
            receiver.display()
        );
    };
    let url = ready
        .strip_prefix("listening on ")
        .expect("listening on ws://ADDR");
    let dir = TempDir::new("unique-by");
    let log = dir.file("app.log");
    append(&log, &numbered(300));
    // Without a state, a second run sends every line again: with its ids.
    for _ in 0..2 {
        wsship(&["--url", url, "--id-key", "id", &log])
            .run("")
            .expect_code(0);
    }
    let mut kept = Vec::new();
    while kept.len() < 300 {
        kept.push(got.recv_timeout(LONG).expect("a message"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(got.try_recv().is_err(), "no message kept twice");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("receiver: 300 duplicates dropped so far (same id)"),
        "{stderr}"
    );
    let texts: Vec<String> = kept
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(m).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: Vec<String> = numbered(300).lines().map(String::from).collect();
    assert_eq!(texts, want);
}
