//! What one frame of deliveries changes on the page, decided apart from
//! the signals that show it.
//!
//! [`PageState`] keeps the little the store must remember to decide: whose
//! samples the page shows, how new the shown sample is, and which status
//! board items exist. [`PageState::apply`] turns one [`Frame`] into
//! [`Changes`]: exactly the writes the store then makes to its signals, so
//! that each signal is written at most once per frame and only when its
//! value changes. The store only mirrors them; everything here is plain
//! Rust, tested natively.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{
    live::{
        frame::Frame,
        patch::{Patch, MAX_ITEMS, PATCH_EVENT},
    },
    protocol::{Envelope, HostSample, Position, METRICS_CHANNEL, METRICS_EVENT},
};

/// The dashboard's own channel: activity events and board patches.
pub const DASHBOARD_CHANNEL: &str = "dashboard:main";

/// One activity entry.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedItem {
    /// Its position (unique: the list's key).
    pub id: Position,
    /// Its event type.
    pub event: String,
    /// Its payload, as JSON text.
    pub text: String,
}

/// One write to the status board.
#[derive(Clone, Debug, PartialEq)]
pub enum BoardChange {
    /// An existing item takes a value (its signal is set, even to the same
    /// value: a patch is news).
    Set {
        /// The item's key.
        key: String,
        /// Its value.
        value: Value,
    },
    /// A new item.
    Insert {
        /// The item's key.
        key: String,
        /// Its value.
        value: Value,
    },
    /// An item goes.
    Remove {
        /// The item's key.
        key: String,
    },
}

/// What one frame changes, in the order the store applies it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Events were dropped for lack of room: ask the client to resynchronise.
    pub resync: bool,
    /// A snapshot replaced the dashboard channel: empty the feed (and its
    /// count) and the board before anything below.
    pub dashboard_reset: bool,
    /// Every sample's CPU point, for the series.
    pub points: Vec<(i64, f64)>,
    /// The newest sample, when newer than the one shown.
    pub sample: Option<HostSample>,
    /// New activity entries, oldest first.
    pub feed: Vec<FeedItem>,
    /// Writes to the status board, in order.
    pub board: Vec<BoardChange>,
    /// The board's keys, in order, when keys came or went.
    pub board_keys: Option<Vec<String>>,
    /// The position of the last event applied.
    pub position: Option<Position>,
    /// Anything was applied: the page's data is as of now.
    pub updated: bool,
    /// What was ignored, for a person.
    pub warnings: Vec<String>,
}

/// What the store remembers between frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageState {
    /// The server's own host: the cards and the chart show its samples only
    /// (`None`: any sample, the page did not know it).
    own_host: Option<String>,
    /// The time of the sample shown.
    sample_ts: Option<i64>,
    /// The status board's keys.
    board_keys: BTreeSet<String>,
}

/// What one frame gathers before deciding.
#[derive(Default)]
struct Gathered {
    newest_sample: Option<HostSample>,
    points: Vec<(i64, f64)>,
    feed: Vec<FeedItem>,
    patches: Vec<Patch>,
    warnings: Vec<String>,
}

impl PageState {
    /// The state of a page that shows `sample` (the newest one the server
    /// rendered), of the host that took it.
    pub fn new(sample: Option<&HostSample>) -> Self {
        Self {
            own_host: sample.map(|s| s.host.clone()),
            sample_ts: sample.map(|s| s.ts),
            board_keys: BTreeSet::new(),
        }
    }

    /// The host whose samples the page shows, when known.
    pub fn own_host(&self) -> Option<&str> {
        self.own_host.as_deref()
    }

