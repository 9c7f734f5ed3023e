//! What arrives, in what order and shape, when all goes well.

use std::time::Duration;

use crate::server::{Behaviour, Server};
use crate::util::{LONG, messages_of, numbered, wsship};

#[test]
fn one_worker_keeps_order_and_content_of_100k_lines() {
    let server = Server::start(Behaviour::default());
    let input = numbered(100_000);
    let done = wsship(&["--url", &server.url()]).run(input.clone());
    done.expect_code(0);
    server.wait_for_messages(100_000, LONG);

    let received = server.messages();
    let expected: Vec<&str> = input.lines().collect();
    assert_eq!(messages_of(&received), expected);
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["sent"], summary["failed"]),
        (100_000, 100_000, 0)
    );
    let bytes: usize = received.iter().map(|m| m.len()).sum();
    assert_eq!(summary["bytes_sent"], bytes as u64);
}

#[test]
fn four_workers_lose_nothing_when_batches_do_not_divide_the_count() {
    let server = Server::start(Behaviour::default());
    let input = numbered(10_007);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--workers",
        "4",
        "--batch-size",
        "64",
    ])
    .run(input.clone());
    done.expect_code(0);
    server.wait_for_messages(10_007, LONG);

    let mut received = messages_of(&server.messages());
    received.sort();
    let mut expected: Vec<&str> = input.lines().collect();
    expected.sort();
    assert_eq!(received, expected, "every line exactly once");
    assert_eq!(done.summary()["sent"], 10_007);
}

#[test]
fn addr_and_path_reach_the_server() {
    let server = Server::start(Behaviour::default());
    wsship(&["--addr", &server.addr(), "--path", "/ingest/v2"])
        .run("one\n")
        .expect_code(0);
    wsship(&[
        "--addr",
        &server.addr(),
        "--path",
        "no/slash?stream=a&b=%20",
    ])
    .run("two\n")
    .expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["one", "two"]);
    assert_eq!(server.targets(), ["/ingest/v2", "/no/slash?stream=a&b=%20"]);
}

#[test]
fn a_url_path_and_query_reach_the_server_as_given() {
    let server = Server::start(Behaviour::default());
    let url = format!("ws://{}/logs/ingest?tenant=t-1&tag=a%2Fb", server.addr());
    wsship(&["--url", &url]).run("x\n").expect_code(0);
    assert_eq!(server.targets(), ["/logs/ingest?tenant=t-1&tag=a%2Fb"]);
}

#[test]
fn options_from_the_environment() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&[])
        .env("WSSHIP_URL", &server.url())
        .env("WSSHIP_FORMAT", "raw")
        .env("WSSHIP_BATCH_SIZE", "1")
        .run("from env\n");
    done.expect_code(0);
    assert_eq!(server.messages(), ["from env"]);
}

#[test]
fn the_command_line_beats_the_environment_for_the_endpoint() {
    let server = Server::start(Behaviour::default());
    let nowhere = "ws://127.0.0.1:1/nowhere";
    wsship(&["--addr", &server.addr(), "--retry-limit", "0"])
        .env("WSSHIP_URL", nowhere)
        .run("addr on the command line\n")
        .expect_code(0);
    wsship(&["--url", &server.url(), "--retry-limit", "0"])
        .env("WSSHIP_ADDR", "127.0.0.1:1")
        .run("url on the command line\n")
        .expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["addr on the command line", "url on the command line"]
    );
}

#[test]
fn verbose_shows_connection_events() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--url", &server.url(), "-v"]).run("x\n");
    done.expect_code(0);
    let connected = format!(
        "wsship: worker 0: connected to ws://{}/ingest",
        server.addr()
    );
    done.expect_stderr(&connected);
    done.expect_stderr("wsship: worker 0: closed");
}

