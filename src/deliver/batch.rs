//! Grouping messages into batches by count or by age.
//!
//! Pure: the caller passes the time in, so the rules are tested without
//! threads or sleeps. A batch closes when it holds --batch-size messages or
//! when --flush-interval has passed since its first message. It holds no
//! message of its own: only slices of the chunks the reader framed (usually
//! one or two), so batching costs nothing per line.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::units::{Batch, Mark};

pub struct Batcher {
    size: usize,
    interval: Duration,
    pending: Batch,
    opened: Option<Instant>,
}

impl Batcher {
    pub fn new(size: usize, interval: Duration) -> Batcher {
        Batcher {
            size,
            interval,
            pending: Batch::default(),
            opened: None,
        }
    }

    /// Adds the messages of a chunk read at `now`, ending at `marks`;
    /// hands over each batch they complete.
    pub fn push(
        &mut self,
        frames: &Bytes,
        marks: &[Mark],
        now: Instant,
        mut emit: impl FnMut(Batch),
    ) {
        let (mut frame_start, mut text_start) = (0, 0);
        let mut rest = marks;
        while !rest.is_empty() {
            self.opened.get_or_insert(now);
            let take = (self.size - self.pending.lines()).min(rest.len());
            let last = rest[take - 1];
            self.pending.append(
                frames.slice(frame_start..last.frame_end),
                take,
                last.text_end - text_start,
            );
            (frame_start, text_start) = (last.frame_end, last.text_end);
            rest = &rest[take..];
            if self.pending.lines() == self.size {
                emit(self.take().expect("a full batch"));
            }
        }
    }

    /// When the pending batch must go out even if it is not full.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|opened| opened + self.interval)
    }

    /// Closes the pending batch, if there is one.
    pub fn take(&mut self) -> Option<Batch> {
        self.opened = None;
        if self.pending.lines() == 0 {
            return None;
        }
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk of one-letter messages, each followed by a newline (the
    /// --dry-run layout, where a frame is the message and a newline).
    fn chunk(letters: &str) -> (Bytes, Vec<Mark>) {
        let frames = Bytes::from(
            letters
                .chars()
                .flat_map(|c| [c as u8, b'\n'])
                .collect::<Vec<_>>(),
        );
        let marks = (1..=letters.len())
            .map(|i| Mark {
                frame_end: 2 * i,
                text_end: i,
            })
            .collect();
        (frames, marks)
    }

    fn batches(batcher: &mut Batcher, letters: &str, now: Instant) -> Vec<String> {
        let (frames, marks) = chunk(letters);
        let mut out = Vec::new();
        batcher.push(&frames, &marks, now, |batch| out.push(text(&batch)));
        out
    }

    fn text(batch: &Batch) -> String {
        let all: Vec<u8> = batch.parts().flat_map(|p| p.to_vec()).collect();
        let text = String::from_utf8(all).unwrap().replace('\n', "");
        assert_eq!((batch.lines(), batch.bytes()), (text.len(), text.len()));
        text
    }

    #[test]
    fn closes_on_count_across_chunks() {
        let now = Instant::now();
        let mut b = Batcher::new(2, Duration::from_secs(1));
        assert_eq!(batches(&mut b, "abcde", now), ["ab", "cd"]);
        assert_eq!(batches(&mut b, "fgh", now), ["ef", "gh"]);
        assert_eq!(b.deadline(), None);
        assert!(b.take().is_none());
    }

    #[test]
    fn a_batch_spanning_chunks_holds_a_slice_of_each() {
        let now = Instant::now();
        let mut b = Batcher::new(4, Duration::from_secs(1));
        assert!(batches(&mut b, "ab", now).is_empty());
        let (frames, marks) = chunk("cdef");
        let mut out = Vec::new();
        b.push(&frames, &marks, now, |batch| out.push(batch));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].parts().count(), 2);
        assert_eq!(text(&out[0]), "abcd");
        assert_eq!(text(&b.take().unwrap()), "ef");
    }

    #[test]
    fn deadline_counts_from_the_first_message() {
        let t0 = Instant::now();
        let mut b = Batcher::new(10, Duration::from_millis(100));
        assert_eq!(b.deadline(), None);
        batches(&mut b, "a", t0);
        batches(&mut b, "b", t0 + Duration::from_millis(50));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(100)));
        assert_eq!(text(&b.take().unwrap()), "ab");
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn what_is_left_after_a_full_batch_starts_the_clock_again() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(500);
        let mut b = Batcher::new(2, Duration::from_millis(100));
        batches(&mut b, "a", t0);
        assert_eq!(batches(&mut b, "bc", t1), ["ab"]);
        assert_eq!(b.deadline(), Some(t1 + Duration::from_millis(100)));
    }

    #[test]
    fn batch_size_one_sends_every_message() {
        let mut b = Batcher::new(1, Duration::from_secs(1));
        assert_eq!(batches(&mut b, "abc", Instant::now()), ["a", "b", "c"]);
        assert_eq!(b.deadline(), None);
    }
}
