//! Structured events: NDJSON lines spliced as objects, multiline events
//! (stack traces), and the keys and timestamp format a server expects.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::{Behaviour, Server};
use crate::util::{LONG, TempDir, append, wait_until, wsship};

/// What the server received, each parsed as JSON.
pub fn values(server: &Server) -> Vec<Value> {
    server
        .messages()
        .iter()
        .map(|text| serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
        .collect()
}

/// The "message" member of each value, its timestamp checked.
fn message_values(server: &Server) -> Vec<Value> {
    without_timestamps(values(server))
        .into_iter()
        .map(|v| v["message"].clone())
        .collect()
}

/// The values with their timestamp checked (RFC 3339, ms, UTC) and removed.
pub fn without_timestamps(values: Vec<Value>) -> Vec<Value> {
    values
        .into_iter()
        .map(|mut value| {
            let object = value.as_object_mut().expect("an object");
            let stamp = object.remove("timestamp").expect("a timestamp");
            let stamp = stamp.as_str().expect("a string");
            assert!(
                stamp.len() == 24 && chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
                "{stamp}"
            );
            value
        })
        .collect()
}

const NDJSON: &str = r#"{"level":"info","msg":"started","pid":42}
{"level":"warn","ctx":{"user":{"id":7,"roles":["a","b"]},"path":"/x?y=\"z\""},"msg":"caf\u00e9 \u2603 ☃"}
{"timestamp":"2026-01-01T00:00:00Z","msg":"brings its own time"}
{"host":"its-own","msg":"brings its own host"}
[1,2,3]
{"msg": "broken",
   {  "spaced" : true ,  "n" : -1.5e3  }
"#;

#[test]
fn ndjson_lines_arrive_as_the_objects_they_are() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&[
        "--url",
        &server.url(),
        "--input-format",
        "ndjson",
        "--field",
        "host=web-1",
    ])
    .run(NDJSON);
    done.expect_code(0);
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["sent"], summary["invalid_json"]),
        (7, 7, 2)
    );
    let got = values(&server);
    assert_eq!(
        got[2]["timestamp"], "2026-01-01T00:00:00Z",
        "its own is kept"
    );
    let mut rest = got.clone();
    rest.remove(2);
    let rest = without_timestamps(rest);
    assert_eq!(
        rest,
        [
            json!({"level": "info", "msg": "started", "pid": 42, "host": "web-1"}),
            json!({"level": "warn", "ctx": {"user": {"id": 7, "roles": ["a", "b"]},
                "path": "/x?y=\"z\""}, "msg": "café ☃ ☃", "host": "web-1"}),
            json!({"host": "its-own", "msg": "brings its own host"}),
            json!({"message": "[1,2,3]", "host": "web-1", "error": "not a JSON object"}),
            json!({"message": "{\"msg\": \"broken\",", "host": "web-1", "error": "invalid JSON"}),
            json!({"spaced": true, "n": -1.5e3, "host": "web-1"}),
        ]
    );
    // No key twice because of wsship, in the text itself.
    let texts = server.messages();
    assert_eq!(texts[2].matches("\"timestamp\"").count(), 1, "{}", texts[2]);
    assert_eq!(texts[3].matches("\"host\"").count(), 1, "{}", texts[3]);
}

#[test]
fn a_json_target_nests_each_object_and_ecs_keys_with_unix_ms() {
    let server = Server::start(Behaviour::default());
    let before = chrono::Utc::now().timestamp_millis();
    wsship(&[
        "--url",
        &server.url(),
        "--input-format",
        "ndjson",
        "--json-target",
        "log",
        "--timestamp-key",
        "@timestamp",
        "--timestamp-format",
        "unix-ms",
        "--message-key",
        "text",
    ])
    .run("{\"a\":{\"b\":1}}\nnot json\n")
    .expect_code(0);
    let after = chrono::Utc::now().timestamp_millis();
    let got = values(&server);
    let stamp = got[0]["@timestamp"].as_i64().expect("a JSON number");
    assert!(
        (before..=after).contains(&stamp),
        "{stamp} not in {before}..={after}"
    );
    assert_eq!(got[0], json!({"@timestamp": stamp, "log": {"a": {"b": 1}}}));
    assert_eq!(got[1]["text"], "not json");
    assert_eq!(got[1]["error"], "invalid JSON");
}

