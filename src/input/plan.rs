//! What to read, in what order, decided once at start.
//!
//! FILE patterns are expanded (oldest file first, as rotated logs are
//! oldest first), each file is looked at once (stat, not opened), and a
//! file the state knows (by device and inode) goes before files it does
//! not: a log rotated since the last run is finished before its successor
//! starts. Records the last run left for files no longer anywhere (neither
//! among this run's files nor at their recorded path) are retired here, so
//! that the state does not grow with every rotation.

use std::path::PathBuf;
use std::time::SystemTime;

use super::source::file_id;
use crate::config::Input;
use crate::ledger::{FileId, Ledger};

/// One input in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Stdin,
    File {
        path: PathBuf,
        /// Matched by a pattern rather than named.
        matched: bool,
    },
    /// A pattern that matched nothing.
    Unmatched(String),
}

pub struct Plan {
    pub inputs: Vec<Planned>,
    /// The patterns among the FILEs, to look at again while following.
    pub patterns: Vec<String>,
}

pub fn plan(inputs: &[Input], ledger: Option<&Ledger>) -> Plan {
    let mut planned = Vec::new();
    let mut patterns = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => planned.push(Planned::Stdin),
            Input::File(path) => planned.push(Planned::File {
                path: path.clone(),
                matched: false,
            }),
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
    let mut ids: Vec<Option<FileId>> = planned.iter().map(identity).collect();
    let mut index = 0;
    while index < planned.len() {
        match &ids[index] {
            Some(id) if ids[..index].contains(&Some(id.clone())) => {
                planned.remove(index);
                ids.remove(index);
            }
            _ => index += 1,
        }
    }
    if let Some(ledger) = ledger {
        let dormant = ledger.dormant_records();
        let known = |id: &Option<FileId>| {
            id.as_ref()
                .is_some_and(|id| dormant.iter().any(|(_, record)| record.id == *id))
        };
        // Stable: among known files, and among the rest, the given order.
        let mut order: Vec<usize> = (0..planned.len()).collect();
        order.sort_by_key(|&i| !known(&ids[i]));
        planned = order.iter().map(|&i| planned[i].clone()).collect();
        for (account, record) in dormant {
            let among_ours = ids.iter().flatten().any(|id| *id == record.id);
            let still_there = std::fs::metadata(&record.path)
                .is_ok_and(|metadata| file_id(&metadata) == record.id);
            if !among_ours && !still_there {
                ledger.retire(account);
            }
        }
    }
    Plan {
        inputs: planned,
        patterns,
    }
}

fn identity(planned: &Planned) -> Option<FileId> {
    match planned {
        Planned::File { path, .. } => std::fs::metadata(path).ok().map(|m| file_id(&m)),
        _ => None,
    }
}

/// The regular files a pattern matches now, oldest first (by modification
/// time, then name), so that `app.log.2 app.log.1 app.log` come in the
/// order they were written.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let Ok(paths) = glob::glob(pattern) else {
        // Checked when the configuration was built.
        return Vec::new();
    };
    let mut found: Vec<(SystemTime, PathBuf)> = paths
        .flatten()
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
