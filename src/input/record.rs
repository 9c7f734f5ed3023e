//! A file's record, from the moment its file is found to the moment the
//! record is dropped: every decision about it, each a pure function of what
//! was observed, so that no path through the reader or the follower can
//! lose a file's lines, or read them twice, without a word.
//!
//! The ledger keeps each record and its phase (`ledger::Phase`); the plan,
//! the reader and the follower observe (stat a name, read a file's first
//! bytes, look through a directory) and act (open, read, say so, move the
//! phase), and ask this module what each observation means:
//!
//! ```text
//!   Carried ──opened──▶ Open ──name moved or gone──▶ Detached ──quiet a minute──▶ LetGo
//!   (last run)    ▲      ▲  ◀──found by a pattern──      │ deleted                │ gone
//!                 │      └──────────────found again──────┼────────────────────────┤
//!                 │                                      ▼                        ▼
//!                 └ rotated while stopped: finished ─── Retired ◀── replaced ── (any)
//! ```
//!
//! - **Identity.** A file is its record's file when the inode is the same
//!   and so are its first bytes (the fingerprint), and it is at least as
//!   long as the record's position. The device number is not required to
//!   match: it changes across reboots and remounts on NFS, btrfs and some
//!   overlay setups, and the fingerprint decides. The same inode on the same
//!   device with other first bytes is the record's file truncated, or a new
//!   file that reuses the inode: the record's file is gone.
//! - **At start** (`at_start`), a record whose file is neither among this
//!   run's inputs nor at its path is looked for in its directory. Found
//!   (rotated while wsship was stopped), it is finished from its position
//!   before the file now at its name. Not found, the lines written to it
//!   after its position could not be sent: said, counted, and the exit
//!   status shows it; unless it was let go with everything sent.
//! - **Opening** (`open`): a record's file goes on from the position; a new
//!   file starts at its beginning, or with --start-at end at its last
//!   line's start, but only at a name no record of the last run had.
//! - **Letting go**: a file away from its name (rotated, deleted) is read
//!   until it has been quiet for --rotate-wait, then closed. Its record stays,
//!   with how far it was read, while the file is there (a pattern may match
//!   it again: it goes on from its position), and goes when the file does.

use std::path::PathBuf;
use std::time::Duration;

use crate::ledger::{Account, FileId, Fingerprint, Phase, Record};

/// A file as found: enough to tell whether a record is its.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub id: &'a FileId,
    /// Its first bytes: up to the fingerprint's length or more, fewer only
    /// if the file is shorter.
    pub head: &'a [u8],
    pub size: u64,
}

/// How a file compares with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likeness {
    /// The record's file.
    Same,
    /// The record's inode on its device, with other first bytes, or
    /// shorter than the position: truncated, or the inode reused by a new
    /// file. The record's file, as it was, is gone.
    Replaced,
    /// Another file.
    Other,
}

pub fn likeness(record: &Record, file: Seen<'_>) -> Likeness {
    if record.id.ino != file.id.ino {
        return Likeness::Other;
    }
    let len = record.fingerprint.len;
    let same_head =
        file.head.len() >= len && Fingerprint::of(&file.head[..len]) == record.fingerprint;
    if same_head && file.size >= record.position {
        Likeness::Same
    } else if record.id.dev == file.id.dev {
        Likeness::Replaced
    } else {
        // Another device, and another file: the same inode number on
        // another filesystem.
        Likeness::Other
    }
}

/// How a file came to be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// There when wsship started: --start-at applies.
    AtStart,
    /// Appeared later (created, rotated in): read from its beginning.
    Later,
}

/// Where reading a file starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// It is this record's file: go on from its position, or for a file
    /// let go in this run, from where reading stopped (what lies between
    /// is on its way, or failed and counted; the next run sends it again).
    Resume { account: Account, position: u64 },
    /// A new file, from its beginning.
    Beginning,
    /// A new file, from the start of its last line (--start-at end).
    End,
}

/// What opening a file comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    pub start: Start,
    /// `Open` if the file is at its record's name, `Detached` if it was
    /// found under another (rotated): it is then let go once quiet.
    pub phase: Phase,
    /// A record this file replaced (truncated, or a new file on its
    /// inode), with the phase it had: retire it.
    pub replaced: Option<(Account, Phase)>,
}

