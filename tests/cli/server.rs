//! A real tungstenite server on 127.0.0.1, one per test, with knobs for the
//! faults a log shipper meets: echo everything, close every N messages,
//! refuse the handshake, stall the handshake, stop reading.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::Message;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};

#[derive(Clone, Copy, Default)]
pub struct Behaviour {
    /// Write every text message back, as an echo endpoint does.
    pub echo: bool,
    /// After this many messages on one connection, start a clean close
    /// (still reading until the client answers, as RFC 6455 section 7 asks).
    pub close_every: Option<usize>,
    /// After this many messages on one connection, answer the next Ping
    /// (which confirms them), then close cleanly.
    pub hang_up_after: Option<usize>,
    /// Answer the handshake with this HTTP status instead of 101.
    pub reject: Option<u16>,
    /// Answer with 503 the handshakes whose place (from 0) is true here;
    /// the others, and those past the end, go through.
    pub unavailable: &'static [bool],
    /// Accept TCP connections and never answer the handshake.
    pub mute: bool,
    /// Complete the handshake, then never read again.
    pub black_hole: bool,
    /// Select this subprotocol when the client offers it.
    pub subprotocol: Option<&'static str>,
    /// Never answer a Ping: frames are read raw, with no automatic Pong.
    pub deaf: bool,
    /// Read frames raw and lie about them: volunteer 8-byte Pongs nobody
    /// asked for (the count so far, a Ping's payload with a bit changed)
    /// and answer each Ping with its payload reversed. None proves a read.
    pub false_pongs: bool,
    /// After this many messages on one connection, drop it abruptly (a
    /// crash or kill: no Close, whatever is unread is lost), answering no
    /// further Ping; the next connection is served afresh.
    pub drop_every: Option<usize>,
    /// After this many messages in all, die: drop the connection and every
    /// later one before its handshake, as a crashed server behind a load
    /// balancer would.
    pub die_after: Option<usize>,
    /// Ping the client after this many messages on a connection (0: as soon
    /// as it is open), as servers that check their clients do; the Pongs
    /// that carry the Ping's payload back are counted.
    pub ping_after: Option<usize>,
    /// Keep only the messages that contain this, counting the others, so
    /// that a flood does not fill the test's memory.
    pub keep_only: Option<&'static str>,
    /// Speak permessage-deflate (RFC 7692), which tungstenite cannot: frames
    /// are read raw and compressed ones inflated here.
    pub deflate: Option<ServerDeflate>,
    /// Greet each client with a compressed text message (RSV1 set), then a
    /// plain one that is not UTF-8, written with the `101` response in one
    /// write, so that they arrive in the same read as the handshake.
    pub greet: bool,
}

/// A server's side of permessage-deflate, for `Behaviour::deflate`.
#[derive(Clone, Copy)]
pub struct ServerDeflate {
    /// The Sec-WebSocket-Extensions answer to a client that offers
    /// permessage-deflate; empty to decline.
    pub answer: &'static str,
    /// The window the client's messages may use, as the answer says.
    pub window_bits: u8,
    /// Whether the client keeps its context from message to message.
    pub takeover: bool,
    /// Send every message back, compressed.
    pub echo: bool,
    /// Drop the connection abruptly after this many messages.
    pub drop_after: Option<usize>,
}

#[derive(Default)]
struct Log {
    /// The headers of each handshake request, names in lower case.
    requests: Vec<Vec<(String, String)>>,
    /// The request target (path and query) of each handshake.
    targets: Vec<String>,
    /// For each message, the connection it came on (numbered from 0 in
    /// the order they were accepted).
    sources: Vec<usize>,
    /// Pings with an empty payload (keepalives), and with a payload (a
    /// write's sequence number: confirmations).
    keepalives: usize,
    confirmations: usize,
    /// A frame the client sent unmasked (RFC 6455 section 5.1 forbids it).
    unmasked: usize,
    /// Messages that came compressed (RSV1), with permessage-deflate, and
    /// their bytes as they came.
    compressed: usize,
    compressed_bytes: usize,
    /// Something a permessage-deflate server must refuse: RSV1 without the
    /// extension, or a message that does not inflate.
    deflate_errors: Vec<String>,
    /// Set by `die_after`.
    dead: bool,
    messages: Vec<String>,
    /// Every message received, kept or not, and for each kept one how many
    /// had arrived before it.
    count: usize,
    arrived_after: Vec<usize>,
    /// Pongs answering our own Ping.
    pongs: usize,
    connections: usize,
}

