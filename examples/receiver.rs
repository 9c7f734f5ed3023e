//! A minimal WebSocket receiver for trying wsship: prints every message it
//! gets, one per line, on stdout.
//!
//!     cargo run --example receiver -- [ADDR] [--once] [--count]
//!
//! ADDR defaults to 127.0.0.1:9001. The first line printed is
//! `listening on ws://ADDR`, written once the port is open, so a script can
//! wait for it. With --once it exits when its first connection closes. With
//! --count it prints, instead of each message, one line per connection when
//! it closes: `<messages> messages, <bytes> bytes`.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use tungstenite::Message;

fn main() {
    let mut addr = "127.0.0.1:9001".to_string();
    let (mut once, mut count) = (false, false);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            "--count" => count = true,
            _ => addr = arg,
        }
    }
    let listener = match TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("receiver: cannot listen on {addr}: {err}");
            std::process::exit(1);
        }
    };
    println!("listening on ws://{addr}");
    let _ = io::stdout().flush();
    for stream in listener.incoming().flatten() {
        if once {
            serve(stream, count);
            return;
        }
        thread::spawn(move || serve(stream, count));
    }
}

fn serve(stream: TcpStream, count: bool) {
    let mut ws = match tungstenite::accept(stream) {
        Ok(ws) => ws,
        Err(err) => return eprintln!("receiver: handshake failed: {err}"),
    };
    let (mut messages, mut bytes) = (0u64, 0u64);
    loop {
        match ws.read() {
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
}
