//! Grouping messages into batches by count or by age.
//!
//! Pure: the caller passes the time in, so the rules are tested without
//! threads or sleeps. A batch closes when it holds --batch-size messages or
//! when --flush-interval has passed since its first message. It holds no
//! message of its own: only slices of the chunks the reader framed (usually
//! one or two), so batching costs nothing per line.

use std::time::{Duration, Instant};

use crate::ledger::End;
use crate::units::{Batch, Chunk};

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

    /// Adds the messages of `chunk`, read at `now`, and hands over each
    /// batch they complete. Returns where the chunk's file is accounted for
    /// when no batch carries that end (the chunk's lines were all dropped
    /// or empty, and no open batch holds lines of its file): the caller may
    /// pass it at once.
    pub fn push(
        &mut self,
        chunk: &Chunk,
        now: Instant,
        mut emit: impl FnMut(Batch),
    ) -> Option<End> {
        let (mut frame_start, mut text_start, mut lines_start) = (0, 0, 0);
        let mut rest = &chunk.marks[..];
        while !rest.is_empty() {
            self.opened.get_or_insert(now);
            let take = (self.size - self.pending.messages()).min(rest.len());
            let last = rest[take - 1];
            rest = &rest[take..];
            self.pending.append(
                chunk.frames.slice(frame_start..last.frame_end),
                take,
                last.lines_end - lines_start,
                last.text_end - text_start,
            );
            if let Some(account) = chunk.account {
                // What follows the last message of a chunk, up to where it
                // is accounted for, was dropped: its batch carries that too.
                let offset = match rest.is_empty() {
                    true => chunk.accounted,
                    false => last.input_end,
                };
                self.pending.reach(End { account, offset });
            }
            (frame_start, text_start) = (last.frame_end, last.text_end);
            lines_start = last.lines_end;
            if self.pending.messages() == self.size {
                emit(self.take().expect("a full batch"));
            }
        }
        let account = chunk.account?;
        let end = End {
            account,
            offset: chunk.accounted,
        };
        match chunk.marks.is_empty() {
            false => None,
            true if self.pending.holds(account) => {
                self.pending.reach(end);
                None
            }
            true => Some(end),
        }
    }

    /// When the pending batch must go out even if it is not full.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|opened| opened + self.interval)
    }

    /// Closes the pending batch, if there is one.
    pub fn take(&mut self) -> Option<Batch> {
        self.opened = None;
        if self.pending.messages() == 0 {
            return None;
        }
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Account;
    use crate::units::Mark;
    use bytes::Bytes;

    /// A chunk of one-letter messages, each followed by a newline (the
    /// --dry-run layout, where a frame is the message and a newline), read
    /// from no file.
    fn chunk(letters: &str) -> Chunk {
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
                input_end: 2 * i as u64,
                lines_end: i,
            })
            .collect();
        Chunk {
            frames,
            marks,
            ..Chunk::default()
        }
    }

    /// The same, read from `account` at `offset`: each line is its letter
    /// and a newline, and the chunk is accounted for to `accounted`.
    fn file_chunk(letters: &str, account: u32, offset: u64, accounted: u64) -> Chunk {
        let mut chunk = chunk(letters);
        for mark in &mut chunk.marks {
            mark.input_end += offset;
        }
        chunk.account = Some(Account(account));
        chunk.accounted = accounted;
        chunk
    }

    fn batches(batcher: &mut Batcher, letters: &str, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        batcher.push(&chunk(letters), now, |batch| out.push(text(&batch)));
        out
    }

    fn ends(batch: &Batch) -> Vec<(u32, u64)> {
        batch
            .ends()
            .map(|end| (end.account.0, end.offset))
            .collect()
    }

    fn text(batch: &Batch) -> String {
        let all: Vec<u8> = batch.parts().flat_map(|p| p.to_vec()).collect();
        let text = String::from_utf8(all).unwrap().replace('\n', "");
        assert_eq!(
            (batch.messages(), batch.lines(), batch.bytes()),
            (text.len(), text.len(), text.len())
        );
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
        let mut out = Vec::new();
        b.push(&chunk("cdef"), now, |batch| out.push(batch));
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

    #[test]
    fn a_batch_ends_where_its_last_line_ends_or_where_its_chunk_is_accounted_for() {
        let now = Instant::now();
        let mut b = Batcher::new(2, Duration::from_secs(1));
        let mut out = Vec::new();
        // Lines a, b, c at offsets 100..106; a dropped line runs to 120.
        let passed = b.push(&file_chunk("abc", 7, 100, 120), now, |batch| {
            out.push(batch)
        });
        assert_eq!(passed, None);
        assert_eq!(out.len(), 1);
        assert_eq!(
            ends(&out[0]),
            [(7, 104)],
            "ends after b, not at the chunk's end"
        );
        let last = b.take().unwrap();
        assert_eq!(ends(&last), [(7, 120)], "carries the dropped line after c");
    }

    #[test]
    fn a_chunk_of_dropped_lines_joins_an_open_batch_of_its_file_or_is_passed() {
        let now = Instant::now();
        let mut b = Batcher::new(10, Duration::from_secs(1));
        let dropped = |offset| file_chunk("", 1, 0, offset);
        assert_eq!(
            b.push(&dropped(50), now, |_| panic!("nothing to send")),
            Some(End {
                account: Account(1),
                offset: 50
            })
        );
        b.push(&file_chunk("a", 1, 50, 52), now, |_| {});
        assert_eq!(b.push(&dropped(90), now, |_| {}), None);
        assert_eq!(
            b.push(&file_chunk("", 2, 0, 30), now, |_| {}),
            Some(End {
                account: Account(2),
                offset: 30
            }),
            "another file's drop does not wait for this batch"
        );
        assert_eq!(ends(&b.take().unwrap()), [(1, 90)]);
    }

    #[test]
    fn a_batch_across_files_ends_in_each() {
        let now = Instant::now();
        let mut b = Batcher::new(10, Duration::from_secs(1));
        b.push(&file_chunk("ab", 1, 0, 4), now, |_| {});
        b.push(&file_chunk("c", 2, 10, 12), now, |_| {});
        b.push(&file_chunk("d", 1, 4, 6), now, |_| {});
        b.push(&chunk("e"), now, |_| {});
        let batch = b.take().unwrap();
        assert_eq!(text(&batch), "abcde");
        assert_eq!(ends(&batch), [(1, 6), (2, 12)]);
    }

    #[test]
    fn a_batch_counts_the_lines_of_its_events() {
        // Three events of 1, 4 and 2 lines.
        let mut chunk = chunk("abc");
        for (mark, lines_end) in chunk.marks.iter_mut().zip([1, 5, 7]) {
            mark.lines_end = lines_end;
        }
        let mut b = Batcher::new(2, Duration::from_secs(1));
        let mut out = Vec::new();
        b.push(&chunk, Instant::now(), |batch| out.push(batch));
        out.extend(b.take());
        let counts: Vec<(usize, usize)> = out.iter().map(|b| (b.messages(), b.lines())).collect();
        assert_eq!(counts, [(2, 5), (1, 2)]);
    }
}
