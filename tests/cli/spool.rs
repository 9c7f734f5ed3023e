//! --spool: standard input through a disk spool. Every line the spool took
//! arrives, across outages longer than the retry budget, restarts and
//! kill -9; damage to the spool loses only what it hits, said and counted;
//! a full spool blocks or drops as asked; one process per spool.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::server::{Behaviour, Reserved, Server};
use crate::util::{LONG, TempDir, messages_of, numbered, numbered_range, wait_until, wsship};

/// What the spool in `dir` holds, read with the format the README
/// documents (not with wsship's code): the index's confirmed line, and
/// each segment's sound records as (segment, offset, number, line).
struct OnDisk {
    confirmed: u64,
    appended: u64,
    records: Vec<(String, usize, u64, String)>,
}

fn on_disk(dir: &Path) -> OnDisk {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index")).unwrap()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".seg"))
        .collect();
    names.sort();
    let mut records = Vec::new();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        assert_eq!(&bytes[..8], b"WSSPOOL1", "{name}");
        let mut at = 8;
        while at + 24 <= bytes.len() {
            let crc = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            // The top bit says the line is plain ASCII, not length.
            let len = (u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) & !(1 << 31))
                as usize;
            let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
            if at + 24 + len > bytes.len() {
                break;
            }
            if crc32c(&bytes[at + 4..at + 24 + len]) == crc {
                let line = String::from_utf8(bytes[at + 24..at + 24 + len].to_vec()).unwrap();
                records.push((name.clone(), at, seq, line));
            }
            at += 24 + len;
        }
    }
    OnDisk {
        confirmed: index["confirmed"].as_u64().unwrap(),
        appended: index["appended"].as_u64().unwrap(),
        records,
    }
}

/// CRC32C (Castagnoli), bit by bit: slow, short, and not wsship's.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Lines in the spool's segments, in order.
fn spooled_lines(dir: &Path) -> Vec<String> {
    on_disk(dir).records.into_iter().map(|r| r.3).collect()
}

/// Spools `input` with the server down (refused), and stops wsship with
/// SIGTERM once every line is on disk; returns its summary.
fn spool_while_down(spool: &str, input: &str, extra: &[&str]) -> HashMap<String, u64> {
    let down = Reserved::new();
    let addr = down.addr.to_string();
    let mut args = vec!["--addr", &addr, "--spool", spool, "--backoff-init", "10ms"];
    args.extend_from_slice(extra);
    let mut running = wsship(&args).spawn();
    running.write(input.as_bytes());
    let lines = input.lines().count();
    wait_until("every line in the spool", LONG, || {
        Path::new(spool).join("index").exists() && spooled_lines(Path::new(spool)).len() == lines
    });
    running.signal(libc::SIGTERM);
    let done = running.wait(LONG);
    done.expect_code(130);
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["sent"], summary["spooled"]),
        (lines as u64, 0, lines as u64)
    );
    summary
}

/// Sends what `spool` holds to a new server, with an empty standard input.
fn drain(spool: &str, extra: &[&str]) -> (Server, crate::util::Finished) {
    let server = Server::start(Behaviour::default());
    let addr = server.addr();
    let mut args = vec!["--addr", &addr, "--spool", spool];
    args.extend_from_slice(extra);
    let done = wsship(&args).run("");
    (server, done)
}

#[test]
fn every_line_goes_through_the_spool_which_is_empty_at_the_end() {
    let dir = TempDir::new("spool-plain");
    let spool = dir.file("spool");
    let server = Server::start(Behaviour::default());
    let input = numbered(20_000);
    let done = wsship(&["--addr", &server.addr(), "--spool", &spool]).run(input.clone());
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["sent"], summary["resumed"]),
        (20_000, 20_000, 0)
    );
    assert_eq!((summary["spooled"], summary["spool_corrupt"]), (0, 0));
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().collect::<Vec<_>>()
    );
    let disk = on_disk(Path::new(&spool));
    assert_eq!((disk.confirmed, disk.appended), (20_000, 20_000));
    assert!(disk.records.is_empty(), "segments left behind");
    assert!(segments(&spool).is_empty());
    assert!(!Path::new(&spool).join("damaged").exists());
}

