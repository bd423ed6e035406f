//! A subscriber's view of the log: what it missed, then live events, each
//! once and in order; or a snapshot when what it missed cannot be replayed.

use std::{collections::VecDeque, sync::Arc};

use app::protocol::{Position, RESET_EVENT, SNAPSHOT_EVENT};
use bytes::Bytes;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{now_ms, Event, Gap, Hub, State};

/// Why a subscription yields a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// The subscriber gave no position: this is its starting state.
    Initial,
    /// The subscriber's position could not be honoured.
    Reset {
        /// Why, for the client's logs.
        reason: &'static str,
    },
}

/// What a subscription yields.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// The next event of the subscribed channels.
    Event(Arc<Event>),
    /// The current state of the subscribed channels, as of `head`. Its
    /// envelope JSON has `head` as id and `snapshot` or `reset` as type.
    Snapshot {
        /// Why the snapshot was sent.
        kind: SnapshotKind,
        /// The log position the snapshot was taken at; resume from here.
        head: Position,
        /// The envelope as JSON.
        json: Bytes,
    },
}

impl Delivery {
    /// The position a client that applied this delivery resumes from.
    pub fn position(&self) -> Position {
        match self {
            Delivery::Event(event) => event.position,
            Delivery::Snapshot { head, .. } => *head,
        }
    }

    /// The event type on the wire.
    pub fn event_type(&self) -> &str {
        match self {
            Delivery::Event(event) => &event.event_type,
            Delivery::Snapshot {
                kind: SnapshotKind::Initial,
                ..
            } => SNAPSHOT_EVENT,
            Delivery::Snapshot {
                kind: SnapshotKind::Reset { .. },
                ..
            } => RESET_EVENT,
        }
    }

    /// The envelope JSON.
    pub fn json(&self) -> &Bytes {
        match self {
            Delivery::Event(event) => &event.json,
            Delivery::Snapshot { json, .. } => json,
        }
    }
}

/// A live subscription to some channels of the [`Hub`].
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    channels: Vec<Arc<str>>,
    backlog: VecDeque<Delivery>,
    live: broadcast::Receiver<Arc<Event>>,
    /// Every event up to this sequence number has been queued or skipped.
    delivered: u64,
}

impl Subscription {
    pub(super) fn new(hub: Hub, mut channels: Vec<Arc<str>>, since: Option<Position>) -> Self {
        channels.sort();
        channels.dedup();
        let mut state = hub.lock();
        // Subscribed under the lock: nothing published after `head` is missed.
        let live = hub.inner.live.subscribe();
        let head = Position::new(hub.inner.epoch, state.head);
        let mut backlog = VecDeque::new();
        let reset = |reason| SnapshotKind::Reset { reason };
        let start = match since {
            None => Err(SnapshotKind::Initial),
            Some(p) if p.epoch != head.epoch => Err(reset(
                "unknown position: it belongs to another run of the server",
            )),
            Some(p) if p.seq > head.seq => Err(reset("unknown position: it is ahead of the log")),
            Some(p) => catch_up(&mut state, &channels, p.seq)
                .map_err(|Gap| reset("position too old: events after it are no longer retained")),
        };
        match start {
            Ok(events) => backlog.extend(events.into_iter().map(Delivery::Event)),
            Err(kind) => backlog.push_back(snapshot(&state, &channels, kind, head)),
        }
        drop(state);
        Self {
            hub,
            channels,
            backlog,
            live,
            delivered: head.seq,
        }
    }

    /// The subscribed channels.
    pub fn channels(&self) -> &[Arc<str>] {
        &self.channels
    }

    /// The next delivery; `None` once the hub is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = self.backlog.pop_front() {
                return Some(delivery);
            }
            match self.live.recv().await {
                Ok(event) => {
                    if event.position.seq <= self.delivered {
                        continue;
                    }
                    self.delivered = event.position.seq;
                    if self.channels.contains(&event.channel) {
                        return Some(Delivery::Event(event));
                    }
                }
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "subscriber fell behind; catching up from history");
                    self.refill();
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Catches a subscriber that fell behind the live buffer up from the
    /// channels' history, or resets it when history no longer reaches back.
    fn refill(&mut self) {
        let mut state = self.hub.lock();
        let head = Position::new(self.hub.inner.epoch, state.head);
        match catch_up(&mut state, &self.channels, self.delivered) {
            Ok(events) => self.backlog.extend(events.into_iter().map(Delivery::Event)),
            Err(Gap) => {
                let kind = SnapshotKind::Reset {
                    reason: "subscriber fell too far behind",
                };
                self.backlog
                    .push_back(snapshot(&state, &self.channels, kind, head));
            }
        }
        self.delivered = head.seq;
    }
}

