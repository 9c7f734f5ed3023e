//! The validated run configuration, built once from the command line.
//!
//! Everything past `main` sees `&Config`, never clap types: the endpoint is
//! resolved to one URL, durations are `Duration`s, counts are non-zero, and
//! options that only make sense together have been checked together.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::CommandFactory;
use clap::error::ErrorKind;
use tungstenite::http::Uri;

use tungstenite::http::{HeaderName, HeaderValue};

use crate::cli::{self, Args, Schema};
use crate::messages::Verbosity;
use crate::net::proxy::{self, Proxy};
use crate::net::request;
use crate::net::tls::{Tls, TlsOptions};

#[derive(Debug, Clone)]
pub struct Config {
    /// The servers, at least one; workers are spread over them.
    pub endpoints: Vec<Endpoint>,
    pub insecure: bool,
    pub inputs: Vec<Input>,
    pub follow: bool,
    /// The state file, if positions are kept across runs.
    pub state: Option<PathBuf>,
    /// --spool and its options: standard input goes through a disk spool.
    pub spool: Option<crate::spool::Settings>,
    pub start_at: StartAt,
    pub scan_interval: Duration,
    /// How long a file away from its name is read once quiet.
    pub rotate_wait: Duration,
    pub max_len: usize,
    pub format: Format,
    /// What a JSON message holds, and under which keys.
    pub shape: Shape,
    /// --multiline-start or --multiline-continue, if given.
    pub multiline: Option<Multiline>,
    /// --include and --exclude.
    pub filter: Filter,
    pub workers: NonZeroUsize,
    pub batch_size: NonZeroUsize,
    pub flush_interval: Duration,
    pub message_per: MessagePer,
    /// --compress, with its deflate level.
    pub compress: Option<u32>,
    pub ping_interval: Option<Duration>,
    pub connect_timeout: Duration,
    pub write_timeout: Duration,
    pub confirm: Confirm,
    pub max_in_flight: NonZeroUsize,
    pub ping_timeout: Duration,
    pub when_full: WhenFull,
    pub retry_limit: RetryLimit,
    pub backoff_init: Duration,
    pub backoff_max: Duration,
    pub drain_timeout: Duration,
    pub stats_interval: Option<Duration>,
    pub stats_format: StatsFormat,
    /// --metrics-listen, as given (bound at start), and --metrics-file.
    pub metrics_listen: Option<String>,
    pub metrics_file: Option<PathBuf>,
    pub dry_run: bool,
    pub verbosity: Verbosity,
}

impl Config {
    /// Whether metrics are kept for --metrics-listen or --metrics-file.
    pub fn metrics(&self) -> bool {
        self.metrics_listen.is_some() || self.metrics_file.is_some()
    }
}

/// What each message holds: the JSON object, or the line itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Raw,
}

/// The shape of a JSON message.
#[derive(Debug, Clone)]
pub struct Shape {
    pub message_key: String,
    pub timestamp_key: String,
    pub timestamp_format: TimestampFormat,
    pub input_format: InputFormat,
    /// With ndjson: the key an object goes under, instead of merging.
    pub json_target: Option<String>,
    pub fields: Vec<(String, String)>,
    /// Where each line came from, under these keys, if given.
    pub path_key: Option<String>,
    pub offset_key: Option<String>,
    pub id_key: Option<String>,
    /// --host-key, and the name it writes.
    pub host: Option<(String, String)>,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            message_key: "message".into(),
            timestamp_key: "timestamp".into(),
            timestamp_format: TimestampFormat::Rfc3339,
            input_format: InputFormat::Text,
            json_target: None,
            fields: Vec::new(),
            path_key: None,
            offset_key: None,
            id_key: None,
            host: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Text,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    Rfc3339,
    Rfc3339Us,
    Unix,
    UnixMs,
    UnixUs,
    UnixNs,
    None,
}

/// Which events are sent: --include and --exclude, each set joined into
/// one alternation, so that an event costs one search per set however many
/// patterns it has.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<regex::bytes::Regex>,
    exclude: Option<regex::bytes::Regex>,
}

impl Filter {
    /// Events that match `include` (if given) and not `exclude`.
    pub fn new(
        include: Option<regex::bytes::Regex>,
        exclude: Option<regex::bytes::Regex>,
    ) -> Filter {
        Filter { include, exclude }
    }

