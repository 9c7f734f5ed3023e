//! Grouping messages into batches by count or by age.
//!
//! Pure: the caller passes the time in, so the rules are tested without
//! threads or sleeps. A batch closes when it holds --batch-size messages or
//! when --flush-interval has passed since its first message.

use std::time::{Duration, Instant};

use tungstenite::Utf8Bytes;

#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<Utf8Bytes>,
}

impl Batch {
    pub fn lines(&self) -> usize {
        self.messages.len()
    }

    pub fn bytes(&self) -> usize {
        self.messages.iter().map(|m| m.len()).sum()
    }
}

pub struct Batcher {
    size: usize,
    interval: Duration,
    pending: Vec<Utf8Bytes>,
    opened: Option<Instant>,
}

impl Batcher {
    pub fn new(size: usize, interval: Duration) -> Batcher {
        Batcher {
            size,
            interval,
            pending: Vec::new(),
            opened: None,
        }
    }

    /// Adds a message read at `now`; returns the batch it completes, if any.
    pub fn push(&mut self, message: Utf8Bytes, now: Instant) -> Option<Batch> {
        self.opened.get_or_insert(now);
        self.pending.push(message);
        (self.pending.len() >= self.size)
            .then(|| self.take())
            .flatten()
    }

    /// When the pending batch must go out even if it is not full.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|opened| opened + self.interval)
    }

    /// Closes the pending batch, if there is one.
    pub fn take(&mut self) -> Option<Batch> {
        self.opened = None;
        if self.pending.is_empty() {
            return None;
        }
        let capacity = self.size.min(4096);
        let messages = std::mem::replace(&mut self.pending, Vec::with_capacity(capacity));
        Some(Batch { messages })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_on_count() {
        let now = Instant::now();
        let mut b = Batcher::new(2, Duration::from_secs(1));
        assert!(b.push("a".into(), now).is_none());
        let batch = b.push("b".into(), now).unwrap();
        assert_eq!(batch.lines(), 2);
        assert_eq!(batch.bytes(), 2);
        assert_eq!(b.deadline(), None);
        assert!(b.take().is_none());
    }

    #[test]
    fn deadline_counts_from_the_first_message() {
        let t0 = Instant::now();
        let mut b = Batcher::new(10, Duration::from_millis(100));
        assert_eq!(b.deadline(), None);
        b.push("a".into(), t0);
        b.push("b".into(), t0 + Duration::from_millis(50));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(100)));
        assert_eq!(b.take().unwrap().lines(), 2);
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn batch_size_one_sends_every_message() {
        let mut b = Batcher::new(1, Duration::from_secs(1));
        assert_eq!(b.push("a".into(), Instant::now()).unwrap().lines(), 1);
    }
}
