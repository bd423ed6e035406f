//! The hub: livedash's one ordered event log.
//!
//! Every change the server streams is published here as an [`Event`] on a
//! named channel. Publishing encodes the envelope JSON once (outside the
//! lock), then under the lock assigns the next [`Position`] (strictly
//! increasing across all channels, tagged with this log's epoch) and
//! appends the event to the channel's bounded [`HistoryRing`]. Then, outside
//! the lock, it wakes the subscribers of that channel and no others.
//!
//! A [`Subscription`] is a cursor into the log: it reads what its channels
//! hold after its position straight from the rings, each event exactly once
//! and in order. When its position is unknown (another epoch, or ahead of
//! the log) or too old (events after it were evicted), it yields a reset
//! carrying a snapshot instead of silently skipping. Nothing is queued per
//! subscriber, so a slow reader costs the publisher and the other readers
//! nothing, and its own memory is one bounded batch.
//!
//! Memory is bounded whatever clients do (see `log`): per channel by count,
//! bytes and age; over all channels by a byte budget; the number of
//! channels by a cap; and idle channels expire ([`Hub::run_janitor`]).
//! Publishes that would break a bound are refused whole
//! ([`PublishError`]).

mod coalesce;
mod history;
mod log;
mod stats;
mod subscription;
pub mod wire;

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
        Arc, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use app::protocol::Position;
use bytes::Bytes;
use serde::Serialize;

pub use coalesce::{coalesce, ChannelKind};
pub use history::{Freed, Gap, HistoryRing};
pub use stats::{HubReport, HubStats};
pub use subscription::{Delivery, SnapshotKind, SubscribeRequest, Subscription};

use log::Log;

/// How much the hub retains.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Most events each channel keeps for resuming clients.
    pub history_events: usize,
    /// Most bytes of events each channel keeps.
    pub history_bytes: usize,
    /// Most bytes of events all channels keep together; past it the oldest
    /// events of the whole log are evicted first.
    pub history_budget: usize,
    /// Longest time each channel keeps events; also how long a channel
    /// nobody follows lives after its last event.
    pub history_age: Duration,
    /// Most channels with history; a publish that would create one more is
    /// refused.
    pub max_channels: usize,
    /// The delivery window of latest-value channels: each key of such a
    /// channel reaches a subscriber at most once per window (zero: no limit).
    pub coalesce_window: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            history_events: 1000,
            history_bytes: 16 << 20,
            history_budget: 256 << 20,
            history_age: Duration::from_secs(600),
            max_channels: 10_000,
            coalesce_window: Duration::from_millis(100),
        }
    }
}

/// One published event, encoded once and shared by every subscriber.
#[derive(Debug)]
pub struct Event {
    /// Where the event sits in the log.
    pub position: Position,
    /// The channel it was published to.
    pub channel: Arc<str>,
    /// Its type.
    pub event_type: Arc<str>,
    /// What the event is the latest value of, on latest-value channels
    /// (for example a host name); `None`: the event type is the key.
    pub key: Option<Arc<str>>,
    /// When it was published, Unix milliseconds.
    pub ts: i64,
    /// The whole envelope as JSON (poll batches, snapshots): a slice of
    /// `sse`.
    pub json: Bytes,
    /// The event as one Server-Sent Events frame, `data:` being `json`.
    pub sse: Bytes,
    /// The WebSocket message: the envelope with `"type":"event"` in front.
    pub ws_json: Bytes,
}

/// Why an event could not be published. Nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The payload could not be encoded as JSON.
    #[error("the payload cannot be encoded as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    /// The event alone is larger than a channel may retain.
    #[error("the event takes {size} bytes; a channel retains at most {limit}")]
    TooLarge {
        /// The event's size.
        size: usize,
        /// The bound it breaks.
        limit: usize,
    },
    /// The publish would create a channel past the cap.
    #[error("livedash holds at most {limit} channels; publish to an existing one or wait for idle ones to expire")]
    TooManyChannels {
        /// The cap.
        limit: usize,
    },
}

/// What an event costs beside its encoded bytes (the struct, its `Arc`s,
/// its slot in a ring), for the byte bounds.
const EVENT_OVERHEAD: usize = 160;

/// The bytes an event with this encoded body will hold once placed: its
/// SSE frame (the envelope, which is the body plus an id, with the `id:`,
/// `event:` and `data:` lines around it) and its WebSocket message (the
/// envelope plus a type).
fn placed_size(body_len: usize, event_type_len: usize) -> usize {
    2 * (body_len + 48) + event_type_len + 72 + EVENT_OVERHEAD
}

