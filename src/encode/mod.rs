//! Turns a line (or a multiline event) into one WebSocket message, framed
//! and ready for the wire.
//!
//! Runs on the reader thread. The JSON is written by hand rather than through
//! serde because the shape is fixed and the escaping must also cover U+2028 and
//! U+2029 (valid JSON, but line terminators to JavaScript consumers), which
//! serde_json leaves alone. The timestamp is formatted once per unit of its
//! format (a millisecond by default), not once per line: lines read by one
//! `read` call share their instant. A line that is a JSON object, with
//! --input-format ndjson, is checked (`ndjson`) and spliced into the message
//! as it is, never parsed into a tree and printed again. Each message is
//! written where it will be sent from: inside its frame (see `frame`), or,
//! for --dry-run, followed by a newline.

use std::borrow::Cow;
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::{Format, InputFormat, Shape, TimestampFormat};
pub mod frame;
pub mod ndjson;
pub mod origin;

use frame::Masks;
use origin::{Ids, Origin};

/// How each message is laid out in the output.
pub enum Framing {
    /// A masked WebSocket text frame, as a client sends it.
    WebSocket(Box<Masks>),
    /// The message and a newline, for --dry-run.
    Lines,
    /// The message after its length (four bytes, little-endian), unmasked:
    /// for a worker to frame on its own connection, compressed
    /// (--compress) or joined with the rest of its batch (--message-per
    /// batch). See `Sized`.
    Sized,
}

/// Reading back what `Framing::Sized` wrote.
pub struct Sized;

impl Sized {
    /// Room for a message's length, before it.
    pub const PREFIX: usize = 4;

    /// The messages in `bytes`, which holds whole sized records.
    pub fn messages(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
        std::iter::from_fn(move || {
            let (len, rest) = bytes.split_first_chunk::<4>()?;
            let (message, rest) = rest.split_at(u32::from_le_bytes(*len) as usize);
            bytes = rest;
            Some(message)
        })
    }
}

pub struct Encoder {
    format: Format,
    framing: Framing,
    ndjson: bool,
    timestamp: TimestampFormat,
    /// The timestamp key as written in JSON, quotes aside.
    stamp_key: Key,
    /// `"<timestamp key>":<the read time>`, rebuilt when the time moves by
    /// a unit of its format; empty with --timestamp-format none.
    stamp: Vec<u8>,
    /// `"<message key>":"`.
    message_key: Vec<u8>,
    /// `{`, the stamp and a comma, `"<message key>":"`: a message starts
    /// with one copy.
    head: Vec<u8>,
    /// `"`, then `,"key":value` for every member, then `}`: rebuilt when
    /// a member's value changes (`rebuild_tail`).
    tail: Vec<u8>,
    /// The time `stamp` was built for, in units of its format.
    unit: i128,
    /// What follows the text, in order: where it came from, then the host
    /// and every --field.
    members: Vec<Member>,
    /// Some member changes with every line: --offset-key, --id-key.
    per_line: bool,
    /// Some member changes with the input: --path-key.
    per_input: bool,
    /// The current input's path as given, and as a JSON string, quotes and
    /// all; None for a stream, which has none.
    path_raw: Option<String>,
    path: Option<Vec<u8>>,
    /// Where the current line starts in its input, and its id.
    offset: u64,
    id: u128,
    /// The tail in three parts, so that a line's own members are written
    /// between two copies: `"` and the path member (rebuilt per input);
    /// `,"<offset key>":` and `,"<id key>":"`, if given; the fixed members
    /// (host, --fields) and `}`.
    tail_lead: Vec<u8>,
    offset_name: Option<Vec<u8>>,
    id_name: Option<Vec<u8>>,
    tail_rest: Vec<u8>,
    ids: Ids,
    /// `"<--json-target>":`, if given.
    target: Option<Vec<u8>>,
    /// Scratch for a spliced object's message: what goes before its
    /// members, and after; and which members the object has already.
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    has_member: Vec<bool>,
}

/// A member of every message after its text.
struct Member {
    key: Key,
    /// `"key":`.
    name: Vec<u8>,
    value: Value,
}

enum Value {
    /// A constant, as JSON: --field, --host-key.
    Fixed(Vec<u8>),
    Path,
    Offset,
    Id,
}

impl Encoder {
    pub fn new(format: Format, shape: &Shape, framing: Framing) -> Encoder {
        let quoted = |text: &str| {
            let mut out = b"\"".to_vec();
            escape_into(text, &mut out);
            out.push(b'"');
            out
        };
        let member = |key: &str, value: Value| {
            let mut name = quoted(key);
            name.push(b':');
            Member {
                key: Key::new(key),
                name,
                value,
            }
        };
        let mut members = Vec::new();
        let origin = [
            (&shape.path_key, Value::Path),
            (&shape.offset_key, Value::Offset),
            (&shape.id_key, Value::Id),
        ];
        for (key, value) in origin {
            if let Some(key) = key {
                members.push(member(key, value));
            }
        }
        if let Some((key, name)) = &shape.host {
            members.push(member(key, Value::Fixed(quoted(name))));
        }
        for (key, value) in &shape.fields {
            members.push(member(key, Value::Fixed(quoted(value))));
        }
        let mut message_key = quoted(&shape.message_key);
        message_key.extend_from_slice(b":\"");
        let per_line_name = |key: &Option<String>, open: &[u8]| {
            key.as_deref().map(|key| {
                let mut name = b",".to_vec();
                name.extend(quoted(key));
                name.push(b':');
                name.extend_from_slice(open);
                name
            })
        };
        let mut tail_rest = Vec::new();
        for member in &members {
            if let Value::Fixed(value) = &member.value {
                tail_rest.push(b',');
                tail_rest.extend_from_slice(&member.name);
                tail_rest.extend_from_slice(value);
            }
        }
        tail_rest.push(b'}');
        let mut encoder = Encoder {
            format,
            framing,
            ndjson: shape.input_format == InputFormat::Ndjson,
            timestamp: shape.timestamp_format,
            stamp_key: Key::new(&shape.timestamp_key),
            stamp: Vec::new(),
            message_key,
            head: Vec::new(),
            tail: Vec::new(),
            unit: i128::MIN,
            per_line: shape.offset_key.is_some() || shape.id_key.is_some(),
            per_input: shape.path_key.is_some(),
            has_member: vec![false; members.len()],
            members,
            path_raw: None,
            path: None,
            offset: 0,
            id: 0,
            tail_lead: b"\"".to_vec(),
            offset_name: per_line_name(&shape.offset_key, b""),
            id_name: per_line_name(&shape.id_key, b"\""),
            tail_rest,
            ids: Ids::default(),
            target: shape.json_target.as_deref().map(|target| {
                let mut key = quoted(target);
                key.push(b':');
                key
            }),
            prefix: Vec::new(),
            suffix: Vec::new(),
        };
        encoder.rebuild_tail();
        encoder.set_time(SystemTime::now());
        encoder
    }

