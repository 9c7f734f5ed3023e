//! Multiline events (`--multiline-start`, `--multiline-continue`): lines
//! joined into one message, as a stack trace is one event.
//!
//! Pure: lines and instants in, events out, so the rules are tested without
//! threads or sleeps. One per input file (an event never spans two files).
//! A line that starts an event (it matches --multiline-start, or does not
//! match --multiline-continue) sends the one pending; any other line joins
//! it, after a `\n`. An event is also sent when it reaches
//! --multiline-max-lines lines (the next line starts a new one: split, never
//! truncated), when no line has come for --multiline-timeout (the reader
//! asks `deadline`), and at the end of the input. An event longer than
//! --max-len bytes is dropped whole, and counted: its bytes stop being kept
//! the moment it passes the cap, so memory stays bounded by --max-len
//! however long the run of continuation lines. A single line longer than
//! --max-len (which the splitter never hands over) ends the pending event
//! and is dropped on its own.

use std::time::{Instant, SystemTime};

use super::split::Piece;
use crate::config::{Multiline as Settings, MultilineRule as Rule};

/// What comes out: a message, or an event dropped whole.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Message {
        text: &'a [u8],
        /// Known to hold no byte that JSON escapes and none outside ASCII.
        plain: bool,
        lines: usize,
        /// When its first line was read: the message's timestamp.
        read: SystemTime,
        /// Where its first line starts in the input.
        start: u64,
        /// Where its last line ends in the input.
        end: u64,
    },
    Dropped {
        lines: usize,
        end: u64,
    },
}

pub struct Multiline {
    settings: Settings,
    max_len: usize,
    text: Vec<u8>,
    lines: usize,
    plain: bool,
    /// Past --max-len: its lines are counted, not kept.
    oversize: bool,
    read: SystemTime,
    /// When its last line came.
    last: Instant,
    /// Where the pending event starts, and ends, in the input.
    start: u64,
    end: u64,
    /// Where its first line starts: after `start` by any empty lines.
    first: u64,
    /// Where the last line seen ends.
    seen: u64,
}

impl Multiline {
    /// The events of an input whose next byte is at `offset`.
    pub fn new(settings: Settings, max_len: usize, offset: u64) -> Multiline {
        Multiline {
            settings,
            max_len,
            text: Vec::new(),
            lines: 0,
            plain: true,
            oversize: false,
            read: SystemTime::UNIX_EPOCH,
            last: Instant::now(),
            start: offset,
            end: offset,
            first: offset,
            seen: offset,
        }
    }

