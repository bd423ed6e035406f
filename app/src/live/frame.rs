//! The buffer between the network and the page's signals.
//!
//! Events are pushed here as they arrive and applied once per animation
//! frame (or when a paused display resumes). The buffer is bounded: past
//! [`FrameBuffer::capacity`] it first drops superseded latest values, then
//! the oldest events (down to three quarters full), and says so
//! (`overflowed`): the page must then resynchronise from a snapshot.

use std::collections::{HashSet, VecDeque};

use serde_json::Value;

use crate::protocol::{
    snapshot_replaces, ChannelKind, Envelope, Position, Snapshot, RESET_EVENT, SNAPSHOT_EVENT,
};

/// What the transports hand over (and a leading tab relays to the others).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Delivery {
    /// A new event, in log order, never seen before.
    Event(Envelope<Value>),
    /// The state of `channels` as of the carrying envelope's position:
    /// everything held for them must be replaced.
    Snapshot {
        /// The channels the snapshot covers.
        channels: Vec<String>,
        /// The position it was taken at.
        head: Position,
        /// Their state.
        snapshot: Snapshot,
    },
}

impl Delivery {
    /// A snapshot from its envelope (whose `channel` lists the channels
    /// and whose id is the position it was taken at).
    pub fn snapshot(channel_list: &str, head: Position, snapshot: Snapshot) -> Self {
        let channels = channel_list
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        Delivery::Snapshot {
            channels,
            head,
            snapshot,
        }
    }

    /// What an envelope off the wire is: an event, or (for the `snapshot`
    /// and `reset` types) a snapshot, whose data must then be a
    /// [`Snapshot`]; `Err` says, for a person, why one is not.
    pub fn from_envelope(envelope: Envelope<Value>) -> Result<Self, String> {
        if envelope.event != SNAPSHOT_EVENT && envelope.event != RESET_EVENT {
            return Ok(Delivery::Event(envelope));
        }
        let snapshot: Snapshot = serde_json::from_value(envelope.data)
            .map_err(|error| format!("livedash: ignoring a malformed snapshot: {error}"))?;
        Ok(Delivery::snapshot(&envelope.channel, envelope.id, snapshot))
    }

    /// Where a client that applied this stands in the log.
    pub fn position(&self) -> Position {
        match self {
            Delivery::Event(envelope) => envelope.id,
            Delivery::Snapshot { head, .. } => *head,
        }
    }

    fn covers(&self, channel: &str) -> bool {
        matches!(self, Delivery::Snapshot { channels, .. } if channels.iter().any(|c| c == channel))
    }
}

/// Deliveries waiting for the next frame.
#[derive(Clone, Debug)]
pub struct FrameBuffer {
    pending: VecDeque<Delivery>,
    capacity: usize,
    overflowed: bool,
}

/// One frame's worth of deliveries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    /// Snapshots, in order, with the channels each covers: apply them first.
    pub snapshots: Vec<(Vec<String>, Snapshot)>,
    /// The events not superseded by a snapshot, in log order.
    pub events: Vec<Envelope<Value>>,
    /// Events were dropped for lack of room: resynchronise.
    pub overflowed: bool,
}

impl Frame {
    /// The events whose value is still current at the end of the frame: on
    /// latest-value channels the last of each key, everything else as is;
    /// in log order.
    pub fn current(&self) -> Vec<&Envelope<Value>> {
        let mut seen = HashSet::new();
        let mut keep: Vec<&Envelope<Value>> = self
            .events
            .iter()
            .rev()
            .filter(|e| {
                ChannelKind::of(&e.channel) == ChannelKind::Stream
                    || seen.insert((e.channel.as_str(), e.coalescing_key()))
            })
            .collect();
        keep.reverse();
        keep
    }
}

