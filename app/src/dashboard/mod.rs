//! The dashboard model: one JSON document per dashboard, the same in a
//! file, in the API and in the page.
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": "shop",
//!   "title": "Shop",
//!   "time": { "range": "1h" },
//!   "widgets": [
//!     {
//!       "id": "revenue",
//!       "type": "stat",
//!       "title": "Revenue",
//!       "grid": { "x": 0, "y": 0, "w": 3, "h": 2 },
//!       "series": [{ "selector": "shop_revenue_dollars" }],
//!       "unit": "currency"
//!     }
//!   ]
//! }
//! ```
//!
//! - `version` is the model's version ([`MODEL_VERSION`]); a document of
//!   another version is refused, never guessed at.
//! - `time` is the default range: `{"range": "<preset or span>"}` (live)
//!   or `{"from", "to"}`, as the page's address takes them.
//! - Widgets sit on a grid 12 columns wide (`grid.x + grid.w <= 12`, rows
//!   down from 0) and may not overlap. `series` are selectors of the
//!   query API with their options; `options` are the type's own
//!   ([`WidgetKind`] says which it needs).
//!
//! [`Dashboard::to_canonical`] writes the one canonical form: fields in a
//! fixed order, maps sorted by key, two-space indentation, a final
//! newline; so a file's diff shows only what changed, and reading and
//! writing it again gives the same bytes. Unknown fields are refused, so a
//! typo is an error rather than a setting silently ignored.
//! [`Dashboard::check`] lists every problem, each with the path of the
//! field it is about, for the editor to show beside that field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    chart::{TimeRange, Unit},
    protocol::validate_channel,
};

pub mod edit;
mod merge;
pub mod options;
pub mod read;
#[cfg(test)]
mod tests;

pub use merge::{merge, resolve, Merged};

/// The model's version; documents of another version are refused.
pub const MODEL_VERSION: u32 = 1;
/// The grid's width in columns.
pub const GRID_COLUMNS: u32 = 12;
/// The tallest a widget may be, in rows.
pub const MAX_ROWS: u32 = 24;
/// The "now" a default range is checked against (2030): relative ranges
/// (`now-6h`) are checked for their form, not for one moment.
const CHECKED_AT_MS: i64 = 1_900_000_000_000;
/// The most widgets a dashboard holds.
pub const MAX_WIDGETS: usize = 200;
/// The most series one widget reads.
pub const MAX_SERIES: usize = 20;
/// The longest id (dashboard or widget).
pub const MAX_ID_LEN: usize = 64;
/// The longest title.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest Markdown of a text widget.
pub const MAX_MARKDOWN_CHARS: usize = 20_000;

/// One dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// The model's version: [`MODEL_VERSION`].
    pub version: u32,
    /// Its id: its address (`/d/<id>`) and its file's name.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The range it opens with.
    pub time: DefaultRange,
    /// Its widgets, in reading order.
    pub widgets: Vec<Widget>,
}

/// The range a dashboard opens with: a live `range`, or `from` and `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRange {
    /// A preset or span (`15m`, `1h`, `7d`): live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// The start (`now-6h`, Unix ms, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl DefaultRange {
    /// Its fields that are given, as the page's address names them.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("range", &self.range),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }

    /// The range as of `now_ms` (`None` when it does not read as one; a
    /// checked dashboard's always does).
    pub fn resolve(&self, now_ms: i64) -> Option<TimeRange> {
        TimeRange::from_query(self.pairs(), now_ms).ok()
    }
}

/// One widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// Its id, unique in the dashboard (annotations for one widget name it).
    pub id: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: WidgetKind,
    /// Its title.
    pub title: String,
    /// Where it sits.
    pub grid: Grid,
    /// What it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesQuery>,
    /// What its values measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Its type's own settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Value>,
}

/// The kinds of widget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetKind {
    /// One value with its trend and sparkline.
    Stat,
    /// The time-series chart.
    Timeseries,
    /// One value against its range.
    Gauge,
    /// One bar per series (per core, per mount).
    Bar,
    /// The top series by value, sortable.
    Table,
    /// A status list fed by `patch` events (`options.channel`).
    Status,
    /// The events of a channel (`options.channel`).
    Feed,
    /// Markdown (`options.markdown`).
    Text,
}

