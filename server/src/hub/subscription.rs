//! A subscriber's view of the log: what it missed, then live events, each
//! once and in order; or a snapshot when what it missed cannot be replayed.
//!
//! The subscription's channel set can change while it lives (WebSocket
//! clients subscribe and unsubscribe), and per channel it can filter events
//! by key. Deliveries come out in batches ([`Subscription::next_batch`]):
//! latest-value events are coalesced within the hub's delivery window, so a
//! burst publisher cannot flood a dashboard.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};

use app::protocol::{Position, RESET_EVENT, SNAPSHOT_EVENT};
use bytes::Bytes;
use tokio::{
    sync::broadcast::{self, error::RecvError, error::TryRecvError},
    time::Instant,
};

use super::{coalesce, now_ms, ws_frame, ChannelKind, Event, Gap, Hub, State};

/// Why a subscription yields a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// The subscriber gave no position, or asked for one: its starting state.
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
    /// The current state of some channels, as of `head`. Its envelope has
    /// `head` as id and `snapshot` or `reset` as event type.
    Snapshot {
        /// Why the snapshot was sent.
        kind: SnapshotKind,
        /// The log position the snapshot was taken at; resume from here.
        head: Position,
        /// The envelope as JSON.
        json: Bytes,
        /// The WebSocket message (`{"type":"snapshot"|"reset", ...envelope}`).
        ws_json: Bytes,
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

    /// The WebSocket message.
    pub fn ws_json(&self) -> &Bytes {
        match self {
            Delivery::Event(event) => &event.ws_json,
            Delivery::Snapshot { ws_json, .. } => ws_json,
        }
    }

    fn is_latest_value(&self) -> bool {
        matches!(self, Delivery::Event(e) if ChannelKind::of(&e.channel) == ChannelKind::Latest)
    }
}

/// A live subscription to some channels of the [`Hub`].
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    channels: Vec<Arc<str>>,
    /// Per channel, the only keys delivered (no entry: every key).
    filters: HashMap<Arc<str>, HashSet<Arc<str>>>,
    backlog: VecDeque<Delivery>,
    live: broadcast::Receiver<Arc<Event>>,
    /// Every event up to this sequence number has been queued or skipped.
    delivered: u64,
    window: Duration,
    last_flush: Option<Instant>,
}

/// What a new subscriber asks for.
#[derive(Clone, Debug, Default)]
pub struct SubscribeRequest {
    /// Channels to resume after `since` (or start with a snapshot of, when
    /// `since` is `None`).
    pub channels: Vec<Arc<str>>,
    /// Where the subscriber left off.
    pub since: Option<Position>,
    /// Channels that start with a snapshot of their state whatever `since`
    /// says: ones the subscriber did not follow before (a page whose new
    /// widget needs a channel).
    pub fresh: Vec<Arc<str>>,
    /// Per channel, the only keys delivered (no entry: every key).
    pub filters: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

impl Subscription {
    pub(super) fn new(hub: Hub, request: SubscribeRequest) -> Self {
        let mut state = hub.lock();
        // Subscribed under the lock: nothing published after `head` is missed.
        let live = hub.inner.live.subscribe();
        let head = state.head;
        let window = hub.inner.config.coalesce_window;
        let mut subscription = Self {
            hub: hub.clone(),
            channels: Vec::new(),
            filters: request.filters,
            backlog: VecDeque::new(),
            live,
            delivered: head,
            window,
            last_flush: None,
        };
        let resumed = request
            .channels
            .into_iter()
            .filter(|c| !request.fresh.contains(c))
            .collect();
        subscription.join(&mut state, resumed, request.since);
        // Both joins see the same head, so the fresh channels' snapshot
        // comes after every catch-up event: a client that moves to the
        // snapshot's position has missed nothing.
        subscription.join(&mut state, request.fresh, None);
        drop(state);
        subscription
    }

    /// The subscribed channels.
    pub fn channels(&self) -> &[Arc<str>] {
        &self.channels
    }

