//! Reading the spool back, in order, on the reader thread: one segment at
//! a time, a block at a time (never a segment whole), through whatever
//! damage it took.
//!
//! `Scan` reads one segment file; `Cursor` goes from segment to segment,
//! numbers the lines it expects, and says once per segment how many were
//! lost: those whose records are damaged, cut short or missing (sequence
//! numbers have no gaps, so the records on either side of the damage say
//! how many). Damage is never fatal: the rest is read.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::record::{self, Found, HEADER, MAGIC, Record};
use super::{Spool, name};
use crate::messages;
use crate::stats::Stats;

/// Bytes read from a segment at a time.
const BLOCK: usize = 64 * 1024;

/// One segment, read from its start.
pub struct Scan<'a> {
    /// Where blocks just written are handed over, and this segment's first
    /// line: none for the look at start.
    hot: Option<(&'a Spool, u64)>,
    /// `buf` holds only records this process wrote and kept in memory:
    /// their checksums need no look.
    trusted: bool,
    file: File,
    buf: Vec<u8>,
    /// Where the next record starts in `buf`.
    start: usize,
    /// The file offset just past `buf`.
    read_to: u64,
    max_line: usize,
    /// The lowest number the next record may have.
    expect: u64,
    /// Bytes were found that are not sound records.
    pub damaged: bool,
}

/// What a segment holds next.
pub enum Step<'a> {
    Line(Record<'a>),
    /// Nothing more yet: the segment is still being appended to.
    Wait,
    /// Nothing more: the segment is read to its end.
    End,
}