    /// Sets the input whose lines are encoded from now on.
    pub fn set_origin(&mut self, origin: Origin<'_>) {
        if !(self.per_input || self.per_line) {
            return;
        }
        if self.per_input {
            let path = match origin {
                Origin::Stream { .. } => None,
                Origin::File { path, .. } => Some(path),
            };
            // Set for every read: quoted again only when the input changed.
            if path == self.path_raw.as_deref() {
                if self.per_line {
                    self.ids.set(origin);
                }
                return;
            }
            self.path_raw = path.map(String::from);
            self.path = path.map(|path| {
                let mut quoted = b"\"".to_vec();
                escape_into(path, &mut quoted);
                quoted.push(b'"');
                quoted
            });
            self.tail_lead.truncate(1);
            let path = self.members.iter().find(|m| matches!(m.value, Value::Path));
            if let (Some(member), Some(path)) = (path, &self.path) {
                self.tail_lead.push(b',');
                self.tail_lead.extend_from_slice(&member.name);
                self.tail_lead.extend_from_slice(path);
            }
        }
        if self.per_line {
            self.ids.set(origin);
        }
        self.rebuild_tail();
    }

    /// Whether messages say where their line lies (`set_place` matters).
    pub fn places(&self) -> bool {
        self.per_line
    }

    /// Sets where the line (or event) encoded next lies in its input: from
    /// `start` (its first line's first byte) to `end`.
    #[inline(always)]
    pub fn set_place(&mut self, start: u64, end: u64) {
        if self.per_line {
            self.offset = start;
            self.id = self.ids.id(start, end);
            self.rebuild_tail();
        }
    }

    /// The tail of the next message, from its three parts and the line's
    /// own members: a few copies and digits, for every line with
    /// --offset-key or --id-key.
    #[inline]
    fn rebuild_tail(&mut self) {
        let tail = &mut self.tail;
        tail.clear();
        tail.extend_from_slice(&self.tail_lead);
        if let Some(name) = &self.offset_name {
            tail.extend_from_slice(name);
            origin::push_decimal(self.offset, tail);
        }
        if let Some(name) = &self.id_name {
            tail.extend_from_slice(name);
            origin::push_hex(self.id, tail);
            tail.push(b'"');
        }
        tail.extend_from_slice(&self.tail_rest);
    }

    /// Appends `"key":value`; false, having appended nothing, for a path
    /// the input does not have.
    fn push_member(&self, member: &Member, out: &mut Vec<u8>) -> bool {
        if matches!(member.value, Value::Path) && self.path.is_none() {
            return false;
        }
        out.extend_from_slice(&member.name);
        match &member.value {
            Value::Fixed(value) => out.extend_from_slice(value),
            Value::Path => out.extend_from_slice(self.path.as_deref().unwrap_or_default()),
            Value::Offset => origin::push_decimal(self.offset, out),
            Value::Id => {
                out.push(b'"');
                origin::push_hex(self.id, out);
                out.push(b'"');
            }
        }
        true
    }

    /// Sets the read time stamped on the lines encoded from now on.
    pub fn set_time(&mut self, now: SystemTime) {
        let now = DateTime::<Utc>::from(now);
        let unit = match self.timestamp {
            TimestampFormat::Rfc3339 | TimestampFormat::UnixMs => now.timestamp_millis() as i128,
            TimestampFormat::Rfc3339Us | TimestampFormat::UnixUs => now.timestamp_micros() as i128,
            TimestampFormat::Unix => now.timestamp() as i128,
            TimestampFormat::UnixNs => now.timestamp_nanos_opt().map_or(0, i128::from),
            TimestampFormat::None => 0,
        };
        // The first call always builds: no time is i128::MIN of any unit.
        if unit == self.unit {
            return;
        }
        self.unit = unit;
        self.stamp.clear();
        if self.timestamp != TimestampFormat::None {
            self.stamp.push(b'"');
            self.stamp.extend_from_slice(&self.stamp_key.written);
            self.stamp.extend_from_slice(b"\":");
            let value = match self.timestamp {
                TimestampFormat::Rfc3339 => {
                    format!("\"{}\"", now.to_rfc3339_opts(SecondsFormat::Millis, true))
                }
                TimestampFormat::Rfc3339Us => {
                    format!("\"{}\"", now.to_rfc3339_opts(SecondsFormat::Micros, true))
                }
                _ => unit.to_string(),
            };
            self.stamp.extend_from_slice(value.as_bytes());
        }
        self.head.clear();
        self.head.push(b'{');
        if !self.stamp.is_empty() {
            self.head.extend_from_slice(&self.stamp);
            self.head.push(b',');
        }
        self.head.extend_from_slice(&self.message_key);
    }

    /// Appends the message for `line`, framed, to `out`, which then ends on
    /// a whole frame. Bytes that are not UTF-8 become U+FFFD. `plain` says
    /// that the line is already known to hold no byte to escape and none
    /// outside ASCII (the line splitter's scan found its end that way).
    /// With --input-format ndjson, a line that is a JSON object is spliced
    /// into the message instead.
    #[inline(always)]
    pub fn encode(&mut self, line: &[u8], plain: bool, out: &mut Vec<u8>) -> Encoded {
        if self.ndjson && self.format == Format::Json {
            return self.encode_json_line(line, out);
        }
        self.encode_text(line, plain, out)
    }

    /// The message of `line` as text: its bytes in the message key.
    #[inline(always)]
    pub fn encode_text(&mut self, line: &[u8], plain: bool, out: &mut Vec<u8>) -> Encoded {
        self.frame_text::<false>(line, plain, out)
    }

