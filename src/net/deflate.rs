//! permessage-deflate (RFC 7692): the offer, the server's answer, and the
//! compressor of one connection.
//!
//! Only our messages are compressed here: wsship discards the data messages
//! a server sends (an echo, at most), so a compressed one from the server
//! is read as an opaque binary message instead of being inflated
//! (`incoming`).

use flate2::{Compress, Compression, FlushCompress};

/// What the handshake offers: the extension, and leave to the server to
/// ask for a smaller window for our messages (section 7.1.2.1).
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// What the server agreed to for the messages we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// The LZ77 window our compressor may use, 8 to 15 (section 7.1.2.1).
    pub window_bits: u8,
    /// Whether our compressor may keep its window from one message to the
    /// next; false with client_no_context_takeover (section 7.1.1.2).
    pub takeover: bool,
}

/// The server's answer, from its Sec-WebSocket-Extensions headers: None if
/// it declined. An answer RFC 7692 says the client must fail the connection
/// on (an extension not offered, a parameter unknown or repeated or out of
/// range) is an error that says which.
pub fn agreed<'a>(headers: impl Iterator<Item = &'a str>) -> Result<Option<Agreed>, String> {
    let mut agreed = None;
    for extension in headers.flat_map(|value| value.split(',')) {
        let mut parts = extension.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        if !name.eq_ignore_ascii_case("permessage-deflate") {
            return Err(format!(
                "it chose the extension '{name}', which was not offered"
            ));
        }
        if agreed.is_some() {
            return Err("it chose permessage-deflate twice".into());
        }
        let mut terms = Agreed {
            window_bits: 15,
            takeover: true,
        };
        let mut seen: Vec<&str> = Vec::new();
        for parameter in parts {
            let (key, value) = match parameter.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim().trim_matches('"'))),
                None => (parameter, None),
            };
            if seen.contains(&key) {
                return Err(format!("it gave '{key}' twice"));
            }
            seen.push(key);
            let bits = || -> Result<u8, String> {
                value
                    .and_then(|v| v.parse::<u8>().ok())
                    .filter(|bits| (8..=15).contains(bits))
                    .ok_or(format!("'{key}' needs a number from 8 to 15"))
            };
            match (key, value) {
                ("server_no_context_takeover", None) => {}
                ("client_no_context_takeover", None) => terms.takeover = false,
                ("server_max_window_bits", _) => {
                    bits()?;
                }
                ("client_max_window_bits", _) => terms.window_bits = bits()?,
                _ => return Err(format!("it gave the unknown parameter '{parameter}'")),
            }
        }
        agreed = Some(terms);
    }
    Ok(agreed)
}

/// The compressor of one connection.
pub struct Deflate {
    compress: Compress,
    takeover: bool,
    out: Vec<u8>,
}

impl Deflate {
    /// A compressor for what was agreed, or None if it cannot honour it:
    /// zlib's raw deflate takes no window below 9 bits (asked 8, it would
    /// use 9, which a decompressor limited to 8 may fail on).
    pub fn new(agreed: Agreed, level: u32) -> Option<Deflate> {
        if agreed.window_bits < 9 {
            return None;
        }
        Some(Deflate {
            compress: Compress::new_with_window_bits(
                Compression::new(level),
                false,
                agreed.window_bits,
            ),
            takeover: agreed.takeover,
            out: Vec::new(),
        })
    }