    /// Whether an event with this text is sent.
    #[inline]
    pub fn keeps(&self, text: &[u8]) -> bool {
        self.include.as_ref().is_none_or(|re| re.is_match(text))
            && !self.exclude.as_ref().is_some_and(|re| re.is_match(text))
    }

    /// Whether every event is sent.
    #[inline]
    pub fn keeps_all(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }
}

/// How lines join into events.
#[derive(Debug, Clone)]
pub struct Multiline {
    pub rule: MultilineRule,
    pub max_lines: usize,
    pub timeout: Duration,
}

/// Which lines begin an event.
#[derive(Debug, Clone)]
pub enum MultilineRule {
    /// A line that matches starts an event.
    Start(regex::bytes::Regex),
    /// A line that matches continues the event before it.
    Continue(regex::bytes::Regex),
}

/// When a batch counts as sent: once its Pong arrives, or once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Pong,
    Write,
}

/// What the reader does when every worker and queue is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    Block,
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    Text,
    Json,
}

/// What a WebSocket message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagePer {
    Line,
    Batch,
}

/// The deflate level when --compress-level is not given, from the
/// measurements in the README's Compression section: level 1 for a message
/// per line (every message ends a deflate block, and only level 1 does not
/// build Huffman trees for each, which kept a quarter of the speed), 7 for
/// a batch per message (the lowest level that sends no more than gzip -6
/// makes of the same messages: level 6 sent 0.4% more).
pub fn compress_level(message_per: MessagePer) -> u32 {
    match message_per {
        MessagePer::Line => 1,
        MessagePer::Batch => 7,
    }
}

/// Where to start in a file met for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    End,
}

/// Attempts in a row that deliver nothing before a batch fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryLimit {
    Limited(u32),
    Forever,
}

// The command line's spelling of each choice, mapped once, here: past
// `Config` nothing knows clap's types.
impl From<cli::Format> for Format {
    fn from(value: cli::Format) -> Format {
        match value {
            cli::Format::Json => Format::Json,
            cli::Format::Raw => Format::Raw,
        }
    }
}

impl From<cli::Confirm> for Confirm {
    fn from(value: cli::Confirm) -> Confirm {
        match value {
            cli::Confirm::Pong => Confirm::Pong,
            cli::Confirm::Write => Confirm::Write,
        }
    }
}

impl From<cli::WhenFull> for WhenFull {
    fn from(value: cli::WhenFull) -> WhenFull {
        match value {
            cli::WhenFull::Block => WhenFull::Block,
            cli::WhenFull::Drop => WhenFull::Drop,
        }
    }
}

impl From<cli::StatsFormat> for StatsFormat {
    fn from(value: cli::StatsFormat) -> StatsFormat {
        match value {
            cli::StatsFormat::Text => StatsFormat::Text,
            cli::StatsFormat::Json => StatsFormat::Json,
        }
    }
}

impl From<cli::InputFormat> for InputFormat {
    fn from(value: cli::InputFormat) -> InputFormat {
        match value {
            cli::InputFormat::Text => InputFormat::Text,
            cli::InputFormat::Ndjson => InputFormat::Ndjson,
        }
    }
}

impl From<cli::TimestampFormat> for TimestampFormat {
    fn from(value: cli::TimestampFormat) -> TimestampFormat {
        match value {
            cli::TimestampFormat::Rfc3339 => TimestampFormat::Rfc3339,
            cli::TimestampFormat::Rfc3339Us => TimestampFormat::Rfc3339Us,
            cli::TimestampFormat::Unix => TimestampFormat::Unix,
            cli::TimestampFormat::UnixMs => TimestampFormat::UnixMs,
            cli::TimestampFormat::UnixUs => TimestampFormat::UnixUs,
            cli::TimestampFormat::UnixNs => TimestampFormat::UnixNs,
            cli::TimestampFormat::None => TimestampFormat::None,
        }
    }
}

impl From<cli::MessagePer> for MessagePer {
    fn from(value: cli::MessagePer) -> MessagePer {
        match value {
            cli::MessagePer::Line => MessagePer::Line,
            cli::MessagePer::Batch => MessagePer::Batch,
        }
    }
}

