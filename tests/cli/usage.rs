//! Usage errors: exit 2 with a message that names the problem.

use crate::util::wsship;

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--workers", "0"], "--workers"),
        (&["--batch-size", "many"], "--batch-size"),
        (
            &["--url", "http://host/x"],
            "scheme 'http' is not ws or wss",
        ),
        (&["--flush-interval", "soon"], "--flush-interval"),
        (&["--max-len", "0"], "at least 1 byte"),
        (&["--retry-limit", "-5"], "--retry-limit"),
        (
            &["--backoff-init", "2m", "--backoff-max", "1m"],
            "longer than --backoff-max",
        ),
        (
            &["--url", "ws://h/", "--addr", "h:1"],
            "--url cannot be used with",
        ),
        (
            &["--schema", "wss", "--cert", "c.pem"],
            "--cert and --key go together",
        ),
        (&["--field", "novalue"], "KEY=VALUE"),
        (&["--follow"], "--follow needs a FILE"),
        (
            &["--field", "timestamp=x"],
            "--field 'timestamp' is also --timestamp-key",
        ),
        (
            &["--field", "message=x"],
            "--field 'message' is also --message-key",
        ),
        (
            &["--field", "a=1", "--field", "a=2"],
            "--field 'a' is also --field",
        ),
        (
            &["--timestamp-key", "@t", "--message-key", "@t"],
            "--timestamp-key '@t' is also --message-key",
        ),
        (
            &["--input-format", "ndjson", "--field", "error=x"],
            "--field 'error' is also the \"error\" member of --input-format ndjson",
        ),
        (
            &["--input-format", "ndjson", "--message-key", "error"],
            "--message-key 'error' is also the \"error\" member of --input-format ndjson",
        ),
        (
            &["--json-target", "log"],
            "--json-target needs --input-format ndjson",
        ),
        (
            &["--format", "raw", "--input-format", "ndjson"],
            "--input-format ndjson needs --format json",
        ),
        (
            &["--format", "raw", "--message-key", "m"],
            "--message-key needs --format json",
        ),
        (
            &["--multiline-start", "^(\\d"],
            "--multiline-start '^(\\d': unclosed group",
        ),
        (
            &["--multiline-start", "a", "--multiline-continue", "b"],
            "cannot be used with",
        ),
        (
            &["--multiline-start", "a", "--multiline-max-lines", "0"],
            "--multiline-max-lines",
        ),
        (
            &["--multiline-start", "a", "--multiline-timeout", "0"],
            "--multiline-timeout must be longer",
        ),
        (&["--timestamp-format", "iso"], "--timestamp-format"),
        (
            &["--compress-level", "3"],
            "--compress-level needs --compress",
        ),
        (&["--compress", "--compress-level", "0"], "--compress-level"),
        (
            &["--compress", "--compress-level", "10"],
            "--compress-level",
        ),
        (&["--message-per", "event"], "--message-per"),
        (&["-F", "-"], "--follow needs a FILE"),
        (&["--state", "s.state"], "--state needs a FILE"),
        (&["logs/[a-.log"], "FILE pattern 'logs/[a-.log'"),
        (&["-F", "--scan-interval", "0", "a.log"], "--scan-interval"),
        (&["--start-at", "middle", "a.log"], "--start-at"),
        (&["--no-such-option"], "--no-such-option"),
        // Added to the clock, these overflowed it: a panic, not a usage error.
        (
            &["--dry-run", "--flush-interval", "300000000000y"],
            "'300000000000y' for '--flush-interval <DURATION>': too long: at most 1 year",
        ),
        (
            &["--dry-run", "--drain-timeout", "366d"],
            "too long: at most 1 year",
        ),
        (
            &[
                "--dry-run",
                "--multiline-start",
                "a",
                "--multiline-timeout",
                "1000y",
            ],
            "too long: at most 1 year",
        ),
    ];
    for (args, needle) in cases {
        let done = wsship(args).run(Vec::new());
        done.expect_code(2);
        assert!(
            done.stderr.starts_with("error: "),
            "{args:?}: {}",
            done.stderr
        );
        assert!(
            done.stderr.contains(needle),
            "{args:?}: want {needle:?} in {}",
            done.stderr
        );
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    }
}

