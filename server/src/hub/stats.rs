//! What the hub reports about itself: counters it keeps and levels read at
//! the time of a scrape. The HTTP edge renders them (`/metrics`); the hub
//! knows nothing of HTTP.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters the hub keeps. Monotonic; read with [`HubStats::read`].
#[derive(Debug, Default)]
pub struct HubStats {
    pub(super) published: AtomicU64,
    pub(super) coalesced: AtomicU64,
    pub(super) resets: AtomicU64,
    pub(super) lagged: AtomicU64,
    pub(super) evicted: AtomicU64,
    pub(super) channels_expired: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) snapshots: AtomicU64,
}

/// A reading of the hub's counters and levels.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HubReport {
    /// Events appended to the log.
    pub published: u64,
    /// Latest-value events dropped in favour of a newer value of their key.
    pub coalesced: u64,
    /// `reset` snapshots sent because a position could not be honoured.
    pub resets: u64,
    /// Subscribers that fell behind the retained history (each got a reset).
    pub lagged: u64,
    /// Events evicted from history (count, bytes or age bounds).
    pub evicted: u64,
    /// Idle channels removed.
    pub channels_expired: u64,
    /// Publishes refused for breaking a bound.
    pub refused: u64,
    /// Snapshots built (initial, requested or reset).
    pub snapshots: u64,
    /// Channels with retained events.
    pub channels: usize,
    /// Events retained.
    pub history_events: usize,
    /// Bytes retained.
    pub history_bytes: usize,
    /// The global byte budget of retained events.
    pub history_budget: usize,
    /// Live subscriptions.
    pub subscribers: usize,
}

impl HubStats {
    pub(super) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    /// The counters, with the levels left at zero.
    pub(super) fn read(&self) -> HubReport {
        HubReport {
            published: self.published.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            resets: self.resets.load(Relaxed),
            lagged: self.lagged.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            channels_expired: self.channels_expired.load(Relaxed),
            refused: self.refused.load(Relaxed),
            snapshots: self.snapshots.load(Relaxed),
            ..HubReport::default()
        }
    }
}
