//! What the server sends, rewritten as it is read so that nothing it sends
//! can break the connection: wsship reads a server's data messages only to
//! discard them (an echo of ours, a greeting), so their content never
//! matters, only their frames' lengths.
//!
//! tungstenite fails a frame with a reserved bit set, which is how a
//! compressed message looks (RFC 7692 section 6: RSV1), and checks a text
//! message as UTF-8, which a compressed one is not. So the first byte of
//! every data frame is rewritten in place: reserved bits cleared, and text
//! made binary (a continuation stays one). Control frames are left alone:
//! their Pongs are read, and a Ping must be answered with its payload.
//!
//! It starts before the opening handshake's response, because a server may
//! write its first frames in the same packet as its `101`: tungstenite's
//! handshake reads them into its own buffer, past any later rewriting. So
//! the response's head is passed over first (up to its empty line), and
//! every byte after it is walked frame by frame, whatever the reads.

/// The state of the walk over the bytes a server sends.
#[derive(Default)]
pub struct Incoming {
    head: Head,
    /// The frame header being read: its bytes so far.
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come.
    payload: u64,
}

/// Where the walk is in the handshake's response head: its lines end in
/// CRLF (or, as HTTP parsers accept, LF), and an empty line ends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Head {
    /// Within a line.
    #[default]
    Line,
    /// Just past a line's end.
    LineStart,
    /// A CR at the start of a line: the empty line, if LF follows.
    Cr,
    /// Past the empty line: frames.
    Over,
}

impl Incoming {
    /// Passes over bytes just read, rewriting the first byte of each data
    /// frame's header in place.
    pub fn rewrite(&mut self, bytes: &mut [u8]) {
        let mut at = 0;
        while self.head != Head::Over && at < bytes.len() {
            self.head = match (self.head, bytes[at]) {
                (Head::LineStart | Head::Cr, b'\n') => Head::Over,
                (_, b'\n') => Head::LineStart,
                (Head::LineStart, b'\r') => Head::Cr,
                _ => Head::Line,
            };
            at += 1;
        }
        while at < bytes.len() {
            if self.payload > 0 {
                let take = self.payload.min((bytes.len() - at) as u64);
                self.payload -= take;
                at += take as usize;
                continue;
            }
            if self.have == 0 {
                let first = bytes[at];
                bytes[at] = match first & 0x0F {
                    // A continuation keeps its opcode; only the reserved
                    // bits go.
                    0x0 => first & !0x70,
                    0x1 | 0x2 => (first & 0x80) | 0x2,
                    _ => first,
                };
            }
            self.header[self.have] = bytes[at];
            self.have += 1;
            at += 1;
            if let Some((size, payload)) = header_size(&self.header[..self.have]) {
                if self.have == size {
                    self.have = 0;
                    self.payload = payload;
                }
            }
        }
    }
}

/// A frame header's size and its payload length, once the bytes that say
/// them are there.
fn header_size(header: &[u8]) -> Option<(usize, u64)> {
    let second = *header.get(1)?;
    let extended = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let masked = if second & 0x80 != 0 { 4 } else { 0 };
    let size = 2 + extended + masked;
    if header.len() < 2 + extended {
        // The length is not all there yet.
        return None;
    }
    let payload = match extended {
        2 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        8 => u64::from_be_bytes(header[2..10].try_into().expect("8 bytes")),
        _ => u64::from(second & 0x7F),
    };
    Some((size, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's frame: unmasked, with the given first byte.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        match payload.len() {
            0..=125 => out.push(payload.len() as u8),
            126..=0xFFFF => {
                out.push(126);
                out.extend((payload.len() as u16).to_be_bytes());
            }
            _ => {
                out.push(127);
                out.extend((payload.len() as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    /// `stream` rewritten in reads of every size given.
    #[track_caller]
    fn assert_rewritten(stream: &[u8], expected: &[u8]) {
        for read in [1, 2, 3, 7, 100, 4096, stream.len()] {
            let mut incoming = Incoming::default();
            let mut got = stream.to_vec();
            for piece in got.chunks_mut(read) {
                incoming.rewrite(piece);
            }
            assert!(got == expected, "reads of {read} bytes");
        }
    }

    #[test]
    fn data_frames_are_made_plain_binary_whatever_the_reads() {
        let long = vec![0x41; 70_000];
        const FIN: u8 = 0x80;
        const RSV1: u8 = 0x40;
        const RSV2: u8 = 0x20;
        const RSV3: u8 = 0x10;
        const TEXT: u8 = 0x1;
        const BINARY: u8 = 0x2;
        const PING: u8 = 0x9;
        const PONG: u8 = 0xA;
        // A final continuation frame is FIN and opcode 0. A masked frame
        // (which a server may not send, but its header must still be
        // walked right) has four more header bytes.
        let masked = |first: u8| [&[first, 0x80 | 3][..], b"keys", b"abc"].concat();
        let frames: Vec<u8> = [
            frame(FIN | RSV1 | TEXT, b"\xff\xfe compressed text"),
            frame(FIN | PING, b"ping"),
            frame(RSV1 | BINARY, &long[..300]),
            frame(FIN, b"the rest"),
            frame(FIN | TEXT, b"plain text, \xff not UTF-8"),
            frame(RSV1 | TEXT, b"first"),
            frame(RSV1, b"a continuation marked compressed"),
            frame(FIN | RSV2 | RSV3, b"the last"),
            frame(FIN | RSV3 | BINARY, b"an extension's bit"),
            frame(FIN | PONG, b"\x81\x7e\x00\x00 a pong"),
            masked(FIN | RSV1 | TEXT),
            frame(FIN | RSV1 | TEXT, &long),
        ]
        .concat();
        let expected: Vec<u8> = [
            frame(FIN | BINARY, b"\xff\xfe compressed text"),
            frame(FIN | PING, b"ping"),
            frame(BINARY, &long[..300]),
            frame(FIN, b"the rest"),
            frame(FIN | BINARY, b"plain text, \xff not UTF-8"),
            frame(BINARY, b"first"),
            frame(0, b"a continuation marked compressed"),
            frame(FIN, b"the last"),
            frame(FIN | BINARY, b"an extension's bit"),
            frame(FIN | PONG, b"\x81\x7e\x00\x00 a pong"),
            masked(FIN | BINARY),
            frame(FIN | BINARY, &long),
        ]
        .concat();
        let stream = [RESPONSE, &frames].concat();
        assert_rewritten(&stream, &[RESPONSE, &expected].concat());
    }

    #[test]
    fn the_response_head_is_passed_over_to_its_empty_line() {
        let greeting = frame(0x80 | 0x40 | 0x1, b"\x01\x0d\x0a\x0d\x0a");
        let plain = frame(0x80 | 0x2, b"\x01\x0d\x0a\x0d\x0a");
        // Bytes that look like frames within the head are left alone; a
        // CR or LF in a frame is not a line's end.
        let head = b"HTTP/1.1 101 OK\r\nX-Odd: \x81\x01 \r\r\n\r\n";
        assert_rewritten(
            &[head, &greeting[..]].concat(),
            &[head, &plain[..]].concat(),
        );
        // Lines that end in LF alone, as HTTP parsers accept.
        let head = b"HTTP/1.1 101 OK\nUpgrade: websocket\n\n";
        assert_rewritten(
            &[head, &greeting[..]].concat(),
            &[head, &plain[..]].concat(),
        );
        // A head not over yet rewrites nothing.
        let partial = b"HTTP/1.1 101 OK\r\n\r\x81\x01a";
        assert_rewritten(partial, partial);
    }
}
