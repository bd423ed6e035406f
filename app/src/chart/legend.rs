//! What a chart's legend and tooltip say: each series' figures over the
//! visible range, the order of the legend table, which series are shown,
//! and the values under the crosshair.
//!
//! Points are sorted by time, so every lookup is a binary search: the
//! figures of a range cost a logarithm to find it and a pass over it, and
//! a tooltip over a long series costs a logarithm per series, not a scan,
//! which matters since it runs on every pointer move. Values that are not
//! finite are gap markers (see [`super::Reduction`]) and are skipped.
//!
//! Visibility follows Grafana's legend, and says so in the page
//! ([`Visibility::describe`]): a click shows only that series and a second
//! click shows all again; a modifier-click shows or hides just one. It is
//! kept as a rule, not as a list of every key, so that series appearing
//! later (a new process, a new disk) follow it: while one series is
//! isolated the newcomers stay hidden, while some are hidden they show.
//!
//! Series are named in natural order, so `cpu2` sorts before `cpu10`.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::Line;

/// A series' figures over a range, of its finite points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesStats {
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The mean of the values.
    pub mean: f64,
    /// The newest value.
    pub last: f64,
    /// How many finite points there are.
    pub count: usize,
}

/// The figures of `line`'s points within `from..=to`, both ends included,
/// as both are drawn; `None` when no finite point is there (or
/// `from > to`). Read in place: a legend asks on every frame.
pub fn stats(line: &Line, from: i64, to: i64) -> Option<SeriesStats> {
    let parts = line.slices_within(from, to);
    let mut figures: Option<SeriesStats> = None;
    let mut sum = 0.0;
    for part in parts {
        for point in part.iter().filter(|p| p.value.is_finite()) {
            let value = point.value;
            sum += value;
            let figures = figures.get_or_insert(SeriesStats {
                min: value,
                max: value,
                mean: 0.0,
                last: value,
                count: 0,
            });
            figures.min = figures.min.min(value);
            figures.max = figures.max.max(value);
            figures.last = value;
            figures.count += 1;
        }
    }
    let mut figures = figures?;
    let count = figures.count as f64;
    figures.mean = if sum.is_finite() {
        sum / count
    } else {
        // Values near f64::MAX overflow their sum, not their mean.
        let mut mean = 0.0;
        for part in parts {
            for point in part.iter().filter(|p| p.value.is_finite()) {
                mean += point.value / count;
            }
        }
        mean
    };
    Some(figures)
}

/// The column a legend table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LegendSort {
    /// The series' label, in natural order.
    #[default]
    Name,
    /// [`SeriesStats::min`].
    Min,
    /// [`SeriesStats::max`].
    Max,
    /// [`SeriesStats::mean`].
    Mean,
    /// [`SeriesStats::last`].
    Last,
}

/// A legend table's order: the column and its direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LegendOrder {
    /// The column sorted by.
    pub by: LegendSort,
    /// Largest (or last in the alphabet) first.
    pub descending: bool,
}

impl LegendOrder {
    /// The order a first click on the header of `column` sets (the table
    /// was in the legend's order): names from A, figures from the largest.
    pub fn first(column: LegendSort) -> Self {
        Self {
            by: column,
            descending: column != LegendSort::Name,
        }
    }

    /// The order after a click on the header of `column`: the same column
    /// turns around; another starts with names from A and figures from the
    /// largest, which is what a person looks for first.
    pub fn clicked(self, column: LegendSort) -> Self {
        if column == self.by {
            Self {
                descending: !self.descending,
                ..self
            }
        } else {
            Self::first(column)
        }
    }
}

/// One row of the legend table.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendRow {
    /// The series' key.
    pub key: String,
    /// The series' name as shown.
    pub label: String,
    /// Its figures over the visible range; `None` when it has no points
    /// there.
    pub stats: Option<SeriesStats>,
}