#[test]
fn timestamp_none_leaves_the_key_out() {
    let server = Server::start(Behaviour::default());
    wsship(&["--url", &server.url(), "--timestamp-format", "none"])
        .run("bare\n")
        .expect_code(0);
    assert_eq!(values(&server), [json!({"message": "bare"})]);
}

const JAVA: &str = "\
2026-12-01 10:00:00.001 INFO  [main] c.e.App - started
2026-12-01 10:00:01.002 ERROR [http-1] c.e.Handler - request failed
java.lang.IllegalStateException: widget missing
\tat com.example.Handler.handle(Handler.java:42)
\tat com.example.Server.dispatch(Server.java:118)
Caused by: java.io.FileNotFoundException: /data/widget (No such file or directory)
\tat java.base/java.io.FileInputStream.open0(Native Method)
\t... 2 more
2026-12-01 10:00:02.003 INFO  [main] c.e.App - still running
";

#[test]
fn a_java_stack_trace_is_one_event_with_either_rule() {
    for rule in [
        ["--multiline-start", r"^\d{4}-\d\d-\d\d "],
        [
            "--multiline-continue",
            r"^\s+at |^\s+\.\.\. \d+ more|^Caused by:|^java\.",
        ],
    ] {
        let server = Server::start(Behaviour::default());
        let done = wsship(&["--url", &server.url(), rule[0], rule[1]]).run(JAVA);
        done.expect_code(0);
        let lines: Vec<&str> = JAVA.lines().collect();
        let got: Vec<Value> = without_timestamps(values(&server));
        assert_eq!(
            got,
            [
                json!({"message": lines[0]}),
                json!({"message": lines[1..8].join("\n")}),
                json!({"message": lines[8]}),
            ],
            "{rule:?}"
        );
        let summary = done.summary();
        assert_eq!(
            (summary["read"], summary["sent"], summary["events"]),
            (9, 9, 3),
            "lines read and sent, events formed"
        );
    }
}