impl From<cli::StartAt> for StartAt {
    fn from(value: cli::StartAt) -> StartAt {
        match value {
            cli::StartAt::Beginning => StartAt::Beginning,
            cli::StartAt::End => StartAt::End,
        }
    }
}

impl From<cli::RetryLimit> for RetryLimit {
    fn from(value: cli::RetryLimit) -> RetryLimit {
        match value {
            cli::RetryLimit::Limited(n) => RetryLimit::Limited(n),
            cli::RetryLimit::Forever => RetryLimit::Forever,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
    /// A FILE with `*`, `?` or `[`: every file it matches.
    Pattern(String),
}

impl Input {
    fn from_arg(path: PathBuf) -> Result<Input, String> {
        if path.as_os_str() == "-" {
            return Ok(Input::Stdin);
        }
        let bytes = path.as_os_str().as_encoded_bytes();
        if !bytes.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            return Ok(Input::File(path));
        }
        let Some(pattern) = path.to_str() else {
            return Err(format!(
                "FILE pattern {}: patterns must be UTF-8",
                path.display()
            ));
        };
        glob::Pattern::new(pattern).map_err(|e| {
            format!(
                "FILE pattern '{pattern}': {e} (write [*], [?] or [[] for the character itself)"
            )
        })?;
        Ok(Input::Pattern(pattern.to_string()))
    }
}

/// One server: where to connect, and how.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub uri: Uri,
    pub host: String,
    pub port: u16,
    /// Extra handshake headers: -H, auth, subprotocol, origin. Values that
    /// carry secrets are marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The HTTP proxy that tunnels connections to it, if one applies.
    pub proxy: Option<Proxy>,
    /// Set for wss:// endpoints.
    pub tls: Option<Tls>,
}

