//! The hub: livedash's one ordered event log.
//!
//! Every change the server streams is published here as an [`Event`] on a
//! named channel. Publishing assigns the next [`Position`] (strictly
//! increasing across all channels, tagged with this log's epoch), encodes the
//! envelope JSON once, appends it to the channel's bounded [`HistoryRing`]
//! and fans the same `Arc` out to every live subscriber through one bounded
//! broadcast buffer.
//!
//! A [`Subscription`] starts from a position: it first yields what the
//! client missed (from the rings), then live events, each exactly once and
//! in order. When the position is unknown (another epoch, or ahead of the
//! log) or too old (events after it were evicted), it yields a reset
//! carrying a snapshot instead of silently skipping. A subscriber that falls
//! behind the broadcast buffer is caught up the same way, from the rings, so
//! a slow reader costs the publisher and the other readers nothing.

mod history;
mod subscription;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use app::protocol::{Envelope, Position};
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

pub use history::{Gap, HistoryRing};
pub use subscription::{Delivery, SnapshotKind, Subscription};

/// How much the hub retains and buffers.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Most events each channel keeps for resuming clients.
    pub history_events: usize,
    /// Longest time each channel keeps events.
    pub history_age: Duration,
    /// Events buffered for live subscribers before a slow one falls behind
    /// (and is caught up from history instead).
    pub live_buffer: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            history_events: 1000,
            history_age: Duration::from_secs(600),
            live_buffer: 1024,
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
    /// When it was published, Unix milliseconds.
    pub ts: i64,
    /// The whole envelope as JSON.
    pub json: Bytes,
}

/// Why an event could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The payload could not be encoded as JSON.
    #[error("the payload cannot be encoded as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

impl Event {
    /// Builds an event, encoding its envelope.
    pub fn new(
        position: Position,
        channel: Arc<str>,
        event_type: Arc<str>,
        ts: i64,
        data: &impl Serialize,
    ) -> Result<Self, PublishError> {
        let envelope = Envelope {
            id: position,
            channel: channel.to_string(),
            event: event_type.to_string(),
            ts,
            data,
        };
        let json = Bytes::from(serde_json::to_vec(&envelope)?);
        Ok(Self {
            position,
            channel,
            event_type,
            ts,
            json,
        })
    }

    /// The envelope JSON as text.
    pub fn json_str(&self) -> &str {
        // The bytes come from serde_json, which only writes UTF-8.
        std::str::from_utf8(&self.json).expect("serde_json writes UTF-8")
    }
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
    state: Mutex<State>,
    live: broadcast::Sender<Arc<Event>>,
}

#[derive(Debug)]
struct State {
    /// Sequence number of the newest event (0: none yet).
    head: u64,
    channels: HashMap<Arc<str>, HistoryRing>,
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
        let (live, _) = broadcast::channel(config.live_buffer.max(1));
        Self {
            inner: Arc::new(Inner {
                epoch,
                config,
                state: Mutex::new(State {
                    head: 0,
                    channels: HashMap::new(),
                }),
                live,
            }),
        }
    }

    /// This log's epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// The position of the newest event (sequence 0 before the first).
    pub fn head(&self) -> Position {
        Position::new(self.inner.epoch, self.lock().head)
    }

    /// Appends an event and fans it out; returns its position.
    pub fn publish(
        &self,
        channel: &str,
        event_type: &str,
        data: &impl Serialize,
    ) -> Result<Position, PublishError> {
        let mut state = self.lock();
        let position = Position::new(self.inner.epoch, state.head + 1);
        let channel: Arc<str> = match state.channels.get_key_value(channel) {
            Some((name, _)) => name.clone(),
            None => Arc::from(channel),
        };
        let event = Arc::new(Event::new(
            position,
            channel.clone(),
            Arc::from(event_type),
            now_ms(),
            data,
        )?);
        state.head = position.seq;
        let config = &self.inner.config;
        state
            .channels
            .entry(channel)
            .or_insert_with(|| HistoryRing::new(config.history_events, config.history_age))
            .push(event.clone());
        // Sent under the lock so live order equals log order. No receiver is
        // not an error: nobody is listening.
        let _ = self.inner.live.send(event);
        Ok(position)
    }

    /// The head position and every retained event of `channel`, oldest first.
    pub fn history(&self, channel: &str) -> (Position, Vec<Arc<Event>>) {
        let mut state = self.lock();
        let head = Position::new(self.inner.epoch, state.head);
        let events = match state.channels.get_mut(channel) {
            Some(ring) => {
                ring.expire(now_ms());
                ring.iter().cloned().collect()
            }
            None => Vec::new(),
        };
        (head, events)
    }

    /// Subscribes to `channels`, resuming after `since` (`None`: start with
    /// a snapshot of the channels' current state).
    pub fn subscribe(&self, channels: Vec<Arc<str>>, since: Option<Position>) -> Subscription {
        Subscription::new(self.clone(), channels, since)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the log consistent (every
        // mutation is a single push), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
