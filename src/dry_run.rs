//! --dry-run: the messages that would be sent, written to stdout instead,
//! one per line, by a single thread in the workers' place.
//!
//! Everything before it (reading, dropping, encoding, batching) runs exactly
//! as usual, so a pipeline can be tested without a server. A message counts
//! as sent once written. A closed stdout (`wsship --dry-run | head`) ends the
//! run quietly: the rest is counted as failed.

use std::io::{self, BufWriter, Write};

use crossbeam_channel::Receiver;

use crate::deliver::Tally;
use crate::messages::{self, io_reason};
use crate::shutdown::Shutdown;
use crate::units::Batch;

pub fn run(batches: &Receiver<Batch>, tally: Tally<'_>, shutdown: &Shutdown) {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    for batch in batches {
        if shutdown.expired() {
            tally.failed(std::iter::once(&batch));
            continue;
        }
        match write_batch(&mut out, &batch) {
            Ok(()) => tally.sent(0, std::iter::once(&batch)),
            Err(err) => {
                tally.failed(std::iter::once(&batch));
                if shutdown.abort() && err.kind() != io::ErrorKind::BrokenPipe {
                    messages::error!("stdout: {}", io_reason(&err));
                }
            }
        }
    }
}

/// The reader laid the messages out for this: each followed by a newline.
fn write_batch(out: &mut impl Write, batch: &Batch) -> io::Result<()> {
    for part in batch.parts() {
        out.write_all(part)?;
    }
    out.flush()
}