#[test]
fn an_outage_longer_than_the_retry_budget_never_blocks_the_producer_and_loses_nothing() {
    let dir = TempDir::new("spool-outage");
    let spool = dir.file("spool");
    let down = Reserved::new();
    let addr = down.addr.to_string();
    let mut running = wsship(&[
        "--addr",
        &addr,
        "--spool",
        &spool,
        "--retry-limit",
        "1",
        "--backoff-init",
        "10ms",
        "--backoff-max",
        "100ms",
        "--spool-sync",
        "250ms",
    ])
    .spawn();
    let mut stdin = running.stdin.take().unwrap();
    let input = numbered(200_000);
    let lines: Vec<&str> = input.lines().collect();
    // 200 writes of 1000 lines, one every 10 ms: a steady 100k lines/s.
    let producer = std::thread::spawn({
        let chunks: Vec<String> = lines
            .chunks(1000)
            .map(|chunk| chunk.iter().map(|line| format!("{line}\n")).collect())
            .collect();
        move || {
            use std::io::Write;
            let start = Instant::now();
            let mut slowest = Duration::ZERO;
            for (i, chunk) in chunks.iter().enumerate() {
                let due = start + Duration::from_millis(10 * i as u64);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let before = Instant::now();
                stdin.write_all(chunk.as_bytes()).unwrap();
                slowest = slowest.max(before.elapsed());
            }
            slowest
        }
    });
    // Down for well past the retry budget (two attempts, 10 ms apart).
    running.wait_for_stderr("retrying", LONG);
    wait_until("half the lines in the spool", LONG, || {
        spooled_lines(Path::new(&spool)).len() >= 100_000
    });
    let server = Server::start_on(down, Behaviour::default());
    let slowest = producer.join().unwrap();
    println!("slowest write of 1000 lines during the outage: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(100),
        "the producer was blocked for {slowest:?}"
    );
    let done = running.wait(LONG);
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!((summary["read"], summary["spooled"]), (200_000, 0));
    let arrived = messages_of(&server.messages());
    let distinct: HashSet<&str> = arrived.iter().map(String::as_str).collect();
    assert_eq!(distinct.len(), 200_000);
    assert!(lines.iter().all(|line| distinct.contains(line)));
    assert_eq!(summary["sent"], arrived.len() as u64);
}

#[test]
fn the_next_run_sends_what_the_last_one_left_first_then_its_own_input() {
    let dir = TempDir::new("spool-restart");
    let spool = dir.file("spool");
    let first = numbered_range(0, 3000);
    spool_while_down(&spool, &first, &["--id-key", "id"]);
    let server = Server::start(Behaviour::default());
    let second = numbered_range(3000, 4000);
    // Every write forced to disk as it is made: the same lines arrive.
    let done = wsship(&[
        "--addr",
        &server.addr(),
        "--spool",
        &spool,
        "--id-key",
        "id",
        "--spool-sync",
        "always",
    ])
    .run(second.clone());
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(
        (
            summary["resumed"],
            summary["read"],
            summary["sent"],
            summary["spooled"]
        ),
        (3000, 1000, 4000, 0)
    );
    let received = server.messages();
    assert_eq!(
        messages_of(&received),
        numbered(4000).lines().collect::<Vec<_>>(),
        "the last run's lines first, in order, then this one's"
    );
    // Ids come from the spool's own key and each line's number: the same
    // in every run of this spool, so a resend keeps its id.
    let ids: HashSet<String> = received
        .iter()
        .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 4000);
    // And the time each line was read, not sent.
    let first_time = serde_json::from_str::<serde_json::Value>(&received[0]).unwrap()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let last_time =
        serde_json::from_str::<serde_json::Value>(&received[3999]).unwrap()["timestamp"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(first_time <= last_time);
}

