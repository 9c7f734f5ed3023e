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
    /// Answer the handshake with this HTTP status instead of 101.
    pub reject: Option<u16>,
    /// Accept TCP connections and never answer the handshake.
    pub mute: bool,
    /// Complete the handshake, then never read again.
    pub black_hole: bool,
    /// Select this subprotocol when the client offers it.
    pub subprotocol: Option<&'static str>,
    /// Never answer a Ping: frames are read raw, with no automatic Pong.
    pub deaf: bool,
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
}

#[derive(Default)]
struct Log {
    /// The headers of each handshake request, names in lower case.
    requests: Vec<Vec<(String, String)>>,
    /// Set by `die_after`.
    dead: bool,
    messages: Vec<String>,
    /// Every message received, kept or not, and for each kept one how many
    /// had arrived before it.
    count: usize,
    arrived_after: Vec<usize>,
    pings: usize,
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

impl Server {
    pub fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Server::serve(listener, behaviour)
    }

    /// Starts on a given address (a port known to be free a moment ago),
    /// retrying briefly in case the port is still being released.
    pub fn start_on(addr: SocketAddr, behaviour: Behaviour) -> Server {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(addr) {
                Ok(listener) => return Server::serve(listener, behaviour),
                Err(err) if Instant::now() > deadline => panic!("bind {addr}: {err}"),
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
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
                    record(&shared, |log| log.connections += 1);
                    if shared.log.lock().unwrap().dead {
                        return;
                    }
                    if behaviour.mute {
                        // Hold the socket open without a word until the client gives up.
                        let _ = stream.read_to_end(&mut Vec::new());
                        return;
                    }
                    match tls {
                        None => connection(stream, behaviour, &shared),
                        Some(config) => {
                            let Ok(tls) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            connection(rustls::StreamOwned::new(tls, stream), behaviour, &shared)
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

    pub fn url(&self) -> String {
        format!("ws://{}/ingest", self.addr)
    }

    pub fn messages(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().messages.clone()
    }

    pub fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.shared.log.lock().unwrap().requests.clone()
    }

    pub fn connections(&self) -> usize {
        self.shared.log.lock().unwrap().connections
    }

    /// Waits until `ready` holds for the log, or panics after `timeout`.
    fn wait_until(&self, timeout: Duration, what: &str, ready: impl Fn(&Log) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log.lock().unwrap();
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

    pub fn wait_for_connections(&self, count: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{count} connections"), |log| {
            log.connections >= count
        });
    }

    pub fn wait_for_pings(&self, count: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{count} pings"), |log| log.pings >= count);
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

fn connection(stream: impl Read + Write, behaviour: Behaviour, shared: &Shared) {
    // The shape of the result is tungstenite's handshake callback's.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, mut response: Response| {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
            .collect();
        record(shared, |log| log.requests.push(headers));
        if let Some(status) = behaviour.reject {
            let mut refusal = ErrorResponse::new(Some("refused by test".into()));
            *refusal.status_mut() = status.try_into().unwrap();
            return Err(refusal);
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
    let Ok(mut ws) = tungstenite::accept_hdr(stream, check) else {
        return;
    };
    if behaviour.black_hole {
        thread::sleep(Duration::from_secs(3600));
    }
    if behaviour.deaf {
        return read_raw_frames(ws.get_mut(), shared);
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
            Ok(Message::Ping(_)) => record(shared, |log| log.pings += 1),
            Ok(Message::Pong(payload)) if payload == PING => record(shared, |log| log.pongs += 1),
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Reads text frames straight off the socket, so that no Pong is ever sent.
fn read_raw_frames(stream: impl Read + Write, shared: &Shared) {
    use tungstenite::protocol::frame::FrameSocket;
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    let mut frames = FrameSocket::new(stream);
    while let Ok(Some(frame)) = frames.read(None) {
        let mask = frame.header().mask.unwrap_or_default();
        let payload: Vec<u8> = frame
            .payload()
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        match frame.header().opcode {
            OpCode::Data(Data::Text) => record(shared, |log| {
                log.messages
                    .push(String::from_utf8_lossy(&payload).into_owned())
            }),
            OpCode::Control(Control::Close) => return,
            _ => {}
        }
    }
}