#[derive(Default)]
struct Shared {
    log: Mutex<Log>,
    changed: Condvar,
}

pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// A loopback port bound but not listening: connecting to it is refused,
/// as to a server that is down, and no other test can take it meanwhile
/// (a port found free and let go could be).
pub struct Reserved {
    socket: std::net::TcpListener,
    pub addr: SocketAddr,
}

impl Reserved {
    pub fn new() -> Reserved {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket calls on a descriptor we own from here on.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&raw const addr).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            // Wrapped now so that it is closed however the test ends; it
            // is a listener only once `listen` makes it one.
            let socket = std::net::TcpListener::from_raw_fd(fd);
            let addr = socket.local_addr().expect("a bound address");
            Reserved { socket, addr }
        }
    }

    fn listen(self) -> TcpListener {
        use std::os::fd::AsRawFd;
        // SAFETY: listen(2) on the socket we own.
        let rc = unsafe { libc::listen(self.socket.as_raw_fd(), 128) };
        assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
        self.socket
    }
}

impl Server {
    pub fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Server::serve(listener, behaviour)
    }

    /// Starts on a port reserved earlier, where connections were refused
    /// until now.
    pub fn start_on(port: Reserved, behaviour: Behaviour) -> Server {
        Server::serve(port.listen(), behaviour)
    }

    /// A server on the IPv6 loopback, if this machine has one.
    pub fn start_ipv6(behaviour: Behaviour) -> Option<Server> {
        let listener = TcpListener::bind("[::1]:0").ok()?;
        Some(Server::serve(listener, behaviour))
    }

    /// A wss:// server with the given TLS configuration.
    pub fn start_tls(behaviour: Behaviour, tls: Arc<rustls::ServerConfig>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Server::serve_with(listener, behaviour, Some(tls))
    }

    fn serve(listener: TcpListener, behaviour: Behaviour) -> Server {
        Server::serve_with(listener, behaviour, None)
    }

    fn serve_with(
        listener: TcpListener,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Server {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let shared = Arc::clone(&accept_shared);
                let tls = tls.clone();
                thread::spawn(move || {
                    let mut id = 0;
                    record(&shared, |log| {
                        id = log.connections;
                        log.connections += 1;
                    });
                    if shared.log.lock().unwrap().dead {
                        return;
                    }
                    if behaviour.mute {
                        // Hold the socket open without a word until the client gives up.
                        let _ = stream.read_to_end(&mut Vec::new());
                        return;
                    }
                    match tls {
                        None => connection(stream, behaviour, &shared, id),
                        Some(config) => {
                            let Ok(tls) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            let stream = rustls::StreamOwned::new(tls, stream);
                            connection(stream, behaviour, &shared, id)
                        }
                    }
                });
            }
        });
        Server { addr, shared }
    }

    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Its URL; `SocketAddr` writes an IPv6 address in brackets.
    pub fn url(&self) -> String {
        format!("ws://{}/ingest", self.addr)
    }

    pub fn messages(&self) -> Vec<String> {
        let log = self.shared.log.lock().unwrap();
        assert_eq!(log.unmasked, 0, "the client sent an unmasked frame");
        assert!(log.deflate_errors.is_empty(), "{:?}", log.deflate_errors);
        log.messages.clone()
    }

    pub fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.shared.log.lock().unwrap().requests.clone()
    }

    /// The path and query of each handshake, as the client sent them.
    pub fn targets(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().targets.clone()
    }

    /// For each message, the connection it came on.
    pub fn sources(&self) -> Vec<usize> {
        self.shared.log.lock().unwrap().sources.clone()
    }

    /// Messages that came compressed.
    pub fn compressed(&self) -> usize {
        let log = self.shared.log.lock().unwrap();
        assert!(log.deflate_errors.is_empty(), "{:?}", log.deflate_errors);
        log.compressed
    }

    /// The bytes of the compressed messages, as they came.
    pub fn compressed_bytes(&self) -> usize {
        self.shared.log.lock().unwrap().compressed_bytes
    }

    /// Pings seen: (keepalives, confirmations).
    pub fn pings(&self) -> (usize, usize) {
        let log = self.shared.log.lock().unwrap();
        (log.keepalives, log.confirmations)
    }

    /// After an echoing run of `lines` lines: each arrived once, over one
    /// connection. A deadlock that --write-timeout broke would show as a
    /// reconnect and a resend: neither may happen.
    #[track_caller]
    pub fn assert_echoed_without_a_stall(&self, done: &crate::util::Finished, lines: u64) {
        done.expect_code(0);
        let summary = done.summary();
        assert_eq!(
            (
                summary["sent"],
                summary["reconnects"],
                summary["resent"],
                summary["retries"]
            ),
            (lines, 0, 0, 0)
        );
        assert_eq!(
            self.messages().len() as u64,
            lines,
            "each line exactly once"
        );
        assert_eq!(self.connections(), 1);
    }

    pub fn connections(&self) -> usize {
        self.shared.log.lock().unwrap().connections
    }

    /// Waits until `ready` holds for the log, or panics after `timeout`.
    fn wait_until(&self, timeout: Duration, what: &str, ready: impl Fn(&Log) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log.lock().unwrap();
        assert_eq!(log.unmasked, 0, "the client sent an unmasked frame");
        while !ready(&log) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "server: timed out after {timeout:?} waiting for {what}; have {} messages, {} connections",
                    log.messages.len(),
                    log.connections
                );
            }
            log = self.shared.changed.wait_timeout(log, left).unwrap().0;
        }
    }

    pub fn wait_for_messages(&self, count: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{count} messages"), |log| {
            log.messages.len() >= count
        });
    }

    /// Waits until some message contains `needle`.
    pub fn wait_for_message(&self, needle: &str, timeout: Duration) {
        // Each message is looked at once, not once per arrival.
        let seen = std::cell::Cell::new(0);
        self.wait_until(timeout, &format!("a message with {needle:?}"), |log| {
            let found = log.messages[seen.get()..]
                .iter()
                .any(|m| m.contains(needle));
            seen.set(log.messages.len());
            found
        });
    }

    /// For each kept message, how many messages had arrived before it.
    pub fn arrived_after(&self) -> Vec<usize> {
        self.shared.log.lock().unwrap().arrived_after.clone()
    }

    pub fn wait_for_count(&self, count: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{count} messages in all"), |log| {
            log.count >= count
        });
    }

    pub fn wait_for_keepalives(&self, count: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{count} keepalive pings"), |log| {
            log.keepalives >= count
        });
    }

    pub fn wait_for_pongs(&self, count: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{count} pongs"), |log| log.pongs >= count);
    }
}