impl WidgetKind {
    /// Its name in a document (`stat`, `timeseries`).
    pub fn name(self) -> &'static str {
        match self {
            WidgetKind::Stat => "stat",
            WidgetKind::Timeseries => "timeseries",
            WidgetKind::Gauge => "gauge",
            WidgetKind::Bar => "bar",
            WidgetKind::Table => "table",
            WidgetKind::Status => "status",
            WidgetKind::Feed => "feed",
            WidgetKind::Text => "text",
        }
    }

    /// Whether it reads series (and needs at least one).
    pub fn reads_series(self) -> bool {
        !matches!(
            self,
            WidgetKind::Status | WidgetKind::Feed | WidgetKind::Text
        )
    }
}

/// A widget's place on the grid, in columns and rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Its first column, from 0.
    pub x: u32,
    /// Its first row, from 0.
    pub y: u32,
    /// Its width in columns.
    pub w: u32,
    /// Its height in rows.
    pub h: u32,
}

impl Grid {
    /// Whether it shares a cell with `other`.
    pub fn overlaps(&self, other: &Grid) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
}

/// One selector a widget reads, with the query API's options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// `name{label="value", ...}` as the query API takes it.
    pub selector: String,
    /// The label whose value names each series in legends (a series
    /// without it is called `total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_by: Option<String>,
    /// Read counters as per-second rates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rate: bool,
}

/// A problem with a dashboard, and the field it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field: `title`, `widgets[2].grid.w`, `widgets[0].series[1].selector`.
    pub path: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// Why a document is not a dashboard.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// It is not JSON, or not of the model's shape.
    #[error("not a dashboard: {0}")]
    Shape(String),
    /// It is of the shape but breaks the model's rules.
    #[error("{} problem(s), the first at {}: {}", .0.len(), .0[0].path, .0[0].message)]
    Invalid(Vec<Problem>),
}

/// Checks an id: 1 to [`MAX_ID_LEN`] of `a-z 0-9 - _`, starting with a
/// letter or digit (it names a file and an address).
pub fn valid_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

impl Dashboard {
    /// Reads a dashboard from JSON text, checked. The text need not be
    /// canonical.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let dashboard: Dashboard =
            serde_json::from_str(text).map_err(|e| ModelError::Shape(e.to_string()))?;
        let problems = dashboard.check();
        if problems.is_empty() {
            Ok(dashboard)
        } else {
            Err(ModelError::Invalid(problems))
        }
    }

    /// The canonical text: what a file holds and an export gives.
    pub fn to_canonical(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("a dashboard always encodes as JSON");
        text.push('\n');
        text
    }

    /// Every problem, in document order; empty when it is valid.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| problems.push(Problem { path, message });
        if self.version != MODEL_VERSION {
            problem(
                "version".into(),
                format!(
                    "this is model version {}; livedash reads version {MODEL_VERSION}",
                    self.version
                ),
            );
        }
        if !valid_id(&self.id) {
            problem(
                "id".into(),
                format!(
                    "an id is 1 to {MAX_ID_LEN} of a-z 0-9 - _, starting with a letter or digit"
                ),
            );
        }
        check_title("title", &self.title, &mut problem);
        let pairs = self.time.pairs();
        if pairs.is_empty() {
            problem("time".into(), "give a range (\"1h\") or from and to".into());
        } else if let Err(error) = TimeRange::from_query(pairs, CHECKED_AT_MS) {
            problem("time".into(), error.to_string());
        }
        if self.widgets.len() > MAX_WIDGETS {
            problem("widgets".into(), format!("at most {MAX_WIDGETS} widgets"));
        }
        for (i, widget) in self.widgets.iter().enumerate() {
            let at = |field: &str| format!("widgets[{i}].{field}");
            if !valid_id(&widget.id) {
                problem(
                    at("id"),
                    format!("an id is 1 to {MAX_ID_LEN} of a-z 0-9 - _, starting with a letter or digit"),
                );
            } else if self.widgets[..i].iter().any(|w| w.id == widget.id) {
                problem(
                    at("id"),
                    format!("another widget is already {:?}", widget.id),
                );
            }
            check_title(&at("title"), &widget.title, &mut problem);
            let grid = widget.grid;
            if !(1..=GRID_COLUMNS).contains(&grid.w) {
                problem(
                    at("grid.w"),
                    format!("a width is 1 to {GRID_COLUMNS} columns"),
                );
            } else if grid.x + grid.w > GRID_COLUMNS {
                problem(
                    at("grid.x"),
                    format!("the widget runs past column {GRID_COLUMNS}"),
                );
            }
            if !(1..=MAX_ROWS).contains(&grid.h) {
                problem(at("grid.h"), format!("a height is 1 to {MAX_ROWS} rows"));
            }
            if let Some(other) = self.widgets[..i].iter().find(|w| w.grid.overlaps(&grid)) {
                problem(at("grid"), format!("it overlaps widget {:?}", other.id));
            }
            if widget.kind.reads_series() {
                if widget.series.is_empty() {
                    problem(at("series"), "pick at least one series".into());
                }
            } else if !widget.series.is_empty() {
                problem(at("series"), "this type of widget reads no series".into());
            }
            if widget.series.len() > MAX_SERIES {
                problem(at("series"), format!("at most {MAX_SERIES} series"));
            }
            for (j, query) in widget.series.iter().enumerate() {
                if query.selector.trim().is_empty() {
                    problem(
                        at(&format!("series[{j}].selector")),
                        "name the series".into(),
                    );
                }
            }
            check_options(widget, &at, &mut problem);
        }
        problems
    }
}

