//! Input handling: files, size cap, encoding of whatever bytes come in.

use std::path::PathBuf;

use crate::server::{Behaviour, Server};
use crate::util::{LONG, TempDir, fifo, make_fifo, messages_of, wsship};

fn temp_file(dir: &TempDir, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn oversized_lines_are_dropped_whole_and_counted() {
    let server = Server::start(Behaviour::default());
    let long = "x".repeat(11);
    let input = format!("short\n{long}\nexactly10!\r\n{}\nlast", "y".repeat(100_000));
    let done = wsship(&["--url", &server.url(), "--max-len", "10"]).run(input);
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["short", "exactly10!", "last"]
    );
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["dropped"], summary["sent"]),
        (5, 2, 3)
    );
    done.expect_stderr("longer than --max-len");
}

#[test]
fn a_200_mb_line_without_newline_costs_no_memory() {
    let server = Server::start(Behaviour::default());
    let mut running = wsship(&["--url", &server.url()]).spawn();
    running.write(b"before\n");
    let block = vec![b'x'; 1 << 20];
    for _ in 0..200 {
        running.write(&block);
    }
    // All but a pipe buffer's worth has been read by now.
    let peak_kib = running.peak_rss_kib();
    let done = running.wait(LONG);
    done.expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["before"]);
    let summary = done.summary();
    assert_eq!((summary["read"], summary["dropped"]), (2, 1));
    eprintln!("peak RSS with a 200 MiB line and --max-len 1MiB: {peak_kib} KiB");
    assert!(peak_kib < 48 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn invalid_utf8_is_replaced_and_crlf_removed() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--url", &server.url()]).run(&b"caf\xe9\r\nok\r\n\r\n\xff\xfe\nlast"[..]);
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["caf\u{fffd}", "ok", "\u{fffd}\u{fffd}", "last"]
    );
    assert_eq!(done.summary()["invalid_utf8"], 2);
}

#[test]
fn hostile_lines_make_valid_json_that_round_trips() {
    let server = Server::start(Behaviour::default());
    let hostile = [
        r#"{"message":"injected"}"#,
        "quote \" backslash \\ slash /",
        "\u{1}\u{1b}[31mred\u{1b}[0m\u{7f}\ttab\u{c}feed\u{8}",
        "bare \r carriage return inside",
        "js line separators \u{2028} and \u{2029}",
        "</script><script>alert(1)</script>",
        "emoji 🚀 and ünïcödé and \u{fffd}",
        "\\u0000 literal escape text",
    ];
    let input: String = hostile.iter().map(|line| format!("{line}\n")).collect();
    wsship(&["--url", &server.url()]).run(input).expect_code(0);
    let received = server.messages();
    assert_eq!(messages_of(&received), hostile);
    for text in &received {
        assert!(
            !text.contains('\u{2028}') && !text.contains('\u{2029}'),
            "{text}"
        );
        assert!(
            !text.bytes().any(|b| b < 0x20),
            "raw control byte in {text:?}"
        );
    }
}

#[test]
fn lines_of_every_frame_length_arrive_whole() {
    // A frame's length takes 7, 16 or 64 bits; escaping can push a line
    // from one size to the next after its header was planned.
    let server = Server::start(Behaviour::default());
    let lines = [
        "short".to_string(),
        "m".repeat(300),
        "l".repeat(70_000),
        "\"".repeat(60),
        "\\".repeat(33_000),
        format!("{}\u{1}", "x".repeat(65_480)),
    ];
    let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
    wsship(&["--url", &server.url()]).run(input).expect_code(0);
    assert_eq!(messages_of(&server.messages()), lines);
}

#[test]
fn files_and_stdin_are_read_in_order() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("order");
    let a = temp_file(&dir, "a.log", b"a1\na2 no newline");
    let b = temp_file(&dir, "b.log", b"b1\n");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    wsship(&["--url", &server.url(), a, "-", b])
        .run("s1\n")
        .expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["a1", "a2 no newline", "s1", "b1"]
    );
}

#[test]
fn a_missing_file_is_reported_and_the_others_still_sent() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("missing");
    let a = temp_file(&dir, "a.log", b"from a\n");
    let b = temp_file(&dir, "b.log", b"from b\n");
    let missing = a.with_file_name("does-not-exist.log");
    let args = [
        a.to_str().unwrap(),
        missing.to_str().unwrap(),
        b.to_str().unwrap(),
    ];
    let done = wsship(&[&["--url", &server.url()][..], &args].concat()).run(Vec::new());
    done.expect_code(1);
    assert!(
        done.stderr.contains(&format!(
            "wsship: {}: No such file or directory\n",
            missing.display()
        )),
        "{}",
        done.stderr
    );
    assert_eq!(messages_of(&server.messages()), ["from a", "from b"]);
    assert_eq!(done.summary()["input_errors"], 1);
}

