//! The spool's record format, pure: how a line is written into a segment,
//! and how a segment's bytes are read back, whatever damage they took.
//!
//! A segment starts with `MAGIC`, then holds records back to back:
//!
//! ```text
//! crc: u32 LE | len: u32 LE | seq: u64 LE | time: i64 LE | line: len bytes
//! ```
//!
//! The top bit of `len` is a flag, not length: set, the line holds no byte
//! that JSON escapes and none outside ASCII, as the intake's splitter found
//! while looking for its end, so that the reader need not look again.
//! Lines are therefore shorter than 2 GiB (--spool caps --max-len at 1 GiB).
//!
//! `seq` numbers every line the spool ever took, from 0, with no gap;
//! `time` is when it was read (nanoseconds since the Unix epoch), which is
//! the time its message carries however late it is sent; `crc` is the
//! CRC32C of everything after it: the length, the sequence number, the
//! time and the line, one run of bytes (one call, which for lines of a
//! hundred bytes costs half what two did). The line has no newline.
//!
//! Reading never trusts a length it has not checked: a record is taken only
//! if its length fits, its sequence number is the one expected (or, after
//! damage, later) and its checksum matches. After damage, the next record
//! is looked for byte by byte; the sequence numbers of the records on
//! either side say exactly how many lines were lost.

/// What every segment starts with: the format and its version.
pub const MAGIC: &[u8; 8] = b"WSSPOOL1";

/// The bytes before a record's line.
pub const HEADER: usize = 24;

/// The flag in `len` for a plain line.
const PLAIN: u32 = 1 << 31;

/// The longest line a record holds.
pub const LINE_MAX: usize = PLAIN as usize - 1;

/// One record as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
    pub line: &'a [u8],
    /// No byte of it needs escaping in JSON, and none is outside ASCII.
    pub plain: bool,
}

