//! WebSocket frames as a client sends them (RFC 6455 section 5.2), written
//! by hand straight into the reader's chunk buffer.
//!
//! tungstenite opens the connection, reads what the server sends and writes
//! the control frames it owes (Pong, Close). Our data frames do not go
//! through it: it would copy and mask every message once more on the worker
//! thread, behind a `Message` per line. Instead the reader writes each frame
//! into its chunk, and the worker hands whole runs of frames to the kernel
//! without touching a byte. A message whose length is known before it is
//! written (most: a line with nothing to escape) goes header first, masked
//! as it is copied; any other is written after room for its header, which
//! is filled in, and the payload masked, once the message is complete.

use std::mem::MaybeUninit;

use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;

pub const TEXT: u8 = 0x1;
pub const PING: u8 = 0x9;
/// Set beside the opcode of a message compressed with permessage-deflate
/// (RFC 7692 section 6).
pub const RSV1: u8 = 0x40;

/// Header bytes of a client frame with a payload of `len` bytes: two, the
/// extended length (16 or 64 bits), and the 4-byte masking key.
pub fn header_len(len: usize) -> usize {
    let extended = match len {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    };
    2 + extended + 4
}

/// A frame being written: its header is filled in once its payload, which
/// follows at `start + header`, is complete.
pub struct Open {
    start: usize,
    header: usize,
}

/// Starts a frame at the end of `out`, leaving room for the header of a
/// payload of about `expected` bytes. The caller appends the payload.
pub fn begin(out: &mut Vec<u8>, expected: usize) -> Open {
    let start = out.len();
    let header = header_len(expected);
    out.resize(start + header, 0);
    Open { start, header }
}

/// Completes the frame begun by `open`: one final frame (FIN set) of
/// `opcode`, masked with `key` (section 5.3). Returns the payload length.
pub fn end(out: &mut Vec<u8>, open: Open, opcode: u8, key: [u8; 4]) -> usize {
    let len = out.len() - open.start - open.header;
    let header = header_len(len);
    // Escaping made the payload cross a length class: move it to fit the
    // header it needs. Rare, and a memmove of one message when it happens.
    if header != open.header {
        let payload = open.start + open.header;
        if header > open.header {
            out.resize(out.len() + header - open.header, 0);
            out.copy_within(payload..payload + len, open.start + header);
        } else {
            out.copy_within(payload..payload + len, open.start + header);
            out.truncate(open.start + header + len);
        }
    }
    let at = &mut out[open.start..];
    at[..header].copy_from_slice(&header_bytes(opcode, len, key)[..header]);
    apply_mask(&mut at[header..header + len], key);
    len
}