impl Endpoint {
    /// Scheme, host and port, as a metric's label: never credentials, path
    /// or query, which may hold secrets.
    pub fn label(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or("ws");
        match self.host.contains(':') {
            true => format!("{scheme}://[{}]:{}", self.host, self.port),
            false => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built from parts rather than printing the URI so that nothing but
        // scheme, host, port and path can ever reach a log line.
        let scheme = self.uri.scheme_str().unwrap_or("ws");
        let path = self.uri.path();
        match self.host.contains(':') {
            true => write!(f, "{scheme}://[{}]:{}{path}", self.host, self.port),
            false => write!(f, "{scheme}://{}:{}{path}", self.host, self.port),
        }
    }
}

impl Config {
    /// Checks what clap cannot check alone; a problem is a usage error.
    pub fn from_args(args: Args) -> Result<Config, clap::Error> {
        let usage = |msg: String| Args::command().error(ErrorKind::ValueValidation, msg);

        let uris: Result<Vec<Uri>, String> = match args.url.is_empty() {
            false => args
                .url
                .iter()
                .map(|url| parse_url(url).map_err(|e| format!("--url: {e}")))
                .collect(),
            true => args
                .addr
                .iter()
                .map(|addr| endpoint_url(args.schema, addr, &args.path))
                .collect(),
        };
        let uris = uris.map_err(usage)?;
        let tls_options = TlsOptions {
            cacert: args.cacert.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
            insecure: args.insecure,
            server_name: args.tls_server_name.clone(),
        };
        // As with curl, TLS options do not apply to plain endpoints.
        let tls_config = match uris.iter().any(|uri| uri.scheme_str() == Some("wss")) {
            true => Some(Tls::client_config(&tls_options).map_err(usage)?),
            false => None,
        };
        let mut endpoints = Vec::new();
        for uri in uris {
            let (mut endpoint, userinfo) = Endpoint::from_uri(uri).map_err(usage)?;
            endpoint.headers = request::headers(&request::Parts {
                headers: &args.headers,
                token_file: args.token_file.as_deref(),
                token: args.token.as_deref(),
                user: args.user.as_deref(),
                userinfo: userinfo.as_deref(),
                subprotocol: args.subprotocol.as_deref(),
                origin: args.origin.as_deref(),
            })
            .map_err(usage)?;
            let secure = endpoint.uri.scheme_str() == Some("wss");
            endpoint.proxy = proxy::choose(
                args.proxy.as_deref(),
                args.noproxy.as_deref(),
                &endpoint.host,
                secure,
                |name| std::env::var(name).ok(),
            )
            .map_err(usage)?;
            if let (true, Some(config)) = (secure, &tls_config) {
                endpoint.tls = Some(Tls::new(config, &tls_options, &endpoint.host).map_err(usage)?);
            }
            endpoints.push(endpoint);
        }
        if args.backoff_init.is_zero() {
            return Err(usage("--backoff-init must be longer than 0".into()));
        }
        if args.backoff_init > args.backoff_max {
            return Err(usage(format!(
                "--backoff-init ({}) is longer than --backoff-max ({})",
                humantime::format_duration(args.backoff_init),
                humantime::format_duration(args.backoff_max)
            )));
        }
        for (name, value) in [
            ("--flush-interval", args.flush_interval),
            ("--connect-timeout", args.connect_timeout),
            ("--write-timeout", args.write_timeout),
            ("--ping-timeout", args.ping_timeout),
        ] {
            if value.is_zero() {
                return Err(usage(format!("{name} must be longer than 0")));
            }
        }
        if args.stats_interval.is_some_and(|d| d.is_zero()) {
            return Err(usage("--stats-interval must be longer than 0".into()));
        }
        let shape = shape(&args).map_err(usage)?;
        if args.compress_level.is_some() && !args.compress {
            return Err(usage("--compress-level needs --compress".into()));
        }
        let multiline = multiline(&args).map_err(usage)?;
        let filter = filter(&args).map_err(usage)?;

        let inputs = match args.files.is_empty() {
            true => vec![Input::Stdin],
            false => args
                .files
                .into_iter()
                .map(Input::from_arg)
                .collect::<Result<Vec<Input>, String>>()
                .map_err(usage)?,
        };
        let files = inputs.iter().any(|input| *input != Input::Stdin);
        if args.follow && !files {
            return Err(usage(
                "--follow needs a FILE to follow (standard input is read to its end anyway)".into(),
            ));
        }
        if args.state.is_some() && !files {
            return Err(usage(
                "--state needs a FILE: standard input has no position to keep".into(),
            ));
        }
        if args.spool.is_some() && files {
            return Err(usage(
                "--spool is for standard input: a FILE is its own buffer (use --follow --state)"
                    .into(),
            ));
        }
        let spool = match &args.spool {
            Some(dir) => Some(
                spool_settings(dir, args.spool_sync, args.spool_max_size, args.max_len)
                    .map_err(usage)?,
            ),
            None => None,
        };
        if args.scan_interval.is_zero() {
            return Err(usage("--scan-interval must be longer than 0".into()));
        }
        let retry_limit = match (args.retry_limit, args.follow) {
            (Some(limit), _) => limit.into(),
            (None, true) => RetryLimit::Forever,
            (None, false) => RetryLimit::Limited(8),
        };
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        };

        Ok(Config {
            insecure: tls_config.is_some() && args.insecure,
            endpoints,
            inputs,
            follow: args.follow,
            state: args.state,
            spool,
            start_at: args.start_at.into(),
            scan_interval: args.scan_interval,
            rotate_wait: args.rotate_wait,
            max_len: args.max_len,
            format: args.format.into(),
            shape,
            multiline,
            filter,
            workers: args.workers,
            batch_size: args.batch_size,
            flush_interval: args.flush_interval,
            message_per: args.message_per.into(),
            compress: args.compress.then(|| {
                args.compress_level
                    .unwrap_or(compress_level(args.message_per.into()))
            }),
            ping_interval: Some(args.ping_interval).filter(|d| !d.is_zero()),
            connect_timeout: args.connect_timeout,
            write_timeout: args.write_timeout,
            confirm: args.confirm.into(),
            max_in_flight: args.max_in_flight,
            ping_timeout: args.ping_timeout,
            when_full: args.when_full.into(),
            retry_limit,
            backoff_init: args.backoff_init,
            backoff_max: args.backoff_max,
            drain_timeout: args.drain_timeout,
            stats_interval: args.stats_interval,
            stats_format: args.stats_format.into(),
            metrics_listen: args.metrics_listen.clone(),
            metrics_file: args.metrics_file.clone(),
            dry_run: args.dry_run,
            verbosity,
        })
    }
}

