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

mod coalesce;
mod history;
mod subscription;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use app::protocol::Position;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::counters::{Counters, HubLevels};

pub use coalesce::{coalesce, ChannelKind};
pub use history::{Gap, HistoryRing};
pub use subscription::{Delivery, SnapshotKind, SubscribeRequest, Subscription};

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
    /// The delivery window of latest-value channels: each key of such a
    /// channel reaches a subscriber at most once per window (zero: no limit).
    pub coalesce_window: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            history_events: 1000,
            history_age: Duration::from_secs(600),
            live_buffer: 1024,
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
    /// The whole envelope as JSON (SSE `data:`, poll batches).
    pub json: Bytes,
    /// The WebSocket message: the envelope with `"type":"event"` in front.
    pub ws_json: Bytes,
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
        key: Option<Arc<str>>,
        ts: i64,
        data: &impl Serialize,
    ) -> Result<Self, PublishError> {
        let body = encode_body(&channel, &event_type, key.as_deref(), ts, data)?;
        Ok(Self::placed(position, channel, event_type, key, ts, &body))
    }

    /// Builds an event from its envelope encoded without the id
    /// ([`encode_body`]): only the id is written here, so the hub can encode
    /// payloads before it takes its lock and just place them under it.
    fn placed(
        position: Position,
        channel: Arc<str>,
        event_type: Arc<str>,
        key: Option<Arc<str>>,
        ts: i64,
        body: &[u8],
    ) -> Self {
        let encoded = with_leading_field(format!("\"id\":\"{position}\"").as_bytes(), body);
        let ws_json = ws_frame("event", &encoded);
        Self {
            position,
            channel,
            event_type,
            key,
            ts,
            json: Bytes::from(encoded),
            ws_json,
        }
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

/// `{"type":"<kind>", ...}`: a WebSocket message made from an envelope's JSON
/// object by putting the message type in front.
pub fn ws_frame(kind: &str, envelope_json: &[u8]) -> Bytes {
    Bytes::from(with_leading_field(
        format!("\"type\":\"{kind}\"").as_bytes(),
        envelope_json,
    ))
}

/// The JSON object `object` with `field` (an encoded `"name":value`) put
/// first, without decoding anything.
fn with_leading_field(field: &[u8], object: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object.len() + field.len() + 2);
    out.push(b'{');
    out.extend_from_slice(field);
    match object.get(1..) {
        Some(rest) if rest.len() > 1 => {
            out.push(b',');
            out.extend_from_slice(rest);
        }
        _ => out.push(b'}'),
    }
    out
}

/// An event's envelope without its id, as JSON: everything that does not
/// depend on where the event lands in the log.
fn encode_body(
    channel: &str,
    event: &str,
    key: Option<&str>,
    ts: i64,
    data: &impl Serialize,
) -> Result<Vec<u8>, PublishError> {
    /// [`app::protocol::Envelope`] without `id`, field for field.
    #[derive(Serialize)]
    struct Body<'a, T> {
        channel: &'a str,
        event: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<&'a str>,
        ts: i64,
        data: &'a T,
    }
    Ok(serde_json::to_vec(&Body {
        channel,
        event,
        key,
        ts,
        data,
    })?)
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
    state: Mutex<State>,
    live: broadcast::Sender<Arc<Event>>,
    counters: Arc<Counters>,
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
    pub fn new(config: HubConfig, counters: Arc<Counters>) -> Self {
        let epoch = u64::try_from(now_ms()).unwrap_or(0);
        Self::with_epoch(config, counters, epoch)
    }

    /// A new, empty log with the given epoch.
    pub fn with_epoch(config: HubConfig, counters: Arc<Counters>, epoch: u64) -> Self {
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
                counters,
            }),
        }
    }

    /// The configured delivery window of latest-value channels.
    pub fn coalesce_window(&self) -> Duration {
        self.inner.config.coalesce_window
    }

    /// The counters this hub reports to.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.inner.counters
    }

    /// The buffer levels, for `/metrics`.
    pub fn levels(&self) -> HubLevels {
        let state = self.lock();
        HubLevels {
            live_buffered: self.inner.live.len(),
            live_capacity: self.inner.config.live_buffer.max(1),
            history_events: state.channels.values().map(HistoryRing::len).sum(),
            channels: state.channels.len(),
            subscribers: self.inner.live.receiver_count(),
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
    /// other event between them; all or none (an encoding error publishes
    /// nothing).
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
                encode_body(
                    &new.channel,
                    &new.event_type,
                    new.key.as_deref(),
                    ts,
                    &new.data,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = self.lock();
        let mut encoded = Vec::with_capacity(events.len());
        for (offset, (new, body)) in events.iter().zip(&bodies).enumerate() {
            let position = Position::new(self.inner.epoch, state.head + 1 + offset as u64);
            let channel: Arc<str> = match state.channels.get_key_value(new.channel.as_str()) {
                Some((name, _)) => name.clone(),
                None => Arc::from(new.channel.as_str()),
            };
            let key = new.key.as_deref().map(Arc::from);
            encoded.push(Arc::new(Event::placed(
                position,
                channel,
                Arc::from(new.event_type.as_str()),
                key,
                ts,
                body,
            )));
        }
        let config = &self.inner.config;
        let mut positions = Vec::with_capacity(encoded.len());
        for event in encoded {
            state.head = event.position.seq;
            positions.push(event.position);
            state
                .channels
                .entry(event.channel.clone())
                .or_insert_with(|| HistoryRing::new(config.history_events, config.history_age))
                .push(event.clone());
            // Sent under the lock so live order equals log order. No
            // receiver is not an error: nobody is listening.
            let _ = self.inner.live.send(event);
        }
        self.inner
            .counters
            .published
            .fetch_add(positions.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(positions)
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the log consistent (every
        // mutation is a single push), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod resume_property;

#[cfg(test)]
mod tests {
    use app::protocol::Envelope;
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_is_encoded_exactly_as_the_shared_envelope_type() {
        for key in [None, Some(Arc::<str>::from("web-\"1\""))] {
            let data = json!({"text": "hé \"quoted\"", "n": [1, 2.5, null]});
            let position = Position::new(1_795_399_686_776, 42);
            let event = Event::new(
                position,
                "dashboard:main".into(),
                "note".into(),
                key.clone(),
                1_795_399_689_980,
                &data,
            )
            .unwrap();
            let expected = serde_json::to_vec(&Envelope {
                id: position,
                channel: "dashboard:main".to_string(),
                event: "note".to_string(),
                key: key.as_deref().map(str::to_string),
                ts: 1_795_399_689_980,
                data: &data,
            })
            .unwrap();
            assert_eq!(event.json_str(), std::str::from_utf8(&expected).unwrap());
            let frame: serde_json::Value = serde_json::from_slice(&event.ws_json).unwrap();
            assert_eq!(frame["type"], "event");
            assert_eq!(frame["id"], "1795399686776-42");
        }
    }
}
