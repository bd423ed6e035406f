//! Stored annotations: the notes people put on a dashboard's time line.
//!
//! An annotation arrives as an `annotation` event published on a
//! dashboard's channel (`POST /api/realtime/events`, the WebSocket's
//! `publish`, or `POST /api/annotations`). Before it is published it is
//! checked ([`Draft::from_data`]), given an id and appended to its own
//! write-ahead log under `<data-dir>/annotations`, synced to disk; the
//! stored [`Annotation`] is what every viewer receives. A page reads the
//! ones of its window with `GET /api/annotations`, so they are on history
//! too and survive a restart.
//!
//! The log holds `add` and `remove` records (JSON). Replay applies them in
//! order; an `add` of an id already present replaces it, so a compaction
//! cut short (its copy written, the old segments not yet removed) replays
//! to the same set. At most [`MAX_ANNOTATIONS`] are kept: past that the
//! oldest (by time) go. When the log holds much more than the live set, it
//! is rewritten into a fresh segment.
//!
//! `api` holds the HTTP endpoints (`/api/annotations`).

pub mod api;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use app::protocol::{Annotation, DASHBOARD_CHANNEL_PREFIX, MAX_ANNOTATION_CHARS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    error::ApiError,
    store::wal::{Wal, WalError},
};

/// The most annotations kept; past it the oldest go.
pub const MAX_ANNOTATIONS: usize = 10_000;
/// The most a list answers with (the newest of its window).
pub const MAX_LISTED: usize = 1_000;
/// The longest span an annotation may cover: a year.
pub const MAX_SPAN_MS: i64 = 366 * 24 * 3_600_000;
/// The longest widget id.
pub const MAX_WIDGET_LEN: usize = 64;
/// Segment size of the annotation log.
const SEGMENT_BYTES: u64 = 4 << 20;
/// The log is rewritten when it holds more than this many bytes and more
/// than twice what the live set needs.
const COMPACT_FLOOR_BYTES: u64 = 1 << 20;

/// Why annotations cannot be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// The log failed.
    #[error("the annotation log: {0}")]
    Wal(#[from] WalError),
}

/// One record of the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    Add(Annotation),
    Remove { id: u64 },
}

/// What an `annotation` event asks for, checked, before it has an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The dashboard.
    pub dashboard: String,
    /// The widget, if it is for one.
    pub widget: Option<String>,
    /// When, in Unix ms.
    pub time: i64,
    /// Until when, for a span.
    pub end: Option<i64>,
    /// What happened.
    pub text: String,
}

/// The object form of an annotation event's data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteInput {
    text: String,
    #[serde(default)]
    time: Option<TimeInput>,
    #[serde(default)]
    end: Option<TimeInput>,
    #[serde(default)]
    widget: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TimeInput {
    Millis(i64),
    Text(String),
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_annotation", message)
}

/// The dashboard a channel belongs to: `main` for `dashboard:main`.
pub fn dashboard_of(channel: &str) -> Option<&str> {
    channel
        .strip_prefix(DASHBOARD_CHANNEL_PREFIX)
        .filter(|id| !id.is_empty())
}

impl Draft {
    /// Checks an `annotation` event's data for `dashboard`: a text (a note
    /// at `now`), or `{"text", "time"?, "end"?, "widget"?}` where times are
    /// Unix ms, `now`, `now-<duration>` or RFC 3339.
    pub fn from_data(dashboard: &str, data: &Value, now: i64) -> Result<Self, ApiError> {
        let input = match data {
            Value::String(text) => NoteInput {
                text: text.clone(),
                time: None,
                end: None,
                widget: None,
            },
            Value::Object(_) => NoteInput::deserialize(data).map_err(|e| {
                invalid(format!(
                    "an annotation is a text or {{\"text\", \"time\"?, \"end\"?, \"widget\"?}}: {e}"
                ))
            })?,
            _ => {
                return Err(invalid(
                    "an annotation is a text or {\"text\", \"time\"?, \"end\"?, \"widget\"?}",
                ))
            }
        };
        let text = input.text.trim().to_string();
        if text.is_empty() {
            return Err(invalid("an annotation needs a text"));
        }
        let chars = text.chars().count();
        if chars > MAX_ANNOTATION_CHARS {
            return Err(invalid(format!(
                "an annotation's text is at most {MAX_ANNOTATION_CHARS} characters, not {chars}"
            )));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(invalid("an annotation's text holds control characters"));
        }
        let time = match input.time {
            Some(t) => parse_time("time", t, now)?,
            None => now,
        };
        let end = input.end.map(|t| parse_time("end", t, now)).transpose()?;
        if let Some(end) = end {
            if end <= time {
                return Err(invalid("an annotation's end comes after its time"));
            }
            if end - time > MAX_SPAN_MS {
                return Err(invalid("an annotation spans at most a year"));
            }
        }
        if let Some(widget) = &input.widget {
            if widget.is_empty()
                || widget.len() > MAX_WIDGET_LEN
                || !widget
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
            {
                return Err(invalid(format!(
                    "a widget id is 1 to {MAX_WIDGET_LEN} of A-Z a-z 0-9 _ - . :"
                )));
            }
        }
        Ok(Self {
            dashboard: dashboard.to_string(),
            widget: input.widget,
            time,
            end,
            text,
        })
    }
}