    /// The position up to which this subscriber has been given everything.
    pub fn position(&self) -> Position {
        Position::new(self.hub.inner.epoch, self.delivered)
    }

    /// Adds channels. With `since`, the subscriber first gets their events
    /// after that position (or a reset when that cannot be honoured);
    /// without, a snapshot of their current state. Channels already
    /// subscribed are left as they are.
    pub fn add_channels(&mut self, channels: Vec<Arc<str>>, since: Option<Position>) {
        let hub = self.hub.clone();
        let mut state = hub.lock();
        // Whatever is pending for the current channels comes first, so the
        // new channels' catch-up or snapshot is in log order after it.
        self.refill(&mut state);
        let new: Vec<Arc<str>> = channels
            .into_iter()
            .filter(|c| !self.channels.contains(c))
            .collect();
        self.join(&mut state, new, since);
    }

    /// Removes channels (and their filters); returns those that were subscribed.
    pub fn remove_channels(&mut self, channels: &[Arc<str>]) -> Vec<Arc<str>> {
        let removed: Vec<Arc<str>> = self
            .channels
            .iter()
            .filter(|c| channels.contains(c))
            .cloned()
            .collect();
        self.channels.retain(|c| !channels.contains(c));
        for channel in &removed {
            self.filters.remove(channel);
        }
        self.backlog.retain(|d| match d {
            Delivery::Event(e) => !removed.contains(&e.channel),
            Delivery::Snapshot { .. } => true,
        });
        removed
    }

    /// Sets the delivery window of latest-value channels (zero: none).
    pub fn set_window(&mut self, window: Duration) {
        self.window = window;
    }

    /// Delivers only events of `channel` whose key is in `keys` (`None`: all).
    pub fn set_filter(&mut self, channel: Arc<str>, keys: Option<Vec<String>>) {
        match keys {
            Some(keys) => {
                self.filters
                    .insert(channel, keys.into_iter().map(Arc::from).collect());
            }
            None => {
                self.filters.remove(&channel);
            }
        }
    }

    /// Everything pending for this subscriber, then a snapshot of `channel`'s
    /// current state: send them in this order and the client's position
    /// stays consistent.
    pub fn snapshot_of(&mut self, channel: Arc<str>) -> (Vec<Delivery>, Delivery) {
        let hub = self.hub.clone();
        let mut state = hub.lock();
        self.refill(&mut state);
        let pending = self.backlog.drain(..).collect();
        let head = Position::new(hub.inner.epoch, state.head);
        (
            pending,
            snapshot(
                &state,
                &[channel],
                &self.filters,
                SnapshotKind::Initial,
                head,
            ),
        )
    }

