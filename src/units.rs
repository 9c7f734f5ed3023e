//! The units that travel between stages: a chunk of framed messages from
//! one read, the mark at the end of each message, and a batch of them.
//!
//! They live below the stages that pass them on (input → batcher → workers),
//! so that no stage reaches back into the one before it.

use bytes::Bytes;

/// The messages encoded from one read, with what was dropped on the way.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Every message, framed, back to back.
    pub frames: Bytes,
    /// Where each message ends, in order.
    pub marks: Vec<Mark>,
    /// Lines longer than --max-len, dropped whole.
    pub oversize: u64,
    /// Lines sent with U+FFFD in place of bytes that were not UTF-8.
    pub invalid_utf8: u64,
}

/// The end of one message in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Where its frame ends in `frames`.
    pub frame_end: usize,
    /// The length of every message up to and including this one, frames
    /// aside: what the server receives as text.
    pub text_end: usize,
}

#[derive(Debug, Default)]
pub struct Batch {
    /// Whole frames, back to back, in order: the first slice, then the
    /// others. Most batches lie in one chunk, and then cost no allocation,
    /// which with --batch-size 1 is one per line.
    first: Bytes,
    rest: Vec<Bytes>,
    lines: usize,
    /// The messages' own length, frames aside.
    bytes: usize,
}

impl Batch {
    /// The batch's frames, in order, as slices of the reader's chunks.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// Adds the next run of whole frames: `lines` messages of `bytes` bytes.
    pub fn append(&mut self, part: Bytes, lines: usize, bytes: usize) {
        match self.lines {
            0 => self.first = part,
            _ => self.rest.push(part),
        }
        self.lines += lines;
        self.bytes += bytes;
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}