#[test]
fn an_empty_input_drains_the_spool_and_exits_zero() {
    let dir = TempDir::new("spool-drain");
    let spool = dir.file("spool");
    let input = numbered(2500);
    spool_while_down(&spool, &input, &[]);
    let (server, done) = drain(&spool, &[]);
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(
        (summary["resumed"], summary["read"], summary["sent"]),
        (2500, 0, 2500)
    );
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().collect::<Vec<_>>()
    );
    // Drained: a second drain sends nothing.
    let (server, done) = drain(&spool, &[]);
    done.expect_code(0);
    assert_eq!(done.summary()["resumed"], 0);
    assert!(server.messages().is_empty());
}

#[test]
fn a_spool_left_with_the_server_still_down_says_so_and_exits_non_zero() {
    let dir = TempDir::new("spool-left");
    let spool = dir.file("spool");
    let metrics = dir.file("wsship.prom");
    let down = Reserved::new();
    let input = numbered(1000);
    let done = wsship(&[
        "--addr",
        &down.addr.to_string(),
        "--spool",
        &spool,
        "--retry-limit",
        "1",
        "--backoff-init",
        "10ms",
        "--metrics-file",
        &metrics,
    ])
    .run(input.clone());
    done.expect_code(1)
        .expect_stderr("what is not confirmed stays in the spool");
    let summary = done.summary();
    assert_eq!(
        (
            summary["read"],
            summary["sent"],
            summary["failed"],
            summary["spooled"]
        ),
        (1000, 0, 0, 1000)
    );
    assert_eq!(spooled_lines(Path::new(&spool)).len(), 1000);
    let scraped = std::fs::read_to_string(&metrics).unwrap();
    let bytes = spool_bytes(&spool);
    for sample in [
        "wsship_spool_lines 1000".to_string(),
        format!("wsship_spool_bytes {bytes}"),
        "wsship_spool_max_bytes 1073741824".to_string(),
        "wsship_spool_corrupt_lines_total 0".to_string(),
    ] {
        assert!(
            scraped.lines().any(|l| l == sample),
            "no {sample:?} in:\n{scraped}"
        );
    }
    let (server, done) = drain(&spool, &[]);
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().collect::<Vec<_>>()
    );
}

#[test]
fn kill_9_in_a_loop_loses_no_line_that_reached_the_spool() {
    let dir = TempDir::new("spool-kill");
    let spool = dir.file("spool");
    let server = Server::start(Behaviour::default());
    let addr = server.addr();
    let mut reached: HashSet<String> = HashSet::new();
    // Lines that may arrive twice: at a kill, already received and still
    // past the index's confirmed line.
    let mut window: HashSet<String> = HashSet::new();
    let mut fed = 0;
    for round in 0..6 {
        let mut running =
            wsship(&["--addr", &addr, "--spool", &spool, "--batch-size", "50"]).spawn();
        let chunk = numbered_range(fed, fed + 20_000);
        fed += 20_000;
        running.write(chunk.as_bytes());
        // Kill at a different moment each round: after some of this
        // round's lines have arrived.
        let marker = format!("line {:07} ", fed - 20_000 + 1 + round * 3_331);
        server.wait_for_message(&marker, LONG);
        // ...and once the index has moved in this round, so that each
        // round's kill finds part of its lines confirmed for good.
        let before = on_disk(Path::new(&spool)).confirmed;
        wait_until("the index to move", LONG, || {
            on_disk(Path::new(&spool)).confirmed > before
        });
        running.signal(libc::SIGKILL);
        let _ = running.wait(LONG);
        let received: HashSet<String> = messages_of(&server.messages()).into_iter().collect();
        let disk = on_disk(Path::new(&spool));
        for (_, _, seq, line) in &disk.records {
            if *seq >= disk.confirmed && received.contains(line) {
                window.insert(line.clone());
            }
        }
        reached.extend(received);
        reached.extend(disk.records.into_iter().map(|r| r.3));
    }
    let (_, done) = {
        let done = wsship(&["--addr", &addr, "--spool", &spool]).run("");
        ((), done)
    };
    done.expect_code(0);
    let arrived = messages_of(&server.messages());
    let mut times: HashMap<&str, usize> = HashMap::new();
    for line in &arrived {
        *times.entry(line.as_str()).or_default() += 1;
    }
    let missing = reached
        .iter()
        .filter(|line| !times.contains_key(line.as_str()))
        .count();
    assert_eq!(
        missing, 0,
        "{missing} lines that reached the spool never arrived"
    );
    let outside: Vec<&&str> = times
        .iter()
        .filter(|(line, n)| **n > 1 && !window.contains(**line))
        .map(|(line, _)| line)
        .collect();
    assert!(
        outside.is_empty(),
        "sent twice outside the unconfirmed window: {outside:?}"
    );
    let duplicates: usize = times.values().map(|n| n - 1).sum();
    println!(
        "{} sends of {} lines over 6 kills ({} fed): {duplicates} duplicates, all in the window",
        arrived.len(),
        times.len(),
        fed
    );
}

