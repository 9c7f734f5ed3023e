//! Where a message comes from, as --path-key, --offset-key and --id-key
//! write it, and the ids themselves.
//!
//! An id names one line (or one event) of one input: the same bytes at the
//! same place in the same file give the same id in every send, in this run
//! or the next, so that a server can drop resends; anything else gives
//! another. Pure: what the reader knows of its input in, ids out.
//!
//! - **A file** is known by what wsship already uses to recognise it
//!   across rotations and restarts (`input::record`): its inode and its
//!   first bytes, never its device number, which changes across reboots on
//!   some filesystems. The id of a line from `start` to `end` hashes the
//!   inode, the file's bytes from its start up to `end` (at most the first
//!   `COVERED`), `start` and `end`. So a line within the first KiB is known
//!   by everything before it and itself, and a file truncated and written
//!   again, or a new file on a reused inode, gives its lines new ids unless
//!   it starts with the very same bytes. For those too, the record's
//!   generation (`ledger::Record`: how many files wsship saw on the inode
//!   before) goes in once wsship has seen the change, in this run or, with
//!   --state, an earlier one. Everything else is read again from the file,
//!   so a crash at any moment cannot change an id.
//! - **A stream** (standard input, a pipe) cannot be read twice: its key
//!   is drawn at random when it is opened, and the id hashes the key with
//!   the line's offset in the stream. The same across every resend within
//!   the run, never across runs.
//!
//! The hash is XXH3-128: specified, so ids are the same from every build
//! and platform, and one hash of 32 bytes per line costs a few
//! nanoseconds. It guards against accident, not against someone who can
//! write the log and wants two lines to collide.

use xxhash_rust::xxh3::xxh3_128;

use crate::ledger::FINGERPRINT_MAX;

/// The most bytes of a file's start that its ids cover: as many as the
/// fingerprint that tells a file from a later one on its inode, which the
/// reader keeps.
pub const COVERED: usize = FINGERPRINT_MAX;

/// What the reader knows of the input whose lines are being encoded.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// Standard input, a pipe, a FIFO: no path, and a key drawn at random.
    Stream { key: u128 },
    /// A regular file: the name it had when wsship first opened it
    /// (absolute), its inode, and its first bytes as read so far (up to
    /// `COVERED`).
    File {
        path: &'a str,
        ino: u64,
        /// How many files wsship saw on the inode before this one.
        generation: u32,
        head: &'a [u8],
    },
}

/// The ids of one input's lines.
#[derive(Debug, Default)]
pub struct Ids {
    basis: Basis,
}

#[derive(Debug, Default)]
enum Basis {
    #[default]
    None,
    Stream(u128),
    File {
        ino: u64,
        generation: u32,
        head: Vec<u8>,
        /// The key of every line that ends past the first `COVERED` bytes.
        whole: Option<u128>,
    },
}

impl Ids {
    /// The input whose lines come next.
    pub fn set(&mut self, origin: Origin<'_>) {
        match origin {
            Origin::Stream { key } => self.basis = Basis::Stream(key),
            Origin::File {
                ino,
                generation,
                head,
                ..
            } => {
                let head = &head[..head.len().min(COVERED)];
                // Set for every read: hashed again only when it changed.
                if let Basis::File {
                    ino: have,
                    generation: had,
                    head: kept,
                    ..
                } = &self.basis
                {
                    if (*have, *had, &kept[..]) == (ino, generation, head) {
                        return;
                    }
                }
                let whole = (head.len() == COVERED).then(|| file_key(ino, generation, head));
                match &mut self.basis {
                    Basis::File {
                        ino: have,
                        generation: had,
                        head: kept,
                        whole: kept_whole,
                    } => {
                        (*have, *had) = (ino, generation);
                        kept.clear();
                        kept.extend_from_slice(head);
                        *kept_whole = whole;
                    }
                    basis => {
                        *basis = Basis::File {
                            ino,
                            generation,
                            head: head.to_vec(),
                            whole,
                        }
                    }
                }
            }
        }
    }

    /// The id of the line (or event) from `start` to `end` in the input.
    #[inline]
    pub fn id(&self, start: u64, end: u64) -> u128 {
        let key = match &self.basis {
            Basis::None => 0,
            Basis::Stream(key) => *key,
            Basis::File {
                ino,
                generation,
                head,
                whole,
            } => match whole {
                Some(key) if end >= COVERED as u64 => *key,
                // The bytes up to the line's end, which were read before
                // it was: all of them unless the file shrank under us.
                _ => file_key(*ino, *generation, &head[..head.len().min(end as usize)]),
            },
        };
        let mut bytes = [0; 32];
        bytes[..16].copy_from_slice(&key.to_le_bytes());
        bytes[16..24].copy_from_slice(&start.to_le_bytes());
        bytes[24..].copy_from_slice(&end.to_le_bytes());
        xxh3_128(&bytes)
    }
}