/// Appends one record to `out`. `line` is at most LINE_MAX bytes long.
pub fn write(out: &mut Vec<u8>, seq: u64, time: i64, line: &[u8], plain: bool) {
    debug_assert!(line.len() <= LINE_MAX);
    let len = line.len() as u32 | if plain { PLAIN } else { 0 };
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(line);
    let crc = crc32c::crc32c(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// What lies at the start of some bytes of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// A whole, sound record, `size` bytes long.
    Record { record: Record<'a>, size: usize },
    /// Not enough bytes to tell: more are needed, if the segment has them.
    Short,
    /// Not a record that can be trusted.
    Bad,
}

/// Reads the record at the start of `bytes`, if it is one: at most
/// `max_line` bytes long, numbered `expect` or later, and whole, and
/// with its checksum right if `verify` (not for bytes this process wrote
/// and kept in memory).
pub fn parse(bytes: &[u8], expect: u64, max_line: usize, verify: bool) -> Found<'_> {
    if bytes.len() < HEADER {
        return Found::Short;
    }
    let len = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let plain = len & PLAIN != 0;
    let len = (len & !PLAIN) as usize;
    let seq = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    if len > max_line || seq < expect {
        return Found::Bad;
    }
    let size = HEADER + len;
    if bytes.len() < size {
        return Found::Short;
    }
    let crc = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    if verify && crc32c::crc32c(&bytes[4..size]) != crc {
        return Found::Bad;
    }
    let time = i64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    Found::Record {
        record: Record {
            seq,
            time,
            line: &bytes[HEADER..size],
            plain,
        },
        size,
    }
}

/// Where the next sound record numbered `expect` or later starts in
/// `bytes`, looking from its second byte on (the first is where a record
/// was found bad): `Ok(offset)`; or `Err(keep)` if none starts before the
/// last `keep` bytes, which may still hold the start of one whose end is
/// not there yet.
pub fn resync(bytes: &[u8], expect: u64, max_line: usize) -> Result<usize, usize> {
    for at in 1..bytes.len() {
        match parse(&bytes[at..], expect, max_line, true) {
            Found::Record { .. } => return Ok(at),
            Found::Short => return Err(bytes.len() - at),
            Found::Bad => {}
        }
    }
    Err(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(lines: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (seq, line) in lines {
            let time = 1_700_000_000_000_000_000 + *seq as i64;
            write(&mut out, *seq, time, line, seq % 2 == 0);
        }
        out
    }

    #[test]
    fn a_record_reads_back_as_written_and_says_how_long_it_is() {
        let bytes = records(&[(7, b"hello"), (8, b"")]);
        assert_eq!(bytes.len(), 2 * HEADER + 5);
        let Found::Record { record, size } = parse(&bytes, 7, 100, true) else {
            panic!("not found");
        };
        assert_eq!(size, HEADER + 5);
        assert_eq!(
            record,
            Record {
                seq: 7,
                time: 1_700_000_000_000_000_007,
                line: b"hello",
                plain: false,
            }
        );
        let Found::Record { record, size } = parse(&bytes[size..], 8, 100, true) else {
            panic!("not found");
        };
        assert_eq!(
            (record.seq, record.line, record.plain, size),
            (8, &b""[..], true, HEADER)
        );
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = records(&[(1, b"ab")]);
        assert_eq!(&bytes[4..8], &2u32.to_le_bytes());
        let plain = records(&[(2, b"ab")]);
        assert_eq!(&plain[4..8], &(2u32 | 1 << 31).to_le_bytes());
        assert_eq!(LINE_MAX, (1 << 31) - 1);
        assert_eq!(&bytes[8..16], &1u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &1_700_000_000_000_000_001i64.to_le_bytes());
        assert_eq!(&bytes[24..], b"ab");
        assert_eq!(&bytes[..4], &crc32c::crc32c(&bytes[4..]).to_le_bytes());
    }

    #[test]
    fn a_record_kept_in_memory_is_taken_without_its_checksum() {
        let mut bytes = records(&[(3, b"a line")]);
        bytes[HEADER] ^= 0x01;
        assert_eq!(parse(&bytes, 3, 100, true), Found::Bad);
        let Found::Record { record, size } = parse(&bytes, 3, 100, false) else {
            panic!("not taken");
        };
        assert_eq!((record.line, size), (&b"` line"[..], bytes.len()));
        // Its length and number are still checked.
        assert_eq!(parse(&bytes, 4, 100, false), Found::Bad);
        assert_eq!(parse(&bytes, 3, 5, false), Found::Bad);
    }

    #[test]
    fn any_byte_flipped_makes_the_record_bad() {
        let bytes = records(&[(3, b"a line")]);
        for at in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut damaged = bytes.clone();
                damaged[at] ^= bit;
                let found = parse(&damaged, 3, 100, true);
                // A length made longer asks for bytes that are not there.
                assert!(
                    matches!(found, Found::Bad | Found::Short),
                    "byte {at} bit {bit:#x}: {found:?}"
                );
            }
        }
    }

    #[test]
    fn a_record_too_long_or_numbered_before_the_expected_one_is_bad() {
        let bytes = records(&[(5, b"12345")]);
        assert!(matches!(parse(&bytes, 5, 5, true), Found::Record { .. }));
        assert_eq!(parse(&bytes, 5, 4, true), Found::Bad);
        assert!(matches!(parse(&bytes, 4, 5, true), Found::Record { .. }));
        assert_eq!(parse(&bytes, 6, 5, true), Found::Bad);
    }

    #[test]
    fn a_record_cut_short_needs_more_bytes() {
        let bytes = records(&[(0, b"12345")]);
        for len in 0..bytes.len() {
            assert_eq!(
                parse(&bytes[..len], 0, 100, true),
                Found::Short,
                "{len} bytes"
            );
        }
    }

    #[test]
    fn after_damage_the_next_sound_record_is_found_where_it_starts() {
        let bytes = records(&[(0, b"first"), (1, b"second"), (2, b"third")]);
        let second = HEADER + 5;
        let third = second + HEADER + 6;
        let mut damaged = bytes.clone();
        damaged[second + HEADER + 2] ^= 0x20;
        assert_eq!(parse(&damaged[second..], 1, 100, true), Found::Bad);
        assert_eq!(resync(&damaged[second..], 1, 100), Ok(third - second));
        // Looking on from a sound record finds the next sound one...
        assert_eq!(resync(&bytes, 0, 100), Ok(second));
        assert_eq!(resync(&damaged, 0, 100), Ok(third));
        // ...unless only later ones are wanted.
        assert_eq!(resync(&bytes, 2, 100), Ok(third));
    }

    #[test]
    fn with_no_sound_record_left_the_tail_that_may_begin_one_is_kept() {
        let bytes = records(&[(0, b"first"), (1, b"second")]);
        let second = HEADER + 5;
        // The second record cut short: it may yet be whole once more is read.
        let cut = &bytes[..bytes.len() - 1];
        assert_eq!(resync(&cut[1..], 0, 100), Err(cut.len() - second));
        // Garbage to the end, too short to hold a header: nothing to keep
        // but its last bytes.
        let garbage = [0xffu8; 30];
        assert_eq!(resync(&garbage, 0, 100), Err(HEADER - 1));
        assert_eq!(resync(&[], 0, 100), Err(0));
        assert_eq!(resync(&[1], 0, 100), Err(0));
    }
}