/// Spools 3000 lines over several segments with the server down.
fn spool_in_segments(spool: &str) -> String {
    let input = numbered(3000);
    spool_while_down(
        spool,
        &input,
        &["--spool-max-size", "256K", "--max-len", "1K"],
    );
    input
}

/// The bytes the spool's segments take.
fn spool_bytes(spool: &str) -> u64 {
    segments(spool)
        .iter()
        .map(|name| {
            std::fs::metadata(Path::new(spool).join(name))
                .unwrap()
                .len()
        })
        .sum()
}

fn segments(spool: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(spool)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_flipped_byte_loses_its_line_only_and_the_segment_is_moved_aside() {
    let dir = TempDir::new("spool-flip");
    let spool = dir.file("spool");
    let input = spool_in_segments(&spool);
    let names = segments(&spool);
    assert!(names.len() >= 3, "{names:?}");
    let disk = on_disk(Path::new(&spool));
    // A byte inside the 10th record of the second segment.
    let (segment, offset, _, line) = disk
        .records
        .iter()
        .filter(|r| r.0 == names[1])
        .nth(9)
        .unwrap()
        .clone();
    let path = Path::new(&spool).join(&segment);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset + 24 + 3] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let (server, done) = drain(&spool, &["--max-len", "1K"]);
    done.expect_code(1)
        .expect_stderr(&format!("segment {segment} is damaged: 1 line lost"));
    let summary = done.summary();
    assert_eq!(
        (
            summary["resumed"],
            summary["sent"],
            summary["spool_corrupt"],
            summary["spooled"]
        ),
        (3000, 2999, 1, 0)
    );
    let expected: Vec<&str> = input.lines().filter(|l| *l != line).collect();
    assert_eq!(messages_of(&server.messages()), expected);
    let aside = Path::new(&spool).join("damaged").join(&segment);
    assert!(aside.exists(), "not moved aside");
    assert!(segments(&spool).is_empty());
    assert_eq!(done.stderr.matches("is damaged").count(), 1, "said once");
}

#[test]
fn a_truncated_last_segment_loses_what_was_cut_and_no_more() {
    let dir = TempDir::new("spool-truncate");
    let spool = dir.file("spool");
    let input = spool_in_segments(&spool);
    let names = segments(&spool);
    let last = names.last().unwrap().clone();
    let disk = on_disk(Path::new(&spool));
    let in_last: Vec<_> = disk.records.iter().filter(|r| r.0 == last).collect();
    assert!(in_last.len() > 20);
    // Cut in the middle of its 20th record: it and all after it are gone.
    let cut = in_last[19].1 + 30;
    let lost = in_last.len() - 19;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(Path::new(&spool).join(&last))
        .unwrap();
    file.set_len(cut as u64).unwrap();
    let (server, done) = drain(&spool, &["--max-len", "1K"]);
    done.expect_code(1)
        .expect_stderr(&format!("segment {last} is damaged: {lost} lines lost"));
    let summary = done.summary();
    assert_eq!(summary["spool_corrupt"], lost as u64);
    assert_eq!(summary["sent"], 3000 - lost as u64);
    let expected: Vec<&str> = input.lines().take(3000 - lost).collect();
    assert_eq!(messages_of(&server.messages()), expected);
    assert!(Path::new(&spool).join("damaged").join(&last).exists());
}

