//! A minimal WebSocket receiver for trying wsship: prints every message it
//! gets, one per line, on stdout.
//!
//!     cargo run --example receiver -- [ADDR] [--once] [--count] [--unique-by KEY]
//!
//! ADDR defaults to 127.0.0.1:9001. The first line printed is
//! `listening on ws://ADDR`, written once the port is open (with port 0, the
//! port the system chose), so a script can wait for it. With --once it exits when its first connection closes. With
//! --count it prints, instead of each message, one line per connection when
//! it closes: `<messages> messages, <bytes> bytes`.
//!
//! With --unique-by KEY it keeps only the first message with each value of
//! the JSON member KEY (as wsship's --id-key writes it), over every
//! connection, and drops the rest as duplicates, saying on stderr how many
//! when a connection closes: what a server does to turn at-least-once
//! delivery into effectively-once. It remembers every value it has seen,
//! which a real server would bound (by time, or by keeping ids in its
//! store).

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use tungstenite::Message;

fn main() {
    let mut addr = "127.0.0.1:9001".to_string();
    let (mut once, mut count, mut unique_by) = (false, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--once" => once = true,
            "--count" => count = true,
            "--unique-by" => match args.next() {
                Some(key) => unique_by = Some(key),
                None => {
                    eprintln!("receiver: --unique-by needs a KEY");
                    std::process::exit(2);
                }
            },
            _ => addr = arg,
        }
    }
    let unique = unique_by.map(|key| Unique {
        key,
        seen: Arc::default(),
    });
    let listener = match TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("receiver: cannot listen on {addr}: {err}");
            std::process::exit(1);
        }
    };
    // The address bound: with port 0, the one the system chose.
    let bound = listener.local_addr().map_or(addr, |a| a.to_string());
    println!("listening on ws://{bound}");
    let _ = io::stdout().flush();
    for stream in listener.incoming().flatten() {
        let unique = unique.clone();
        if once {
            serve(stream, count, unique);
            return;
        }
        thread::spawn(move || serve(stream, count, unique));
    }
}

/// --unique-by: the member that names a message, and every value of it
/// seen so far (with the count of duplicates dropped).
#[derive(Clone)]
struct Unique {
    key: String,
    seen: Arc<Mutex<(HashSet<String>, u64)>>,
}

impl Unique {
    /// Whether a message is new: its KEY has a value not seen before (a
    /// message without one is kept).
    fn first(&self, text: &str) -> bool {
        let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let Some(id) = value.as_ref().and_then(|v| v.get(&self.key)) else {
            return true;
        };
        let mut seen = self.seen.lock().unwrap();
        let new = seen.0.insert(id.to_string());
        seen.1 += u64::from(!new);
        new
    }
}

fn serve(stream: TcpStream, count: bool, unique: Option<Unique>) {
    let mut ws = match tungstenite::accept(stream) {
        Ok(ws) => ws,
        Err(err) => return eprintln!("receiver: handshake failed: {err}"),
    };
    let (mut messages, mut bytes) = (0u64, 0u64);
    loop {
        match ws.read() {
            Ok(Message::Text(text)) if unique.as_ref().is_some_and(|u| !u.first(&text)) => {}
            Ok(Message::Text(text)) if count => {
                messages += 1;
                bytes += text.len() as u64;
            }
            Ok(Message::Text(text)) => {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Ok(_) => {}
            // The client's Close (answered by tungstenite) or a dropped link.
            Err(_) => break,
        }
    }
    if count {
        println!("{messages} messages, {bytes} bytes");
    }
    if let Some(unique) = unique {
        let dropped = unique.seen.lock().unwrap().1;
        eprintln!(
            "receiver: {dropped} duplicates dropped so far (same {})",
            unique.key
        );
    }
}