/// Sorts `rows` by `sort`, largest first when `descending`. Rows without
/// figures go last whatever the column and direction (there is nothing to
/// compare, and an empty row on top hides the ones that matter); rows
/// that tie go by label, from A, then by key.
pub fn sort_rows(rows: &mut Vec<LegendRow>, sort: LegendSort, descending: bool) {
    let by_label = |a: &LegendRow, b: &LegendRow| {
        natural_cmp(&a.label, &b.label).then_with(|| a.key.cmp(&b.key))
    };
    super::sort_stable(rows, |a, b| match (&a.stats, &b.stats) {
        (Some(x), Some(y)) => {
            let order = match sort {
                LegendSort::Name => natural_cmp(&a.label, &b.label),
                LegendSort::Min => x.min.total_cmp(&y.min),
                LegendSort::Max => x.max.total_cmp(&y.max),
                LegendSort::Mean => x.mean.total_cmp(&y.mean),
                LegendSort::Last => x.last.total_cmp(&y.last),
            };
            let order = if descending { order.reverse() } else { order };
            order.then_with(|| by_label(a, b))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => by_label(a, b),
    });
}

/// Which series a chart shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visibility {
    rule: Rule,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Rule {
    /// Every series.
    #[default]
    All,
    /// Every series but these (never empty: that is `All`).
    Hide(BTreeSet<String>),
    /// Only these series (after a click, or modifier-clicks from there).
    Only(BTreeSet<String>),
}

impl Visibility {
    /// Whether the series `key` is drawn.
    pub fn is_visible(&self, key: &str) -> bool {
        match &self.rule {
            Rule::All => true,
            Rule::Hide(hidden) => !hidden.contains(key),
            Rule::Only(shown) => shown.contains(key),
        }
    }

    /// A click on `key` in the legend, of the series `all`: shows only
    /// `key`, or every series when `key` is already the only one shown.
    pub fn click<K: AsRef<str>>(&mut self, key: &str, all: &[K]) {
        let mut shown = all.iter().map(AsRef::as_ref).filter(|k| self.is_visible(k));
        let only_this = shown.next() == Some(key) && shown.next().is_none();
        self.rule = if only_this {
            Rule::All
        } else {
            Rule::Only(BTreeSet::from([key.to_string()]))
        };
    }

    /// A modifier-click on `key`, of the series `all`: shows or hides just
    /// `key`. Keys no longer in `all` are forgotten.
    pub fn toggle<K: AsRef<str>>(&mut self, key: &str, all: &[K]) {
        let keys = match &mut self.rule {
            Rule::All => {
                self.rule = Rule::Hide(BTreeSet::from([key.to_string()]));
                return;
            }
            Rule::Hide(keys) | Rule::Only(keys) => keys,
        };
        if !keys.remove(key) {
            keys.insert(key.to_string());
        }
        keys.retain(|k| all.iter().any(|other| other.as_ref() == k));
        if matches!(&self.rule, Rule::Hide(hidden) if hidden.is_empty()) {
            self.rule = Rule::All;
        }
    }

    /// What the legend's hint says about the series `all`: `Showing only
    /// cpu0 — click again to show all`, `2 of 5 series hidden — Ctrl-click
    /// to show or hide one`.
    pub fn describe<K: AsRef<str>>(&self, all: &[K]) -> String {
        let total = all.len();
        let shown: Vec<&str> = all
            .iter()
            .map(AsRef::as_ref)
            .filter(|k| self.is_visible(k))
            .collect();
        let hidden = total - shown.len();
        match shown.as_slice() {
            _ if total == 0 => "No series yet".to_string(),
            _ if hidden == 0 => {
                "Click a series to show only it — Ctrl-click to show or hide one".to_string()
            }
            [only] if total > 1 => format!("Showing only {only} — click again to show all"),
            [] => format!("All {total} series hidden — Ctrl-click one to show it"),
            _ => format!("{hidden} of {total} series hidden — Ctrl-click to show or hide one"),
        }
    }
}

/// What the tooltip shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TooltipMode {
    /// The one series nearest the pointer.
    Single,
    /// Every visible series, largest value first.
    #[default]
    All,
    /// No tooltip.
    Off,
}

impl TooltipMode {
    /// The mode named `single`, `all` or `off` (a select's value).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "single" => Some(Self::Single),
            "all" => Some(Self::All),
            "off" => Some(Self::Off),
            _ => None,
        }
    }

    /// The name [`TooltipMode::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::All => "all",
            Self::Off => "off",
        }
    }
}

/// One row of the tooltip: a series' point near the crosshair.
#[derive(Clone, Debug, PartialEq)]
pub struct TooltipRow {
    /// The series' key.
    pub key: String,
    /// The series' name as shown.
    pub label: String,
    /// The point's time, Unix milliseconds.
    pub ts: i64,
    /// The point's value.
    pub value: f64,
}

/// A series as the tooltip reads it: its key, its name as shown, and its
/// points sorted by time.
pub type TooltipSeries<'a> = (&'a str, &'a str, &'a [(i64, f64)]);