impl<'a> Scan<'a> {
    pub fn open(path: &Path, max_line: usize) -> io::Result<Scan<'a>> {
        let mut scan = Scan {
            hot: None,
            trusted: false,
            file: File::open(path)?,
            buf: Vec::new(),
            start: 0,
            read_to: 0,
            max_line,
            expect: 0,
            damaged: false,
        };
        let mut magic = [0u8; MAGIC.len()];
        let n = scan.file.read_at(&mut magic, 0)?;
        // Not written whole, or not ours: its first bytes are read as
        // records, found damaged, and whatever sound records follow are
        // still found.
        if n == MAGIC.len() && magic == *MAGIC {
            scan.read_to = MAGIC.len() as u64;
        }
        Ok(scan)
    }

    /// The next sound record's number, for the look at start.
    pub fn next_seq(&mut self) -> io::Result<Option<u64>> {
        Ok(match self.step(|| None)? {
            Step::Line(record) => Some(record.seq),
            Step::Wait | Step::End => None,
        })
    }

    /// The next sound record, reading no further than `limit()` (None: the
    /// file's end) into the file.
    pub fn step(&mut self, limit: impl Fn() -> Option<u64>) -> io::Result<Step<'_>> {
        loop {
            let bytes = &self.buf[self.start..];
            match record::parse(bytes, self.expect, self.max_line, !self.trusted) {
                Found::Record { record, size } => {
                    let Record {
                        seq, time, plain, ..
                    } = record;
                    let (at, len) = (self.start + HEADER, record.line.len());
                    self.start += size;
                    self.expect = seq + 1;
                    return Ok(Step::Line(Record {
                        seq,
                        time,
                        line: &self.buf[at..at + len],
                        plain,
                    }));
                }
                Found::Short => {}
                Found::Bad => {
                    self.damaged = true;
                    let rest = &self.buf[self.start..];
                    match record::resync(rest, self.expect, self.max_line) {
                        Ok(at) => {
                            self.start += at;
                            continue;
                        }
                        Err(keep) => self.start = self.buf.len() - keep,
                    }
                }
            }
            let limit = limit();
            if !self.fill(limit)? {
                if limit.is_some() {
                    return Ok(Step::Wait);
                }
                if self.start < self.buf.len() {
                    // A record cut short, or damage to the end.
                    self.damaged = true;
                    self.start = self.buf.len();
                }
                return Ok(Step::End);
            }
        }
    }

    /// Reads the next block, up to `limit`; false if there was nothing.
    fn fill(&mut self, limit: Option<u64>) -> io::Result<bool> {
        // Blocks start and end at records, so one can follow only a buffer
        // read to its end.
        if let Some((spool, first)) = self.hot.filter(|_| self.start == self.buf.len()) {
            if let Some(block) = spool.take_over(first, self.read_to) {
                self.read_to += block.bytes.len() as u64;
                spool.recycle(std::mem::replace(&mut self.buf, block.bytes));
                self.start = 0;
                self.trusted = true;
                return Ok(true);
            }
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let room = match limit {
            Some(limit) => limit.saturating_sub(self.read_to).min(BLOCK as u64) as usize,
            None => BLOCK,
        };
        if room == 0 {
            return Ok(false);
        }
        self.trusted = false;
        let have = self.buf.len();
        self.buf.resize(have + room, 0);
        let n = loop {
            match self.file.read_at(&mut self.buf[have..], self.read_to) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let n = n.inspect_err(|_| self.buf.truncate(have))?;
        self.buf.truncate(have + n);
        self.read_to += n as u64;
        Ok(n > 0)
    }
}

/// What the spool holds next, for the reader thread.
pub enum Next<'a> {
    Line(Record<'a>),
    /// Nothing yet: the intake may append more.
    Wait,
    /// Nothing more: the intake ended and every line is read.
    End,
}

/// The reader's place in the spool, from the first line not confirmed on.
pub struct Cursor<'a> {
    spool: &'a Spool,
    stats: &'a Stats,
    max_line: usize,
    /// The segment being read (its first line's number) and its scan.
    segment: Option<(u64, Scan<'a>)>,
    /// The number of the next line wanted.
    expect: u64,
    /// Lines of this segment lost so far.
    lost: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(spool: &'a Spool, stats: &'a Stats, max_line: usize) -> Cursor<'a> {
        Cursor {
            spool,
            stats,
            max_line,
            segment: None,
            expect: spool.start,
            lost: 0,
        }
    }

    /// The number of the next line wanted: everything before it is handed
    /// on or lost.
    pub fn expect(&self) -> u64 {
        self.expect
    }

    pub fn next(&mut self) -> io::Result<Next<'_>> {
        loop {
            let Some((first, scan)) = &mut self.segment else {
                let Some(first) = self.spool.segment_for(self.expect) else {
                    return Ok(self.at_end());
                };
                self.open(first)?;
                continue;
            };
            let (first, spool) = (*first, self.spool);
            // A borrow checker limit (a loan returned from a loop) makes
            // the record's place come back as numbers.
            let found = match scan.step(|| spool.limit(first))? {
                Step::Line(record) => {
                    Some((record.seq, record.time, record.line.len(), record.plain))
                }
                Step::Wait => return Ok(Next::Wait),
                Step::End => None,
            };
            match found {
                Some((seq, ..)) if seq < self.expect => continue,
                Some((seq, time, len, plain)) => {
                    self.lost += seq - self.expect;
                    self.expect = seq + 1;
                    let scan = &self.segment.as_ref().expect("open").1;
                    let line = &scan.buf[scan.start - len..scan.start];
                    return Ok(Next::Line(Record {
                        seq,
                        time,
                        line,
                        plain,
                    }));
                }
                None => {
                    let damaged = scan.damaged;
                    match self.spool.after(first) {
                        Some(next) => {
                            // Lines between this segment's last and the
                            // next one's first were cut from its end, if
                            // it is damaged; else a whole segment is
                            // missing, which `open` says.
                            if damaged {
                                self.lost += next.saturating_sub(self.expect);
                                self.expect = self.expect.max(next);
                            }
                            self.leave(first, damaged);
                            self.open(next)?;
                        }
                        None if !self.spool.intake_ended() => return Ok(Next::Wait),
                        None => {
                            if damaged {
                                let next = self.spool.next();
                                self.lost += next.saturating_sub(self.expect);
                                self.expect = self.expect.max(next);
                            }
                            self.leave(first, damaged);
                            self.segment = None;
                            return Ok(self.at_end());
                        }
                    }
                }
            }
        }
    }

    fn at_end(&mut self) -> Next<'static> {
        if !self.spool.intake_ended() {
            return Next::Wait;
        }
        let missing = self.spool.next().saturating_sub(self.expect);
        self.said_lost(None, missing);
        self.expect += missing;
        Next::End
    }

    fn open(&mut self, first: u64) -> io::Result<()> {
        // No segment holds the lines before this one's first.
        self.said_lost(None, first.saturating_sub(self.expect));
        self.expect = self.expect.max(first);
        let path = self.spool.dir().join(name(first));
        let mut scan = Scan::open(&path, self.max_line)?;
        scan.expect = first;
        scan.hot = Some((self.spool, first));
        self.segment = Some((first, scan));
        self.lost = 0;
        Ok(())
    }

    /// Done with a segment: says what it lost, once.
    fn leave(&mut self, first: u64, damaged: bool) {
        if damaged || self.lost > 0 {
            self.spool.set_damaged(first);
            self.said_lost(Some(first), self.lost);
        }
        self.lost = 0;
    }

    /// Says what a damaged segment lost, or that lines are missing (if
    /// any are).
    fn said_lost(&self, segment: Option<u64>, lines: u64) {
        if segment.is_none() && lines == 0 {
            return;
        }
        self.spool.add_corrupt(lines);
        self.stats.spool_corrupt(lines);
        let dir = self.spool.dir().display();
        match segment {
            Some(first) => messages::error!(
                "--spool {dir}: segment {} is damaged: {} lost, the rest sent; it is moved to \
                 {dir}/damaged once sent",
                name(first),
                messages::count(lines as usize, "line")
            ),
            None => messages::error!(
                "--spool {dir}: {} missing (a segment deleted?)",
                messages::count(lines as usize, "line")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scratch::Scratch;
    use crate::spool::{Block, Settings, Sync};
    use std::path::Path;

    /// A segment holding lines `from..to`, each "line N".
    fn segment(from: u64, to: u64) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for seq in from..to {
            record::write(
                &mut bytes,
                seq,
                seq as i64,
                format!("line {seq}").as_bytes(),
                true,
            );
        }
        bytes
    }

    /// Where record `seq` starts in `segment(from, _)`.
    fn offset(from: u64, seq: u64) -> usize {
        MAGIC.len()
            + (from..seq)
                .map(|s| HEADER + format!("line {s}").len())
                .sum::<usize>()
    }

    fn index(scratch: &Scratch, confirmed: u64, appended: u64) {
        scratch.write(
            "index",
            format!("{{\"confirmed\":{confirmed},\"appended\":{appended},\"key\":\"1\"}}"),
        );
    }

    fn open(scratch: &Scratch, read_only: bool) -> Spool {
        let settings = Settings {
            dir: scratch.path().to_path_buf(),
            sync: Sync::Always,
            max_size: 1 << 20,
        };
        Spool::open(&settings, read_only, 100).unwrap()
    }

    /// Every line the cursor hands out, and the lines it counts as lost;
    /// then everything is confirmed, which moves damaged segments aside.
    fn read_all(scratch: &Scratch) -> (Vec<u64>, u64) {
        let spool = open(scratch, false);
        spool.end_intake();
        let stats = Stats::new(1, 1).spooling(spool.resumed);
        let mut cursor = Cursor::new(&spool, &stats, 100);
        let mut seqs = Vec::new();
        loop {
            match cursor.next().unwrap() {
                Next::Line(record) => {
                    assert_eq!(record.line, format!("line {}", record.seq).as_bytes());
                    assert_eq!(record.time, record.seq as i64);
                    assert!(record.plain);
                    seqs.push(record.seq);
                }
                Next::Wait => panic!("waits with the intake ended"),
                Next::End => break,
            }
        }
        assert_eq!(cursor.expect(), spool.next(), "ends past every line");
        assert_eq!(stats.summary().spool.unwrap().corrupt, spool.corrupt());
        spool.confirm(spool.next()).unwrap();
        (seqs, spool.corrupt())
    }

    /// The segments moved aside, and those left.
    fn aside_and_left(scratch: &Scratch) -> (Vec<String>, Vec<String>) {
        let names = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .map(|e| e.unwrap().file_name().into_string().unwrap())
                        .filter(|name| name.ends_with(".seg"))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        };
        (
            names(&scratch.path().join("damaged")),
            names(scratch.path()),
        )
    }

    #[test]
    fn reading_starts_at_the_first_line_not_confirmed_and_crosses_segments() {
        let scratch = Scratch::new("cursor-resume");
        scratch.write(&name(0), segment(0, 6));
        scratch.write(&name(6), segment(6, 10));
        index(&scratch, 3, 10);
        assert_eq!(read_all(&scratch), ((3..10).collect(), 0));
        assert_eq!(aside_and_left(&scratch), (vec![], vec![]), "sound: deleted");
    }

    #[test]
    fn a_flipped_byte_loses_its_line_only() {
        let scratch = Scratch::new("cursor-flip");
        let mut bytes = segment(0, 10);
        bytes[offset(0, 4) + HEADER + 2] ^= 0x40;
        scratch.write(&name(0), bytes);
        index(&scratch, 0, 10);
        let expected: Vec<u64> = (0..10).filter(|&s| s != 4).collect();
        assert_eq!(read_all(&scratch), (expected, 1));
        assert_eq!(aside_and_left(&scratch), (vec![name(0)], vec![]));
    }

    #[test]
    fn a_flipped_length_loses_its_line_only() {
        let scratch = Scratch::new("cursor-length");
        let mut bytes = segment(0, 10);
        bytes[offset(0, 2) + 4] ^= 0x10;
        scratch.write(&name(0), bytes);
        index(&scratch, 0, 10);
        let expected: Vec<u64> = (0..10).filter(|&s| s != 2).collect();
        assert_eq!(read_all(&scratch), (expected, 1));
    }

    #[test]
    fn a_missing_segment_loses_its_lines_and_no_more() {
        let scratch = Scratch::new("cursor-missing");
        scratch.write(&name(0), segment(0, 3));
        scratch.write(&name(6), segment(6, 10));
        index(&scratch, 0, 10);
        assert_eq!(read_all(&scratch), (vec![0, 1, 2, 6, 7, 8, 9], 3));
        // Neither segment is damaged: one is missing.
        assert_eq!(aside_and_left(&scratch), (vec![], vec![]));
        // Missing at the start too: before the first segment left.
        let scratch = Scratch::new("cursor-missing-first");
        scratch.write(&name(4), segment(4, 6));
        index(&scratch, 1, 6);
        assert_eq!(read_all(&scratch), (vec![4, 5], 3));
    }

    #[test]
    fn a_segment_cut_short_loses_what_was_cut() {
        let scratch = Scratch::new("cursor-cut");
        let bytes = segment(0, 10);
        scratch.write(&name(0), &bytes[..offset(0, 7) + 5]);
        index(&scratch, 0, 10);
        assert_eq!(read_all(&scratch), ((0..7).collect(), 3));
        assert_eq!(aside_and_left(&scratch), (vec![name(0)], vec![]));
        // And one cut short before another: what the next one's first
        // line says is missing.
        let scratch = Scratch::new("cursor-cut-middle");
        scratch.write(&name(0), &bytes[..offset(0, 7) + 5]);
        scratch.write(&name(10), segment(10, 12));
        index(&scratch, 0, 12);
        let expected: Vec<u64> = (0..7).chain(10..12).collect();
        assert_eq!(read_all(&scratch), (expected, 3));
        assert_eq!(aside_and_left(&scratch), (vec![name(0)], vec![]));
    }

    #[test]
    fn a_segment_that_is_not_the_format_keeps_its_sound_records() {
        let scratch = Scratch::new("cursor-magic");
        let mut bytes = segment(0, 5);
        bytes[0] = b'X';
        scratch.write(&name(0), bytes);
        index(&scratch, 0, 5);
        assert_eq!(read_all(&scratch), ((0..5).collect(), 0));
        assert_eq!(aside_and_left(&scratch), (vec![name(0)], vec![]));
        // Its start cut short is damage too; an empty file is none.
        let scratch = Scratch::new("cursor-magic-short");
        scratch.write(&name(0), &MAGIC[..3]);
        scratch.write(&name(5), segment(5, 6));
        index(&scratch, 0, 6);
        assert_eq!(read_all(&scratch), (vec![5], 5));
        assert_eq!(aside_and_left(&scratch), (vec![name(0)], vec![]));
        let scratch = Scratch::new("cursor-magic-empty");
        scratch.write(&name(0), b"");
        scratch.write(&name(5), segment(5, 6));
        index(&scratch, 0, 6);
        assert_eq!(read_all(&scratch), (vec![5], 5));
        assert_eq!(aside_and_left(&scratch), (vec![], vec![]));
    }

    #[test]
    fn lines_missing_where_nothing_looks_damaged_are_counted_too() {
        // A segment whose records skip two numbers, bytes all sound.
        let scratch = Scratch::new("cursor-gap");
        let mut bytes = segment(0, 3);
        bytes.extend_from_slice(&segment(5, 7)[MAGIC.len()..]);
        scratch.write(&name(0), bytes);
        index(&scratch, 0, 7);
        assert_eq!(read_all(&scratch), (vec![0, 1, 2, 5, 6], 2));
        assert_eq!(aside_and_left(&scratch), (vec![name(0)], vec![]));
        // Cut at a record's start: the index knew of more.
        let scratch = Scratch::new("cursor-cut-clean");
        scratch.write(&name(0), &segment(0, 10)[..offset(0, 7)]);
        index(&scratch, 0, 10);
        assert_eq!(read_all(&scratch), ((0..7).collect(), 3));
        // No segment at all.
        let scratch = Scratch::new("cursor-none");
        index(&scratch, 0, 5);
        assert_eq!(read_all(&scratch), (vec![], 5));
    }

    #[test]
    fn damage_before_a_record_across_two_reads_loses_one_line_and_memory_stays_bounded() {
        let scratch = Scratch::new("cursor-blocks");
        // Records of 1014 bytes: the 65th starts in the first read of the
        // file (64 KiB after the magic) and ends in the second.
        let line = |seq: u64| format!("{seq:0990}");
        let mut bytes = MAGIC.to_vec();
        let mut starts = Vec::new();
        for seq in 0..300 {
            starts.push(bytes.len());
            record::write(&mut bytes, seq, 0, line(seq).as_bytes(), true);
        }
        assert!(starts[64] < MAGIC.len() + BLOCK && starts[65] > MAGIC.len() + BLOCK);
        bytes[starts[63] + HEADER + 100] ^= 0x01;
        let path = scratch.write(&name(0), bytes);
        let mut scan = Scan::open(&path, 2000).unwrap();
        let mut seqs = Vec::new();
        let mut largest = 0;
        while let Step::Line(record) = scan.step(|| None).unwrap() {
            assert_eq!(record.line, line(record.seq).as_bytes());
            seqs.push(record.seq);
            largest = largest.max(scan.buf.capacity());
        }
        let expected: Vec<u64> = (0..300).filter(|&s| s != 63).collect();
        assert_eq!(seqs, expected);
        assert!(scan.damaged);
        assert!(largest <= 2 * BLOCK + 2000, "a buffer of {largest} bytes");
    }

    #[test]
    fn the_reader_waits_for_more_until_the_intake_ends() {
        let scratch = Scratch::new("cursor-wait");
        scratch.write(&name(0), segment(0, 2));
        index(&scratch, 0, 2);
        let spool = open(&scratch, false);
        let stats = Stats::new(1, 1).spooling(spool.resumed);
        let mut cursor = Cursor::new(&spool, &stats, 100);
        assert!(matches!(cursor.next().unwrap(), Next::Line(r) if r.seq == 0));
        assert!(matches!(cursor.next().unwrap(), Next::Line(r) if r.seq == 1));
        assert!(matches!(cursor.next().unwrap(), Next::Wait));
        // It keeps its place in the segment, rather than read it again.
        assert!(matches!(cursor.segment, Some((0, _))));
        assert!(matches!(cursor.next().unwrap(), Next::Wait));
        spool.end_intake();
        assert!(matches!(cursor.next().unwrap(), Next::End));
        assert_eq!(spool.corrupt(), 0);
    }

    #[test]
    fn the_segment_being_appended_to_is_read_no_further_than_written_out() {
        let scratch = Scratch::new("cursor-current");
        // A third record being written: only its first bytes are there.
        let bytes = segment(0, 3);
        scratch.write(&name(0), &bytes[..bytes.len() - 3]);
        index(&scratch, 0, 0);
        let spool = open(&scratch, false);
        {
            let mut shared = spool.lock();
            shared.current = Some(0);
            shared.written = offset(0, 2) as u64;
        }
        let stats = Stats::new(1, 1).spooling(spool.resumed);
        let mut cursor = Cursor::new(&spool, &stats, 100);
        assert!(matches!(cursor.next().unwrap(), Next::Line(r) if r.seq == 0));
        assert!(matches!(cursor.next().unwrap(), Next::Line(r) if r.seq == 1));
        assert!(matches!(cursor.next().unwrap(), Next::Wait));
        // The rest written out: the third line comes whole.
        scratch.write(&name(0), &bytes);
        spool.lock().written = bytes.len() as u64;
        assert!(matches!(cursor.next().unwrap(), Next::Line(r) if r.seq == 2));
        assert!(matches!(cursor.next().unwrap(), Next::Wait));
        assert_eq!(spool.corrupt(), 0, "a record being written is no damage");
    }

    #[test]
    fn blocks_handed_over_are_read_from_memory_in_their_place() {
        let scratch = Scratch::new("cursor-hot");
        // The file holds lines 0..4; the block handed over for the place
        // of lines 2 and 3 holds other text, so where each came from shows.
        let on_disk = segment(0, 4);
        let path = scratch.write(&name(0), &on_disk);
        scratch.write("lock", "");
        let spool = open(&scratch, true);
        let mut scan = Scan::open(&path, 100).unwrap();
        scan.hot = Some((&spool, 0));
        let second = offset(0, 2) as u64;
        let mut lines = Vec::new();
        let mut read = |scan: &mut Scan<'_>, limit: u64| loop {
            match scan.step(|| Some(limit)).unwrap() {
                Step::Line(record) => lines.push(String::from_utf8(record.line.to_vec()).unwrap()),
                Step::Wait => break,
                Step::End => panic!("a limit was given"),
            }
        };
        read(&mut scan, second);
        assert!(!scan.trusted, "read from the file");
        let mut memory = Vec::new();
        for seq in 2..4 {
            record::write(&mut memory, seq, 0, format!("MEM! {seq}").as_bytes(), false);
        }
        // A stale block and one of a later segment around the right one.
        let stale = Block {
            first: 0,
            at: MAGIC.len() as u64,
            bytes: b"stale".to_vec(),
        };
        spool.hand_over(stale);
        spool.hand_over(Block {
            first: 0,
            at: second,
            bytes: memory,
        });
        spool.hand_over(Block {
            first: 4,
            at: MAGIC.len() as u64,
            bytes: b"later".to_vec(),
        });
        read(&mut scan, on_disk.len() as u64);
        assert_eq!(lines, ["line 0", "line 1", "MEM! 2", "MEM! 3"]);
        assert!(scan.trusted, "memory needs no checksum");
        assert_eq!(scan.read_to, on_disk.len() as u64);
        // The later block waits for its segment.
        let later = spool.take_over(4, MAGIC.len() as u64).expect("kept");
        assert_eq!(later.bytes, b"later");
    }

    #[test]
    fn a_scan_reads_no_further_than_its_limit_and_says_so() {
        let scratch = Scratch::new("scan-limit");
        let path = scratch.write(&name(0), segment(0, 3));
        let mut scan = Scan::open(&path, 100).unwrap();
        let second = offset(0, 2) as u64;
        let mut seqs = Vec::new();
        loop {
            match scan.step(|| Some(second)).unwrap() {
                Step::Line(record) => seqs.push(record.seq),
                Step::Wait => break,
                Step::End => panic!("ended within its limit"),
            }
        }
        assert_eq!(seqs, [0, 1]);
        assert!(!scan.damaged);
        assert!(matches!(scan.step(|| None).unwrap(), Step::Line(r) if r.seq == 2));
        assert!(matches!(scan.step(|| None).unwrap(), Step::End));
        assert!(!scan.damaged);
    }

    #[test]
    fn a_scan_of_a_cut_segment_is_damaged_at_its_end() {
        let scratch = Scratch::new("scan-cut");
        let bytes = segment(0, 3);
        let path = scratch.write(&name(0), &bytes[..bytes.len() - 1]);
        let mut scan = Scan::open(&path, 100).unwrap();
        assert_eq!(scan.next_seq().unwrap(), Some(0));
        assert_eq!(scan.next_seq().unwrap(), Some(1));
        assert!(!scan.damaged);
        assert_eq!(scan.next_seq().unwrap(), None);
        assert!(scan.damaged);
    }
}
