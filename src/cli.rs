//! The command line as clap sees it: syntax only.
//!
//! This is the only module that knows about clap. Each value is parsed into its
//! final type here (durations, sizes, URLs) so that a malformed value is a usage
//! error with exit status 2; `config` then checks how the values fit together.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum, ValueHint};

const AFTER_HELP: &str = "\
Input: lines end at \\n; a trailing \\r is removed; empty lines are skipped and not \
counted. Bytes that are not UTF-8 are replaced with U+FFFD. A line longer than \
--max-len is dropped whole, never truncated.

Delivery: each write (a batch, or small batches that were waiting together) ends \
with a Ping, and its batches count as sent once the server's Pong proves it read \
them (--confirm pong), or once written (--confirm write). Batches a connection had \
not confirmed when it died are sent again, whole, on the next one: at least once, \
with duplicates only from that window (counted as resent). \
With one worker the server sees lines in input order; with several, order holds \
within a batch.

Files: with --follow, each FILE is read as it grows, across rotation by rename or \
truncation, deletion and re-creation, until a signal. With --state, each file's \
position moves only past lines confirmed sent or dropped by policy, and the next run \
starts there: after a crash nothing is lost, and only lines unconfirmed at the crash \
or confirmed after the last state write (about once a second) are sent twice.

Environment: every option can be set by the variable shown with it. A switch takes 1, \
yes, on or true, or 0, no, off or false. Durations (100ms, 5s, 1m30s) are at most a year.

Exit status:
  0    every line read was sent or dropped by policy (--max-len)
  1    a line failed, an input could not be read, the server refused us, or the
       state file could not be read or written
  2    usage error
  130  interrupted by SIGINT, SIGTERM or SIGHUP (a second signal exits at once)";

