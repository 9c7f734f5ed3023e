//! Splitting a byte stream into lines with a size cap: pure, fed whatever
//! each read returned, and never holding more than `max_len + 1` bytes of
//! an unfinished line (the +1 for a `\r` that may turn out to end it). A
//! longer line is skipped as it streams by, whatever its length, and
//! reported as one `Piece::Oversize`.

/// One step of splitting: a line to send, or the fact that one was too long.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Line(&'a [u8]),
    Oversize,
}

/// Splits a byte stream into lines without ever holding more than
/// `max_len + 1` bytes of an unfinished line.
pub struct LineSplitter {
    max_len: usize,
    carry: Vec<u8>,
    discarding: bool,
}

impl LineSplitter {
    pub fn new(max_len: usize) -> LineSplitter {
        LineSplitter {
            max_len,
            carry: Vec::new(),
            discarding: false,
        }
    }

    pub fn feed(&mut self, data: &[u8], mut emit: impl FnMut(Piece<'_>)) {
        let mut rest = data;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let segment = &rest[..newline];
            rest = &rest[newline + 1..];
            if self.discarding {
                self.discarding = false;
                emit(Piece::Oversize);
            } else if self.carry.is_empty() {
                complete(segment, self.max_len, &mut emit);
            } else if self.fits(segment.len()) {
                self.carry.extend_from_slice(segment);
                complete(&self.carry, self.max_len, &mut emit);
                self.carry.clear();
            } else {
                self.carry.clear();
                emit(Piece::Oversize);
            }
        }
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
    pub fn finish(&mut self, mut emit: impl FnMut(Piece<'_>)) {
        if std::mem::take(&mut self.discarding) {
            emit(Piece::Oversize);
        } else if !self.carry.is_empty() {
            complete(&self.carry, self.max_len, &mut emit);
            self.carry.clear();
        }
    }

    /// Whether `more` bytes can join the carried part and still make a line
    /// of at most `max_len` bytes once a trailing `\r` is removed.
    fn fits(&self, more: usize) -> bool {
        self.carry.len() + more <= self.max_len.saturating_add(1)
    }
}

fn complete(line: &[u8], max_len: usize, emit: &mut impl FnMut(Piece<'_>)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return;
    }
    emit(match line.len() > max_len {
        true => Piece::Oversize,
        false => Piece::Line(line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max_len: usize, pieces: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(max_len);
        let mut out = Vec::new();
        let mut record = |piece: Piece<'_>| {
            out.push(match piece {
                Piece::Line(line) => String::from_utf8_lossy(line).into_owned(),
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
        let mut splitter = LineSplitter::new(10);
        let mut pieces = 0;
        for _ in 0..1000 {
            splitter.feed(&[b'x'; 7], |_| pieces += 1);
            assert!(splitter.carry.len() <= 11);
        }
        splitter.finish(|piece| assert_eq!(piece, Piece::Oversize));
        assert_eq!(pieces, 0);
    }
}
