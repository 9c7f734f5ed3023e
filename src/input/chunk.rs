//! Building a chunk: the framed messages of one read, written back to back
//! into one buffer, with a mark after each, so that a read costs one
//! allocation (usually none: buffers come back once every batch holding a
//! slice of them is gone) and a batch a slice or two of it.

use std::collections::VecDeque;

use bytes::Bytes;

use super::multiline::Event;
use super::split::Piece;
use crate::config::Filter;
use crate::encode::{Encoded, Encoder};
use crate::ledger::Account;
use crate::units::{Chunk, Mark};

/// Messages of one read, framed back to back into one buffer so that the
/// whole read costs one allocation, and the worker one write.
#[derive(Default)]
pub struct Pending {
    frames: Vec<u8>,
    text: usize,
    lines: usize,
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

    /// Adds one piece, whose line ends at `end` in its input. `SHAPED`:
    /// the filter or the encoder may want to look at where it is, which
    /// most runs do not (so that their hot loop has no trace of either).
    #[inline(always)]
    pub fn add<const SHAPED: bool>(
        &mut self,
        piece: Piece<'_>,
        end: u64,
        encoder: &mut Encoder,
        filter: &Filter,
    ) {
        match piece {
            Piece::Oversize => self.dropped(1),
            Piece::Line { line, .. } if SHAPED && !filter.keeps(line) => self.filtered(1),
            Piece::Line { line, plain, start } => {
                if SHAPED {
                    encoder.set_place(start, end);
                }
                let encoded = encoder.encode(line, plain, &mut self.frames);
                self.mark(encoded, 1, end);
            }
        }
    }

    /// Adds one multiline event.
    pub fn add_event(&mut self, event: Event<'_>, encoder: &mut Encoder, filter: &Filter) {
        match event {
            Event::Dropped { lines, .. } => self.dropped(lines),
            Event::Message { text, lines, .. } if !filter.keeps(text) => self.filtered(lines),
            Event::Message {
                text,
                plain,
                lines,
                read,
                start,
                end,
            } => {
                encoder.set_place(start, end);
                encoder.set_time(read);
                // An event of several lines is not a JSON object, whatever
                // --input-format says: it is text.
                let encoded = match lines {
                    1 => encoder.encode(text, plain, &mut self.frames),
                    _ => encoder.encode_text(text, plain, &mut self.frames),
                };
                self.mark(encoded, lines, end);
            }
        }
    }

    fn dropped(&mut self, lines: usize) {
        self.chunk.oversize += lines as u64;
        self.chunk.oversize_events += 1;
    }

    fn filtered(&mut self, lines: usize) {
        self.chunk.filtered += lines as u64;
        self.chunk.filtered_events += 1;
    }

    #[inline(always)]
    fn mark(&mut self, encoded: Encoded, lines: usize, end: u64) {
        self.chunk.invalid_utf8 += u64::from(encoded.lossy);
        self.chunk.invalid_json += u64::from(encoded.invalid_json);
        self.text += encoded.len;
        self.lines += lines;
        self.chunk.marks.push(Mark {
            frame_end: self.frames.len(),
            text_end: self.text,
            input_end: end,
            lines_end: self.lines,
        });
    }

    /// Whether it holds no message, and no line dropped or filtered.
    pub fn is_empty(&self) -> bool {
        self.chunk.marks.is_empty() && self.chunk.oversize == 0 && self.chunk.filtered == 0
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
        let shape = crate::config::Shape::default();
        let mut encoder = Encoder::new(crate::config::Format::Raw, &shape, Framing::Lines);
        let mut pending = Pending::default();
        let line = |line, start| Piece::Line {
            line,
            plain: false,
            start,
        };
        let all = Filter::default();
        pending.add::<true>(line(b"one", 0), 4, &mut encoder, &all);
        assert!(!pending.is_empty());
        pending.add::<true>(Piece::Oversize, 20, &mut encoder, &all);
        pending.add::<true>(line(b"t\xffo", 20), 24, &mut encoder, &all);
        let chunk = pending.finish(Some(Account(3)), 30);
        assert_eq!(&chunk.frames[..], "one\nt\u{fffd}o\n".as_bytes());
        let marks: Vec<(usize, usize, u64, usize)> = chunk
            .marks
            .iter()
            .map(|m| (m.frame_end, m.text_end, m.input_end, m.lines_end))
            .collect();
        assert_eq!(marks, [(4, 3, 4, 1), (10, 8, 24, 2)]);
        assert_eq!(
            (chunk.oversize, chunk.oversize_events, chunk.invalid_utf8),
            (1, 1, 1)
        );
        assert_eq!((chunk.account, chunk.accounted), (Some(Account(3)), 30));
        assert!(Pending::default().is_empty());
    }