#[test]
fn a_deleted_segment_loses_its_lines_and_the_rest_arrives() {
    let dir = TempDir::new("spool-deleted");
    let spool = dir.file("spool");
    let input = spool_in_segments(&spool);
    let names = segments(&spool);
    let disk = on_disk(Path::new(&spool));
    let gone: HashSet<String> = disk
        .records
        .iter()
        .filter(|r| r.0 == names[1])
        .map(|r| r.3.clone())
        .collect();
    std::fs::remove_file(Path::new(&spool).join(&names[1])).unwrap();
    let (server, done) = drain(&spool, &["--max-len", "1K"]);
    done.expect_code(1).expect_stderr(&format!(
        "{} lines missing (a segment deleted?)",
        gone.len()
    ));
    assert_eq!(done.summary()["spool_corrupt"], gone.len() as u64);
    let expected: Vec<&str> = input.lines().filter(|l| !gone.contains(*l)).collect();
    assert_eq!(messages_of(&server.messages()), expected);
}

#[test]
fn a_full_spool_drops_new_lines_when_asked_and_keeps_the_first() {
    let dir = TempDir::new("spool-full-drop");
    let spool = dir.file("spool");
    let down = Reserved::new();
    let input = numbered(10_000);
    let done = wsship(&[
        "--addr",
        &down.addr.to_string(),
        "--spool",
        &spool,
        "--spool-max-size",
        "64K",
        "--max-len",
        "1K",
        "--when-full",
        "drop",
        "--retry-limit",
        "0",
    ])
    .run(input.clone());
    done.expect_code(1)
        .expect_stderr("full (--spool-max-size 65536): new lines are dropped");
    let summary = done.summary();
    let kept = summary["spooled"];
    assert!(kept > 500 && kept < 2000, "{kept} lines kept in 64 KiB");
    assert_eq!(
        (summary["read"], summary["dropped_full"]),
        (10_000, 10_000 - kept)
    );
    let total = spool_bytes(&spool);
    assert!(total <= 64 << 10, "the spool takes {total} bytes");
    let (server, done) = drain(&spool, &["--max-len", "1K", "--spool-max-size", "64K"]);
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().take(kept as usize).collect::<Vec<_>>(),
        "the first lines are kept, new ones dropped"
    );
}

#[test]
fn a_full_spool_blocks_reading_until_lines_are_confirmed() {
    let dir = TempDir::new("spool-full-block");
    let spool = dir.file("spool");
    let down = Reserved::new();
    let addr = down.addr.to_string();
    let mut running = wsship(&[
        "--addr",
        &addr,
        "--spool",
        &spool,
        "--spool-max-size",
        "64K",
        "--max-len",
        "1K",
        "--backoff-init",
        "10ms",
        "--backoff-max",
        "50ms",
    ])
    .spawn();
    let input = numbered(10_000);
    running.feed(input.clone().into_bytes());
    running.wait_for_stderr("reading waits for lines to be confirmed", LONG);
    let total = spool_bytes(&spool);
    assert!(total <= 64 << 10, "the spool takes {total} bytes");
    let server = Server::start_on(down, Behaviour::default());
    let done = running.wait(LONG);
    done.expect_code(0).expect_stderr("room again");
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["dropped"], summary["spooled"]),
        (10_000, 0, 0)
    );
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().collect::<Vec<_>>()
    );
}

