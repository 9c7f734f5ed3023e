//! How far into each input file every line is accounted for: the positions
//! a state file may record.
//!
//! The reader opens an account per file it reads and, when it hands a batch
//! over, enters in it where the batch's lines of that file end. Workers settle
//! each batch once, as done (confirmed sent, or dropped by policy) or failed.
//! An account's position is the end of the longest run of entries, from its
//! start, that are all done: batches confirm out of order with several
//! workers, and a later batch confirmed first does not move the position past
//! an earlier one still in flight. A failed entry stops the account for the
//! rest of the run, so that the next run sends those lines again; nothing
//! more is entered in it, which keeps its memory bounded.
//!
//! Shared behind one lock by the reader (which enters), the workers (which
//! settle, once per write) and the thread that writes the state file (which
//! reads the positions about once a second).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// An input file as the state file knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// What the state file records of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub path: String,
    pub id: FileId,
    /// Of the file's first bytes: tells a file from a later one that reuses
    /// its inode, or from itself truncated and written again.
    pub fingerprint: Fingerprint,
    /// The first byte not yet accounted for.
    pub position: u64,
}

/// Bytes at the start of a file that its fingerprint covers, at most.
pub const FINGERPRINT_MAX: usize = 1024;

/// A digest of a file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// How many bytes it covers.
    pub len: usize,
    pub hash: u64,
}

impl Fingerprint {
    /// FNV-1a, 64 bits: stable across builds and platforms, which std's
    /// hashers are not, and enough to tell files apart (it guards against
    /// accidents, not against an adversary who can write the log).
    pub fn of(bytes: &[u8]) -> Fingerprint {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Fingerprint {
            len: bytes.len(),
            hash,
        }
    }
}

/// An account's number, handed out in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Account(pub u32);

/// One entry a batch made in one account: settle it to move that account on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    account: Account,
    /// Its place in the account's sequence of entries.
    slot: u64,
}

/// Where a batch's lines of one file end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub account: Account,
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Confirmed sent, or dropped by policy: the position may pass it.
    Done,
    /// Not sent: the position stops before it for the rest of the run.
    Failed,
}

#[derive(Default)]
pub struct Ledger {
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    accounts: Vec<Ledgered>,
    /// Set when a position or record moved since the last `changes`.
    changed: bool,
}

struct Ledgered {
    record: Record,
    /// Entries not yet passed, oldest first: where each ends, and whether
    /// it is settled.
    open: VecDeque<(u64, Option<Outcome>)>,
    /// The slot of `open[0]`.
    first_slot: u64,
    /// A failed entry was met: the position stays where it is.
    stuck: bool,
    /// No longer written to the state file: the file was truncated (another
    /// account took its identity) or deleted.
    retired: bool,
    /// Carried over from the last run, for a file this run has not opened
    /// (yet): written back as it was.
    dormant: bool,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Opens an account for a file read from `record.position` on.
    pub fn open(&self, record: Record) -> Account {
        self.add(record, false)
    }

    /// Keeps what the last run recorded of a file, until a file this run
    /// opens turns out to be it (`wake`).
    pub fn carry(&self, record: Record) -> Account {
        self.add(record, true)
    }

    fn add(&self, record: Record, dormant: bool) -> Account {
        let mut book = self.lock();
        book.accounts.push(Ledgered {
            record,
            open: VecDeque::new(),
            first_slot: 0,
            stuck: false,
            retired: false,
            dormant,
        });
        book.changed = true;
        Account(book.accounts.len() as u32 - 1)
    }

    /// The carried record of the file with this identity, if any.
    pub fn dormant(&self, id: &FileId) -> Option<(Account, Record)> {
        let book = self.lock();
        let found = book.accounts.iter().enumerate().find(|(_, ledgered)| {
            ledgered.dormant && !ledgered.retired && ledgered.record.id == *id
        });
        found.map(|(index, ledgered)| (Account(index as u32), ledgered.record.clone()))
    }