/// The keys and timestamp of a JSON message, checked so that wsship never
/// writes a key twice.
fn shape(args: &Args) -> Result<Shape, String> {
    if args.format == cli::Format::Raw {
        let json_only = [
            ("--field", !args.fields.is_empty()),
            (
                "--input-format ndjson",
                args.input_format == cli::InputFormat::Ndjson,
            ),
            ("--json-target", args.json_target.is_some()),
            ("--message-key", args.message_key.is_some()),
            ("--timestamp-key", args.timestamp_key.is_some()),
            ("--timestamp-format", args.timestamp_format.is_some()),
            ("--path-key", args.path_key.is_some()),
            ("--offset-key", args.offset_key.is_some()),
            ("--id-key", args.id_key.is_some()),
            ("--host-key", args.host_key.is_some()),
        ];
        if let Some((option, _)) = json_only.iter().find(|(_, given)| *given) {
            return Err(format!("{option} needs --format json"));
        }
    }
    let defaults = Shape::default();
    let shape = Shape {
        message_key: args.message_key.clone().unwrap_or(defaults.message_key),
        timestamp_key: args.timestamp_key.clone().unwrap_or(defaults.timestamp_key),
        timestamp_format: args
            .timestamp_format
            .map_or(defaults.timestamp_format, Into::into),
        input_format: args.input_format.into(),
        json_target: args.json_target.clone(),
        fields: args.fields.clone(),
        path_key: args.path_key.clone(),
        offset_key: args.offset_key.clone(),
        id_key: args.id_key.clone(),
        host: match (&args.host_key, &args.host_name) {
            (Some(key), Some(name)) => Some((key.clone(), name.clone())),
            (Some(key), None) => Some((key.clone(), host_name()?)),
            (None, Some(_)) => return Err("--host-name needs --host-key".into()),
            (None, None) => None,
        },
    };
    let ndjson = shape.input_format == InputFormat::Ndjson;
    if shape.json_target.is_some() && !ndjson {
        return Err("--json-target needs --input-format ndjson".into());
    }
    // Every key wsship writes itself, with the option that names it; a
    // clash is reported on the later one, so the fixed name comes first.
    let mut keys: Vec<(&str, String)> = Vec::new();
    if ndjson {
        // The member that says why a line was not an object.
        keys.push((
            "the \"error\" member of --input-format ndjson",
            "error".into(),
        ));
    }
    keys.push(("--message-key", shape.message_key.clone()));
    keys.push(("--timestamp-key", shape.timestamp_key.clone()));
    if let Some(target) = &shape.json_target {
        keys.push(("--json-target", target.clone()));
    }
    let origin = [
        ("--path-key", &shape.path_key),
        ("--offset-key", &shape.offset_key),
        ("--id-key", &shape.id_key),
        (
            "--host-key",
            &shape.host.as_ref().map(|(key, _)| key.clone()),
        ),
    ];
    for (option, key) in origin {
        if let Some(key) = key {
            keys.push((option, key.clone()));
        }
    }
    for (key, _) in &shape.fields {
        keys.push(("--field", key.clone()));
    }
    for (i, (option, key)) in keys.iter().enumerate() {
        if key.is_empty() {
            return Err(format!("{option} must not be empty"));
        }
        if let Some((other, _)) = keys[..i].iter().find(|(_, earlier)| earlier == key) {
            return Err(format!(
                "{option} '{key}' is also {other}: a message may hold a key only once"
            ));
        }
    }
    Ok(shape)
}

/// The system's host name, as hostname(1) prints it.
fn host_name() -> Result<String, String> {
    let mut name = [0u8; 256];
    // SAFETY: gethostname(2) writes at most name.len() bytes into it.
    let result = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    match (result, std::str::from_utf8(&name[..len])) {
        (0, Ok(host)) if !host.is_empty() => Ok(host.to_string()),
        _ => Err("--host-key: cannot read the host name; give it with --host-name".into()),
    }
}

/// A regular expression given with `option`, or why it is not one.
fn compile(option: &str, pattern: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::Regex::new(pattern).map_err(|err| {
        // The regex crate explains over several lines, with a caret; its
        // last line says what is wrong.
        let text = err.to_string();
        let why = text.lines().last().unwrap_or("invalid").trim();
        let why = why.strip_prefix("error: ").unwrap_or(why);
        format!("{option} '{pattern}': {why}")
    })
}