impl FrameBuffer {
    /// An empty buffer holding at most `capacity` deliveries.
    pub fn new(capacity: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            capacity: capacity.max(1),
            overflowed: false,
        }
    }

    /// The most deliveries held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many deliveries wait.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds a delivery. A snapshot makes what came before it on its
    /// channels moot, but for samples of series, which it adds to
    /// ([`snapshot_replaces`]).
    pub fn push(&mut self, delivery: Delivery) {
        if let Delivery::Snapshot { .. } = &delivery {
            self.pending.retain(|old| match old {
                Delivery::Event(e) => {
                    !(snapshot_replaces(&e.channel) && delivery.covers(&e.channel))
                }
                Delivery::Snapshot { channels, .. } => !channels
                    .iter()
                    .all(|c| snapshot_replaces(c) && delivery.covers(c)),
            });
        }
        self.pending.push_back(delivery);
        if self.pending.len() > self.capacity {
            self.compact();
        }
    }

    /// Makes room: drops superseded latest values, then, if that left the
    /// buffer above three quarters full, the oldest deliveries down to that
    /// mark (the page resynchronises anyway once anything is lost). Leaving
    /// a quarter free means the next compaction is a quarter of the capacity
    /// away, so a stream that keeps overflowing costs O(1) per push, not a
    /// scan of the whole buffer each time.
    fn compact(&mut self) {
        let keep: Vec<bool> = {
            let mut seen = HashSet::new();
            let mut keep: Vec<bool> = self
                .pending
                .iter()
                .rev()
                .map(|delivery| match delivery {
                    Delivery::Event(e) if ChannelKind::of(&e.channel) == ChannelKind::Latest => {
                        seen.insert((e.channel.as_str(), e.coalescing_key()))
                    }
                    _ => true,
                })
                .collect();
            keep.reverse();
            keep
        };
        let mut flags = keep.into_iter();
        self.pending.retain(|_| flags.next().unwrap_or(true));
        let low_water = self.capacity - self.capacity / 4;
        if self.pending.len() > low_water {
            self.pending.drain(..self.pending.len() - low_water);
            self.overflowed = true;
        }
    }

    /// Takes everything pending as one frame.
    pub fn take(&mut self) -> Frame {
        let mut frame = Frame {
            overflowed: std::mem::take(&mut self.overflowed),
            ..Frame::default()
        };
        for delivery in self.pending.drain(..) {
            match delivery {
                Delivery::Snapshot {
                    channels, snapshot, ..
                } => {
                    frame.events.retain(|e| {
                        !(snapshot_replaces(&e.channel) && channels.contains(&e.channel))
                    });
                    frame.snapshots.push((channels, snapshot));
                }
                Delivery::Event(event) => frame.events.push(event),
            }
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::Position;

    fn event(seq: u64, channel: &str, key: Option<&str>) -> Delivery {
        Delivery::Event(Envelope {
            id: Position::new(1, seq),
            channel: channel.into(),
            event: "update".into(),
            key: key.map(str::to_string),
            ts: seq as i64,
            data: json!(seq),
        })
    }

    fn seqs<'a>(events: impl IntoIterator<Item = &'a Envelope<Value>>) -> Vec<u64> {
        events.into_iter().map(|e| e.id.seq).collect()
    }

    #[test]
    fn a_frame_keeps_every_event_and_knows_the_current_ones() {
        let mut buffer = FrameBuffer::new(100);
        for (seq, channel, key) in [
            (1, "metrics", "a"),
            (2, "metrics", "b"),
            (3, "feed", ""),
            (4, "metrics", "a"),
        ] {
            buffer.push(event(seq, channel, (!key.is_empty()).then_some(key)));
        }
        let frame = buffer.take();
        assert_eq!(
            seqs(&frame.events),
            [1, 2, 3, 4],
            "series history sees every point"
        );
        assert_eq!(
            seqs(frame.current()),
            [2, 3, 4],
            "signals get the newest value of each key"
        );
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_snapshot_replaces_what_came_before_it_on_its_channels_only() {
        let mut buffer = FrameBuffer::new(100);
        buffer.push(event(1, "feed", None));
        buffer.push(event(2, "other", None));
        buffer.push(Delivery::snapshot(
            "feed,more",
            Position::new(1, 9),
            Snapshot {
                reason: None,
                events: vec![],
            },
        ));
        buffer.push(event(5, "feed", None));
        let frame = buffer.take();
        assert_eq!(frame.snapshots.len(), 1);
        assert_eq!(frame.snapshots[0].0, ["feed", "more"]);
        assert_eq!(seqs(&frame.events), [2, 5]);
    }

    /// Samples of series are facts on their own: a reset's snapshot of the
    /// series channel (its newest events) adds to them, so those still
    /// waiting for the frame stay, in the buffer and in the frame.
    #[test]
    fn a_series_snapshot_keeps_the_samples_that_came_before_it() {
        let snapshot = || {
            Delivery::snapshot(
                "series,feed",
                Position::new(1, 9),
                Snapshot {
                    reason: Some("position too old".into()),
                    events: vec![],
                },
            )
        };
        let mut buffer = FrameBuffer::new(100);
        buffer.push(event(1, "series", Some("cpu")));
        buffer.push(event(2, "feed", None));
        buffer.push(snapshot());
        buffer.push(event(10, "series", Some("cpu")));
        let frame = buffer.take();
        assert_eq!(seqs(&frame.events), [1, 10], "the feed's event is replaced");

        // Taken in one frame after the snapshot was buffered too.
        let mut buffer = FrameBuffer::new(100);
        buffer.push(snapshot());
        buffer.push(event(10, "series", Some("cpu")));
        buffer.push(snapshot());
        let frame = buffer.take();
        assert_eq!(seqs(&frame.events), [10]);
        assert_eq!(frame.snapshots.len(), 2);
    }

    #[test]
    fn a_full_buffer_drops_superseded_values_first_then_the_oldest() {
        let mut buffer = FrameBuffer::new(4);
        for seq in 1..=10 {
            buffer.push(event(seq, "metrics", Some("a")));
        }
        let frame = buffer.take();
        assert!(!frame.overflowed, "only superseded values were dropped");
        assert_eq!(frame.current().last().map(|e| e.id.seq), Some(10));
        for seq in 1..=10 {
            buffer.push(event(seq, "feed", None));
        }
        assert_eq!(buffer.len(), 4);
        let frame = buffer.take();
        assert!(frame.overflowed);
        assert_eq!(seqs(&frame.events), [7, 8, 9, 10]);
    }

    #[test]
    fn a_stream_that_keeps_overflowing_stays_within_the_capacity_and_keeps_the_newest() {
        let mut buffer = FrameBuffer::new(100);
        for seq in 1..=10_000 {
            buffer.push(event(seq, "feed", None));
            assert!(buffer.len() <= 100);
        }
        let frame = buffer.take();
        assert!(frame.overflowed);
        assert_eq!(frame.events.last().map(|e| e.id.seq), Some(10_000));
        assert!(frame
            .events
            .windows(2)
            .all(|w| w[1].id.seq == w[0].id.seq + 1));
    }
}
