//! The wire protocol: every type that crosses the network between the server
//! and a browser (or any other program) lives here and nowhere else.
//!
//! This module depends on serde only, never on Leptos, so that tools such as
//! a load generator can speak the protocol without pulling in the UI.
//!
//! Every event the server streams is an [`Envelope`]: the channel it belongs
//! to, its [`Position`] in the server's one ordered log, a timestamp, an event
//! type and a JSON payload. Clients resume from the last position they
//! applied.
//!
//! - [`channel`](ChannelKind): what a channel name may be and how its events
//!   relate (latest values or a stream).
//! - [`ClientMessage`] and [`ServerMessage`]: the WebSocket protocol.
//! - [`PublishBody`], [`PollReply`], [`ErrorBody`]: the HTTP API's bodies.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod annotation;
mod channel;
mod http;
mod messages;
mod series;

pub use annotation::{
    Annotation, AnnotationList, ANNOTATION_EVENT, ANNOTATION_REMOVED_EVENT,
    DASHBOARD_CHANNEL_PREFIX, DASHBOARD_EVENT, DASHBOARD_REMOVED_EVENT, MAX_ANNOTATION_CHARS,
    OPEN_END, PRESENCE_EVENT, PRESENCE_EVERY_MS,
};
pub use channel::{
    notify_channel, server_owned, snapshot_replaces, validate_channel, ChannelKind,
    ChannelNameError, ALERTS_CHANNEL, ALERT_EVENT, MAX_CHANNELS_PER_SUBSCRIPTION, MAX_CHANNEL_LEN,
    MAX_FILTER_KEYS, NOTIFICATION_EVENT, NOTIFY_CHANNEL_PREFIX, RULES_EVENT, SERIES_CHANNEL,
    SERIES_EVENT, SERVER_CHANNELS, SILENCES_EVENT,
};
pub use http::{ErrorBody, ErrorDetail, PollReply, PublishBody, PublishReply, PublishRequest};
pub use messages::{ClientMessage, ServerMessage, SnapshotMessage};
pub use series::{
    validate_label_name, validate_metric_name, IngestPoint, IngestReply, RefusedPoint, SeriesError,
    SeriesKey, SeriesPoints, SeriesReply, TargetStatus, MAX_NAME_LEN, STATUS_CHANNEL, TARGET_EVENT,
};

/// The channel that carries host samples, one event per sample (the page
/// reads the host's series on [`SERIES_CHANNEL`] instead).
pub const METRICS_CHANNEL: &str = "metrics";
/// The event type of a [`HostSample`] on the metrics channel.
pub const METRICS_EVENT: &str = "metrics";
/// The event type that tells a client its position is unknown or too old:
/// it must drop its state and rebuild it from the [`Snapshot`] it carries.
pub const RESET_EVENT: &str = "reset";
/// The event type that opens a stream for a client that gave no position:
/// a [`Snapshot`] of the current state of its channels.
pub const SNAPSHOT_EVENT: &str = "snapshot";

/// A place in the server's event log.
///
/// Positions are strictly increasing across the whole log. The `epoch`
/// identifies one life of the log: a server restarted with an in-memory log
/// starts a new epoch, so a position from an earlier life is recognised as
/// unknown instead of being silently misread. On the wire a position is the
/// string `"<epoch>-<seq>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Which life of the log this position belongs to.
    pub epoch: u64,
    /// The event's sequence number within its epoch, starting at 1.
    pub seq: u64,
}

impl Position {
    /// Creates a position.
    pub const fn new(epoch: u64, seq: u64) -> Self {
        Self { epoch, seq }
    }

    /// True when `self` comes after `other` in the same epoch.
    pub fn is_after(&self, other: &Position) -> bool {
        self.epoch == other.epoch && self.seq > other.seq
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

/// Why a string is not a [`Position`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid position {input:?}: expected \"<epoch>-<seq>\" with two unsigned integers")]
pub struct PositionParseError {
    /// The text that failed to parse (truncated to 64 characters).
    pub input: String,
}

impl FromStr for Position {
    type Err = PositionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || PositionParseError {
            input: s.chars().take(64).collect(),
        };
        let (epoch, seq) = s.split_once('-').ok_or_else(error)?;
        let digits = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error());
            }
            part.parse::<u64>().map_err(|_| error())
        };
        Ok(Position::new(digits(epoch)?, digits(seq)?))
    }
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One event as every transport delivers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The event's position in the log; what a client resumes from.
    pub id: Position,
    /// The channel the event was published to.
    pub channel: String,
    /// The event type (for example `metrics`, `reset` or `message`).
    pub event: String,
    /// On latest-value channels, what the event is the newest value of
    /// (for example a host name); absent when the event type is the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// When the event was published, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The payload.
    pub data: T,
}

