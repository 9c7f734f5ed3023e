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
        (&["-F", "-"], "--follow needs a FILE"),
        (&["--state", "s.state"], "--state needs a FILE"),
        (&["logs/[a-.log"], "FILE pattern 'logs/[a-.log'"),
        (&["-F", "--scan-interval", "0", "a.log"], "--scan-interval"),
        (&["--start-at", "middle", "a.log"], "--start-at"),
        (&["--no-such-option"], "--no-such-option"),
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