/// Years 1970 to 9999, in ms: what a time may be.
const LATEST_MS: i64 = 253_402_300_799_999;

fn parse_time(name: &str, input: TimeInput, now: i64) -> Result<i64, ApiError> {
    let ms = match input {
        TimeInput::Millis(ms) => ms,
        TimeInput::Text(text) => match crate::query::parse_time(name, &text, now) {
            Ok(ms) => ms,
            Err(_) => humantime::parse_rfc3339_weak(&text)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_millis()).ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "{name} is Unix milliseconds, now, now-<duration> or an RFC 3339 time, not {text:?}"
                    ))
                })?,
        },
    };
    if !(0..=LATEST_MS).contains(&ms) {
        return Err(invalid(format!("{name} {ms} is not a time")));
    }
    Ok(ms)
}

/// The stored annotations. Cheap to clone; all clones share one set.
#[derive(Clone, Debug)]
pub struct Annotations {
    book: Arc<Mutex<Book>>,
}

#[derive(Debug)]
struct Book {
    wal: Wal,
    notes: BTreeMap<u64, Annotation>,
    next_id: u64,
    /// Bytes the live set takes in the log (what a rewrite would write).
    live_bytes: u64,
}

/// The encoded `add` record of `note`.
fn add_record(note: &Annotation) -> Vec<u8> {
    serde_json::to_vec(&Record::Add(note.clone())).expect("an annotation always encodes as JSON")
}

/// Bytes `note`'s record takes in the log, with its header.
fn record_bytes(note: &Annotation) -> u64 {
    add_record(note).len() as u64 + 8
}

/// What opening found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Annotations loaded.
    pub annotations: usize,
    /// Bytes of an unfinished last record that were cut off.
    pub torn_bytes: u64,
    /// Records that could not be read (skipped).
    pub skipped: usize,
}

/// Where annotations are kept under the data directory.
pub fn annotations_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("annotations")
}

