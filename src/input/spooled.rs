//! Reading the spool (--spool) on the reader thread: lines come whole, with
//! their number and the time the intake read them, from the spool's cursor
//! instead of a splitter, and go on as any stream's do (events, filters,
//! encoding, batches). A line's number is its place: its offset for
//! --offset-key and --id-key, and the position the spool's account in the
//! ledger moves over as batches are confirmed.

use std::time::{Duration, Instant, SystemTime};

use super::chunk::Pending;
use super::multiline::Event;
use super::source::Source;
use super::split::Piece;
use super::{Reader, Wake, earliest};
use crate::ledger::Account;
use crate::messages;
use crate::spool::Spool;
use crate::spool::cursor::{Cursor, Next};

/// Line bytes taken from the spool per chunk, as a read of a stream would.
const TURN_BYTES: usize = 64 * 1024;

/// Where a turn at the spool left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Took {
    More,
    Wait,
    End,
}

impl Reader<'_> {
    /// Reads the spool from its first unconfirmed line until the intake
    /// ended and everything is handed on, or a shutdown begins.
    pub(super) fn read_spool(&mut self, spool: &Spool, account: Account) {
        let mut source =
            Source::spooled(spool.bell_fd(), spool.key, spool.start, self.config.max_len);
        source.account = Some(account);
        source.multiline = self.multiline(spool.start);
        let mut cursor = Cursor::new(spool, self.stats, self.config.max_len + 1);
        loop {
            if self.shutdown.is_stopping() {
                return;
            }
            let now = Instant::now();
            self.flush_due(now);
            self.event_due(&mut source, now);
            spool.hush();
            let took = match self.take_spooled(&mut source, &mut cursor) {
                Ok(took) => took,
                Err(err) => {
                    // A segment that cannot be opened or read: said, and
                    // the run stops, with what it holds kept for the next.
                    messages::error!(
                        "--spool {}: cannot read it: {}",
                        spool.dir().display(),
                        messages::io_reason(&err)
                    );
                    self.stats.input_error();
                    // The intake must stop reading too.
                    self.shutdown.abort();
                    return;
                }
            };
            match took {
                Took::More => {}
                Took::End => break,
                Took::Wait => {
                    let deadline = earliest(self.batcher.deadline(), source.event_deadline());
                    if self.wait(&[spool.bell_fd()], deadline) == Wake::Shutdown {
                        return;
                    }
                }
            }
        }
        self.flush_event(&mut source);
    }

    /// Takes up to TURN_BYTES of lines from the spool and hands them on.
    fn take_spooled(
        &mut self,
        source: &mut Source,
        cursor: &mut Cursor<'_>,
    ) -> std::io::Result<Took> {
        self.encoder.set_origin(source.origin());
        let mut pending = Pending::with_capacity(TURN_BYTES, &mut self.chunks);
        let (encoder, filter) = (&mut self.encoder, &self.config.filter);
        let shaped = !filter.keeps_all() || encoder.places();
        let now = Instant::now();
        let mut bytes = 0;
        let mut time = i64::MIN;
        let mut read = SystemTime::UNIX_EPOCH;
        let took = loop {
            let record = match cursor.next() {
                Ok(Next::Line(record)) => record,
                Ok(Next::Wait) => break Ok(Took::Wait),
                Ok(Next::End) => break Ok(Took::End),
                Err(err) => break Err(err),
            };
            // The lines of one read share its time: converted once.
            if record.time != time {
                time = record.time;
                read = SystemTime::UNIX_EPOCH + Duration::from_nanos(time.max(0) as u64);
                encoder.set_time(read);
            }
            let line = record.line;
            let piece = Piece::Line {
                line,
                plain: record.plain,
                start: record.seq,
            };
            let end = record.seq + 1;
            match &mut source.multiline {
                None if shaped => pending.add::<true>(piece, end, encoder, filter),
                None => pending.add::<false>(piece, end, encoder, filter),
                Some(multiline) => {
                    let mut emit = |event: Event<'_>| pending.add_event(event, encoder, filter);
                    multiline.push(piece, end, read, now, &mut emit);
                }
            }
            bytes += line.len() + 1;
            if bytes >= TURN_BYTES {
                break Ok(Took::More);
            }
        };
        source.splitter.advance(cursor.expect());
        self.hand_on(pending, source);
        took
    }
}
