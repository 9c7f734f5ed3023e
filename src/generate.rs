//! Test-only: the man page and shell completions, generated from the clap
//! definition and committed. Each test regenerates one file and fails when
//! the committed copy differs, after writing the fresh one in its place:
//! review it and commit. The generators are dev-dependencies, so the shipped
//! binary does not carry them.
//!
//! clap knows the options; the sections it cannot know (data flow, exit
//! status, signals, environment, delivery guarantees, examples) are composed
//! in here rather than passed through `after_long_help`, which clap_mangen
//! would render as an "EXTRA" section.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{Inline, Roff, bold, italic, roman};

use crate::cli::Args;

/// The date in the page's title line: when its content last changed in
/// substance. A fixed string, so that regenerating is reproducible.
const MAN_DATE: &str = "2026-12-01";

fn man_page() -> String {
    let man = clap_mangen::Man::new(Args::command())
        .title("WSSHIP")
        .section("1")
        .date(MAN_DATE)
        .manual("User Commands")
        .source(format!("wsship {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    // No hyphenation: option names and JSON split at a hyphen mislead.
    out.extend(b".nh\n");
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    out.extend(description().to_roff().into_bytes());
    man.render_options_section(&mut out).unwrap();
    out.extend(sections().to_roff().into_bytes());
    man.render_version_section(&mut out).unwrap();
    tidy(&String::from_utf8(out).expect("roff is text"))
}

/// Makes the page lint-clean under `mandoc -T lint` and `groff -ww`: one
/// copy of the preamble clap_mangen repeats per section, no `.br` beside a
/// blank line or `.PP` right after `.SH`, no trailing blanks, and text lines
/// wrapped at 80 bytes (at spaces, which roff treats alike in fill mode).
fn tidy(page: &str) -> String {
    let lines: Vec<&str> = page.lines().map(str::trim_end).collect();
    let mut seen_preamble = std::collections::HashSet::new();
    let mut out = String::new();
    for (i, &line) in lines.iter().enumerate() {
        let blank_beside =
            |j: Option<usize>| j.and_then(|j| lines.get(j)).is_some_and(|l| l.is_empty());
        let preamble = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        let redundant = (preamble && !seen_preamble.insert(line))
            || (line == ".br" && (blank_beside(i.checked_sub(1)) || blank_beside(Some(i + 1))))
            || (line == ".PP" && i > 0 && lines[i - 1].starts_with(".SH"));
        if redundant {
            continue;
        }
        if line.starts_with('.') || line.len() <= 80 {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty()
                && current.len() + 1 + word.len() > 80
                && !current.ends_with('\\')
            {
                out.push_str(&current);
                out.push('\n');
                current.clear();
            } else if !current.is_empty() {
                current.push(' ');
            }
            if current.is_empty() && (word.starts_with('.') || word.starts_with('\'')) {
                current.push_str("\\&");
            }
            current.push_str(word);
        }
        out.push_str(&current);
        out.push('\n');
    }
    out
}

fn paragraph(roff: &mut Roff, text: impl Into<Vec<Inline>>) {
    roff.control("PP", []);
    roff.text(text);
}

/// A tagged paragraph: `tag` in bold, then the text indented below it.
fn item(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

fn example(roff: &mut Roff, what: &str, command: &str) {
    paragraph(roff, [roman(what)]);
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    roff.text([roman(command)]);
    roff.control("fi", []);
    roff.control("RE", []);
}

fn description() -> Roff {
    let mut roff = Roff::new();
    paragraph(
        &mut roff,
        [roman(
            "Data flows one way. A reader thread reads the inputs, splits lines, encodes each \
             one and groups the messages in batches by count (--batch-size) and age \
             (--flush-interval); a pool of --workers threads, each owning one connection, writes \
             the batches; a ping thread asks every worker to send a Ping each --ping-interval. \
             Every queue between them is bounded, so a slow server slows the upstream pipe (or, \
             with --follow, the reading of the files) instead of growing memory.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "Lines end at a newline; a trailing carriage return is removed; empty lines are \
             skipped and not counted. Bytes that are not UTF-8 are replaced with U+FFFD. A line \
             longer than --max-len bytes is dropped whole, never truncated, and counted; it is \
             skipped as it streams by, so a line of any length costs no more than --max-len \
             bytes of memory.",
        )],
    );
    paragraph(
        &mut roff,
        [
            roman("Each line becomes one WebSocket text message "),
            bold(r#"{"timestamp":"2026-11-25T14:32:33.123Z","message":"<line>"}"#),
            roman(
                ", followed by where it came from if asked (--path-key, --offset-key, --id-key, \
                 --host-key; see PROVENANCE AND IDS) and any --field in the order given. The \
                 timestamp is when wsship read the line, in UTC, RFC 3339 with milliseconds; \
                 --timestamp-key, --timestamp-format and --message-key change the keys and the \
                 format. wsship never writes a key twice: a --field (or one of those options) \
                 whose key is the message key, the timestamp key or another's is a usage error.",
            ),
        ],
    );
    paragraph(
        &mut roff,
        [roman(
            "With --input-format ndjson, a line that is a JSON object is sent as an object: its \
             members follow the timestamp and come before the --fields (or, with --json-target \
             KEY, the object goes under KEY). A line that already has the timestamp key or a \
             --field's key keeps its own value, and wsship adds none. A line that is not an \
             object is sent as text with an \"error\" member saying why, and counted as \
             invalid_json. An object is checked against RFC 8259 and spliced in as written.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "With --multiline-start or --multiline-continue, lines join into events (a stack \
             trace is one message, its lines joined with a newline). An event is sent when a \
             line starts the next one, when it reaches --multiline-max-lines lines (the rest \
             starts a new event: nothing is truncated), when no line has come for \
             --multiline-timeout, at the end of the input and on a signal. An event longer \
             than --max-len is dropped whole and counted; a single line longer than --max-len \
             ends the event before it and is dropped alone. The event's timestamp is when its \
             first line was read. Counts stay in lines (read = sent + dropped + filtered + \
             failed); the summary adds events when they differ.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "With --include or --exclude (each repeatable), an event is sent when it matches \
             any --include (or there is none) and no --exclude, matched against its text \
             before it is wrapped: with multiline, the whole event, so a stack trace is kept or \
             left out whole. Lines left out are counted as filtered, apart from dropped; with \
             --state a position moves past them as past confirmed lines.",
        )],
    );
    roff
}

fn sections() -> Roff {
    let mut roff = Roff::new();

    roff.control("SH", ["EXIT STATUS"]);
    item(
        &mut roff,
        "0",
        "Every line read was sent, or dropped by --max-len.",
    );
    item(
        &mut roff,
        "1",
        "A line failed (its batch used up its retries, or the run was stopped before it was \
         sent), an input could not be read, the server refused the handshake, the state \
         file could not be read or written, or (with --spool) lines are left in the spool or \
         were lost to damage.",
    );
    item(
        &mut roff,
        "2",
        "Usage error: an unknown option or a value that does not parse.",
    );
    item(
        &mut roff,
        "130",
        "Interrupted by SIGINT, SIGTERM or SIGHUP.",
    );

    roff.control("SH", ["SIGNALS"]);
    paragraph(
        &mut roff,
        [roman(
            "On the first SIGINT, SIGTERM or SIGHUP wsship stops reading, sends what it has \
             already read within --drain-timeout, closes each connection and exits 130. Lines \
             that could not be sent in that time are counted as failed (with --state, the next \
             run sends them). A second signal exits at once. With --follow, a signal is how a \
             run ends.",
        )],
    );

    roff.control("SH", ["COMPRESSION"]);
    paragraph(
        &mut roff,
        [roman(
            "With --compress, wsship offers permessage-deflate (RFC 7692) with \
             client_max_window_bits. When the server accepts, every message on that connection \
             is compressed by a compressor the connection owns, with context takeover unless \
             the server answers client_no_context_takeover, and within the window the server \
             asks for (asked for 8 bits, which zlib cannot honour, wsship sends uncompressed). \
             A server that declines gets uncompressed messages; an answer that breaks RFC 7692 \
             ends the run. Compressed frames from the server are accepted and discarded. A batch \
             written again after a reconnect is compressed again on the new connection. \
             With a message per line, --compress-level 1, the default, keeps about a quarter of \
             the uncompressed throughput and cuts the bytes about fivefold; higher levels \
             compress a little more at a tenth of the speed, since every message ends a \
             deflate block. With --message-per batch the default is level 7, which makes a \
             little less than gzip -6 makes.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "With --message-per batch, each batch is one message holding its messages separated \
             by newlines (NDJSON, or the raw lines). Counting and confirmation stay in lines; \
             --batch-size and --flush-interval bound a message as they bound a batch. It \
             compresses best.",
        )],
    );

    roff.control("SH", ["FOLLOWING FILES"]);
    paragraph(
        &mut roff,
        [roman(
            "With --follow, the files are first read in order, each to its end; from then on \
             every file with new data gets a turn of up to 4 MiB in each round, and a file at \
             its end is looked at again after 1 ms, then less often while it stays quiet, at \
             most every 250 ms. A line appended to a quiet file reaches the server within about \
             250 ms plus --flush-interval.",
        )],
    );
    item(
        &mut roff,
        "Rotation by rename",
        "(logrotate's create): the old file is read to its end through the handle already \
         open, then the new one from its start: nothing lost, nothing read twice. The old \
         handle stays open, and is read if it grows, until it has been quiet for \
         --rotate-wait (a minute); then it is let go. A pattern that finds it later does \
         not read it again, only what was added to it.",
    );
    item(
        &mut roff,
        "Truncation in place",
        "(copytruncate, > file): noticed when the file is shorter than what was read or its \
         first bytes changed; said once, and the new content read from its start. Lines \
         written between logrotate's copy and its truncation are lost; no shipper can \
         prevent that.",
    );
    item(
        &mut roff,
        "Deletion",
        "What remains is read through the open handle; the name is watched, and a file that \
         appears there is read from its start. A name missing at start is waited for, \
         reported once.",
    );
    item(
        &mut roff,
        "Patterns",
        "A FILE holding *, ? or [ is matched at start (oldest file first) and, with --follow, \
         every --scan-interval. A file found under a new name that is already open is not \
         read twice, nor is a file named twice, or named and matched. A pattern must not \
         match compressed rotations.",
    );
    item(
        &mut roff,
        "Open files",
        "The soft limit on open files is raised to the hard one at start; as many files can \
         be followed as it allows, less a few for wsship and one per worker. A file that \
         cannot be opened (permission denied, too many open files) is said once, counted in \
         the exit status, and tried again until it opens.",
    );
    item(
        &mut roff,
        "Pipes",
        "Standard input, and a FILE that is a pipe, a FIFO or a device (<(cmd), /dev/stdin), \
         are read as lines come, to their end, and not followed past it. They have no \
         position in the state.",
    );
    paragraph(
        &mut roff,
        [roman(
            "With --state FILE, each input file is known by its inode and a fingerprint of \
             its first bytes (up to 1 KiB), which survive a rename and tell a reused inode or a \
             rewritten file apart; the device number, which a reboot may change, need not \
             match. Its position moves only past lines confirmed sent or dropped by policy, \
             over the longest run of them from the start (batches confirm out of order with \
             several workers); a failed line is never passed over, so the next run sends it \
             again. With --state or --follow, a last line without its newline waits for it.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "At start, each file the state recorded under a name this run asks for is looked \
             for. At its name, it is read from its position. Under another name in its \
             directory (rotated while wsship was stopped), it is finished from its position \
             before the file now at the name, which is read from its beginning. Nowhere \
             (deleted, or rotated and compressed), or at its name with other content \
             (truncated, or a new file on its inode), wsship says so once, naming the file and \
             what could not be sent, and the exit status is 1; unless it had been let go with \
             every line sent. --start-at end starts a file at the end of its last line only if \
             it is there at start under a name no record had: a new file at a known name is \
             read from its beginning.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "The state is JSON (version 1), written to a temporary file in the same \
             directory, synced, renamed over the old one and the directory synced, about once \
             a second while positions move and at exit. After kill -9 at any moment and a \
             restart with the same state, no line is lost, and the only duplicates are lines \
             that were unconfirmed when the process died or confirmed after the last state \
             write. A second wsship on the same state refuses at once (a lock on FILE.lock); a \
             state that cannot be read stops wsship at start, naming the file. --dry-run reads \
             the state and writes nothing: not the state, its lock or its directory.",
        )],
    );

    roff.control("SH", ["ENVIRONMENT"]);
    paragraph(
        &mut roff,
        [roman(
            "Every option can be set through an environment variable; an option on the command \
             line takes precedence. A switch set this way takes 1, yes, on or true to turn it \
             on and 0, no, off or false to leave it off, in any case; anything else is a usage \
             error. Durations (100ms, 5s, 1m30s) are at most a year.",
        )],
    );
    for arg in Args::command().get_arguments() {
        if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
            let env = env.to_string_lossy();
            item(&mut roff, &env, &format!("Sets --{long}."));
        }
    }
    item(
        &mut roff,
        "WSSHIP_TOKEN",
        "A bearer token, sent as 'Authorization: Bearer TOKEN'. It has no option: a token \
         on the command line is visible to every user of the machine. --token-file takes \
         precedence.",
    );
    item(
        &mut roff,
        "https_proxy, http_proxy, all_proxy (or in upper case)",
        "The HTTP proxy to tunnel through when --proxy is not given: https_proxy for wss://, \
         http_proxy for ws://, all_proxy for either.",
    );
    item(
        &mut roff,
        "no_proxy (or NO_PROXY)",
        "Hosts and domains to reach directly, comma separated; '*' for all. --noproxy \
         replaces it.",
    );

    roff.control("SH", ["DELIVERY GUARANTEES"]);
    paragraph(
        &mut roff,
        [roman(
            "With --confirm pong (the default) each write is followed by a Ping carrying 8 \
             random bytes. A write is one batch, or several small batches that were \
             waiting in the queue together (up to the larger of 256 lines and --batch-size). \
             Its batches count as sent only when the Pong carrying those bytes back (or those \
             of a later Ping on the same connection) arrives: a server answers a Ping only \
             after reading every frame sent before it. Until then they wait in a \
             window of at most --max-in-flight unanswered Pings per connection; when the \
             window is full the worker waits. Pongs nobody asked for, or with other payloads, \
             confirm nothing and are ignored (-v says so). With --confirm write a batch counts as sent \
             once written and flushed (with --dry-run, once written to standard output).",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "When a connection dies (an error, a Close from the server, or a Ping unanswered \
             for --ping-timeout) every unconfirmed batch is written again on the next \
             connection, oldest first and each with its own Ping, so that a server that \
             closes after every N messages still moves forward: delivery is at least once, \
             the server may see \
             duplicates from that window only, and the summary's resent count bounds them. \
             With --confirm write, lines in flight when a connection breaks abruptly can be \
             lost unnoticed. With one worker the server sees lines in input order; with \
             several, order holds within a batch.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "--retry-limit bounds the attempts in a row that deliver nothing; then the pending \
             lines are dropped, counted as failed and reported once, and until the server is \
             back later batches fail at once but for one attempt per backoff period. A \
             handshake refused with a 4xx status other than 408 and 429, or a certificate \
             problem, is not retried: wsship reports it and exits 1. Lines longer than \
             --max-len are counted as dropped. Every line read is counted once: read = sent + \
             dropped + filtered + failed. With --id-key, every send of a line carries the same \
             id, so a server can drop the duplicates (see PROVENANCE AND IDS).",
        )],
    );

    paragraph(
        &mut roff,
        [roman(
            "With several --url (or --addr), workers are spread over the servers round robin, \
             and a worker whose server fails moves to the next one at once, so one server \
             going down loses nothing while another is up. With --when-full drop, lines that \
             find every queue full are dropped and counted as dropped_full instead of \
             stalling the input.",
        )],
    );

    roff.control("SH", ["PROVENANCE AND IDS"]);
    paragraph(
        &mut roff,
        [roman(
            "--path-key adds the path of the file a line came from: absolute, and the name the \
             file had when wsship first opened it, so a line written to app.log after it was \
             renamed app.log.1 still says app.log (with --state, in the next run too); \
             standard input and pipes get none. --offset-key adds where the line's first byte \
             is in its input (an event's first line's). --host-key adds the host name, read \
             once at start, or --host-name. Keys are written flat, dots and all: \
             Elasticsearch and OpenSearch map log.file.path as the nested field it names (an \
             ingest pipeline needs a dot_expander processor to read it).",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "--id-key adds an id: 32 lowercase hex digits, XXH3-128 of the file's inode (not \
             its device number, which changes across reboots on some filesystems), the \
             file's bytes from its start up to the line's end (at most the first KiB), the \
             generation of the inode (how many files wsship saw on it before: a \
             copytruncate or a reused inode moves it on, and --state keeps it), and where the \
             line starts and ends (for an event, its first line's start and its last line's \
             end). The same line of the same file has the same id in every send: a resend \
             after a cut connection, a failover, a run after a crash or a restart with \
             --state, across rotation. Any other line has another: identical text at another \
             offset, another file, new content after a truncation. Nothing is kept for it, so \
             kill -9 at any moment changes no id. Standard input and pipes hash a random \
             number drawn when the stream is opened with the line's offset: the same within \
             a run, never across runs.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "Without --state, a file truncated and written again with the same bytes, or a new \
             file that reuses an inode and starts with the same bytes, repeats the ids of the \
             lines it repeats; with --state, a file truncated while wsship was stopped and \
             written again past its old position with the same first KiB is taken for the old \
             one, by the state as by the ids. A key of these options that is another key of \
             the message is a usage error; with --input-format ndjson an object that has the \
             key keeps its own value; with --format raw they are a usage error.",
        )],
    );

    roff.control("SH", ["SPOOL"]);
    paragraph(
        &mut roff,
        [roman(
            "--spool DIR puts a disk buffer between standard input and the network, for \
             app | wsship, where an outage would otherwise stall app (--when-full block) or \
             lose lines (--when-full drop), and a crash would lose what was read. Files do not \
             need one (--follow --state), and --spool with a FILE is a usage error. A thread \
             of its own reads standard input and appends each line, with the time it was \
             read, to the spool; it waits for the disk only, never for the network. Batches \
             are read back from the spool, and a line leaves it only once its batch is \
             confirmed. While standard input is open, workers retry whatever --retry-limit \
             says; once it ends, the limit applies, and what is not confirmed when wsship \
             gives up stays in the spool (exit 1). The next run with the same DIR sends what \
             is left first, then its own input; with an empty standard input it sends what is \
             left and exits. --dry-run prints what a spool holds and changes nothing.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "--spool-max-size bounds the disk it takes: when full, --when-full block makes \
             reading wait for room and --when-full drop drops new lines (dropped_full); a \
             spooled line is never dropped. Each read is written at once (a crash of wsship \
             loses nothing); a thread of its own forces what is still in the spool to \
             disk every --spool-sync (1s) and at exit, so that reading never waits for the \
             disk to flush; --spool-sync always forces every write as it is made. A power loss can cost \
             the lines of the last --spool-sync. The index of confirmed lines is written \
             about once a second: after a crash, what was confirmed since is sent again. One \
             process per spool (an advisory lock); a directory that cannot be created or \
             written stops the run before anything is read.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "In DIR: lock; index (JSON: confirmed, the first line not confirmed; appended; \
             key; version), replaced atomically; segments named by their first line's number \
             (20 digits, .seg), each starting with WSSPOOL1 and holding records of a 24-byte \
             header (a CRC32C of the rest of the record, u32; the line's length, u32, whose \
             top bit flags a line of plain ASCII; the line's number, u64; when it was read, nanoseconds since the epoch, i64; all little-endian) and \
             the line. A record that fails its checksum, one cut short, a segment missing: \
             each is skipped, said once with the segment's name and the lines lost, counted \
             as spool_corrupt, and the rest is sent; a damaged segment is moved to \
             DIR/damaged once sent, never deleted. The summary adds resumed, spool_corrupt \
             and spooled: resumed + read = sent + dropped + filtered + failed + spool_corrupt \
             + spooled. A spooled line's offset (--offset-key) is its number in the spool, \
             and its id (--id-key) is the same in every run of the spool. Metrics add \
             wsship_spool_lines, wsship_spool_bytes, wsship_spool_max_bytes and \
             wsship_spool_corrupt_lines_total.",
        )],
    );

    roff.control("SH", ["METRICS AND HEALTH"]);
    paragraph(
        &mut roff,
        [roman(
            "--metrics-listen ADDR:PORT serves GET /metrics in Prometheus' text format (0.0.4) and \
             GET /health, on a thread of its own, one request at a time, each read for at most \
             2 seconds and 8 KiB; anything else gets 404. A port that cannot be bound ends the \
             run at start with exit 1; with port 0, -v says which port was chosen. \
             --metrics-file FILE writes the same text every --stats-interval (10 s when not \
             given) and at exit, to a temporary file renamed over FILE, for node_exporter's \
             textfile collector.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "Every counter of the summary is there as wsship_..._total (dropped by reason), \
             equal to what the summary would say at that moment. Per server (labelled with \
             scheme, host and port, never credentials, path or query): wsship_connected, \
             wsship_confirm_seconds (a histogram of the time from a write until its Pong is \
             read) and wsship_last_confirm_timestamp_seconds. Per file being read (labelled \
             with the name it was opened under): wsship_file_size_bytes, wsship_file_read_bytes \
             and wsship_file_confirmed_bytes, what the state would record, so size minus \
             confirmed is the lag. Then wsship_queue_batches, wsship_inflight_batches and \
             wsship_build_info. /health answers 200 while every server has an open connection \
             or attempts to reach it have not failed for --ping-timeout, and the reader has not \
             waited that long for a worker; 503 with the reason otherwise.",
        )],
    );

    roff.control("SH", ["EXAMPLES"]);
    example(
        &mut roff,
        "From cron, with the exit status telling whether everything arrived:",
        "wsship --url ws://collector:9000/logs -q /var/log/batch.log || echo \"shipping failed\" >&2",
    );
    example(
        &mut roff,
        "A service following a log across rotation, resuming exactly after a restart or a crash:",
        "wsship --follow --state /var/lib/wsship/app.state --url wss://logs.example/ingest /var/log/app.log",
    );
    example(
        &mut roff,
        "A cron job shipping only what was appended since its last run:",
        "wsship --state ~/.local/state/wsship/nginx.state --url ws://collector:9000/logs /var/log/nginx/access.log",
    );
    example(
        &mut roff,
        "Every log in a directory, including files created later:",
        "wsship -F --state app.state --url ws://collector:9000/logs '/var/log/app/*.log'",
    );
    example(
        &mut roff,
        "Several files and standard input, in that order, over four connections:",
        "wsship --url ws://127.0.0.1:8080/ingest --workers 4 a.log b.log - < c.log",
    );
    example(
        &mut roff,
        "Two collectors; either may go down without losing a line:",
        "wsship --url ws://collector-a:9000/logs --url ws://collector-b:9000/logs -w 2 app.log",
    );
    example(
        &mut roff,
        "Over TLS to a server whose certificate comes from a private CA:",
        "wsship --url wss://logs.internal:443/ingest --cacert /etc/ssl/private-ca.pem app.log",
    );
    example(
        &mut roff,
        "With a bearer token kept in a file only its owner can read:",
        "wsship --url wss://logs.example/ingest --token-file ~/.config/wsship/token app.log",
    );
    example(
        &mut roff,
        "A Java log, each stack trace one message (a timestamp starts an event):",
        "wsship --multiline-start '^\\d{4}-\\d\\d-\\d\\d' --url ws://collector:9000/logs app.log",
    );
    example(
        &mut roff,
        "A Python log, each traceback one message:",
        "wsship --multiline-start '^(INFO|WARNING|ERROR|DEBUG|CRITICAL):|^Traceback' --url ws://collector:9000/logs app.log",
    );
    example(
        &mut roff,
        "JSON lines sent as objects, for an Elastic pipeline that wants @timestamp in milliseconds:",
        "wsship --input-format ndjson --timestamp-key @timestamp --timestamp-format unix-ms --url ws://collector:9000/logs app.jsonl",
    );
    example(
        &mut roff,
        "Fewer bytes to a server that speaks permessage-deflate: a batch per message, compressed:",
        "wsship --compress --message-per batch --url wss://logs.example/ingest app.log",
    );
    example(
        &mut roff,
        "Tag every message, and see what would be sent without a server:",
        "wsship --field host=\"$(hostname)\" --field service=api --dry-run app.log",
    );
    example(
        &mut roff,
        "Errors and warnings only, each with the fields Filebeat writes and an id a server can drop resends by:",
        "wsship -F --state app.state --include 'ERROR|WARN' --path-key log.file.path --offset-key log.offset --host-key host.name --id-key event.id --url wss://logs.example/ingest '/var/log/app/*.log'",
    );
    example(
        &mut roff,
        "Statistics for a monitoring script, as JSON lines on stderr:",
        "wsship --stats-format json --stats-interval 10s app.log 2> stats.jsonl",
    );

    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        italic("tail"),
        roman("(1), "),
        italic("websocat"),
        roman("(1)"),
    ]);
    roff
}

fn completion(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "wsship", &mut out);
    String::from_utf8(out).expect("completion scripts are text")
}

