//! Splitting a byte stream into lines with a size cap: pure, fed whatever
//! each read returned, and never holding more than `max_len + 1` bytes of
//! an unfinished line (the +1 for a `\r` that may turn out to end it). A
//! longer line is skipped as it streams by, whatever its length, and
//! reported as one `Piece::Oversize`.
//!
//! The search for the end of a line is also the encoder's search for bytes
//! that JSON must escape: a newline is one of them, so one pass that stops
//! at the first such byte finds both for the common line, which has none
//! but its newline. Each piece says where in the stream its line ends,
//! which is what a state file records.

use crate::encode::skip_plain;

/// One step of splitting: a line to send, or the fact that one was too long.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Line {
        line: &'a [u8],
        /// Known to hold no byte that JSON escapes and none outside ASCII.
        plain: bool,
        /// The stream offset of its first byte (--offset-key, --id-key).
        start: u64,
    },
    Oversize,
}

/// Splits a byte stream into lines without ever holding more than
/// `max_len + 1` bytes of an unfinished line.
pub struct LineSplitter {
    max_len: usize,
    carry: Vec<u8>,
    discarding: bool,
    /// The stream offset of the next byte fed.
    fed: u64,
    /// The stream offset just past the last newline fed.
    consumed: u64,
}

impl LineSplitter {
    /// A splitter for a stream whose next byte is at `offset`.
    pub fn new(max_len: usize, offset: u64) -> LineSplitter {
        LineSplitter {
            max_len,
            carry: Vec::new(),
            discarding: false,
            fed: offset,
            consumed: offset,
        }
    }

    /// A splitter for a stream whose next byte at `offset` is in the middle
    /// of a line already too long: the rest of it is skipped, and counted
    /// as one oversize line when its newline comes.
    pub fn inside_oversize(max_len: usize, offset: u64) -> LineSplitter {
        LineSplitter {
            discarding: true,
            ..LineSplitter::new(max_len, offset)
        }
    }

