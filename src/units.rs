//! The units that travel between stages: a chunk of framed messages from
//! one read, the mark at the end of each message, and a batch of them.
//!
//! They live below the stages that pass them on (input → batcher → workers),
//! so that no stage reaches back into the one before it.

use bytes::Bytes;

use crate::ledger::{Account, End, Entry};

/// The messages encoded from one read, with what was dropped on the way.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Every message, framed, back to back.
    pub frames: Bytes,
    /// Where each message ends, in order.
    pub marks: Vec<Mark>,
    /// Lines dropped for --max-len: lines longer than it, and the lines of
    /// events longer than it.
    pub oversize: u64,
    /// Multiline events dropped for --max-len (their lines are in
    /// `oversize`).
    pub oversize_events: u64,
    /// Lines left out by --include and --exclude, and the events they made.
    pub filtered: u64,
    pub filtered_events: u64,
    /// Messages sent with U+FFFD in place of bytes that were not UTF-8.
    pub invalid_utf8: u64,
    /// --input-format ndjson lines that were not a JSON object.
    pub invalid_json: u64,
    /// The file it was read from, when the file has an account (a state
    /// file is kept); standard input has none.
    pub account: Option<Account>,
    /// Where in the file everything up to here is accounted for: the end of
    /// the last line sent or dropped, past empty lines. A line still being
    /// read is not.
    pub accounted: u64,
}

/// The end of one message in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Where its frame ends in `frames`.
    pub frame_end: usize,
    /// The length of every message up to and including this one, frames
    /// aside: what the server receives as text.
    pub text_end: usize,
    /// Where its line (or the last line of its event) ends in the input.
    pub input_end: u64,
    /// The input lines of every message up to and including this one: one
    /// each, but for multiline events.
    pub lines_end: usize,
}

#[derive(Debug, Default)]
pub struct Batch {
    /// Whole frames, back to back, in order: the first slice, then the
    /// others. Most batches lie in one chunk, and then cost no allocation,
    /// which with --batch-size 1 is one per line.
    first: Bytes,
    rest: Vec<Bytes>,
    messages: usize,
    /// The input lines its messages hold: more than messages only with
    /// multiline events.
    lines: usize,
    /// The messages' own length, frames aside.
    bytes: usize,
    /// Where its lines of each file end, and the ledger entries that settle
    /// them once it is sent or failed.
    ends: Ends,
}

/// Usually one file's end, kept inline: with --batch-size 1, a Vec per
/// batch would be an allocation per line.
#[derive(Debug, Default)]
struct Ends {
    first: Option<Reached>,
    rest: Vec<Reached>,
}

#[derive(Debug)]
struct Reached {
    end: End,
    entry: Option<Entry>,
}

impl Batch {
    /// The batch's frames, in order, as slices of the reader's chunks.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// Adds the next run of whole frames: `messages` messages, of `lines`
    /// input lines and `bytes` bytes.
    pub fn append(&mut self, part: Bytes, messages: usize, lines: usize, bytes: usize) {
        match self.messages {
            0 => self.first = part,
            _ => self.rest.push(part),
        }
        self.messages += messages;
        self.lines += lines;
        self.bytes += bytes;
    }

    /// Records that the batch's lines of `end.account` reach `end.offset`.
    pub fn reach(&mut self, end: End) {
        let ends = &mut self.ends;
        let same = |reached: &&mut Reached| reached.end.account == end.account;
        if let Some(reached) = ends
            .first
            .as_mut()
            .into_iter()
            .chain(&mut ends.rest)
            .find(same)
        {
            reached.end.offset = reached.end.offset.max(end.offset);
            return;
        }
        let reached = Reached { end, entry: None };
        match ends.first {
            None => ends.first = Some(reached),
            Some(_) => ends.rest.push(reached),
        }
    }

    /// Whether the batch holds lines of `account`.
    pub fn holds(&self, account: Account) -> bool {
        self.reached().any(|reached| reached.end.account == account)
    }

    /// Where its lines of each file end.
    pub fn ends(&self) -> impl Iterator<Item = End> + '_ {
        self.reached().map(|reached| reached.end)
    }

    /// Keeps the ledger entries made for its ends, in the same order.
    pub fn set_entries(&mut self, entries: Vec<Option<Entry>>) {
        let ends = &mut self.ends;
        let reached = ends.first.as_mut().into_iter().chain(&mut ends.rest);
        for (reached, entry) in reached.zip(entries) {
            reached.entry = entry;
        }
    }

    /// The ledger entries that settle it.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.reached().filter_map(|reached| reached.entry)
    }

    fn reached(&self) -> impl Iterator<Item = &Reached> {
        self.ends.first.iter().chain(&self.ends.rest)
    }

    /// Messages: what --batch-size counts.
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Input lines: what the summary counts.
    pub fn lines(&self) -> usize {
        self.lines
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}
