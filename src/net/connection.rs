//! One WebSocket connection, owned by one worker thread.
//!
//! The socket is blocking only for the TCP connect and the opening handshake,
//! both bounded by --connect-timeout (tungstenite's own `connect` has no
//! timeout). After that it is non-blocking and every wait goes through
//! `poll(2)` on both directions: while a batch is being written, whatever the
//! server sends (pings, a Close, an echo of our own messages) is read and
//! handled, so a server that writes back can never deadlock us against full
//! socket buffers.
//!
//! tungstenite does the handshake, reads, and writes the frames it owes (a
//! Pong, a Close), but into our `Outbox` rather than the socket: the data
//! frames the reader built join that same queue in order, and a batch goes
//! out as slices of the reader's buffers in as few `writev` calls as the
//! socket allows, with no copy on the way.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use crate::config::{Config, Endpoint, MessagePer};
use crate::encode::frame::{self, Masks};
use crate::error::{Error, Stage};
use crate::messages;
use crate::net::deflate::{self, Agreed, Deflate};
use crate::net::framer::Framer;
use crate::net::incoming::Incoming;
use crate::net::pongs::{Pong, Pongs};
use crate::net::proxy::{self, Proxy};
use crate::net::tls::{Stream, tls_error};
use crate::shutdown::Shutdown;
use crate::units::Batch;

/// Longest single wait in `poll`, so that the end of a drain is noticed.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// The read buffer for what the server sends (Pongs, mostly).
const SERVER_READS: usize = 16 * 1024;

/// How stale what the server sent may get while batches flow freely.
const SERVICE_EVERY: Duration = Duration::from_millis(10);

pub struct Connection<'a> {
    /// The worker that owns it, for what -v says.
    worker: usize,
    ws: WebSocket<Outbox>,
    masks: Masks,
    /// Frames sized batches (--compress, --message-per batch).
    framer: Option<Framer>,
    write_timeout: Duration,
    close_timeout: Duration,
    shutdown: &'a Shutdown,
    serviced: Instant,
    pongs: Pongs,
}

/// The socket as tungstenite sees it once the connection is open: reads go
/// straight through; writes join the queue of frames, whole and in order,
/// and reach the socket only when `drain` writes the queue out.
pub struct Outbox {
    stream: Stream,
    queue: VecDeque<Bytes>,
    /// During the opening handshake, writes go straight to the socket.
    passthrough: bool,
    /// What the server sends, from the handshake's response on, rewritten
    /// as it is read so that no data frame of its can fail the connection.
    incoming: Incoming,
}

/// Slices handed to one `writev` (Linux takes up to 1024). A write of small
/// batches is a slice per batch: with --batch-size 1, one per line, and 64
/// slices per call made the kernel push a small segment every 64 lines.
const IOV_SLICES: usize = 512;

impl Outbox {
    /// Writes the queue out until it is empty (true) or the socket is full
    /// (false).
    fn drain(&mut self) -> io::Result<bool> {
        while !self.queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); IOV_SLICES];
            let mut count = 0;
            for (slot, part) in slices.iter_mut().zip(&self.queue) {
                *slot = IoSlice::new(part);
                count += 1;
            }
            let mut written = match self.stream.write_vectored(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            while written > 0 {
                let front = &mut self.queue[0];
                if written < front.len() {
                    front.advance(written);
                    break;
                }
                written -= front.len();
                self.queue.pop_front();
            }
        }
        // TLS may still hold records for the socket.
        match self.stream.flush() {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Read for Outbox {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        self.incoming.rewrite(&mut buf[..n]);
        Ok(n)
    }
}

impl Write for Outbox {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.passthrough {
            return self.stream.write(buf);
        }
        // Only tungstenite writes here, and only its few control frames.
        // Nothing empty is queued: writev would report it as no progress.
        if !buf.is_empty() {
            self.queue.push_back(Bytes::copy_from_slice(buf));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.passthrough {
            true => self.stream.flush(),
            false => Ok(()),
        }
    }
}

/// Readiness we wait for: data to read, and room to write when output is pending.
#[derive(Clone, Copy)]
enum Want {
    Read,
    ReadWrite,
}