#[test]
fn fields_follow_the_message_in_order() {
    let server = Server::start(Behaviour::default());
    wsship(&[
        "--url",
        &server.url(),
        "--field",
        "host=web-1",
        "--field",
        "env=a\"b",
    ])
    .run("hello\n")
    .expect_code(0);
    let received = server.messages();
    assert_eq!(messages_of(&received), ["hello"]);
    let text = &received[0];
    let order: Vec<usize> = ["\"timestamp\"", "\"message\"", "\"host\"", "\"env\""]
        .iter()
        .map(|key| {
            text.find(key)
                .unwrap_or_else(|| panic!("{key} missing in {text}"))
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "field order in {text}"
    );
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(value["host"], "web-1");
    assert_eq!(value["env"], "a\"b");
}

#[test]
fn raw_format_sends_the_line_itself() {
    let server = Server::start(Behaviour::default());
    wsship(&["--url", &server.url(), "--format", "raw"])
        .run("{\"already\":\"json\"}\nplain\n")
        .expect_code(0);
    assert_eq!(server.messages(), ["{\"already\":\"json\"}", "plain"]);
}

#[test]
fn a_trickle_arrives_within_the_flush_interval_while_stdin_stays_open() {
    let server = Server::start(Behaviour::default());
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--batch-size",
        "1000",
        "--flush-interval",
        "200ms",
    ])
    .spawn();
    // 200ms plus a margin for a loaded machine; far below "at EOF".
    running.write(b"first\n");
    server.wait_for_messages(1, Duration::from_secs(5));
    running.write(b"second\n");
    server.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(messages_of(&server.messages()), ["first", "second"]);
    running.wait(LONG).expect_code(0);
}

#[test]
fn idle_connections_are_pinged() {
    let server = Server::start(Behaviour::default());
    let mut running = wsship(&["--url", &server.url(), "--ping-interval", "100ms"]).spawn();
    running.write(b"open the connection\n");
    // Keepalives carry no payload; the one Ping that confirmed the line
    // carries its sequence number and does not count.
    server.wait_for_keepalives(4, Duration::from_secs(20));
    running.wait(LONG).expect_code(0);
    let (keepalives, confirmations) = server.pings();
    assert!(keepalives >= 4, "{keepalives} keepalives");
    assert_eq!(confirmations, 1, "one write, one confirming Ping");
}

#[test]
fn a_server_that_pings_an_idle_connection_gets_its_pong() {
    let server = Server::start(Behaviour {
        ping_after: Some(1),
        ..Behaviour::default()
    });
    // No keepalives of our own, whose sending would carry the Pong out too.
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--flush-interval",
        "10ms",
        "--ping-interval",
        "0",
    ])
    .spawn();
    // Pinged after the first line, with nothing more to send: the idle
    // connection still reads the Ping, within a second, and answers it.
    running.write(b"first\n");
    server.wait_for_pongs(1, Duration::from_secs(20));
    running.wait(LONG).expect_code(0);
}

#[test]
fn a_server_that_pings_in_mid_stream_gets_its_pong_between_our_frames() {
    let server = Server::start(Behaviour {
        ping_after: Some(1000),
        ..Behaviour::default()
    });
    let input = numbered(200_000);
    let done = wsship(&["--url", &server.url()]).run(input.clone());
    done.expect_code(0);
    server.wait_for_pongs(1, LONG);
    // The Pong went into the stream whole: every message arrived intact.
    assert_eq!(messages_of(&server.messages()).join("\n") + "\n", input);
}

#[test]
fn periodic_stats_and_quiet() {
    let server = Server::start(Behaviour::default());
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--stats-interval",
        "50ms",
        "--flush-interval",
        "10ms",
    ])
    .spawn();
    running.write(b"a\nb\n");
    running.wait_for_stderr("wsship: stats: read=2 sent=2", LONG);
    running.wait(LONG).expect_code(0).summary();

    let quiet = wsship(&["--url", &server.url(), "-q"]).run("c\n");
    quiet.expect_code(0);
    assert_eq!(quiet.stderr, "", "-q prints nothing when all is well");
}

#[test]
fn empty_input_exits_zero_without_connecting() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--url", &server.url()]).run("\n\r\n");
    done.expect_code(0);
    assert_eq!(done.summary()["read"], 0);
    assert_eq!(server.connections(), 0);
}