#[test]
fn switches_from_the_environment_take_what_systemd_and_shells_write() {
    for (value, on) in [
        ("1", true),
        ("yes", true),
        ("on", true),
        ("true", true),
        ("YES", true),
        ("0", false),
        ("no", false),
        ("off", false),
        ("false", false),
        ("Off", false),
    ] {
        // --dry-run writes the message to stdout; without it the message
        // goes to a server that refuses, and fails. -q leaves out the
        // summary.
        let done = wsship(&["--addr", "127.0.0.1:1", "--retry-limit", "0"])
            .env("WSSHIP_DRY_RUN", value)
            .env("WSSHIP_QUIET", value)
            .run("a line\n");
        done.expect_code(if on { 0 } else { 1 });
        assert_eq!(
            done.stdout.contains("\"message\":\"a line\""),
            on,
            "{value}"
        );
        assert_eq!(
            done.stderr.contains("summary: "),
            !on,
            "WSSHIP_QUIET={value}:\n{}",
            done.stderr
        );
    }
    let done = wsship(&[]).env("WSSHIP_FOLLOW", "maybe").run("");
    done.expect_code(2);
    done.expect_stderr("invalid value 'maybe' for '--follow'");
}

#[test]
fn help_documents_every_environment_variable_and_exit_status() {
    let done = wsship(&["--help"]).run(Vec::new());
    done.expect_code(0);
    for var in [
        "WSSHIP_URL",
        "WSSHIP_SCHEMA",
        "WSSHIP_ADDR",
        "WSSHIP_PATH",
        "WSSHIP_CONNECT_TIMEOUT",
        "WSSHIP_WRITE_TIMEOUT",
        "WSSHIP_PING_INTERVAL",
        "WSSHIP_CONFIRM",
        "WSSHIP_MAX_IN_FLIGHT",
        "WSSHIP_PING_TIMEOUT",
        "WSSHIP_WHEN_FULL",
        "WSSHIP_PROXY",
        "WSSHIP_NOPROXY",
        "WSSHIP_HEADER",
        "WSSHIP_TOKEN_FILE",
        "WSSHIP_USER",
        "WSSHIP_SUBPROTOCOL",
        "WSSHIP_ORIGIN",
        "WSSHIP_CACERT",
        "WSSHIP_CERT",
        "WSSHIP_KEY",
        "WSSHIP_INSECURE",
        "WSSHIP_TLS_SERVER_NAME",
        "WSSHIP_WORKERS",
        "WSSHIP_BATCH_SIZE",
        "WSSHIP_FLUSH_INTERVAL",
        "WSSHIP_MAX_LEN",
        "WSSHIP_FORMAT",
        "WSSHIP_FIELD",
        "WSSHIP_RETRY_LIMIT",
        "WSSHIP_BACKOFF_INIT",
        "WSSHIP_BACKOFF_MAX",
        "WSSHIP_DRAIN_TIMEOUT",
        "WSSHIP_STATS_INTERVAL",
        "WSSHIP_QUIET",
        "WSSHIP_VERBOSE",
        "WSSHIP_FOLLOW",
        "WSSHIP_STATE",
        "WSSHIP_START_AT",
        "WSSHIP_SCAN_INTERVAL",
        "WSSHIP_ROTATE_WAIT",
        "WSSHIP_INPUT_FORMAT",
        "WSSHIP_JSON_TARGET",
        "WSSHIP_MESSAGE_KEY",
        "WSSHIP_TIMESTAMP_KEY",
        "WSSHIP_TIMESTAMP_FORMAT",
        "WSSHIP_MULTILINE_START",
        "WSSHIP_MULTILINE_CONTINUE",
        "WSSHIP_MULTILINE_MAX_LINES",
        "WSSHIP_MULTILINE_TIMEOUT",
        "WSSHIP_COMPRESS",
        "WSSHIP_COMPRESS_LEVEL",
        "WSSHIP_MESSAGE_PER",
        "WSSHIP_INCLUDE",
        "WSSHIP_EXCLUDE",
        "WSSHIP_PATH_KEY",
        "WSSHIP_OFFSET_KEY",
        "WSSHIP_HOST_KEY",
        "WSSHIP_HOST_NAME",
        "WSSHIP_ID_KEY",
        "WSSHIP_METRICS_LISTEN",
        "WSSHIP_METRICS_FILE",
        "WSSHIP_SPOOL",
        "WSSHIP_SPOOL_SYNC",
        "WSSHIP_SPOOL_MAX_SIZE",
    ] {
        assert!(done.stdout.contains(var), "--help lacks {var}");
    }
    for text in [
        "Exit status",
        "130",
        "empty lines are skipped",
        "at least once",
    ] {
        assert!(done.stdout.contains(text), "--help lacks {text:?}");
    }
}

#[test]
fn version_prints_the_package_version() {
    for flag in ["-V", "--version"] {
        let done = wsship(&[flag]).run("");
        done.expect_code(0);
        assert_eq!(
            done.stdout,
            format!("wsship {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}