impl<'a> Connection<'a> {
    pub fn open(
        worker: usize,
        config: &Config,
        endpoint: &Endpoint,
        shutdown: &'a Shutdown,
    ) -> Result<Connection<'a>, Error> {
        let deadline = Instant::now() + config.connect_timeout;
        let mut tcp = match &endpoint.proxy {
            None => connect(&endpoint.host, endpoint.port, None, deadline)?,
            Some(proxy) => connect(&proxy.host, proxy.port, Some(proxy), deadline)?,
        };
        let setup = |tcp: &TcpStream| -> io::Result<()> {
            tcp.set_nodelay(true)?;
            let left = remaining(deadline).max(Duration::from_millis(1));
            tcp.set_read_timeout(Some(left))?;
            tcp.set_write_timeout(Some(left))
        };
        setup(&tcp).map_err(|e| Error::Handshake(e.into()))?;
        if let Some(proxy) = &endpoint.proxy {
            proxy::tunnel(&mut tcp, proxy, &endpoint.host, endpoint.port)?;
        }
        let stream = match &endpoint.tls {
            None => Stream::Plain(tcp),
            Some(tls) => tls.connect(tcp).map_err(|e| match e.kind() {
                // A plain WebSocket server reads a ClientHello as bad HTTP
                // and hangs up.
                io::ErrorKind::UnexpectedEof => Error::TlsClosed,
                _ => handshake_io_error(e, endpoint),
            })?,
        };

        // Incoming messages are read only to be discarded (an echo of ours
        // at most), but tungstenite assembles each one: allow our own size.
        let limit = Some(
            config
                .max_len
                .saturating_mul(6)
                .saturating_add(4096)
                .max(64 << 20),
        );
        // tungstenite zeroes the free part of its read buffer before every
        // read, even one that finds nothing: its default of 128 KiB made
        // each look for a Pong cost a 128 KiB memset. We read little.
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(SERVER_READS)
            .max_message_size(limit)
            .max_frame_size(limit);
        // A fresh request each time: Sec-WebSocket-Key must be new per connection.
        let mut request = endpoint
            .uri
            .clone()
            .into_client_request()
            .map_err(Error::Handshake)?;
        for (name, value) in &endpoint.headers {
            request.headers_mut().append(name.clone(), value.clone());
        }
        if config.compress.is_some() {
            request.headers_mut().insert(
                "sec-websocket-extensions",
                HeaderValue::from_static(deflate::OFFER),
            );
        }
        let outbox = Outbox {
            stream,
            queue: VecDeque::new(),
            passthrough: true,
            incoming: Incoming::default(),
        };
        let (mut ws, response) =
            tungstenite::client::client_with_config(request, outbox, Some(ws_config))
                .map_err(|e| handshake_error(e, endpoint))?;
        ws.get_mut().passthrough = false;
        let answer = response
            .headers()
            .get_all("sec-websocket-extensions")
            .iter()
            .filter_map(|value| value.to_str().ok());
        let agreed = deflate::agreed(answer).map_err(Error::Negotiation)?;
        if agreed.is_some() && config.compress.is_none() {
            return Err(Error::Negotiation(
                "it chose permessage-deflate, which was not offered".into(),
            ));
        }
        let framer = framer(config, agreed);