    #[test]
    fn an_event_counts_its_lines_and_a_dropped_one_all_of_them() {
        let shape = crate::config::Shape::default();
        let mut encoder = Encoder::new(crate::config::Format::Raw, &shape, Framing::Lines);
        let mut pending = Pending::default();
        let read = std::time::SystemTime::UNIX_EPOCH;
        let all = Filter::default();
        pending.add_event(
            Event::Message {
                text: b"a\nb\nc",
                plain: false,
                lines: 3,
                read,
                start: 0,
                end: 6,
            },
            &mut encoder,
            &all,
        );
        pending.add_event(Event::Dropped { lines: 4, end: 40 }, &mut encoder, &all);
        pending.add::<true>(
            Piece::Line {
                line: b"d",
                plain: true,
                start: 40,
            },
            42,
            &mut encoder,
            &all,
        );
        let chunk = pending.finish(None, 42);
        assert_eq!(&chunk.frames[..], b"a\nb\nc\nd\n");
        let lines: Vec<usize> = chunk.marks.iter().map(|m| m.lines_end).collect();
        assert_eq!(lines, [3, 4]);
        assert_eq!((chunk.oversize, chunk.oversize_events), (4, 1));
    }

    #[test]
    fn lines_filtered_out_are_counted_and_those_kept_say_where_they_start() {
        let shape = crate::config::Shape {
            offset_key: Some("offset".into()),
            timestamp_format: crate::config::TimestampFormat::None,
            ..Default::default()
        };
        let mut encoder = Encoder::new(crate::config::Format::Json, &shape, Framing::Lines);
        encoder.set_origin(crate::encode::origin::Origin::Stream { key: 1 });
        let debug = regex::bytes::Regex::new("DEBUG").unwrap();
        let filter = Filter::new(None, Some(debug));
        let line = |line, start| Piece::Line {
            line,
            plain: true,
            start,
        };
        let mut pending = Pending::default();
        pending.add::<true>(line(b"DEBUG a", 0), 8, &mut encoder, &filter);
        assert!(!pending.is_empty(), "a line filtered out is still counted");
        pending.add::<true>(line(b"INFO b", 8), 15, &mut encoder, &filter);
        let event = |text: &'static [u8], start, end| Event::Message {
            text,
            plain: false,
            lines: 2,
            read: std::time::SystemTime::UNIX_EPOCH,
            start,
            end,
        };
        // A stack trace is kept or left out whole, by any of its lines.
        pending.add_event(event(b"ERROR c\n DEBUG", 15, 31), &mut encoder, &filter);
        pending.add_event(event(b"ERROR d\n at", 31, 43), &mut encoder, &filter);
        let chunk = pending.finish(None, 43);
        assert_eq!(
            std::str::from_utf8(&chunk.frames).unwrap(),
            "{\"message\":\"INFO b\",\"offset\":8}\n\
             {\"message\":\"ERROR d\\n at\",\"offset\":31}\n"
        );
        assert_eq!((chunk.filtered, chunk.filtered_events), (3, 2));
        let lines: Vec<usize> = chunk.marks.iter().map(|m| m.lines_end).collect();
        assert_eq!(lines, [1, 3]);
        assert_eq!((chunk.oversize, chunk.oversize_events), (0, 0));
    }

    #[test]
    fn a_one_line_event_is_a_json_line_and_a_longer_one_is_text() {
        let shape = crate::config::Shape {
            input_format: crate::config::InputFormat::Ndjson,
            timestamp_format: crate::config::TimestampFormat::None,
            ..Default::default()
        };
        let mut encoder = Encoder::new(crate::config::Format::Json, &shape, Framing::Lines);
        let all = Filter::default();
        let mut pending = Pending::default();
        let event = |text: &'static [u8], lines| Event::Message {
            text,
            plain: false,
            lines,
            read: std::time::SystemTime::UNIX_EPOCH,
            start: 0,
            end: 1,
        };
        pending.add_event(event(b"{\"a\":1}", 1), &mut encoder, &all);
        pending.add_event(event(b"{\"a\":1}\n{}", 2), &mut encoder, &all);
        pending.add_event(event(b"[1]", 1), &mut encoder, &all);
        let chunk = pending.finish(None, 1);
        let text = std::str::from_utf8(&chunk.frames).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..2],
            ["{\"a\":1}", "{\"message\":\"{\\\"a\\\":1}\\n{}\"}"]
        );
        assert!(lines[2].contains("\"error\""), "{text}");
        assert_eq!((chunk.invalid_json, chunk.invalid_utf8), (1, 0));
    }
}