const PYTHON: &str = "\
INFO:app:starting
Traceback (most recent call last):
  File \"/srv/app.py\", line 10, in <module>
    main()
  File \"/srv/app.py\", line 6, in main
    raise ValueError(\"bad value\")
ValueError: bad value
INFO:app:exiting
";

#[test]
fn a_python_traceback_is_one_event() {
    let server = Server::start(Behaviour::default());
    // Python's traceback ends with a line that starts at the margin: it
    // belongs to the event, so the rule names what starts a new one.
    wsship(&[
        "--url",
        &server.url(),
        "--multiline-start",
        r"^(INFO|WARNING|ERROR|DEBUG|CRITICAL):|^Traceback",
    ])
    .run(PYTHON)
    .expect_code(0);
    let lines: Vec<&str> = PYTHON.lines().collect();
    let messages = message_values(&server);
    assert_eq!(
        messages,
        [
            json!(lines[0]),
            json!(lines[1..7].join("\n")),
            json!(lines[7])
        ]
    );
}

#[test]
fn a_pending_event_goes_out_after_the_timeout_while_input_stays_open() {
    let server = Server::start(Behaviour::default());
    let mut running = wsship(&[
        "--url",
        &server.url(),
        "--multiline-start",
        "^S",
        "--multiline-timeout",
        "200ms",
        "--flush-interval",
        "10ms",
    ])
    .spawn();
    running.write(b"S first\n  more\n");
    // Within the 200 ms of --multiline-timeout and 10 ms of
    // --flush-interval, with room for a loaded machine: without the
    // timeout it would wait for the next line, written only after this.
    server.wait_for_messages(1, Duration::from_secs(1));
    assert_eq!(
        without_timestamps(values(&server)),
        [json!({"message": "S first\n  more"})]
    );
    // The timeout is what sent it: stdin is still open.
    running.write(b"S second\n");
    let done = running.wait(LONG);
    done.expect_code(0);
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn an_event_over_max_len_is_dropped_and_counted_while_its_neighbours_arrive() {
    let server = Server::start(Behaviour::default());
    let long_trace: String = (0..50).map(|i| format!("  at frame {i:03}\n")).collect();
    let input = format!("S before\nS huge\n{long_trace}S after\n");
    let done = wsship(&[
        "--url",
        &server.url(),
        "--multiline-start",
        "^S",
        "--max-len",
        "200",
    ])
    .run(input);
    done.expect_code(0);
    let messages = message_values(&server);
    assert_eq!(messages, [json!("S before"), json!("S after")]);
    let summary = done.summary();
    assert_eq!(
        (
            summary["read"],
            summary["sent"],
            summary["dropped"],
            summary["events"]
        ),
        (53, 2, 51, 3)
    );
    done.expect_stderr("longer than --max-len");
}

#[test]
fn a_state_never_splits_an_event_across_runs() {
    let server = Server::start(Behaviour::default());
    let dir = TempDir::new("events-state");
    let (log, state) = (dir.file("app.log"), dir.file("app.state"));
    let follow = |server: &Server| {
        wsship(&[
            "--url",
            &server.url(),
            "-F",
            "--state",
            &state,
            "--multiline-start",
            "^S",
            "--multiline-timeout",
            "1h",
            "--flush-interval",
            "10ms",
            &log,
        ])
        .spawn()
    };
    append(&log, "S1\n a\n b\nS2\n c\n");
    let running = follow(&server);
    server.wait_for_messages(1, LONG);
    // S1 is confirmed; S2 waits for its next line or its timeout.
    let position = || -> Option<u64> {
        let text = std::fs::read_to_string(&state).ok()?;
        let value: Value = serde_json::from_str(&text).ok()?;
        value["files"][0]["position"].as_u64()
    };
    wait_until("the state to pass S1", LONG, || position() == Some(9));
    running.signal(libc::SIGKILL);
    let _ = running.wait(LONG);
    append(&log, "S3\n");
    let second = Server::start(Behaviour::default());
    let running = follow(&second);
    second.wait_for_messages(1, LONG);
    running.signal(libc::SIGTERM);
    running.wait(LONG).expect_code(130);
    let first: Vec<Value> = without_timestamps(values(&server));
    assert_eq!(first, [json!({"message": "S1\n a\n b"})]);
    // S2 whole, then S3, sent by the drain though its event was pending.
    let then: Vec<Value> = without_timestamps(values(&second));
    assert_eq!(
        then,
        [json!({"message": "S2\n c"}), json!({"message": "S3"})]
    );
}

#[test]
fn max_lines_splits_a_long_event_and_loses_nothing() {
    let server = Server::start(Behaviour::default());
    let trace: String = (0..7).map(|i| format!("  at frame {i}\n")).collect();
    let input = format!("S start\n{trace}S next\n");
    let done = wsship(&[
        "--url",
        &server.url(),
        "--multiline-start",
        "^S",
        "--multiline-max-lines",
        "3",
    ])
    .run(input);
    done.expect_code(0);
    let messages = message_values(&server);
    assert_eq!(
        messages,
        [
            json!("S start\n  at frame 0\n  at frame 1"),
            json!("  at frame 2\n  at frame 3\n  at frame 4"),
            json!("  at frame 5\n  at frame 6"),
            json!("S next"),
        ]
    );
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["sent"], summary["events"]),
        (9, 9, 4)
    );
}

#[test]
fn an_event_of_several_lines_under_ndjson_is_sent_as_text() {
    // Several lines are not one JSON object, even if each is one: the
    // event goes as text, and a one-line event as the object it is.
    let server = Server::start(Behaviour::default());
    let input = "{\"a\":1}\n  {\"b\":2}\n{\"c\":3}\n";
    let done = wsship(&[
        "--url",
        &server.url(),
        "--input-format",
        "ndjson",
        "--multiline-continue",
        "^\\s",
    ])
    .run(input);
    done.expect_code(0);
    assert_eq!(
        without_timestamps(values(&server)),
        [
            json!({"message": "{\"a\":1}\n  {\"b\":2}"}),
            json!({"c": 3})
        ]
    );
    let summary = done.summary();
    assert_eq!(
        (summary["read"], summary["events"], summary["invalid_json"]),
        (3, 2, 0)
    );
}