    /// Splits `data`; each piece comes with the stream offset where its
    /// line ends (past the newline).
    pub fn feed(&mut self, data: &[u8], mut emit: impl FnMut(Piece<'_>, u64)) {
        let base = self.fed;
        self.fed += data.len() as u64;
        let mut start = 0;
        while start < data.len() {
            let (newline, plain) = match self.carry.is_empty() && !self.discarding {
                true => find_end(data, start),
                false => match memchr::memchr(b'\n', &data[start..]) {
                    Some(at) => (start + at, false),
                    None => (data.len(), false),
                },
            };
            if newline == data.len() {
                break;
            }
            let segment = &data[start..newline];
            start = newline + 1;
            let end = base + start as u64;
            let line_start = std::mem::replace(&mut self.consumed, end);
            if self.discarding {
                self.discarding = false;
                emit(Piece::Oversize, end);
            } else if self.carry.is_empty() {
                complete(segment, plain, self.max_len, (line_start, end), &mut emit);
            } else if self.fits(segment.len()) {
                self.carry.extend_from_slice(segment);
                complete(
                    &self.carry,
                    false,
                    self.max_len,
                    (line_start, end),
                    &mut emit,
                );
                self.carry.clear();
            } else {
                self.carry.clear();
                emit(Piece::Oversize, end);
            }
        }
        let rest = &data[start..];
        if self.discarding || rest.is_empty() {
            return;
        }
        if self.fits(rest.len()) {
            self.carry.extend_from_slice(rest);
        } else {
            self.carry.clear();
            self.discarding = true;
        }
    }

    /// Ends the stream: a last line without a newline is still a line.
    pub fn finish(&mut self, mut emit: impl FnMut(Piece<'_>, u64)) {
        let end = self.fed;
        let line_start = std::mem::replace(&mut self.consumed, end);
        if std::mem::take(&mut self.discarding) {
            emit(Piece::Oversize, end);
        } else if !self.carry.is_empty() {
            complete(
                &self.carry,
                false,
                self.max_len,
                (line_start, end),
                &mut emit,
            );
            self.carry.clear();
        }
    }

    /// Moves on to `offset` without being fed: the spool hands on whole
    /// lines, and says where they end.
    pub fn advance(&mut self, offset: u64) {
        debug_assert!(self.carry.is_empty() && !self.discarding);
        (self.fed, self.consumed) = (offset, offset);
    }

    /// The stream offset just past the last line ended: everything before
    /// it has been handed out (or was empty).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Whether `more` bytes can join the carried part and still make a line
    /// of at most `max_len` bytes once a trailing `\r` is removed.
    fn fits(&self, more: usize) -> bool {
        self.carry.len() + more <= self.max_len.saturating_add(1)
    }
}

/// The index of the newline that ends the line starting at `start` (or the
/// length, if none does), and whether every byte before it is plain.
#[inline(always)]
fn find_end(data: &[u8], start: usize) -> (usize, bool) {
    let stop = skip_plain(data, start);
    match data.get(stop) {
        None => (data.len(), false),
        Some(b'\n') => (stop, true),
        // A carriage return ending the line leaves it plain once removed.
        Some(b'\r') if data.get(stop + 1) == Some(&b'\n') => (stop + 1, true),
        Some(_) => match memchr::memchr(b'\n', &data[stop..]) {
            Some(at) => (stop + at, false),
            None => (data.len(), false),
        },
    }
}

#[inline(always)]
fn complete(
    line: &[u8],
    plain: bool,
    max_len: usize,
    (start, end): (u64, u64),
    emit: &mut impl FnMut(Piece<'_>, u64),
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return;
    }
    let piece = match line.len() > max_len {
        true => Piece::Oversize,
        false => Piece::Line { line, plain, start },
    };
    emit(piece, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max_len: usize, pieces: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(max_len, 0);
        let mut out = Vec::new();
        let mut record = |piece: Piece<'_>, _| {
            out.push(match piece {
                Piece::Line { line, .. } => String::from_utf8_lossy(line).into_owned(),
                Piece::Oversize => "<oversize>".to_string(),
            })
        };
        for piece in pieces {
            splitter.feed(piece, &mut record);
        }
        splitter.finish(&mut record);
        out
    }

    #[test]
    fn a_splitter_moved_on_counts_from_where_it_was_moved() {
        let mut splitter = LineSplitter::new(100, 3);
        splitter.advance(10);
        assert_eq!(splitter.consumed(), 10);
        let mut pieces = Vec::new();
        splitter.feed(b"ab\n", |piece, end| {
            if let Piece::Line { start, .. } = piece {
                pieces.push((start, end));
            }
        });
        assert_eq!(pieces, [(10, 13)]);
        assert_eq!(splitter.consumed(), 13);
    }

    #[test]
    fn lines_crlf_empty_and_last_without_newline() {
        assert_eq!(split(100, &[b"a\r\n\nb\r\n\r\nc"]), ["a", "b", "c"]);
    }

    #[test]
    fn lines_across_reads() {
        assert_eq!(
            split(100, &[b"he", b"llo\r", b"\nwor", b"ld\n"]),
            ["hello", "world"]
        );
    }

    #[test]
    fn oversize_dropped_whole_neighbours_intact() {
        assert_eq!(
            split(3, &[b"abc\nabcd\nxyz\n"]),
            ["abc", "<oversize>", "xyz"]
        );
        assert_eq!(split(3, &[b"ab", b"cd", b"ef\nok\n"]), ["<oversize>", "ok"]);
        // Reads while discarding keep nothing for the next line.
        assert_eq!(
            split(3, &[b"abcdefgh", b"ij", b"\nok\n"]),
            ["<oversize>", "ok"]
        );
        // Cut at the last byte: still dropped, not truncated.
        assert_eq!(split(3, &[b"abcdefgh"]), ["<oversize>"]);
    }

    #[test]
    fn a_line_of_exactly_max_len_with_crlf_across_reads() {
        assert_eq!(split(3, &[b"abc", b"\r", b"\n"]), ["abc"]);
        assert_eq!(split(3, &[b"abc\r", b"x\n"]), ["<oversize>"]);
    }

    #[test]
    fn carry_never_exceeds_the_cap() {
        let mut splitter = LineSplitter::new(10, 0);
        let mut pieces = 0;
        for _ in 0..1000 {
            splitter.feed(&[b'x'; 7], |_, _| pieces += 1);
            assert!(splitter.carry.len() <= 11);
        }
        splitter.finish(|piece, end| assert_eq!((piece, end), (Piece::Oversize, 7000)));
        assert_eq!(pieces, 0);
        // A first read far over the cap keeps nothing either.
        let mut splitter = LineSplitter::new(10, 0);
        splitter.feed(&[b'x'; 100], |_, _| pieces += 1);
        assert_eq!(splitter.carry.len(), 0);
    }

    /// Every piece as (text, plain, end), fed in the given reads.
    fn pieces(max_len: usize, offset: u64, reads: &[&[u8]]) -> Vec<(String, bool, u64)> {
        let mut splitter = LineSplitter::new(max_len, offset);
        let mut out = Vec::new();
        let mut record = |piece: Piece<'_>, end| {
            out.push(match piece {
                Piece::Line { line, plain, .. } => {
                    (String::from_utf8_lossy(line).into(), plain, end)
                }
                Piece::Oversize => ("<oversize>".into(), false, end),
            })
        };
        for read in reads {
            splitter.feed(read, &mut record);
        }
        splitter.finish(&mut record);
        out
    }

