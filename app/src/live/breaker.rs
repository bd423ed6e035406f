//! A circuit breaker for the client's HTTP requests (polls, snapshots), so
//! a failing server is not hammered.
//!
//! Closed: requests go through; `threshold` failures in a row open it. Open:
//! requests are refused until `cool_down` has passed; then it is half-open
//! and lets one trial request through: success closes it, failure opens it
//! again for another cool-down.

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go through.
    Closed,
    /// Requests are refused until the given time (ms).
    Open {
        /// When the breaker becomes half-open.
        until_ms: u64,
    },
    /// One trial request is under way.
    HalfOpen,
}

/// The circuit breaker. Time is passed in (milliseconds) so the logic is
/// testable without a clock.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down_ms: u64,
    failures: u32,
    state: BreakerState,
}

impl CircuitBreaker {
    /// A closed breaker that opens after `threshold` consecutive failures
    /// and stays open for `cool_down_ms`.
    pub fn new(threshold: u32, cool_down_ms: u64) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down_ms,
            failures: 0,
            state: BreakerState::Closed,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a request may be made at `now_ms`; a `true` from an open
    /// breaker past its cool-down makes it half-open (one trial).
    pub fn allow(&mut self, now_ms: u64) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::HalfOpen => false,
            BreakerState::Open { until_ms } if now_ms >= until_ms => {
                self.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } => false,
        }
    }

    /// How long until a request may be tried (0 when it may now).
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        match self.state {
            BreakerState::Open { until_ms } => until_ms.saturating_sub(now_ms),
            _ => 0,
        }
    }

    /// Records a successful request.
    pub fn success(&mut self) {
        self.failures = 0;
        self.state = BreakerState::Closed;
    }

    /// Records a failed request at `now_ms`.
    pub fn failure(&mut self, now_ms: u64) {
        self.failures = self.failures.saturating_add(1);
        if self.state == BreakerState::HalfOpen || self.failures >= self.threshold {
            self.state = BreakerState::Open {
                until_ms: now_ms + self.cool_down_ms,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_refuses_until_the_cool_down() {
        let mut breaker = CircuitBreaker::new(3, 1_000);
        for _ in 0..2 {
            assert!(breaker.allow(0));
            breaker.failure(0);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.failure(10);
        assert_eq!(breaker.state(), BreakerState::Open { until_ms: 1_010 });
        assert!(!breaker.allow(500));
        assert_eq!(breaker.wait_ms(500), 510);
    }

    #[test]
    fn half_open_allows_one_trial_that_decides() {
        let mut breaker = CircuitBreaker::new(1, 1_000);
        breaker.failure(0);
        assert!(breaker.allow(1_000), "cool-down over: one trial");
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(!breaker.allow(1_001), "only one trial at a time");
        breaker.failure(1_002);
        assert_eq!(breaker.state(), BreakerState::Open { until_ms: 2_002 });
        assert!(breaker.allow(2_002));
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow(2_003));
    }
}
