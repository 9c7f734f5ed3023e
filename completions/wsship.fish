complete -c wsship -l state -d 'Keep in FILE how far each input file has been delivered, and start there next time. A position moves only past lines confirmed sent or dropped by policy' -r -F
complete -c wsship -l start-at -d 'Where to start in a file that is there when wsship starts, at a name the state has never seen: its beginning, or its end (only lines written from now on). Files that appear later, and new files at a name the state knows (rotated in, created again), are read from their beginning' -r -f -a "beginning\t'Send the whole file'
end\t'Send only what is written from now on'"
complete -c wsship -l spool -d 'Write every line read from standard input to this directory before sending it, and remove it only once confirmed: an outage never blocks the program writing to wsship (up to --spool-max-size), and a crash loses nothing. The next run with the same DIR first sends what is left; with an empty standard input, it sends that and exits' -r -f -a "(__fish_complete_directories)"
complete -c wsship -l spool-sync -d 'How often spooled lines are forced to disk: a DURATION, or `always` for every write. A crash of wsship loses nothing either way; a power loss, up to DURATION of lines' -r
complete -c wsship -l spool-max-size -d 'The most disk the spool may take; K, M and G suffixes are binary. When it is full, --when-full says whether reading waits or new lines are dropped' -r
complete -c wsship -l scan-interval -d 'With --follow, look for new files matching a FILE pattern this often' -r
complete -c wsship -l rotate-wait -d 'How long a file no longer at its name (rotated or deleted) is still read once nothing more is written to it, for a writer that has not moved to the new file yet; then it is closed and let go. Without --follow, such a file changed longer ago than this is let go once read' -r
complete -c wsship -l url -d 'Server URL, ws[s]://[USER:PASSWORD@]HOST[:PORT]/PATH; takes the place of --schema, --addr and --path. Repeat for several servers: workers are spread over them and a worker whose server fails moves to the next' -r -f
complete -c wsship -l schema -d 'URL scheme used with --addr and --path' -r -f -a "ws\t'Plain WebSocket'
wss\t'WebSocket over TLS'"
complete -c wsship -l addr -d 'Server address as HOST:PORT (IPv6 as [ADDR]:PORT); repeat for several servers' -r -f -a "(__fish_print_hostnames)"
complete -c wsship -l path -d 'Request path (and query) on the server' -r
complete -c wsship -l connect-timeout -d 'Time allowed to connect and to complete the opening or closing handshake' -r
complete -c wsship -l write-timeout -d 'A connection that accepts no data for this long is dead: reconnect and resend' -r
complete -c wsship -l ping-interval -d 'Send a WebSocket Ping on every idle or busy connection this often; 0 disables' -r
complete -c wsship -l proxy -d 'Tunnel through this HTTP proxy, http://[USER:PASSWORD@]HOST:PORT; without it the https_proxy (for wss), http_proxy (for ws) and all_proxy variables are used' -r
complete -c wsship -l noproxy -d 'Hosts and domains to reach without a proxy, comma separated; \'*\' for all. Replaces no_proxy' -r
complete -c wsship -l cacert -d 'Trust the CA certificates in this PEM file instead of the system\'s store' -r -F
complete -c wsship -l cert -d 'Present this client certificate chain (PEM) to servers that ask; needs --key' -r -F
complete -c wsship -l key -d 'The private key (PEM) of --cert' -r -F
complete -c wsship -l tls-server-name -d 'Verify the certificate against, and send as SNI, this name instead of the URL\'s host' -r -f -a "(__fish_print_hostnames)"
complete -c wsship -s H -l header -d 'Add a header to the opening handshake, as \'Name: value\' (repeatable)' -r
complete -c wsship -l token-file -d 'Send \'Authorization: Bearer TOKEN\' with the token read from FILE. The token itself can come from the environment variable WSSHIP_TOKEN instead; never from the command line, where other users can see it' -r -F
complete -c wsship -l user -d 'Basic authentication; also taken from USER:PASSWORD@ in the URL' -r
complete -c wsship -l subprotocol -d 'Ask for this subprotocol (Sec-WebSocket-Protocol); fail if the server does not pick it' -r
complete -c wsship -l origin -d 'Send this Origin header, for servers that check it' -r
complete -c wsship -l confirm -d 'When a batch counts as sent: once the server\'s Pong proves it read it, or once written (for servers that do not answer pings)' -r -f -a "pong\t'Sent once the server answers the Ping that follows the batch'
write\t'Sent once written and flushed to the connection'"
complete -c wsship -l max-in-flight -d 'Unanswered Pings (each confirming one write of one or more batches) one connection may have; when full, the worker waits' -r
complete -c wsship -l ping-timeout -d 'A Ping (confirming or keepalive) unanswered this long means the connection is dead' -r
complete -c wsship -l when-full -d 'When every worker and queue is busy: wait (backpressure reaches the input), or drop new lines and count them, so that the program writing to wsship never stalls' -r -f -a "block\t'Wait: right for tail -F, which just waits too'
drop\t'Keep reading and drop new lines, counted as dropped_full'"
complete -c wsship -s w -l workers -d 'Number of connections, each owned by its own worker thread' -r
complete -c wsship -s b -l batch-size -d 'Send a batch once it holds this many lines ...' -r
complete -c wsship -l flush-interval -d '... or once this long has passed since its first line, whichever comes first' -r
complete -c wsship -l message-per -d 'One WebSocket message per line, or one per batch holding its lines separated by newlines (newline-delimited JSON, or the raw lines), for servers that take that shape' -r -f -a "line\t'Each line (or multiline event) is a message'
batch\t'Each batch is a message: its lines, one per line'"
complete -c wsship -l compress-level -d 'With --compress, the deflate level: 1 (fastest) to 9 (smallest). [default: 1; 7 with --message-per batch]' -r
complete -c wsship -l max-len -d 'Drop (never truncate) lines longer than this many bytes; K, M and G suffixes are binary' -r
complete -c wsship -l format -d 'What each message holds: the JSON object, or the line itself' -r -f -a "json\t'{"timestamp":"...","message":"..."} plus any --field'
raw\t'The line itself, as read'"
complete -c wsship -l field -d 'Add a constant string field to every JSON message (repeatable). A JSON line that has the key already keeps its own value' -r
complete -c wsship -l input-format -d 'Each line as text, or as JSON (NDJSON): an object\'s members join the message, after the timestamp and before the --fields; a line that is not an object is sent as text with an "error" member, and counted as invalid_json' -r -f -a "text\t'Each line is text'
ndjson\t'Each line is a JSON object (newline-delimited JSON)'"
complete -c wsship -l json-target -d 'With --input-format ndjson, put each line\'s object under this key instead of merging its members into the message' -r
complete -c wsship -l message-key -d 'The key that holds the line. [default: message]' -r
complete -c wsship -l timestamp-key -d 'The key that holds the timestamp (`@timestamp` for ECS). A JSON line that has it already keeps its own value, and gets no second one. [default: timestamp]' -r
complete -c wsship -l timestamp-format -d 'How the timestamp is written (when the line, or an event\'s first line, was read, in UTC). [default: rfc3339]' -r -f -a "rfc3339\t'"2026-12-01T10:00:00.123Z": RFC 3339, milliseconds'
rfc3339-us\t'"2026-12-01T10:00:00.123456Z": RFC 3339, microseconds'
unix\t'Seconds since 1970, a JSON number'
unix-ms\t'Milliseconds since 1970'
unix-us\t'Microseconds since 1970'
unix-ns\t'Nanoseconds since 1970'
none\t'No timestamp'"
complete -c wsship -l multiline-start -d 'A line that matches this regular expression starts a new event; any other line joins the event before it, after a newline. Typical: \'^\\d{4}-\\d\\d-\\d\\d\'' -r
complete -c wsship -l multiline-continue -d 'A line that matches this regular expression joins the event before it; any other line starts a new one. Typical for Java: \'^\\s+at |^\\s+\\.\\.\\. \\d+ more|^Caused by:\'' -r
complete -c wsship -l multiline-max-lines -d 'An event that reaches this many lines is sent, and the next line starts a new one' -r
complete -c wsship -l multiline-timeout -d 'A pending event is sent when no line has come for this long' -r
complete -c wsship -l include -d 'Send only events that match this regular expression (repeatable: any of them). Matched against an event\'s text, after multiline joins its lines, so a stack trace is kept or dropped whole. Lines left out are counted as filtered' -r
complete -c wsship -l exclude -d 'Leave out events that match this regular expression (repeatable), even those an --include matches' -r
complete -c wsship -l path-key -d 'Add the path of the file each line came from under this key: absolute, and the name the file had when wsship opened it, even once it is rotated. Standard input and pipes get none' -r
complete -c wsship -l offset-key -d 'Add the byte offset of each line\'s first byte in its input under this key, as a number; for a multiline event, its first line\'s' -r
complete -c wsship -l host-key -d 'Add the host name under this key, read once at start' -r
complete -c wsship -l host-name -d 'The host name --host-key writes. [default: the system\'s, as hostname(1) prints it]' -r
complete -c wsship -l id-key -d 'Add an id under this key: 32 hex digits, the same in every send of the same line of the same file (a resend, another server, a later run with --state, after a rotation) and different for any other line, so a server can drop the duplicates that at-least-once delivery sends. For standard input and pipes, the same within a run only' -r
complete -c wsship -l retry-limit -d 'Retries of one batch before it is dropped as failed: a number, or `forever` (or -1). [default: 8; forever with --follow, where the file holds what waits]' -r
complete -c wsship -l backoff-init -d 'First delay before a retry; each further retry doubles it, with jitter' -r
complete -c wsship -l backoff-max -d 'Longest delay between retries' -r
complete -c wsship -l drain-timeout -d 'After SIGINT, SIGTERM or SIGHUP, time allowed to send what was already read' -r
complete -c wsship -l stats-interval -d 'Print the statistics line on stderr this often, as well as at exit' -r
complete -c wsship -l stats-format -d 'Format of the summary and --stats-interval lines on stderr' -r -f -a "text\t'wsship: summary: read=... sent=... (key=value pairs)'
json\t'One JSON object per line, with a "type" of "summary" or "stats"'"
complete -c wsship -l metrics-listen -d 'Serve Prometheus metrics on GET /metrics and a health check on GET /health at this address, e.g. 127.0.0.1:9469' -r
complete -c wsship -l metrics-file -d 'Write the metrics to FILE, replaced whole (for node_exporter\'s textfile collector), every --stats-interval (10s when not given) and at exit' -r -F
complete -c wsship -s F -l follow -d 'Keep reading each FILE as it grows, as `tail -F` does: across rotation (rename or truncation), deletion and re-creation. Runs until a signal'
complete -c wsship -l insecure -d 'Do not verify the server\'s certificate or name (warns on every run)'
complete -c wsship -l compress -d 'Offer permessage-deflate (RFC 7692) and, when the server accepts it, compress every message on that connection; when it declines, messages go uncompressed (-v says so)'
complete -c wsship -l dry-run -d 'Write the messages that would be sent to stdout, one per line, instead of connecting'
complete -c wsship -s q -l quiet -d 'Print only errors: no summary, no outage notices'
complete -c wsship -s v -l verbose -d 'Also print each connection event and retry'
complete -c wsship -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wsship -s V -l version -d 'Print version'
