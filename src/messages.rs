//! Diagnostics on stderr, filtered by verbosity.
//!
//! Every line starts with `wsship: ` so it stands out in a pipeline's mixed
//! stderr. Write errors are ignored: a closed stderr must not stop the shipping.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

pub fn set_verbosity(level: Verbosity) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Verbosity) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level as u8
}

#[doc(hidden)]
pub fn emit(level: Verbosity, args: std::fmt::Arguments<'_>) {
    if enabled(level) {
        let _ = writeln!(std::io::stderr().lock(), "wsship: {args}");
    }
}

/// A line for programs to read (JSON statistics): no `wsship: ` prefix.
pub fn emit_raw(level: Verbosity, line: &str) {
    if enabled(level) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Something the user must know whatever `-q` says: lost data, a fatal error.
macro_rules! error {
    ($($arg:tt)*) => { $crate::messages::emit($crate::messages::Verbosity::Quiet, format_args!($($arg)*)) };
}

/// Runtime trouble worth one line: an outage starting or ending; the summary.
macro_rules! notice {
    ($($arg:tt)*) => { $crate::messages::emit($crate::messages::Verbosity::Normal, format_args!($($arg)*)) };
}

/// Per-connection events, shown with `-v`.
macro_rules! info {
    ($($arg:tt)*) => { $crate::messages::emit($crate::messages::Verbosity::Verbose, format_args!($($arg)*)) };
}

pub(crate) use {error, info, notice};

/// An I/O error as `cat` prints it: "No such file or directory", without the
/// "(os error 2)" that Rust appends.
pub fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// `n` and `word`, plural unless `n` is one: "1 line", "2 lines". Written
/// only if the message is shown: nothing is formatted for a hidden one.
pub fn count(n: usize, word: &str) -> Count<'_> {
    Count { n, word }
}

pub struct Count<'a> {
    n: usize,
    word: &'a str,
}

impl std::fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.n {
            1 => write!(f, "1 {}", self.word),
            n => write!(f, "{n} {}s", self.word),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(0, "line").to_string(), "0 lines");
        assert_eq!(count(1, "line").to_string(), "1 line");
        assert_eq!(count(2, "attempt").to_string(), "2 attempts");
    }
}
