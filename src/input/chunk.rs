//! Building a chunk: the framed messages of one read, written back to back
//! into one buffer, with a mark after each, so that a read costs one
//! allocation (usually none: buffers come back once every batch holding a
//! slice of them is gone) and a batch a slice or two of it.

use std::collections::VecDeque;

use bytes::Bytes;

use super::split::Piece;
use crate::encode::Encoder;
use crate::ledger::Account;
use crate::units::{Chunk, Mark};

/// Messages of one read, framed back to back into one buffer so that the
/// whole read costs one allocation, and the worker one write.
#[derive(Default)]
pub struct Pending {
    frames: Vec<u8>,
    text: usize,
    chunk: Chunk,
}

impl Pending {
    /// Room for the frames of `input` bytes of typical lines, so that the
    /// buffer is rarely grown (and copied) while it fills: lines of 120
    /// bytes take half as much again in JSON and frame, so one and a half
    /// times the input made every twelfth buffer grow, copying 100 KiB.
    /// Room never written costs no memory, only address space.
    pub fn with_capacity(input: usize, recycler: &mut Recycler) -> Pending {
        let mut pending = Pending {
            frames: recycler.take(2 * input + 256),
            ..Pending::default()
        };
        pending.chunk.marks.reserve(input / 64 + 1);
        pending
    }

    /// Adds one piece, whose line ends at `end` in its input.
    pub fn add(&mut self, piece: Piece<'_>, end: u64, encoder: &mut Encoder) {
        match piece {
            Piece::Oversize => self.chunk.oversize += 1,
            Piece::Line { line, plain } => {
                let encoded = encoder.encode(line, plain, &mut self.frames);
                self.chunk.invalid_utf8 += u64::from(encoded.lossy);
                self.text += encoded.len;
                self.chunk.marks.push(Mark {
                    frame_end: self.frames.len(),
                    text_end: self.text,
                    input_end: end,
                });
            }
        }
    }

    /// Whether it holds no message and no dropped line.
    pub fn is_empty(&self) -> bool {
        self.chunk.marks.is_empty() && self.chunk.oversize == 0
    }

    /// The chunk of a file's `account`, accounted for up to `accounted`.
    pub fn finish(self, account: Option<Account>, accounted: u64) -> Chunk {
        Chunk {
            frames: Bytes::from(self.frames),
            account,
            accounted,
            ..self.chunk
        }
    }
}

/// Chunk buffers that may be written into again once every slice of them
/// is gone. A fresh allocation per read cost a page fault and a zeroed page
/// for every 4 KiB framed, because the allocator hands freed buffers of this
/// size back to the kernel.
#[derive(Default)]
pub struct Recycler {
    /// The buffers of the last chunks sent, oldest first.
    recent: VecDeque<Bytes>,
}

/// Chunks remembered: more than the pipeline usually holds (a batch being
/// filled, a few queued or unconfirmed), so that the oldest is usually free
/// again by the time it is looked at.
const RECYCLED: usize = 16;

impl Recycler {
    /// The oldest buffer if nothing uses it any more, else a new one.
    pub fn take(&mut self, capacity: usize) -> Vec<u8> {
        if self.recent.front().is_some_and(Bytes::is_unique) {
            let oldest = self.recent.pop_front().expect("checked");
            if let Ok(mut buffer) = oldest.try_into_mut() {
                buffer.clear();
                let buffer = Vec::from(buffer);
                if buffer.capacity() >= capacity {
                    return buffer;
                }
            }
        }
        Vec::with_capacity(capacity)
    }

    pub fn keep(&mut self, frames: &Bytes) {
        if frames.is_empty() {
            return;
        }
        if self.recent.len() == RECYCLED {
            self.recent.pop_front();
        }
        self.recent.push_back(frames.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Framing;

    #[test]
    fn a_buffer_comes_back_only_once_every_slice_of_it_is_gone() {
        let mut recycler = Recycler::default();
        let mut buffer = recycler.take(100);
        buffer.extend_from_slice(b"frames");
        let address = buffer.as_ptr();
        let frames = Bytes::from(buffer);
        recycler.keep(&frames);
        let slice = frames.slice(1..3);
        drop(frames);
        let fresh = recycler.take(100);
        assert_ne!(fresh.as_ptr(), address, "a slice is still out");
        drop(slice);
        let again = recycler.take(100);
        assert_eq!((again.as_ptr(), again.len()), (address, 0));
    }

    #[test]
    fn a_chunk_is_one_buffer_with_a_mark_after_each_message() {
        let mut encoder = Encoder::new(crate::config::Format::Raw, &[], Framing::Lines);
        let mut pending = Pending::default();
        let line = |line| Piece::Line { line, plain: false };
        pending.add(line(b"one"), 4, &mut encoder);
        assert!(!pending.is_empty());
        pending.add(Piece::Oversize, 20, &mut encoder);
        pending.add(line(b"t\xffo"), 24, &mut encoder);
        let chunk = pending.finish(Some(Account(3)), 30);
        assert_eq!(&chunk.frames[..], "one\nt\u{fffd}o\n".as_bytes());
        let marks: Vec<(usize, usize, u64)> = chunk
            .marks
            .iter()
            .map(|m| (m.frame_end, m.text_end, m.input_end))
            .collect();
        assert_eq!(marks, [(4, 3, 4), (10, 8, 24)]);
        assert_eq!((chunk.oversize, chunk.invalid_utf8), (1, 1));
        assert_eq!((chunk.account, chunk.accounted), (Some(Account(3)), 30));
        assert!(Pending::default().is_empty());
    }
}