/// Compares each fresh text with its committed file; writes those that
/// differ and fails, naming the files to review and commit.
fn ensure_fresh(files: &[(&str, String)]) {
    let mut stale = Vec::new();
    for (relative, fresh) in files {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        if std::fs::read_to_string(&path).ok().as_ref() != Some(fresh) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, fresh).unwrap();
            stale.push(*relative);
        }
    }
    assert!(
        stale.is_empty(),
        "out of date with the clap definition, now regenerated (review and commit): {stale:?}"
    );
}

#[test]
fn man_page_is_fresh() {
    ensure_fresh(&[("man/wsship.1", man_page())]);
}

#[test]
fn completions_are_fresh() {
    ensure_fresh(&[
        ("completions/wsship.bash", completion(Shell::Bash)),
        ("completions/_wsship", completion(Shell::Zsh)),
        ("completions/wsship.fish", completion(Shell::Fish)),
        ("completions/wsship.elv", completion(Shell::Elvish)),
        ("completions/_wsship.ps1", completion(Shell::PowerShell)),
    ]);
}

#[test]
fn man_page_documents_every_environment_variable() {
    let page = man_page();
    for arg in Args::command().get_arguments() {
        if let Some(env) = arg.get_env() {
            let env = env.to_string_lossy();
            assert!(page.contains(&*env), "man page lacks {env}");
        }
    }
}
