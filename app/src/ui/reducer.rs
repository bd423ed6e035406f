//! What one frame of deliveries changes on the page, decided apart from
//! the signals that show it.
//!
//! [`PageState`] keeps the little the store must remember to decide: the
//! page's own channel, whether any widget follows series, and which status
//! board items exist. [`PageState::apply`] turns one [`Frame`] into
//! [`Changes`]: exactly the writes the store then makes to its signals, so
//! that each signal is written at most once per frame and only when its
//! value changes. The store only mirrors them; everything here is plain
//! Rust, tested natively.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{
    dashboard::Dashboard,
    live::{
        frame::Frame,
        patch::{Patch, MAX_ITEMS, PATCH_EVENT},
    },
    protocol::{
        Annotation, Envelope, Position, SeriesPoints, ALERTS_CHANNEL, ANNOTATION_EVENT,
        ANNOTATION_REMOVED_EVENT, DASHBOARD_EVENT, DASHBOARD_REMOVED_EVENT, NOTIFY_CHANNEL_PREFIX,
        PRESENCE_EVENT, SERIES_CHANNEL, SERIES_EVENT,
    },
};

/// The host overview's own channel: activity events and board patches. A
/// dashboard's page has its own (`dashboard:<id>`), which also carries the
/// dashboard's saves.
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
    /// The page may have missed points of series: a `reset` sent a
    /// snapshot of the series channel (only its newest events), or the
    /// frame overflowed. Charts read their window from the store again.
    pub series_missed: bool,
    /// Every series' points in the frame, by key (Prometheus form), for
    /// the charts that follow them.
    pub series: Vec<(String, Vec<(i64, f64)>)>,
    /// New activity entries, oldest first.
    pub feed: Vec<FeedItem>,
    /// Annotations published, in order.
    pub annotations: Vec<Annotation>,
    /// Ids of annotations removed.
    pub removed_annotations: Vec<u64>,
    /// Writes to the status board, in order.
    pub board: Vec<BoardChange>,
    /// The page's dashboard as now saved (the newest save in the frame),
    /// with its text widgets' HTML by id.
    pub dashboard: Option<(Dashboard, Vec<(String, String)>)>,
    /// The page's dashboard was removed.
    pub dashboard_removed: bool,
    /// Who is viewing the dashboard now (the newest word of the frame):
    /// the names, and how many chose none.
    pub presence: Option<(Vec<String>, u32)>,
    /// The board's keys, in order, when keys came or went.
    pub board_keys: Option<Vec<String>>,
    /// The position of the last event applied.
    pub position: Option<Position>,
    /// Anything was applied: the page's data is as of now.
    pub updated: bool,
    /// What was ignored, for a person.
    pub warnings: Vec<String>,
    /// Events of the alerts channel and of this viewer's own, in order:
    /// channel, event type, data (the alerts view reads them).
    pub alerts: Vec<AlertEvent>,
    /// A snapshot replaced the alerts channel: the alerts view reads
    /// them again.
    pub alerts_reset: bool,
}

/// An event of the alerts channel or of a viewer's: `[channel, type,
/// data]` (a JSON array: the page holds lists of values already, and
/// another kind of list costs the bundle).
pub type AlertEvent = Value;

/// What the store remembers between frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageState {
    /// The page's own channel (`dashboard:<id>`).
    channel: String,
    /// The status board's keys.
    board_keys: BTreeSet<String>,
    /// Whether a chart follows series: only then are every series' points
    /// gathered by key ([`Changes::series`]).
    follows_series: bool,
}

/// What one frame gathers before deciding.
#[derive(Default)]
struct Gathered {
    /// Per event, in order; merged by key once the frame is gathered.
    series: Vec<(String, Vec<(i64, f64)>)>,
    feed: Vec<FeedItem>,
    annotations: Vec<Annotation>,
    removed_annotations: Vec<u64>,
    patches: Vec<Patch>,
    dashboard: Option<(Dashboard, Vec<(String, String)>)>,
    dashboard_removed: bool,
    presence: Option<(Vec<String>, u32)>,
    warnings: Vec<String>,
    alerts: Vec<AlertEvent>,
}