/// Every retained event of `channels` after `seq`, in log order.
fn catch_up(state: &mut State, channels: &[Arc<str>], seq: u64) -> Result<Vec<Arc<Event>>, Gap> {
    let now = now_ms();
    let mut events = Vec::new();
    for channel in channels {
        if let Some(ring) = state.channels.get_mut(channel) {
            ring.expire(now);
            events.extend(ring.after(seq)?.cloned());
        }
    }
    events.sort_by_key(|e| e.position.seq);
    Ok(events)
}

/// The newest event of each channel, as a `snapshot` or `reset` envelope.
fn snapshot(state: &State, channels: &[Arc<str>], kind: SnapshotKind, head: Position) -> Delivery {
    let mut latest: Vec<&Arc<Event>> = channels
        .iter()
        .filter_map(|c| state.channels.get(c).and_then(|ring| ring.latest()))
        .collect();
    latest.sort_by_key(|e| e.position.seq);
    let (event_type, reason) = match &kind {
        SnapshotKind::Initial => (SNAPSHOT_EVENT, None),
        SnapshotKind::Reset { reason } => (RESET_EVENT, Some(*reason)),
    };
    let channel_list = channels.iter().map(|c| &**c).collect::<Vec<_>>().join(",");
    let mut json = format!(
        "{{\"id\":\"{head}\",\"channel\":{},\"event\":\"{event_type}\",\"ts\":{},\"data\":{{",
        serde_json::Value::from(channel_list),
        now_ms()
    );
    if let Some(reason) = reason {
        json.push_str(&format!("\"reason\":{},", serde_json::Value::from(reason)));
    }
    json.push_str("\"events\":[");
    for (i, event) in latest.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(event.json_str());
    }
    json.push_str("]}}");
    Delivery::Snapshot {
        kind,
        head,
        json: Bytes::from(json),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use app::protocol::{Envelope, Snapshot};

    use super::*;
    use crate::hub::HubConfig;

    fn hub(history: usize, buffer: usize) -> Hub {
        Hub::with_epoch(
            HubConfig {
                history_events: history,
                history_age: Duration::from_secs(600),
                live_buffer: buffer,
            },
            7,
        )
    }

    fn channels(names: &[&str]) -> Vec<Arc<str>> {
        names.iter().map(|n| Arc::from(*n)).collect()
    }

    async fn next_seqs(sub: &mut Subscription, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..n {
            match tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
                Ok(Some(Delivery::Event(e))) => out.push(e.position.seq),
                other => panic!("expected an event, got {other:?}"),
            }
        }
        out
    }

    #[tokio::test]
    async fn resume_delivers_missed_events_then_live_ones_once() {
        let hub = hub(100, 16);
        for i in 0..5 {
            hub.publish("a", "message", &i).unwrap();
            hub.publish("b", "message", &i).unwrap();
        }
        let mut sub = hub.subscribe(channels(&["a"]), Some(Position::new(7, 4)));
        hub.publish("a", "message", &"live").unwrap();
        assert_eq!(next_seqs(&mut sub, 4).await, [5, 7, 9, 11]);
    }

    #[tokio::test]
    async fn unknown_epoch_yields_a_reset_with_the_current_state() {
        let hub = hub(100, 16);
        hub.publish("a", "message", &1).unwrap();
        hub.publish("a", "message", &2).unwrap();
        let mut sub = hub.subscribe(channels(&["a"]), Some(Position::new(6, 2)));
        let Some(Delivery::Snapshot {
            kind: SnapshotKind::Reset { .. },
            head,
            json,
        }) = sub.next().await
        else {
            panic!("expected a reset");
        };
        assert_eq!(head, Position::new(7, 2));
        let envelope: Envelope<Snapshot> = serde_json::from_slice(&json).unwrap();
        assert_eq!(envelope.event, RESET_EVENT);
        assert_eq!(envelope.id, head);
        assert_eq!(envelope.data.events.len(), 1);
        assert_eq!(envelope.data.events[0].data, serde_json::json!(2));
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_caught_up_from_history() {
        let hub = hub(1_000, 4);
        let mut sub = hub.subscribe(channels(&["a"]), Some(hub.head()));
        for i in 0..100 {
            hub.publish("a", "message", &i).unwrap();
        }
        assert_eq!(
            next_seqs(&mut sub, 100).await,
            (1..=100).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_subscriber_behind_history_gets_a_reset() {
        let hub = hub(10, 4);
        let mut sub = hub.subscribe(channels(&["a"]), Some(hub.head()));
        for i in 0..100 {
            hub.publish("a", "message", &i).unwrap();
        }
        match sub.next().await {
            Some(Delivery::Snapshot {
                kind: SnapshotKind::Reset { .. },
                head,
                ..
            }) => assert_eq!(head.seq, 100),
            other => panic!("expected a reset, got {other:?}"),
        }
        hub.publish("a", "message", &"after").unwrap();
        assert_eq!(next_seqs(&mut sub, 1).await, [101]);
    }
}