    /// A JSON line: spliced if it is an object, else sent as text with an
    /// "error" member that says why not.
    fn encode_json_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Encoded {
        let (stamp_key, members, has_member) =
            (&self.stamp_key, &self.members, &mut self.has_member);
        has_member.fill(false);
        let mut has_stamp = false;
        let nested_in = usize::from(self.target.is_some());
        let object = ndjson::object(line, nested_in, |key, escaped| {
            has_stamp |= stamp_key.is(key, escaped);
            for (member, has) in members.iter().zip(has_member.iter_mut()) {
                *has |= member.key.is(key, escaped);
            }
        });
        let object = match object {
            Ok(object) => object,
            Err(why) => {
                self.error_tail(why.reason());
                let mut encoded = self.frame_text::<true>(line, false, out);
                encoded.invalid_json = true;
                return encoded;
            }
        };
        let mut prefix = std::mem::take(&mut self.prefix);
        let mut suffix = std::mem::take(&mut self.suffix);
        prefix.clear();
        suffix.clear();
        prefix.push(b'{');
        let mut members = 0;
        let middle = match &self.target {
            None => {
                if !has_stamp && !self.stamp.is_empty() {
                    prefix.extend_from_slice(&self.stamp);
                    members += 1;
                }
                let inside = &line[object.inside];
                if !inside.is_empty() {
                    if members > 0 {
                        prefix.push(b',');
                    }
                    members += 1;
                }
                inside
            }
            Some(target) => {
                if !self.stamp.is_empty() {
                    prefix.extend_from_slice(&self.stamp);
                    prefix.push(b',');
                }
                prefix.extend_from_slice(target);
                members += 1;
                &line[object.whole]
            }
        };
        for (member, &has) in self.members.iter().zip(&self.has_member) {
            if self.target.is_none() && has {
                continue;
            }
            if members > 0 {
                suffix.push(b',');
            }
            match self.push_member(member, &mut suffix) {
                true => members += 1,
                false if members > 0 => _ = suffix.pop(),
                false => {}
            }
        }
        suffix.push(b'}');
        let parts = [&prefix[..], middle, &suffix[..]];
        let len = match &mut self.framing {
            Framing::WebSocket(masks) => frame::append_frame(out, frame::TEXT, parts, masks.key()),
            Framing::Lines | Framing::Sized => {
                let start = begin_unframed(&self.framing, out);
                for part in parts {
                    out.extend_from_slice(part);
                }
                end_unframed(&self.framing, out, start)
            }
        };
        (self.prefix, self.suffix) = (prefix, suffix);
        Encoded {
            len,
            lossy: false,
            invalid_json: false,
        }
    }

    /// The text message of `line`; with `ERROR`, with the "error" member
    /// `error_tail` made. A constant, so that the hot path has no trace of
    /// the other.
    fn frame_text<const ERROR: bool>(
        &mut self,
        line: &[u8],
        plain: bool,
        out: &mut Vec<u8>,
    ) -> Encoded {
        match &mut self.framing {
            Framing::WebSocket(masks) => {
                let key = masks.key();
                if let Some(len) = self.plain_frame::<ERROR>(line, plain, out, key) {
                    return Encoded::text(len, false);
                }
                let (head, tail) = self.wrapping::<ERROR>();
                let open = frame::begin(out, head.len() + line.len() + tail.len());
                let lossy = self.message::<ERROR>(line, out);
                let len = frame::end(out, open, frame::TEXT, key);
                Encoded::text(len, lossy)
            }
            Framing::Lines | Framing::Sized => {
                let start = begin_unframed(&self.framing, out);
                let lossy = self.message::<ERROR>(line, out);
                let len = end_unframed(&self.framing, out, start);
                Encoded::text(len, lossy)
            }
        }
    }

    /// The tail of a message that says why its line was not an object.
    #[cold]
    fn error_tail(&mut self, reason: &str) {
        self.suffix.clear();
        self.suffix
            .extend_from_slice(&self.tail[..self.tail.len() - 1]);
        self.suffix.extend_from_slice(b",\"error\":\"");
        escape_into(reason, &mut self.suffix);
        self.suffix.extend_from_slice(b"\"}");
    }

    /// The frame of a line that goes into its message as it is (no byte to
    /// escape or replace), which is most lines: its length is known before
    /// it is written, so header, JSON and line are written masked in one
    /// pass. None, having written nothing, for any other line.
    #[inline(always)]
    fn plain_frame<const ERROR: bool>(
        &self,
        line: &[u8],
        plain: bool,
        out: &mut Vec<u8>,
        key: [u8; 4],
    ) -> Option<usize> {
        let plain = plain
            || match self.format {
                Format::Json => skip_plain(line, 0) == line.len(),
                Format::Raw => line.is_ascii(),
            };
        if !plain {
            return None;
        }
        let (head, tail) = self.wrapping::<ERROR>();
        Some(frame::append_frame(
            out,
            frame::TEXT,
            [head, line, tail],
            key,
        ))
    }

    /// What goes before and after the line in a message of this format
    /// (with an "error" member: the suffix `frame_text` built).
    fn wrapping<const ERROR: bool>(&self) -> (&[u8], &[u8]) {
        match (self.format, ERROR) {
            (Format::Json, false) => (&self.head, &self.tail),
            (Format::Json, true) => (&self.head, &self.suffix),
            (Format::Raw, _) => (&[], &[]),
        }
    }

    /// Appends the message itself; true if bytes had to be replaced.
    fn message<const ERROR: bool>(&self, line: &[u8], out: &mut Vec<u8>) -> bool {
        let (head, tail) = self.wrapping::<ERROR>();
        out.extend_from_slice(head);
        let plain = match self.format {
            Format::Json => escape_ascii_into(line, out),
            Format::Raw if line.is_ascii() => {
                out.extend_from_slice(line);
                true
            }
            Format::Raw => false,
        };
        let mut lossy = false;
        if !plain {
            // from_utf8 has a fast path that the lossy conversion lacks.
            let text = match std::str::from_utf8(line) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => {
                    lossy = true;
                    String::from_utf8_lossy(line)
                }
            };
            match self.format {
                Format::Json => escape_into(&text, out),
                Format::Raw => out.extend_from_slice(text.as_bytes()),
            }
        }
        out.extend_from_slice(tail);
        lossy
    }
}

/// Starts an unframed message: after room for its length, if sized. Returns
/// where the message will start.
fn begin_unframed(framing: &Framing, out: &mut Vec<u8>) -> usize {
    if let Framing::Sized = framing {
        out.extend_from_slice(&[0; Sized::PREFIX]);
    }
    out.len()
}

/// Ends an unframed message begun at `start`: a newline after it, or its
/// length before it. Returns its length.
fn end_unframed(framing: &Framing, out: &mut Vec<u8>, start: usize) -> usize {
    let len = out.len() - start;
    match framing {
        Framing::Sized => {
            out[start - Sized::PREFIX..start].copy_from_slice(&(len as u32).to_le_bytes())
        }
        _ => out.push(b'\n'),
    }
    len
}

/// A key of ours, as written in JSON (quotes aside), and whether writing it
/// took an escape.
struct Key {
    written: Vec<u8>,
    escaped: bool,
}

impl Key {
    /// Whether a key as written in a line (`escaped` if it holds an escape)
    /// is this one: written alike, or meaning the same once unescaped (rare:
    /// a key with an escape on either side).
    #[inline(always)]
    fn is(&self, key: &[u8], escaped: bool) -> bool {
        match escaped || self.escaped {
            false => key == self.written,
            true => unescaped_eq(key, &self.written),
        }
    }

