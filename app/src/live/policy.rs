//! Which transport the client uses, and when it falls back or upgrades.
//!
//! The preferred transport is SSE (WebSocket when the page needs to send).
//! When it fails [`FALLBACK_AFTER`] times in a row without delivering
//! anything (it cannot open, or a buffering proxy holds its events back so
//! the watchdog fires) the client falls back to long polling; it falls back
//! at once where EventSource does not exist. On the fallback it probes the
//! preferred transport every [`PROBE_EVERY_MS`] and upgrades when the probe
//! delivers. A transport pinned by the user is never changed.

use crate::live::state::Transport;

/// Failures without data before falling back to polling.
pub const FALLBACK_AFTER: u32 = 3;
/// How often a client on the fallback probes the preferred transport.
pub const PROBE_EVERY_MS: u64 = 30_000;

/// The transport decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportPolicy {
    pinned: Option<Transport>,
    preferred: Transport,
    failures_without_data: u32,
    fallback: bool,
}

impl TransportPolicy {
    /// `pinned`: the user's choice, kept whatever happens. `preferred`: the
    /// transport to use when it works. `available`: whether the preferred
    /// transport exists in this browser.
    pub fn new(pinned: Option<Transport>, preferred: Transport, available: bool) -> Self {
        Self {
            pinned,
            preferred,
            failures_without_data: 0,
            fallback: !available,
        }
    }

    /// The transport to connect with now.
    pub fn current(&self) -> Transport {
        match (self.pinned, self.fallback) {
            (Some(pinned), _) => pinned,
            (None, true) => Transport::Poll,
            (None, false) => self.preferred,
        }
    }

    /// True while on the fallback (and so probing now and then).
    pub fn on_fallback(&self) -> bool {
        self.pinned.is_none() && self.fallback && self.preferred != Transport::Poll
    }

    /// A connection on `transport` delivered data: it works.
    pub fn delivered(&mut self, transport: Transport) {
        if transport == self.preferred {
            self.failures_without_data = 0;
            self.fallback = false;
        }
    }

    /// A connection on `transport` ended; `delivered` says whether it
    /// delivered anything first.
    pub fn failed(&mut self, transport: Transport, delivered: bool) {
        if transport != self.preferred || self.pinned.is_some() {
            return;
        }
        if delivered {
            self.failures_without_data = 0;
        } else {
            self.failures_without_data = self.failures_without_data.saturating_add(1);
            if self.failures_without_data >= FALLBACK_AFTER {
                self.fallback = true;
            }
        }
    }

    /// The transport to probe while on the fallback.
    pub fn probe(&self) -> Option<Transport> {
        self.on_fallback().then_some(self.preferred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_without_data_fall_back_to_polling() {
        let mut policy = TransportPolicy::new(None, Transport::Sse, true);
        for _ in 0..FALLBACK_AFTER - 1 {
            policy.failed(Transport::Sse, false);
            assert_eq!(policy.current(), Transport::Sse);
        }
        policy.failed(Transport::Sse, false);
        assert_eq!(policy.current(), Transport::Poll);
        assert_eq!(policy.probe(), Some(Transport::Sse));
        policy.delivered(Transport::Sse);
        assert_eq!(
            policy.current(),
            Transport::Sse,
            "a probe that delivers upgrades"
        );
        assert_eq!(policy.probe(), None);
    }

    #[test]
    fn a_failure_after_data_does_not_count_toward_the_fallback() {
        let mut policy = TransportPolicy::new(None, Transport::Sse, true);
        for _ in 0..10 {
            policy.failed(Transport::Sse, true);
        }
        assert_eq!(policy.current(), Transport::Sse);
    }

    #[test]
    fn a_missing_event_source_starts_on_polling_and_a_pin_is_kept() {
        assert_eq!(
            TransportPolicy::new(None, Transport::Sse, false).current(),
            Transport::Poll
        );
        let mut pinned = TransportPolicy::new(Some(Transport::Ws), Transport::Sse, true);
        for _ in 0..10 {
            pinned.failed(Transport::Ws, false);
        }
        assert_eq!(pinned.current(), Transport::Ws);
        assert_eq!(pinned.probe(), None);
    }
}
