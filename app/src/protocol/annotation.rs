//! Annotations: notes on a dashboard's time line ("deploy v1.4"), at a
//! moment or over a span, for the whole dashboard or one of its widgets.
//!
//! They travel as [`ANNOTATION_EVENT`] events on the dashboard's channel
//! (`dashboard:<id>`). Whoever publishes one sends a text, or an object
//! with a text and optionally a time, an end and a widget; the server
//! checks it, stores it and publishes the stored [`Annotation`] in its
//! place, so every viewer gets the same note with its id and times.
//! [`ANNOTATION_REMOVED_EVENT`] carries `{"id": N}` when one is removed.

use serde::{Deserialize, Serialize};

/// The event type of an annotation on a dashboard's channel.
pub const ANNOTATION_EVENT: &str = "annotation";
/// The event type saying an annotation was removed (data `{"id": N}`).
pub const ANNOTATION_REMOVED_EVENT: &str = "annotation_removed";
/// The longest annotation text, in characters.
pub const MAX_ANNOTATION_CHARS: usize = 500;
/// The end of a span still open (an alert's firing period while it
/// fires): the last moment a JavaScript `Date` holds, so a chart draws
/// the span to its right edge, however far it scrolls.
pub const OPEN_END: i64 = 8_640_000_000_000_000;
/// The prefix of a dashboard's channel; the rest is the dashboard's id.
pub const DASHBOARD_CHANNEL_PREFIX: &str = "dashboard:";
/// The event type of a dashboard's save on its channel:
/// `{"revision", "dashboard", "text_html"}`: the whole model, and its text
/// widgets' Markdown as HTML (`[[id, html], ...]`). Only the server sends
/// it.
pub const DASHBOARD_EVENT: &str = "dashboard";
/// The event type of a dashboard whose file went: `{"id"}`. Only the
/// server sends it.
pub const DASHBOARD_REMOVED_EVENT: &str = "dashboard_removed";
/// The event type of who is viewing a dashboard now, on its channel:
/// `{"names": [...], "anonymous": n}`. Only the server sends it.
pub const PRESENCE_EVENT: &str = "presence";
/// How often an open page of a dashboard says it is there (the server
/// forgets a viewer not heard from for three times this).
pub const PRESENCE_EVERY_MS: u64 = 4_000;

/// A stored annotation, as the server publishes and lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Its id, unique on this server.
    pub id: u64,
    /// The dashboard it belongs to (`main` for `dashboard:main`).
    pub dashboard: String,
    /// The widget it is for; `None`: every widget of the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<String>,
    /// When it happened, in Unix milliseconds.
    pub time: i64,
    /// The end of the span it covers; `None`: a moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// What happened.
    pub text: String,
    /// When it was made, in Unix milliseconds.
    pub created: i64,
    /// For an alert's firing period, its worst severity (`warning` or
    /// `critical`); `None` for a note. Only the server sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

impl Annotation {
    /// Reads one from a JSON value as the server sends it; `None` when it
    /// is not one. Written out rather than derived: the page reads events
    /// as JSON values already, and a derived reader from values would add
    /// a second deserializer to the browser's bundle for one type.
    pub fn from_value(value: &serde_json::Value) -> Option<Self> {
        let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let number = |name: &str| value.get(name).and_then(serde_json::Value::as_i64);
        let optional = |name: &str| match value.get(name) {
            None | Some(serde_json::Value::Null) => Some(None),
            Some(v) => v.as_i64().map(Some),
        };
        Some(Self {
            id: value.get("id")?.as_u64()?,
            dashboard: text("dashboard")?,
            widget: match value.get("widget") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(v.as_str()?.to_string()),
            },
            time: number("time")?,
            end: optional("end")?,
            text: text("text")?,
            created: number("created")?,
            level: text("level"),
        })
    }

    /// The last moment it covers: its end, or its time.
    pub fn last(&self) -> i64 {
        self.end.unwrap_or(self.time)
    }

    /// True when it covers a moment within `from..=to`.
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        self.time <= to && self.last() >= from
    }

    /// True when it shows on widget `widget`: it is for the whole
    /// dashboard or for that widget.
    pub fn shows_on(&self, widget: &str) -> bool {
        self.widget.as_deref().is_none_or(|w| w == widget)
    }
}

/// The body of `GET /api/annotations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationList {
    /// The annotations, oldest first.
    pub annotations: Vec<Annotation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(time: i64, end: Option<i64>, widget: Option<&str>) -> Annotation {
        Annotation {
            id: 1,
            dashboard: "main".into(),
            widget: widget.map(str::to_string),
            time,
            end,
            text: "deploy".into(),
            created: time,
            level: None,
        }
    }

    #[test]
    fn a_span_overlaps_a_window_it_only_touches_and_a_moment_only_inside() {
        let span = note(100, Some(200), None);
        assert!(span.overlaps(200, 300));
        assert!(span.overlaps(0, 100));
        assert!(span.overlaps(120, 130));
        assert!(!span.overlaps(201, 300));
        let moment = note(100, None, None);
        assert!(moment.overlaps(100, 100));
        assert!(!moment.overlaps(101, 200));
    }

    #[test]
    fn a_dashboard_note_shows_on_every_widget_and_a_widget_note_on_its_own() {
        assert!(note(0, None, None).shows_on("cpu"));
        assert!(note(0, None, Some("cpu")).shows_on("cpu"));
        assert!(!note(0, None, Some("cpu")).shows_on("memory"));
    }

    #[test]
    fn read_by_hand_as_serde_reads_it() {
        let period = Annotation {
            level: Some("critical".into()),
            ..note(5, Some(OPEN_END), Some("cpu"))
        };
        for note in [note(5, None, None), note(5, Some(9), Some("cpu")), period] {
            let value = serde_json::to_value(&note).unwrap();
            assert_eq!(Annotation::from_value(&value), Some(note));
        }
        for bad in [
            serde_json::json!("text"),
            serde_json::json!({"id": 1}),
            serde_json::json!({"id": -1, "dashboard": "m", "time": 1, "text": "t", "created": 1}),
            serde_json::json!({"id": 1, "dashboard": "m", "time": 1.5, "text": "t", "created": 1}),
            serde_json::json!({"id": 1, "dashboard": "m", "time": 1, "end": "x", "text": "t", "created": 1}),
            serde_json::json!({"id": 1, "dashboard": "m", "widget": 3, "time": 1, "text": "t", "created": 1}),
        ] {
            assert_eq!(Annotation::from_value(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_moment_is_sent_without_an_end_or_a_widget() {
        let json = serde_json::to_value(note(5, None, None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 1, "dashboard": "main", "time": 5, "text": "deploy", "created": 5})
        );
        let back: Annotation = serde_json::from_value(json).unwrap();
        assert_eq!(back, note(5, None, None));
    }
}