    fn new(key: &str) -> Key {
        let mut written = Vec::new();
        escape_into(key, &mut written);
        Key {
            escaped: written.contains(&b'\\'),
            written,
        }
    }
}

/// Whether a key written with escapes means `ours` (also as written, but
/// by our escaper, which escapes only what it must).
fn unescaped_eq(key: &[u8], ours: &[u8]) -> bool {
    let decode = |written: &[u8]| {
        let mut quoted = Vec::with_capacity(written.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(written);
        quoted.push(b'"');
        serde_json::from_slice::<String>(&quoted).ok()
    };
    matches!((decode(key), decode(ours)), (Some(a), Some(b)) if a == b)
}

/// One encoded message.
pub struct Encoded {
    /// The message's length, frame aside.
    pub len: usize,
    /// Whether bytes that were not UTF-8 were replaced.
    pub lossy: bool,
    /// Whether an --input-format ndjson line was not a JSON object.
    pub invalid_json: bool,
}

impl Encoded {
    fn text(len: usize, lossy: bool) -> Encoded {
        Encoded {
            len,
            lossy,
            invalid_json: false,
        }
    }
}

/// Bytes that cannot stand for themselves inside a JSON string, plus 0xE2,
/// the lead byte of U+2028 and U+2029, checked further when seen.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xE2] = true;
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Non-zero if any byte of the word is zero ("has zero byte", Hacker's
/// Delight 6-1). Log lines are mostly plain ASCII, so looking at a word at
/// a time is the common path.
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Non-zero if any of 8 bytes (a little-endian word) is below 0x20, `"` or `\`.
#[inline]
fn ascii_special_bytes(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    below_space | zero_bytes(word ^ (ONES * b'"' as u64)) | zero_bytes(word ^ (ONES * b'\\' as u64))
}

/// Whether any of 8 bytes is special: below 0x20, `"`, `\` or 0xE2.
#[inline]
fn word_has_special(word: u64) -> bool {
    ascii_special_bytes(word) | zero_bytes(word ^ (ONES * 0xE2)) != 0
}

/// Appends the escape of an ASCII byte that cannot stand for itself.
fn push_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let escape: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        _ => &[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[(b >> 4) as usize],
            HEX[(b & 15) as usize],
        ],
    };
    out.extend_from_slice(escape);
}

/// Appends `bytes` escaped for the inside of a JSON string if they are all
/// ASCII, which also proves them UTF-8: one pass for the common line
/// instead of a UTF-8 check and an escape. Returns false, having appended
/// nothing, at the first byte that is not ASCII.
pub fn escape_ascii_into(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let mark = out.len();
    let mut start = 0;
    let mut i = 0;
    loop {
        i = skip_plain(bytes, i);
        let Some(&b) = bytes.get(i) else { break };
        if !b.is_ascii() {
            out.truncate(mark);
            return false;
        }
        out.extend_from_slice(&bytes[start..i]);
        push_escape(b, out);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    true
}

/// The index of the first byte from `i` on that is not plain (below 0x20,
/// `"`, `\`, or not ASCII), or the length.
#[inline]
pub fn skip_plain(bytes: &[u8], i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        // std caches the answer: after the first call this is a load and a
        // test.
        if bytes.len() - i.min(bytes.len()) >= 32 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { skip_plain_avx2(bytes, i) };
        }
        skip_plain_sse2(bytes, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    skip_plain_words(bytes, i)
}

/// `skip_plain` thirty-two bytes a step, then sixteen.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn skip_plain_avx2(bytes: &[u8], mut i: usize) -> usize {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };
    // As in the SSE2 scan: compared as signed bytes, a control character
    // and a byte from 0x80 up are both below a space.
    let space = _mm256_set1_epi8(0x20);
    let quote = _mm256_set1_epi8(b'"' as i8);
    let backslash = _mm256_set1_epi8(b'\\' as i8);
    while i + 32 <= bytes.len() {
        // SAFETY: the 32 bytes at `i` lie within `bytes`.
        let block = unsafe { _mm256_loadu_si256(bytes.as_ptr().add(i).cast::<__m256i>()) };
        let odd = _mm256_or_si256(
            _mm256_cmpgt_epi8(space, block),
            _mm256_or_si256(
                _mm256_cmpeq_epi8(block, quote),
                _mm256_cmpeq_epi8(block, backslash),
            ),
        );
        let found = _mm256_movemask_epi8(odd) as u32;
        if found != 0 {
            return i + found.trailing_zeros() as usize;
        }
        i += 32;
    }
    skip_plain_sse2(bytes, i)
}

/// `skip_plain` for runs that are usually short (JSON keys and values): one
/// SSE2 block first, which most of them end in, before the general scan.
#[inline(always)]
pub fn skip_plain_short(bytes: &[u8], i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if i + 16 <= bytes.len() {
        // SAFETY: the 16 bytes at `i` lie within `bytes`.
        return match unsafe { odd_sse2(bytes, i) } {
            0 => skip_plain(bytes, i + 16),
            found => i + found.trailing_zeros() as usize,
        };
    }
    skip_plain(bytes, i)
}

/// `skip_plain` sixteen bytes a step, for every x86_64 CPU.
#[cfg(target_arch = "x86_64")]
fn skip_plain_sse2(bytes: &[u8], mut i: usize) -> usize {
    // Sixteen bytes per step, where the word scan takes eight.
    while i + 16 <= bytes.len() {
        // SAFETY: the 16 bytes at `i` lie within `bytes`.
        let found = unsafe { odd_sse2(bytes, i) };
        if found != 0 {
            return i + found.trailing_zeros() as usize;
        }
        i += 16;
    }
    // The last bytes: the block that ends with them, read again from
    // where it overlaps, rather than a byte at a time.
    if i < bytes.len() && bytes.len() >= 16 {
        let last = bytes.len() - 16;
        // SAFETY: the 16 bytes at `last` are the last of `bytes`.
        let found = unsafe { odd_sse2(bytes, last) } >> (i - last);
        return match found {
            0 => bytes.len(),
            _ => i + found.trailing_zeros() as usize,
        };
    }
    skip_plain_words(bytes, i)
}

