//! What to read, in what order, decided once at start.
//!
//! FILE patterns are expanded (oldest file first, as rotated logs are
//! oldest first), each file is looked at once (stat, and its first bytes
//! only where a record has its inode), and a file given twice is read once.
//! Then every record the last run left is asked about (`record::at_start`):
//! a file rotated while wsship was stopped is found in its directory and
//! goes first, to be finished before the file now at its name; one that is
//! gone with lines unsent is listed as lost, to be said and counted; the
//! others wait for their file to be opened. Files the state knows go before
//! files it does not.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::record::{self, AtStart, Likeness, Whereabouts};
use super::source::{self, file_id};
use crate::config::Input;
use crate::ledger::{FileId, Ledger, Record};
use crate::messages;

/// One input in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Stdin,
    File {
        path: PathBuf,
        /// Matched by a pattern rather than named, or found rotated away
        /// from a name (while wsship was stopped): not waited for when gone.
        matched: bool,
    },
    /// A pattern that matched nothing.
    Unmatched(String),
}

pub struct Plan {
    pub inputs: Vec<Planned>,
    /// The patterns among the FILEs, to look at again while following.
    pub patterns: Vec<String>,
    /// The names the last run's records had, and the FILEs given it kept
    /// known: --start-at end passes them by, since a new file at such a
    /// name holds lines written since.
    pub known_names: HashSet<String>,
    /// Files the last run recorded that are gone with lines unsent.
    pub lost: Vec<Lost>,
}

/// A recorded file that cannot be found: deleted, or rotated and
/// compressed, or moved out of its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub path: String,
    pub position: u64,
    /// Bytes after the position that were read and never sent, when known.
    pub unsent: Option<u64>,
    /// Truncated, or a new file on its inode, rather than gone.
    pub replaced: bool,
}

pub fn plan(inputs: &[Input], ledger: &Ledger) -> Plan {
    let mut planned = Vec::new();
    let mut patterns = Vec::new();
    let mut named = HashSet::new();
    for input in inputs {
        match input {
            Input::Stdin => planned.push(Planned::Stdin),
            Input::File(path) => {
                named.insert(source::absolute(path));
                planned.push(Planned::File {
                    path: path.clone(),
                    matched: false,
                });
            }
            Input::Pattern(pattern) => {
                patterns.push(pattern.clone());
                let matches = expand(pattern);
                if matches.is_empty() {
                    planned.push(Planned::Unmatched(pattern.clone()));
                }
                planned.extend(matches.into_iter().map(|path| Planned::File {
                    path,
                    matched: true,
                }));
            }
        }
    }
    // A file named twice, or matched by a pattern as well as named, is read
    // once, as --follow reads it: its lines are not sent twice, and the
    // state keeps one position for it.
    let mut files: Vec<Option<File>> = planned.iter().map(File::of).collect();
    let mut index = 0;
    while index < planned.len() {
        let id = files[index].as_ref().map(|file| &file.id);
        match id.is_some_and(|id| files[..index].iter().flatten().any(|f| f.id == *id)) {
            true => {
                planned.remove(index);
                files.remove(index);
            }
            false => index += 1,
        }
    }

    let records = ledger.live();
    let mut known_names: HashSet<String> = records.iter().map(|(_, r, _)| r.path.clone()).collect();
    known_names.extend(ledger.kept_names());
    // A FILE given keeps its name known for the next run too, record or
    // not: deleted now, a file created there later is new since.
    let kept = known_names
        .iter()
        .filter(|name| named.contains(*name))
        .cloned()
        .collect();
    ledger.keep_names(kept);
    let asked = Asked::new(named, &patterns);
    let mut known = vec![false; planned.len()];
    let mut rotated = Vec::new();
    let mut lost = Vec::new();
    for (account, record, phase) in records {
        let among = files
            .iter()
            .position(|file| file.as_ref().is_some_and(|file| file.is(&record)));
        let whereabouts = match among {
            Some(index) => {
                known[index] = true;
                Whereabouts::Among
            }
            None => source::locate(&record, &[]),
        };
        let found = record::found(phase, record.position);
        match record::at_start(&record, phase, whereabouts, asked.asks(&record.path)) {
            AtStart::Keep => ledger.set_phase(account, found),
            AtStart::Finish(path) => {
                ledger.set_phase(account, found);
                messages::info!(
                    "{}: rotated to {} since the last run: finishing it first",
                    record.path,
                    path.display()
                );
                rotated.push(path);
            }
            AtStart::Drop => {
                messages::info!("{}: gone since the last run; forgetting it", record.path);
                ledger.retire(account);
            }
            AtStart::Lost { unsent, replaced } => {
                ledger.retire(account);
                lost.push(Lost {
                    path: record.path,
                    position: record.position,
                    unsent,
                    replaced,
                });
            }
        }
    }
    // Rotated files first, oldest first, then the files the state knows,
    // then the rest; each group in the given order. Two records of one
    // file (a state written by hand, say) find it twice: it is read once.
    rotated.sort();
    rotated.dedup();
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| !known[i]);
    let rotated = by_age(rotated).into_iter().map(|path| Planned::File {
        path,
        matched: true,
    });
    let inputs = rotated
        .chain(order.iter().map(|&i| planned[i].clone()))
        .collect();
    Plan {
        inputs,
        patterns,
        known_names,
        lost,
    }
}