    /// Every carried record not (yet) woken.
    pub fn dormant_records(&self) -> Vec<(Account, Record)> {
        let book = self.lock();
        let dormant = book
            .accounts
            .iter()
            .enumerate()
            .filter(|(_, ledgered)| ledgered.dormant && !ledgered.retired);
        dormant
            .map(|(index, ledgered)| (Account(index as u32), ledgered.record.clone()))
            .collect()
    }

    /// A carried record's file is open again: its account goes on from
    /// its position, under the path it was found at.
    pub fn wake(&self, account: Account, path: String) {
        let mut book = self.lock();
        let ledgered = &mut book.accounts[account.0 as usize];
        ledgered.dormant = false;
        ledgered.record.path = path;
        book.changed = true;
    }

    /// Enters the ends of one batch: one entry each, in order, which
    /// settles it later (none for an account that is stuck).
    pub fn enter(&self, ends: impl Iterator<Item = End>) -> Vec<Option<Entry>> {
        let mut book = self.lock();
        ends.map(|end| {
            let ledgered = &mut book.accounts[end.account.0 as usize];
            if ledgered.stuck {
                return None;
            }
            let slot = ledgered.first_slot + ledgered.open.len() as u64;
            ledgered.open.push_back((end.offset, None));
            Some(Entry {
                account: end.account,
                slot,
            })
        })
        .collect()
    }

    /// Accounts for lines up to `offset` that need no delivery (dropped
    /// before they joined a batch, or empty) and that follow every entry
    /// made so far.
    pub fn pass(&self, end: End) {
        let mut book = self.lock();
        let ledgered = &mut book.accounts[end.account.0 as usize];
        if ledgered.stuck {
            return;
        }
        ledgered.open.push_back((end.offset, Some(Outcome::Done)));
        if ledgered.advance() {
            book.changed = true;
        }
    }

    /// Settles entries, once each.
    pub fn settle(&self, entries: impl Iterator<Item = Entry>, outcome: Outcome) {
        let mut book = self.lock();
        for entry in entries {
            let ledgered = &mut book.accounts[entry.account.0 as usize];
            let Some(index) = entry.slot.checked_sub(ledgered.first_slot) else {
                continue;
            };
            if let Some(open) = ledgered.open.get_mut(index as usize) {
                open.1 = Some(outcome);
            }
            if ledgered.advance() {
                book.changed = true;
            }
        }
    }

    /// Updates the fingerprint of an account's file, as more of its first
    /// bytes are read.
    pub fn set_fingerprint(&self, account: Account, fingerprint: Fingerprint) {
        let mut book = self.lock();
        book.accounts[account.0 as usize].record.fingerprint = fingerprint;
        book.changed = true;
    }

    /// Records a file's new path (found under another name).
    pub fn set_path(&self, account: Account, path: String) {
        let mut book = self.lock();
        book.accounts[account.0 as usize].record.path = path;
        book.changed = true;
    }

    /// Leaves an account out of the state from now on.
    pub fn retire(&self, account: Account) {
        let mut book = self.lock();
        book.accounts[account.0 as usize].retired = true;
        book.changed = true;
    }

    /// The current position of an account.
    #[cfg(test)]
    pub fn position(&self, account: Account) -> u64 {
        self.lock().accounts[account.0 as usize].record.position
    }

    /// Every live account's record, if anything moved since the last call.
    pub fn changes(&self) -> Option<Vec<Record>> {
        let mut book = self.lock();
        if !std::mem::take(&mut book.changed) {
            return None;
        }
        Some(book.records())
    }

    /// Marks everything as moved, for a write that failed.
    pub fn touch(&self) {
        self.lock().changed = true;
    }

