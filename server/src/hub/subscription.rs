//! A subscriber's view of the log: what it missed, then live events, each
//! once and in order; or a snapshot when what it missed cannot be replayed.
//!
//! A subscription is a cursor, not a queue: it remembers the sequence
//! number up to which it has taken (or skipped) every event of its channels,
//! and reads what comes after straight from the channels' history rings.
//! Publishing never copies anything into a subscriber, so a subscriber that
//! stops reading holds no more than its one partial batch (at most
//! `max` deliveries and [`MAX_PENDING_BYTES`]); if it falls so far behind
//! that the rings evicted events it had not taken, it gets a `reset` with a
//! snapshot, like any client whose position is too old.
//!
//! A publish wakes only the subscribers of its channels (each subscription
//! owns a [`Notify`] registered with its channels), so a flood on one
//! channel costs the subscribers of other channels nothing.
//!
//! The channel set can change while the subscription lives (WebSocket
//! clients subscribe and unsubscribe), and per channel it can filter events
//! by key. Deliveries come out in batches ([`Subscription::next_batch`]):
//! latest-value events are coalesced within the hub's delivery window, so a
//! burst publisher cannot flood a dashboard.
//!
//! Snapshots are taken *at the cursor*: the state of the channels as of the
//! events this subscriber has been given, so every later event follows the
//! snapshot in log order and nothing is skipped or repeated.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};

use app::protocol::{Position, RESET_EVENT, SNAPSHOT_EVENT};
use bytes::Bytes;
use tokio::{sync::Notify, time::Instant};

use super::{coalesce, log::Log, now_ms, wire, ChannelKind, Event, Gap, Hub, HubStats};

