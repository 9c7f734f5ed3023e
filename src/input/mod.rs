//! Reading input: files and stdin in order, split into lines, encoded.
//!
//! The reader runs on its own thread, which owns every input handle. It reads
//! into a fixed buffer, splits lines with a size cap (`LineSplitter`, a pure
//! state machine) and sends the framed messages of each `read` as one `Chunk`
//! (one buffer, frames back to back), so the channel is crossed once per
//! read, not once per line. A line is never held beyond `max_len` (+1 for a
//! possible `\r`) bytes: past that it is skipped as it streams by, whatever
//! its length.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use bytes::Bytes;
use crossbeam_channel::Sender;

use crate::config::Input;
use crate::encode::Encoder;
use crate::messages::{self, io_reason};
use crate::shutdown::Shutdown;
use crate::stats::Stats;
use crate::units::{Chunk, Mark};

mod split;

use split::{LineSplitter, Piece};

const READ_BUFFER: usize = 64 * 1024;

/// Starts the reader thread. It ends at the end of the last input, when the
/// receiver is gone, or when a shutdown has begun; dropping `tx` tells the
/// batcher that input is over.
pub fn spawn(
    inputs: Vec<Input>,
    max_len: usize,
    encoder: Encoder,
    tx: Sender<Chunk>,
    shutdown: Arc<Shutdown>,
    stats: Arc<Stats>,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new().name("reader".into()).spawn(move || {
        let mut reader = Reader {
            splitter: LineSplitter::new(max_len),
            encoder,
            buffer: vec![0; READ_BUFFER],
            recycler: Recycler::default(),
            tx,
            shutdown,
            warned_oversize: false,
            max_len,
        };
        for input in &inputs {
            let result = match input {
                Input::Stdin => reader.read_all(io::stdin().lock()),
                Input::File(path) => File::open(path).and_then(|file| reader.read_all(file)),
            };
            match result {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return,
                Err(err) => {
                    messages::error!("{}: {}", input.name().display(), io_reason(&err));
                    stats.input_error();
                }
            }
        }
    })
}

enum Flow {
    Continue,
    Stop,
}

struct Reader {
    splitter: LineSplitter,
    encoder: Encoder,
    buffer: Vec<u8>,
    recycler: Recycler,
    tx: Sender<Chunk>,
    shutdown: Arc<Shutdown>,
    warned_oversize: bool,
    max_len: usize,
}

impl Reader {
    fn read_all(&mut self, mut input: impl Read) -> io::Result<Flow> {
        // Whatever happens to this input, a partial line must not be glued
        // to the first line of the next one.
        let result = self.read_until_end(&mut input);
        let mut batch = Pending::default();
        let encoder = &mut self.encoder;
        self.splitter.finish(|piece| batch.add(piece, encoder));
        match self.send(batch) {
            Flow::Stop => Ok(Flow::Stop),
            Flow::Continue => result,
        }
    }

