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
//! It is also where each file's record lives, with its phase
//! (`input::record` decides every change of phase; this only keeps them):
//! the reader finds the record of a file it opens here, with or without a
//! state file, so that a file let go and found again is not read twice.
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
    /// How many files had this inode and other content before it, as far
    /// as wsship saw (a copytruncate, a reused inode): ids (`encode::origin`)
    /// take it in, so that new content never repeats an old line's id.
    pub generation: u32,
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

/// Where a file's record is in its life (see `input::record`, which
/// decides every move from one phase to another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// From the last run's state; its file not met yet in this run.
    Carried,
    /// Its file is open and read, at a name given or matched.
    Open,
    /// Its file is still open and read, but no longer at its name
    /// (rotated or deleted), until it has been quiet for --rotate-wait.
    Detached,
    /// Its file was closed after that quiet minute, read to `end`. The
    /// record stays while the file is there, so that finding it again
    /// (a pattern, the next run) goes on from its position.
    LetGo { end: u64 },
    /// Its file is gone, or is another file now: never written again,
    /// never matched.
    Retired,
}

/// What a state file holds: each file's record and phase, and the names
/// given as FILEs that records had and that have none now (a file deleted,
/// its name not yet given a new one), so that --start-at end never takes
/// a name it has seen for a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    pub files: Vec<(Record, Phase)>,
    pub names: Vec<String>,
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
    /// Names to keep known though no live record has them (`Saved`).
    names: Vec<String>,
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
    phase: Phase,
    /// How far its file is read, and how long it was when last looked at
    /// (for --metrics-listen and --metrics-file).
    read: u64,
    size: u64,
}