#[test]
fn a_directory_is_an_error_for_that_file_only() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("directory");
    let file = temp_file(&dir, "neighbour.log", b"kept\n");
    let dir = file.parent().unwrap().to_str().unwrap().to_string();
    let done = wsship(&["--url", &server.url(), &dir, file.to_str().unwrap()]).run(Vec::new());
    done.expect_code(1);
    assert!(
        done.stderr
            .contains(&format!("wsship: {dir}: Is a directory")),
        "{}",
        done.stderr
    );
    assert_eq!(messages_of(&server.messages()), ["kept"]);
}

#[test]
fn a_fifo_is_read_as_it_comes_to_its_end_with_no_position_kept() {
    // As `<(cmd)` or a named pipe gives one: it cannot seek, and a read
    // waits for its writer.
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("fifo");
    let (pipe, log, state) = (dir.file("pipe"), dir.file("app.log"), dir.file("app.state"));
    let mut writer = fifo(&pipe);
    std::fs::write(&log, "from the file\n").unwrap();
    let args = [
        "--url",
        &server.url(),
        "--state",
        &state,
        "--flush-interval",
        "10ms",
    ];
    let running = wsship(&[&args[..], &[pipe.as_str(), log.as_str()]].concat()).spawn();
    // Sent by --flush-interval while the writer stays: a read that waits
    // for more holds back nothing already read.
    std::io::Write::write_all(&mut writer, b"first\n").unwrap();
    server.wait_for_messages(1, LONG);
    std::io::Write::write_all(&mut writer, b"second\nno newline").unwrap();
    drop(writer);
    let done = running.wait(LONG);
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["first", "second", "no newline", "from the file"]
    );
    // Only the regular file has a position.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let files = saved["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{saved}");
    assert!(
        files[0]["path"].as_str().unwrap().ends_with("/app.log"),
        "{saved}"
    );
    assert_eq!(files[0]["position"], "from the file\n".len());
}

#[test]
fn a_fifo_without_a_writer_is_waited_for_and_a_signal_ends_the_wait() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("fifo-wait");
    let pipe = dir.file("pipe");
    make_fifo(&pipe);
    // A writer that comes later is waited for, as `cat` waits: no end of
    // input before it.
    let running = wsship(&["--url", &server.url(), "-v", &pipe]).spawn();
    running.wait_for_stderr("not a regular file", LONG);
    let mut writer = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
    std::io::Write::write_all(&mut writer, b"late\n").unwrap();
    drop(writer);
    running.wait(LONG).expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["late"]);
    // One that never comes: the first signal ends the wait.
    let running = wsship(&["--url", &server.url(), "-v", &pipe]).spawn();
    running.wait_for_stderr("not a regular file", LONG);
    running.signal(libc::SIGTERM);
    running.wait(LONG).expect_code(130);
}

#[test]
fn a_file_given_twice_is_read_once() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("twice");
    let a = temp_file(&dir, "a.log", b"a1\na2\n");
    let b = temp_file(&dir, "b.log", b"b1\n");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let pattern = dir.file("*.log");
    let state = dir.file("app.state");
    // Named twice, then matched again by a pattern (b.log is newer, so
    // the pattern gives a.log first): each file once, where first given.
    std::fs::File::options()
        .write(true)
        .open(b)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let done = wsship(&["--url", &server.url(), "--state", &state, a, a, &pattern]).run(Vec::new());
    done.expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["a1", "a2", "b1"]);
    assert_eq!(done.summary()["read"], 3);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["files"].as_array().unwrap().len(), 2, "{saved}");
}

#[test]
fn a_pattern_reads_the_oldest_file_first_whatever_the_names() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("oldest-first");
    // Written in the order c, a, b: the names sort otherwise.
    let ages = [("c.log", 300), ("a.log", 200), ("b.log", 100)];
    for (name, seconds_ago) in ages {
        let path = temp_file(&dir, name, format!("from {name}\n").as_bytes());
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(
                std::time::SystemTime::now() - std::time::Duration::from_secs(seconds_ago),
            )
            .unwrap();
    }
    let done = wsship(&["--url", &server.url(), &dir.file("*.log")]).run(Vec::new());
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["from c.log", "from a.log", "from b.log"]
    );
}