    fn read_until_end(&mut self, input: &mut impl Read) -> io::Result<Flow> {
        loop {
            if self.shutdown.is_stopping() {
                return Ok(Flow::Stop);
            }
            let n = match input.read(&mut self.buffer) {
                Ok(0) => return Ok(Flow::Continue),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.encoder.set_time(SystemTime::now());
            let mut batch = Pending::with_capacity(n, &mut self.recycler);
            let encoder = &mut self.encoder;
            self.splitter
                .feed(&self.buffer[..n], |piece| batch.add(piece, encoder));
            if let Flow::Stop = self.send(batch) {
                return Ok(Flow::Stop);
            }
        }
    }

    fn send(&mut self, pending: Pending) -> Flow {
        if pending.chunk.marks.is_empty() && pending.chunk.oversize == 0 {
            return Flow::Continue;
        }
        if pending.chunk.oversize > 0 && !std::mem::replace(&mut self.warned_oversize, true) {
            messages::notice!(
                "dropping lines longer than --max-len ({} bytes); the summary counts them",
                self.max_len
            );
        }
        let chunk = pending.finish();
        self.recycler.keep(&chunk.frames);
        match self.tx.send(chunk) {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }
}

/// Messages of one read, framed back to back into one buffer so that the
/// whole read costs one allocation, and the worker one write.
#[derive(Default)]
struct Pending {
    frames: Vec<u8>,
    text: usize,
    chunk: Chunk,
}

impl Pending {
    /// Room for the frames of `input` bytes of typical lines, so that the
    /// buffer is rarely grown (and copied) while it fills.
    fn with_capacity(input: usize, recycler: &mut Recycler) -> Pending {
        let mut pending = Pending {
            frames: recycler.take(input + input / 2 + 256),
            ..Pending::default()
        };
        pending.chunk.marks.reserve(input / 64 + 1);
        pending
    }

    fn add(&mut self, piece: Piece<'_>, encoder: &mut Encoder) {
        match piece {
            Piece::Oversize => self.chunk.oversize += 1,
            Piece::Line(line) => {
                let encoded = encoder.encode(line, &mut self.frames);
                self.chunk.invalid_utf8 += u64::from(encoded.lossy);
                self.text += encoded.len;
                self.chunk.marks.push(Mark {
                    frame_end: self.frames.len(),
                    text_end: self.text,
                });
            }
        }
    }

    fn finish(self) -> Chunk {
        Chunk {
            frames: Bytes::from(self.frames),
            ..self.chunk
        }
    }
}

/// Chunk buffers that may be written into again once every slice of them
/// is gone. A fresh allocation per read cost a page fault and a zeroed page
/// for every 4 KiB framed, because the allocator hands freed buffers of this
/// size back to the kernel.
#[derive(Default)]
struct Recycler {
    /// The buffers of the last chunks sent, oldest first.
    recent: VecDeque<Bytes>,
}

/// Chunks remembered: more than the pipeline usually holds (four waiting
/// for the batcher, a few batches queued or unconfirmed), so that the oldest
/// is usually free again by the time it is looked at.
const RECYCLED: usize = 16;

impl Recycler {
    /// The oldest buffer if nothing uses it any more, else a new one.
    fn take(&mut self, capacity: usize) -> Vec<u8> {
        if self.recent.front().is_some_and(Bytes::is_unique) {
            let oldest = self.recent.pop_front().expect("checked");
            if let Ok(mut buffer) = oldest.try_into_mut() {
                buffer.clear();
                let buffer = Vec::from(buffer);
                if buffer.capacity() >= capacity {
                    return buffer;
                }
            }
        }
        Vec::with_capacity(capacity)
    }

    fn keep(&mut self, frames: &Bytes) {
        if frames.is_empty() {
            return;
        }
        if self.recent.len() == RECYCLED {
            self.recent.pop_front();
        }
        self.recent.push_back(frames.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Framing;

    #[test]
    fn a_buffer_comes_back_only_once_every_slice_of_it_is_gone() {
        let mut recycler = Recycler::default();
        let mut buffer = recycler.take(100);
        buffer.extend_from_slice(b"frames");
        let address = buffer.as_ptr();
        let frames = Bytes::from(buffer);
        recycler.keep(&frames);
        let slice = frames.slice(1..3);
        drop(frames);
        let fresh = recycler.take(100);
        assert_ne!(fresh.as_ptr(), address, "a slice is still out");
        drop(slice);
        let again = recycler.take(100);
        assert_eq!((again.as_ptr(), again.len()), (address, 0));
    }

    #[test]
    fn a_chunk_is_one_buffer_with_a_mark_after_each_message() {
        let mut encoder = Encoder::new(crate::config::Format::Raw, &[], Framing::Lines);
        let mut pending = Pending::default();
        pending.add(Piece::Line(b"one"), &mut encoder);
        pending.add(Piece::Oversize, &mut encoder);
        pending.add(Piece::Line(b"t\xffo"), &mut encoder);
        let chunk = pending.finish();
        assert_eq!(&chunk.frames[..], "one\nt\u{fffd}o\n".as_bytes());
        let marks: Vec<(usize, usize)> = chunk
            .marks
            .iter()
            .map(|m| (m.frame_end, m.text_end))
            .collect();
        assert_eq!(marks, [(4, 3), (10, 8)]);
        assert_eq!((chunk.oversize, chunk.invalid_utf8), (1, 1));
    }
}
