
use builtin;
use str;

set edit:completion:arg-completer[wsship] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'wsship'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'wsship'= {
            cand --state 'Keep in FILE how far each input file has been delivered, and start there next time. A position moves only past lines confirmed sent or dropped by policy'
            cand --start-at 'Where to start in a file that is there when wsship starts, at a name the state has never seen: its beginning, or its end (only lines written from now on). Files that appear later, and new files at a name the state knows (rotated in, created again), are read from their beginning'
            cand --spool 'Write every line read from standard input to this directory before sending it, and remove it only once confirmed: an outage never blocks the program writing to wsship (up to --spool-max-size), and a crash loses nothing. The next run with the same DIR first sends what is left; with an empty standard input, it sends that and exits'
            cand --spool-sync 'How often spooled lines are forced to disk: a DURATION, or `always` for every write. A crash of wsship loses nothing either way; a power loss, up to DURATION of lines'
            cand --spool-max-size 'The most disk the spool may take; K, M and G suffixes are binary. When it is full, --when-full says whether reading waits or new lines are dropped'
            cand --scan-interval 'With --follow, look for new files matching a FILE pattern this often'
            cand --rotate-wait 'How long a file no longer at its name (rotated or deleted) is still read once nothing more is written to it, for a writer that has not moved to the new file yet; then it is closed and let go. Without --follow, such a file changed longer ago than this is let go once read'
            cand --url 'Server URL, ws[s]://[USER:PASSWORD@]HOST[:PORT]/PATH; takes the place of --schema, --addr and --path. Repeat for several servers: workers are spread over them and a worker whose server fails moves to the next'
            cand --schema 'URL scheme used with --addr and --path'
            cand --addr 'Server address as HOST:PORT (IPv6 as [ADDR]:PORT); repeat for several servers'
            cand --path 'Request path (and query) on the server'
            cand --connect-timeout 'Time allowed to connect and to complete the opening or closing handshake'
            cand --write-timeout 'A connection that accepts no data for this long is dead: reconnect and resend'
            cand --ping-interval 'Send a WebSocket Ping on every idle or busy connection this often; 0 disables'
            cand --proxy 'Tunnel through this HTTP proxy, http://[USER:PASSWORD@]HOST:PORT; without it the https_proxy (for wss), http_proxy (for ws) and all_proxy variables are used'
            cand --noproxy 'Hosts and domains to reach without a proxy, comma separated; ''*'' for all. Replaces no_proxy'
            cand --cacert 'Trust the CA certificates in this PEM file instead of the system''s store'
            cand --cert 'Present this client certificate chain (PEM) to servers that ask; needs --key'
            cand --key 'The private key (PEM) of --cert'
            cand --tls-server-name 'Verify the certificate against, and send as SNI, this name instead of the URL''s host'
            cand -H 'Add a header to the opening handshake, as ''Name: value'' (repeatable)'
            cand --header 'Add a header to the opening handshake, as ''Name: value'' (repeatable)'
            cand --token-file 'Send ''Authorization: Bearer TOKEN'' with the token read from FILE. The token itself can come from the environment variable WSSHIP_TOKEN instead; never from the command line, where other users can see it'
            cand --user 'Basic authentication; also taken from USER:PASSWORD@ in the URL'
            cand --subprotocol 'Ask for this subprotocol (Sec-WebSocket-Protocol); fail if the server does not pick it'
            cand --origin 'Send this Origin header, for servers that check it'
            cand --confirm 'When a batch counts as sent: once the server''s Pong proves it read it, or once written (for servers that do not answer pings)'
            cand --max-in-flight 'Unanswered Pings (each confirming one write of one or more batches) one connection may have; when full, the worker waits'
            cand --ping-timeout 'A Ping (confirming or keepalive) unanswered this long means the connection is dead'
            cand --when-full 'When every worker and queue is busy: wait (backpressure reaches the input), or drop new lines and count them, so that the program writing to wsship never stalls'
            cand -w 'Number of connections, each owned by its own worker thread'
            cand --workers 'Number of connections, each owned by its own worker thread'
            cand -b 'Send a batch once it holds this many lines ...'
            cand --batch-size 'Send a batch once it holds this many lines ...'
            cand --flush-interval '... or once this long has passed since its first line, whichever comes first'
            cand --message-per 'One WebSocket message per line, or one per batch holding its lines separated by newlines (newline-delimited JSON, or the raw lines), for servers that take that shape'
            cand --compress-level 'With --compress, the deflate level: 1 (fastest) to 9 (smallest). [default: 1; 7 with --message-per batch]'
            cand --max-len 'Drop (never truncate) lines longer than this many bytes; K, M and G suffixes are binary'
            cand --format 'What each message holds: the JSON object, or the line itself'
            cand --field 'Add a constant string field to every JSON message (repeatable). A JSON line that has the key already keeps its own value'
            cand --input-format 'Each line as text, or as JSON (NDJSON): an object''s members join the message, after the timestamp and before the --fields; a line that is not an object is sent as text with an "error" member, and counted as invalid_json'
            cand --json-target 'With --input-format ndjson, put each line''s object under this key instead of merging its members into the message'
            cand --message-key 'The key that holds the line. [default: message]'
            cand --timestamp-key 'The key that holds the timestamp (`@timestamp` for ECS). A JSON line that has it already keeps its own value, and gets no second one. [default: timestamp]'
            cand --timestamp-format 'How the timestamp is written (when the line, or an event''s first line, was read, in UTC). [default: rfc3339]'
            cand --multiline-start 'A line that matches this regular expression starts a new event; any other line joins the event before it, after a newline. Typical: ''^\d{4}-\d\d-\d\d'''
            cand --multiline-continue 'A line that matches this regular expression joins the event before it; any other line starts a new one. Typical for Java: ''^\s+at |^\s+\.\.\. \d+ more|^Caused by:'''
            cand --multiline-max-lines 'An event that reaches this many lines is sent, and the next line starts a new one'
            cand --multiline-timeout 'A pending event is sent when no line has come for this long'
            cand --include 'Send only events that match this regular expression (repeatable: any of them). Matched against an event''s text, after multiline joins its lines, so a stack trace is kept or dropped whole. Lines left out are counted as filtered'
            cand --exclude 'Leave out events that match this regular expression (repeatable), even those an --include matches'
            cand --path-key 'Add the path of the file each line came from under this key: absolute, and the name the file had when wsship opened it, even once it is rotated. Standard input and pipes get none'
            cand --offset-key 'Add the byte offset of each line''s first byte in its input under this key, as a number; for a multiline event, its first line''s'
            cand --host-key 'Add the host name under this key, read once at start'
            cand --host-name 'The host name --host-key writes. [default: the system''s, as hostname(1) prints it]'
            cand --id-key 'Add an id under this key: 32 hex digits, the same in every send of the same line of the same file (a resend, another server, a later run with --state, after a rotation) and different for any other line, so a server can drop the duplicates that at-least-once delivery sends. For standard input and pipes, the same within a run only'
            cand --retry-limit 'Retries of one batch before it is dropped as failed: a number, or `forever` (or -1). [default: 8; forever with --follow, where the file holds what waits]'
            cand --backoff-init 'First delay before a retry; each further retry doubles it, with jitter'
            cand --backoff-max 'Longest delay between retries'
            cand --drain-timeout 'After SIGINT, SIGTERM or SIGHUP, time allowed to send what was already read'
            cand --stats-interval 'Print the statistics line on stderr this often, as well as at exit'
            cand --stats-format 'Format of the summary and --stats-interval lines on stderr'
            cand --metrics-listen 'Serve Prometheus metrics on GET /metrics and a health check on GET /health at this address, e.g. 127.0.0.1:9469'
            cand --metrics-file 'Write the metrics to FILE, replaced whole (for node_exporter''s textfile collector), every --stats-interval (10s when not given) and at exit'
            cand -F 'Keep reading each FILE as it grows, as `tail -F` does: across rotation (rename or truncation), deletion and re-creation. Runs until a signal'
            cand --follow 'Keep reading each FILE as it grows, as `tail -F` does: across rotation (rename or truncation), deletion and re-creation. Runs until a signal'
            cand --insecure 'Do not verify the server''s certificate or name (warns on every run)'
            cand --compress 'Offer permessage-deflate (RFC 7692) and, when the server accepts it, compress every message on that connection; when it declines, messages go uncompressed (-v says so)'
            cand --dry-run 'Write the messages that would be sent to stdout, one per line, instead of connecting'
            cand -q 'Print only errors: no summary, no outage notices'
            cand --quiet 'Print only errors: no summary, no outage notices'
            cand -v 'Also print each connection event and retry'
            cand --verbose 'Also print each connection event and retry'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
