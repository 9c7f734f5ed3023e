//! The frames of a batch that the reader could not write itself, because
//! they depend on the connection: with --message-per batch, the batch's
//! messages joined into one; with --compress, each message compressed by
//! this connection's deflate stream (RFC 7692). The reader hands such
//! batches over as sized messages (`encode::Sized`); the worker that owns
//! the connection frames them as it writes, so that a batch written again
//! after a reconnect is compressed again by the new connection's stream: a
//! compressed frame is never reused across connections.

use crate::encode::Sized;
use crate::encode::frame::{self, Masks};
use crate::net::deflate::Deflate;
use crate::units::Batch;

pub struct Framer {
    per_batch: bool,
    deflate: Option<Deflate>,
    masks: Masks,
    joined: Vec<u8>,
}

impl Framer {
    pub fn new(per_batch: bool, deflate: Option<Deflate>) -> Framer {
        Framer {
            per_batch,
            deflate,
            masks: Masks::new(),
            joined: Vec::new(),
        }
    }

    /// Appends the frames of `batch` to `out`.
    pub fn frames(&mut self, batch: &Batch, out: &mut Vec<u8>) {
        let messages = batch.parts().flat_map(|part| Sized::messages(part));
        if !self.per_batch {
            for message in messages {
                self.frame(message, out);
            }
            return;
        }
        // One message: newline-delimited, as NDJSON is.
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        for (i, message) in messages.enumerate() {
            if i > 0 {
                joined.push(b'\n');
            }
            joined.extend_from_slice(message);
        }
        self.frame(&joined, out);
        self.joined = joined;
    }

    fn frame(&mut self, message: &[u8], out: &mut Vec<u8>) {
        let key = self.masks.key();
        match &mut self.deflate {
            Some(deflate) => {
                let compressed = deflate.compress(message);
                frame::append_frame(out, frame::TEXT | frame::RSV1, [compressed, &[], &[]], key);
            }
            None => {
                frame::append_frame(out, frame::TEXT, [message, &[], &[]], key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Format, Shape};
    use crate::encode::{Encoder, Framing};
    use crate::net::deflate::Agreed;
    use bytes::Bytes;
    use flate2::{Decompress, FlushDecompress};

    /// A batch of `lines`, sized as the reader writes them for a framer.
    fn batch(lines: &[&str]) -> Batch {
        let mut encoder = Encoder::new(Format::Raw, &Shape::default(), Framing::Sized);
        let mut out = Vec::new();
        for line in lines {
            encoder.encode(line.as_bytes(), false, &mut out);
        }
        let mut batch = Batch::default();
        batch.append(Bytes::from(out), lines.len(), lines.len(), 0);
        batch
    }

    /// Each frame in `bytes`: (first header byte, unmasked payload).
    fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (first, second) = (bytes[0], bytes[1] & 0x7F);
            let (len, at) = match second {
                126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                len => (len as usize, 2),
            };
            let key: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            let mut payload = bytes[at + 4..at + 4 + len].to_vec();
            frame::apply_mask(&mut payload, key);
            out.push((first, payload));
            bytes = &bytes[at + 4 + len..];
        }
        out
    }

    #[test]
    fn a_frame_per_line_or_one_per_batch() {
        let lines = ["one", "two", "three"];
        let mut out = Vec::new();
        Framer::new(false, None).frames(&batch(&lines), &mut out);
        let got: Vec<(u8, Vec<u8>)> = frames(&out);
        let want: Vec<(u8, Vec<u8>)> = lines
            .iter()
            .map(|l| (0x81, l.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
        let mut out = Vec::new();
        Framer::new(true, None).frames(&batch(&lines), &mut out);
        assert_eq!(frames(&out), [(0x81, b"one\ntwo\nthree".to_vec())]);
    }

    #[test]
    fn compressed_frames_set_rsv1_and_inflate_to_the_messages() {
        let agreed = Agreed {
            window_bits: 15,
            takeover: true,
        };
        let lines = ["{\"message\":\"alpha\"}", "{\"message\":\"alpha\"}", "x"];
        for per_batch in [false, true] {
            let mut framer = Framer::new(per_batch, Deflate::new(agreed, 1));
            let mut out = Vec::new();
            framer.frames(&batch(&lines), &mut out);
            let mut inflater = Decompress::new(false);
            let mut messages = Vec::new();
            for (first, mut payload) in frames(&out) {
                assert_eq!(first, 0x80 | 0x40 | 0x1, "FIN, RSV1, text");
                payload.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
                let mut message = Vec::with_capacity(1024);
                inflater
                    .decompress_vec(&payload, &mut message, FlushDecompress::Sync)
                    .unwrap();
                messages.push(String::from_utf8(message).unwrap());
            }
            let want: Vec<String> = match per_batch {
                false => lines.iter().map(|l| l.to_string()).collect(),
                true => vec![lines.join("\n")],
            };
            assert_eq!(messages, want);
        }
    }
}