#[test]
fn a_second_wsship_on_the_same_spool_is_refused() {
    let dir = TempDir::new("spool-lock");
    let spool = dir.file("spool");
    let server = Server::start(Behaviour::default());
    let mut first = wsship(&["--addr", &server.addr(), "--spool", &spool]).spawn();
    first.write(b"held\n");
    server.wait_for_messages(1, LONG);
    let second = wsship(&["--addr", &server.addr(), "--spool", &spool]).run("second\n");
    second
        .expect_code(1)
        .expect_stderr("another wsship is using this spool");
    assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    first.signal(libc::SIGTERM);
    first.wait(LONG).expect_code(130);
    assert_eq!(messages_of(&server.messages()), ["held"]);
}

#[test]
fn a_spool_that_cannot_be_created_stops_the_run_before_reading() {
    let dir = TempDir::new("spool-cannot");
    let file = dir.file("a-file");
    std::fs::write(&file, "").unwrap();
    let spool = format!("{file}/spool");
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--addr", &server.addr(), "--spool", &spool]).run("a line\n");
    done.expect_code(1)
        .expect_stderr(&format!("--spool {spool}: cannot use it: "));
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(server.messages().is_empty());
}

#[test]
fn dry_run_shows_what_a_spool_holds_and_leaves_it_as_it_was() {
    let dir = TempDir::new("spool-dry");
    let spool = dir.file("spool");
    let input = numbered(300);
    spool_while_down(&spool, &input, &[]);
    let before = on_disk(Path::new(&spool)).records.len();
    let done = wsship(&[
        "--addr",
        "127.0.0.1:9",
        "--spool",
        &spool,
        "--dry-run",
        "--format",
        "raw",
    ])
    .run("not read\n");
    done.expect_code(0);
    assert_eq!(done.stdout, input);
    assert_eq!(on_disk(Path::new(&spool)).records.len(), before);
    let (server, done) = drain(&spool, &[]);
    done.expect_code(0);
    assert_eq!(server.messages().len(), 300);
}

#[test]
fn spool_options_that_cannot_work_are_usage_errors() {
    let dir = TempDir::new("spool-usage");
    let spool = dir.file("spool");
    let log = dir.file("app.log");
    std::fs::write(&log, "x\n").unwrap();
    for (args, said) in [
        (
            vec!["--spool", &spool, &log],
            "--spool is for standard input: a FILE is its own buffer (use --follow --state)",
        ),
        (
            vec!["--spool", &spool, "--spool-max-size", "1M"],
            "--spool-max-size (1048576 bytes) must hold four lines of --max-len (1048576 bytes)",
        ),
        (
            vec!["--spool", &spool, "--spool-sync", "0s"],
            "must be longer than 0, or always",
        ),
        (
            vec![
                "--spool",
                &spool,
                "--max-len",
                "2G",
                "--spool-max-size",
                "16G",
            ],
            "--spool keeps lines of at most 1 GiB: --max-len (2147483648 bytes) is longer",
        ),
    ] {
        let mut all = vec!["--addr", "127.0.0.1:9"];
        all.extend(args);
        wsship(&all).run("").expect_code(2).expect_stderr(said);
    }
    assert!(!Path::new(&spool).exists(), "nothing created");
}

#[test]
fn a_segment_started_just_before_a_crash_is_no_obstacle_to_the_next_run() {
    let dir = TempDir::new("spool-empty-segment");
    let spool = dir.file("spool");
    let first = numbered_range(0, 500);
    spool_while_down(&spool, &first, &[]);
    // As if the run had started its next segment and died at once.
    std::fs::write(
        Path::new(&spool).join("00000000000000000500.seg"),
        b"WSSPOOL1",
    )
    .unwrap();
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--addr", &server.addr(), "--spool", &spool]).run(numbered_range(500, 800));
    done.expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        numbered(800).lines().collect::<Vec<_>>()
    );
}