/// Most bytes of events one subscription takes from the log before it
/// hands them out: what a subscriber that stops reading holds at most
/// (beyond one event larger than this).
pub const MAX_PENDING_BYTES: usize = 256 * 1024;
/// Most events of a stream channel a snapshot carries (its newest)...
pub const SNAPSHOT_STREAM_EVENTS: usize = 256;
/// ...and most bytes of them (at least the newest one).
pub const SNAPSHOT_STREAM_BYTES: usize = 1024 * 1024;

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

    /// The Server-Sent Events frame: shared by every subscriber for an
    /// event, built for this one for a snapshot.
    pub fn sse(&self) -> Bytes {
        match self {
            Delivery::Event(event) => event.sse.clone(),
            Delivery::Snapshot { head, json, .. } => {
                wire::sse_frame(*head, self.event_type(), json)
            }
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
    id: u64,
    notify: Arc<Notify>,
    channels: Vec<Arc<str>>,
    /// Per channel, the only keys delivered (no entry: every key).
    filters: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// Taken from the log, not yet handed out: the partial batch. It lives
    /// here and not in a local so that a cancelled `next_batch` loses
    /// nothing.
    pending: VecDeque<Delivery>,
    pending_bytes: usize,
    /// Every event of the subscribed channels up to this sequence number is
    /// in `pending`, handed out, or skipped (filtered, or covered by a
    /// snapshot).
    cursor: u64,
    window: Duration,
    /// When latest values were last handed out.
    last_latest: Option<Instant>,
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

/// The events a snapshot will carry, gathered under the lock; encoded
/// after it is released.
struct SnapshotParts {
    kind: SnapshotKind,
    head: Position,
    channels: Vec<Arc<str>>,
    events: Vec<Arc<Event>>,
}

impl SnapshotParts {
    fn gather(
        log: &Log,
        channels: &[Arc<str>],
        filters: &HashMap<Arc<str>, HashSet<Arc<str>>>,
        kind: SnapshotKind,
        head: Position,
    ) -> Self {
        let mut events: Vec<Arc<Event>> = Vec::new();
        for channel in channels {
            let Some(ring) = log.channels.get(channel) else {
                continue;
            };
            let upto = ring.iter().rev().filter(|e| e.position.seq <= head.seq);
            if ChannelKind::of(channel) == ChannelKind::Latest {
                let mut keys = HashSet::new();
                events.extend(
                    upto.filter(|e| passes(filters, e) && keys.insert(e.coalescing_key()))
                        .cloned(),
                );
            } else {
                let mut bytes = 0;
                events.extend(
                    upto.filter(|e| passes(filters, e))
                        .take(SNAPSHOT_STREAM_EVENTS)
                        .take_while(|e| {
                            let first = bytes == 0;
                            bytes += e.json.len();
                            first || bytes <= SNAPSHOT_STREAM_BYTES
                        })
                        .cloned(),
                );
            }
        }
        events.sort_by_key(|e| e.position.seq);
        let mut channels = channels.to_vec();
        channels.sort();
        Self {
            kind,
            head,
            channels,
            events,
        }
    }

    fn encode(self) -> Delivery {
        let (event_type, reason) = match &self.kind {
            SnapshotKind::Initial => (SNAPSHOT_EVENT, None),
            SnapshotKind::Reset { reason } => (RESET_EVENT, Some(*reason)),
        };
        let json = wire::snapshot_envelope(
            self.head,
            &self.channels,
            event_type,
            reason,
            now_ms(),
            &self.events,
        );
        let ws_json = wire::ws_frame(event_type, &json);
        Delivery::Snapshot {
            kind: self.kind,
            head: self.head,
            json: Bytes::from(json),
            ws_json,
        }
    }
}

/// How a new subscription starts, gathered under the lock.
enum Start {
    /// Events it missed, handed out first.
    Events(Vec<Arc<Event>>),
    /// A snapshot, encoded once the lock is released.
    Snapshot(SnapshotParts),
}

/// What one read of the log gave.
enum Pulled {
    /// Events after the cursor, and the cursor after them.
    Events(Vec<Arc<Event>>, u64),
    /// The rings no longer hold everything after the cursor.
    Reset(SnapshotParts),
}

/// What to do with the partial batch.
enum Next {
    /// Hand out the first `n` pending deliveries (coalesced when `latest`).
    Deliver { n: usize, latest: bool },
    /// Nothing to hand out; wait for a publish.
    Wait,
    /// Latest values are pending but the delivery window has not passed.
    WaitUntil(Instant),
}

impl Subscription {
    pub(super) fn new(hub: Hub, request: SubscribeRequest) -> Self {
        let id = hub.inner.next_subscriber.fetch_add(1, Relaxed);
        hub.inner.subscribers.fetch_add(1, Relaxed);
        let mut subscription = Self {
            hub: hub.clone(),
            id,
            notify: Arc::new(Notify::new()),
            channels: Vec::new(),
            filters: request.filters,
            pending: VecDeque::new(),
            pending_bytes: 0,
            cursor: 0,
            window: hub.inner.config.coalesce_window,
            last_latest: None,
        };
        let mut resumed: Vec<Arc<str>> = request
            .channels
            .iter()
            .filter(|c| !request.fresh.contains(c))
            .cloned()
            .collect();
        resumed.sort();
        resumed.dedup();
        let mut fresh = request.fresh;
        fresh.sort();
        fresh.dedup();
        let snapshots = {
            // Watched and positioned under one lock: nothing published
            // after the cursor can be missed.
            let mut log = hub.write();
            let head = log.head;
            let epoch = hub.inner.epoch;
            let reset = |reason| SnapshotKind::Reset { reason };
            let start = match request.since {
                None => Err(SnapshotKind::Initial),
                Some(p) if p.epoch != epoch => Err(reset(
                    "unknown position: it belongs to another run of the server",
                )),
                Some(p) if p.seq > head => Err(reset("unknown position: it is ahead of the log")),
                Some(p) if resumable(&log, &resumed, p.seq) => Ok(p.seq),
                Some(_) => Err(reset(
                    "position too old: events after it are no longer retained",
                )),
            };
            let mut snapshots = Vec::new();
            subscription.cursor = match start {
                Ok(seq) => seq,
                Err(kind) => {
                    if !resumed.is_empty() {
                        snapshots.push(Start::Snapshot(
                            subscription.gather(&log, &resumed, kind, head),
                        ));
                    }
                    head
                }
            };
            if !fresh.is_empty() {
                // The fresh channels' snapshot is taken at the head, after
                // the resumed channels' missed events (shared with the
                // rings, not copied), so it holds their whole state.
                if subscription.cursor < head {
                    let missed =
                        catch_up(&log, &resumed, subscription.cursor, &subscription.filters);
                    snapshots.push(Start::Events(missed));
                    subscription.cursor = head;
                }
                snapshots.push(Start::Snapshot(subscription.gather(
                    &log,
                    &fresh,
                    SnapshotKind::Initial,
                    head,
                )));
            }
            for channel in resumed.iter().chain(&fresh) {
                if !subscription.channels.contains(channel) {
                    log.watch(channel, id, &subscription.notify);
                    subscription.channels.push(channel.clone());
                }
            }
            snapshots
        };
        subscription.channels.sort();
        for start in snapshots {
            match start {
                Start::Events(events) => {
                    for event in events {
                        subscription.push_pending(Delivery::Event(event));
                    }
                }
                Start::Snapshot(parts) => subscription.push_pending(parts.encode()),
            }
        }
        subscription
    }

    fn gather(
        &self,
        log: &Log,
        channels: &[Arc<str>],
        kind: SnapshotKind,
        seq: u64,
    ) -> SnapshotParts {
        if kind != SnapshotKind::Initial {
            HubStats::add(&self.hub.inner.stats.resets, 1);
        }
        HubStats::add(&self.hub.inner.stats.snapshots, 1);
        let head = Position::new(self.hub.inner.epoch, seq);
        SnapshotParts::gather(log, channels, &self.filters, kind, head)
    }

    /// The subscribed channels.
    pub fn channels(&self) -> &[Arc<str>] {
        &self.channels
    }

    /// The position a client that applied everything handed out so far
    /// resumes from. Only meaningful when nothing is pending: take
    /// [`Subscription::ready_batch`] first.
    pub fn position(&self) -> Position {
        Position::new(self.hub.inner.epoch, self.cursor)
    }

    /// Adds channels. With `since` equal to this subscription's position,
    /// they resume from there; otherwise (or without `since`) they start
    /// with a snapshot of their state at this subscription's position (a
    /// `reset` when `since` was given), since their older events cannot be
    /// delivered in log order after what this subscriber already has.
    /// Channels already subscribed are left as they are.
    pub fn add_channels(&mut self, channels: Vec<Arc<str>>, since: Option<Position>) {
        let mut new: Vec<Arc<str>> = channels
            .into_iter()
            .filter(|c| !self.channels.contains(c))
            .collect();
        new.sort();
        new.dedup();
        if new.is_empty() {
            return;
        }
        let hub = self.hub.clone();
        let snapshot = {
            let mut log = hub.write();
            for channel in &new {
                log.watch(channel, self.id, &self.notify);
            }
            let kind = match since {
                Some(p) if p == self.position() && resumable(&log, &new, p.seq) => None,
                Some(_) => Some(SnapshotKind::Reset {
                    reason: "position differs from this connection's: the new channels start from a snapshot",
                }),
                None => Some(SnapshotKind::Initial),
            };
            kind.map(|kind| self.gather(&log, &new, kind, self.cursor))
        };
        self.channels.extend(new);
        self.channels.sort();
        if let Some(parts) = snapshot {
            self.push_pending(parts.encode());
        }
    }

    /// Removes channels (and their filters); returns those that were subscribed.
    pub fn remove_channels(&mut self, channels: &[Arc<str>]) -> Vec<Arc<str>> {
        let removed: Vec<Arc<str>> = self
            .channels
            .iter()
            .filter(|c| channels.contains(c))
            .cloned()
            .collect();
        if removed.is_empty() {
            return removed;
        }
        {
            let mut log = self.hub.write();
            for channel in &removed {
                log.unwatch(channel, self.id);
            }
        }
        self.channels.retain(|c| !removed.contains(c));
        for channel in &removed {
            self.filters.remove(channel);
        }
        self.pending.retain(|d| match d {
            Delivery::Event(e) => !removed.contains(&e.channel),
            Delivery::Snapshot { .. } => true,
        });
        self.pending_bytes = self.pending.iter().map(delivery_bytes).sum();
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

    /// The keys all filters name together.
    pub fn filter_keys(&self) -> usize {
        self.filters.values().map(HashSet::len).sum()
    }

    /// The keys the filter of `channel` names (0: no filter).
    pub fn filter_keys_of(&self, channel: &str) -> usize {
        self.filters.get(channel).map_or(0, HashSet::len)
    }

    /// Everything pending for this subscriber, then a snapshot of `channel`'s
    /// state at this subscriber's position: send them in this order and the
    /// client's position stays consistent.
    pub fn snapshot_of(&mut self, channel: Arc<str>) -> (Vec<Delivery>, Delivery) {
        let parts = {
            let log = self.hub.read();
            self.gather(&log, &[channel], SnapshotKind::Initial, self.cursor)
        };
        self.pending_bytes = 0;
        (self.pending.drain(..).collect(), parts.encode())
    }

    /// The next deliveries, at most `max`: waits for the first, then takes
    /// what else is ready. Latest-value events alone are handed out at most
    /// once per delivery window, superseded values coalesced away; stream
    /// events are never held back by the window. Never `None` while the hub lives
    /// (the `Option` lets transports treat a closed source uniformly).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: what it has taken from the log waits in the subscription
    /// (not in a local), so when this future is dropped in a `select!`
    /// before it completes, the next call hands out the same deliveries.
    /// Nothing is lost or repeated.
    pub async fn next_batch(&mut self, max: usize) -> Option<Vec<Delivery>> {
        let max = max.max(1);
        loop {
            self.fill(max);
            match self.next(max) {
                Next::Deliver { n, latest } => return Some(self.take(n, latest)),
                // A permit stored by a publish since the last wait makes
                // this return at once: no wake-up is missed.
                Next::Wait => self.notify.notified().await,
                // A publish ends the wait early: a stream event may have
                // come in behind the latest values.
                Next::WaitUntil(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = self.notify.notified() => {}
                    }
                }
            }
        }
    }

    /// What is ready now, without waiting, coalesced; at most `max`.
    pub fn ready_batch(&mut self, max: usize) -> Vec<Delivery> {
        let max = max.max(1);
        self.fill(max);
        let n = self.pending.len().min(max);
        self.take(n, true)
    }

    /// What to do with the partial batch. Latest values wait out the
    /// delivery window only while nothing else waits behind them: a stream
    /// event is never held back by the window (holding it could let the
    /// history run past this subscriber).
    fn next(&mut self, max: usize) -> Next {
        if self.pending.is_empty() {
            return Next::Wait;
        }
        let n = self.pending.len().min(max);
        match self
            .pending
            .iter()
            .take(n)
            .position(Delivery::is_latest_value)
        {
            None => Next::Deliver { n, latest: false },
            Some(k) if k > 0 => Next::Deliver {
                n: k,
                latest: false,
            },
            Some(_) => {
                let deadline = match self.last_latest {
                    Some(last) if !self.window.is_zero() => last + self.window,
                    _ => return Next::Deliver { n, latest: true },
                };
                let only_latest = self.pending.iter().all(Delivery::is_latest_value);
                if Instant::now() >= deadline || !only_latest {
                    return Next::Deliver { n, latest: true };
                }
                if self.pending.len() >= max {
                    // Full of latest values: keep only the newest of each key.
                    let mut all: Vec<Delivery> = self.pending.drain(..).collect();
                    let dropped = coalesce(&mut all);
                    HubStats::add(&self.hub.inner.stats.coalesced, dropped);
                    self.pending.extend(all);
                    self.pending_bytes = self.pending.iter().map(delivery_bytes).sum();
                    if self.pending.len() >= max {
                        return Next::Deliver {
                            n: max,
                            latest: true,
                        };
                    }
                }
                Next::WaitUntil(deadline)
            }
        }
    }

    fn take(&mut self, n: usize, latest: bool) -> Vec<Delivery> {
        let mut batch: Vec<Delivery> = self.pending.drain(..n).collect();
        self.pending_bytes = self.pending.iter().map(delivery_bytes).sum();
        if latest && batch.iter().any(Delivery::is_latest_value) {
            self.last_latest = Some(Instant::now());
            if !self.window.is_zero() {
                let dropped = coalesce(&mut batch);
                HubStats::add(&self.hub.inner.stats.coalesced, dropped);
            }
        }
        batch
    }

    fn push_pending(&mut self, delivery: Delivery) {
        self.pending_bytes += delivery_bytes(&delivery);
        self.pending.push_back(delivery);
    }

    /// Takes what the log holds after the cursor into `pending`, up to
    /// `max` deliveries and [`MAX_PENDING_BYTES`].
    fn fill(&mut self, max: usize) {
        let room = max.saturating_sub(self.pending.len());
        if room == 0 || (self.pending_bytes >= MAX_PENDING_BYTES && !self.pending.is_empty()) {
            return;
        }
        let pulled = {
            let log = self.hub.read();
            if log.head == self.cursor {
                return;
            }
            self.pull(&log, room)
        };
        match pulled {
            Pulled::Events(events, cursor) => {
                self.cursor = cursor;
                for event in events {
                    self.push_pending(Delivery::Event(event));
                }
            }
            Pulled::Reset(parts) => {
                tracing::debug!(position = %self.position(), "subscriber fell behind the history; resetting");
                HubStats::add(&self.hub.inner.stats.lagged, 1);
                self.cursor = parts.head.seq;
                // What is pending is older than the reset, which replaces it.
                self.pending.clear();
                self.pending_bytes = 0;
                self.push_pending(parts.encode());
            }
        }
    }

    /// Reads, under the lock, the first `room` events after the cursor (in
    /// log order, within the byte bound) and where the cursor goes.
    fn pull(&self, log: &Log, room: usize) -> Pulled {
        let mut events: Vec<Arc<Event>> = Vec::new();
        for channel in &self.channels {
            let Some(ring) = log.channels.get(channel) else {
                continue;
            };
            // One more than fits: tells whether a ring holds more.
            match ring.first_after(self.cursor, room.saturating_add(1)) {
                Ok(after) => events.extend(after.cloned()),
                Err(Gap) => {
                    let kind = SnapshotKind::Reset {
                        reason: "subscriber fell too far behind",
                    };
                    return Pulled::Reset(self.gather(log, &self.channels, kind, log.head));
                }
            }
        }
        if self.channels.len() > 1 {
            events.sort_unstable_by_key(|e| e.position.seq);
        }
        // Each ring gave up to `room + 1`, so the first `room` of the merge
        // are the first `room` after the cursor, and a merge of at most
        // `room` is everything up to the head.
        let mut cursor = log.head;
        if events.len() > room {
            events.truncate(room);
            cursor = events.last().map_or(cursor, |e| e.position.seq);
        }
        events.retain(|e| passes(&self.filters, e));
        let mut bytes = self.pending_bytes;
        if let Some(cut) = events.iter().position(|e| {
            bytes += e.json.len();
            bytes > MAX_PENDING_BYTES
        }) {
            let keep = cut.max(1);
            if keep < events.len() {
                events.truncate(keep);
                cursor = events.last().map_or(cursor, |e| e.position.seq);
            }
        }
        Pulled::Events(events, cursor)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.inner.subscribers.fetch_sub(1, Relaxed);
        let mut log = self.hub.write();
        for channel in &self.channels {
            log.unwatch(channel, self.id);
        }
    }
}

/// True when every event of `channels` after `seq` is still retained.
fn resumable(log: &Log, channels: &[Arc<str>], seq: u64) -> bool {
    channels
        .iter()
        .all(|channel| match log.channels.get(channel) {
            Some(ring) => ring.after(seq).is_ok(),
            // A channel removed while idle may have had events after `seq`.
            None => seq >= log.removed_through,
        })
}

/// Every retained event of `channels` after `seq` that `filters` let
/// through, in log order (the channels are known to be resumable).
fn catch_up(
    log: &Log,
    channels: &[Arc<str>],
    seq: u64,
    filters: &HashMap<Arc<str>, HashSet<Arc<str>>>,
) -> Vec<Arc<Event>> {
    let mut events: Vec<Arc<Event>> = channels
        .iter()
        .filter_map(|c| log.channels.get(c))
        .filter_map(|ring| ring.after(seq).ok())
        .flatten()
        .filter(|e| passes(filters, e))
        .cloned()
        .collect();
    events.sort_unstable_by_key(|e| e.position.seq);
    events
}

fn delivery_bytes(delivery: &Delivery) -> usize {
    delivery.json().len()
}

/// Whether `event` passes the filter of its channel.
fn passes(filters: &HashMap<Arc<str>, HashSet<Arc<str>>>, event: &Event) -> bool {
    filters
        .get(&event.channel)
        .is_none_or(|keys| keys.contains(&event.coalescing_key()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use app::protocol::{Envelope, Snapshot};

    use super::*;
    use crate::hub::HubConfig;

    fn hub(history: usize) -> Hub {
        Hub::with_epoch(
            HubConfig {
                history_events: history,
                coalesce_window: Duration::ZERO,
                ..HubConfig::default()
            },
            7,
        )
    }

    async fn next_one(sub: &mut Subscription) -> Option<Delivery> {
        let mut batch = sub.next_batch(1).await?;
        Some(batch.remove(0))
    }

    fn channels(names: &[&str]) -> Vec<Arc<str>> {
        names.iter().map(|n| Arc::from(*n)).collect()
    }

    async fn next_seqs(sub: &mut Subscription, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(2), next_one(sub)).await {
                Ok(Some(Delivery::Event(e))) => out.push(e.position.seq),
                other => panic!("expected an event, got {other:?}"),
            }
        }
        out
    }

    #[tokio::test]
    async fn resume_delivers_missed_events_then_live_ones_once() {
        let hub = hub(100);
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
        let hub = hub(100);
        hub.publish("a", "message", None, &1).unwrap();
        hub.publish("a", "message", None, &2).unwrap();
        let mut sub = hub.subscribe(channels(&["a"]), Some(Position::new(6, 2)));
        let Some(Delivery::Snapshot {
            kind: SnapshotKind::Reset { .. },
            head,
            json,
            ..
        }) = next_one(&mut sub).await
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
        let hub = hub(1_000);
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
        let hub = hub(10);
        let mut sub = hub.subscribe(channels(&["a"]), Some(hub.head()));
        for i in 0..100 {
            hub.publish("a", "message", None, &i).unwrap();
        }
        match next_one(&mut sub).await {
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

    #[tokio::test]
    async fn a_batch_cancelled_mid_window_loses_and_repeats_nothing() {
        let hub = Hub::with_epoch(
            HubConfig {
                coalesce_window: Duration::from_millis(50),
                ..HubConfig::default()
            },
            7,
        );
        let mut sub = hub.subscribe(channels(&["presence", "room"]), Some(hub.head()));
        let mut seen = Vec::new();
        let mut published = 0u64;
        for round in 0..40u64 {
            hub.publish("presence", "update", Some("ana"), &round)
                .unwrap();
            hub.publish("room", "message", None, &round).unwrap();
            published += 1;
            // Cancel the batch at once, half-way through the window, or not at all.
            let patience = Duration::from_millis([0, 1, 25, 200][round as usize % 4]);
            if let Ok(Some(batch)) = tokio::time::timeout(patience, sub.next_batch(64)).await {
                seen.extend(batch);
            }
        }
        while let Ok(Some(batch)) =
            tokio::time::timeout(Duration::from_millis(200), sub.next_batch(64)).await
        {
            seen.extend(batch);
        }
        let room: Vec<u64> = seen
            .iter()
            .filter_map(|d| match d {
                Delivery::Event(e) if &*e.channel == "room" => Some(e.position.seq),
                _ => None,
            })
            .collect();
        assert_eq!(room.len() as u64, published, "every stream event, once");
        assert!(room.windows(2).all(|w| w[0] < w[1]), "in order");
        let last_presence = seen.iter().rev().find_map(|d| match d {
            Delivery::Event(e) if &*e.channel == "presence" => Some(e.position.seq),
            _ => None,
        });
        assert_eq!(
            last_presence,
            Some(published * 2 - 1),
            "the newest value arrives"
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_stops_reading_holds_a_bounded_batch() {
        let hub = Hub::with_epoch(
            HubConfig {
                history_bytes: 64 << 20,
                coalesce_window: Duration::ZERO,
                ..HubConfig::default()
            },
            7,
        );
        let mut sub = hub.subscribe(channels(&["a"]), Some(hub.head()));
        let payload = "x".repeat(10_000);
        for _ in 0..1_000 {
            hub.publish("a", "message", None, &payload).unwrap();
        }
        let batch = sub.ready_batch(usize::MAX);
        let bytes: usize = batch.iter().map(|d| d.json().len()).sum();
        assert!(bytes <= MAX_PENDING_BYTES + 11_000, "{bytes}");
        assert_eq!(batch.len(), bytes / batch[0].json().len());
        // The rest follows in order, from the log.
        let next = sub.ready_batch(usize::MAX);
        assert_eq!(
            next[0].position().seq,
            batch.last().unwrap().position().seq + 1
        );
    }

    #[tokio::test]
    async fn a_publish_wakes_only_the_subscribers_of_its_channel() {
        let hub = hub(100);
        let mut quiet = hub.subscribe(channels(&["quiet"]), Some(hub.head()));
        for i in 0..100 {
            hub.publish("loud", "message", None, &i).unwrap();
        }
        // No permit was stored for the quiet subscriber: it is not woken.
        let woken = tokio::time::timeout(Duration::from_millis(20), quiet.notify.notified()).await;
        assert!(
            woken.is_err(),
            "the quiet subscriber was woken by another channel"
        );
        hub.publish("quiet", "message", None, &1).unwrap();
        assert_eq!(next_seqs(&mut quiet, 1).await, [101]);
    }

    #[tokio::test]
    async fn added_channels_start_from_a_snapshot_at_the_subscribers_position() {
        let hub = hub(100);
        hub.publish("b", "message", None, &"old").unwrap();
        let mut sub = hub.subscribe(channels(&["a"]), Some(hub.head()));
        hub.publish("a", "message", None, &1).unwrap();
        hub.publish("b", "message", None, &"new").unwrap();
        sub.add_channels(channels(&["b"]), None);
        let batch = sub.ready_batch(10);
        let kinds: Vec<_> = batch
            .iter()
            .map(|d| (d.event_type().to_string(), d.position().seq))
            .collect();
        // The snapshot is taken at the subscriber's position (1), so "new"
        // (3) follows it as an event and "old" (1) is in it.
        assert_eq!(
            kinds,
            [
                ("snapshot".to_string(), 1),
                ("message".to_string(), 2),
                ("message".to_string(), 3)
            ]
        );
    }
}