    /// Applies one frame: snapshots first (each replaces the state of the
    /// channels it covers), then the events. Every metric sample joins the
    /// series; other events count only in their current form (the newest
    /// value of each key).
    pub fn apply(&mut self, frame: &Frame) -> Changes {
        let mut changes = Changes {
            resync: frame.overflowed,
            ..Changes::default()
        };
        let mut gathered = Gathered::default();
        for (channels, snapshot) in &frame.snapshots {
            if channels.iter().any(|c| c == DASHBOARD_CHANNEL) {
                changes.dashboard_reset = true;
                // An earlier snapshot of the channel in this frame is
                // replaced too.
                gathered.feed.clear();
                gathered.patches.clear();
            }
            for envelope in &snapshot.events {
                self.gather(envelope, &mut gathered);
            }
        }
        for envelope in &frame.events {
            changes.position = Some(envelope.id);
            if envelope.channel == METRICS_CHANNEL {
                self.gather(envelope, &mut gathered);
            }
        }
        for envelope in frame.current() {
            if envelope.channel != METRICS_CHANNEL {
                self.gather(envelope, &mut gathered);
            }
        }

        let Gathered {
            newest_sample,
            points,
            feed,
            patches,
            warnings,
        } = gathered;
        changes.points = points;
        changes.sample =
            newest_sample.filter(|sample| self.sample_ts.is_none_or(|shown| sample.ts > shown));
        if let Some(sample) = &changes.sample {
            self.sample_ts = Some(sample.ts);
        }
        changes.feed = feed;
        if changes.dashboard_reset {
            self.board_keys.clear();
        }
        self.patch_board(patches, &mut changes);
        changes.updated = !frame.snapshots.is_empty() || changes.position.is_some();
        changes.warnings = warnings;
        changes
    }

    /// Whether a sample is of the server's own host, when the page knows it.
    fn is_own_sample(&self, envelope: &Envelope<Value>) -> bool {
        match (&self.own_host, &envelope.key) {
            (Some(own), Some(key)) => own == key,
            _ => true,
        }
    }

    /// Gathers what `envelope` changes.
    fn gather(&self, envelope: &Envelope<Value>, gathered: &mut Gathered) {
        match (envelope.channel.as_str(), envelope.event.as_str()) {
            (METRICS_CHANNEL, METRICS_EVENT) if !self.is_own_sample(envelope) => {}
            (METRICS_CHANNEL, METRICS_EVENT) => {
                match serde_json::from_value::<HostSample>(envelope.data.clone()) {
                    Ok(sample) => {
                        gathered
                            .points
                            .push((sample.ts, f64::from(sample.cpu_percent)));
                        if gathered
                            .newest_sample
                            .as_ref()
                            .is_none_or(|s| sample.ts > s.ts)
                        {
                            gathered.newest_sample = Some(sample);
                        }
                    }
                    Err(error) => gathered
                        .warnings
                        .push(format!("livedash: ignoring a malformed sample: {error}")),
                }
            }
            (DASHBOARD_CHANNEL, PATCH_EVENT) => {
                match serde_json::from_value::<Patch>(envelope.data.clone()) {
                    Ok(patch) => gathered.patches.push(patch),
                    Err(error) => gathered
                        .warnings
                        .push(format!("livedash: ignoring a malformed patch: {error}")),
                }
            }
            (DASHBOARD_CHANNEL, _) => gathered.feed.push(FeedItem {
                id: envelope.id,
                event: envelope.event.clone(),
                text: envelope.data.to_string(),
            }),
            _ => {}
        }
    }