/// What an id takes from a file: its inode, generation and first bytes.
fn file_key(ino: u64, generation: u32, head: &[u8]) -> u128 {
    let mut bytes = [0; 20 + COVERED];
    bytes[..8].copy_from_slice(&ino.to_le_bytes());
    bytes[8..12].copy_from_slice(&generation.to_le_bytes());
    bytes[12..20].copy_from_slice(&(head.len() as u64).to_le_bytes());
    bytes[20..20 + head.len()].copy_from_slice(head);
    xxh3_128(&bytes[..20 + head.len()])
}

/// Each byte's two lowercase hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    pairs
};

/// Each number below 100 as two decimal digits.
const DECIMAL_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// Appends `id` as 32 lowercase hex digits: a pair of digits per byte,
/// looked up, since this runs for every line with --id-key.
#[inline]
pub fn push_hex(id: u128, out: &mut Vec<u8>) {
    let mut digits = [0; 32];
    for (pair, byte) in digits.chunks_exact_mut(2).zip(id.to_be_bytes()) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
    out.extend_from_slice(&digits);
}

/// Appends `n` in decimal, two digits at a time.
#[inline]
pub fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0; 20];
    let mut at = digits.len();
    while n >= 100 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DECIMAL_PAIRS[(n % 100) as usize]);
        n /= 100;
    }
    if n >= 10 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DECIMAL_PAIRS[n as usize]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(origin: Origin<'_>) -> Ids {
        let mut ids = Ids::default();
        ids.set(origin);
        ids
    }

    fn file<'a>(ino: u64, head: &'a [u8]) -> Origin<'a> {
        Origin::File {
            path: "/var/log/app.log",
            ino,
            generation: 0,
            head,
        }
    }

    #[test]
    fn the_same_line_of_the_same_file_has_the_same_id_however_much_was_read() {
        let content: Vec<u8> = (0..3000).map(|i| b"abcdefghij\n"[i % 11]).collect();
        // Read up to its first line, its first KiB, or all of it.
        for (start, end) in [(0, 11), (11, 22), (1023, 1034), (2200, 2211)] {
            let a = ids(file(7, &content[..end.max(11)])).id(start, end as u64);
            let b = ids(file(7, &content[..COVERED])).id(start, end as u64);
            let c = ids(file(7, &content)).id(start, end as u64);
            assert_eq!((a, b), (c, c), "line at {start}");
        }
    }

    #[test]
    fn another_line_offset_file_or_content_has_another_id() {
        let head = b"first line\nfirst line\n";
        let one = ids(file(7, head));
        let mut seen = std::collections::HashSet::new();
        // Identical text at two offsets; a line cut short at its file's end.
        assert!(seen.insert(one.id(0, 11)));
        assert!(seen.insert(one.id(11, 22)));
        assert!(seen.insert(one.id(11, 15)));
        // The same place in another inode, or in other content on it (a
        // copytruncate, a reused inode).
        assert!(seen.insert(ids(file(8, head)).id(0, 11)));
        assert!(seen.insert(ids(file(7, b"other line\n")).id(0, 11)));
        // The same content on the same inode, once wsship saw it replaced.
        let again = Origin::File {
            path: "/var/log/app.log",
            ino: 7,
            generation: 1,
            head,
        };
        assert!(seen.insert(ids(again).id(0, 11)));
        // Past the first KiB, the first KiB still tells files apart.
        let mut long = vec![b'x'; 2000];
        assert!(seen.insert(ids(file(7, &long)).id(1500, 1600)));
        long[COVERED - 1] = b'y';
        assert!(seen.insert(ids(file(7, &long)).id(1500, 1600)));
        long[COVERED] = b'z';
        assert!(!seen.insert(ids(file(7, &long)).id(1500, 1600)));
        // Streams: by their key and offset.
        let stream = ids(Origin::Stream { key: 1 });
        assert!(seen.insert(stream.id(0, 11)));
        assert!(seen.insert(stream.id(11, 22)));
        assert!(seen.insert(ids(Origin::Stream { key: 2 }).id(0, 11)));
        assert_eq!(stream.id(11, 22), ids(Origin::Stream { key: 1 }).id(11, 22));
    }

    #[test]
    fn an_input_set_again_replaces_the_last() {
        let mut ids = Ids::default();
        ids.set(file(7, &[b'a'; 2000]));
        let a = ids.id(1500, 1600);
        ids.set(file(7, b"short\n"));
        assert_ne!(ids.id(1500, 1600), a);
        ids.set(file(7, &[b'a'; 2000]));
        assert_eq!(ids.id(1500, 1600), a);
        ids.set(Origin::Stream { key: 3 });
        assert_ne!(ids.id(1500, 1600), a);
    }

    #[test]
    fn ids_are_stable_across_builds_and_platforms() {
        // Pinned: a change here changes every id ever sent.
        let mut ids = Ids::default();
        ids.set(file(42, b"2026-12-04 app started\n"));
        let mut out = Vec::new();
        push_hex(ids.id(0, 23), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "106ba74abdd2681b66283d38a44448ff"
        );
    }

    #[test]
    fn hex_and_decimal() {
        let mut out = Vec::new();
        push_hex(0x0123_4567_89ab_cdef_0000_0000_0000_00ff, &mut out);
        assert_eq!(out, b"0123456789abcdef00000000000000ff");
        for n in [0, 7, 9, 10, 99, 100, 101, 999, 1000, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(n, &mut out);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