/// A final frame's header (FIN set) in its first `header_len(len)` bytes.
fn header_bytes(opcode: u8, len: usize, key: [u8; 4]) -> [u8; 14] {
    let mut at = [0; 14];
    at[0] = 0x80 | opcode;
    let key_at = match len {
        0..=125 => {
            at[1] = 0x80 | len as u8;
            2
        }
        126..=0xFFFF => {
            at[1] = 0x80 | 126;
            at[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            at[1] = 0x80 | 127;
            at[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    };
    at[key_at..key_at + 4].copy_from_slice(&key);
    at
}

/// Appends a whole frame of `opcode` (FIN set) whose payload is `parts`,
/// one after another: the header, then each part copied and masked as it
/// goes, with one reservation for all. Returns the payload's length.
#[inline(always)]
pub fn append_frame(out: &mut Vec<u8>, opcode: u8, parts: [&[u8]; 3], key: [u8; 4]) -> usize {
    let len = parts.iter().map(|part| part.len()).sum();
    let header = header_len(len);
    let bytes = header_bytes(opcode, len, key);
    // Room for all fourteen header bytes, written whole (a fixed-size copy
    // the compiler inlines) and partly covered by the payload after them.
    out.reserve(bytes.len().max(header + len));
    let start = out.len();
    let spare = out.spare_capacity_mut();
    for (to, &from) in spare.iter_mut().zip(&bytes) {
        to.write(from);
    }
    let key = u32::from_le_bytes(key);
    let mut at = header;
    for part in parts {
        let key = key.rotate_right(8 * ((at - header) % 4) as u32);
        copy_masked(part, &mut spare[at..at + part.len()], key);
        at += part.len();
    }
    // SAFETY: the header's bytes and every payload byte after them were
    // written above, within the capacity reserved.
    unsafe { out.set_len(start + header + len) };
    len
}

/// Masks `src` into `dst` (as long), `key` falling on src[0]: in blocks of
/// sixteen, else words of eight, then a byte at a time.
#[inline]
fn copy_masked(src: &[u8], dst: &mut [MaybeUninit<u8>], key: u32) {
    // The blocks take all of it or, below sixteen bytes, none.
    #[cfg(target_arch = "x86_64")]
    let done = match copy_masked_blocks(src, dst, key) {
        0 => copy_masked_words(src, dst, key),
        all => all,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = copy_masked_words(src, dst, key);
    let key = key.to_le_bytes();
    for i in done..src.len() {
        dst[i].write(src[i] ^ key[i % 4]);
    }
}

/// Masks `src` into `dst` eight bytes at a time, as far as whole words go;
/// returns how many bytes it wrote. `key` falls on src[0].
#[inline]
fn copy_masked_words(src: &[u8], dst: &mut [MaybeUninit<u8>], key: u32) -> usize {
    let key = u64::from(key) | u64::from(key) << 32;
    let mut done = 0;
    for (to, from) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        let word = u64::from_le_bytes(from.try_into().expect("8 bytes")) ^ key;
        for (to, byte) in to.iter_mut().zip(word.to_le_bytes()) {
            to.write(byte);
        }
        done += 8;
    }
    done
}

/// Masks `src` into `dst` sixteen bytes at a time; returns how many bytes
/// it wrote, from the start: all of them, or none if there are fewer than
/// sixteen (the rest is left to the caller).
#[cfg(target_arch = "x86_64")]
#[inline]
fn copy_masked_blocks(src: &[u8], dst: &mut [MaybeUninit<u8>], key: u32) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
    };
    let len = src.len().min(dst.len());
    if len < 16 {
        return 0;
    }
    // SAFETY: SSE2 is part of every x86_64 CPU. Every load reads 16 bytes
    // of `src` and every store writes 16 bytes of `dst`, both below `len`.
    unsafe {
        let mut block = |at: usize, key: u32| {
            let data = _mm_loadu_si128(src.as_ptr().add(at).cast::<__m128i>());
            let masked = _mm_xor_si128(data, _mm_set1_epi32(key as i32));
            _mm_storeu_si128(dst.as_mut_ptr().add(at).cast::<__m128i>(), masked);
        };
        let mut at = 0;
        while at + 16 <= len {
            block(at, key);
            at += 16;
        }
        // The last bytes: the block that ends with them, masked again from
        // where it overlaps (to the same bytes) rather than a byte at a time.
        if at < len {
            let last = len - 16;
            block(last, key.rotate_right(8 * (last % 4) as u32));
        }
    }
    len
}

/// XORs `payload` with the masking key: 32 bytes at a time in a loop the
/// compiler turns into vector instructions, then eight, then one.
pub fn apply_mask(payload: &mut [u8], key: [u8; 4]) {
    let mut wide = [0; 32];
    for (i, byte) in wide.iter_mut().enumerate() {
        *byte = key[i % 4];
    }
    let mut blocks = payload.chunks_exact_mut(32);
    for block in &mut blocks {
        for (byte, k) in block.iter_mut().zip(&wide) {
            *byte ^= k;
        }
    }
    // Each remainder starts at a multiple of 4, so the key starts over too.
    let word_key = u64::from_ne_bytes(wide[..8].try_into().expect("8 bytes"));
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ word_key;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, k) in words.into_remainder().iter_mut().zip(&wide) {
        *byte ^= k;
    }
}

/// A whole small frame, such as a Ping carrying a sequence number.
pub fn control(opcode: u8, payload: &[u8], key: [u8; 4]) -> Bytes {
    let mut out = Vec::with_capacity(header_len(payload.len()) + payload.len());
    let open = begin(&mut out, payload.len());
    out.extend_from_slice(payload);
    end(&mut out, open, opcode, key);
    Bytes::from(out)
}

/// Masking keys: a fresh one per frame from a cryptographically secure
/// generator seeded by the system, as section 5.3 requires (whoever writes
/// the log chooses the payload, and must not be able to predict the bytes
/// on the wire), drawn a block at a time.
pub struct Masks {
    rng: StdRng,
    keys: [u8; 1024],
    next: usize,
}

impl Masks {
    pub fn new() -> Masks {
        Masks {
            rng: rand::make_rng(),
            keys: [0; 1024],
            next: 1024,
        }
    }