/// A planned file as stat(2) found it.
struct File {
    path: PathBuf,
    id: FileId,
}

impl File {
    fn of(planned: &Planned) -> Option<File> {
        let Planned::File { path, .. } = planned else {
            return None;
        };
        let metadata = std::fs::metadata(path).ok()?;
        Some(File {
            path: path.clone(),
            id: file_id(&metadata),
        })
    }

    /// Whether it is `record`'s file; its first bytes are read only if it
    /// has the record's inode.
    fn is(&self, record: &Record) -> bool {
        self.id.ino == record.id.ino && source::compare(record, &self.path) == Some(Likeness::Same)
    }
}

/// Which recorded names this run asks for: the FILEs named, and the names
/// its patterns match (made absolute, as the records' paths are).
struct Asked {
    named: HashSet<String>,
    patterns: Vec<glob::Pattern>,
}

impl Asked {
    fn new(named: HashSet<String>, patterns: &[String]) -> Asked {
        let patterns = patterns
            .iter()
            .filter_map(|pattern| glob::Pattern::new(&source::absolute(Path::new(pattern))).ok())
            .collect();
        Asked { named, patterns }
    }

    fn asks(&self, path: &str) -> bool {
        self.named.contains(path) || self.patterns.iter().any(|p| p.matches(path))
    }
}

/// The regular files a pattern matches now, oldest first.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let Ok(paths) = glob::glob(pattern) else {
        // Checked when the configuration was built.
        return Vec::new();
    };
    by_age(paths.flatten().collect())
}