#[test]
fn dry_run_writes_the_messages_to_stdout_and_connects_nowhere() {
    let done = wsship(&["--addr", "127.0.0.1:1", "--dry-run", "--field", "host=h1"])
        .run("first\n\nsecond \"quoted\"\r\n");
    done.expect_code(0);
    // Byte for byte, but for the timestamps, which are checked by shape.
    let expected = [
        r#"{"timestamp":"T","message":"first","host":"h1"}"#,
        r#"{"timestamp":"T","message":"second \"quoted\"","host":"h1"}"#,
    ];
    let lines: Vec<&str> = done.stdout.split_inclusive('\n').collect();
    assert_eq!(lines.len(), expected.len(), "{}", done.stdout);
    for (line, expected) in lines.iter().zip(expected) {
        let (head, rest) = line.split_at(14);
        let (timestamp, tail) = rest.split_at(24);
        assert_eq!(head, r#"{"timestamp":""#);
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok() && timestamp.ends_with('Z')
        );
        assert_eq!(format!("{head}T{tail}"), format!("{expected}\n"));
    }
    assert_eq!(
        messages_of(&done.stdout.lines().map(String::from).collect::<Vec<_>>()),
        ["first", "second \"quoted\""]
    );
    let summary = done.summary();
    assert_eq!((summary["sent"], summary["failed"]), (2, 0));
}

#[test]
fn json_stats_are_one_object_per_line_and_match_the_server() {
    let server = Server::start(Behaviour::default());
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--stats-format",
        "json",
        "--stats-interval",
        "20ms",
        "--max-len",
        "8",
    ])
    .spawn();
    running.write(b"short\nmuch too long\nok\n");
    running.wait_for_stderr(r#""type":"stats""#, LONG);
    let done = running.wait(LONG);
    done.expect_code(0);
    // Notices for people keep their "wsship: " prefix; the rest is JSON.
    let objects: Vec<serde_json::Value> = done
        .stderr
        .lines()
        .filter(|line| !line.starts_with("wsship: "))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let summary = objects.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let received = server.messages();
    let bytes: usize = received.iter().map(|m| m.len()).sum();
    assert_eq!(summary["sent"], received.len());
    assert_eq!(summary["bytes_sent"], bytes);
    assert_eq!(
        (summary["read"].as_u64(), summary["dropped"].as_u64()),
        (Some(3), Some(1))
    );
}

#[test]
fn with_several_workers_each_connection_keeps_input_order() {
    let server = Server::start(Behaviour::default());
    let input = numbered(20_000);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--workers",
        "4",
        "--batch-size",
        "50",
    ])
    .run(input.clone());
    done.expect_code(0);
    let lines = messages_of(&server.messages());
    let sources = server.sources();
    let index = |line: &String| -> usize { line[5..12].parse().unwrap() };
    let mut seen: Vec<usize> = lines.iter().map(index).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..20_000).collect::<Vec<_>>(),
        "each line exactly once"
    );
    // Workers take batches in input order and a connection delivers in
    // order, so each connection's lines rise: order holds within a batch,
    // and between the batches of one connection.
    for connection in 0..server.connections() {
        let mine: Vec<usize> = lines
            .iter()
            .zip(&sources)
            .filter(|(_, source)| **source == connection)
            .map(|(line, _)| index(line))
            .collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "connection {connection} out of order"
        );
    }
}

#[test]
fn an_ipv6_loopback_server_gets_every_line() {
    let Some(server) = Server::start_ipv6(Behaviour::default()) else {
        eprintln!("no IPv6 loopback on this machine: nothing to test");
        return;
    };
    assert!(server.url().starts_with("ws://[::1]:"), "{}", server.url());
    let input = numbered(1000);
    wsship(&["--url", &server.url()])
        .run(input.clone())
        .expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        input.lines().collect::<Vec<_>>()
    );
    // And by --addr, bracketed as the option asks.
    let addr = server.addr();
    wsship(&["--addr", &addr, "--path", "/v6"])
        .run("by addr\n")
        .expect_code(0);
    assert_eq!(server.targets().last().map(String::as_str), Some("/v6"));
}
