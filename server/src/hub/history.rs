//! One channel's retained events: a ring bounded by count, by bytes and by
//! age.
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
    /// Bytes held by the retained events ([`Event::size`]).
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
    max_age_ms: i64,
}

/// What a change to a ring freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    /// Events evicted.
    pub events: usize,
    /// Their bytes.
    pub bytes: usize,
}

impl Freed {
    fn add(&mut self, bytes: usize) {
        self.events += 1;
        self.bytes += bytes;
    }
}

/// Some events after the asked position are no longer retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap;

impl HistoryRing {
    /// An empty ring keeping at most `max_events` events and `max_bytes`
    /// bytes of them, none older than `max_age`.
    pub fn new(max_events: usize, max_bytes: usize, max_age: Duration) -> Self {
        Self {
            events: VecDeque::new(),
            evicted_through: None,
            bytes: 0,
            max_events: max_events.max(1),
            max_bytes,
            max_age_ms: i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Appends an event (positions only grow) and evicts what no longer
    /// fits. The new event itself always stays: the hub refuses events
    /// larger than a ring's byte bound before they get here.
    pub fn push(&mut self, event: Arc<Event>) -> Freed {
        let now = event.ts;
        self.bytes += event.size();
        self.events.push_back(event);
        let mut freed = Freed::default();
        while self.events.len() > self.max_events
            || (self.bytes > self.max_bytes && self.events.len() > 1)
        {
            self.evict_front(&mut freed);
        }
        let expired = self.expire(now);
        freed.events += expired.events;
        freed.bytes += expired.bytes;
        freed
    }

    /// Evicts events older than the maximum age at time `now_ms`.
    pub fn expire(&mut self, now_ms: i64) -> Freed {
        let oldest_allowed = now_ms.saturating_sub(self.max_age_ms);
        let mut freed = Freed::default();
        // The newest event stays even when old: it is the channel's current
        // state, which snapshots need.
        while self.events.len() > 1 && self.events.front().is_some_and(|e| e.ts < oldest_allowed) {
            self.evict_front(&mut freed);
        }
        freed
    }

    /// Evicts the oldest event, even the last one (the hub's global budget
    /// does, oldest first across channels).
    pub fn pop_oldest(&mut self) -> Freed {
        let mut freed = Freed::default();
        self.evict_front(&mut freed);
        freed
    }

    fn evict_front(&mut self, freed: &mut Freed) {
        if let Some(evicted) = self.events.pop_front() {
            self.evicted_through = Some(evicted.position.seq);
            self.bytes -= evicted.size();
            freed.add(evicted.size());
        }
    }

    /// Sequence number of the oldest retained event.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.events.front().map(|e| e.position.seq)
    }

    /// Sequence number of the newest event this ring ever held.
    pub fn newest_seq(&self) -> Option<u64> {
        self.events
            .back()
            .map(|e| e.position.seq)
            .or(self.evicted_through)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
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

    /// The first `max` retained events after sequence number `seq`, or
    /// [`Gap`].
    pub fn first_after(
        &self,
        seq: u64,
        max: usize,
    ) -> Result<impl Iterator<Item = &Arc<Event>>, Gap> {
        Ok(self.after(seq)?.take(max))
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

    /// Whether it never held an event: opened for a reader
    /// ([`Hub::open`](super::Hub::open)) and not published to yet.
    pub fn never_held(&self) -> bool {
        self.events.is_empty() && self.evicted_through.is_none()
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
        let mut ring = HistoryRing::new(10, usize::MAX, Duration::from_secs(60));
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
        let mut ring = HistoryRing::new(3, usize::MAX, Duration::from_secs(60));
        for seq in 1..=5 {
            ring.push(event(seq, 0));
        }
        assert_eq!(seqs(ring.iter()), [3, 4, 5]);
        assert_eq!(ring.after(1).err(), Some(Gap));
        assert_eq!(seqs(ring.after(2).unwrap()), [3, 4, 5]);
    }

    #[test]
    fn old_events_expire_but_the_latest_stays() {
        let mut ring = HistoryRing::new(100, usize::MAX, Duration::from_millis(1_000));
        ring.push(event(1, 0));
        ring.push(event(2, 700));
        ring.push(event(3, 1_600));
        assert_eq!(seqs(ring.iter()), [2, 3]);
        ring.expire(10_000);
        assert_eq!(seqs(ring.iter()), [3]);
        assert_eq!(ring.after(1).err(), Some(Gap));
    }

    #[test]
    fn bytes_bound_the_ring_but_the_newest_event_stays() {
        let size = event(1, 0).size();
        let mut ring = HistoryRing::new(100, size * 2 + size / 2, Duration::from_secs(60));
        for seq in 1..=5 {
            ring.push(event(seq, 0));
        }
        assert_eq!(seqs(ring.iter()), [4, 5]);
        assert_eq!(ring.bytes(), size * 2);
        assert_eq!(ring.after(2).err(), Some(Gap));
        let freed = ring.pop_oldest();
        assert_eq!(
            freed,
            Freed {
                events: 1,
                bytes: size
            }
        );
        ring.pop_oldest();
        assert!(ring.is_empty());
        assert_eq!((ring.bytes(), ring.newest_seq()), (0, Some(5)));
        assert_eq!(ring.after(4).err(), Some(Gap));
        assert_eq!(ring.after(5).map(|e| e.count()), Ok(0));
    }
}