fn record(shared: &Shared, f: impl FnOnce(&mut Log)) {
    // A test that failed while holding the lock must not take the server down too.
    f(&mut shared.log.lock().unwrap_or_else(|p| p.into_inner()));
    shared.changed.notify_all();
}

fn connection(stream: impl Read + Write, behaviour: Behaviour, shared: &Shared, id: usize) {
    // The shape of the result is tungstenite's handshake callback's.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, mut response: Response| {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
            .collect();
        let target = request.uri().to_string();
        let mut place = 0;
        record(shared, |log| {
            place = log.requests.len();
            log.requests.push(headers);
            log.targets.push(target);
        });
        let unavailable = behaviour.unavailable.get(place) == Some(&true);
        if let Some(status) = behaviour.reject.or(unavailable.then_some(503)) {
            let mut refusal = ErrorResponse::new(Some("refused by test".into()));
            *refusal.status_mut() = status.try_into().unwrap();
            return Err(refusal);
        }
        if let Some(deflate) = behaviour.deflate {
            let offered = request
                .headers()
                .get("sec-websocket-extensions")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("permessage-deflate"));
            if offered && !deflate.answer.is_empty() {
                response
                    .headers_mut()
                    .insert("sec-websocket-extensions", deflate.answer.parse().unwrap());
            }
        }
        let offered = request.headers().get("sec-websocket-protocol");
        if let (Some(chosen), Some(offered)) = (behaviour.subprotocol, offered) {
            if offered
                .to_str()
                .unwrap_or("")
                .split(',')
                .any(|p| p.trim() == chosen)
            {
                response
                    .headers_mut()
                    .insert("sec-websocket-protocol", chosen.parse().unwrap());
            }
        }
        Ok(response)
    };
    // tungstenite's default, said out loud: a server must close on an
    // unmasked client frame, so a masking regression fails the suite.
    let config = tungstenite::protocol::WebSocketConfig::default().accept_unmasked_frames(false);
    let stream = Greeter {
        stream,
        greeting: behaviour.greet.then(greeting),
    };
    let Ok(mut ws) = tungstenite::accept_hdr_with_config(stream, check, Some(config)) else {
        return;
    };
    if behaviour.black_hole {
        thread::sleep(Duration::from_secs(3600));
    }
    if behaviour.deaf || behaviour.false_pongs {
        return read_raw_frames(ws.get_mut(), shared, id, behaviour.false_pongs);
    }
    if let Some(deflate) = behaviour.deflate {
        return deflate_frames(ws.get_mut(), shared, id, deflate);
    }
    const PING: &[u8] = b"are you there?";
    let mut on_this_connection = 0;
    if behaviour.ping_after == Some(0) && ws.send(Message::Ping(PING.into())).is_err() {
        return;
    }
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                record(shared, |log| {
                    if behaviour
                        .keep_only
                        .is_none_or(|needle| text.contains(needle))
                    {
                        log.arrived_after.push(log.count);
                        log.messages.push(text.to_string());
                    }
                    log.count += 1;
                });
                on_this_connection += 1;
                if behaviour.ping_after == Some(on_this_connection)
                    && ws.send(Message::Ping(PING.into())).is_err()
                {
                    return;
                }
                if behaviour.echo && ws.send(Message::Text(text)).is_err() {
                    return;
                }
                if behaviour.close_every == Some(on_this_connection) {
                    let _ = ws.close(None);
                }
                if let Some(limit) = behaviour.die_after {
                    let mut log = shared.log.lock().unwrap();
                    if log.messages.len() >= limit {
                        log.dead = true;
                        return;
                    }
                }
                if behaviour.drop_every == Some(on_this_connection) {
                    // Dropped without a word: pending Pongs and unread
                    // frames go with it.
                    return;
                }
            }
            Ok(Message::Ping(payload)) => {
                record(shared, |log| match payload.is_empty() {
                    true => log.keepalives += 1,
                    false => log.confirmations += 1,
                });
                if behaviour
                    .hang_up_after
                    .is_some_and(|after| on_this_connection >= after)
                {
                    // tungstenite queued the Pong: send it, then go.
                    let _ = ws.flush();
                    let _ = ws.close(None);
                }
            }
            Ok(Message::Pong(payload)) if payload == PING => record(shared, |log| log.pongs += 1),
            Ok(_) => {}
            Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::UnmaskedFrameFromClient,
            )) => return record(shared, |log| log.unmasked += 1),
            Err(_) => return,
        }
    }
}

