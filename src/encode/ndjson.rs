//! `--input-format ndjson`: is a line one JSON object, and what are its
//! top-level keys?
//!
//! Pure, and fast enough for the reader's hot loop: a line that is an object
//! is spliced into the message as it is, not parsed into a tree and printed
//! again, so what must be proven is only that it is valid JSON (RFC 8259)
//! and which keys it has at the top, which decide whether wsship adds its
//! timestamp and --fields. Strings are walked with the encoder's scan for
//! bytes that need a look (a quote, a backslash, a control character, a
//! byte outside ASCII), so their plain runs cost a vector compare per 16 or
//! 32 bytes. Escapes are checked, lone UTF-16 surrogates refused (as
//! serde_json refuses them) and nesting bounded (128 levels, as serde_json
//! bounds it), so that whatever is spliced is JSON every parser takes.

use std::ops::Range;

use super::skip_plain_short;

/// Why a line was not spliced as an object: said in the message's "error".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotObject {
    InvalidJson,
    /// Valid JSON, but an array, a string, a number, true, false or null.
    OtherValue,
    InvalidUtf8,
}

impl NotObject {
    pub fn reason(self) -> &'static str {
        match self {
            NotObject::InvalidJson => "invalid JSON",
            NotObject::OtherValue => "not a JSON object",
            NotObject::InvalidUtf8 => "invalid UTF-8",
        }
    }
}

/// How deep arrays and objects may nest: 127 levels, the line's own object
/// counting as the first, where serde_json refuses the 128th (a receiver
/// built on it must be able to read what we send).
const DEPTH: usize = 127;

/// Where a line's object lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// From its `{` through its `}`.
    pub whole: Range<usize>,
    /// What lies between its braces, trimmed of white space.
    pub inside: Range<usize>,
}

/// If `line` is one JSON object (with white space around it at most), where
/// it lies; `key` is called with each top-level key as written (escapes and
/// all), and whether it holds an escape. `nested_in` is how many levels the
/// message will wrap the object in (one under --json-target): they count
/// towards the depth allowed.
pub fn object(
    line: &[u8],
    nested_in: usize,
    mut key: impl FnMut(&[u8], bool),
) -> Result<Object, NotObject> {
    let mut parser = Parser {
        bytes: line,
        at: 0,
        error: NotObject::InvalidJson,
    };
    parser.skip_space();
    if parser.peek() != Some(b'{') {
        return Err(match parser.value(nested_in).and_then(|()| parser.end()) {
            Ok(()) => NotObject::OtherValue,
            Err(()) => parser.error,
        });
    }
    let open = parser.at;
    parser.at += 1;
    parser.skip_space();
    let inside = parser.at;
    let result = parser.members(nested_in, &mut key).and_then(|()| {
        let close = parser.at - 1;
        parser.end().map(|()| close)
    });
    match result {
        Ok(close) => {
            let mut end = close;
            while end > inside && is_space(line[end - 1]) {
                end -= 1;
            }
            Ok(Object {
                whole: open..close + 1,
                inside: inside..end,
            })
        }
        Err(()) => Err(parser.error),
    }
}

#[inline(always)]
fn is_space(b: u8) -> bool {
    // Most bytes that follow a token are above the space: one compare.
    b <= b' ' && matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    /// What a failure means, once one is met.
    error: NotObject,
}

type Step = Result<(), ()>;

