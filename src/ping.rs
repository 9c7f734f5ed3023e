//! The ping thread: keeps idle connections alive by telling each worker,
//! every --ping-interval, to send a Ping. It never touches a socket; each
//! socket has one owner, its worker. Ticks do not pile up: a worker that is
//! busy gets at most one pending tick.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::ticker;

pub fn run(interval: Duration, workers: &[Sender<()>], stop: &Receiver<()>) {
    ticker::every(interval, stop, || {
        for worker in workers {
            let _ = worker.try_send(());
        }
    });
}