impl Event {
    /// Builds an event, encoding its envelope.
    pub fn new(
        position: Position,
        channel: Arc<str>,
        event_type: Arc<str>,
        key: Option<Arc<str>>,
        ts: i64,
        data: &impl Serialize,
    ) -> Result<Self, PublishError> {
        let body = wire::encode_body(&channel, &event_type, key.as_deref(), ts, data)?;
        Ok(Self::placed(position, channel, event_type, key, ts, &body))
    }

    /// Builds an event from its envelope encoded without the id
    /// ([`wire::encode_body`]): only the id is written here, so the hub can
    /// encode payloads before it takes its lock and just place them under it.
    fn placed(
        position: Position,
        channel: Arc<str>,
        event_type: Arc<str>,
        key: Option<Arc<str>>,
        ts: i64,
        body: &[u8],
    ) -> Self {
        let (sse, json) = wire::sse_event(position, &event_type, body);
        let ws_json = wire::ws_frame("event", &json);
        Self {
            position,
            channel,
            event_type,
            key,
            ts,
            json,
            sse,
            ws_json,
        }
    }

    /// The bytes this event holds, as the history bounds count them.
    pub fn size(&self) -> usize {
        self.sse.len() + self.ws_json.len() + EVENT_OVERHEAD
    }

    /// The key under which this event replaces older ones on a
    /// latest-value channel.
    pub fn coalescing_key(&self) -> Arc<str> {
        self.key.clone().unwrap_or_else(|| self.event_type.clone())
    }

    /// The envelope JSON as text.
    pub fn json_str(&self) -> &str {
        // The bytes come from serde_json, which only writes UTF-8.
        std::str::from_utf8(&self.json).expect("serde_json writes UTF-8")
    }
}

/// One event to publish.
#[derive(Debug, Clone)]
pub struct NewEvent<T> {
    /// The channel.
    pub channel: String,
    /// The event type.
    pub event_type: String,
    /// The key it is the latest value of (latest-value channels).
    pub key: Option<String>,
    /// The payload.
    pub data: T,
}