/// One bit per byte of the sixteen at `at` that is not plain. Compared as
/// signed bytes, everything from 0x80 up is negative, so one comparison
/// finds control characters and non-ASCII bytes alike.
///
/// # Safety
/// The sixteen bytes at `at` must lie within `bytes`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn odd_sse2(bytes: &[u8], at: usize) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 CPU, and the unaligned load reads
    // 16 bytes that lie within `bytes`, as the caller promised.
    unsafe {
        let block = _mm_loadu_si128(bytes.as_ptr().add(at).cast::<__m128i>());
        _mm_movemask_epi8(_mm_or_si128(
            _mm_cmplt_epi8(block, _mm_set1_epi8(0x20)),
            _mm_or_si128(
                _mm_cmpeq_epi8(block, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(block, _mm_set1_epi8(b'\\' as i8)),
            ),
        )) as u32
    }
}

/// `skip_plain` a word, then a byte, at a time.
fn skip_plain_words(bytes: &[u8], mut i: usize) -> usize {
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        if ascii_special_bytes(word) | (word & HIGHS) != 0 {
            break;
        }
        i += 8;
    }
    while bytes
        .get(i)
        .is_some_and(|&b| b.is_ascii() && !SPECIAL[b as usize])
    {
        i += 1;
    }
    i
}