    /// The next deliveries, at most `max`: waits for the first, then takes
    /// what else is ready. When the batch holds latest-value events and the
    /// previous batch left less than a delivery window ago, it waits out the
    /// window first, collecting; superseded values are then coalesced away.
    /// `None` once the hub is gone.
    pub async fn next_batch(&mut self, max: usize) -> Option<Vec<Delivery>> {
        let max = max.max(1);
        let first = self.next_one().await?;
        let mut batch = vec![first];
        self.take_ready(&mut batch, max);
        if let Some(last) = self.last_flush {
            let deadline = last + self.window;
            while batch.len() < max
                && batch.iter().any(Delivery::is_latest_value)
                && Instant::now() < deadline
            {
                match tokio::time::timeout_at(deadline, self.next_one()).await {
                    Ok(Some(delivery)) => {
                        batch.push(delivery);
                        self.take_ready(&mut batch, max);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        self.coalesce(&mut batch);
        self.last_flush = Some(Instant::now());
        Some(batch)
    }

    /// What is ready now, without waiting, coalesced; at most `max`.
    pub fn ready_batch(&mut self, max: usize) -> Vec<Delivery> {
        let mut batch = Vec::new();
        self.take_ready(&mut batch, max.max(1));
        self.coalesce(&mut batch);
        batch
    }

    /// Drops superseded latest values from a batch (when a delivery window
    /// is set) and counts them.
    fn coalesce(&self, batch: &mut Vec<Delivery>) {
        if !self.window.is_zero() {
            let dropped = coalesce(batch);
            self.hub
                .inner
                .counters
                .coalesced
                .fetch_add(dropped as u64, Relaxed);
        }
    }

    fn take_ready(&mut self, batch: &mut Vec<Delivery>, max: usize) {
        while batch.len() < max {
            match self.try_next() {
                Some(delivery) => batch.push(delivery),
                None => break,
            }
        }
    }

    async fn next_one(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = self.backlog.pop_front() {
                return Some(delivery);
            }
            match self.live.recv().await {
                Ok(event) => {
                    if let Some(delivery) = self.accept(event) {
                        return Some(delivery);
                    }
                }
                Err(RecvError::Lagged(_)) => self.lagged(),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn try_next(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = self.backlog.pop_front() {
                return Some(delivery);
            }
            match self.live.try_recv() {
                Ok(event) => {
                    if let Some(delivery) = self.accept(event) {
                        return Some(delivery);
                    }
                }
                Err(TryRecvError::Lagged(_)) => self.lagged(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// A live event: delivered if new, subscribed and not filtered out.
    fn accept(&mut self, event: Arc<Event>) -> Option<Delivery> {
        if event.position.seq <= self.delivered {
            return None;
        }
        self.delivered = event.position.seq;
        self.wants(&event).then_some(Delivery::Event(event))
    }

    fn wants(&self, event: &Event) -> bool {
        self.channels.contains(&event.channel) && passes(&self.filters, event)
    }

    fn lagged(&mut self) {
        tracing::debug!(position = %self.position(), "subscriber fell behind; catching up from history");
        self.hub.inner.counters.lagged.fetch_add(1, Relaxed);
        let hub = self.hub.clone();
        let mut state = hub.lock();
        self.refill(&mut state);
    }

    /// Queues every retained event of the subscribed channels after what was
    /// delivered, up to the head; resets the subscriber when history no
    /// longer reaches back.
    fn refill(&mut self, state: &mut State) {
        let head = Position::new(self.hub.inner.epoch, state.head);
        if head.seq == self.delivered {
            return;
        }
        match catch_up(state, &self.channels, self.delivered) {
            Ok(events) => {
                let wanted: Vec<_> = events
                    .into_iter()
                    .filter(|e| self.wants(e))
                    .map(Delivery::Event)
                    .collect();
                self.backlog.extend(wanted);
            }
            Err(Gap) => {
                let kind = SnapshotKind::Reset {
                    reason: "subscriber fell too far behind",
                };
                self.hub.inner.counters.resets.fetch_add(1, Relaxed);
                self.backlog
                    .push_back(snapshot(state, &self.channels, &self.filters, kind, head));
            }
        }
        self.delivered = head.seq;
    }

    /// Adds `channels` (already caught up to `self.delivered`) with their
    /// starting deliveries.
    fn join(&mut self, state: &mut State, mut channels: Vec<Arc<str>>, since: Option<Position>) {
        channels.sort();
        channels.dedup();
        if channels.is_empty() {
            return;
        }
        let head = Position::new(self.hub.inner.epoch, state.head);
        let reset = |reason| SnapshotKind::Reset { reason };
        let start = match since {
            None => Err(SnapshotKind::Initial),
            Some(p) if p.epoch != head.epoch => Err(reset(
                "unknown position: it belongs to another run of the server",
            )),
            Some(p) if p.seq > head.seq => Err(reset("unknown position: it is ahead of the log")),
            Some(p) => catch_up(state, &channels, p.seq)
                .map_err(|Gap| reset("position too old: events after it are no longer retained")),
        };
        match start {
            Ok(events) => self.backlog.extend(
                events
                    .into_iter()
                    .filter(|e| passes(&self.filters, e))
                    .map(Delivery::Event),
            ),
            Err(kind) => {
                if kind != SnapshotKind::Initial {
                    self.hub.inner.counters.resets.fetch_add(1, Relaxed);
                }
                self.backlog
                    .push_back(snapshot(state, &channels, &self.filters, kind, head));
            }
        }
        self.channels.extend(channels);
        self.channels.sort();
    }
}

/// Whether `event` passes the filter of its channel.
fn passes(filters: &HashMap<Arc<str>, HashSet<Arc<str>>>, event: &Event) -> bool {
    filters
        .get(&event.channel)
        .is_none_or(|keys| keys.contains(&event.coalescing_key()))
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

/// The state of `channels` as a `snapshot` or `reset` envelope: on
/// latest-value channels the newest event of each key; on stream channels
/// every retained event (their state is their recent history: a feed, a
/// collection built by patches); only the keys `filters` let through.
fn snapshot(
    state: &State,
    channels: &[Arc<str>],
    filters: &HashMap<Arc<str>, HashSet<Arc<str>>>,
    kind: SnapshotKind,
    head: Position,
) -> Delivery {
    let mut latest: Vec<&Arc<Event>> = Vec::new();
    for channel in channels {
        let Some(ring) = state.channels.get(channel) else {
            continue;
        };
        if ChannelKind::of(channel) == ChannelKind::Latest {
            let mut keys = HashSet::new();
            latest.extend(
                ring.iter()
                    .rev()
                    .filter(|e| passes(filters, e) && keys.insert(e.coalescing_key())),
            );
        } else {
            latest.extend(ring.iter().filter(|e| passes(filters, e)));
        }
    }
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
    let ws_json = ws_frame(event_type, json.as_bytes());
    Delivery::Snapshot {
        kind,
        head,
        json: Bytes::from(json),
        ws_json,
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
                coalesce_window: Duration::ZERO,
            },
            Default::default(),
            7,
        )
    }

    fn channels(names: &[&str]) -> Vec<Arc<str>> {
        names.iter().map(|n| Arc::from(*n)).collect()
    }

    async fn next_seqs(sub: &mut Subscription, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(2), sub.next_one()).await {
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
            hub.publish("a", "message", None, &i).unwrap();
            hub.publish("b", "message", None, &i).unwrap();
        }
        let mut sub = hub.subscribe(channels(&["a"]), Some(Position::new(7, 4)));
        hub.publish("a", "message", None, &"live").unwrap();
        assert_eq!(next_seqs(&mut sub, 4).await, [5, 7, 9, 11]);
    }

    #[tokio::test]
    async fn unknown_epoch_yields_a_reset_with_the_current_state() {
        let hub = hub(100, 16);
        hub.publish("a", "message", None, &1).unwrap();
        hub.publish("a", "message", None, &2).unwrap();
        let mut sub = hub.subscribe(channels(&["a"]), Some(Position::new(6, 2)));
        let Some(Delivery::Snapshot {
            kind: SnapshotKind::Reset { .. },
            head,
            json,
            ..
        }) = sub.next_one().await
        else {
            panic!("expected a reset");
        };
        assert_eq!(head, Position::new(7, 2));
        let envelope: Envelope<Snapshot> = serde_json::from_slice(&json).unwrap();
        assert_eq!(envelope.event, RESET_EVENT);
        assert_eq!(envelope.id, head);
        // A stream channel's state is its retained history.
        let values: Vec<_> = envelope
            .data
            .events
            .iter()
            .map(|e| e.data.clone())
            .collect();
        assert_eq!(values, [serde_json::json!(1), serde_json::json!(2)]);
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_caught_up_from_history() {
        let hub = hub(1_000, 4);
        let mut sub = hub.subscribe(channels(&["a"]), Some(hub.head()));
        for i in 0..100 {
            hub.publish("a", "message", None, &i).unwrap();
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
            hub.publish("a", "message", None, &i).unwrap();
        }
        match sub.next_one().await {
            Some(Delivery::Snapshot {
                kind: SnapshotKind::Reset { .. },
                head,
                ..
            }) => assert_eq!(head.seq, 100),
            other => panic!("expected a reset, got {other:?}"),
        }
        hub.publish("a", "message", None, &"after").unwrap();
        assert_eq!(next_seqs(&mut sub, 1).await, [101]);
    }
}