/// Where and how a file was opened.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The name it was opened under, absolute.
    pub name: &'a str,
    /// A FILE given on the command line, rather than a name a pattern or
    /// the search for a rotated file found: the file is followed there,
    /// at its name, whatever name its record has.
    pub named: bool,
    pub opened: Opened,
    /// A record of the last run had this name.
    pub known: bool,
}

/// Decides where a file just opened starts, among the records that no
/// open file claims (carried or let go) with its inode.
pub fn open(
    records: &[(Account, Record, Phase)],
    file: Seen<'_>,
    place: Place<'_>,
    start_at_end: bool,
) -> Opening {
    let mut replaced = None;
    for &(account, ref record, phase) in records {
        if !matches!(phase, Phase::Carried | Phase::LetGo { .. }) {
            continue;
        }
        match likeness(record, file) {
            Likeness::Same => {
                let position = match phase {
                    Phase::LetGo { end } => end,
                    _ => record.position,
                };
                let phase = match place.named || record.path == place.name {
                    true => Phase::Open,
                    false => Phase::Detached,
                };
                let start = Start::Resume { account, position };
                return Opening {
                    start,
                    phase,
                    replaced,
                };
            }
            Likeness::Replaced => replaced = Some((account, phase)),
            Likeness::Other => {}
        }
    }
    // --start-at end is for history nobody asked to send: a file at a name
    // the state knows (rotated in, deleted and created again) holds lines
    // written since, and is read whole.
    let fresh = place.opened == Opened::AtStart && !place.known && replaced.is_none();
    let start = match start_at_end && fresh {
        true => Start::End,
        false => Start::Beginning,
    };
    Opening {
        start,
        phase: Phase::Open,
        replaced,
    }
}

/// Where a record's file is when a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// Among this run's inputs.
    Among,
    /// At its path, though not among this run's inputs.
    AtPath,
    /// Its inode at its path holds other content: opening the file there
    /// says so.
    Replaced,
    /// Under another name in its directory: rotated.
    Moved(PathBuf),
    /// Nowhere to be found: deleted, compressed, or moved elsewhere.
    Gone,
}

/// What becomes of a record when a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtStart {
    /// Nothing now: opening its file finds it, or it is not this run's.
    Keep,
    /// Rotated while wsship was stopped: read it from its position, before
    /// the file now at its name.
    Finish(PathBuf),
    /// Gone, and nothing of it unsent: the record goes.
    Drop,
    /// Gone with lines after its position never sent (how many bytes, when
    /// known), or `replaced` (truncated, or a new file on its inode): say
    /// so, count it, and the record goes.
    Lost { unsent: Option<u64>, replaced: bool },
}

/// Decides what becomes of a record at start. `asked`: its path is among
/// this run's FILEs, or matches one of its patterns.
pub fn at_start(record: &Record, phase: Phase, whereabouts: Whereabouts, asked: bool) -> AtStart {
    // Let go with everything sent: nothing is waiting in it.
    let finished = matches!(phase, Phase::LetGo { end } if record.position >= end);
    let unsent = match phase {
        Phase::LetGo { end } => Some(end.saturating_sub(record.position)),
        _ => None,
    };
    match whereabouts {
        Whereabouts::Among | Whereabouts::AtPath => AtStart::Keep,
        Whereabouts::Moved(path) if asked && !finished => AtStart::Finish(path),
        Whereabouts::Moved(_) => AtStart::Keep,
        Whereabouts::Replaced | Whereabouts::Gone if finished || !asked => AtStart::Drop,
        // Truncated in place, or deleted and a new file made on the same
        // inode (which file systems reuse at once): either way what the
        // record knew is gone, and what was written after its position
        // with it. The file now at the name is read from its beginning.
        Whereabouts::Replaced => AtStart::Lost {
            unsent,
            replaced: true,
        },
        Whereabouts::Gone => AtStart::Lost {
            unsent,
            replaced: false,
        },
    }
}

/// The phase a record the last run left goes on in, once its file is
/// found: one let go with lines unsent is read from its position, as a
/// carried one is.
pub fn found(phase: Phase, position: u64) -> Phase {
    match phase {
        Phase::LetGo { end } if position < end => Phase::Carried,
        phase => phase,
    }
}