/// Appends `s` escaped for the inside of a JSON string (RFC 8259 section 7).
/// What it appends is UTF-8 whenever `s` is.
pub fn escape_into(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            if !word_has_special(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if !SPECIAL[b as usize] {
            i += 1;
            continue;
        }
        let line_separator = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (0xE2, Some(0x80), Some(0xA8)) => Some(b"\\u2028"),
            (0xE2, Some(0x80), Some(0xA9)) => Some(b"\\u2029"),
            (0xE2, _, _) => {
                i += 1;
                continue;
            }
            _ => None,
        };
        // Every special byte is ASCII or the start of a 3-byte sequence, so
        // `start..i` always falls on character boundaries.
        out.extend_from_slice(&bytes[start..i]);
        match line_separator {
            Some(escape) => {
                out.extend_from_slice(escape);
                i += 3;
            }
            None => {
                push_escape(b, out);
                i += 1;
            }
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_fields(fields: &[(String, String)]) -> Shape {
        Shape {
            fields: fields.to_vec(),
            ..Shape::default()
        }
    }
    use std::time::{Duration, UNIX_EPOCH};

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape_into(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// What --dry-run would print for each line, newline removed.
    fn messages(encoder: &mut Encoder, lines: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for line in lines {
            encoder.encode(line.as_bytes(), false, &mut out);
        }
        let text = String::from_utf8(out).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn escapes_what_json_and_javascript_need() {
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(escaped("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(
            escaped("\t\n\r\x08\x0c\x00\x1f"),
            "\\t\\n\\r\\b\\f\\u0000\\u001f"
        );
        assert_eq!(escaped("x\u{2028}y\u{2029}z"), "x\\u2028y\\u2029z");
        // Other characters starting with 0xE2 pass through.
        assert_eq!(escaped("€ – ✓"), "€ – ✓");
    }

    #[test]
    fn word_scan_agrees_with_the_table() {
        for special in 0..=255u8 {
            for position in 0..8 {
                let mut word = [b'a'; 8];
                word[position] = special;
                assert_eq!(
                    word_has_special(u64::from_le_bytes(word)),
                    SPECIAL[special as usize],
                    "byte {special:#04x} at {position}"
                );
            }
        }
        // Bytes just above a special one must not trip a false alarm.
        assert!(!word_has_special(u64::from_le_bytes(*b" !#[]^~\x7f")));
    }

    #[test]
    fn the_ascii_path_agrees_with_the_general_one_and_stops_at_other_bytes() {
        let ascii: String = (0..128u8).map(char::from).collect();
        for text in [ascii.as_str(), "plain words", "", "a\"b\\c\td"] {
            let mut fast = b"x".to_vec();
            assert!(escape_ascii_into(text.as_bytes(), &mut fast));
            assert_eq!(fast[1..], *escaped(text).as_bytes());
        }
        // Every byte at every position of lines shorter than a block, of a
        // block or two and a part, and of whole blocks.
        let plain = b"0123456789abcdefghij0123456789abcdefghij";
        for len in 1..=plain.len() {
            for byte in 0..=255u8 {
                for position in 0..len {
                    let mut line = plain[..len].to_vec();
                    line[position] = byte;
                    let mut out = b"x".to_vec();
                    match std::str::from_utf8(&line) {
                        Ok(text) => {
                            assert!(escape_ascii_into(&line, &mut out));
                            assert_eq!(out[1..], *escaped(text).as_bytes(), "{byte:#04x}");
                        }
                        Err(_) => {
                            assert!(!escape_ascii_into(&line, &mut out));
                            assert_eq!(out, b"x");
                        }
                    }
                }
            }
        }
    }

    /// Runs `check` on a copy of `bytes` that ends where readable memory
    /// ends, so that a scan reading one byte past the slice faults (and the
    /// test with it) instead of reading whatever follows it.
    pub(crate) fn at_the_edge_of_memory(bytes: &[u8], check: impl FnOnce(&[u8])) {
        // SAFETY: plain mmap, mprotect and munmap of a mapping made here;
        // the slice lies within its first, readable page.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            assert!(bytes.len() <= page);
            let base = libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            let base = base.cast::<u8>();
            assert_eq!(
                libc::mprotect(base.add(page).cast(), page, libc::PROT_NONE),
                0
            );
            let start = base.add(page - bytes.len());
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, bytes.len());
            check(std::slice::from_raw_parts(start, bytes.len()));
            libc::munmap(base.cast(), 2 * page);
        }
    }

    #[test]
    fn every_scan_finds_the_first_odd_byte_and_reads_nothing_past_the_end() {
        // The AVX2, SSE2 and word scans, each run directly: the dispatch
        // picks one per CPU, so on any one machine the others would
        // otherwise go untested.
        let plain = [b'p'; 100];
        for len in 0..plain.len() {
            for byte in [
                b'p', 0u8, b'\n', 0x1f, b' ', b'"', b'\\', b']', 0x7f, 0x80, 0xe2, 0xff,
            ] {
                // The byte once, and from there to the end: a word of
                // nothing else is its own case for the word scan.
                let lines = (0..len).step_by(3).flat_map(|position| {
                    let mut once = plain[..len].to_vec();
                    once[position] = byte;
                    let mut run = once.clone();
                    run[position..].fill(byte);
                    [(position, once), (position, run)]
                });
                for (position, line) in lines {
                    at_the_edge_of_memory(&line, |line| {
                        for start in [0, 1, 5, 16, 17, 33].into_iter().filter(|&s| s <= len) {
                            let want = line[start..]
                                .iter()
                                .position(|&b| !b.is_ascii() || SPECIAL[b as usize])
                                .map_or(len, |at| start + at);
                            let at = format!("{len} {byte:#x}@{position} from {start}");
                            assert_eq!(skip_plain_words(line, start), want, "words {at}");
                            #[cfg(target_arch = "x86_64")]
                            {
                                assert_eq!(skip_plain_sse2(line, start), want, "sse2 {at}");
                                if std::arch::is_x86_feature_detected!("avx2") {
                                    // SAFETY: checked just above.
                                    let avx2 = unsafe { skip_plain_avx2(line, start) };
                                    assert_eq!(avx2, want, "avx2 {at}");
                                }
                            }
                            assert_eq!(skip_plain(line, start), want, "{at}");
                            assert_eq!(skip_plain_short(line, start), want, "short {at}");
                        }
                    });
                }
            }
        }
    }

    #[test]
    fn replaced_bytes_are_reported() {
        let mut enc = Encoder::new(Format::Raw, &Shape::default(), Framing::Lines);
        let mut out = Vec::new();
        let encoded = enc.encode(b"caf\xc3\xa9 \xff", false, &mut out);
        assert!(encoded.lossy);
        assert_eq!(out, "café \u{fffd}\n".as_bytes());
        assert_eq!(encoded.len, out.len() - 1);
        assert!(!enc.encode("café".as_bytes(), false, &mut out).lossy);
    }

    #[test]
    fn specials_found_inside_long_plain_runs() {
        let line = format!(
            "{}\"{}\u{2028}{}\\",
            "a".repeat(13),
            "b".repeat(21),
            "c".repeat(8)
        );
        assert_eq!(
            escaped(&line),
            format!(
                "{}\\\"{}\\u2028{}\\\\",
                "a".repeat(13),
                "b".repeat(21),
                "c".repeat(8)
            )
        );
    }

    #[test]
    fn every_char_round_trips_through_a_json_parser() {
        let all: String = (0..0x3000u32).filter_map(char::from_u32).collect();
        let json = format!("\"{}\"", escaped(&all));
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, all);
        assert!(!json.contains('\u{2028}') && !json.contains('\u{2029}'));
    }

    #[test]
    fn json_message_shape() {
        let fields = [("host".to_string(), "web\"1".to_string())];
        let mut enc = Encoder::new(Format::Json, &with_fields(&fields), Framing::Lines);
        enc.set_time(UNIX_EPOCH + Duration::from_millis(1_764_081_153_123));
        assert_eq!(
            messages(&mut enc, &["hello \"world\""]),
            [
                r#"{"timestamp":"2025-11-25T14:32:33.123Z","message":"hello \"world\"","host":"web\"1"}"#
            ]
        );
    }

    #[test]
    fn timestamp_follows_the_clock() {
        let mut enc = Encoder::new(Format::Json, &Shape::default(), Framing::Lines);
        enc.set_time(UNIX_EPOCH);
        let first = messages(&mut enc, &["a"]);
        enc.set_time(UNIX_EPOCH + Duration::from_millis(1));
        let second = messages(&mut enc, &["b"]);
        assert!(first[0].contains("1970-01-01T00:00:00.000Z"));
        assert!(second[0].contains("1970-01-01T00:00:00.001Z"));
    }

    #[test]
    fn raw_is_the_line() {
        let mut enc = Encoder::new(Format::Raw, &Shape::default(), Framing::Lines);
        assert_eq!(messages(&mut enc, &["a \"b\""]), ["a \"b\""]);
    }

    /// Encodes `line` into a frame after a byte of something else, checks
    /// that the frame holds what --dry-run would print, and that the length
    /// returned is the message's.
    fn assert_framed_like_a_line(format: Format, fields: &[(String, String)], line: &[u8]) {
        let mut enc = Encoder::new(
            format,
            &with_fields(fields),
            Framing::WebSocket(Box::new(Masks::new())),
        );
        enc.set_time(UNIX_EPOCH);
        let mut out = b"x".to_vec();
        let len = enc.encode(line, false, &mut out).len;
        let mut lines = Encoder::new(format, &with_fields(fields), Framing::Lines);
        lines.set_time(UNIX_EPOCH);
        let mut expected = Vec::new();
        lines.encode(line, false, &mut expected);
        expected.pop();
        assert_eq!(len, expected.len(), "length of {line:?}");
        let header = crate::encode::frame::header_len(len);
        assert_eq!(out.len(), 1 + header + len, "frame of {line:?}");
        let key: [u8; 4] = out[1 + header - 4..1 + header].try_into().unwrap();
        let mut payload = out[1 + header..].to_vec();
        crate::encode::frame::apply_mask(&mut payload, key);
        assert_eq!(payload, expected, "payload of {line:?}");
    }

    #[test]
    fn a_frame_holds_the_message_and_its_length_is_returned() {
        // Escaping doubles this line past the 125 bytes its length suggested.
        assert_framed_like_a_line(Format::Json, &[], "\"".repeat(70).as_bytes());
        assert_framed_like_a_line(Format::Json, &[], b"t\xffo \x01");
        assert_framed_like_a_line(Format::Raw, &[], b"caf\xc3\xa9 \xff");
    }

    #[test]
    fn plain_lines_of_every_length_make_the_same_frames_as_escaped_ones() {
        // Across both header length classes, every masking offset, and
        // lines shorter and longer than a block.
        let fields = [("host".to_string(), "web-1".to_string())];
        for len in 0..300 {
            let line: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_framed_like_a_line(Format::Json, &[], &line);
            assert_framed_like_a_line(Format::Json, &fields, &line);
            assert_framed_like_a_line(Format::Raw, &[], &line);
        }
    }

    /// What --dry-run prints for each line with `shape`, as JSON values,
    /// read at 1,700,000,000.123456789 s after the epoch.
    fn shaped(shape: &Shape, lines: &[&str]) -> Vec<serde_json::Value> {
        shape_texts(shape, lines)
            .iter()
            .map(|text| serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}")))
            .collect()
    }

    fn ndjson(fields: &[(&str, &str)]) -> Shape {
        Shape {
            input_format: InputFormat::Ndjson,
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Shape::default()
        }
    }

    #[test]
    fn an_object_is_spliced_after_the_timestamp_and_before_the_fields() {
        let shape = ndjson(&[("host", "web-1")]);
        let got = shaped(&shape, &[r#" {"level":"info","n":[1,{"x":null}]} "#, "{}"]);
        assert_eq!(
            got,
            [
                serde_json::json!({"timestamp": "2023-11-14T22:13:20.123Z", "level": "info",
                    "n": [1, {"x": null}], "host": "web-1"}),
                serde_json::json!({"timestamp": "2023-11-14T22:13:20.123Z", "host": "web-1"}),
            ]
        );
        // Members keep their order: timestamp, the line's, then the fields.
        let mut enc = Encoder::new(Format::Json, &shape, Framing::Lines);
        enc.set_time(UNIX_EPOCH);
        let mut out = Vec::new();
        enc.encode(br#"{"b":1,"a":2}"#, false, &mut out);
        assert_eq!(
            out,
            br#"{"timestamp":"1970-01-01T00:00:00.000Z","b":1,"a":2,"host":"web-1"}
"#
        );
    }

    #[test]
    fn a_line_with_the_timestamp_or_a_field_key_keeps_its_own_value_once() {
        let shape = ndjson(&[("host", "web-1"), ("env", "prod")]);
        let lines = [
            r#"{"timestamp":"mine","host":"theirs"}"#,
            r#"{"\u0074imestamp":1,"h\u006fst":2}"#,
        ];
        for (text, value) in shape_texts(&shape, &lines)
            .iter()
            .zip(shaped(&shape, &lines))
        {
            assert_eq!(
                text.matches("timestamp").count() + text.matches("\\u0074imestamp").count(),
                1,
                "{text}"
            );
            assert_eq!(value["env"], "prod", "{text}");
        }
        let values = shaped(&shape, &lines);
        assert_eq!(values[0]["timestamp"], "mine");
        assert_eq!(values[0]["host"], "theirs");
        assert_eq!(values[1]["timestamp"], 1);
        assert_eq!(values[1]["host"], 2);
    }

    /// The same, as text.
    fn shape_texts(shape: &Shape, lines: &[&str]) -> Vec<String> {
        let mut enc = Encoder::new(Format::Json, shape, Framing::Lines);
        enc.set_time(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789));
        let mut out = Vec::new();
        for line in lines {
            enc.encode(line.as_bytes(), false, &mut out);
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn a_line_that_is_no_object_goes_as_text_and_says_why() {
        let shape = ndjson(&[("host", "web-1")]);
        let got = shaped(&shape, &["[1,2]", "{\"a\":", "42", "\"s\""]);
        let reasons: Vec<&str> = got.iter().map(|v| v["error"].as_str().unwrap()).collect();
        assert_eq!(
            reasons,
            [
                "not a JSON object",
                "invalid JSON",
                "not a JSON object",
                "not a JSON object"
            ]
        );
        assert_eq!(got[1]["message"], "{\"a\":");
        assert_eq!(got[1]["host"], "web-1");
        let mut enc = Encoder::new(Format::Json, &shape, Framing::Lines);
        let mut out = Vec::new();
        assert!(
            enc.encode(b"{\"a\":\"\xff\"}", false, &mut out)
                .invalid_json
        );
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["error"], "invalid UTF-8");
        assert_eq!(value["message"], "{\"a\":\"\u{fffd}\"}");
        assert!(!enc.encode(b"{}", false, &mut out).invalid_json);
    }

    #[test]
    fn a_target_nests_the_object_whole() {
        let shape = Shape {
            json_target: Some("log".into()),
            ..ndjson(&[("host", "web-1")])
        };
        let got = shaped(&shape, &[r#"{"host":"theirs","timestamp":5}"#]);
        assert_eq!(
            got[0],
            serde_json::json!({"timestamp": "2023-11-14T22:13:20.123Z",
                "log": {"host": "theirs", "timestamp": 5}, "host": "web-1"})
        );
        // Nested one level deeper, an object may hold one level less: what
        // is sent stays within what serde_json reads (127 levels).
        let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        let got = shaped(&shape, &[&objects(126), &objects(127)]);
        assert_eq!(got[0]["error"], serde_json::Value::Null);
        assert_eq!(got[1]["error"], "invalid JSON");
    }

    #[test]
    fn every_timestamp_format_and_key() {
        let cases = [
            (
                TimestampFormat::Rfc3339,
                serde_json::json!("2023-11-14T22:13:20.123Z"),
            ),
            (
                TimestampFormat::Rfc3339Us,
                serde_json::json!("2023-11-14T22:13:20.123456Z"),
            ),
            (TimestampFormat::Unix, serde_json::json!(1_700_000_000u64)),
            (
                TimestampFormat::UnixMs,
                serde_json::json!(1_700_000_000_123u64),
            ),
            (
                TimestampFormat::UnixUs,
                serde_json::json!(1_700_000_000_123_456u64),
            ),
            (
                TimestampFormat::UnixNs,
                serde_json::json!(1_700_000_000_123_456_789u64),
            ),
        ];
        for (format, want) in cases {
            let shape = Shape {
                timestamp_format: format,
                timestamp_key: "@timestamp".into(),
                message_key: "msg\"x".into(),
                ..Shape::default()
            };
            let got = shaped(&shape, &["line"]);
            assert_eq!(
                got[0],
                serde_json::json!({"@timestamp": want, "msg\"x": "line"}),
                "{format:?}"
            );
        }
        let none = Shape {
            timestamp_format: TimestampFormat::None,
            ..Shape::default()
        };
        assert_eq!(
            shaped(&none, &["line"])[0],
            serde_json::json!({"message": "line"})
        );
        let none_ndjson = Shape {
            timestamp_format: TimestampFormat::None,
            ..ndjson(&[])
        };
        assert_eq!(
            shaped(&none_ndjson, &["{\"a\":1}"])[0],
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn members_are_separated_by_one_comma_whatever_comes_first() {
        // Without a timestamp, an empty object leaves the fields first.
        let shape = Shape {
            timestamp_format: TimestampFormat::None,
            ..ndjson(&[("a", "1"), ("b", "2")])
        };
        assert_eq!(
            shape_texts(&shape, &["{}", "{\"x\":0}"]),
            [r#"{"a":"1","b":"2"}"#, r#"{"x":0,"a":"1","b":"2"}"#]
        );
    }

    #[test]
    fn the_timestamp_is_rebuilt_only_when_its_unit_changes() {
        let shape = Shape {
            timestamp_format: TimestampFormat::Unix,
            ..Shape::default()
        };
        let mut enc = Encoder::new(Format::Json, &shape, Framing::Lines);
        enc.set_time(UNIX_EPOCH + Duration::from_millis(5_100));
        let first = enc.head.clone();
        enc.set_time(UNIX_EPOCH + Duration::from_millis(5_900));
        assert_eq!(enc.head, first, "same second");
        enc.set_time(UNIX_EPOCH + Duration::from_millis(6_000));
        assert_ne!(enc.head, first);
    }

    #[test]
    fn spliced_frames_hold_what_dry_run_prints() {
        let shape = ndjson(&[("host", "web-1")]);
        let lines: [&[u8]; 4] = [br#"{"a":1}"#, b"{}", b"[1]", br#"{"host":"x","long":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}"#];
        for line in lines {
            let mut framed = Encoder::new(
                Format::Json,
                &shape,
                Framing::WebSocket(Box::new(Masks::new())),
            );
            let mut plain = Encoder::new(Format::Json, &shape, Framing::Lines);
            framed.set_time(UNIX_EPOCH);
            plain.set_time(UNIX_EPOCH);
            let mut out = Vec::new();
            let len = framed.encode(line, false, &mut out).len;
            let mut expected = Vec::new();
            plain.encode(line, false, &mut expected);
            expected.pop();
            assert_eq!(len, expected.len());
            let header = crate::encode::frame::header_len(len);
            let key: [u8; 4] = out[header - 4..header].try_into().unwrap();
            let mut payload = out[header..].to_vec();
            crate::encode::frame::apply_mask(&mut payload, key);
            assert_eq!(payload, expected);
        }
    }

    #[test]
    fn sized_messages_read_back_as_written() {
        let shape = Shape::default();
        let mut sized = Encoder::new(Format::Raw, &shape, Framing::Sized);
        let mut out = Vec::new();
        for line in ["one", "", "caf\u{e9} \u{2028}", "x\"y"] {
            sized.encode(line.as_bytes(), false, &mut out);
        }
        let back: Vec<&[u8]> = Sized::messages(&out).collect();
        assert_eq!(
            back,
            [&b"one"[..], b"", "caf\u{e9} \u{2028}".as_bytes(), b"x\"y"]
        );
        let shape = Shape {
            input_format: InputFormat::Ndjson,
            ..Shape::default()
        };
        let mut json = Encoder::new(Format::Json, &shape, Framing::Sized);
        let mut out = Vec::new();
        let encoded = json.encode(br#"{"a":1}"#, false, &mut out);
        let back: Vec<&[u8]> = Sized::messages(&out).collect();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].len(), encoded.len);
        assert!(back[0].ends_with(br#""a":1}"#));
    }

    /// A shape with every provenance key, no timestamp, and one --field.
    fn provenance(input_format: InputFormat) -> Shape {
        Shape {
            timestamp_format: TimestampFormat::None,
            input_format,
            path_key: Some("log.file.path".into()),
            offset_key: Some("log.offset".into()),
            id_key: Some("id".into()),
            host: Some(("host.name".into(), "web-1".into())),
            fields: vec![("env".into(), "prod".into())],
            ..Shape::default()
        }
    }

    /// The messages of `lines`, each placed after the one before.
    fn placed(enc: &mut Encoder, framing_check: bool, lines: &[&str]) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut at = 0;
        for line in lines {
            let end = at + line.len() as u64 + 1;
            enc.set_place(at, end);
            enc.encode(line.as_bytes(), framing_check, &mut out);
            at = end;
        }
        let text = String::from_utf8(out).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn every_message_says_where_it_came_from_after_its_text_and_before_the_fields() {
        let shape = provenance(InputFormat::Text);
        let mut enc = Encoder::new(Format::Json, &shape, Framing::Lines);
        let head = b"one\ntwo \"quoted\"\n";
        enc.set_origin(Origin::File {
            path: "/var/log/a \"b\".log",
            ino: 9,
            generation: 0,
            head,
        });
        let got = placed(&mut enc, false, &["one", "two \"quoted\""]);
        let mut ids = Ids::default();
        ids.set(Origin::File {
            path: "",
            ino: 9,
            generation: 0,
            head,
        });
        let hex = |id: u128| format!("{id:032x}");
        assert_eq!(
            got,
            [
                serde_json::json!({"message": "one", "log.file.path": "/var/log/a \"b\".log",
                    "log.offset": 0, "id": hex(ids.id(0, 4)), "host.name": "web-1", "env": "prod"}),
                serde_json::json!({"message": "two \"quoted\"", "log.file.path": "/var/log/a \"b\".log",
                    "log.offset": 4, "id": hex(ids.id(4, 17)), "host.name": "web-1", "env": "prod"}),
            ]
        );
        // In that order, each once.
        let mut out = Vec::new();
        enc.set_place(0, 4);
        enc.encode(b"one", true, &mut out);
        let text = String::from_utf8(out).unwrap();
        let keys = [
            "\"message\"",
            "\"log.file.path\"",
            "\"log.offset\"",
            "\"id\"",
            "\"host.name\"",
            "\"env\"",
        ];
        let places: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(places.is_sorted(), "{text}");
        // A stream has no path; its ids come from its key.
        enc.set_origin(Origin::Stream { key: 5 });
        let got = placed(&mut enc, true, &["one"]);
        ids.set(Origin::Stream { key: 5 });
        assert_eq!(
            got,
            [
                serde_json::json!({"message": "one", "log.offset": 0, "id": hex(ids.id(0, 4)),
                "host.name": "web-1", "env": "prod"})
            ]
        );
        // Another file, set once per read: its own path and ids each time.
        for _ in 0..2 {
            let other = Origin::File {
                path: "/other.log",
                ino: 10,
                generation: 0,
                head,
            };
            enc.set_origin(other);
            ids.set(other);
            let got = placed(&mut enc, true, &["one"]);
            assert_eq!(got[0]["log.file.path"], "/other.log");
            assert_eq!(got[0]["id"], hex(ids.id(0, 4)));
        }
    }

    #[test]
    fn a_json_object_keeps_its_own_provenance_members() {
        let shape = provenance(InputFormat::Ndjson);
        let mut enc = Encoder::new(Format::Json, &shape, Framing::Lines);
        enc.set_origin(Origin::Stream { key: 5 });
        let own = r#"{"id":"mine","log.offset":-1,"host.name":"h","log.file.path":"p"}"#;
        let got = placed(&mut enc, false, &[own, "{}", "[1]"]);
        assert_eq!(got[0]["id"], "mine");
        assert_eq!(got[0]["log.offset"], -1);
        assert_eq!(got[0]["host.name"], "h");
        assert_eq!(got[0]["log.file.path"], "p");
        assert_eq!(got[0].as_object().unwrap().len(), 5, "{:?}", got[0]);
        // Without members of its own, and without a path (a stream).
        assert_eq!(got[1]["log.offset"], own.len() + 1);
        assert_eq!(got[1]["id"].as_str().unwrap().len(), 32);
        assert_eq!(got[1].as_object().unwrap().len(), 4, "{:?}", got[1]);
        assert!(got[1].get("log.file.path").is_none());
        // A line that is no object is sent as text, with every member.
        assert_eq!(got[2]["log.offset"], own.len() + 4);
        assert_eq!(got[2]["message"], "[1]");
        assert!(got[2]["error"].is_string());
    }
}