    /// Patches the board: items whose key exists are set, new keys
    /// inserted; the key list changes only when keys come or go. Past
    /// [`MAX_ITEMS`] the first keys go.
    fn patch_board(&mut self, patches: Vec<Patch>, changes: &mut Changes) {
        let mut keys_changed = false;
        for patch in patches {
            match patch {
                Patch::Add { key, value } | Patch::Replace { key, value } => {
                    if self.board_keys.contains(&key) {
                        changes.board.push(BoardChange::Set { key, value });
                    } else {
                        self.board_keys.insert(key.clone());
                        changes.board.push(BoardChange::Insert { key, value });
                        keys_changed = true;
                    }
                }
                Patch::Remove { key } => {
                    if self.board_keys.remove(&key) {
                        changes.board.push(BoardChange::Remove { key });
                        keys_changed = true;
                    }
                }
            }
        }
        while self.board_keys.len() > MAX_ITEMS {
            if let Some(key) = self.board_keys.pop_first() {
                changes.board.push(BoardChange::Remove { key });
            }
        }
        if keys_changed {
            changes.board_keys = Some(self.board_keys.iter().cloned().collect());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        live::frame::{Delivery, FrameBuffer},
        protocol::{LoadAverage, Position, Snapshot},
    };

    fn sample(host: &str, ts: i64, cpu: f32) -> HostSample {
        HostSample {
            ts,
            host: host.into(),
            cpu_percent: cpu,
            cores_percent: vec![cpu],
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            load_average: LoadAverage {
                one: 0.0,
                five: 0.0,
                fifteen: 0.0,
            },
            net_rx_bytes_per_sec: 0.0,
            net_tx_bytes_per_sec: 0.0,
        }
    }

    fn envelope(
        seq: u64,
        channel: &str,
        event: &str,
        key: Option<&str>,
        data: Value,
    ) -> Envelope<Value> {
        Envelope {
            id: Position::new(1, seq),
            channel: channel.into(),
            event: event.into(),
            key: key.map(str::to_string),
            ts: seq as i64,
            data,
        }
    }

    fn metric(seq: u64, sample: &HostSample) -> Delivery {
        Delivery::Event(envelope(
            seq,
            METRICS_CHANNEL,
            METRICS_EVENT,
            Some(&sample.host),
            serde_json::to_value(sample).unwrap(),
        ))
    }

    fn message(seq: u64) -> Delivery {
        Delivery::Event(envelope(
            seq,
            DASHBOARD_CHANNEL,
            "message",
            None,
            json!({ "seq": seq }),
        ))
    }

    fn patch(seq: u64, data: Value) -> Delivery {
        Delivery::Event(envelope(seq, DASHBOARD_CHANNEL, PATCH_EVENT, None, data))
    }

    fn frame(deliveries: impl IntoIterator<Item = Delivery>) -> Frame {
        let mut buffer = FrameBuffer::new(1_000);
        for delivery in deliveries {
            buffer.push(delivery);
        }
        buffer.take()
    }

    #[test]
    fn every_own_sample_joins_the_series_and_only_the_newest_is_shown() {
        let mut page = PageState::new(Some(&sample("web-1", 100, 1.0)));
        let changes = page.apply(&frame([
            metric(1, &sample("web-1", 200, 20.0)),
            metric(2, &sample("db-1", 250, 99.0)),
            metric(3, &sample("web-1", 300, 30.0)),
        ]));
        assert_eq!(changes.points, [(200, 20.0), (300, 30.0)]);
        assert_eq!(changes.sample.as_ref().map(|s| s.ts), Some(300));
        assert_eq!(changes.position, Some(Position::new(1, 3)));
        assert!(changes.updated);

        let older = page.apply(&frame([metric(4, &sample("web-1", 250, 25.0))]));
        assert_eq!(older.sample, None, "an older sample is never shown");
        assert_eq!(older.points, [(250, 25.0)]);
    }

    #[test]
    fn activity_entries_arrive_oldest_first_with_their_text() {
        let mut page = PageState::new(None);
        let changes = page.apply(&frame([message(1), message(2)]));
        assert_eq!(
            changes.feed,
            [
                FeedItem {
                    id: Position::new(1, 1),
                    event: "message".into(),
                    text: r#"{"seq":1}"#.into(),
                },
                FeedItem {
                    id: Position::new(1, 2),
                    event: "message".into(),
                    text: r#"{"seq":2}"#.into(),
                },
            ]
        );
        assert!(!changes.dashboard_reset && !changes.resync);
    }

    #[test]
    fn patches_set_existing_items_and_change_the_key_list_only_when_keys_come_or_go() {
        let mut page = PageState::new(None);
        let changes = page.apply(&frame([
            patch(1, json!({"op": "add", "key": "db", "value": "up"})),
            patch(2, json!({"op": "add", "key": "api", "value": "up"})),
        ]));
        assert_eq!(changes.board_keys, Some(vec!["api".into(), "db".into()]));

        let changes = page.apply(&frame([
            patch(3, json!({"op": "replace", "key": "api", "value": "down"})),
            patch(4, json!({"op": "remove", "key": "missing"})),
        ]));
        assert_eq!(
            changes.board,
            [BoardChange::Set {
                key: "api".into(),
                value: json!("down")
            }]
        );
        assert_eq!(changes.board_keys, None, "no key came or went");

        let changes = page.apply(&frame([patch(5, json!({"op": "remove", "key": "db"}))]));
        assert_eq!(changes.board, [BoardChange::Remove { key: "db".into() }]);
        assert_eq!(changes.board_keys, Some(vec!["api".into()]));
    }

    #[test]
    fn a_snapshot_of_the_dashboard_replaces_its_feed_and_board() {
        let mut page = PageState::new(None);
        page.apply(&frame([patch(
            1,
            json!({"op": "add", "key": "api", "value": "up"}),
        )]));
        let snapshot = Snapshot {
            reason: Some("unknown position".into()),
            events: vec![
                envelope(7, DASHBOARD_CHANNEL, "message", None, json!({"seq": 7})),
                envelope(
                    8,
                    DASHBOARD_CHANNEL,
                    PATCH_EVENT,
                    None,
                    json!({"op": "add", "key": "api", "value": "new"}),
                ),
            ],
        };
        let changes = page.apply(&frame([
            message(2),
            Delivery::snapshot("dashboard:main,metrics", Position::new(1, 9), snapshot),
        ]));
        assert!(changes.dashboard_reset);
        assert_eq!(
            changes.feed.len(),
            1,
            "the message before the snapshot is moot"
        );
        assert_eq!(changes.feed[0].id, Position::new(1, 7));
        assert_eq!(
            changes.board,
            [BoardChange::Insert {
                key: "api".into(),
                value: json!("new")
            }],
            "the board starts over"
        );
        assert_eq!(
            changes.position, None,
            "a snapshot carries no event position"
        );
        assert!(changes.updated);

        // Two snapshots of the channel in one frame: the second one wins.
        let first = Snapshot {
            reason: None,
            events: vec![envelope(
                9,
                DASHBOARD_CHANNEL,
                "message",
                None,
                json!({"seq": 9}),
            )],
        };
        let second = Snapshot {
            reason: None,
            events: vec![envelope(
                9,
                DASHBOARD_CHANNEL,
                "message",
                None,
                json!({"seq": 9}),
            )],
        };
        let changes = page.apply(&frame([
            Delivery::snapshot("dashboard:main,metrics", Position::new(1, 9), first),
            Delivery::snapshot("dashboard:main", Position::new(1, 10), second),
        ]));
        assert_eq!(changes.feed.len(), 1, "one entry, not the same one twice");
    }

    #[test]
    fn malformed_samples_and_patches_are_reported_and_skipped() {
        let mut page = PageState::new(None);
        let changes = page.apply(&frame([
            Delivery::Event(envelope(
                1,
                METRICS_CHANNEL,
                METRICS_EVENT,
                None,
                json!({"cpu": "hot"}),
            )),
            patch(2, json!({"op": "explode", "key": "api"})),
        ]));
        assert_eq!(changes.warnings.len(), 2);
        assert!(changes.points.is_empty() && changes.board.is_empty());
        assert_eq!(changes.position, Some(Position::new(1, 2)));
    }

    #[test]
    fn an_overflowed_frame_asks_for_a_resync() {
        let mut buffer = FrameBuffer::new(4);
        for seq in 1..=10 {
            buffer.push(message(seq));
        }
        let changes = PageState::new(None).apply(&buffer.take());
        assert!(changes.resync);
        assert_eq!(changes.feed.len(), 4);
    }

    #[test]
    fn an_empty_frame_changes_nothing() {
        let mut page = PageState::new(None);
        assert_eq!(page.apply(&Frame::default()), Changes::default());
    }
}