/// The event type of a server heartbeat (SSE named event, WebSocket message).
pub const HEARTBEAT_EVENT: &str = "heartbeat";

impl<T> Envelope<T> {
    /// The key under which this event replaces older ones on a
    /// latest-value channel: its `key`, or its event type.
    pub fn coalescing_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.event)
    }
}

/// The payload of `snapshot` and `reset` events: the current state of the
/// subscribed channels, as the newest event of each.
///
/// The envelope that carries a snapshot has the log's head position as its
/// id, so a client that applies the snapshot resumes from there: events in
/// the snapshot keep their own (older) ids but are never delivered again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Why the client's position could not be honoured (`reset` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The newest event of each subscribed channel that has one, oldest first.
    pub events: Vec<Envelope<serde_json::Value>>,
}

/// One sample of the server's own host, taken every sample interval and
/// published whole on the `metrics` channel, for programs that want the
/// host's state as one event. The same sample is stored as series
/// (`livedash_host_cpu_percent{host}` and the rest), which is what the
/// page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostSample {
    /// When the sample was taken, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The host's name.
    pub host: String,
    /// Total CPU use over the last interval, 0 to 100.
    pub cpu_percent: f32,
    /// CPU use of each core over the last interval, 0 to 100.
    pub cores_percent: Vec<f32>,
    /// Memory in use, in bytes.
    pub memory_used_bytes: u64,
    /// Installed memory, in bytes.
    pub memory_total_bytes: u64,
    /// Load average over 1, 5 and 15 minutes.
    pub load_average: LoadAverage,
    /// Bytes received per second over the last interval, all interfaces but loopback.
    pub net_rx_bytes_per_sec: f64,
    /// Bytes sent per second over the last interval, all interfaces but loopback.
    pub net_tx_bytes_per_sec: f64,
}

impl HostSample {
    /// Memory in use as a percentage of installed memory (0 when unknown).
    pub fn memory_percent(&self) -> f32 {
        crate::format::ratio_percent(self.memory_used_bytes, self.memory_total_bytes)
    }
}

/// The system load average.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadAverage {
    /// Over the last minute.
    pub one: f64,
    /// Over the last five minutes.
    pub five: f64,
    /// Over the last fifteen minutes.
    pub fifteen: f64,
}

/// What the server renders into the page so that it shows data before any
/// script runs, and so that the live client knows where to resume from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// The log position the page's data is as of: every point stored
    /// after it reaches the page on the `series` channel (a point may be
    /// both here and there; the page keeps each time once).
    pub position: Option<Position>,
    /// The host the page shows (the server's own; empty: none).
    #[serde(default)]
    pub host: String,
    /// The series the page shows, from the metrics store, points oldest
    /// first: the CPU chart's over its span, each card's newest point.
    #[serde(default)]
    pub series: Vec<SeriesPoints>,
    /// The server's heartbeat interval in milliseconds.
    pub heartbeat_ms: u64,
    /// How the page reconnects.
    #[serde(default)]
    pub reconnect: ReconnectSettings,
    /// The server's clock when it rendered the page (Unix ms): where a
    /// live chart's window ends before the browser's clock takes over.
    #[serde(default)]
    pub now_ms: i64,
    /// The page is on a wall screen (`?kiosk`): no controls, every chart
    /// drawn always.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kiosk: bool,
    /// The dashboard the page shows (`/d/<id>`); `None`: the host overview.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::dashboard::read::optional"
    )]
    pub dashboard: Option<crate::dashboard::Dashboard>,
    /// Each widget's series as the page first shows them (the dashboard's
    /// default range), by widget id: values before any script has run.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "read_widget_series"
    )]
    pub widget_series: Vec<WidgetSeries>,
    /// The dashboard is built in (the host overview), not a file: nothing
    /// saves it, so the page does not follow its channel for saves.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_in: bool,
    /// Each text widget's Markdown as HTML, by widget id: rendered by the
    /// server (`ui::cards::markdown`), so the page needs no Markdown reader.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "read_pairs"
    )]
    pub text_html: Vec<(String, String)>,
    /// The lines of the alert rules that read a chart's series, by widget
    /// id: a JSON list of thresholds, as `options.thresholds` holds them.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "read_pairs"
    )]
    pub rule_lines: Vec<(String, String)>,
    /// Alerts firing when the page was rendered.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub firing: u32,
    /// How many of them are critical.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub critical: u32,
    /// On the home page (`/`), the list of dashboards below its dashboard,
    /// as HTML the server rendered (`ui::cards::dashboard_list`); empty
    /// elsewhere.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dashboard_list: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