fn check_title(path: &str, title: &str, problem: &mut impl FnMut(String, String)) {
    let chars = title.chars().count();
    if title.trim().is_empty() {
        problem(path.into(), "give it a title".into());
    } else if chars > MAX_TITLE_CHARS {
        problem(
            path.into(),
            format!("a title is at most {MAX_TITLE_CHARS} characters"),
        );
    }
}

/// Each type's own options: which it takes and what they hold.
fn check_options(
    widget: &Widget,
    at: &dyn Fn(&str) -> String,
    problem: &mut impl FnMut(String, String),
) {
    let allowed: &[&str] = match widget.kind {
        WidgetKind::Status | WidgetKind::Feed => &["channel"],
        WidgetKind::Text => &["markdown"],
        WidgetKind::Timeseries => &["stacking", "thresholds", "soft_min", "soft_max"],
        WidgetKind::Stat | WidgetKind::Gauge => &["thresholds", "min", "max", "decimals"],
        WidgetKind::Bar | WidgetKind::Table => &["thresholds", "limit", "decimals"],
    };
    for key in widget.options.keys() {
        if !allowed.contains(&key.as_str()) {
            problem(
                at(&format!("options.{key}")),
                format!(
                    "a {} widget takes {}",
                    widget.kind.name(),
                    allowed.join(", ")
                ),
            );
        }
    }
    match widget.kind {
        WidgetKind::Status | WidgetKind::Feed => match widget.options.get("channel") {
            Some(Value::String(channel)) if validate_channel(channel).is_ok() => {}
            Some(_) => problem(at("options.channel"), "not a channel name".into()),
            None => problem(at("options.channel"), "name the channel it shows".into()),
        },
        WidgetKind::Text => match widget.options.get("markdown") {
            Some(Value::String(text)) if text.chars().count() <= MAX_MARKDOWN_CHARS => {}
            Some(Value::String(_)) => problem(
                at("options.markdown"),
                format!("at most {MAX_MARKDOWN_CHARS} characters"),
            ),
            _ => problem(at("options.markdown"), "write the text (Markdown)".into()),
        },
        _ => {}
    }
    if let Some(value) = widget.options.get("thresholds") {
        match value.as_array() {
            Some(entries) if entries.len() <= 20 => {
                for (k, entry) in entries.iter().enumerate() {
                    if let Err(message) = options::threshold(entry) {
                        problem(at(&format!("options.thresholds[{k}]")), message);
                    }
                }
            }
            _ => problem(
                at("options.thresholds"),
                "a list of at most 20 thresholds".into(),
            ),
        }
    }
    if let Some(value) = widget.options.get("stacking") {
        if value.as_str().and_then(options::stacking).is_none() {
            problem(at("options.stacking"), "off, normal or percent".into());
        }
    }
    if let (Some(min), Some(max)) = (
        options::number(widget, "min"),
        options::number(widget, "max"),
    ) {
        if min >= max {
            problem(at("options.max"), "max is above min".into());
        }
    }
    for key in ["min", "max", "soft_min", "soft_max"] {
        if let Some(value) = widget.options.get(key) {
            if !value.as_f64().is_some_and(f64::is_finite) {
                problem(at(&format!("options.{key}")), "a number".into());
            }
        }
    }
    for key in ["limit", "decimals"] {
        if let Some(value) = widget.options.get(key) {
            if value.as_u64().is_none_or(|n| n > 1_000) {
                problem(
                    at(&format!("options.{key}")),
                    "a whole number from 0 to 1000".into(),
                );
            }
        }
    }
}
