//! How a run ends early: a signal (drain, then exit 130) or a fatal error.
//!
//! A first SIGINT/SIGTERM (or SIGHUP) stops the reader and gives the workers until
//! `--drain-timeout` to send what was already read; a second one exits at once.
//! A fatal error (a handshake no retry can fix) sets the deadline to now.
//! Sleepers wait on `wake`, a channel whose sender is dropped when shutdown
//! begins, so a 60 s backoff does not hold up a Ctrl-C; the reader, which
//! waits in poll(2) for its input and its deadlines together, watches a
//! pipe that becomes readable at the same moment.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Signal,
    Fatal,
}

pub struct Shutdown {
    stopping: AtomicBool,
    state: Mutex<State>,
    wake: Receiver<()>,
    /// Read end of a pipe that is written once, when shutdown begins, and
    /// never read: from then on poll(2) finds it readable.
    wake_pipe: File,
    drain: Duration,
}

struct State {
    cause: Option<Cause>,
    deadline: Option<Instant>,
    wake_tx: Option<Sender<()>>,
    wake_pipe_tx: Option<File>,
}

impl Shutdown {
    pub fn new(drain: Duration) -> std::io::Result<Arc<Shutdown>> {
        let (wake_tx, wake) = crossbeam_channel::bounded(0);
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two descriptors, which we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nothing else.
        let (pipe_rx, pipe_tx) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        Ok(Arc::new(Shutdown {
            stopping: AtomicBool::new(false),
            state: Mutex::new(State {
                cause: None,
                deadline: None,
                wake_tx: Some(wake_tx),
                wake_pipe_tx: Some(pipe_tx),
            }),
            wake,
            wake_pipe: pipe_rx,
            drain,
        }))
    }

    /// Routes SIGINT, SIGTERM and SIGHUP here. ctrlc runs the handler on its own
    /// thread, not in signal context, so it may lock and allocate.
    pub fn handle_signals(self: &Arc<Self>) -> Result<(), ctrlc::Error> {
        let this = Arc::clone(self);
        ctrlc::set_handler(move || {
            if this.begin(Cause::Signal, this.drain).is_some() {
                // The user asked twice: stop waiting for the network.
                std::process::exit(130);
            }
        })
    }

    /// Ends the run now: nothing more is sent. Returns true for the first
    /// caller, so that one error is reported once, not once per worker.
    pub fn abort(&self) -> bool {
        self.begin(Cause::Fatal, Duration::ZERO).is_none()
    }

    /// Starts the shutdown; returns the earlier cause if one was already set.
    fn begin(&self, cause: Cause, drain: Duration) -> Option<Cause> {
        let mut state = self.lock();
        let deadline = Instant::now() + drain;
        state.deadline = Some(state.deadline.map_or(deadline, |d| d.min(deadline)));
        state.wake_tx = None;
        if let Some(mut pipe) = state.wake_pipe_tx.take() {
            let _ = pipe.write_all(b"!");
        }
        self.stopping.store(true, Ordering::Release);
        let earlier = state.cause;
        state.cause = earlier.or(Some(cause));
        earlier
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub fn cause(&self) -> Option<Cause> {
        self.lock().cause
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.lock().deadline
    }

    /// True once the time to drain is over: from then on nothing is sent.
    pub fn expired(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// Disconnected (ready at once) from the moment a shutdown begins.
    pub fn wake(&self) -> &Receiver<()> {
        &self.wake
    }

    /// Readable (for poll(2)) from the moment a shutdown begins.
    pub fn wake_fd(&self) -> RawFd {
        self.wake_pipe.as_raw_fd()
    }

    /// Waits `duration`, or less when a shutdown deadline comes first.
    pub fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        if !self.is_stopping() {
            // Returns on timeout, or at once when shutdown drops the sender.
            let _ = self.wake.recv_timeout(duration);
        }
        let until = self.deadline().map_or(until, |d| d.min(until));
        thread::sleep(until.saturating_duration_since(Instant::now()));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not turn shutdown into a second panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_wakes_sleepers_and_expires_at_once() {
        let shutdown = Shutdown::new(Duration::from_secs(5)).unwrap();
        assert!(!shutdown.is_stopping() && !shutdown.expired());
        assert!(!readable(shutdown.wake_fd()));
        assert!(shutdown.abort());
        assert!(!shutdown.abort());
        assert!(readable(shutdown.wake_fd()));
        assert!(shutdown.is_stopping() && shutdown.expired());
        assert!(
            shutdown
                .wake()
                .recv_timeout(Duration::from_secs(5))
                .is_err()
        );
        let started = Instant::now();
        shutdown.sleep(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(shutdown.cause(), Some(Cause::Fatal));
    }

    #[test]
    fn first_cause_is_kept_and_deadline_only_shrinks() {
        let shutdown = Shutdown::new(Duration::from_secs(5)).unwrap();
        assert_eq!(shutdown.begin(Cause::Signal, Duration::from_secs(5)), None);
        assert!(!shutdown.expired());
        assert_eq!(
            shutdown.begin(Cause::Fatal, Duration::ZERO),
            Some(Cause::Signal)
        );
        assert!(shutdown.expired());
        assert_eq!(shutdown.cause(), Some(Cause::Signal));
    }

    fn readable(fd: RawFd) -> bool {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; no wait.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }
}