    /// Every live account's record.
    #[cfg(test)]
    pub fn records(&self) -> Vec<Record> {
        self.lock().records()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        // A worker that panicked must not take the positions with it.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Book {
    fn records(&self) -> Vec<Record> {
        self.accounts
            .iter()
            .filter(|ledgered| !ledgered.retired)
            .map(|ledgered| ledgered.record.clone())
            .collect()
    }
}

impl Ledgered {
    /// Passes the settled entries at the front; true if the position moved.
    fn advance(&mut self) -> bool {
        let before = self.record.position;
        while let Some(&(offset, Some(outcome))) = self.open.front() {
            if outcome == Outcome::Failed {
                // Nothing is entered in a stuck account again, and what
                // was entered finds nothing left to settle.
                self.stuck = true;
                self.open.clear();
                break;
            }
            self.record.position = self.record.position.max(offset);
            self.open.pop_front();
            self.first_slot += 1;
        }
        self.record.position != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_with_file() -> (Ledger, Account) {
        let ledger = Ledger::new();
        let account = ledger.open(Record {
            path: "app.log".into(),
            id: FileId { dev: 1, ino: 2 },
            fingerprint: Fingerprint::of(b""),
            position: 10,
        });
        (ledger, account)
    }

    fn enter(ledger: &Ledger, ends: &[(Account, u64)]) -> Vec<Entry> {
        let ends = ends
            .iter()
            .map(|&(account, offset)| End { account, offset });
        ledger.enter(ends).into_iter().flatten().collect()
    }

    #[test]
    fn the_position_is_the_end_of_the_longest_settled_prefix() {
        let (ledger, a) = ledger_with_file();
        let first = enter(&ledger, &[(a, 20)]);
        let second = enter(&ledger, &[(a, 30)]);
        let third = enter(&ledger, &[(a, 40)]);
        ledger.settle(second.into_iter(), Outcome::Done);
        assert_eq!(ledger.position(a), 10, "the first is still in flight");
        ledger.settle(first.into_iter(), Outcome::Done);
        assert_eq!(ledger.position(a), 30);
        ledger.settle(third.into_iter(), Outcome::Done);
        assert_eq!(ledger.position(a), 40);
    }

    #[test]
    fn a_failed_entry_stops_the_position_for_good() {
        let (ledger, a) = ledger_with_file();
        let first = enter(&ledger, &[(a, 20)]);
        let second = enter(&ledger, &[(a, 30)]);
        ledger.settle(first.into_iter(), Outcome::Failed);
        ledger.settle(second.into_iter(), Outcome::Done);
        let later = enter(&ledger, &[(a, 50)]);
        assert!(later.is_empty(), "nothing more is entered");
        ledger.pass(End {
            account: a,
            offset: 60,
        });
        assert_eq!(ledger.position(a), 10);
    }

    #[test]
    fn passing_waits_for_the_entries_before_it() {
        let (ledger, a) = ledger_with_file();
        let first = enter(&ledger, &[(a, 20)]);
        ledger.pass(End {
            account: a,
            offset: 25,
        });
        assert_eq!(ledger.position(a), 10);
        ledger.settle(first.into_iter(), Outcome::Done);
        assert_eq!(ledger.position(a), 25);
        ledger.pass(End {
            account: a,
            offset: 35,
        });
        assert_eq!(ledger.position(a), 35);
    }

    #[test]
    fn a_batch_across_files_moves_each_of_them() {
        let (ledger, a) = ledger_with_file();
        let b = ledger.open(Record {
            path: "b.log".into(),
            id: FileId { dev: 1, ino: 3 },
            fingerprint: Fingerprint::of(b""),
            position: 0,
        });
        let entries = enter(&ledger, &[(a, 15), (b, 7)]);
        assert_eq!(entries.len(), 2);
        ledger.settle(entries.into_iter(), Outcome::Done);
        assert_eq!((ledger.position(a), ledger.position(b)), (15, 7));
    }

    #[test]
    fn changes_report_once_and_leave_retired_accounts_out() {
        let (ledger, a) = ledger_with_file();
        assert_eq!(ledger.changes().map(|r| r.len()), Some(1));
        assert_eq!(ledger.changes(), None);
        let entries = enter(&ledger, &[(a, 20)]);
        assert_eq!(ledger.changes(), None, "entered is not yet moved");
        ledger.settle(entries.into_iter(), Outcome::Done);
        let records = ledger.changes().unwrap();
        assert_eq!(records[0].position, 20);
        ledger.retire(a);
        assert_eq!(ledger.changes(), Some(Vec::new()));
    }

    #[test]
    fn settling_twice_or_after_a_failure_changes_nothing() {
        let (ledger, a) = ledger_with_file();
        let first = enter(&ledger, &[(a, 20)]);
        ledger.settle(first.clone().into_iter(), Outcome::Done);
        ledger.settle(first.into_iter(), Outcome::Failed);
        assert_eq!(ledger.position(a), 20);
        let second = enter(&ledger, &[(a, 30)]);
        ledger.settle(second.clone().into_iter(), Outcome::Failed);
        ledger.settle(second.into_iter(), Outcome::Done);
        assert_eq!(ledger.position(a), 20);
    }

    #[test]
    fn a_carried_record_is_found_by_identity_and_woken_once() {
        let ledger = Ledger::new();
        let id = FileId { dev: 1, ino: 9 };
        let carried = ledger.carry(Record {
            path: "old.log".into(),
            id: id.clone(),
            fingerprint: Fingerprint::of(b"abc"),
            position: 40,
        });
        assert_eq!(ledger.dormant(&FileId { dev: 2, ino: 9 }), None);
        let (account, record) = ledger.dormant(&id).unwrap();
        assert_eq!((account, record.position), (carried, 40));
        ledger.wake(account, "old.log.1".into());
        assert_eq!(ledger.dormant(&id), None);
        assert_eq!(ledger.records()[0].path, "old.log.1");
        assert!(ledger.dormant_records().is_empty());
    }

    #[test]
    fn dormant_records_are_the_carried_ones_not_woken_or_retired() {
        let (ledger, _) = ledger_with_file();
        let carried = |name: &str, ino| Record {
            path: name.into(),
            id: FileId { dev: 1, ino },
            fingerprint: Fingerprint::of(name.as_bytes()),
            position: ino,
        };
        let a = ledger.carry(carried("a.log", 5));
        let b = ledger.carry(carried("b.log", 6));
        let c = ledger.carry(carried("c.log", 7));
        assert_eq!(
            ledger.dormant_records(),
            [
                (a, carried("a.log", 5)),
                (b, carried("b.log", 6)),
                (c, carried("c.log", 7))
            ]
        );
        ledger.wake(a, "a.log.1".into());
        ledger.retire(b);
        assert_eq!(ledger.dormant_records(), [(c, carried("c.log", 7))]);
    }

    #[test]
    fn a_new_path_or_fingerprint_is_a_change_and_so_is_a_failed_write() {
        let (ledger, a) = ledger_with_file();
        ledger.changes();
        ledger.set_path(a, "app.log.1".into());
        let records = ledger.changes().expect("a new path is a change");
        assert_eq!(records[0].path, "app.log.1");
        ledger.set_fingerprint(a, Fingerprint::of(b"first line\n"));
        let records = ledger.changes().expect("a new fingerprint is a change");
        assert_eq!(records[0].fingerprint, Fingerprint::of(b"first line\n"));
        assert_eq!(ledger.changes(), None);
        // The state's writer failed: the same records are due again.
        ledger.touch();
        assert_eq!(ledger.changes(), Some(records));
    }

    #[test]
    fn fingerprints_are_fnv1a_and_tell_contents_apart() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(Fingerprint::of(b"").hash, 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fingerprint::of(b"a").hash, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fingerprint::of(b"foobar").hash, 0x8594_4171_f739_67e8);
        assert_ne!(Fingerprint::of(b"ab"), Fingerprint::of(b"ba"));
        assert_eq!(Fingerprint::of(b"abc").len, 3);
    }
}
