//! Delays between retries: exponential from --backoff-init to --backoff-max,
//! with "equal jitter" (half the delay fixed, half random) so that workers
//! and wsship instances restarted together do not reconnect in lockstep, while
//! each delay is still at least half the nominal one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

pub struct Backoff {
    init: Duration,
    max: Duration,
    next: Duration,
    rng: u64,
}

impl Backoff {
    pub fn new(init: Duration, max: Duration) -> Backoff {
        // RandomState is seeded per process and per instance: enough
        // randomness for jitter without a crate.
        let seed = RandomState::new().build_hasher().finish() | 1;
        Backoff {
            init,
            max,
            next: init,
            rng: seed,
        }
    }

    /// The delay before the next attempt; each call doubles the next one.
    pub fn next_delay(&mut self) -> Duration {
        let jitter = self.random_fraction();
        self.delay_with(jitter)
    }

    /// As `next_delay`, with the random part given (0.0 to 1.0).
    fn delay_with(&mut self, jitter: f64) -> Duration {
        let nominal = self.next;
        self.next = (nominal * 2).min(self.max);
        nominal / 2 + (nominal / 2).mul_f64(jitter)
    }

    /// After a success the next failure starts again from --backoff-init.
    pub fn reset(&mut self) {
        self.next = self.init;
    }

    fn random_fraction(&mut self) -> f64 {
        // xorshift64: plenty for spreading reconnects.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let nominal: Vec<u64> = (0..5).map(|_| b.delay_with(1.0).as_secs()).collect();
        assert_eq!(nominal, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.delay_with(0.0), Duration::from_millis(500));
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        let mut b = Backoff::new(Duration::from_secs(8), Duration::from_secs(8));
        for _ in 0..1000 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }

    #[test]
    fn jitter_spreads_evenly() {
        // Fixed seeds, for a test that cannot flake: each tenth of the range
        // gets its share of 10,000 draws, give or take a fifth, and draws
        // do not repeat (a broken xorshift falls into a short cycle or a
        // narrow band).
        for seed in [1, 0x9e37_79b9_7f4a_7c15] {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
            b.rng = seed;
            let draws: Vec<f64> = (0..10_000).map(|_| b.random_fraction()).collect();
            let mut tenths = [0; 10];
            for &draw in &draws {
                assert!((0.0..1.0).contains(&draw), "{draw}");
                tenths[(draw * 10.0) as usize] += 1;
            }
            assert!(
                tenths.iter().all(|&n| (800..1200).contains(&n)),
                "{tenths:?}"
            );
            let distinct: std::collections::HashSet<u64> =
                draws.iter().map(|d| d.to_bits()).collect();
            assert_eq!(distinct.len(), draws.len());
        }
    }
}