/// Reads text frames straight off the socket, so that no true Pong is ever
/// sent (with `lie`, only false ones); an unmasked frame is counted and ends
/// the connection, as a server must.
fn read_raw_frames(stream: impl Read + Write, shared: &Shared, id: usize, lie: bool) {
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tungstenite::protocol::frame::{Frame, FrameSocket};
    let mut frames = FrameSocket::new(stream);
    let mut texts: u64 = 0;
    let mut last_ping = [0u8; 8];
    while let Ok(Some(frame)) = frames.read(None) {
        let Some(mask) = frame.header().mask else {
            return record(shared, |log| log.unmasked += 1);
        };
        let payload: Vec<u8> = frame
            .payload()
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        let mut lies = Vec::new();
        match frame.header().opcode {
            OpCode::Data(Data::Text) => {
                record(shared, |log| {
                    log.messages
                        .push(String::from_utf8_lossy(&payload).into_owned());
                    log.sources.push(id);
                });
                // Heartbeats of the size wsship's Pings carry: the count of
                // messages (as a sequence number would be), and the last
                // Ping's payload with its last bit turned.
                texts += 1;
                lies.push(texts.to_be_bytes().to_vec());
                lies.push((texts - 1).to_be_bytes().to_vec());
                let mut near = last_ping;
                near[7] ^= 1;
                lies.push(near.to_vec());
            }
            OpCode::Control(Control::Ping) => {
                record(shared, |log| match payload.is_empty() {
                    true => log.keepalives += 1,
                    false => log.confirmations += 1,
                });
                if let Ok(ping) = <[u8; 8]>::try_from(&payload[..]) {
                    last_ping = ping;
                }
                let mut reversed = payload.clone();
                reversed.reverse();
                if reversed == payload {
                    reversed.push(0);
                }
                lies.push(reversed);
            }
            OpCode::Control(Control::Close) => return,
            _ => {}
        }
        if lie {
            for pong in lies {
                if frames.send(Frame::pong(pong)).is_err() {
                    return;
                }
            }
        }
    }
}