/// Ship log lines to a WebSocket server, one timestamped JSON message per line.
///
/// Reads FILEs (or standard input) line by line, wraps each line as
/// {"timestamp":"<RFC 3339 UTC, ms>","message":"<line>"}, groups the messages in
/// batches and writes them over a pool of WebSocket connections. At end of input
/// every pending batch is sent and each connection is closed cleanly.
#[derive(Debug, Parser)]
#[command(name = "wsship", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Args {
    /// Files to read, in order; none or `-` means standard input. A FILE holding `*`, `?` or
    /// `[` is a pattern (quote it from the shell), matched when wsship starts and, with
    /// --follow, again every --scan-interval. A pipe or FIFO is read as standard input is: to
    /// its end, with no position kept.
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Keep reading each FILE as it grows, as `tail -F` does: across rotation (rename or
    /// truncation), deletion and re-creation. Runs until a signal.
    #[arg(short = 'F', long, env = "WSSHIP_FOLLOW", value_parser = boolish(),
          help_heading = "Input")]
    pub follow: bool,

    /// Keep in FILE how far each input file has been delivered, and start there next time.
    /// A position moves only past lines confirmed sent or dropped by policy.
    #[arg(long, env = "WSSHIP_STATE", value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "Input")]
    pub state: Option<PathBuf>,

    /// Where to start in a file that is there when wsship starts, at a name the state has never
    /// seen: its beginning, or its end (only lines written from now on). Files that appear
    /// later, and new files at a name the state knows (rotated in, created again), are read
    /// from their beginning.
    #[arg(long, env = "WSSHIP_START_AT", value_enum, default_value_t = StartAt::Beginning,
          help_heading = "Input")]
    pub start_at: StartAt,

    /// Write every line read from standard input to this directory before sending it, and
    /// remove it only once confirmed: an outage never blocks the program writing to wsship (up
    /// to --spool-max-size), and a crash loses nothing. The next run with the same DIR first
    /// sends what is left; with an empty standard input, it sends that and exits.
    #[arg(long, env = "WSSHIP_SPOOL", value_name = "DIR", value_hint = ValueHint::DirPath,
          help_heading = "Spool")]
    pub spool: Option<PathBuf>,

    /// How often spooled lines are forced to disk: a DURATION, or `always` for every write. A
    /// crash of wsship loses nothing either way; a power loss, up to DURATION of lines.
    #[arg(long, env = "WSSHIP_SPOOL_SYNC", value_name = "DURATION|always", default_value = "1s",
          value_parser = parse_spool_sync, help_heading = "Spool")]
    pub spool_sync: SpoolSync,

    /// The most disk the spool may take; K, M and G suffixes are binary. When it is full,
    /// --when-full says whether reading waits or new lines are dropped.
    #[arg(long, env = "WSSHIP_SPOOL_MAX_SIZE", value_name = "BYTES", default_value = "1GiB",
          value_parser = parse_size, help_heading = "Spool")]
    pub spool_max_size: usize,

    /// With --follow, look for new files matching a FILE pattern this often.
    #[arg(long, env = "WSSHIP_SCAN_INTERVAL", value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration, help_heading = "Input")]
    pub scan_interval: Duration,

    /// How long a file no longer at its name (rotated or deleted) is still read once nothing
    /// more is written to it, for a writer that has not moved to the new file yet; then it is
    /// closed and let go. Without --follow, such a file changed longer ago than this is let go
    /// once read.
    #[arg(long, env = "WSSHIP_ROTATE_WAIT", value_name = "DURATION", default_value = "1m",
          value_parser = parse_duration, help_heading = "Input")]
    pub rotate_wait: Duration,

    /// Server URL, ws[s]://[USER:PASSWORD@]HOST[:PORT]/PATH; takes the place of --schema,
    /// --addr and --path. Repeat for several servers: workers are spread over them and a
    /// worker whose server fails moves to the next.
    // Checked in `config`, whose errors never repeat the value: it may hold a password.
    #[arg(long, env = "WSSHIP_URL", value_name = "URL", hide_env_values = true,
          action = ArgAction::Append, value_hint = ValueHint::Url, help_heading = "Connection")]
    pub url: Vec<String>,

    /// URL scheme used with --addr and --path.
    #[arg(long, env = "WSSHIP_SCHEMA", value_enum, default_value_t = Schema::Ws,
          help_heading = "Connection")]
    pub schema: Schema,

    /// Server address as HOST:PORT (IPv6 as [ADDR]:PORT); repeat for several servers.
    #[arg(long, env = "WSSHIP_ADDR", value_name = "HOST:PORT", default_value = "localhost:8080",
          action = ArgAction::Append, value_hint = ValueHint::Hostname,
          help_heading = "Connection")]
    pub addr: Vec<String>,

    /// Request path (and query) on the server.
    #[arg(
        long,
        env = "WSSHIP_PATH",
        default_value = "/",
        help_heading = "Connection"
    )]
    pub path: String,

    /// Time allowed to connect and to complete the opening or closing handshake.
    #[arg(long, env = "WSSHIP_CONNECT_TIMEOUT", value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration, help_heading = "Connection")]
    pub connect_timeout: Duration,

    /// A connection that accepts no data for this long is dead: reconnect and resend.
    #[arg(long, env = "WSSHIP_WRITE_TIMEOUT", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration, help_heading = "Connection")]
    pub write_timeout: Duration,

    /// Send a WebSocket Ping on every idle or busy connection this often; 0 disables.
    #[arg(long, env = "WSSHIP_PING_INTERVAL", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration, help_heading = "Connection")]
    pub ping_interval: Duration,

    /// Tunnel through this HTTP proxy, http://[USER:PASSWORD@]HOST:PORT; without it the
    /// https_proxy (for wss), http_proxy (for ws) and all_proxy variables are used.
    #[arg(
        long,
        env = "WSSHIP_PROXY",
        value_name = "URL",
        hide_env_values = true,
        help_heading = "Connection"
    )]
    pub proxy: Option<String>,

    /// Hosts and domains to reach without a proxy, comma separated; '*' for all. Replaces
    /// no_proxy.
    #[arg(
        long,
        env = "WSSHIP_NOPROXY",
        value_name = "LIST",
        help_heading = "Connection"
    )]
    pub noproxy: Option<String>,

    /// Trust the CA certificates in this PEM file instead of the system's store.
    #[arg(long, env = "WSSHIP_CACERT", value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "TLS")]
    pub cacert: Option<PathBuf>,

    /// Present this client certificate chain (PEM) to servers that ask; needs --key.
    #[arg(long, env = "WSSHIP_CERT", value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "TLS")]
    pub cert: Option<PathBuf>,

    /// The private key (PEM) of --cert.
    #[arg(long, env = "WSSHIP_KEY", value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "TLS")]
    pub key: Option<PathBuf>,

    /// Do not verify the server's certificate or name (warns on every run).
    #[arg(long, env = "WSSHIP_INSECURE", value_parser = boolish(), help_heading = "TLS")]
    pub insecure: bool,

    /// Verify the certificate against, and send as SNI, this name instead of the URL's host.
    #[arg(long, env = "WSSHIP_TLS_SERVER_NAME", value_name = "NAME",
          value_hint = ValueHint::Hostname, help_heading = "TLS")]
    pub tls_server_name: Option<String>,

    /// Add a header to the opening handshake, as 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", env = "WSSHIP_HEADER", value_name = "NAME: VALUE",
          hide_env_values = true, action = ArgAction::Append, help_heading = "Request")]
    pub headers: Vec<String>,

    /// Send 'Authorization: Bearer TOKEN' with the token read from FILE. The token itself
    /// can come from the environment variable WSSHIP_TOKEN instead; never from the command
    /// line, where other users can see it.
    #[arg(long, env = "WSSHIP_TOKEN_FILE", value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "Request")]
    pub token_file: Option<PathBuf>,

    /// Basic authentication; also taken from USER:PASSWORD@ in the URL.
    #[arg(
        long,
        env = "WSSHIP_USER",
        value_name = "USER:PASSWORD",
        hide_env_values = true,
        help_heading = "Request"
    )]
    pub user: Option<String>,

    /// Ask for this subprotocol (Sec-WebSocket-Protocol); fail if the server does not pick it.
    #[arg(
        long,
        env = "WSSHIP_SUBPROTOCOL",
        value_name = "NAME",
        help_heading = "Request"
    )]
    pub subprotocol: Option<String>,

    /// Send this Origin header, for servers that check it.
    #[arg(
        long,
        env = "WSSHIP_ORIGIN",
        value_name = "URL",
        help_heading = "Request"
    )]
    pub origin: Option<String>,

    /// The bearer token from WSSHIP_TOKEN: an environment variable only.
    #[arg(skip)]
    pub token: Option<String>,

    /// When a batch counts as sent: once the server's Pong proves it read it, or once
    /// written (for servers that do not answer pings).
    #[arg(long, env = "WSSHIP_CONFIRM", value_enum, default_value_t = Confirm::Pong,
          help_heading = "Delivery")]
    pub confirm: Confirm,

    /// Unanswered Pings (each confirming one write of one or more batches) one connection
    /// may have; when full, the worker waits.
    #[arg(
        long,
        env = "WSSHIP_MAX_IN_FLIGHT",
        value_name = "N",
        default_value = "16",
        help_heading = "Delivery"
    )]
    pub max_in_flight: NonZeroUsize,

    /// A Ping (confirming or keepalive) unanswered this long means the connection is dead.
    #[arg(long, env = "WSSHIP_PING_TIMEOUT", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration, help_heading = "Delivery")]
    pub ping_timeout: Duration,

    /// When every worker and queue is busy: wait (backpressure reaches the input), or drop
    /// new lines and count them, so that the program writing to wsship never stalls.
    #[arg(long, env = "WSSHIP_WHEN_FULL", value_enum, default_value_t = WhenFull::Block,
          help_heading = "Delivery")]
    pub when_full: WhenFull,

    /// Number of connections, each owned by its own worker thread.
    #[arg(
        short,
        long,
        env = "WSSHIP_WORKERS",
        value_name = "N",
        default_value = "1",
        help_heading = "Batching"
    )]
    pub workers: NonZeroUsize,

    /// Send a batch once it holds this many lines ...
    #[arg(
        short,
        long,
        env = "WSSHIP_BATCH_SIZE",
        value_name = "N",
        default_value = "500",
        help_heading = "Batching"
    )]
    pub batch_size: NonZeroUsize,

    /// ... or once this long has passed since its first line, whichever comes first.
    #[arg(long, env = "WSSHIP_FLUSH_INTERVAL", value_name = "DURATION", default_value = "100ms",
          value_parser = parse_duration, help_heading = "Batching")]
    pub flush_interval: Duration,

    /// One WebSocket message per line, or one per batch holding its lines separated by newlines
    /// (newline-delimited JSON, or the raw lines), for servers that take that shape.
    #[arg(long, env = "WSSHIP_MESSAGE_PER", value_enum, default_value_t = MessagePer::Line,
          help_heading = "Batching")]
    pub message_per: MessagePer,

    /// Offer permessage-deflate (RFC 7692) and, when the server accepts it, compress every
    /// message on that connection; when it declines, messages go uncompressed (-v says so).
    #[arg(long, env = "WSSHIP_COMPRESS", value_parser = boolish(),
          help_heading = "Compression")]
    pub compress: bool,

    /// With --compress, the deflate level: 1 (fastest) to 9 (smallest). [default: 1; 7 with
    /// --message-per batch]
    #[arg(long, env = "WSSHIP_COMPRESS_LEVEL", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=9), help_heading = "Compression")]
    pub compress_level: Option<u32>,

    /// Drop (never truncate) lines longer than this many bytes; K, M and G suffixes are binary.
    #[arg(long, env = "WSSHIP_MAX_LEN", value_name = "BYTES", default_value = "1MiB",
          value_parser = parse_size, help_heading = "Messages")]
    pub max_len: usize,

    /// What each message holds: the JSON object, or the line itself.
    #[arg(long, env = "WSSHIP_FORMAT", value_enum, default_value_t = Format::Json,
          help_heading = "Messages")]
    pub format: Format,

    /// Add a constant string field to every JSON message (repeatable). A JSON line that has
    /// the key already keeps its own value.
    #[arg(long = "field", env = "WSSHIP_FIELD", value_name = "KEY=VALUE",
          value_parser = parse_field, action = ArgAction::Append, help_heading = "Messages")]
    pub fields: Vec<(String, String)>,

    /// Each line as text, or as JSON (NDJSON): an object's members join the message, after the
    /// timestamp and before the --fields; a line that is not an object is sent as text with an
    /// "error" member, and counted as invalid_json.
    #[arg(long, env = "WSSHIP_INPUT_FORMAT", value_enum, default_value_t = InputFormat::Text,
          help_heading = "Messages")]
    pub input_format: InputFormat,

    /// With --input-format ndjson, put each line's object under this key instead of merging its
    /// members into the message.
    #[arg(
        long,
        env = "WSSHIP_JSON_TARGET",
        value_name = "KEY",
        help_heading = "Messages"
    )]
    pub json_target: Option<String>,

    /// The key that holds the line. [default: message]
    #[arg(
        long,
        env = "WSSHIP_MESSAGE_KEY",
        value_name = "NAME",
        help_heading = "Messages"
    )]
    pub message_key: Option<String>,

    /// The key that holds the timestamp (`@timestamp` for ECS). A JSON line that has it
    /// already keeps its own value, and gets no second one. [default: timestamp]
    #[arg(
        long,
        env = "WSSHIP_TIMESTAMP_KEY",
        value_name = "NAME",
        help_heading = "Messages"
    )]
    pub timestamp_key: Option<String>,

    /// How the timestamp is written (when the line, or an event's first line, was read, in UTC).
    /// [default: rfc3339]
    #[arg(
        long,
        env = "WSSHIP_TIMESTAMP_FORMAT",
        value_enum,
        help_heading = "Messages"
    )]
    pub timestamp_format: Option<TimestampFormat>,

    /// A line that matches this regular expression starts a new event; any other line joins
    /// the event before it, after a newline. Typical: '^\d{4}-\d\d-\d\d'.
    #[arg(
        long,
        env = "WSSHIP_MULTILINE_START",
        value_name = "REGEX",
        conflicts_with = "multiline_continue",
        help_heading = "Multiline"
    )]
    pub multiline_start: Option<String>,

    /// A line that matches this regular expression joins the event before it; any other line
    /// starts a new one. Typical for Java: '^\s+at |^\s+\.\.\. \d+ more|^Caused by:'.
    #[arg(
        long,
        env = "WSSHIP_MULTILINE_CONTINUE",
        value_name = "REGEX",
        help_heading = "Multiline"
    )]
    pub multiline_continue: Option<String>,

    /// An event that reaches this many lines is sent, and the next line starts a new one.
    #[arg(
        long,
        env = "WSSHIP_MULTILINE_MAX_LINES",
        value_name = "N",
        default_value = "500",
        help_heading = "Multiline"
    )]
    pub multiline_max_lines: NonZeroUsize,

    /// A pending event is sent when no line has come for this long.
    #[arg(long, env = "WSSHIP_MULTILINE_TIMEOUT", value_name = "DURATION",
          default_value = "1s", value_parser = parse_duration, help_heading = "Multiline")]
    pub multiline_timeout: Duration,

    /// Send only events that match this regular expression (repeatable: any of them). Matched
    /// against an event's text, after multiline joins its lines, so a stack trace is kept or
    /// dropped whole. Lines left out are counted as filtered.
    #[arg(long, env = "WSSHIP_INCLUDE", value_name = "REGEX", action = ArgAction::Append,
          help_heading = "Filters")]
    pub include: Vec<String>,

    /// Leave out events that match this regular expression (repeatable), even those an
    /// --include matches.
    #[arg(long, env = "WSSHIP_EXCLUDE", value_name = "REGEX", action = ArgAction::Append,
          help_heading = "Filters")]
    pub exclude: Vec<String>,

    /// Add the path of the file each line came from under this key: absolute, and the name the
    /// file had when wsship opened it, even once it is rotated. Standard input and pipes get none.
    #[arg(
        long,
        env = "WSSHIP_PATH_KEY",
        value_name = "KEY",
        help_heading = "Provenance"
    )]
    pub path_key: Option<String>,

    /// Add the byte offset of each line's first byte in its input under this key, as a number;
    /// for a multiline event, its first line's.
    #[arg(
        long,
        env = "WSSHIP_OFFSET_KEY",
        value_name = "KEY",
        help_heading = "Provenance"
    )]
    pub offset_key: Option<String>,

    /// Add the host name under this key, read once at start.
    #[arg(
        long,
        env = "WSSHIP_HOST_KEY",
        value_name = "KEY",
        help_heading = "Provenance"
    )]
    pub host_key: Option<String>,

    /// The host name --host-key writes. [default: the system's, as hostname(1) prints it]
    #[arg(
        long,
        env = "WSSHIP_HOST_NAME",
        value_name = "NAME",
        help_heading = "Provenance"
    )]
    pub host_name: Option<String>,

    /// Add an id under this key: 32 hex digits, the same in every send of the same line of the
    /// same file (a resend, another server, a later run with --state, after a rotation) and
    /// different for any other line, so a server can drop the duplicates that at-least-once
    /// delivery sends. For standard input and pipes, the same within a run only.
    #[arg(
        long,
        env = "WSSHIP_ID_KEY",
        value_name = "KEY",
        help_heading = "Provenance"
    )]
    pub id_key: Option<String>,

    /// Retries of one batch before it is dropped as failed: a number, or `forever` (or -1).
    /// [default: 8; forever with --follow, where the file holds what waits]
    #[arg(long, env = "WSSHIP_RETRY_LIMIT", value_name = "N|forever",
          value_parser = parse_retry_limit, allow_hyphen_values = true,
          help_heading = "Retries")]
    pub retry_limit: Option<RetryLimit>,

    /// First delay before a retry; each further retry doubles it, with jitter.
    #[arg(long, env = "WSSHIP_BACKOFF_INIT", value_name = "DURATION", default_value = "1s",
          value_parser = parse_duration, help_heading = "Retries")]
    pub backoff_init: Duration,

    /// Longest delay between retries.
    #[arg(long, env = "WSSHIP_BACKOFF_MAX", value_name = "DURATION", default_value = "60s",
          value_parser = parse_duration, help_heading = "Retries")]
    pub backoff_max: Duration,

    /// After SIGINT, SIGTERM or SIGHUP, time allowed to send what was already read.
    #[arg(long, env = "WSSHIP_DRAIN_TIMEOUT", value_name = "DURATION", default_value = "5s",
          value_parser = parse_duration, help_heading = "Retries")]
    pub drain_timeout: Duration,

    /// Print the statistics line on stderr this often, as well as at exit.
    #[arg(long, env = "WSSHIP_STATS_INTERVAL", value_name = "DURATION",
          value_parser = parse_duration, help_heading = "Output")]
    pub stats_interval: Option<Duration>,

    /// Format of the summary and --stats-interval lines on stderr.
    #[arg(long, env = "WSSHIP_STATS_FORMAT", value_enum, default_value_t = StatsFormat::Text,
          help_heading = "Output")]
    pub stats_format: StatsFormat,

    /// Serve Prometheus metrics on GET /metrics and a health check on GET /health at this
    /// address, e.g. 127.0.0.1:9469.
    #[arg(
        long,
        env = "WSSHIP_METRICS_LISTEN",
        value_name = "ADDR:PORT",
        help_heading = "Output"
    )]
    pub metrics_listen: Option<String>,

    /// Write the metrics to FILE, replaced whole (for node_exporter's textfile collector), every
    /// --stats-interval (10s when not given) and at exit.
    #[arg(long, env = "WSSHIP_METRICS_FILE", value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "Output")]
    pub metrics_file: Option<PathBuf>,

    /// Write the messages that would be sent to stdout, one per line, instead of connecting.
    #[arg(long, env = "WSSHIP_DRY_RUN", value_parser = boolish(), help_heading = "Output")]
    pub dry_run: bool,

    /// Print only errors: no summary, no outage notices.
    #[arg(
        short,
        long,
        env = "WSSHIP_QUIET",
        value_parser = boolish(),
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,

    /// Also print each connection event and retry.
    #[arg(short, long, env = "WSSHIP_VERBOSE", value_parser = boolish(),
          help_heading = "Output")]
    pub verbose: bool,
}