        let tcp = ws.get_ref().stream.tcp();
        let unblock = || -> io::Result<()> {
            tcp.set_read_timeout(None)?;
            tcp.set_write_timeout(None)?;
            tcp.set_nonblocking(true)
        };
        unblock().map_err(|e| Error::Handshake(e.into()))?;
        Ok(Connection {
            worker,
            ws,
            masks: Masks::new(),
            framer,
            write_timeout: config.write_timeout,
            close_timeout: config.connect_timeout,
            shutdown,
            serviced: Instant::now(),
            pongs: Pongs::default(),
        })
    }

    /// Queues the frames of some batches, then, with `confirm`, a Ping with
    /// a payload of 8 random bytes that stands for that sequence number,
    /// then writes them all out. A server answers a Ping only after reading
    /// every frame before it (RFC 6455 section 5.5.2 and the in-order
    /// delivery of one TCP stream), so the Pong that carries those bytes
    /// back proves the batches were read (`pongs`).
    pub fn send<'b>(
        &mut self,
        batches: impl Iterator<Item = &'b Batch>,
        confirm: Option<u64>,
    ) -> Result<(), Error> {
        let queue = &mut self.ws.get_mut().queue;
        match &mut self.framer {
            None => queue.extend(batches.flat_map(|batch| batch.parts().cloned())),
            Some(framer) => {
                let mut frames = Vec::new();
                for batch in batches {
                    framer.frames(batch, &mut frames);
                }
                if !frames.is_empty() {
                    queue.push_back(Bytes::from(frames));
                }
            }
        }
        if let Some(sequence) = confirm {
            // Drawn like masking keys: from a generator a server cannot
            // predict, so only one that read the Ping can answer it.
            let [a, b] = [self.masks.key(), self.masks.key()];
            let payload = [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]];
            self.pongs.pinged(payload, sequence);
            let key = self.masks.key();
            queue.push_back(frame::control(frame::PING, &payload, key));
        }
        self.flush()?;
        // What the server sent is read while the socket is full and,
        // otherwise, at most every SERVICE_EVERY: a read per batch would
        // double the syscalls of small batches for nothing.
        if self.serviced.elapsed() >= SERVICE_EVERY {
            self.service()?;
        }
        Ok(())
    }

    /// A keepalive Ping (empty payload, so it confirms nothing).
    pub fn ping(&mut self) -> Result<(), Error> {
        let ping = frame::control(frame::PING, &[], self.masks.key());
        self.ws.get_mut().queue.push_back(ping);
        self.pongs.pinged_keepalive();
        self.flush()
    }

    /// Reads and handles whatever the server sent, without waiting. Pings are
    /// answered by tungstenite; Pongs are recorded; data messages are
    /// discarded; a Close ends the connection (its reply is flushed on the
    /// way out).
    pub fn service(&mut self) -> Result<(), Error> {
        self.serviced = Instant::now();
        loop {
            match self.ws.read() {
                Ok(Message::Pong(payload)) => self.pong(&payload),
                Ok(Message::Close(frame)) => {
                    // Whatever happens to the handshake, the server is gone.
                    let _ = self.finish_close();
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.as_str().to_string())
                    });
                    return Err(Error::ClosedByServer { code, reason });
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Send the Pongs tungstenite owes now, not with the next
                    // batch, which may be a long way off; if the socket is
                    // full they go with the next flush.
                    self.queue_owed()?;
                    return self.ws.get_mut().drain().map(drop).map_err(io_lost);
                }
                Err(e) => return Err(Error::from_session(e)),
            }
        }
    }

    /// Takes in a Pong; says once, with -v, that Pongs answering nothing
    /// of ours are ignored.
    fn pong(&mut self, payload: &[u8]) {
        if self.pongs.record(payload) == Pong::Ignored && self.pongs.ignored == 1 {
            messages::info!(
                "worker {}: the server sent a Pong that answers none of our Pings: ignored, as \
                 every such Pong on this connection will be (it proves nothing was read)",
                self.worker
            );
        }
    }

    /// Has tungstenite hand the frames it owes (a Pong, a Close) to the
    /// outbox, behind ours.
    fn queue_owed(&mut self) -> Result<(), Error> {
        match self.ws.flush() {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(Error::from_session(e)),
        }
    }

    /// Pongs seen so far on this connection.
    pub fn pongs(&self) -> &Pongs {
        &self.pongs
    }

    /// Waits until the server sends something (a Pong, say) or `deadline`.
    pub fn wait_for_server(&mut self, deadline: Instant) -> Result<(), Error> {
        if remaining(deadline).is_zero() {
            return Ok(());
        }
        match self.wait(Want::Read, deadline) {
            Err(Error::Timeout(_)) => Ok(()),
            other => other,
        }
    }

    /// The closing handshake (RFC 6455 section 7): send Close, read until the
    /// server answers and closes the TCP connection.
    pub fn close(mut self) -> Result<(), Error> {
        match self.ws.close(None) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Error::from_session(e)),
        }
        self.finish_close()
    }

    /// Drives a closing handshake already begun, by either side, until the
    /// server closes the TCP connection: only then has it read every frame
    /// we sent, so a batch resent on the next connection cannot arrive
    /// ahead of this one's tail. Bounded by --connect-timeout.
    fn finish_close(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + self.close_timeout;
        loop {
            match self.ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                Err(e) => return Err(Error::from_session(e)),
            };
            let flushed = self.ws.get_mut().drain().map_err(io_lost)?;
            match self.ws.read() {
                Ok(Message::Pong(payload)) => self.pong(&payload),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::from_session(e)),
            }
            let want = if flushed { Want::Read } else { Want::ReadWrite };
            // Out of time here is the closing handshake's fault, not a write's.
            self.wait(want, deadline).map_err(|err| match err {
                Error::Timeout(Stage::Write) => Error::Timeout(Stage::Close),
                err => err,
            })?;
        }
    }

    /// Writes out everything queued, reading while the socket is full. A
    /// server that takes nothing for --write-timeout is taken to be dead.
    fn flush(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + self.write_timeout;
        loop {
            self.queue_owed()?;
            if self.ws.get_mut().drain().map_err(io_lost)? {
                return Ok(());
            }
            self.wait(Want::ReadWrite, deadline)?;
            self.service()?;
        }
    }

    /// Blocks until the socket is ready for what we want, or has an error or
    /// hang-up to report (the next read or write returns it). Gives up at
    /// `deadline`, or when a shutdown's time to drain is over.
    fn wait(&self, want: Want, deadline: Instant) -> Result<(), Error> {
        let events = match want {
            Want::Read => libc::POLLIN,
            Want::ReadWrite => libc::POLLIN | libc::POLLOUT,
        };
        let mut fd = libc::pollfd {
            fd: self.ws.get_ref().stream.as_raw_fd(),
            events,
            revents: 0,
        };
        loop {
            let left = remaining(deadline);
            if left.is_zero() {
                return Err(Error::Timeout(Stage::Write));
            }
            if self.shutdown.expired() {
                return Err(Error::Drained);
            }
            let left = left.min(POLL_SLICE);
            let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            // SAFETY: `fd` is one valid pollfd that outlives the call.
            let ready = unsafe { libc::poll(&mut fd, 1, millis) };
            match ready {
                1.. => return Ok(()),
                0 => continue,
                _ => {
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(Error::Lost(err.into()));
                    }
                }
            }
        }
    }
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        if self.pongs.ignored > 1 {
            messages::info!(
                "worker {}: {} that answered none of our Pings ignored on this connection",
                self.worker,
                messages::count(self.pongs.ignored as usize, "Pong")
            );
        }
    }
}

