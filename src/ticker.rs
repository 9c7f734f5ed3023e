//! A thread body that runs `tick` every `interval` until `stop` is dropped.
//! Used by the ping thread and the periodic statistics line.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

pub fn every(interval: Duration, stop: &Receiver<()>, mut tick: impl FnMut()) {
    let mut next = Instant::now() + interval;
    loop {
        match stop.recv_deadline(next) {
            Err(RecvTimeoutError::Timeout) => {
                tick();
                // Fixed rate, but never a burst of ticks after a stall.
                next = (next + interval).max(Instant::now());
            }
            // Nothing is ever sent: any other outcome means stop.
            _ => return,
        }
    }
}