fn filter(args: &Args) -> Result<Filter, String> {
    let set = |option: &str, patterns: &[String]| -> Result<_, String> {
        // Each alone first, so that an error names the one at fault.
        for pattern in patterns {
            compile(option, pattern)?;
        }
        Ok(match patterns {
            [] => None,
            [one] => Some(compile(option, one)?),
            many => {
                let joined: Vec<String> = many.iter().map(|p| format!("(?:{p})")).collect();
                Some(compile(option, &joined.join("|"))?)
            }
        })
    };
    Ok(Filter::new(
        set("--include", &args.include)?,
        set("--exclude", &args.exclude)?,
    ))
}

fn multiline(args: &Args) -> Result<Option<Multiline>, String> {
    let rule = match (&args.multiline_start, &args.multiline_continue) {
        (Some(pattern), _) => MultilineRule::Start(compile("--multiline-start", pattern)?),
        (None, Some(pattern)) => MultilineRule::Continue(compile("--multiline-continue", pattern)?),
        (None, None) => return Ok(None),
    };
    if args.multiline_timeout.is_zero() {
        return Err("--multiline-timeout must be longer than 0".into());
    }
    Ok(Some(Multiline {
        rule,
        max_lines: args.multiline_max_lines.get(),
        timeout: args.multiline_timeout,
    }))
}

fn endpoint_url(schema: Schema, addr: &str, path: &str) -> Result<Uri, String> {
    let scheme = match schema {
        Schema::Ws => "ws",
        Schema::Wss => "wss",
    };
    let slash = if path.starts_with('/') { "" } else { "/" };
    let text = format!("{scheme}://{addr}{slash}{path}");
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("--addr '{addr}' with --path '{path}' is not a valid URL: {e}"))?;
    // `HOST:PORT/PATH` smuggled into --addr would silently change the path.
    if uri.authority().map(|a| a.as_str()) != Some(addr) {
        return Err(format!(
            "--addr '{addr}' must be HOST:PORT, without scheme or path"
        ));
    }
    Ok(uri)
}

/// Parses a ws:// or wss:// URL. Errors never repeat the URL, which may
/// hold a password.
/// --spool's settings; the spool must hold a few of the longest lines.
fn spool_settings(
    dir: &std::path::Path,
    sync: cli::SpoolSync,
    max_size: usize,
    max_len: usize,
) -> Result<crate::spool::Settings, String> {
    if max_len > 1 << 30 {
        return Err(format!(
            "--spool keeps lines of at most 1 GiB: --max-len ({max_len} bytes) is longer"
        ));
    }
    let least = 4 * (max_len + crate::spool::record::HEADER);
    if max_size < least {
        return Err(format!(
            "--spool-max-size ({} bytes) must hold four lines of --max-len ({} bytes): {least} \
             bytes at least",
            max_size, max_len
        ));
    }
    Ok(crate::spool::Settings {
        dir: dir.to_path_buf(),
        sync: match sync {
            cli::SpoolSync::Always => crate::spool::Sync::Always,
            cli::SpoolSync::Every(every) => crate::spool::Sync::Every(every),
        },
        max_size: max_size as u64,
    })
}

fn parse_url(text: &str) -> Result<Uri, String> {
    let uri: Uri = text.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("ws" | "wss") => {}
        Some(other) => return Err(format!("scheme '{other}' is not ws or wss")),
        None => return Err("missing scheme: expected ws://HOST[:PORT]/PATH".to_string()),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(uri),
        _ => Err("missing host".to_string()),
    }
}