    /// Takes the next piece from the splitter, ending at `end`, read at
    /// `read` (`now` on the monotonic clock).
    pub fn push(
        &mut self,
        piece: Piece<'_>,
        end: u64,
        read: SystemTime,
        now: Instant,
        emit: &mut impl FnMut(Event<'_>),
    ) {
        let (line, plain, first) = match piece {
            Piece::Line { line, plain, start } => (line, plain, start),
            Piece::Oversize => {
                self.flush(emit);
                emit(Event::Dropped { lines: 1, end });
                self.seen = end;
                return;
            }
        };
        let starts = match &self.settings.rule {
            Rule::Start(pattern) => pattern.is_match(line),
            Rule::Continue(pattern) => !pattern.is_match(line),
        };
        if starts {
            self.flush(emit);
        }
        if self.lines == 0 {
            self.start = self.seen;
            self.first = first;
            self.read = read;
            self.plain = true;
            self.oversize = false;
            self.text.clear();
        } else if !self.oversize {
            self.text.push(b'\n');
            self.plain = false;
        }
        if !self.oversize {
            match self.text.len() + line.len() > self.max_len {
                true => {
                    self.oversize = true;
                    self.text.clear();
                    // Keep no more than --max-len of memory for it either.
                    self.text.shrink_to(self.max_len.min(64 * 1024));
                }
                false => {
                    self.text.extend_from_slice(line);
                    self.plain &= plain;
                }
            }
        }
        self.lines += 1;
        self.end = end;
        self.seen = end;
        self.last = now;
        if self.lines >= self.settings.max_lines {
            self.flush(emit);
        }
    }

    /// Sends the pending event, if there is one (its timeout passed, or the
    /// input ended).
    pub fn flush(&mut self, emit: &mut impl FnMut(Event<'_>)) {
        if self.lines == 0 {
            return;
        }
        let lines = std::mem::take(&mut self.lines);
        emit(match self.oversize {
            true => Event::Dropped {
                lines,
                end: self.end,
            },
            false => Event::Message {
                text: &self.text,
                plain: self.plain,
                lines,
                read: self.read,
                start: self.first,
                end: self.end,
            },
        });
    }

    /// Forgets the pending event: its file was truncated.
    pub fn restart(&mut self, offset: u64) {
        self.lines = 0;
        self.text.clear();
        (self.start, self.end, self.first, self.seen) = (offset, offset, offset, offset);
    }

    /// When the pending event must go out if no line comes first.
    pub fn deadline(&self) -> Option<Instant> {
        (self.lines > 0).then(|| self.last + self.settings.timeout)
    }

    /// Where the pending event starts in the input: nothing from there on
    /// is accounted for yet.
    pub fn pending_start(&self) -> Option<u64> {
        (self.lines > 0).then_some(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::Regex;
    use std::time::Duration;

    /// An event as text, with its line count and end; dropped ones as
    /// "<dropped>".
    type Out = (String, usize, u64);

    fn run(rule: Rule, max_lines: usize, max_len: usize, lines: &[&str]) -> Vec<Out> {
        let settings = Settings {
            rule,
            max_lines,
            timeout: Duration::from_secs(1),
        };
        let mut multiline = Multiline::new(settings, max_len, 0);
        let mut out = Vec::new();
        let mut record = |event: Event<'_>| out.push(describe(event));
        let (read, now) = (SystemTime::UNIX_EPOCH, Instant::now());
        let mut end = 0;
        for line in lines {
            let start = end;
            end += line.len() as u64 + 1;
            let piece = match *line {
                "<long>" => Piece::Oversize,
                _ => Piece::Line {
                    line: line.as_bytes(),
                    plain: true,
                    start,
                },
            };
            multiline.push(piece, end, read, now, &mut record);
        }
        multiline.flush(&mut record);
        out
    }

    fn describe(event: Event<'_>) -> Out {
        match event {
            Event::Message {
                text, lines, end, ..
            } => (String::from_utf8_lossy(text).into_owned(), lines, end),
            Event::Dropped { lines, end } => ("<dropped>".into(), lines, end),
        }
    }

    fn start(pattern: &str) -> Rule {
        Rule::Start(Regex::new(pattern).unwrap())
    }

    fn continues(pattern: &str) -> Rule {
        Rule::Continue(Regex::new(pattern).unwrap())
    }

    const JAVA: &[&str] = &[
        "2026-12-01 10:00:00 INFO started",
        "2026-12-01 10:00:01 ERROR failed",
        "java.lang.IllegalStateException: boom",
        "\tat a.B.c(B.java:10)",
        "Caused by: java.io.IOException: disk",
        "\t... 3 more",
        "2026-12-01 10:00:02 INFO recovered",
    ];

    #[test]
    fn a_start_pattern_groups_a_stack_trace_with_its_line() {
        let events = run(start(r"^\d{4}-\d\d-\d\d "), 500, 1000, JAVA);
        let texts: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(texts, [JAVA[0], &JAVA[1..6].join("\n"), JAVA[6]]);
        let lines: Vec<usize> = events.iter().map(|e| e.1).collect();
        assert_eq!(lines, [1, 5, 1]);
        // Each event ends where its last line does.
        let ends: Vec<u64> = events.iter().map(|e| e.2).collect();
        let end_of = |n: usize| JAVA[..n].iter().map(|l| l.len() as u64 + 1).sum::<u64>();
        assert_eq!(ends, [end_of(1), end_of(6), end_of(7)]);
    }

    #[test]
    fn a_continue_pattern_groups_the_same_way() {
        let events = run(continues(r"^\s|^Caused by:|^java\."), 500, 1000, JAVA);
        let texts: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(texts, [JAVA[0], &JAVA[1..6].join("\n"), JAVA[6]]);
    }

    #[test]
    fn leading_continuation_lines_make_an_event_of_their_own() {
        let events = run(
            start("^S"),
            500,
            1000,
            &["  orphan", "  too", "S new", "  tail"],
        );
        let texts: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(texts, ["  orphan\n  too", "S new\n  tail"]);
    }

    #[test]
    fn max_lines_splits_and_loses_nothing() {
        let lines = ["S", "a", "b", "c", "d", "S2"];
        let events = run(start("^S"), 2, 1000, &lines);
        let texts: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(texts, ["S\na", "b\nc", "d", "S2"]);
    }

    #[test]
    fn an_event_over_max_len_is_dropped_whole_and_its_neighbours_kept() {
        // "S1\nxxxx\nyyyy" is 12 bytes: over a cap of 10.
        let events = run(
            start("^S"),
            500,
            10,
            &["S0", "S1", "xxxx", "yyyy", "S2", "z"],
        );
        let got: Vec<(&str, usize)> = events.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(got, [("S0", 1), ("<dropped>", 3), ("S2\nz", 2)]);
        // Exactly at the cap is kept.
        let events = run(start("^S"), 500, 7, &["S1", "xxxx"]);
        assert_eq!(events[0].0, "S1\nxxxx");
    }

    #[test]
    fn a_line_over_max_len_ends_the_event_and_goes_alone() {
        let events = run(start("^S"), 500, 100, &["S1", "a", "<long>", "b", "S2"]);
        let got: Vec<(&str, usize)> = events.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(got, [("S1\na", 2), ("<dropped>", 1), ("b", 1), ("S2", 1)]);
    }

    #[test]
    fn an_event_starts_where_its_first_line_does_past_empty_lines() {
        let settings = Settings {
            rule: start("^S"),
            max_lines: 500,
            timeout: Duration::from_secs(1),
        };
        let mut multiline = Multiline::new(settings, 100, 0);
        let (read, now) = (SystemTime::UNIX_EPOCH, Instant::now());
        let line = |text: &'static str, start| Piece::Line {
            line: text.as_bytes(),
            plain: true,
            start,
        };
        let mut spans = Vec::new();
        let mut record = |event: Event<'_>| {
            if let Event::Message { start, end, .. } = event {
                spans.push((start, end));
            }
        };
        // Two empty lines, then an event of two lines, then another.
        multiline.push(line("S a", 2), 6, read, now, &mut record);
        assert_eq!(multiline.pending_start(), Some(0));
        multiline.push(line(" b", 6), 9, read, now, &mut record);
        multiline.push(line("S c", 10), 14, read, now, &mut record);
        multiline.flush(&mut record);
        assert_eq!(spans, [(2, 9), (10, 14)]);
    }

    #[test]
    fn the_deadline_follows_the_last_line_and_the_pending_start_the_first() {
        let settings = Settings {
            rule: start("^S"),
            max_lines: 500,
            timeout: Duration::from_millis(300),
        };
        let mut multiline = Multiline::new(settings, 100, 40);
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(200);
        let read = SystemTime::UNIX_EPOCH + Duration::from_secs(7);
        let mut events = Vec::new();
        let line = |text: &'static str, start| Piece::Line {
            line: text.as_bytes(),
            plain: true,
            start,
        };
        assert_eq!(
            (multiline.deadline(), multiline.pending_start()),
            (None, None)
        );
        multiline.push(line("S one", 40), 46, read, t0, &mut |e| {
            events.push(describe(e))
        });
        multiline.push(line(" two", 46), 51, SystemTime::now(), t1, &mut |e| {
            events.push(describe(e))
        });
        assert!(events.is_empty());
        assert_eq!(multiline.deadline(), Some(t1 + Duration::from_millis(300)));
        assert_eq!(multiline.pending_start(), Some(40));
        let mut stamped = None;
        multiline.flush(&mut |event| {
            if let Event::Message { read, plain, .. } = event {
                stamped = Some((read, plain));
            }
        });
        assert_eq!(
            stamped,
            Some((read, false)),
            "the first line's time; joined, not plain"
        );
        assert_eq!(
            (multiline.deadline(), multiline.pending_start()),
            (None, None)
        );
        // The next event starts where the last one ended.
        multiline.push(line("S three", 51), 59, read, t1, &mut |_| {});
        assert_eq!(multiline.pending_start(), Some(51));
        // The file was truncated: what was pending is forgotten, and the
        // next event starts at the new content.
        multiline.push(line(" four", 59), 65, read, t1, &mut |_| {});
        multiline.restart(0);
        assert_eq!(
            (multiline.deadline(), multiline.pending_start()),
            (None, None)
        );
        multiline.push(line(" five", 0), 6, read, t1, &mut |_| {});
        assert_eq!(multiline.pending_start(), Some(0));
        multiline.flush(&mut |e| events.push(describe(e)));
        assert_eq!(events, [(" five".to_string(), 1, 6)]);
    }
}
