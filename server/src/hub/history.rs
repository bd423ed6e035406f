//! One channel's retained events: a ring bounded by count and by age.
//!
//! The ring remembers the newest position it has evicted, so it can tell a
//! client resuming from an old position whether every later event is still
//! here (resume) or some are gone (the client needs a reset).

use std::{collections::VecDeque, sync::Arc, time::Duration};

use super::Event;

/// A channel's recent events, oldest first.
#[derive(Debug)]
pub struct HistoryRing {
    events: VecDeque<Arc<Event>>,
    /// Sequence number of the newest event evicted from this ring.
    evicted_through: Option<u64>,
    max_events: usize,
    max_age_ms: i64,
}

/// Some events after the asked position are no longer retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap;

impl HistoryRing {
    /// An empty ring keeping at most `max_events` events, none older than `max_age`.
    pub fn new(max_events: usize, max_age: Duration) -> Self {
        Self {
            events: VecDeque::new(),
            evicted_through: None,
            max_events: max_events.max(1),
            max_age_ms: i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Appends an event (positions only grow) and evicts what no longer fits.
    pub fn push(&mut self, event: Arc<Event>) {
        let now = event.ts;
        self.events.push_back(event);
        while self.events.len() > self.max_events {
            self.evict_front();
        }
        self.expire(now);
    }

    /// Evicts events older than the maximum age at time `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        let oldest_allowed = now_ms.saturating_sub(self.max_age_ms);
        // The newest event stays even when old: it is the channel's current
        // state, which snapshots need.
        while self.events.len() > 1 && self.events.front().is_some_and(|e| e.ts < oldest_allowed) {
            self.evict_front();
        }
    }

    fn evict_front(&mut self) {
        if let Some(evicted) = self.events.pop_front() {
            self.evicted_through = Some(evicted.position.seq);
        }
    }

    /// Every retained event after sequence number `seq`, or [`Gap`] when
    /// some event after `seq` has been evicted.
    pub fn after(&self, seq: u64) -> Result<impl Iterator<Item = &Arc<Event>>, Gap> {
        if self.evicted_through.is_some_and(|evicted| evicted > seq) {
            return Err(Gap);
        }
        let start = self.events.partition_point(|e| e.position.seq <= seq);
        Ok(self.events.range(start..))
    }

    /// The newest event, the channel's current state.
    pub fn latest(&self) -> Option<&Arc<Event>> {
        self.events.back()
    }

    /// All retained events, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Event>> {
        self.events.iter()
    }

    /// How many events are retained.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when nothing is retained.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Event;
    use app::protocol::Position;

    fn event(seq: u64, ts: i64) -> Arc<Event> {
        Arc::new(
            Event::new(
                Position::new(1, seq),
                "c".into(),
                "message".into(),
                None,
                ts,
                &serde_json::json!(seq),
            )
            .unwrap(),
        )
    }

    fn seqs<'a>(events: impl Iterator<Item = &'a Arc<Event>>) -> Vec<u64> {
        events.map(|e| e.position.seq).collect()
    }

    #[test]
    fn resume_inside_history_returns_every_later_event() {
        let mut ring = HistoryRing::new(10, Duration::from_secs(60));
        for seq in [2, 4, 6, 8] {
            ring.push(event(seq, 0));
        }
        assert_eq!(seqs(ring.after(0).unwrap()), [2, 4, 6, 8]);
        assert_eq!(seqs(ring.after(4).unwrap()), [6, 8]);
        assert_eq!(seqs(ring.after(5).unwrap()), [6, 8]);
        assert_eq!(seqs(ring.after(8).unwrap()), Vec::<u64>::new());
    }

    #[test]
    fn resume_from_before_an_evicted_event_is_a_gap() {
        let mut ring = HistoryRing::new(3, Duration::from_secs(60));
        for seq in 1..=5 {
            ring.push(event(seq, 0));
        }
        assert_eq!(seqs(ring.iter()), [3, 4, 5]);
        assert_eq!(ring.after(1).err(), Some(Gap));
        assert_eq!(seqs(ring.after(2).unwrap()), [3, 4, 5]);
    }

    #[test]
    fn old_events_expire_but_the_latest_stays() {
        let mut ring = HistoryRing::new(100, Duration::from_millis(1_000));
        ring.push(event(1, 0));
        ring.push(event(2, 700));
        ring.push(event(3, 1_600));
        assert_eq!(seqs(ring.iter()), [2, 3]);
        ring.expire(10_000);
        assert_eq!(seqs(ring.iter()), [3]);
        assert_eq!(ring.after(1).err(), Some(Gap));
    }
}