impl Endpoint {
    /// Splits `USER:PASSWORD@` off the URL: it becomes a header, and the
    /// URL that remains can be logged.
    fn from_uri(uri: Uri) -> Result<(Endpoint, Option<String>), String> {
        let authority = uri.authority().ok_or("the URL has no host")?.clone();
        let (userinfo, host_port) = match authority.as_str().rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo.to_string()), host_port),
            None => (None, authority.as_str()),
        };
        let mut parts = uri.into_parts();
        parts.authority = Some(
            host_port
                .parse()
                .map_err(|_| "the URL's host is not valid")?,
        );
        let uri = Uri::from_parts(parts).map_err(|_| "the URL is not valid")?;
        let authority = uri.authority().ok_or("the URL has no host")?;
        let secure = uri.scheme_str() == Some("wss");
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        let endpoint = Endpoint {
            host: host.to_string(),
            port,
            uri: uri.clone(),
            headers: Vec::new(),
            proxy: None,
            tls: None,
        };
        Ok((endpoint, userinfo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, clap::Error> {
        Config::from_args(Args::try_from_iter(
            std::iter::once("wsship").chain(args.iter().copied()),
        )?)
    }

    #[test]
    fn addr_and_path_make_the_url() {
        let c = config(&["--addr", "127.0.0.1:9000", "--path", "ingest"]).unwrap();
        assert_eq!(c.endpoints[0].to_string(), "ws://127.0.0.1:9000/ingest");
        assert_eq!(
            (c.endpoints[0].host.as_str(), c.endpoints[0].port),
            ("127.0.0.1", 9000)
        );
    }

    #[test]
    fn ipv6_and_default_port() {
        let c = config(&["--url", "ws://[::1]/x?y=1"]).unwrap();
        assert_eq!(
            (c.endpoints[0].host.as_str(), c.endpoints[0].port),
            ("::1", 80)
        );
        assert_eq!(c.endpoints[0].to_string(), "ws://[::1]:80/x");
    }

    #[test]
    fn addr_with_a_path_is_refused() {
        assert!(config(&["--addr", "host:1/x"]).is_err());
        assert!(config(&["--addr", "ws://host:1"]).is_err());
    }

    #[test]
    fn credentials_leave_the_url_for_a_header() {
        let c = config(&["--url", "ws://user:s%40cret@host:1/x"]).unwrap();
        assert_eq!(c.endpoints[0].to_string(), "ws://host:1/x");
        assert_eq!(c.endpoints[0].uri.to_string(), "ws://host:1/x");
        assert_eq!(c.endpoints[0].headers.len(), 1);
        assert_eq!(c.endpoints[0].headers[0].0, "authorization");
    }

    #[test]
    fn url_errors_never_repeat_the_url() {
        let err = config(&["--url", "http://user:secret@host/"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("scheme 'http' is not ws or wss"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(config(&["--url", "host:8080"]).is_err());
        assert!(config(&["--url", "wss://host/x"]).is_ok());
    }

    #[test]
    fn checks_that_span_options() {
        assert!(config(&["--backoff-init", "2s", "--backoff-max", "1s"]).is_err());
        assert!(config(&["--flush-interval", "0"]).is_err());
        assert!(config(&["--format", "raw", "--field", "a=b"]).is_err());
        assert!(config(&["--schema", "wss", "--cert", "c.pem"]).is_err());
    }

    #[test]
    fn following_retries_forever_unless_told_otherwise() {
        let limit = |args: &[&str]| config(args).unwrap().retry_limit;
        assert_eq!(limit(&["a.log"]), RetryLimit::Limited(8));
        assert_eq!(limit(&["-F", "a.log"]), RetryLimit::Forever);
        assert_eq!(
            limit(&["-F", "--retry-limit", "3", "a.log"]),
            RetryLimit::Limited(3)
        );
    }

    #[test]
    fn a_rotated_file_is_let_go_after_a_quiet_minute_unless_told_otherwise() {
        let wait = |args: &[&str]| config(args).unwrap().rotate_wait;
        assert_eq!(wait(&["-F", "a.log"]), Duration::from_secs(60));
        assert_eq!(
            wait(&["-F", "--rotate-wait", "5s", "a.log"]),
            Duration::from_secs(5)
        );
        assert_eq!(wait(&["--rotate-wait", "0", "a.log"]), Duration::ZERO);
    }

    #[test]
    fn files_with_pattern_characters_are_patterns() {
        let c = config(&["app.log", "logs/*.log", "x?.log", "[ab].log", "-"]).unwrap();
        assert_eq!(
            c.inputs,
            vec![
                Input::File("app.log".into()),
                Input::Pattern("logs/*.log".into()),
                Input::Pattern("x?.log".into()),
                Input::Pattern("[ab].log".into()),
                Input::Stdin,
            ]
        );
        assert!(config(&["[unclosed.log"]).is_err());
        assert!(config(&["--state", "s", "-"]).is_err());
        assert!(config(&["--follow"]).is_err());
    }

    #[test]
    fn the_compression_level_depends_on_what_a_message_holds() {
        let level = |args: &[&str]| config(args).unwrap().compress;
        assert_eq!(level(&[]), None);
        assert_eq!(level(&["--compress"]), Some(1));
        assert_eq!(level(&["--compress", "--message-per", "batch"]), Some(7));
        assert_eq!(level(&["--compress", "--compress-level", "9"]), Some(9));
        assert!(config(&["--compress-level", "2"]).is_err());
    }

    #[test]
    fn inputs_default_to_stdin() {
        assert_eq!(config(&[]).unwrap().inputs, vec![Input::Stdin]);
        let c = config(&["a.log", "-"]).unwrap();
        assert_eq!(c.inputs, vec![Input::File("a.log".into()), Input::Stdin]);
        assert_eq!(
            config(&["--ping-interval", "0"]).unwrap().ping_interval,
            None
        );
    }

    /// The usage error of `args`, as the user sees it.
    fn refused(args: &[&str]) -> String {
        match config(args) {
            Ok(_) => panic!("{args:?} accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn provenance_keys_are_checked_like_every_other_key() {
        let c = config(&[
            "--path-key",
            "log.file.path",
            "--offset-key",
            "log.offset",
            "--id-key",
            "id",
            "--host-key",
            "host.name",
            "--host-name",
            "web-1",
        ])
        .unwrap();
        assert_eq!(c.shape.path_key.as_deref(), Some("log.file.path"));
        assert_eq!(c.shape.offset_key.as_deref(), Some("log.offset"));
        assert_eq!(c.shape.id_key.as_deref(), Some("id"));
        assert_eq!(c.shape.host, Some(("host.name".into(), "web-1".into())));
        // The system's name when none is given.
        let (_, name) = config(&["--host-key", "h"]).unwrap().shape.host.unwrap();
        assert!(!name.is_empty());
        assert!(
            refused(&["--id-key", "message"]).contains("--id-key 'message' is also --message-key")
        );
        assert!(
            refused(&["--path-key", "timestamp"])
                .contains("--path-key 'timestamp' is also --timestamp-key")
        );
        assert!(
            refused(&["--field", "id=x", "--id-key", "id"])
                .contains("--field 'id' is also --id-key")
        );
        assert!(
            refused(&["--path-key", "k", "--offset-key", "k"])
                .contains("--offset-key 'k' is also --path-key")
        );
        assert!(
            refused(&["--host-key", "k", "--id-key", "k"])
                .contains("--host-key 'k' is also --id-key")
        );
        assert!(refused(&["--offset-key", ""]).contains("--offset-key must not be empty"));
        for option in ["--path-key", "--offset-key", "--id-key", "--host-key"] {
            let err = refused(&["--format", "raw", option, "k"]);
            assert!(
                err.contains(&format!("{option} needs --format json")),
                "{err}"
            );
        }
        assert!(refused(&["--host-name", "x"]).contains("--host-name needs --host-key"));
    }

    #[test]
    fn filters_keep_what_any_include_and_no_exclude_match() {
        let keeps = |args: &[&str], text: &str| config(args).unwrap().filter.keeps(text.as_bytes());
        assert!(config(&[]).unwrap().filter.keeps_all());
        assert!(!config(&["--exclude", "x"]).unwrap().filter.keeps_all());
        let both = [
            "--include",
            "ERROR",
            "--include",
            "(?i)warn",
            "--exclude",
            "health",
        ];
        assert!(keeps(&both, "ERROR disk"));
        assert!(keeps(&both, "a WARNING"));
        assert!(!keeps(&both, "INFO ok"));
        assert!(!keeps(&both, "ERROR health check"));
        // A flag inside one pattern stays inside it.
        assert!(!keeps(&both, "error disk"));
        assert!(keeps(&["--exclude", "^DEBUG"], "INFO DEBUG"));
        assert!(!keeps(
            &["--exclude", "^DEBUG", "--exclude", "^TRACE"],
            "TRACE x"
        ));
        let err = refused(&["--include", "ok", "--include", "(unclosed"]);
        assert!(
            err.contains("--include '(unclosed': unclosed group"),
            "{err}"
        );
        assert!(refused(&["--exclude", "a{2,1}"]).contains("--exclude 'a{2,1}'"));
    }
}