/// The finite point of `points` (sorted by time) nearest to `ts`, if it is
/// at most `max_distance_ms` away; the earlier one of two equally near (the
/// value that held at `ts`).
pub fn nearest(points: &[(i64, f64)], ts: i64, max_distance_ms: i64) -> Option<(i64, f64)> {
    let max_distance = u64::try_from(max_distance_ms).ok()?;
    let at = points.partition_point(|&(t, _)| t < ts);
    let (before, after) = points.split_at(at);
    // Walking outwards past gap markers stops at the first point too far.
    let before = before
        .iter()
        .rev()
        .take_while(|(t, _)| t.abs_diff(ts) <= max_distance)
        .find(|(_, value)| value.is_finite());
    let after = after
        .iter()
        .take_while(|(t, _)| t.abs_diff(ts) <= max_distance)
        .find(|(_, value)| value.is_finite());
    match (before, after) {
        (Some(b), Some(a)) if a.0.abs_diff(ts) < b.0.abs_diff(ts) => Some(*a),
        (Some(b), _) => Some(*b),
        (None, a) => a.copied(),
    }
}

/// The tooltip at `ts` over `series`; the caller passes only the visible
/// ones.
///
/// - [`TooltipMode::All`] gives every series with a point within
///   `max_distance_ms` of `ts`, largest value first (ties by label).
/// - [`TooltipMode::Single`] gives, of those, the one whose value is
///   nearest to `pointer_value`, the pointer's height in data units (the
///   largest when there is none, or it is not a number).
/// - [`TooltipMode::Off`] gives none.
pub fn tooltip_rows(
    series: &[TooltipSeries<'_>],
    ts: i64,
    max_distance_ms: i64,
    mode: TooltipMode,
    pointer_value: Option<f64>,
) -> Vec<TooltipRow> {
    if mode == TooltipMode::Off {
        return Vec::new();
    }
    let mut rows: Vec<TooltipRow> = series
        .iter()
        .filter_map(|&(key, label, points)| {
            let (ts, value) = nearest(points, ts, max_distance_ms)?;
            Some(TooltipRow {
                key: key.to_string(),
                label: label.to_string(),
                ts,
                value,
            })
        })
        .collect();
    super::sort_stable(&mut rows, |a, b| {
        b.value
            .total_cmp(&a.value)
            .then_with(|| natural_cmp(&a.label, &b.label))
            .then_with(|| a.key.cmp(&b.key))
    });
    if mode == TooltipMode::Single {
        let pointer = pointer_value.filter(|y| !y.is_nan());
        let chosen = match pointer {
            // The first of equally near rows, so ties go to the larger.
            Some(y) => (0..rows.len()).reduce(|best, i| {
                let distance = |row: &TooltipRow| (row.value - y).abs();
                if distance(&rows[i]) < distance(&rows[best]) {
                    i
                } else {
                    best
                }
            }),
            None => (!rows.is_empty()).then_some(0),
        };
        return chosen.map(|i| rows.swap_remove(i)).into_iter().collect();
    }
    rows
}

/// Orders names as people read them: runs of digits by their number
/// (`cpu2` before `cpu10`), ASCII letters without regard to case (a
/// Unicode case table would cost the bundle 5 KB); names equal
/// so (`cpu01`, `cpu1`) fall back to plain byte order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        let (Some(cx), Some(cy)) = (x.chars().next(), y.chars().next()) else {
            return x
                .is_empty()
                .cmp(&y.is_empty())
                .reverse()
                .then_with(|| a.cmp(b));
        };
        if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let ((nx, rx), (ny, ry)) = (split_digits(x), split_digits(y));
            let (nx, ny) = (nx.trim_start_matches('0'), ny.trim_start_matches('0'));
            let order = nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny));
            if order != Ordering::Equal {
                return order;
            }
            (x, y) = (rx, ry);
        } else {
            let order = cx.to_ascii_lowercase().cmp(&cy.to_ascii_lowercase());
            if order != Ordering::Equal {
                return order;
            }
            (x, y) = (&x[cx.len_utf8()..], &y[cy.len_utf8()..]);
        }
    }
}

/// The run of ASCII digits `text` starts with, and what follows.
fn split_digits(text: &str) -> (&str, &str) {
    text.split_at(text.bytes().take_while(u8::is_ascii_digit).count())
}

#[cfg(test)]
mod tests;