/// A permessage-deflate server's loop: frames read raw, compressed text
/// messages inflated with the window and context the answer allowed, Pings
/// answered, and (with `echo`) every message sent back compressed.
fn deflate_frames(stream: impl Read + Write, shared: &Shared, id: usize, deflate: ServerDeflate) {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tungstenite::protocol::frame::{Frame, FrameSocket};
    let negotiated = !deflate.answer.is_empty();
    let mut frames = FrameSocket::new(stream);
    let mut inflater = Decompress::new_with_window_bits(false, deflate.window_bits.max(9));
    let mut deflater = Compress::new(Compression::fast(), false);
    let mut on_this_connection = 0;
    let fail = |why: String| record(shared, |log| log.deflate_errors.push(why));
    while let Ok(Some(frame)) = frames.read(None) {
        let Some(mask) = frame.header().mask else {
            return record(shared, |log| log.unmasked += 1);
        };
        let rsv1 = frame.header().rsv1;
        let mut payload = frame.payload().to_vec();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match frame.header().opcode {
            OpCode::Data(Data::Text) => {
                if rsv1 && !negotiated {
                    return fail("RSV1 set without permessage-deflate".into());
                }
                let wire = payload.len();
                let text = match rsv1 {
                    false => payload,
                    true => {
                        if !deflate.takeover {
                            inflater.reset(false);
                        }
                        payload.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
                        let mut out = Vec::with_capacity(payload.len() * 20 + 1024);
                        let before = inflater.total_in();
                        loop {
                            let done = (inflater.total_in() - before) as usize;
                            if let Err(e) = inflater.decompress_vec(
                                &payload[done..],
                                &mut out,
                                FlushDecompress::Sync,
                            ) {
                                return fail(format!("does not inflate: {e}"));
                            }
                            if (inflater.total_in() - before) as usize == payload.len()
                                && out.len() < out.capacity()
                            {
                                break;
                            }
                            out.reserve(out.capacity());
                        }
                        out
                    }
                };
                let text = String::from_utf8(text).unwrap_or_else(|_| "<not UTF-8>".into());
                record(shared, |log| {
                    log.messages.push(text.clone());
                    log.sources.push(id);
                    log.count += 1;
                    log.compressed += usize::from(rsv1);
                    log.compressed_bytes += if rsv1 { wire } else { 0 };
                });
                on_this_connection += 1;
                if deflate.echo {
                    let mut compressed = Vec::with_capacity(text.len() + 64);
                    let _ = deflater.compress_vec(
                        text.as_bytes(),
                        &mut compressed,
                        FlushCompress::Sync,
                    );
                    compressed.truncate(compressed.len().saturating_sub(4));
                    let mut echo = Frame::message(compressed, OpCode::Data(Data::Text), true);
                    echo.header_mut().rsv1 = true;
                    if frames.send(echo).is_err() {
                        return;
                    }
                }
                if deflate.drop_after == Some(on_this_connection) {
                    return;
                }
            }
            OpCode::Control(Control::Ping) => {
                record(shared, |log| match payload.is_empty() {
                    true => log.keepalives += 1,
                    false => log.confirmations += 1,
                });
                if frames.send(Frame::pong(payload)).is_err() {
                    return;
                }
            }
            OpCode::Control(Control::Close) => {
                let _ = frames.send(Frame::close(None));
                return;
            }
            _ => {}
        }
    }
}

/// A server's stream that adds a greeting to its first write (the `101`
/// response), so that both leave in one write.
struct Greeter<S> {
    stream: S,
    greeting: Option<Vec<u8>>,
}

impl<S: Read> Read for Greeter<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
}

impl<S: Write> Write for Greeter<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.greeting.take() {
            None => self.stream.write(buf),
            Some(greeting) => {
                self.stream.write_all(&[buf, &greeting].concat())?;
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

/// Two unmasked text frames: "welcome" compressed (RFC 7692, RSV1 set),
/// and bytes that are not UTF-8.
fn greeting() -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut compressed = Vec::with_capacity(64);
    Compress::new(Compression::fast(), false)
        .compress_vec(b"welcome", &mut compressed, FlushCompress::Sync)
        .unwrap();
    compressed.truncate(compressed.len() - 4);
    let mut frames = vec![0x80 | 0x40 | 0x1, compressed.len() as u8];
    frames.extend_from_slice(&compressed);
    frames.extend_from_slice(&[0x80 | 0x1, 3, 0xff, 0xfe, 0xfd]);
    frames
}