/// The phase of a file that was away from its name and quiet for
/// --rotate-wait when it was closed, read to `end`.
pub fn let_go(deleted: bool, end: u64) -> Phase {
    match deleted {
        // Its inode can never be met again.
        true => Phase::Retired,
        false => Phase::LetGo { end },
    }
}

/// The phase of a file wsship reads to its end and closes (without
/// --follow, at the end of the run): one away from its name and quiet for
/// `rotate_wait` (--rotate-wait) is let go; any other keeps its phase.
pub fn closed(
    phase: Phase,
    quiet_for: Duration,
    rotate_wait: Duration,
    deleted: bool,
    end: u64,
) -> Phase {
    match phase {
        Phase::Detached if quiet_for >= rotate_wait => let_go(deleted, end),
        phase => phase,
    }
}

/// The phase of a let-go record after a look for its file.
pub fn swept(phase: Phase, whereabouts: &Whereabouts) -> Phase {
    match (phase, whereabouts) {
        (Phase::LetGo { .. }, Whereabouts::Gone | Whereabouts::Replaced) => Phase::Retired,
        (phase, _) => phase,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"2026-12-04 10:00:00 first line of app.log\nsecond line\n";
    const APP: &str = "/var/log/app.log";

    fn record(dev: u64, ino: u64, position: u64) -> Record {
        Record {
            path: "/var/log/app.log".into(),
            id: FileId { dev, ino },
            fingerprint: Fingerprint::of(&HEAD[..20]),
            position,
            generation: 0,
        }
    }

    fn seen<'a>(id: &'a FileId, head: &'a [u8], size: u64) -> Seen<'a> {
        Seen { id, head, size }
    }

    /// Opened under `name`, matched rather than named.
    fn at(name: &str, opened: Opened, known: bool) -> Place<'_> {
        Place {
            name,
            named: false,
            opened,
            known,
        }
    }

    #[test]
    fn the_inode_and_the_first_bytes_decide_and_the_device_may_change() {
        let kept = record(2049, 11, 40);
        let here = FileId { dev: 2049, ino: 11 };
        assert_eq!(likeness(&kept, seen(&here, HEAD, 40)), Likeness::Same);
        assert_eq!(likeness(&kept, seen(&here, HEAD, 900)), Likeness::Same);
        // A reboot gave the filesystem another device number.
        let rebooted = FileId { dev: 2050, ino: 11 };
        assert_eq!(likeness(&kept, seen(&rebooted, HEAD, 40)), Likeness::Same);
        // Truncated, or written again from the start: the same inode, but
        // not the file the record knew.
        assert_eq!(likeness(&kept, seen(&here, HEAD, 39)), Likeness::Replaced);
        let other = b"2026-12-05 a new file on the old inode\n";
        assert_eq!(likeness(&kept, seen(&here, other, 900)), Likeness::Replaced);
        // Shorter than the fingerprint: not the file, whose first bytes
        // were all there.
        assert_eq!(
            likeness(&kept, seen(&here, &HEAD[..19], 900)),
            Likeness::Replaced
        );
        // Another device and other bytes: another filesystem's inode 11.
        assert_eq!(
            likeness(&kept, seen(&rebooted, other, 900)),
            Likeness::Other
        );
        let elsewhere = FileId { dev: 2049, ino: 12 };
        assert_eq!(likeness(&kept, seen(&elsewhere, HEAD, 40)), Likeness::Other);
    }

    #[test]
    fn a_record_s_file_goes_on_from_its_position_whatever_its_phase_before() {
        let id = FileId { dev: 1, ino: 11 };
        // Let go in this run at byte 40, with lines before it still on
        // their way: reading goes on from 40 all the same.
        for (position, phase) in [(40, Phase::Carried), (30, Phase::LetGo { end: 40 })] {
            let records = [(Account(3), record(1, 11, position), phase)];
            let opening = open(
                &records,
                seen(&id, HEAD, 50),
                at(APP, Opened::Later, false),
                true,
            );
            assert_eq!(
                opening,
                Opening {
                    start: Start::Resume {
                        account: Account(3),
                        position: 40
                    },
                    phase: Phase::Open,
                    replaced: None
                },
                "{phase:?}"
            );
            // Found under another name: rotated, so let go once quiet;
            // unless that name is one given on the command line.
            let rotated = at("/var/log/app.log.1", Opened::AtStart, false);
            let opening_rotated = open(&records, seen(&id, HEAD, 50), rotated, true);
            assert_eq!(opening_rotated.phase, Phase::Detached);
            assert_eq!(opening_rotated.start, opening.start);
            let named = Place {
                named: true,
                ..rotated
            };
            let opening_named = open(&records, seen(&id, HEAD, 50), named, true);
            assert_eq!(opening_named.phase, Phase::Open);
        }
        // An open or retired record is no one's to resume.
        for phase in [Phase::Open, Phase::Detached, Phase::Retired] {
            let records = [(Account(3), record(1, 11, 40), phase)];
            let opening = open(
                &records,
                seen(&id, HEAD, 50),
                at(APP, Opened::Later, false),
                false,
            );
            assert_eq!(opening.start, Start::Beginning, "{phase:?}");
            assert_eq!(opening.replaced, None, "{phase:?}");
            assert_eq!(opening.phase, Phase::Open, "{phase:?}");
        }
    }

    #[test]
    fn start_at_end_applies_only_to_a_name_the_state_never_saw() {
        let id = FileId { dev: 1, ino: 11 };
        let file = seen(&id, HEAD, 50);
        let cases = [
            // (opened, --start-at end, name known) -> start
            (Opened::AtStart, true, false, Start::End),
            (Opened::AtStart, true, true, Start::Beginning),
            (Opened::AtStart, false, false, Start::Beginning),
            (Opened::Later, true, false, Start::Beginning),
        ];
        for (opened, end, known, want) in cases {
            let opening = open(&[], file, at(APP, opened, known), end);
            assert_eq!(opening.start, want, "{opened:?} {end} {known}");
        }
    }

    #[test]
    fn a_new_file_on_a_record_s_inode_is_read_whole_and_retires_the_record() {
        let id = FileId { dev: 1, ino: 11 };
        let other = b"a new file that reuses the inode\n";
        for phase in [Phase::Carried, Phase::LetGo { end: 40 }] {
            let records = [(Account(0), record(1, 11, 40), phase)];
            // Even with --start-at end, at a name never seen: the record's
            // inode says this file is new since.
            let opening = open(
                &records,
                seen(&id, other, 900),
                at(APP, Opened::AtStart, false),
                true,
            );
            assert_eq!(
                opening,
                Opening {
                    start: Start::Beginning,
                    phase: Phase::Open,
                    replaced: Some((Account(0), phase))
                }
            );
        }
        // The record of another device's inode 11 is left alone.
        let records = [(Account(0), record(2, 11, 40), Phase::Carried)];
        let opening = open(
            &records,
            seen(&id, other, 900),
            at(APP, Opened::AtStart, false),
            true,
        );
        assert_eq!(
            opening,
            Opening {
                start: Start::End,
                phase: Phase::Open,
                replaced: None
            }
        );
        // One record replaced, another the file's own: both are told.
        let records = [
            (Account(0), record(1, 11, 40), Phase::LetGo { end: 40 }),
            (Account(1), record(2, 11, 7), Phase::Carried),
        ];
        let mine = Record {
            fingerprint: Fingerprint::of(&other[..5]),
            ..record(2, 11, 7)
        };
        let records = [records[0].clone(), (Account(1), mine, Phase::Carried)];
        let opening = open(
            &records,
            seen(&id, other, 900),
            at(APP, Opened::Later, false),
            false,
        );
        assert_eq!(
            opening,
            Opening {
                start: Start::Resume {
                    account: Account(1),
                    position: 7
                },
                phase: Phase::Open,
                replaced: Some((Account(0), Phase::LetGo { end: 40 }))
            }
        );
    }

    #[test]
    fn at_start_a_rotated_file_is_finished_and_a_lost_one_is_said() {
        let at = |position, phase, whereabouts, asked| {
            at_start(&record(1, 11, position), phase, whereabouts, asked)
        };
        let moved = || Whereabouts::Moved("/var/log/app.log.1".into());
        let carried = Phase::Carried;
        let half_sent = Phase::LetGo { end: 100 };
        let all_sent = Phase::LetGo { end: 40 };
        let cases = [
            // Where it is, nothing to do now.
            (at(40, carried, Whereabouts::Among, true), AtStart::Keep),
            (at(40, carried, Whereabouts::AtPath, false), AtStart::Keep),
            (at(40, half_sent, Whereabouts::AtPath, true), AtStart::Keep),
            // Truncated, or a new file on its inode: what it held is gone.
            (
                at(40, carried, Whereabouts::Replaced, true),
                AtStart::Lost {
                    unsent: None,
                    replaced: true,
                },
            ),
            (
                at(40, half_sent, Whereabouts::Replaced, true),
                AtStart::Lost {
                    unsent: Some(60),
                    replaced: true,
                },
            ),
            (at(40, all_sent, Whereabouts::Replaced, true), AtStart::Drop),
            (at(40, carried, Whereabouts::Replaced, false), AtStart::Drop),
            // Rotated while stopped: finished first, if this run asks for
            // its name and something may be left in it.
            (
                at(40, carried, moved(), true),
                AtStart::Finish("/var/log/app.log.1".into()),
            ),
            (
                at(40, half_sent, moved(), true),
                AtStart::Finish("/var/log/app.log.1".into()),
            ),
            (at(40, all_sent, moved(), true), AtStart::Keep),
            (at(40, carried, moved(), false), AtStart::Keep),
            // Gone: lost, with what is known of it, unless it was let go
            // with everything sent, or this run does not ask for it.
            (
                at(40, carried, Whereabouts::Gone, true),
                AtStart::Lost {
                    unsent: None,
                    replaced: false,
                },
            ),
            (
                at(40, half_sent, Whereabouts::Gone, true),
                AtStart::Lost {
                    unsent: Some(60),
                    replaced: false,
                },
            ),
            (at(40, all_sent, Whereabouts::Gone, true), AtStart::Drop),
            (at(41, all_sent, Whereabouts::Gone, true), AtStart::Drop),
            (at(40, carried, Whereabouts::Gone, false), AtStart::Drop),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn a_record_let_go_with_lines_unsent_is_read_again_from_its_position() {
        let half_sent = Phase::LetGo { end: 100 };
        assert_eq!(found(half_sent, 40), Phase::Carried);
        assert_eq!(found(half_sent, 100), half_sent);
        for phase in [Phase::Carried, Phase::Open, Phase::Detached, Phase::Retired] {
            assert_eq!(found(phase, 0), phase);
        }
        let id = FileId { dev: 1, ino: 11 };
        let records = [(Account(0), record(1, 11, 40), found(half_sent, 40))];
        let opening = open(
            &records,
            seen(&id, HEAD, 100),
            at(APP, Opened::AtStart, true),
            false,
        );
        let start = Start::Resume {
            account: Account(0),
            position: 40,
        };
        assert_eq!(opening.start, start);
    }

    #[test]
    fn a_file_away_from_its_name_is_let_go_when_quiet_and_forgotten_when_gone() {
        assert_eq!(let_go(false, 500), Phase::LetGo { end: 500 });
        assert_eq!(let_go(true, 500), Phase::Retired);
        // Closed at the end of a run without --follow.
        let detached = Phase::Detached;
        let wait = Duration::from_secs(60);
        let let_go = Phase::LetGo { end: 9 };
        assert_eq!(closed(detached, wait, wait, false, 9), let_go);
        assert_eq!(closed(detached, wait, wait, true, 9), Phase::Retired);
        let just_written = wait - Duration::from_millis(1);
        assert_eq!(closed(detached, just_written, wait, false, 9), detached);
        for phase in [Phase::Open, Phase::Carried, Phase::LetGo { end: 3 }] {
            assert_eq!(closed(phase, wait * 10, wait, false, 9), phase);
        }
        // Looked for while following.
        let let_go = Phase::LetGo { end: 500 };
        let moved = Whereabouts::Moved("/var/log/app.log.2".into());
        assert_eq!(swept(let_go, &Whereabouts::AtPath), let_go);
        assert_eq!(swept(let_go, &moved), let_go);
        assert_eq!(swept(let_go, &Whereabouts::Gone), Phase::Retired);
        // Its inode holds another file now.
        assert_eq!(swept(let_go, &Whereabouts::Replaced), Phase::Retired);
        assert_eq!(swept(Phase::Open, &Whereabouts::Gone), Phase::Open);
    }
}