impl Args {
    /// Parses the process's arguments, exiting with status 2 on a usage error.
    pub fn from_command_line() -> Args {
        Args::resolve(Args::command().get_matches()).unwrap_or_else(|err| err.exit())
    }

    #[cfg(test)]
    pub fn try_from_iter<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(
        args: I,
    ) -> Result<Args, clap::Error> {
        Args::resolve(Args::command().try_get_matches_from(args)?)
    }

    /// `--url` and `--schema/--addr/--path` name the endpoint two ways. On
    /// the command line they conflict; otherwise the command line beats the
    /// environment, so `WSSHIP_URL` in a profile does not make `--addr` an
    /// error (clap's own conflicts would count environment values too).
    fn resolve(matches: ArgMatches) -> Result<Args, clap::Error> {
        let mut args = Args::from_arg_matches(&matches)?;
        let typed = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        let parts = ["schema", "addr", "path"].into_iter().any(typed);
        if parts && typed("url") {
            let msg = "--url cannot be used with --schema, --addr or --path";
            return Err(Args::command().error(ErrorKind::ArgumentConflict, msg));
        }
        if parts {
            args.url.clear();
        }
        args.token = std::env::var("WSSHIP_TOKEN").ok();
        Ok(args)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Schema {
    /// Plain WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// {"timestamp":"...","message":"..."} plus any --field.
    Json,
    /// The line itself, as read.
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessagePer {
    /// Each line (or multiline event) is a message.
    Line,
    /// Each batch is a message: its lines, one per line.
    Batch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Each line is text.
    Text,
    /// Each line is a JSON object (newline-delimited JSON).
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimestampFormat {
    /// "2026-12-01T10:00:00.123Z": RFC 3339, milliseconds.
    Rfc3339,
    /// "2026-12-01T10:00:00.123456Z": RFC 3339, microseconds.
    #[value(name = "rfc3339-us")]
    Rfc3339Us,
    /// Seconds since 1970, a JSON number.
    Unix,
    /// Milliseconds since 1970.
    UnixMs,
    /// Microseconds since 1970.
    UnixUs,
    /// Nanoseconds since 1970.
    UnixNs,
    /// No timestamp.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartAt {
    /// Send the whole file.
    Beginning,
    /// Send only what is written from now on.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Confirm {
    /// Sent once the server answers the Ping that follows the batch.
    Pong,
    /// Sent once written and flushed to the connection.
    Write,
}

/// --spool-sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolSync {
    Every(Duration),
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhenFull {
    /// Wait: right for tail -F, which just waits too.
    Block,
    /// Keep reading and drop new lines, counted as dropped_full.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// wsship: summary: read=... sent=... (key=value pairs).
    Text,
    /// One JSON object per line, with a "type" of "summary" or "stats".
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryLimit {
    Limited(u32),
    Forever,
}

/// The longest duration any option takes. Longer ones are mistakes, and
/// one added to the clock could overflow it.
const DURATION_MAX: Duration = Duration::from_secs(365 * 24 * 60 * 60);

fn parse_duration(s: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(s)
        .map_err(|e| format!("{e} (examples: 100ms, 5s, 1m30s; 0 where zero makes sense)"))?;
    match duration <= DURATION_MAX {
        true => Ok(duration),
        false => Err("too long: at most 1 year (365 days)".to_string()),
    }
}

/// A switch's value from the environment, as systemd units and shells write
/// it: 1, yes, on, true (or y, t) and 0, no, off, false (or n, f), in any
/// case. On the command line a switch takes no value.
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| "expected a number of bytes, such as 65536, 64K or 1MiB".to_string())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown unit '{other}' (use K, M or G)")),
    };
    match number.checked_mul(1 << shift) {
        Some(0) => Err("must be at least 1 byte".to_string()),
        Some(n) => Ok(n),
        None => Err("too large".to_string()),
    }
}

fn parse_spool_sync(s: &str) -> Result<SpoolSync, String> {
    if s.trim().eq_ignore_ascii_case("always") {
        return Ok(SpoolSync::Always);
    }
    match parse_duration(s)? {
        every if every.is_zero() => Err("must be longer than 0, or always".to_string()),
        every => Ok(SpoolSync::Every(every)),
    }
}

fn parse_field(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err("expected KEY=VALUE with a non-empty KEY".to_string()),
    }
}

fn parse_retry_limit(s: &str) -> Result<RetryLimit, String> {
    match s {
        "forever" | "-1" => Ok(RetryLimit::Forever),
        _ => s
            .parse()
            .map(RetryLimit::Limited)
            .map_err(|_| "expected a number of retries, or `forever` (or -1)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn spool_syncs() {
        assert_eq!(parse_spool_sync("always"), Ok(SpoolSync::Always));
        assert_eq!(parse_spool_sync("Always"), Ok(SpoolSync::Always));
        assert_eq!(
            parse_spool_sync("250ms"),
            Ok(SpoolSync::Every(Duration::from_millis(250)))
        );
        assert!(parse_spool_sync("0s").is_err());
        assert!(parse_spool_sync("often").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("many").is_err());
    }

    #[test]
    fn durations_up_to_a_year() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("365d"), Ok(DURATION_MAX));
        assert_eq!(
            parse_duration("366d"),
            Err("too long: at most 1 year (365 days)".to_string())
        );
        assert!(parse_duration("300000000000y").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn retry_limits() {
        assert_eq!(parse_retry_limit("0"), Ok(RetryLimit::Limited(0)));
        assert_eq!(parse_retry_limit("forever"), Ok(RetryLimit::Forever));
        assert_eq!(parse_retry_limit("-1"), Ok(RetryLimit::Forever));
        assert!(parse_retry_limit("-2").is_err());
    }

    #[test]
    fn fields() {
        assert_eq!(parse_field("host=a=b"), Ok(("host".into(), "a=b".into())));
        assert!(parse_field("=x").is_err());
        assert!(parse_field("novalue").is_err());
    }
}