    #[test]
    fn each_line_says_where_it_ends_in_the_stream() {
        assert_eq!(
            pieces(8, 100, &[b"ab\r\n\nc", b"d\ntoo long!!\ne"]),
            [
                ("ab".into(), true, 104),
                ("cd".into(), false, 108),
                ("<oversize>".into(), false, 119),
                ("e".into(), false, 120),
            ]
        );
    }

    #[test]
    fn each_line_says_where_it_starts_past_empty_lines_and_across_reads() {
        let mut splitter = LineSplitter::new(8, 100);
        let mut spans = Vec::new();
        let mut record = |piece: Piece<'_>, end| {
            if let Piece::Line { start, .. } = piece {
                spans.push((start, end));
            }
        };
        splitter.feed(b"ab\r\n\nc", &mut record);
        splitter.feed(b"d\ntoo long!!\ne", &mut record);
        splitter.finish(&mut record);
        assert_eq!(spans, [(100, 104), (105, 108), (119, 120)]);
    }

    #[test]
    fn plain_only_when_no_byte_needs_escaping_or_is_outside_ascii() {
        let texts = pieces(
            100,
            0,
            &[b"plain\nq\"x\ntab\tx\n\xc3\xa9t\xc3\xa9\nb\\s\ncr\rin\n"],
        );
        let plain: Vec<bool> = texts.iter().map(|t| t.1).collect();
        assert_eq!(plain, [true, false, false, false, false, false]);
        // Lines of every length around a 16-byte block stay whole.
        for len in 0..40 {
            let line = "x".repeat(len);
            let input = format!("{line}\n{line}\r\n");
            let texts = pieces(100, 0, &[input.as_bytes()]);
            let want = if len == 0 {
                vec![]
            } else {
                vec![(line.clone(), true); 2]
            };
            let got: Vec<(String, bool)> = texts.into_iter().map(|t| (t.0, t.1)).collect();
            assert_eq!(got, want, "length {len}");
        }
    }

    #[test]
    fn a_stream_started_inside_an_oversize_line_skips_to_its_end() {
        let mut splitter = LineSplitter::inside_oversize(8, 500);
        let mut out = Vec::new();
        let mut record = |piece: Piece<'_>, end| {
            out.push(match piece {
                Piece::Line { line, .. } => (String::from_utf8_lossy(line).into_owned(), end),
                Piece::Oversize => ("<oversize>".into(), end),
            })
        };
        splitter.feed(b"rest of it", &mut record);
        assert_eq!(splitter.consumed(), 500);
        splitter.feed(b" and more\nnext\n", &mut record);
        splitter.finish(&mut record);
        assert_eq!(out, [("<oversize>".into(), 520), ("next".into(), 525)]);
        // At its end, unfinished: one oversize line too.
        let mut splitter = LineSplitter::inside_oversize(8, 0);
        let mut count = 0;
        splitter.finish(|piece, _| count += usize::from(piece == Piece::Oversize));
        assert_eq!(count, 1);
    }

    #[test]
    fn consumed_stops_at_a_partial_line() {
        let mut splitter = LineSplitter::new(100, 10);
        splitter.feed(b"one\ntw", |_, _| {});
        assert_eq!(splitter.consumed(), 14);
        splitter.feed(b"o\n", |_, _| {});
        assert_eq!(splitter.consumed(), 18);
    }
}