/// A file being read, as the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGauge {
    pub path: String,
    pub size: u64,
    pub read: u64,
    /// What the state would record: everything before it is confirmed (or
    /// dropped by policy).
    pub confirmed: u64,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Opens an account for a file read from `record.position` on. Any
    /// other live record of the same identity is retired: that file is
    /// gone, since its inode is this file's now.
    pub fn open(&self, record: Record) -> Account {
        self.add(record, Phase::Open)
    }

    /// Keeps what the last run recorded of a file, in the phase it had.
    pub fn carry(&self, record: Record, phase: Phase) -> Account {
        self.add(record, phase)
    }

    fn add(&self, record: Record, phase: Phase) -> Account {
        let mut book = self.lock();
        let account = Account(book.accounts.len() as u32);
        book.accounts.push(Ledgered {
            record,
            open: VecDeque::new(),
            first_slot: 0,
            stuck: false,
            phase,
            read: 0,
            size: 0,
        });
        if phase == Phase::Open {
            book.one_record_per_identity(account);
        }
        book.changed = true;
        account
    }

    /// Every record that is not retired, with its account and phase.
    pub fn live(&self) -> Vec<(Account, Record, Phase)> {
        let book = self.lock();
        let live = book
            .accounts
            .iter()
            .enumerate()
            .filter(|(_, ledgered)| ledgered.phase != Phase::Retired);
        live.map(|(index, ledgered)| {
            (
                Account(index as u32),
                ledgered.record.clone(),
                ledgered.phase,
            )
        })
        .collect()
    }

    /// The records a file with inode `ino` may be, that no open file
    /// claims: carried from the last run, or let go.
    pub fn closed_with_inode(&self, ino: u64) -> Vec<(Account, Record, Phase)> {
        let mut found = self.live();
        found.retain(|(_, record, phase)| {
            record.id.ino == ino && matches!(phase, Phase::Carried | Phase::LetGo { .. })
        });
        found
    }

    /// The generation a new file on inode `ino` gets: one past that of any
    /// record of the inode, retired ones included (a file truncated or
    /// replaced in this run, or found so at its start), else 0. The records
    /// it counts come from the state or from files met since, so a run
    /// after a crash counts the same, unless a file that held the inode
    /// came and went between two writes of the state.
    pub fn next_generation(&self, ino: u64) -> u32 {
        let book = self.lock();
        let on_inode = book.accounts.iter().filter(|l| l.record.id.ino == ino);
        on_inode
            .map(|ledgered| ledgered.record.generation.wrapping_add(1))
            .max()
            .unwrap_or(0)
    }

    /// How far an account's file is read, and how long it is.
    pub fn observe(&self, account: Account, read: u64, size: u64) {
        let mut book = self.lock();
        let ledgered = &mut book.accounts[account.0 as usize];
        (ledgered.read, ledgered.size) = (read, size);
    }

    /// The files being read (open, at their name or rotated away), with
    /// how far each is read and confirmed; files let go are not.
    pub fn open_files(&self) -> Vec<FileGauge> {
        let book = self.lock();
        let open = book
            .accounts
            .iter()
            .filter(|l| matches!(l.phase, Phase::Open | Phase::Detached));
        open.map(|l| FileGauge {
            path: l.record.path.clone(),
            size: l.size.max(l.read),
            read: l.read,
            confirmed: l.record.position,
        })
        .collect()
    }

    /// A record's file is open again, with this identity (its device
    /// number may have changed since, across a reboot): its account goes
    /// on from its position.
    pub fn reopen(&self, account: Account, id: FileId) {
        let mut book = self.lock();
        let ledgered = &mut book.accounts[account.0 as usize];
        ledgered.phase = Phase::Open;
        ledgered.record.id = id;
        book.one_record_per_identity(account);
        book.changed = true;
    }

    /// Moves a record to another phase (`input::record` says which).
    pub fn set_phase(&self, account: Account, phase: Phase) {
        let mut book = self.lock();
        let ledgered = &mut book.accounts[account.0 as usize];
        if ledgered.phase != phase {
            ledgered.phase = phase;
            book.changed = true;
        }
    }

    /// The phase of an account.
    pub fn phase(&self, account: Account) -> Phase {
        self.lock().accounts[account.0 as usize].phase
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

    /// Leaves an account out of the state from now on.
    pub fn retire(&self, account: Account) {
        self.set_phase(account, Phase::Retired);
    }

    /// The current position of an account.
    pub fn position(&self, account: Account) -> u64 {
        self.lock().accounts[account.0 as usize].record.position
    }

    /// The names kept known (see `Saved`).
    pub fn kept_names(&self) -> Vec<String> {
        self.lock().names.clone()
    }

    /// Names to keep known, with or without a record (see `Saved`).
    pub fn keep_names(&self, names: Vec<String>) {
        let mut book = self.lock();
        book.names = names;
        book.changed = true;
    }

    /// What the state file is to hold, if anything moved since the last
    /// call.
    pub fn changes(&self) -> Option<Saved> {
        let mut book = self.lock();
        if !std::mem::take(&mut book.changed) {
            return None;
        }
        let files = book.records();
        let names = book
            .names
            .iter()
            .filter(|name| !files.iter().any(|(r, _)| r.path == **name));
        let names = names.cloned().collect();
        Some(Saved { files, names })
    }

    /// Marks everything as moved, for a write that failed.
    pub fn touch(&self) {
        self.lock().changed = true;
    }

    /// Every live account's record and phase.
    #[cfg(test)]
    pub fn records(&self) -> Vec<(Record, Phase)> {
        self.lock().records()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        // A worker that panicked must not take the positions with it.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Book {
    fn records(&self) -> Vec<(Record, Phase)> {
        self.accounts
            .iter()
            .filter(|ledgered| ledgered.phase != Phase::Retired)
            .map(|ledgered| (ledgered.record.clone(), ledgered.phase))
            .collect()
    }

    /// Retires every live record but `account`'s with its identity: two
    /// records of one identity would make the next run resume one file
    /// from the other's position.
    fn one_record_per_identity(&mut self, account: Account) {
        let id = self.accounts[account.0 as usize].record.id.clone();
        for (index, ledgered) in self.accounts.iter_mut().enumerate() {
            if index != account.0 as usize && ledgered.record.id == id {
                ledgered.phase = Phase::Retired;
            }
        }
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
            generation: 0,
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
            generation: 0,
        });
        let entries = enter(&ledger, &[(a, 15), (b, 7)]);
        assert_eq!(entries.len(), 2);
        ledger.settle(entries.into_iter(), Outcome::Done);
        assert_eq!((ledger.position(a), ledger.position(b)), (15, 7));
    }

    #[test]
    fn a_new_file_on_an_inode_gets_the_generation_after_every_record_of_it() {
        let ledger = Ledger::new();
        let record = |ino, generation| Record {
            path: "a.log".into(),
            id: FileId { dev: 1, ino },
            fingerprint: Fingerprint::of(b""),
            position: 0,
            generation,
        };
        assert_eq!(ledger.next_generation(5), 0, "no record of it");
        let first = ledger.carry(record(5, 0), Phase::Carried);
        ledger.carry(record(6, 9), Phase::Carried);
        assert_eq!(ledger.next_generation(5), 1);
        // Retired (truncated, replaced) records still count.
        ledger.retire(first);
        ledger.carry(record(5, 3), Phase::LetGo { end: 1 });
        assert_eq!(ledger.next_generation(5), 4);
        assert_eq!(ledger.next_generation(6), 10);
        assert_eq!(ledger.next_generation(7), 0);
    }

    #[test]
    fn changes_report_once_and_leave_retired_accounts_out() {
        let (ledger, a) = ledger_with_file();
        assert_eq!(ledger.changes().map(|r| r.files.len()), Some(1));
        assert_eq!(ledger.changes(), None);
        let entries = enter(&ledger, &[(a, 20)]);
        assert_eq!(ledger.changes(), None, "entered is not yet moved");
        ledger.settle(entries.into_iter(), Outcome::Done);
        let records = ledger.changes().unwrap().files;
        assert_eq!(records[0].0.position, 20);
        ledger.retire(a);
        assert_eq!(ledger.changes(), Some(Saved::default()));
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

    fn kept(path: &str, dev: u64, ino: u64) -> Record {
        Record {
            path: path.into(),
            id: FileId { dev, ino },
            fingerprint: Fingerprint::of(path.as_bytes()),
            position: ino,
            generation: 0,
        }
    }

    #[test]
    fn closed_records_are_found_by_inode_and_reopened_under_the_file_s_identity() {
        let ledger = Ledger::new();
        let carried = ledger.carry(kept("old.log", 1, 9), Phase::Carried);
        let let_go = ledger.carry(kept("old.log", 1, 10), Phase::LetGo { end: 70 });
        ledger.open(kept("open.log", 1, 11));
        let retired = ledger.carry(kept("gone.log", 1, 12), Phase::Carried);
        ledger.retire(retired);
        let found = |ino| ledger.closed_with_inode(ino);
        assert_eq!(found(9), [(carried, kept("old.log", 1, 9), Phase::Carried)]);
        assert_eq!(
            found(10),
            [(let_go, kept("old.log", 1, 10), Phase::LetGo { end: 70 })]
        );
        assert_eq!(found(11), [], "an open file is no one else's");
        assert_eq!(found(12), [], "nor is a retired record");
        // After a reboot that changed the device number.
        ledger.reopen(carried, FileId { dev: 2, ino: 9 });
        assert_eq!(found(9), []);
        assert_eq!(ledger.phase(carried), Phase::Open);
        let records = ledger.records();
        assert_eq!(records.len(), 3, "{records:?}");
        assert_eq!(records[0].0.id, FileId { dev: 2, ino: 9 });
        assert_eq!(records[0].1, Phase::Open);
    }

    #[test]
    fn no_two_records_ever_share_an_identity() {
        let ledger = Ledger::new();
        let let_go = ledger.carry(kept("app.log", 1, 5), Phase::LetGo { end: 5 });
        let other_device = ledger.carry(kept("b.log", 2, 5), Phase::Carried);
        // A new file reuses the inode: the old one must be gone.
        let new = ledger.open(kept("app.log", 1, 5));
        assert_eq!(ledger.phase(let_go), Phase::Retired);
        assert_eq!(ledger.phase(other_device), Phase::Carried);
        // A record reopened under a device number another record has.
        let carried = ledger.carry(kept("c.log", 3, 7), Phase::Carried);
        let moved = ledger.carry(kept("c.log", 4, 7), Phase::Carried);
        ledger.reopen(moved, FileId { dev: 3, ino: 7 });
        assert_eq!(ledger.phase(carried), Phase::Retired);
        assert_eq!(ledger.phase(moved), Phase::Open);
        assert_eq!(ledger.phase(new), Phase::Open);
        let ids: Vec<FileId> = ledger.records().into_iter().map(|(r, _)| r.id).collect();
        assert_eq!(
            ids,
            [
                FileId { dev: 2, ino: 5 },
                FileId { dev: 1, ino: 5 },
                FileId { dev: 3, ino: 7 }
            ]
        );
    }

    #[test]
    fn a_phase_set_is_kept_and_a_new_phase_is_a_change() {
        let (ledger, a) = ledger_with_file();
        ledger.changes();
        ledger.set_phase(a, Phase::Open);
        assert_eq!(ledger.changes(), None, "the same phase again");
        ledger.set_phase(a, Phase::Detached);
        let records = ledger.changes().expect("a new phase is a change").files;
        assert_eq!(records[0].1, Phase::Detached);
        ledger.set_phase(a, Phase::LetGo { end: 99 });
        let records = ledger.changes().unwrap().files;
        assert_eq!(records[0].1, Phase::LetGo { end: 99 });
        ledger.retire(a);
        assert_eq!(ledger.changes(), Some(Saved::default()));
        assert_eq!(ledger.live(), []);
    }

    #[test]
    fn a_new_fingerprint_is_a_change_and_so_is_a_failed_write() {
        let (ledger, a) = ledger_with_file();
        ledger.changes();
        ledger.set_fingerprint(a, Fingerprint::of(b"first line\n"));
        let saved = ledger.changes().expect("a new fingerprint is a change");
        assert_eq!(
            saved.files[0].0.fingerprint,
            Fingerprint::of(b"first line\n")
        );
        assert_eq!(ledger.changes(), None);
        // The state's writer failed: the same records are due again.
        ledger.touch();
        assert_eq!(ledger.changes(), Some(saved));
    }

    #[test]
    fn names_kept_are_written_while_no_live_record_has_them() {
        let (ledger, a) = ledger_with_file();
        ledger.changes();
        ledger.keep_names(vec!["app.log".into(), "gone.log".into()]);
        assert_eq!(ledger.kept_names(), ["app.log", "gone.log"]);
        let saved = ledger.changes().expect("names kept are a change");
        assert_eq!(saved.names, ["gone.log"], "app.log has its record");
        ledger.retire(a);
        assert_eq!(ledger.changes().unwrap().names, ["app.log", "gone.log"]);
        ledger.open(Record {
            path: "gone.log".into(),
            id: FileId { dev: 1, ino: 40 },
            fingerprint: Fingerprint::of(b""),
            position: 0,
            generation: 0,
        });
        assert_eq!(ledger.changes().unwrap().names, ["app.log"]);
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