/// The event log. Cheap to clone; all clones are the same log.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    epoch: u64,
    config: HubConfig,
    log: RwLock<Log>,
    stats: HubStats,
    next_subscriber: AtomicU64,
    subscribers: AtomicUsize,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Hub {
    /// A new, empty log whose epoch is the current time in milliseconds, so
    /// positions from an earlier run of the server are recognised as unknown.
    pub fn new(config: HubConfig) -> Self {
        let epoch = u64::try_from(now_ms()).unwrap_or(0);
        Self::with_epoch(config, epoch)
    }

    /// A new, empty log with the given epoch.
    pub fn with_epoch(config: HubConfig, epoch: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                epoch,
                config,
                log: RwLock::new(Log::new()),
                stats: HubStats::default(),
                next_subscriber: AtomicU64::new(1),
                subscribers: AtomicUsize::new(0),
            }),
        }
    }

    /// The configured delivery window of latest-value channels.
    pub fn coalesce_window(&self) -> Duration {
        self.inner.config.coalesce_window
    }

    /// The hub's counters and current levels.
    pub fn report(&self) -> HubReport {
        let mut report = self.inner.stats.read();
        let log = self.read();
        report.channels = log.channels.len();
        report.history_events = log.channels.values().map(HistoryRing::len).sum();
        report.history_bytes = log.bytes;
        report.history_budget = self.inner.config.history_budget;
        report.subscribers = self.inner.subscribers.load(Relaxed);
        report
    }

    /// This log's epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// The position of the newest event (sequence 0 before the first).
    pub fn head(&self) -> Position {
        Position::new(self.inner.epoch, self.read().head)
    }

    /// Appends an event and fans it out; returns its position.
    pub fn publish(
        &self,
        channel: &str,
        event_type: &str,
        key: Option<&str>,
        data: &impl Serialize,
    ) -> Result<Position, PublishError> {
        let event = NewEvent {
            channel: channel.to_string(),
            event_type: event_type.to_string(),
            key: key.map(str::to_string),
            data,
        };
        let mut positions = self.publish_batch(std::slice::from_ref(&event))?;
        Ok(positions.remove(0))
    }

    /// Appends several events in order, at consecutive positions, with no
    /// other event between them; all or none (an encoding error or a broken
    /// bound publishes nothing). Wakes only the subscribers of the events'
    /// channels.
    pub fn publish_batch<T: Serialize>(
        &self,
        events: &[NewEvent<T>],
    ) -> Result<Vec<Position>, PublishError> {
        // Payloads are encoded before the lock is taken: a large one must
        // not hold up other publishers and subscribers.
        let ts = now_ms();
        let bodies = events
            .iter()
            .map(|new| {
                wire::encode_body(
                    &new.channel,
                    &new.event_type,
                    new.key.as_deref(),
                    ts,
                    &new.data,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sizes: Vec<(&str, usize)> = events
            .iter()
            .zip(&bodies)
            .map(|(new, body)| {
                (
                    new.channel.as_str(),
                    placed_size(body.len(), new.event_type.len()),
                )
            })
            .collect();
        let config = &self.inner.config;
        let mut to_wake = Vec::new();
        let mut positions = Vec::with_capacity(events.len());
        let mut evicted = 0;
        {
            let mut log = self.write();
            if let Err(error) = log.check(config, &sizes) {
                HubStats::add(&self.inner.stats.refused, events.len());
                return Err(error);
            }
            for (new, body) in events.iter().zip(&bodies) {
                let position = Position::new(self.inner.epoch, log.head + 1);
                let channel = log
                    .name(&new.channel)
                    .unwrap_or_else(|| Arc::from(new.channel.as_str()));
                let event = Arc::new(Event::placed(
                    position,
                    channel.clone(),
                    Arc::from(new.event_type.as_str()),
                    new.key.as_deref().map(Arc::from),
                    ts,
                    body,
                ));
                evicted += log.append(config, event).events;
                positions.push(position);
                if !to_wake.iter().any(|(c, _)| *c == channel) {
                    if let Some(watchers) = log.watchers(&channel) {
                        to_wake.push((channel, watchers));
                    }
                }
            }
        }
        // Woken outside the lock: each wakes up wanting to read.
        for (_, watchers) in to_wake {
            for (_, notify) in watchers.iter() {
                notify.notify_one();
            }
        }
        HubStats::add(&self.inner.stats.published, positions.len());
        HubStats::add(&self.inner.stats.evicted, evicted);
        Ok(positions)
    }

    /// Whether publishing to `channel` can matter to anyone: someone
    /// follows it, or it keeps history a client may resume from. A source
    /// whose events are costly may skip publishing otherwise.
    pub fn is_live(&self, channel: &str) -> bool {
        self.read().name(channel).is_some()
    }

    /// Opens `channel` for a reader that first reads elsewhere the state
    /// its events describe, then follows it (a page reads the metrics
    /// store, then follows `series`). From now on the channel is live
    /// ([`Hub::is_live`]), so a source that publishes only to live
    /// channels publishes what it stores meanwhile; and the head position
    /// is taken under the same lock. A subscription resuming from the
    /// returned position therefore gets every event published after the
    /// reader's read began. Refused when the channel cap leaves no room.
    pub fn open(&self, channel: &str) -> Result<Position, PublishError> {
        let mut log = self.write();
        if !log.open(&self.inner.config, channel) {
            return Err(PublishError::TooManyChannels {
                limit: self.inner.config.max_channels,
            });
        }
        Ok(Position::new(self.inner.epoch, log.head))
    }

    /// The head position and every retained event of `channel`, oldest first.
    pub fn history(&self, channel: &str) -> (Position, Vec<Arc<Event>>) {
        let log = self.read();
        let head = Position::new(self.inner.epoch, log.head);
        let events = match log.channels.get(channel) {
            Some(ring) => ring.iter().cloned().collect(),
            None => Vec::new(),
        };
        (head, events)
    }

    /// Applies the age bound to every channel and removes idle ones (see
    /// [`HubConfig::history_age`]).
    pub fn sweep(&self) {
        let (evicted, expired) = self.write().sweep(&self.inner.config, now_ms());
        HubStats::add(&self.inner.stats.evicted, evicted);
        HubStats::add(&self.inner.stats.channels_expired, expired);
        if expired > 0 {
            tracing::debug!(expired, "idle channels removed");
        }
    }

    /// Sweeps ([`Hub::sweep`]) every `interval` until `stop` completes. The
    /// server owns this task.
    pub async fn run_janitor(self, interval: Duration, stop: impl Future<Output = ()>) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => self.sweep(),
            }
        }
    }

    /// Subscribes to `channels`, resuming after `since` (`None`: start with
    /// a snapshot of the channels' current state).
    pub fn subscribe(&self, channels: Vec<Arc<str>>, since: Option<Position>) -> Subscription {
        self.subscribe_with(SubscribeRequest {
            channels,
            since,
            ..SubscribeRequest::default()
        })
    }

    /// Subscribes as `request` says: some channels resumed, some fresh,
    /// some filtered by key.
    pub fn subscribe_with(&self, request: SubscribeRequest) -> Subscription {
        Subscription::new(self.clone(), request)
    }

    fn read(&self) -> RwLockReadGuard<'_, Log> {
        // A panic while holding this lock leaves the log consistent (every
        // mutation is completed before the next begins), so a poisoned lock
        // is still usable.
        self.inner
            .log
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Log> {
        self.inner
            .log
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod resume_property;

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(config: HubConfig) -> Hub {
        Hub::with_epoch(config, 3)
    }

    #[test]
    fn a_publish_past_the_channel_cap_is_refused_and_changes_nothing() {
        let hub = hub(HubConfig {
            max_channels: 2,
            ..HubConfig::default()
        });
        hub.publish("a", "m", None, &1).unwrap();
        hub.publish("b", "m", None, &1).unwrap();
        let batch = [("a", 2), ("c", 3)].map(|(channel, data)| NewEvent {
            channel: channel.to_string(),
            event_type: "m".to_string(),
            key: None,
            data,
        });
        assert!(matches!(
            hub.publish_batch(&batch),
            Err(PublishError::TooManyChannels { limit: 2 })
        ));
        assert_eq!(hub.head().seq, 2, "nothing of the batch was published");
        assert_eq!(hub.history("a").1.len(), 1);
        hub.publish("a", "m", None, &3).unwrap();
        assert_eq!(hub.report().refused, 2);
    }

    #[test]
    fn an_event_larger_than_a_channel_may_hold_is_refused() {
        let hub = hub(HubConfig {
            history_bytes: 4096,
            ..HubConfig::default()
        });
        let big = "x".repeat(4096);
        assert!(matches!(
            hub.publish("a", "m", None, &big),
            Err(PublishError::TooLarge { limit: 4096, .. })
        ));
        assert_eq!(hub.report().channels, 0);
    }

    #[test]
    fn the_global_budget_evicts_the_oldest_events_of_the_whole_log_first() {
        let hub = hub(HubConfig {
            history_budget: 10_000,
            ..HubConfig::default()
        });
        for i in 0..1_000 {
            hub.publish(&format!("c{i}"), "m", None, &i).unwrap();
        }
        let report = hub.report();
        assert!(report.history_bytes <= 10_000, "{report:?}");
        assert!(report.channels < 100, "emptied idle channels are removed");
        assert!(hub.history("c999").1.len() == 1, "the newest survives");
        assert!(hub.history("c0").1.is_empty(), "the oldest went first");
    }

    #[test]
    fn an_opened_channel_is_live_and_a_resume_from_its_position_gets_what_follows() {
        let hub = hub(HubConfig {
            max_channels: 2,
            ..HubConfig::default()
        });
        hub.publish("other", "m", None, &0).unwrap();
        assert!(!hub.is_live("series"));
        let position = hub.open("series").unwrap();
        assert_eq!(position, hub.head());
        assert!(hub.is_live("series"), "live before its first event");
        assert_eq!(
            hub.open("series").unwrap(),
            position,
            "opening twice is harmless"
        );
        hub.publish("series", "points", Some("up"), &1).unwrap();
        let mut resumed = hub.subscribe(vec![Arc::from("series")], Some(position));
        let batch = resumed.ready_batch(10);
        assert_eq!(batch.len(), 1);
        assert!(matches!(&batch[0], Delivery::Event(e) if e.channel.as_ref() == "series"));
        assert!(matches!(
            hub.open("third"),
            Err(PublishError::TooManyChannels { limit: 2 })
        ));
        assert!(!hub.is_live("third"));
    }

    #[test]
    fn an_opened_channel_stays_live_after_a_passing_reader() {
        let hub = hub(HubConfig::default());
        let position = hub.open("series").unwrap();
        // The page's catch-up poll: a subscription that comes and goes.
        drop(hub.subscribe(vec![Arc::from("series")], Some(position)));
        assert!(hub.is_live("series"), "still live for the page's stream");
        hub.publish("series", "points", Some("up"), &1).unwrap();
        let mut stream = hub.subscribe(vec![Arc::from("series")], Some(position));
        assert_eq!(stream.ready_batch(10).len(), 1, "what was stored meanwhile");
    }

    #[test]
    fn idle_channels_expire_unless_watched_or_owned_by_the_server() {
        let hub = hub(HubConfig {
            history_age: Duration::from_millis(1),
            ..HubConfig::default()
        });
        hub.publish("gone", "m", None, &1).unwrap();
        hub.publish("watched", "m", None, &1).unwrap();
        hub.publish("metrics", "m", None, &1).unwrap();
        let subscription = hub.subscribe(vec![Arc::from("watched")], None);
        std::thread::sleep(Duration::from_millis(5));
        hub.sweep();
        assert!(hub.history("gone").1.is_empty());
        assert_eq!(hub.history("watched").1.len(), 1);
        assert_eq!(hub.history("metrics").1.len(), 1);
        assert_eq!(hub.report().channels_expired, 1);
        drop(subscription);
        hub.sweep();
        assert!(hub.history("watched").1.is_empty());
        // A resume from before the removal cannot know what it missed there.
        let mut resumed = hub.subscribe(vec![Arc::from("gone")], Some(Position::new(3, 0)));
        assert!(matches!(
            resumed.ready_batch(10).first(),
            Some(Delivery::Snapshot {
                kind: SnapshotKind::Reset { .. },
                ..
            })
        ));
    }
}
