//! What the pipeline is doing now, beside what it has done (`stats`): which
//! connections are open, how long confirmations take, how much is waiting
//! where. Written by the workers and the reader as they go, with relaxed
//! atomics (a reading may mix two moments, never tear one value), and read
//! by --metrics-listen and --metrics-file.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

/// Upper bounds of the confirmation-time histogram's buckets, in seconds:
/// from a loopback Pong (well under a millisecond) to a server that takes
/// its --ping-timeout.
pub const CONFIRM_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Gauges {
    workers: Vec<Link>,
    servers: Vec<Server>,
    /// When the reader began waiting for a worker to take a batch (ms
    /// since the start); 0 while it is not waiting.
    reader_waiting_since: AtomicU64,
    started: Option<Instant>,
}

/// One worker's connection.
#[derive(Debug, Default)]
struct Link {
    server: AtomicUsize,
    open: AtomicBool,
    /// Batches written and not yet confirmed.
    in_flight: AtomicU64,
}

/// One server's confirmations.
#[derive(Debug, Default)]
struct Server {
    /// Counts per bucket (not cumulative), and past the last.
    buckets: [AtomicU64; CONFIRM_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    /// When the last batch was confirmed, in ms since the Unix epoch; 0
    /// before the first.
    last_confirm_ms: AtomicU64,
}

/// A histogram as read: cumulative counts per bucket, as Prometheus has
/// them, the sum in seconds and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub cumulative: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Gauges {
    pub fn new(servers: usize, workers: usize) -> Gauges {
        Gauges {
            workers: (0..workers).map(|_| Link::default()).collect(),
            servers: (0..servers).map(|_| Server::default()).collect(),
            reader_waiting_since: AtomicU64::new(0),
            started: Some(Instant::now()),
        }
    }

    /// Worker `worker` has a connection open to `server`, or none.
    pub fn link(&self, worker: usize, server: usize, open: bool) {
        if let Some(link) = self.workers.get(worker) {
            link.server.store(server, Relaxed);
            link.open.store(open, Relaxed);
        }
    }

    pub fn in_flight(&self, worker: usize, batches: usize) {
        if let Some(link) = self.workers.get(worker) {
            link.in_flight.store(batches as u64, Relaxed);
        }
    }

    /// A write to `server` confirmed `took` after it was written.
    pub fn confirmed(&self, server: usize, took: Option<Duration>) {
        let Some(entry) = self.servers.get(server) else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        entry.last_confirm_ms.store(now.as_millis() as u64, Relaxed);
        if let Some(took) = took {
            let seconds = took.as_secs_f64();
            let bucket = CONFIRM_BUCKETS
                .iter()
                .position(|&bound| seconds <= bound)
                .unwrap_or(CONFIRM_BUCKETS.len());
            entry.buckets[bucket].fetch_add(1, Relaxed);
            entry.sum_micros.fetch_add(took.as_micros() as u64, Relaxed);
        }
    }

    /// The reader waits for a worker to take a batch (`true`), or has
    /// handed it over.
    pub fn reader_waiting(&self, waiting: bool) {
        let since = match (waiting, self.started) {
            (true, Some(started)) => started.elapsed().as_millis() as u64 + 1,
            _ => 0,
        };
        self.reader_waiting_since.store(since, Relaxed);
    }

    /// How long the reader has been waiting for a worker, if it is.
    pub fn reader_wait(&self) -> Option<Duration> {
        self.reader_wait_at(Instant::now())
    }

    fn reader_wait_at(&self, now: Instant) -> Option<Duration> {
        let since = self.reader_waiting_since.load(Relaxed);
        let started = self.started?;
        let now = now.saturating_duration_since(started).as_millis() as u64 + 1;
        (since > 0).then(|| Duration::from_millis(now.saturating_sub(since)))
    }

    /// Whether some worker has a connection open to `server`.
    pub fn connected(&self, server: usize) -> bool {
        self.workers
            .iter()
            .any(|link| link.open.load(Relaxed) && link.server.load(Relaxed) == server)
    }

    /// Batches written and not yet confirmed, on every connection.
    pub fn in_flight_total(&self) -> u64 {
        self.workers.iter().map(|l| l.in_flight.load(Relaxed)).sum()
    }

    /// When `server` last confirmed a batch, in seconds since the epoch.
    pub fn last_confirm(&self, server: usize) -> Option<f64> {
        let ms = self.servers.get(server)?.last_confirm_ms.load(Relaxed);
        (ms > 0).then(|| ms as f64 / 1000.0)
    }

    pub fn confirm_times(&self, server: usize) -> Histogram {
        let Some(entry) = self.servers.get(server) else {
            return Histogram {
                cumulative: vec![0; CONFIRM_BUCKETS.len() + 1],
                sum: 0.0,
                count: 0,
            };
        };
        let mut total = 0;
        let cumulative: Vec<u64> = entry
            .buckets
            .iter()
            .map(|count| {
                total += count.load(Relaxed);
                total
            })
            .collect();
        Histogram {
            count: total,
            cumulative,
            sum: entry.sum_micros.load(Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_fall_in_the_first_bucket_that_holds_them() {
        let gauges = Gauges::new(2, 1);
        assert_eq!(gauges.last_confirm(0), None);
        for ms in [0, 1, 3, 40, 40, 60_000] {
            gauges.confirmed(0, Some(Duration::from_millis(ms)));
        }
        gauges.confirmed(0, None);
        let times = gauges.confirm_times(0);
        assert_eq!(times.count, 6, "a write not timed is not counted");
        // <=0.5ms: 1; <=1ms: 2; <=5ms: 3; <=50ms: 5; past 30 s: 6.
        assert_eq!(times.cumulative, [1, 2, 2, 3, 3, 3, 5, 5, 5, 5, 5, 5, 6]);
        assert!((times.sum - 60.084).abs() < 1e-9, "{}", times.sum);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        let last = gauges.last_confirm(0).unwrap();
        assert!((now.as_secs_f64() - last).abs() < 60.0, "{last} seconds");
        assert_eq!(gauges.confirm_times(1).count, 0);
        assert_eq!(gauges.last_confirm(1), None);
    }

    #[test]
    fn a_server_is_connected_while_some_worker_holds_a_connection_to_it() {
        let gauges = Gauges::new(2, 2);
        assert!(!gauges.connected(0));
        gauges.link(0, 1, true);
        assert!(gauges.connected(1) && !gauges.connected(0));
        gauges.link(1, 1, true);
        gauges.link(0, 1, false);
        assert!(gauges.connected(1));
        gauges.link(1, 0, true);
        assert!(gauges.connected(0) && !gauges.connected(1));
        gauges.in_flight(0, 3);
        gauges.in_flight(1, 4);
        assert_eq!(gauges.in_flight_total(), 7);
    }

    #[test]
    fn the_reader_waits_from_when_it_began() {
        let gauges = Gauges::new(1, 1);
        assert_eq!(gauges.reader_wait(), None);
        gauges.reader_waiting(true);
        assert!(gauges.reader_wait().is_some());
        let since = gauges.reader_waiting_since.load(Relaxed);
        let began = gauges.started.unwrap() + Duration::from_millis(since - 1);
        let later = began + Duration::from_secs(5);
        assert_eq!(gauges.reader_wait_at(later), Some(Duration::from_secs(5)));
        assert_eq!(gauges.reader_wait_at(began), Some(Duration::ZERO));
        gauges.reader_waiting(false);
        assert_eq!(gauges.reader_wait(), None);
    }
}