    pub fn key(&mut self) -> [u8; 4] {
        if self.next == self.keys.len() {
            self.rng.fill_bytes(&mut self.keys);
            self.next = 0;
        }
        let key = self.keys[self.next..self.next + 4]
            .try_into()
            .expect("4 bytes");
        self.next += 4;
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::tests::at_the_edge_of_memory;
    use std::io::Cursor;
    use tungstenite::protocol::frame::FrameHeader;
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

    /// Parses one frame with tungstenite's own parser and unmasks it.
    fn parse(frame: &[u8]) -> (FrameHeader, Vec<u8>) {
        let mut cursor = Cursor::new(frame);
        let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
        let start = cursor.position() as usize;
        assert_eq!(start + len as usize, frame.len(), "length field");
        let mut payload = frame[start..].to_vec();
        apply_mask(&mut payload, header.mask.unwrap());
        (header, payload)
    }

    #[test]
    fn every_length_class_parses_back_even_when_the_guess_was_wrong() {
        for len in [0, 1, 7, 125, 126, 127, 0xFFFF, 0x10000, 70_000] {
            for expected in [0, 125, 126, 0x10000] {
                let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let mut out = b"before".to_vec();
                let open = begin(&mut out, expected);
                out.extend_from_slice(&payload);
                assert_eq!(end(&mut out, open, TEXT, [1, 2, 3, 0xff]), len);
                assert_eq!(&out[..6], b"before");
                let (header, back) = parse(&out[6..]);
                assert!(header.is_final);
                assert_eq!(header.opcode, OpCode::Data(Data::Text));
                assert_eq!(header.mask, Some([1, 2, 3, 0xff]));
                assert!(back == payload, "length {len}, guessed {expected}");
            }
        }
    }

    #[test]
    fn a_frame_of_three_parts_is_masked_as_one_payload_at_every_split() {
        let key = [0xa5, 0x5a, 0x0f, 0xf0];
        let payload: Vec<u8> = (0..70).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..payload.len() {
            // A load past the payload's end faults rather than passing.
            at_the_edge_of_memory(&payload[..len], |payload| {
                for first in 0..=len.min(20) {
                    for second in (first..=len).step_by(3) {
                        let parts = [
                            &payload[..first],
                            &payload[first..second],
                            &payload[second..],
                        ];
                        let mut out = b"pre".to_vec();
                        assert_eq!(append_frame(&mut out, TEXT, parts, key), len);
                        assert_eq!(out[..3], *b"pre");
                        let (header, back) = parse(&out[3..]);
                        assert_eq!(header.mask, Some(key));
                        assert!(back == payload, "len {len}, split {first}/{second}");
                    }
                }
            });
        }
    }

    #[test]
    fn the_word_loop_alone_masks_whole_words() {
        // What other architectures use for everything, checked here too.
        let key = [0xa5, 0x5a, 0x0f, 0xf0];
        for len in 0..40 {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut dst = vec![MaybeUninit::new(0); len];
            let done = copy_masked_words(&src, &mut dst, u32::from_le_bytes(key));
            assert_eq!(done, len / 8 * 8);
            let mut expected = src[..done].to_vec();
            apply_mask(&mut expected, key);
            // SAFETY: initialised above.
            let masked: Vec<u8> = dst[..done]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            assert_eq!(masked, expected, "len {len}");
        }
    }

    #[test]
    fn a_frame_of_every_length_class_parses_back() {
        for len in [0, 1, 125, 126, 0xFFFF, 0x10000, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            let parts = [
                &payload[..len / 3],
                &payload[len / 3..len / 2],
                &payload[len / 2..],
            ];
            append_frame(&mut out, TEXT, parts, [1, 2, 3, 4]);
            assert_eq!(out.len(), header_len(len) + len);
            let (header, back) = parse(&out);
            assert!(header.is_final);
            assert_eq!(header.mask, Some([1, 2, 3, 4]));
            assert!(back == payload, "length {len}");
        }
    }

    #[test]
    fn a_ping_carries_its_payload() {
        let frame = control(PING, &7u64.to_be_bytes(), [9, 8, 7, 6]);
        let (header, payload) = parse(&frame);
        assert_eq!(header.opcode, OpCode::Control(Control::Ping));
        assert_eq!(payload, 7u64.to_be_bytes());
    }

    #[test]
    fn masking_twice_restores_any_length() {
        for len in 0..40 {
            let original: Vec<u8> = (0..len as u8).collect();
            let mut data = original.clone();
            apply_mask(&mut data, [0xa5, 0x5a, 0x0f, 0xf0]);
            if len > 0 {
                assert_ne!(data, original);
            }
            apply_mask(&mut data, [0xa5, 0x5a, 0x0f, 0xf0]);
            assert_eq!(data, original);
        }
    }

    #[test]
    fn keys_change_from_frame_to_frame() {
        let mut masks = Masks::new();
        let keys: std::collections::HashSet<[u8; 4]> = (0..1000).map(|_| masks.key()).collect();
        assert!(keys.len() > 990, "{} distinct keys", keys.len());
    }
}