/// Whether this connection frames its batches itself, and how: with the
/// compressor the server's answer allows, if --compress was asked.
fn framer(config: &Config, agreed: Option<Agreed>) -> Option<Framer> {
    let per_batch = config.message_per == MessagePer::Batch;
    let deflate = match (config.compress, agreed) {
        (Some(level), Some(agreed)) => {
            let deflate = Deflate::new(agreed, level);
            if deflate.is_none() {
                say_once(
                    &CANNOT_HONOUR,
                    "the server limits compression to a window of 8 bits, which zlib cannot \
                     honour: sending uncompressed",
                );
            }
            deflate
        }
        (Some(_), None) => {
            say_once(
                &DECLINED,
                "the server declined --compress: sending uncompressed",
            );
            None
        }
        (None, _) => None,
    };
    (config.compress.is_some() || per_batch).then(|| Framer::new(per_batch, deflate))
}

static DECLINED: AtomicBool = AtomicBool::new(false);
static CANNOT_HONOUR: AtomicBool = AtomicBool::new(false);

/// A -v message said once per run, however many connections meet it.
fn say_once(said: &AtomicBool, message: &str) {
    if !said.swap(true, Ordering::Relaxed) {
        messages::info!("{message}");
    }
}

/// Opens TCP to `host:port` (the server, or the proxy named by `via`).
fn connect(
    host: &str,
    port: u16,
    via: Option<&Proxy>,
    deadline: Instant,
) -> Result<TcpStream, Error> {
    let addr = match (via, host.contains(':')) {
        (Some(proxy), _) => format!("proxy {proxy}"),
        (None, true) => format!("[{host}]:{port}"),
        (None, false) => format!("{host}:{port}"),
    };
    let resolved: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(source) => return Err(Error::Resolve { addr, source }),
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for candidate in resolved {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(Error::Timeout(Stage::Connect));
        }
        match TcpStream::connect_timeout(&candidate, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    match last.kind() {
        io::ErrorKind::TimedOut => Err(Error::Timeout(Stage::Connect)),
        _ => Err(Error::Connect { addr, source: last }),
    }
}

fn handshake_error(
    err: HandshakeError<tungstenite::ClientHandshake<Outbox>>,
    endpoint: &Endpoint,
) -> Error {
    match err {
        // A blocking socket interrupted by its read timeout.
        HandshakeError::Interrupted(_) => Error::Timeout(Stage::Handshake),
        HandshakeError::Failure(tungstenite::Error::Http(response)) => Error::Rejected {
            status: response.status().as_u16(),
            reason: response
                .status()
                .canonical_reason()
                .unwrap_or("")
                .to_string(),
        },
        HandshakeError::Failure(tungstenite::Error::Io(e)) => handshake_io_error(e, endpoint),
        HandshakeError::Failure(e) => Error::Handshake(e),
    }
}

/// An I/O error while opening: a timeout, a TLS refusal (which TLS 1.3 may
/// deliver only once the HTTP upgrade starts), or a plain I/O failure.
fn handshake_io_error(err: io::Error, endpoint: &Endpoint) -> Error {
    if let Some(tls) = tls_error(&err) {
        let name = endpoint
            .tls
            .as_ref()
            .map_or(String::new(), |t| t.server_name.to_str().into_owned());
        return Error::Tls {
            server_name: name,
            source: tls.clone(),
        };
    }
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(Stage::Handshake),
        _ => Error::Handshake(err.into()),
    }
}

/// A write to the socket failed: the connection is lost, classified as
/// tungstenite would have classified it.
fn io_lost(err: io::Error) -> Error {
    Error::from_session(tungstenite::Error::Io(err))
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