impl Annotations {
    /// Opens the annotations kept in `dir` (creating it).
    pub fn open(dir: &Path) -> Result<(Self, Loaded), AnnotationError> {
        let (wal, replayed) = Wal::open(dir, SEGMENT_BYTES)?;
        let mut notes = BTreeMap::new();
        let mut next_id = 1;
        let mut skipped = 0;
        for record in &replayed.records {
            match serde_json::from_slice::<Record>(record) {
                Ok(Record::Add(note)) => {
                    next_id = next_id.max(note.id + 1);
                    notes.insert(note.id, note);
                }
                Ok(Record::Remove { id }) => {
                    next_id = next_id.max(id + 1);
                    notes.remove(&id);
                }
                Err(_) => skipped += 1,
            }
        }
        let live_bytes = notes.values().map(record_bytes).sum();
        let mut book = Book {
            wal,
            notes,
            next_id,
            live_bytes,
        };
        book.trim();
        let loaded = Loaded {
            annotations: book.notes.len(),
            torn_bytes: replayed.torn_bytes,
            skipped,
        };
        Ok((
            Self {
                book: Arc::new(Mutex::new(book)),
            },
            loaded,
        ))
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding the lock leaves the set as it was before
        // the call that panicked (every change is one insert or remove).
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `drafts` (all or none), durably, and returns them with ids.
    pub fn add(&self, drafts: Vec<Draft>, now: i64) -> Result<Vec<Annotation>, AnnotationError> {
        let mut book = self.book();
        let first = book.next_id;
        let notes: Vec<Annotation> = drafts
            .into_iter()
            .zip(first..)
            .map(|(draft, id)| Annotation {
                id,
                dashboard: draft.dashboard,
                widget: draft.widget,
                time: draft.time,
                end: draft.end,
                text: draft.text,
                created: now,
                level: None,
            })
            .collect();
        for note in &notes {
            book.wal.append(&add_record(note))?;
        }
        book.wal.sync()?;
        book.next_id = first + notes.len() as u64;
        for note in &notes {
            book.live_bytes += record_bytes(note);
            book.notes.insert(note.id, note.clone());
        }
        book.trim();
        book.compact_if_due()?;
        Ok(notes)
    }

    /// Removes annotation `id`; `None` when there is none.
    pub fn remove(&self, id: u64) -> Result<Option<Annotation>, AnnotationError> {
        let mut book = self.book();
        if !book.notes.contains_key(&id) {
            return Ok(None);
        }
        let record =
            serde_json::to_vec(&Record::Remove { id }).expect("a removal always encodes as JSON");
        book.wal.append(&record)?;
        book.wal.sync()?;
        let removed = book.notes.remove(&id);
        if let Some(note) = &removed {
            book.live_bytes = book.live_bytes.saturating_sub(record_bytes(note));
        }
        book.compact_if_due()?;
        Ok(removed)
    }

    /// The annotations of `dashboard` (and, given a widget, only those
    /// that show on it) that overlap `from..=to`: the newest
    /// [`MAX_LISTED`], oldest first.
    pub fn list(
        &self,
        dashboard: &str,
        widget: Option<&str>,
        from: i64,
        to: i64,
    ) -> Vec<Annotation> {
        let book = self.book();
        let mut found: Vec<Annotation> = book
            .notes
            .values()
            .filter(|n| n.dashboard == dashboard && n.overlaps(from, to))
            .filter(|n| widget.is_none_or(|w| n.shows_on(w)))
            .cloned()
            .collect();
        found.sort_by_key(|n| (n.time, n.id));
        let excess = found.len().saturating_sub(MAX_LISTED);
        found.drain(..excess);
        found
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.book().notes.len()
    }

    /// True when none are kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Book {
    /// Drops the oldest past [`MAX_ANNOTATIONS`] (from memory; the next
    /// compaction drops them from disk, and replay trims again).
    fn trim(&mut self) {
        let excess = self.notes.len().saturating_sub(MAX_ANNOTATIONS);
        if excess == 0 {
            return;
        }
        let mut by_time: Vec<(i64, u64)> = self.notes.values().map(|n| (n.time, n.id)).collect();
        by_time.sort_unstable();
        for (_, id) in by_time.into_iter().take(excess) {
            if let Some(note) = self.notes.remove(&id) {
                self.live_bytes = self.live_bytes.saturating_sub(record_bytes(&note));
            }
        }
    }

    /// Rewrites the log as the live set when it has grown well past it.
    fn compact_if_due(&mut self) -> Result<(), AnnotationError> {
        let total = self.wal.total_bytes();
        if total <= COMPACT_FLOOR_BYTES || total <= self.live_bytes * 2 {
            return Ok(());
        }
        let fresh = self.wal.roll()?;
        for note in self.notes.values() {
            self.wal.append(&add_record(note))?;
        }
        self.wal.sync()?;
        self.wal.remove_before(fresh)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    fn draft(data: Value) -> Result<Draft, ApiError> {
        Draft::from_data("main", &data, NOW)
    }

    #[test]
    fn a_text_is_a_note_at_now() {
        let d = draft(json!("  deploy v1.4 ")).unwrap();
        assert_eq!((d.text.as_str(), d.time, d.end), ("deploy v1.4", NOW, None));
    }

    #[test]
    fn times_are_millis_relative_or_rfc3339() {
        let d = draft(json!({"text": "a", "time": "now-1h", "end": "now"})).unwrap();
        assert_eq!((d.time, d.end), (NOW - 3_600_000, Some(NOW)));
        let d = draft(json!({"text": "a", "time": "2026-12-07T10:00:00Z"})).unwrap();
        assert_eq!(d.time, 1_796_637_600_000);
        let d = draft(json!({"text": "a", "time": 5, "widget": "cpu"})).unwrap();
        assert_eq!((d.time, d.widget.as_deref()), (5, Some("cpu")));
    }

    #[test]
    fn bad_notes_are_refused_with_a_reason() {
        for (data, says) in [
            (json!(""), "needs a text"),
            (json!("   "), "needs a text"),
            (json!(12), "is a text or"),
            (json!({"time": 5}), "is a text or"),
            (json!({"text": "a", "colour": "red"}), "is a text or"),
            (json!("x".repeat(501)), "at most 500"),
            (json!("a\u{7}b"), "control"),
            (json!({"text": "a", "time": "yesterday"}), "RFC 3339"),
            (json!({"text": "a", "time": -1}), "not a time"),
            (
                json!({"text": "a", "time": 10, "end": 10}),
                "end comes after",
            ),
            (
                json!({"text": "a", "time": 0, "end": MAX_SPAN_MS + 1}),
                "at most a year",
            ),
            (json!({"text": "a", "widget": "a b"}), "widget id"),
            (json!({"text": "a", "time": 1.5}), "is a text or"),
        ] {
            let error = draft(data.clone()).unwrap_err();
            assert_eq!(error.code(), "invalid_annotation", "{data}");
            assert!(error.to_string().contains(says), "{data}: {error}");
        }
    }

    #[test]
    fn a_dashboard_is_named_by_its_channel() {
        assert_eq!(dashboard_of("dashboard:main"), Some("main"));
        assert_eq!(dashboard_of("dashboard:"), None);
        assert_eq!(dashboard_of("room"), None);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "livedash-annotations-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn note(text: &str, time: i64, widget: Option<&str>) -> Draft {
        Draft {
            dashboard: "main".into(),
            widget: widget.map(str::to_string),
            time,
            end: None,
            text: text.into(),
        }
    }

    #[test]
    fn notes_and_removals_survive_a_reopen_and_ids_are_never_reused() {
        let dir = scratch("reopen");
        let (book, _) = Annotations::open(&dir).unwrap();
        let added = book
            .add(vec![note("a", 10, None), note("b", 20, Some("cpu"))], NOW)
            .unwrap();
        assert_eq!(added.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 2]);
        book.remove(2).unwrap().unwrap();
        drop(book);
        let (book, loaded) = Annotations::open(&dir).unwrap();
        assert_eq!(loaded.annotations, 1);
        assert_eq!(book.list("main", None, 0, 100)[0].text, "a");
        let next = book.add(vec![note("c", 30, None)], NOW).unwrap();
        assert_eq!(next[0].id, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_write_cut_short_loses_only_itself() {
        let dir = scratch("torn");
        let (book, _) = Annotations::open(&dir).unwrap();
        book.add(vec![note("kept", 10, None)], NOW).unwrap();
        drop(book);
        // A record the process did not finish: its length and part of it.
        let segment = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "wal"))
            .unwrap();
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{']);
        std::fs::write(&segment, bytes).unwrap();
        let (book, loaded) = Annotations::open(&dir).unwrap();
        assert_eq!((loaded.annotations, loaded.torn_bytes), (1, 9));
        book.add(vec![note("after", 20, None)], NOW).unwrap();
        drop(book);
        let (book, _) = Annotations::open(&dir).unwrap();
        let texts: Vec<String> = book
            .list("main", None, 0, 100)
            .into_iter()
            .map(|n| n.text)
            .collect();
        assert_eq!(texts, ["kept", "after"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_list_is_of_one_dashboard_its_window_and_what_shows_on_a_widget() {
        let dir = scratch("list");
        let (book, _) = Annotations::open(&dir).unwrap();
        let mut other = note("other board", 15, None);
        other.dashboard = "shop".into();
        let mut span = note("span", 0, None);
        span.end = Some(12);
        book.add(
            vec![
                note("board", 15, None),
                note("cpu", 16, Some("cpu")),
                note("memory", 17, Some("memory")),
                note("late", 99, None),
                other,
                span,
            ],
            NOW,
        )
        .unwrap();
        let texts = |widget| -> Vec<String> {
            book.list("main", widget, 10, 20)
                .into_iter()
                .map(|n| n.text)
                .collect()
        };
        assert_eq!(texts(None), ["span", "board", "cpu", "memory"]);
        assert_eq!(texts(Some("cpu")), ["span", "board", "cpu"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn past_the_bound_the_oldest_go_and_the_log_is_rewritten_smaller() {
        let dir = scratch("bound");
        let (book, _) = Annotations::open(&dir).unwrap();
        let batch = |from: i64| {
            (from..from + 1_000)
                .map(|t| note(&"n".repeat(200), t, None))
                .collect()
        };
        for round in 0..25 {
            book.add(batch(round * 1_000), NOW).unwrap();
        }
        assert_eq!(book.len(), MAX_ANNOTATIONS);
        assert_eq!(book.list("main", None, 0, 14_999).len(), 0);
        assert_eq!(book.list("main", None, 15_000, 15_000).len(), 1);
        let one = record_bytes(&book.list("main", None, 15_000, 15_000)[0]);
        let on_disk: u64 = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        drop(book);
        let (book, loaded) = Annotations::open(&dir).unwrap();
        assert_eq!(loaded.annotations, MAX_ANNOTATIONS);
        assert_eq!(book.list("main", None, 0, 14_999).len(), 0);
        // 25,000 records were written; the log holds at most twice what
        // the 10,000 live ones need.
        assert!(
            on_disk <= 2 * MAX_ANNOTATIONS as u64 * one,
            "{on_disk} bytes on disk, {one} a record"
        );
        assert!(
            on_disk < 25_000 * one * 3 / 4,
            "{on_disk} bytes on disk: never rewritten"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