/// The regular files among `paths`, oldest first (by modification time,
/// then name), so that `app.log.2 app.log.1 app.log` come in the order
/// they were written.
fn by_age(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut found: Vec<(SystemTime, PathBuf)> = paths
        .into_iter()
        .filter_map(|path| {
            let metadata = std::fs::metadata(&path).ok()?;
            metadata
                .is_file()
                .then(|| (metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH), path))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scratch::Scratch;
    use crate::ledger::{Fingerprint, Phase};
    use std::time::Duration;

    /// A file in `scratch` written `age` ago.
    fn aged(scratch: &Scratch, name: &str, content: &str, age: u64) -> PathBuf {
        let path = scratch.write(name, content);
        let when = SystemTime::now() - Duration::from_secs(age);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(when).unwrap();
        path
    }

    fn record_of(path: &Path, position: u64) -> Record {
        let metadata = std::fs::metadata(path).unwrap();
        Record {
            path: source::absolute(path),
            id: file_id(&metadata),
            fingerprint: Fingerprint::of(&std::fs::read(path).unwrap()),
            position,
            generation: 0,
        }
    }

    fn files(plan: &Plan) -> Vec<String> {
        let names = plan.inputs.iter().map(|planned| match planned {
            Planned::Stdin => "-".to_string(),
            Planned::File { path, matched } => {
                let name = path.file_name().unwrap().to_string_lossy();
                format!("{name}{}", if *matched { " (matched)" } else { "" })
            }
            Planned::Unmatched(pattern) => format!("unmatched {pattern}"),
        });
        names.collect()
    }

    #[test]
    fn a_pattern_gives_the_oldest_file_first_and_only_regular_files() {
        let scratch = Scratch::new("plan-age");
        aged(&scratch, "b.log", "b\n", 300);
        aged(&scratch, "a.log", "a\n", 100);
        aged(&scratch, "c.log", "c\n", 200);
        std::fs::create_dir(scratch.path().join("d.log")).unwrap();
        let pattern = scratch.path().join("*.log").to_string_lossy().into_owned();
        let names: Vec<String> = expand(&pattern)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["b.log", "c.log", "a.log"]);
        // The same age: by name.
        let same = SystemTime::now();
        for name in ["b.log", "a.log"] {
            let file = std::fs::File::options()
                .write(true)
                .open(scratch.path().join(name));
            file.unwrap().set_modified(same).unwrap();
        }
        let names: Vec<String> = expand(&pattern)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["c.log", "a.log", "b.log"]);
    }

    #[test]
    fn a_file_given_twice_is_planned_once_and_a_pattern_that_matches_nothing_is_said() {
        let scratch = Scratch::new("plan-twice");
        let a = aged(&scratch, "a.log", "a\n", 0);
        let pattern = scratch.path().join("*.log").to_string_lossy().into_owned();
        let none = scratch.path().join("*.txt").to_string_lossy().into_owned();
        let inputs = [
            Input::File(a.clone()),
            Input::Stdin,
            Input::File(a),
            Input::Pattern(pattern.clone()),
            Input::Pattern(none.clone()),
        ];
        let plan = plan(&inputs, &Ledger::new());
        assert_eq!(
            files(&plan),
            ["a.log", "-", format!("unmatched {none}").as_str()]
        );
        assert_eq!(plan.patterns, [pattern, none]);
        assert!(plan.lost.is_empty() && plan.known_names.is_empty());
    }

    #[test]
    fn a_file_rotated_while_stopped_goes_first_and_one_gone_is_lost() {
        let scratch = Scratch::new("plan-rotated");
        let log = aged(&scratch, "app.log", "a-1\n", 0);
        let gone = aged(&scratch, "gone.log", "g-1\n", 0);
        let unknown = aged(&scratch, "new.log", "n-1\n", 0);
        let ledger = Ledger::new();
        let rotated = ledger.carry(record_of(&log, 4), Phase::Carried);
        let lost = ledger.carry(record_of(&gone, 4), Phase::Carried);
        std::fs::rename(&log, scratch.path().join("app.log.1")).unwrap();
        aged(&scratch, "app.log", "c-1\n", 0);
        std::fs::remove_file(&gone).unwrap();
        let inputs = [
            Input::File(unknown),
            Input::File(log.clone()),
            Input::File(gone.clone()),
        ];
        let plan = plan(&inputs, &ledger);
        // The rotated file first; the named ones in the order given (none
        // of them is a file the state knows now).
        assert_eq!(
            files(&plan),
            ["app.log.1 (matched)", "new.log", "app.log", "gone.log"]
        );
        assert_eq!(
            plan.lost,
            [Lost {
                path: source::absolute(&gone),
                position: 4,
                unsent: None,
                replaced: false,
            }]
        );
        assert_eq!(ledger.phase(lost), Phase::Retired);
        assert_eq!(ledger.phase(rotated), Phase::Carried);
        let known: HashSet<String> = [source::absolute(&log), source::absolute(&gone)].into();
        assert_eq!(plan.known_names, known);
    }

    #[test]
    fn a_rotated_file_two_records_know_is_planned_once() {
        let scratch = Scratch::new("plan-twice-rotated");
        let log = scratch.write("app.log", "a-1\n");
        let ledger = Ledger::new();
        ledger.carry(record_of(&log, 4), Phase::Carried);
        ledger.carry(record_of(&log, 2), Phase::Carried);
        std::fs::rename(&log, scratch.path().join("app.log.1")).unwrap();
        let plan = plan(&[Input::File(log)], &ledger);
        assert_eq!(files(&plan), ["app.log.1 (matched)", "app.log"]);
    }

    #[test]
    fn files_the_state_knows_go_first_and_records_not_asked_for_are_kept_while_there() {
        let scratch = Scratch::new("plan-known");
        let new = aged(&scratch, "new.log", "n\n", 0);
        let known = aged(&scratch, "known.log", "k\n", 0);
        let elsewhere = aged(&scratch, "other.log", "o\n", 0);
        let gone = aged(&scratch, "gone.log", "g\n", 0);
        let ledger = Ledger::new();
        ledger.carry(record_of(&known, 2), Phase::Carried);
        let kept = ledger.carry(record_of(&elsewhere, 2), Phase::Carried);
        let dropped = ledger.carry(record_of(&gone, 2), Phase::Carried);
        let let_go = ledger.carry(record_of(&gone, 2), Phase::LetGo { end: 2 });
        std::fs::remove_file(&gone).unwrap();
        let plan = plan(&[Input::File(new), Input::File(known)], &ledger);
        assert_eq!(files(&plan), ["known.log", "new.log"]);
        assert!(plan.lost.is_empty(), "{:?}", plan.lost);
        assert_eq!(ledger.phase(kept), Phase::Carried);
        assert_eq!(ledger.phase(dropped), Phase::Retired);
        assert_eq!(ledger.phase(let_go), Phase::Retired);
    }

    #[test]
    fn a_name_is_asked_for_when_named_or_matched_by_a_pattern() {
        let asked = Asked::new(
            ["/var/log/app.log".to_string()].into(),
            &["/var/log/nginx/*.log".to_string()],
        );
        assert!(asked.asks("/var/log/app.log"));
        assert!(asked.asks("/var/log/nginx/access.log"));
        assert!(!asked.asks("/var/log/app.log.1"));
        assert!(!asked.asks("/var/log/nginx/access.log.1"));
        // A relative pattern is made absolute, as records' paths are.
        let here = Asked::new(HashSet::new(), &["*.log".to_string()]);
        let cwd = std::env::current_dir().unwrap();
        assert!(here.asks(&cwd.join("x.log").to_string_lossy()));
    }
}
