
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'wsship' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'wsship'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'wsship' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Keep in FILE how far each input file has been delivered, and start there next time. A position moves only past lines confirmed sent or dropped by policy')
            [CompletionResult]::new('--start-at', '--start-at', [CompletionResultType]::ParameterName, 'Where to start in a file that is there when wsship starts, at a name the state has never seen: its beginning, or its end (only lines written from now on). Files that appear later, and new files at a name the state knows (rotated in, created again), are read from their beginning')
            [CompletionResult]::new('--spool', '--spool', [CompletionResultType]::ParameterName, 'Write every line read from standard input to this directory before sending it, and remove it only once confirmed: an outage never blocks the program writing to wsship (up to --spool-max-size), and a crash loses nothing. The next run with the same DIR first sends what is left; with an empty standard input, it sends that and exits')
            [CompletionResult]::new('--spool-sync', '--spool-sync', [CompletionResultType]::ParameterName, 'How often spooled lines are forced to disk: a DURATION, or `always` for every write. A crash of wsship loses nothing either way; a power loss, up to DURATION of lines')
            [CompletionResult]::new('--spool-max-size', '--spool-max-size', [CompletionResultType]::ParameterName, 'The most disk the spool may take; K, M and G suffixes are binary. When it is full, --when-full says whether reading waits or new lines are dropped')
            [CompletionResult]::new('--scan-interval', '--scan-interval', [CompletionResultType]::ParameterName, 'With --follow, look for new files matching a FILE pattern this often')
            [CompletionResult]::new('--rotate-wait', '--rotate-wait', [CompletionResultType]::ParameterName, 'How long a file no longer at its name (rotated or deleted) is still read once nothing more is written to it, for a writer that has not moved to the new file yet; then it is closed and let go. Without --follow, such a file changed longer ago than this is let go once read')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Server URL, ws[s]://[USER:PASSWORD@]HOST[:PORT]/PATH; takes the place of --schema, --addr and --path. Repeat for several servers: workers are spread over them and a worker whose server fails moves to the next')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'URL scheme used with --addr and --path')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address as HOST:PORT (IPv6 as [ADDR]:PORT); repeat for several servers')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Request path (and query) on the server')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Time allowed to connect and to complete the opening or closing handshake')
            [CompletionResult]::new('--write-timeout', '--write-timeout', [CompletionResultType]::ParameterName, 'A connection that accepts no data for this long is dead: reconnect and resend')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send a WebSocket Ping on every idle or busy connection this often; 0 disables')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Tunnel through this HTTP proxy, http://[USER:PASSWORD@]HOST:PORT; without it the https_proxy (for wss), http_proxy (for ws) and all_proxy variables are used')
            [CompletionResult]::new('--noproxy', '--noproxy', [CompletionResultType]::ParameterName, 'Hosts and domains to reach without a proxy, comma separated; ''*'' for all. Replaces no_proxy')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file instead of the system''s store')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Present this client certificate chain (PEM) to servers that ask; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The private key (PEM) of --cert')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Verify the certificate against, and send as SNI, this name instead of the URL''s host')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a header to the opening handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a header to the opening handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Send ''Authorization: Bearer TOKEN'' with the token read from FILE. The token itself can come from the environment variable WSSHIP_TOKEN instead; never from the command line, where other users can see it')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Basic authentication; also taken from USER:PASSWORD@ in the URL')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Ask for this subprotocol (Sec-WebSocket-Protocol); fail if the server does not pick it')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Send this Origin header, for servers that check it')
            [CompletionResult]::new('--confirm', '--confirm', [CompletionResultType]::ParameterName, 'When a batch counts as sent: once the server''s Pong proves it read it, or once written (for servers that do not answer pings)')
            [CompletionResult]::new('--max-in-flight', '--max-in-flight', [CompletionResultType]::ParameterName, 'Unanswered Pings (each confirming one write of one or more batches) one connection may have; when full, the worker waits')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'A Ping (confirming or keepalive) unanswered this long means the connection is dead')
            [CompletionResult]::new('--when-full', '--when-full', [CompletionResultType]::ParameterName, 'When every worker and queue is busy: wait (backpressure reaches the input), or drop new lines and count them, so that the program writing to wsship never stalls')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Number of connections, each owned by its own worker thread')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Number of connections, each owned by its own worker thread')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Send a batch once it holds this many lines ...')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Send a batch once it holds this many lines ...')
            [CompletionResult]::new('--flush-interval', '--flush-interval', [CompletionResultType]::ParameterName, '... or once this long has passed since its first line, whichever comes first')
            [CompletionResult]::new('--message-per', '--message-per', [CompletionResultType]::ParameterName, 'One WebSocket message per line, or one per batch holding its lines separated by newlines (newline-delimited JSON, or the raw lines), for servers that take that shape')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'With --compress, the deflate level: 1 (fastest) to 9 (smallest). [default: 1; 7 with --message-per batch]')
            [CompletionResult]::new('--max-len', '--max-len', [CompletionResultType]::ParameterName, 'Drop (never truncate) lines longer than this many bytes; K, M and G suffixes are binary')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'What each message holds: the JSON object, or the line itself')
            [CompletionResult]::new('--field', '--field', [CompletionResultType]::ParameterName, 'Add a constant string field to every JSON message (repeatable). A JSON line that has the key already keeps its own value')
            [CompletionResult]::new('--input-format', '--input-format', [CompletionResultType]::ParameterName, 'Each line as text, or as JSON (NDJSON): an object''s members join the message, after the timestamp and before the --fields; a line that is not an object is sent as text with an "error" member, and counted as invalid_json')
            [CompletionResult]::new('--json-target', '--json-target', [CompletionResultType]::ParameterName, 'With --input-format ndjson, put each line''s object under this key instead of merging its members into the message')
            [CompletionResult]::new('--message-key', '--message-key', [CompletionResultType]::ParameterName, 'The key that holds the line. [default: message]')
            [CompletionResult]::new('--timestamp-key', '--timestamp-key', [CompletionResultType]::ParameterName, 'The key that holds the timestamp (`@timestamp` for ECS). A JSON line that has it already keeps its own value, and gets no second one. [default: timestamp]')
            [CompletionResult]::new('--timestamp-format', '--timestamp-format', [CompletionResultType]::ParameterName, 'How the timestamp is written (when the line, or an event''s first line, was read, in UTC). [default: rfc3339]')
            [CompletionResult]::new('--multiline-start', '--multiline-start', [CompletionResultType]::ParameterName, 'A line that matches this regular expression starts a new event; any other line joins the event before it, after a newline. Typical: ''^\d{4}-\d\d-\d\d''')
            [CompletionResult]::new('--multiline-continue', '--multiline-continue', [CompletionResultType]::ParameterName, 'A line that matches this regular expression joins the event before it; any other line starts a new one. Typical for Java: ''^\s+at |^\s+\.\.\. \d+ more|^Caused by:''')
            [CompletionResult]::new('--multiline-max-lines', '--multiline-max-lines', [CompletionResultType]::ParameterName, 'An event that reaches this many lines is sent, and the next line starts a new one')
            [CompletionResult]::new('--multiline-timeout', '--multiline-timeout', [CompletionResultType]::ParameterName, 'A pending event is sent when no line has come for this long')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Send only events that match this regular expression (repeatable: any of them). Matched against an event''s text, after multiline joins its lines, so a stack trace is kept or dropped whole. Lines left out are counted as filtered')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out events that match this regular expression (repeatable), even those an --include matches')
            [CompletionResult]::new('--path-key', '--path-key', [CompletionResultType]::ParameterName, 'Add the path of the file each line came from under this key: absolute, and the name the file had when wsship opened it, even once it is rotated. Standard input and pipes get none')
            [CompletionResult]::new('--offset-key', '--offset-key', [CompletionResultType]::ParameterName, 'Add the byte offset of each line''s first byte in its input under this key, as a number; for a multiline event, its first line''s')
            [CompletionResult]::new('--host-key', '--host-key', [CompletionResultType]::ParameterName, 'Add the host name under this key, read once at start')
            [CompletionResult]::new('--host-name', '--host-name', [CompletionResultType]::ParameterName, 'The host name --host-key writes. [default: the system''s, as hostname(1) prints it]')
            [CompletionResult]::new('--id-key', '--id-key', [CompletionResultType]::ParameterName, 'Add an id under this key: 32 hex digits, the same in every send of the same line of the same file (a resend, another server, a later run with --state, after a rotation) and different for any other line, so a server can drop the duplicates that at-least-once delivery sends. For standard input and pipes, the same within a run only')
            [CompletionResult]::new('--retry-limit', '--retry-limit', [CompletionResultType]::ParameterName, 'Retries of one batch before it is dropped as failed: a number, or `forever` (or -1). [default: 8; forever with --follow, where the file holds what waits]')
            [CompletionResult]::new('--backoff-init', '--backoff-init', [CompletionResultType]::ParameterName, 'First delay before a retry; each further retry doubles it, with jitter')
            [CompletionResult]::new('--backoff-max', '--backoff-max', [CompletionResultType]::ParameterName, 'Longest delay between retries')
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'After SIGINT, SIGTERM or SIGHUP, time allowed to send what was already read')
            [CompletionResult]::new('--stats-interval', '--stats-interval', [CompletionResultType]::ParameterName, 'Print the statistics line on stderr this often, as well as at exit')
            [CompletionResult]::new('--stats-format', '--stats-format', [CompletionResultType]::ParameterName, 'Format of the summary and --stats-interval lines on stderr')
            [CompletionResult]::new('--metrics-listen', '--metrics-listen', [CompletionResultType]::ParameterName, 'Serve Prometheus metrics on GET /metrics and a health check on GET /health at this address, e.g. 127.0.0.1:9469')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Write the metrics to FILE, replaced whole (for node_exporter''s textfile collector), every --stats-interval (10s when not given) and at exit')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Keep reading each FILE as it grows, as `tail -F` does: across rotation (rename or truncation), deletion and re-creation. Runs until a signal')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep reading each FILE as it grows, as `tail -F` does: across rotation (rename or truncation), deletion and re-creation. Runs until a signal')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate or name (warns on every run)')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Offer permessage-deflate (RFC 7692) and, when the server accepts it, compress every message on that connection; when it declines, messages go uncompressed (-v says so)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Write the messages that would be sent to stdout, one per line, instead of connecting')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors: no summary, no outage notices')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors: no summary, no outage notices')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Also print each connection event and retry')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Also print each connection event and retry')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
