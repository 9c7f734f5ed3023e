//! The few lines of HTTP/1.1 that --metrics-listen needs: GET /metrics,
//! GET /health, 404 for anything else, one request per connection, one
//! connection at a time, on a thread of its own.
//!
//! Written here rather than taken from a crate: what it must do is small
//! and fixed, and what it must not do (wait on a client that says nothing,
//! read a request without bound, let a client's trouble reach the
//! pipeline) is easier to see in sixty lines than in a server built to do
//! more. A request is read for at most `REQUEST_TIME` and `REQUEST_MAX`
//! bytes; a client that sends more, or too slowly, gets a 4xx and is closed.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

/// The longest a request may take to arrive, and its largest size.
const REQUEST_TIME: Duration = Duration::from_secs(2);
const REQUEST_MAX: usize = 8 * 1024;

/// How often the accept loop looks at the stop channel while idle.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Binds `addr` at start, so that a port taken is an error before any
/// line is read.
pub fn bind(addr: &str) -> io::Result<TcpListener> {
    let addrs: Vec<_> = addr.to_socket_addrs()?.collect();
    let listener = TcpListener::bind(&addrs[..])?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What a request gets: a status, and a body of plain text.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Serves until `stop` is dropped, answering each request with `answer`
/// (given the request's path).
pub fn serve(listener: &TcpListener, stop: &Receiver<()>, answer: impl Fn(&str) -> Response) {
    loop {
        if !matches!(stop.try_recv(), Err(TryRecvError::Empty)) {
            return;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                // Its trouble is its own: a client that hangs up or says
                // nothing ends its own request, and the next one is served.
                let _ = handle(stream, &answer);
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => wait_readable(listener),
            // Out of descriptors, say: wait and try again.
            Err(_) => std::thread::sleep(STOP_CHECK),
        }
    }
}

/// Waits until a connection may be accepted, or `STOP_CHECK` passes.
fn wait_readable(listener: &TcpListener) {
    let mut fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut fd, 1, STOP_CHECK.as_millis() as i32) };
}

fn handle(mut stream: TcpStream, answer: &impl Fn(&str) -> Response) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(REQUEST_TIME))?;
    let response = match read_request(&mut stream) {
        Ok(head) => route(&head, answer),
        Err(Problem::TooLarge) => plain(431, "request too large\n"),
        Err(Problem::Malformed) => plain(400, "bad request\n"),
        Err(Problem::Gone) => return Ok(()),
    };
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(response.body.as_bytes())?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

enum Problem {
    TooLarge,
    Malformed,
    /// Closed, or silent past the deadline: nobody to answer.
    Gone,
}

/// The request's head, up to its blank line.
fn read_request(stream: &mut TcpStream) -> Result<String, Problem> {
    let deadline = Instant::now() + REQUEST_TIME;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Problem::Gone);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| Problem::Gone)?;
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Err(Problem::Gone),
            Ok(n) => n,
        };
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&head, b"\r\n\r\n").or_else(|| find(&head, b"\n\n")) {
            head.truncate(end);
            return String::from_utf8(head).map_err(|_| Problem::Malformed);
        }
        if head.len() > REQUEST_MAX {
            return Err(Problem::TooLarge);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn route(head: &str, answer: &impl Fn(&str) -> Response) -> Response {
    let mut words = head.lines().next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return plain(400, "bad request\n");
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return plain(400, "bad request\n");
    }
    if method != "GET" {
        return plain(405, "only GET\n");
    }
    let path = target.split('?').next().unwrap_or(target);
    answer(path)
}

pub fn plain(status: u16, body: &str) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(path: &str) -> Response {
        match path {
            "/metrics" => plain(200, "m 1\n"),
            "/down" => plain(503, "down\n"),
            _ => plain(404, "not found\n"),
        }
    }

    #[test]
    fn only_a_get_of_a_path_reaches_the_answer() {
        let status = |head: &str| route(head, &answer).status;
        assert_eq!(status("GET /metrics HTTP/1.1\r\nHost: x"), 200);
        assert_eq!(status("GET /metrics?x=1 HTTP/1.0"), 200);
        assert_eq!(status("GET /other HTTP/1.1"), 404);
        assert_eq!(status("POST /metrics HTTP/1.1"), 405);
        assert_eq!(status("GET metrics HTTP/1.1"), 400);
        assert_eq!(status("GET /metrics SPDY/3"), 400);
        assert_eq!(status("garbage"), 400);
        assert_eq!(status(""), 400);
    }

    /// A server on a port of its own, serving `answer` until the returned
    /// sender is dropped.
    fn server() -> (
        String,
        crossbeam_channel::Sender<()>,
        std::thread::JoinHandle<()>,
    ) {
        let listener = bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::spawn(move || serve(&listener, &stop_rx, answer));
        (addr, stop_tx, thread)
    }

    fn exchange(addr: &str, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(request);
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    }

    #[test]
    fn a_request_is_answered_within_its_size_and_the_server_stops_when_told() {
        let (addr, stop, thread) = server();
        let response = exchange(&addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            response,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n"
        );
        // Headers of 4 KiB are within bounds; of 9 KiB, not.
        let mut request = format!("GET /x HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(4096));
        assert!(exchange(&addr, request.as_bytes()).starts_with("HTTP/1.1 404 Not Found\r\n"));
        request = format!("GET /x HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9 * 1024));
        let response = exchange(&addr, request.as_bytes());
        assert!(
            response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{response:?}"
        );
        assert!(exchange(&addr, b"\xff\xfe\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
        let status = |request: &[u8]| exchange(&addr, request).lines().next().unwrap().to_string();
        assert_eq!(
            status(b"POST /metrics HTTP/1.1\n\n"),
            "HTTP/1.1 405 Method Not Allowed"
        );
        assert_eq!(
            status(b"GET /down HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 503 Service Unavailable"
        );
        assert_eq!(status(b"garbage\r\n\r\n"), "HTTP/1.1 400 Bad Request");
        drop(stop);
        thread.join().unwrap();
    }
}
