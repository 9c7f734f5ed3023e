//! permessage-deflate (`--compress`) against a server that speaks it, and
//! one message per batch (`--message-per batch`).

use crate::server::{Behaviour, Server, ServerDeflate};
use crate::util::{assert_every_line_arrived, numbered, wsship};

fn deflating(answer: &'static str, window_bits: u8, takeover: bool) -> Behaviour {
    Behaviour {
        deflate: Some(ServerDeflate {
            answer,
            window_bits,
            takeover,
            echo: false,
            drop_after: None,
        }),
        ..Behaviour::default()
    }
}

/// What --dry-run prints for `input` (and `extra` options): the messages,
/// one per line.
fn dry_run(input: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--dry-run", "-q"];
    args.extend_from_slice(extra);
    let done = wsship(&args).run(input);
    done.expect_code(0);
    done.stdout.lines().map(String::from).collect()
}

/// The messages' text, timestamps aside, which differ between two runs.
fn without_timestamps(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let mut value: serde_json::Value = serde_json::from_str(m).unwrap();
            value.as_object_mut().unwrap().remove("timestamp");
            value.to_string()
        })
        .collect()
}

#[test]
fn compressed_messages_inflate_to_what_dry_run_prints() {
    for (answer, bits, takeover) in [
        ("permessage-deflate", 15, true),
        ("permessage-deflate; client_no_context_takeover", 15, false),
        ("permessage-deflate; client_max_window_bits=9", 9, true),
    ] {
        let server = Server::start(deflating(answer, bits, takeover));
        let input = numbered(3000);
        let done = wsship(&["--url", &server.url(), "--compress"]).run(input.clone());
        done.expect_code(0);
        assert_eq!(server.compressed(), 3000, "{answer}");
        assert_eq!(
            without_timestamps(&server.messages()),
            without_timestamps(&dry_run(&input, &[])),
            "{answer}"
        );
        let offer = &server.requests()[0];
        assert!(
            offer
                .iter()
                .any(|(name, value)| name == "sec-websocket-extensions"
                    && value == "permessage-deflate; client_max_window_bits"),
            "{offer:?}"
        );
    }
}

#[test]
fn a_reconnect_compresses_again_on_the_new_connection() {
    let server = Server::start(Behaviour {
        deflate: Some(ServerDeflate {
            answer: "permessage-deflate",
            window_bits: 15,
            takeover: true,
            echo: false,
            drop_after: Some(700),
        }),
        ..Behaviour::default()
    });
    let input = numbered(3000);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--compress",
        "--batch-size",
        "100",
        "--backoff-init",
        "10ms",
    ])
    .run(input.clone());
    done.expect_code(0);
    assert!(
        server.connections() >= 4,
        "it dropped us every 700 messages"
    );
    // Each connection's inflater starts empty: a frame compressed against
    // an earlier connection's context would not inflate (and the server
    // would say so).
    let messages = server.messages();
    assert_eq!(server.compressed(), messages.len());
    let texts: Vec<String> = messages
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(m).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_every_line_arrived(&input, |line| texts.iter().any(|t| t == line));
}

#[test]
fn a_server_that_declines_gets_plain_frames_and_it_is_said_once() {
    let server = Server::start(deflating("", 15, true));
    let done =
        wsship(&["--url", &server.url(), "--compress", "-v", "--workers", "2"]).run(numbered(500));
    done.expect_code(0);
    assert_eq!(server.messages().len(), 500);
    assert_eq!(server.compressed(), 0);
    assert_eq!(
        done.stderr.matches("declined --compress").count(),
        1,
        "{}",
        done.stderr
    );
}

#[test]
fn a_window_of_8_bits_is_answered_with_plain_frames() {
    let server = Server::start(deflating(
        "permessage-deflate; client_max_window_bits=8",
        8,
        true,
    ));
    let done = wsship(&["--url", &server.url(), "--compress", "-v"]).run(numbered(100));
    done.expect_code(0);
    assert_eq!((server.messages().len(), server.compressed()), (100, 0));
    done.expect_stderr("window of 8 bits");
}

#[test]
fn compressed_echoes_from_the_server_are_taken_and_discarded() {
    let server = Server::start(Behaviour {
        deflate: Some(ServerDeflate {
            answer: "permessage-deflate",
            window_bits: 15,
            takeover: true,
            echo: true,
            drop_after: None,
        }),
        ..Behaviour::default()
    });
    let done = wsship(&["--url", &server.url(), "--compress"]).run(numbered(20_000));
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(
        (summary["sent"], summary["reconnects"], summary["resent"]),
        (20_000, 0, 0)
    );
    assert_eq!(server.messages().len(), 20_000);
}

