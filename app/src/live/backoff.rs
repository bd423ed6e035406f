//! Reconnection delays: exponential backoff with full jitter.
//!
//! Attempt `k` (0-based) waits a uniformly random time in
//! `[0, min(cap, base * 2^k)]`, so many clients that lost the same server do
//! not come back in lock-step, and none retries in a tight loop: the delay
//! is never below `floor`. The randomness comes from a [`Jitter`] the
//! caller owns and seeds, so a test can replay the same delays.

use std::time::Duration;

/// The shape of the reconnection delays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first attempt's delay.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
    /// No delay is shorter than this, whatever the jitter.
    pub floor: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            floor: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0-based), given `unit`, a random
    /// number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(unit).max(self.floor.min(ceiling))
    }

    /// The largest delay attempt `attempt` can get.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// A seeded source of the random numbers behind the jitter (SplitMix64:
/// a few instructions, good enough to spread clients apart, and the same
/// sequence for the same seed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A source that starts from `seed` (the page seeds it from
    /// `Math.random`, tests from a constant).
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next number, uniform in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits: every value is exact in an f64 and below 1.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_until_the_cap() {
        let backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..7).map(|k| backoff.ceiling(k).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff.ceiling(1_000), Duration::from_secs(30));
    }

    #[test]
    fn delays_stay_within_floor_and_ceiling() {
        let backoff = Backoff::default();
        for attempt in 0..40 {
            for unit in [0.0, 0.001, 0.25, 0.5, 0.999_999, 1.0, f64::NAN, -1.0, 7.0] {
                let delay = backoff.delay(attempt, unit);
                assert!(
                    delay >= backoff.floor,
                    "attempt {attempt} unit {unit}: {delay:?}"
                );
                assert!(
                    delay <= backoff.ceiling(attempt),
                    "attempt {attempt} unit {unit}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_delays_over_the_whole_range() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff.delay(3, 0.0), backoff.floor);
    }

    #[test]
    fn jitter_repeats_for_a_seed_and_stays_below_one() {
        let (mut a, mut b) = (Jitter::new(7), Jitter::new(7));
        let units: Vec<f64> = (0..1_000).map(|_| a.next_unit()).collect();
        assert!(units.iter().all(|&u| (0.0..1.0).contains(&u)));
        assert_eq!(units, (0..1_000).map(|_| b.next_unit()).collect::<Vec<_>>());
        let low = units.iter().filter(|&&u| u < 0.5).count();
        assert!((400..600).contains(&low), "{low} of 1000 below one half");
        assert_ne!(Jitter::new(8).next_unit(), units[0]);
    }
}