// The bootstrap's lists are read through a JSON value, by hand: serde's
// derived readers of tuples in lists cost the bundle some 2 KB. An entry
// that does not read is left out.

/// A widget's id and the series of each of its selectors, in order.
pub type WidgetSeries = (String, Vec<Vec<SeriesPoints>>);

fn read_widget_series<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<WidgetSeries>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    let list = |value: &serde_json::Value| -> Vec<SeriesPoints> {
        value
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|s| serde_json::from_value(s.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(value
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| {
                    let id = entry.get(0)?.as_str()?.to_string();
                    let queries = entry.get(1)?.as_array()?.iter().map(list).collect();
                    Some((id, queries))
                })
                .collect()
        })
        .unwrap_or_default())
}

fn read_pairs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    Ok(text_pairs(&serde_json::Value::deserialize(deserializer)?))
}

/// Parses JSON text into `T` through a [`serde_json::Value`].
///
/// The browser reads every message this way: each type then has one
/// deserializer in the WASM bundle (from a `Value`, which the socket's
/// messages need anyway) instead of a second one from text, which costs
/// kilobytes per type.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str::<serde_json::Value>(text).and_then(serde_json::from_value)
}

/// A list of pairs of texts (`[["a", "b"], ...]`); an entry that is not
/// one is left out.
pub fn text_pairs(value: &serde_json::Value) -> Vec<(String, String)> {
    value
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    Some((
                        e.get(0)?.as_str()?.to_string(),
                        e.get(1)?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How a page reconnects, as the operator configured it: attempt `k` waits
/// a random time up to `min(cap, base * 2^k)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconnectSettings {
    /// The ceiling of the first attempt's delay, in milliseconds.
    pub base_ms: u64,
    /// The longest delay, in milliseconds.
    pub cap_ms: u64,
    /// Failed attempts before the page gives up and shows `failed`
    /// (`None`: it never gives up).
    pub max_failures: Option<u32>,
}

impl Default for ReconnectSettings {
    fn default() -> Self {
        Self {
            base_ms: 1_000,
            cap_ms: 30_000,
            max_failures: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_json_reads_what_from_str_reads_and_refuses_what_it_refuses() {
        let text = r#"{"seq": 42, "epoch": 1700000000000}"#;
        let wanted = serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(from_json::<serde_json::Value>(text).unwrap(), wanted);
        let position = Position::new(1_700_000_000_000, 42);
        let quoted = serde_json::to_string(&position).unwrap();
        assert_eq!(from_json::<Position>(&quoted).unwrap(), position);
        for bad in ["", "{", "[1,", "\"1-2-3\"", "{\"a\": NaN}"] {
            assert!(from_json::<Position>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn position_round_trips_through_its_wire_form() {
        let position = Position::new(1_700_000_000_000, 42);
        let text = position.to_string();
        assert_eq!(text, "1700000000000-42");
        assert_eq!(text.parse::<Position>(), Ok(position));
        let json = serde_json::to_string(&position).unwrap();
        assert_eq!(json, "\"1700000000000-42\"");
        assert_eq!(serde_json::from_str::<Position>(&json).unwrap(), position);
    }

    #[test]
    fn malformed_positions_are_rejected() {
        for bad in [
            "",
            "12",
            "-1",
            "1-",
            "a-1",
            "1-b",
            "1-2-3",
            "+1-2",
            "1- 2",
            "99999999999999999999-1",
        ] {
            assert!(bad.parse::<Position>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn positions_of_another_epoch_are_never_after() {
        let a = Position::new(1, 10);
        assert!(Position::new(1, 11).is_after(&a));
        assert!(!Position::new(1, 10).is_after(&a));
        assert!(!Position::new(2, 11).is_after(&a));
    }

    #[test]
    fn envelope_has_the_documented_field_names() {
        let envelope = Envelope {
            id: Position::new(5, 6),
            channel: "metrics".into(),
            event: "metrics".into(),
            key: None,
            ts: 7,
            data: serde_json::json!({"x": 1}),
        };
        let value = serde_json::to_value(&envelope).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"id": "5-6", "channel": "metrics", "event": "metrics", "ts": 7, "data": {"x": 1}})
        );
    }
}