#[test]
fn frames_that_arrive_with_the_handshake_are_skipped_with_compression_or_without() {
    // The server writes a compressed text message and one that is not
    // UTF-8 in the same write as its 101: they reach wsship in the read
    // that ends the handshake. Without --compress the server speaks plain
    // WebSocket, and its compressed message breaks the rules: it is
    // skipped all the same.
    for compress in [true, false] {
        let server = Server::start(Behaviour {
            greet: true,
            ..deflating("permessage-deflate", 15, true)
        });
        let mut args = vec![
            "--url".to_string(),
            server.url(),
            "--retry-limit".into(),
            "0".into(),
        ];
        if compress {
            args.push("--compress".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = wsship(&args).run(numbered(1000));
        done.expect_code(0);
        let summary = done.summary();
        assert_eq!(
            (summary["sent"], summary["reconnects"], summary["failed"]),
            (1000, 0, 0),
            "--compress {compress}"
        );
        assert_eq!(server.messages().len(), 1000);
        assert_eq!(server.compressed(), if compress { 1000 } else { 0 });
        assert_eq!(server.connections(), 1);
    }
}

#[test]
fn an_answer_that_breaks_rfc_7692_ends_the_run() {
    for (answer, compress) in [
        ("permessage-deflate; no_such_parameter", true),
        ("x-webkit-deflate-frame", true),
        ("permessage-deflate", false),
    ] {
        let server = Server::start(deflating(answer, 15, true));
        // Offered by hand where --compress is not given, to draw the answer.
        let mut args = vec!["--url".to_string(), server.url()];
        match compress {
            true => args.push("--compress".into()),
            false => args.extend([
                "-H".into(),
                "Sec-WebSocket-Extensions: permessage-deflate".into(),
            ]),
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = wsship(&args).run("x\n");
        done.expect_code(1);
        done.expect_stderr("breaks RFC 7692");
        assert_eq!(done.summary()["retries"], 0, "{answer}");
    }
}

#[test]
fn one_message_per_batch_holds_its_lines_in_order() {
    let input = numbered(1003);
    for compress in [false, true] {
        let server = Server::start(deflating("permessage-deflate", 15, true));
        let mut args = vec!["--url".to_string(), server.url()];
        args.extend(["--message-per", "batch", "--batch-size", "100"].map(String::from));
        if compress {
            args.push("--compress".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = wsship(&args).run(input.clone());
        done.expect_code(0);
        let summary = done.summary();
        assert_eq!(
            (summary["read"], summary["sent"]),
            (1003, 1003),
            "lines, not messages"
        );
        let messages = server.messages();
        assert!(
            (11..=1003 / 100 + 5).contains(&messages.len()),
            "{} messages for 11 batches",
            messages.len()
        );
        assert!(messages.iter().all(|m| m.lines().count() <= 100));
        let lines: Vec<String> = messages
            .iter()
            .flat_map(|m| m.lines().map(String::from))
            .collect();
        assert_eq!(
            without_timestamps(&lines),
            without_timestamps(&dry_run(&input, &[]))
        );
        assert_eq!(
            server.compressed(),
            if compress { messages.len() } else { 0 }
        );
    }
}

#[test]
fn raw_lines_one_message_per_batch() {
    let server = Server::start(Behaviour::default());
    wsship(&[
        "--url",
        &server.url(),
        "--format",
        "raw",
        "--message-per",
        "batch",
        "--batch-size",
        "3",
        "--flush-interval",
        "1h",
    ])
    .run("a\nb\nc\nd\n")
    .expect_code(0);
    assert_eq!(server.messages(), ["a\nb\nc", "d"]);
}

#[test]
fn a_higher_level_is_taken_and_still_inflates() {
    let input = numbered(2000);
    let mut sizes = Vec::new();
    for level in ["1", "9"] {
        let server = Server::start(deflating("permessage-deflate", 15, true));
        wsship(&[
            "--url",
            &server.url(),
            "--compress",
            "--compress-level",
            level,
        ])
        .run(input.clone())
        .expect_code(0);
        assert_eq!(server.compressed(), 2000);
        assert_eq!(
            without_timestamps(&server.messages()),
            without_timestamps(&dry_run(&input, &[]))
        );
        sizes.push(server.compressed_bytes());
    }
    assert!(
        sizes[1] < sizes[0],
        "level 9 makes less than level 1: {sizes:?}"
    );
}