    /// `message` compressed as section 7.2.1 says: raw deflate, ended with
    /// a sync flush whose trailing 00 00 FF FF is removed.
    pub fn compress(&mut self, message: &[u8]) -> &[u8] {
        if !self.takeover {
            self.compress.reset();
        }
        self.out.clear();
        // Deflate grows incompressible input by a few bytes per 16 KiB
        // block; a sync flush adds at most a block header and the marker.
        self.out.reserve(message.len() + message.len() / 1000 + 64);
        let start = self.compress.total_in();
        loop {
            let done = (self.compress.total_in() - start) as usize;
            let result =
                self.compress
                    .compress_vec(&message[done..], &mut self.out, FlushCompress::Sync);
            let consumed = (self.compress.total_in() - start) as usize == message.len();
            // Finished once all is in and the output did not fill up (a full
            // buffer may hold back the rest of the flush).
            if result.is_err() || (consumed && self.out.len() < self.out.capacity()) {
                break;
            }
            self.out.reserve(self.out.capacity().max(64));
        }
        if self.out.ends_with(&[0, 0, 0xFF, 0xFF]) {
            self.out.truncate(self.out.len() - 4);
        }
        // Nothing to flush (an empty message after another sync flush)
        // makes zlib write nothing; section 7.2.3.6 spells an empty message
        // as one 0x00 byte, an empty stored block once 00 00 FF FF is back.
        if self.out.is_empty() {
            self.out.push(0);
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn answer(values: &[&str]) -> Result<Option<Agreed>, String> {
        agreed(values.iter().copied())
    }

    #[test]
    fn the_answer_is_read_as_rfc_7692_says() {
        assert_eq!(answer(&[]), Ok(None));
        let full = Agreed {
            window_bits: 15,
            takeover: true,
        };
        assert_eq!(answer(&["permessage-deflate"]), Ok(Some(full)));
        assert_eq!(
            answer(&["permessage-deflate; client_no_context_takeover; server_max_window_bits=10"]),
            Ok(Some(Agreed {
                window_bits: 15,
                takeover: false
            }))
        );
        // What the server does with its own compressor is its business.
        assert_eq!(
            answer(&["permessage-deflate; server_no_context_takeover"]),
            Ok(Some(full))
        );
        assert_eq!(
            answer(&["PerMessage-Deflate ;client_max_window_bits=\"9\""]),
            Ok(Some(Agreed {
                window_bits: 9,
                takeover: true
            }))
        );
        for (bad, says) in [
            ("x-webkit-deflate-frame", "not offered"),
            ("permessage-deflate; foo", "unknown parameter"),
            ("permessage-deflate; client_max_window_bits=16", "8 to 15"),
            ("permessage-deflate; client_max_window_bits", "8 to 15"),
            ("permessage-deflate; server_max_window_bits=7", "8 to 15"),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                "twice",
            ),
            ("permessage-deflate, permessage-deflate", "twice"),
        ] {
            let err = answer(&[bad]).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// Inflates messages compressed by `deflate`, as a server would.
    fn inflate(inflater: &mut Decompress, compressed: &[u8]) -> Vec<u8> {
        let mut input = compressed.to_vec();
        input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
        let mut out = Vec::with_capacity(1 << 20);
        inflater
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[test]
    fn messages_inflate_back_with_and_without_takeover() {
        let messages: Vec<Vec<u8>> = (0..50)
            .map(|i| {
                format!("{{\"timestamp\":\"2026-12-01\",\"message\":\"line {i} of the log\"}}")
                    .into_bytes()
            })
            .chain([
                vec![],
                (0..70_000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            ])
            .collect();
        for (takeover, bits) in [(true, 15), (false, 15), (true, 9)] {
            let agreed = Agreed {
                window_bits: bits,
                takeover,
            };
            let mut deflate = Deflate::new(agreed, 6).unwrap();
            let mut inflater = Decompress::new_with_window_bits(false, bits);
            let mut sizes = Vec::new();
            for message in &messages {
                let compressed = deflate.compress(message).to_vec();
                assert!(!compressed.ends_with(&[0, 0, 0xFF, 0xFF]));
                sizes.push(compressed.len());
                if !takeover {
                    inflater.reset(false);
                }
                assert_eq!(&inflate(&mut inflater, &compressed), message, "{agreed:?}");
            }
            // With takeover, a message like the last is mostly references.
            if takeover {
                assert!(sizes[10] < sizes[0], "{sizes:?}");
            }
        }
    }

    #[test]
    fn a_window_of_8_bits_is_not_honoured_by_compressing() {
        let agreed = Agreed {
            window_bits: 8,
            takeover: true,
        };
        assert!(Deflate::new(agreed, 1).is_none());
    }
}