/// Each key's points, in key order, in the order they came: one stable
/// sort, then runs of a key joined (rather than a map: one less map type in
/// the bundle, and no faster at a frame's size).
fn by_key(mut events: Vec<(String, Vec<(i64, f64)>)>) -> Vec<(String, Vec<(i64, f64)>)> {
    crate::chart::sort_stable(&mut events, |a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(String, Vec<(i64, f64)>)> = Vec::with_capacity(events.len());
    for (key, points) in events {
        match merged.last_mut() {
            Some((last, joined)) if *last == key => joined.extend(points),
            _ => merged.push((key, points)),
        }
    }
    merged
}

impl PageState {
    /// The state of a page whose own channel is `channel` (its
    /// dashboard's).
    pub fn new(channel: &str) -> Self {
        Self {
            channel: channel.to_string(),
            board_keys: BTreeSet::new(),
            follows_series: false,
        }
    }

    /// The page's own channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Gathers every series' points by key from now on (a chart follows
    /// them); until then no frame pays for it.
    pub fn follow_series(&mut self) {
        self.follows_series = true;
    }

    /// Applies one frame: snapshots first (each replaces the state of the
    /// channels it covers), then the events. Every point of every series
    /// counts (the widgets following it keep each once); other events
    /// count only in their current form (the newest value of each key).
    pub fn apply(&mut self, frame: &Frame) -> Changes {
        let mut changes = Changes {
            resync: frame.overflowed,
            series_missed: frame.overflowed,
            ..Changes::default()
        };
        let mut gathered = Gathered::default();
        for (channels, snapshot) in &frame.snapshots {
            if channels.iter().any(|c| c == SERIES_CHANNEL) {
                changes.series_missed = true;
            }
            if channels.iter().any(|c| c == ALERTS_CHANNEL) {
                changes.alerts_reset = true;
            }
            if channels.contains(&self.channel) {
                changes.dashboard_reset = true;
                // An earlier snapshot of the channel in this frame is
                // replaced too.
                gathered.feed.clear();
                gathered.patches.clear();
            }
            // A snapshot of the series channel holds their newest points:
            // they join what the page has (a series' history stays true),
            // each time once.
            for envelope in &snapshot.events {
                self.gather(envelope, &mut gathered);
            }
        }
        changes.position = frame.events.last().map(|envelope| envelope.id);
        for envelope in frame.current() {
            self.gather(envelope, &mut gathered);
        }

        let Gathered {
            series,
            feed,
            annotations,
            removed_annotations,
            patches,
            dashboard,
            dashboard_removed,
            presence,
            warnings,
            alerts,
        } = gathered;
        changes.alerts = alerts;
        changes.presence = presence;
        changes.dashboard = dashboard;
        changes.dashboard_removed = dashboard_removed;
        changes.annotations = annotations;
        changes.removed_annotations = removed_annotations;
        changes.series = by_key(series);
        changes.feed = feed;
        if changes.dashboard_reset {
            self.board_keys.clear();
        }
        self.patch_board(patches, &mut changes);
        changes.updated = !frame.snapshots.is_empty() || changes.position.is_some();
        changes.warnings = warnings;
        changes
    }

    /// Gathers what `envelope` changes.
    fn gather(&self, envelope: &Envelope<Value>, gathered: &mut Gathered) {
        let channel = envelope.channel.as_str();
        if channel == ALERTS_CHANNEL || channel.starts_with(NOTIFY_CHANNEL_PREFIX) {
            gathered.alerts.push(Value::Array(vec![
                channel.into(),
                envelope.event.as_str().into(),
                envelope.data.clone(),
            ]));
            return;
        }
        if channel != SERIES_CHANNEL && channel != self.channel {
            return;
        }
        match (channel, envelope.event.as_str()) {
            (SERIES_CHANNEL, SERIES_EVENT) if !self.follows_series => {}
            (SERIES_CHANNEL, SERIES_EVENT) => {
                match serde_json::from_value::<SeriesPoints>(envelope.data.clone()) {
                    Ok(series) => gathered
                        .series
                        .push((series.key.to_string(), series.points)),
                    Err(error) => gathered
                        .warnings
                        .push(format!("livedash: ignoring malformed points: {error}")),
                }
            }
            (_, DASHBOARD_EVENT) => {
                // Only the server publishes these, each checked.
                let saved = envelope
                    .data
                    .get("dashboard")
                    .and_then(Dashboard::from_value);
                match saved {
                    Some(dashboard) => {
                        let html = envelope
                            .data
                            .get("text_html")
                            .map(crate::protocol::text_pairs)
                            .unwrap_or_default();
                        gathered.dashboard = Some((dashboard, html));
                        gathered.dashboard_removed = false;
                    }
                    None => gathered
                        .warnings
                        .push("livedash: ignoring a malformed dashboard".to_string()),
                }
            }
            (_, PRESENCE_EVENT) => {
                let names = envelope
                    .data
                    .get("names")
                    .and_then(Value::as_array)
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(|n| n.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let anonymous = envelope
                    .data
                    .get("anonymous")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                gathered.presence = Some((names, u32::try_from(anonymous).unwrap_or(u32::MAX)));
            }
            (_, DASHBOARD_REMOVED_EVENT) => {
                gathered.dashboard = None;
                gathered.dashboard_removed = true;
            }
            (_, PATCH_EVENT) => match serde_json::from_value::<Patch>(envelope.data.clone()) {
                Ok(patch) => gathered.patches.push(patch),
                Err(error) => gathered
                    .warnings
                    .push(format!("livedash: ignoring a malformed patch: {error}")),
            },
            (_, ANNOTATION_REMOVED_EVENT) => {
                match envelope.data.get("id").and_then(Value::as_u64) {
                    Some(id) => gathered.removed_annotations.push(id),
                    None => gathered
                        .warnings
                        .push("livedash: ignoring a malformed annotation removal".to_string()),
                }
            }
            (_, event) => {
                // An annotation shows in the feed by its text, and on the
                // charts.
                let note = (event == ANNOTATION_EVENT)
                    .then(|| Annotation::from_value(&envelope.data))
                    .flatten();
                gathered.feed.push(FeedItem {
                    id: envelope.id,
                    event: envelope.event.clone(),
                    text: match &note {
                        Some(note) => Value::from(note.text.as_str()).to_string(),
                        None => envelope.data.to_string(),
                    },
                });
                gathered.annotations.extend(note);
            }
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
        protocol::{Position, SeriesKey, Snapshot},
        ui::host::CPU_PERCENT,
    };

    fn key(name: &str, host: &str, core: Option<&str>) -> SeriesKey {
        let labels = [("host", host), ("core", core.unwrap_or(""))];
        SeriesKey::new(
            name,
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap()
    }

    /// The points of one series as the series channel carries them.
    fn points(seq: u64, key: SeriesKey, points: &[(i64, f64)]) -> Delivery {
        Delivery::Event(series_event(seq, key, points))
    }

    fn series_event(seq: u64, key: SeriesKey, points: &[(i64, f64)]) -> Envelope<Value> {
        envelope(
            seq,
            SERIES_CHANNEL,
            SERIES_EVENT,
            Some(&key.to_string()),
            serde_json::to_value(SeriesPoints {
                key,
                points: points.to_vec(),
                band: None,
            })
            .unwrap(),
        )
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
    fn every_point_of_a_followed_series_is_gathered_by_key_in_order() {
        let cpu = || key(CPU_PERCENT, "web-1", None);
        let mut unfollowed = PageState::new(DASHBOARD_CHANNEL);
        let quiet = unfollowed.apply(&frame([points(1, cpu(), &[(200, 20.0)])]));
        assert!(
            quiet.series.is_empty(),
            "no chart follows: nothing gathered by key"
        );
        let mut page = PageState::new(DASHBOARD_CHANNEL);
        page.follow_series();
        let changes = page.apply(&frame([
            points(1, cpu(), &[(200, 20.0)]),
            points(2, key(CPU_PERCENT, "db-1", None), &[(250, 99.0)]),
            points(3, key(CPU_PERCENT, "web-1", Some("0")), &[(200, 40.0)]),
            points(4, cpu(), &[(300, 30.0)]),
        ]));
        // Charts follow any series, each key's points in order.
        assert_eq!(
            changes.series,
            [
                (
                    r#"livedash_host_cpu_percent{core="0",host="web-1"}"#.to_string(),
                    vec![(200, 40.0)]
                ),
                (
                    r#"livedash_host_cpu_percent{host="db-1"}"#.to_string(),
                    vec![(250, 99.0)]
                ),
                (
                    r#"livedash_host_cpu_percent{host="web-1"}"#.to_string(),
                    vec![(200, 20.0), (300, 30.0)]
                ),
            ]
        );
        assert_eq!(changes.position, Some(Position::new(1, 4)));
        assert!(changes.updated);

        let older = page.apply(&frame([points(5, cpu(), &[(250, 25.0)])]));
        assert_eq!(
            older.series,
            [(
                r#"livedash_host_cpu_percent{host="web-1"}"#.to_string(),
                vec![(250, 25.0)]
            )],
            "it fills its place in the chart"
        );
    }

    #[test]
    fn a_snapshot_of_the_series_channel_adds_its_points() {
        let cpu = || key(CPU_PERCENT, "web-1", None);
        let mut page = PageState::new(DASHBOARD_CHANNEL);
        page.follow_series();
        let snapshot = Snapshot {
            reason: Some("position too old".into()),
            events: vec![
                series_event(7, cpu(), &[(100, 1.0)]),
                series_event(8, cpu(), &[(200, 2.0)]),
            ],
        };
        let changes = page.apply(&frame([Delivery::snapshot(
            "series",
            Position::new(1, 9),
            snapshot,
        )]));
        assert_eq!(
            changes.series,
            [(
                r#"livedash_host_cpu_percent{host="web-1"}"#.to_string(),
                vec![(100, 1.0), (200, 2.0)]
            )]
        );
        assert!(
            changes.series_missed,
            "the snapshot holds only the newest events: charts read the store again"
        );
    }

    #[test]
    fn activity_entries_arrive_oldest_first_with_their_text() {
        let mut page = PageState::new(DASHBOARD_CHANNEL);
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
        assert!(!changes.dashboard_reset && !changes.resync && !changes.series_missed);
    }

    #[test]
    fn patches_set_existing_items_and_change_the_key_list_only_when_keys_come_or_go() {
        let mut page = PageState::new(DASHBOARD_CHANNEL);
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
    fn an_annotation_goes_to_the_charts_and_to_the_feed_by_its_text() {
        let mut page = PageState::new(DASHBOARD_CHANNEL);
        let note = json!({"id": 7, "dashboard": "main", "time": 5, "text": "deploy", "created": 5});
        let changes = page.apply(&frame([
            Delivery::Event(envelope(
                1,
                DASHBOARD_CHANNEL,
                ANNOTATION_EVENT,
                None,
                note.clone(),
            )),
            Delivery::Event(envelope(
                2,
                DASHBOARD_CHANNEL,
                ANNOTATION_EVENT,
                None,
                json!("old style"),
            )),
            Delivery::Event(envelope(
                3,
                DASHBOARD_CHANNEL,
                ANNOTATION_REMOVED_EVENT,
                None,
                json!({"id": 3}),
            )),
            Delivery::Event(envelope(
                4,
                DASHBOARD_CHANNEL,
                ANNOTATION_REMOVED_EVENT,
                None,
                json!("3"),
            )),
        ]));
        assert_eq!(
            changes.annotations,
            [Annotation::from_value(&note).unwrap()]
        );
        assert_eq!(changes.removed_annotations, [3]);
        let texts: Vec<&str> = changes.feed.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, [r#""deploy""#, r#""old style""#]);
        assert_eq!(changes.warnings.len(), 1, "{:?}", changes.warnings);
    }

    #[test]
    fn a_snapshot_of_the_dashboard_replaces_its_feed_and_board() {
        let mut page = PageState::new(DASHBOARD_CHANNEL);
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
            Delivery::snapshot("dashboard:main,series", Position::new(1, 9), snapshot),
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
            Delivery::snapshot("dashboard:main,series", Position::new(1, 9), first),
            Delivery::snapshot("dashboard:main", Position::new(1, 10), second),
        ]));
        assert_eq!(changes.feed.len(), 1, "one entry, not the same one twice");
    }

    #[test]
    fn who_is_viewing_the_pages_dashboard_is_taken_newest_first_and_others_ignored() {
        let mut page = PageState::new("dashboard:shop");
        let changes = page.apply(&frame([
            Delivery::Event(envelope(
                1,
                "dashboard:shop",
                PRESENCE_EVENT,
                None,
                json!({"names": ["Ana"], "anonymous": 2}),
            )),
            Delivery::Event(envelope(
                2,
                "dashboard:shop",
                PRESENCE_EVENT,
                None,
                json!({"names": ["Ana", "Ben"], "anonymous": 1}),
            )),
            Delivery::Event(envelope(
                3,
                "dashboard:other",
                PRESENCE_EVENT,
                None,
                json!({"names": ["Eve"], "anonymous": 9}),
            )),
        ]));
        assert_eq!(
            changes.presence,
            Some((vec!["Ana".to_string(), "Ben".to_string()], 1))
        );
        assert!(changes.feed.is_empty(), "presence is not activity");
        // Malformed: nobody named, nobody counted, nothing else touched.
        let odd = page.apply(&frame([Delivery::Event(envelope(
            4,
            "dashboard:shop",
            PRESENCE_EVENT,
            None,
            json!({"names": "Ana", "anonymous": -1}),
        ))]));
        assert_eq!(odd.presence, Some((Vec::new(), 0)));
        let none = page.apply(&frame([Delivery::Event(envelope(
            5,
            "dashboard:other",
            PRESENCE_EVENT,
            None,
            json!({}),
        ))]));
        assert_eq!(none.presence, None);
    }

    #[test]
    fn a_save_of_the_pages_dashboard_replaces_it_and_a_removal_says_so() {
        let mut page = PageState::new("dashboard:shop");
        let saved = json!({
            "revision": "r2",
            "dashboard": {"id": "shop", "time": {"range": "15m"}, "title": "Edited", "version": 1,
                "widgets": [{"grid": {"h": 2, "w": 4, "x": 0, "y": 0}, "id": "notes", "title": "Notes",
                    "type": "text", "options": {"markdown": "*hi*"}}]},
            "text_html": [["notes", "<p><em>hi</em></p>"]]
        });
        let changes = page.apply(&frame([
            Delivery::Event(envelope(
                1,
                "dashboard:shop",
                DASHBOARD_EVENT,
                None,
                saved.clone(),
            )),
            // Another dashboard's save is not this page's.
            Delivery::Event(envelope(2, "dashboard:other", DASHBOARD_EVENT, None, saved)),
        ]));
        let (dashboard, html) = changes.dashboard.expect("the save");
        assert_eq!(dashboard.title, "Edited");
        assert_eq!(
            html,
            [("notes".to_string(), "<p><em>hi</em></p>".to_string())]
        );
        assert!(changes.feed.is_empty(), "a save is not activity");
        assert!(!changes.dashboard_removed);

        let removed = page.apply(&frame([Delivery::Event(envelope(
            3,
            "dashboard:shop",
            DASHBOARD_REMOVED_EVENT,
            None,
            json!({"id": "shop"}),
        ))]));
        assert!(removed.dashboard_removed && removed.dashboard.is_none());
        let malformed = page.apply(&frame([Delivery::Event(envelope(
            4,
            "dashboard:shop",
            DASHBOARD_EVENT,
            None,
            json!({"dashboard": {"id": 3}}),
        ))]));
        assert!(malformed.dashboard.is_none());
        assert_eq!(malformed.warnings.len(), 1);
    }

    #[test]
    fn malformed_points_and_patches_are_reported_and_skipped() {
        let mut page = PageState::new(DASHBOARD_CHANNEL);
        page.follow_series();
        let changes = page.apply(&frame([
            Delivery::Event(envelope(
                1,
                SERIES_CHANNEL,
                SERIES_EVENT,
                None,
                json!({"cpu": "hot"}),
            )),
            patch(2, json!({"op": "explode", "key": "api"})),
        ]));
        assert_eq!(changes.warnings.len(), 2);
        assert!(changes.series.is_empty() && changes.board.is_empty());
        assert_eq!(changes.position, Some(Position::new(1, 2)));
    }

    #[test]
    fn an_overflowed_frame_asks_for_a_resync() {
        let mut buffer = FrameBuffer::new(4);
        for seq in 1..=10 {
            buffer.push(message(seq));
        }
        let changes = PageState::new(DASHBOARD_CHANNEL).apply(&buffer.take());
        assert!(changes.resync && changes.series_missed);
        assert_eq!(changes.feed.len(), 4);
    }

    #[test]
    fn an_empty_frame_changes_nothing() {
        let mut page = PageState::new(DASHBOARD_CHANNEL);
        assert_eq!(page.apply(&Frame::default()), Changes::default());
    }
}