impl Parser<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.at += 1;
        }
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Step {
        match self.peek() == Some(b) {
            true => {
                self.at += 1;
                Ok(())
            }
            false => Err(()),
        }
    }

    /// Nothing but white space to the end.
    fn end(&mut self) -> Step {
        self.skip_space();
        match self.at == self.bytes.len() {
            true => Ok(()),
            false => Err(()),
        }
    }

    fn value(&mut self, depth: usize) -> Step {
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                self.skip_space();
                self.nested_members(depth + 1)
            }
            Some(b'[') => {
                self.at += 1;
                self.elements(depth + 1)
            }
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(()),
        }
    }

    /// The members of an object whose `{` (and the space after it) is
    /// read, through its `}`. Generic, so that the top level's `key` is
    /// inlined; nested objects pass a closure that ignores keys.
    fn members(&mut self, depth: usize, key: &mut impl FnMut(&[u8], bool)) -> Step {
        if depth >= DEPTH {
            return Err(());
        }
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            let (name, escaped) = self.string()?;
            key(name, escaped);
            self.skip_space();
            self.expect(b':')?;
            self.skip_space();
            self.value(depth)?;
            if self.closes(b'}')? {
                return Ok(());
            }
        }
    }

    /// The members of a nested object, whose keys matter to no one.
    fn nested_members(&mut self, depth: usize) -> Step {
        self.members(depth, &mut |_, _| {})
    }

    /// The elements of an array whose `[` is read, through its `]`.
    fn elements(&mut self, depth: usize) -> Step {
        if depth >= DEPTH {
            return Err(());
        }
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.value(depth)?;
            if self.closes(b']')? {
                return Ok(());
            }
        }
    }

    /// After a member or an element: true at `close`, false at a comma
    /// (and the space after it); either is consumed.
    #[inline(always)]
    fn closes(&mut self, close: u8) -> Result<bool, ()> {
        self.skip_space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                self.skip_space();
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(()),
        }
    }

    /// A string, from its opening quote; returns what lies between the
    /// quotes, as written, and whether it holds an escape.
    #[inline(always)]
    fn string(&mut self) -> Result<(&[u8], bool), ()> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at = skip_plain_short(self.bytes, self.at);
            match self.peek() {
                None => return Err(()),
                Some(b'"') => {
                    self.at += 1;
                    return Ok((&self.bytes[start..self.at - 1], escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?
                }
                Some(0x80..) => self.utf8()?,
                // A control character must be escaped.
                Some(_) => return Err(()),
            }
        }
    }

    /// An escape, from its backslash.
    #[cold]
    fn escape(&mut self) -> Step {
        self.at += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 1;
                Ok(())
            }
            Some(b'u') => {
                self.at += 1;
                let unit = self.hex4()?;
                match unit {
                    // A high surrogate must have its low one next.
                    0xD800..=0xDBFF => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(()),
                        }
                    }
                    0xDC00..=0xDFFF => Err(()),
                    _ => Ok(()),
                }
            }
            _ => Err(()),
        }
    }

    fn hex4(&mut self) -> Result<u32, ()> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or(())?;
        let mut unit = 0;
        for &d in digits {
            unit = unit << 4 | (d as char).to_digit(16).ok_or(())?;
        }
        self.at += 4;
        Ok(unit)
    }

    /// One character outside ASCII, which must be well-formed UTF-8.
    #[cold]
    fn utf8(&mut self) -> Step {
        let width = match self.bytes[self.at] {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        let valid = width > 0
            && self
                .bytes
                .get(self.at..self.at + width)
                .is_some_and(|sequence| std::str::from_utf8(sequence).is_ok());
        if !valid {
            self.error = NotObject::InvalidUtf8;
            return Err(());
        }
        self.at += width;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Step {
        match self.bytes[self.at..].starts_with(word) {
            true => {
                self.at += word.len();
                Ok(())
            }
            false => Err(()),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    #[inline]
    fn number(&mut self) -> Step {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(()),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Step {
        let start = self.at;
        self.digits();
        match self.at > start {
            true => Ok(()),
            false => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(line: &str) -> Result<(Vec<String>, String), NotObject> {
        let mut keys = Vec::new();
        let object = object(line.as_bytes(), 0, |key, escaped| {
            assert_eq!(escaped, key.contains(&b'\\'));
            keys.push(String::from_utf8_lossy(key).into_owned())
        })?;
        assert_eq!(line.as_bytes()[object.whole.start], b'{');
        assert_eq!(line.as_bytes()[object.whole.end - 1], b'}');
        Ok((keys, line[object.inside].to_string()))
    }

    #[test]
    fn an_object_gives_its_top_level_keys_and_its_inside() {
        assert_eq!(
            keys(r#" {"a": 1, "b": {"c": [true, null, -1.5e+3]}, "d\"e": "x"} "#),
            Ok((
                vec!["a".into(), "b".into(), r#"d\"e"#.into()],
                r#""a": 1, "b": {"c": [true, null, -1.5e+3]}, "d\"e": "x""#.into()
            ))
        );
        assert_eq!(keys("{}"), Ok((vec![], String::new())));
        assert_eq!(keys("{ \t }"), Ok((vec![], String::new())));
        assert_eq!(
            keys("{\"a\":[],\"b\":{},\"c\":[ ],\"d\":{ }}"),
            Ok((
                vec!["a".into(), "b".into(), "c".into(), "d".into()],
                "\"a\":[],\"b\":{},\"c\":[ ],\"d\":{ }".into()
            ))
        );
        assert_eq!(
            keys("{ \"a\" : 1 \t\r\n}"),
            Ok((vec!["a".into()], "\"a\" : 1".into()))
        );
    }

    #[test]
    fn other_values_and_broken_json_are_told_apart() {
        for other in ["[1,2]", "\"text\"", "42", "-0.5", "true", "null", " false "] {
            assert_eq!(keys(other), Err(NotObject::OtherValue), "{other}");
        }
        for broken in [
            "",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":1} x",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"\t\"}",
            "{a:1}",
            "{\"a\":[1,]}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\\ud800\\u0041\"}",
            "[1",
            "{\"a\":1}{}",
            "nul",
        ] {
            assert_eq!(keys(broken), Err(NotObject::InvalidJson), "{broken}");
        }
        assert_eq!(
            object(b"{\"a\":\"caf\xe9\"}", 0, |_, _| {}),
            Err(NotObject::InvalidUtf8)
        );
        assert_eq!(
            object(b"{\"a\":\"\xed\xa0\x80\"}", 0, |_, _| {}),
            Err(NotObject::InvalidUtf8)
        );
        // Two, three and four bytes, and escapes.
        assert!(keys("{\"a\":\"caf\u{e9} \u{20ac} \u{1F600} \\ud83d\\ude00 \\/\"}").is_ok());
    }

    #[test]
    fn nesting_is_bounded_as_serde_json_bounds_it() {
        let arrays = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        for n in 120..136 {
            for line in [arrays(n), objects(n)] {
                let serde = serde_json::from_str::<serde_json::Value>(&line);
                assert_eq!(keys(&line).is_ok(), serde.is_ok(), "{n}: {serde:?}");
            }
        }
        assert!(keys(&objects(127)).is_ok());
        assert_eq!(keys(&objects(128)), Err(NotObject::InvalidJson));
        // Under a key of the message, one level less.
        let under_a_key = |line: &str| object(line.as_bytes(), 1, |_, _| {}).is_ok();
        assert!(under_a_key(&objects(126)));
        assert!(!under_a_key(&objects(127)));
    }

    #[test]
    fn agrees_with_serde_json_on_every_short_mutation() {
        // Every line made from a valid one by changing, dropping or
        // doubling one byte: valid exactly when serde_json says so.
        let seed = br#"{"k":[1,-2.5e3,"s\u00e9\n",{"x":null,"y":true}],"z":false}"#;
        let bytes: &[u8] = b"{}[]\",:-.0123456789eE+tfnrul\\ \tx\x01\xc3";
        let mut lines = Vec::new();
        for at in 0..seed.len() {
            for &b in bytes {
                let mut line = seed.to_vec();
                line[at] = b;
                lines.push(line);
            }
            let mut dropped = seed.to_vec();
            dropped.remove(at);
            lines.push(dropped);
            let mut doubled = seed.to_vec();
            doubled.insert(at, seed[at]);
            lines.push(doubled);
        }
        for line in lines {
            let serde = serde_json::from_slice::<serde_json::Value>(&line);
            let ours = object(&line, 0, |_, _| {});
            let serde_object = serde.as_ref().is_ok_and(serde_json::Value::is_object);
            assert_eq!(
                ours.is_ok(),
                serde_object,
                "{:?}: ours {ours:?}, serde_json {serde:?}",
                String::from_utf8_lossy(&line)
            );
            if serde.is_ok() && !serde_object {
                assert_eq!(ours, Err(NotObject::OtherValue));
            }
        }
    }
}
