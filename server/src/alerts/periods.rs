//! Firing periods on the charts: each time an alert fired, as a span on
//! every chart that shows its series.
//!
//! A period is not stored anywhere of its own: it is read from the
//! alerts' history (the transition to `firing`, the one to `resolved`)
//! and handed to pages as an annotation, which charts already draw as a
//! band and list in their tooltip. So the page needs no code of its own
//! for periods, and they reach it the two ways notes do:
//! - `GET /api/annotations` adds the periods of the window to the notes
//!   of the dashboard's charts ([`annotations`]);
//! - when an alert fires, changes severity or resolves, its period is
//!   published as an `annotation` event on the channel of each dashboard
//!   that charts its series ([`Charts::publish`]); a page replaces the
//!   one it holds by id.
//!
//! A period still open ends at [`OPEN_END`]. Its annotation id is
//! [`PERIOD_IDS`] plus the alert's id times 256 plus the widget's index,
//! so it never meets a note's id and stays the same on every publish.

use std::collections::BTreeMap;

use app::{
    dashboard::{Dashboard, WidgetKind},
    protocol::{Annotation, ANNOTATION_EVENT, DASHBOARD_CHANNEL_PREFIX, OPEN_END},
};

use super::{Alert, Phase, Severity, Transition};
use crate::{dashboards::Dashboards, hub::Hub, query::Selector};

/// The first id of period annotations (notes are numbered from 1 up).
pub const PERIOD_IDS: u64 = 1 << 50;

/// One time an alert fired.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    /// The alert's id.
    pub alert: u64,
    /// Its rule.
    pub rule: String,
    /// Its series' key.
    pub series: String,
    /// The worst severity it reached.
    pub severity: Severity,
    /// When it fired (Unix ms).
    pub from: i64,
    /// When it resolved; `None` while it fires.
    pub to: Option<i64>,
    /// Its message as it fired (or as its severity last changed).
    pub message: String,
}

impl Period {
    /// True when it covers a moment within `from..=to`.
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        self.from <= to && self.to.unwrap_or(i64::MAX) >= from
    }

    /// What its annotation says.
    pub fn text(&self) -> String {
        let mut text = format!("Alert {} {}", self.rule, self.severity.as_str());
        if self.to.is_some() {
            text.push_str(" (resolved)");
        }
        if !self.message.is_empty() {
            text.push_str(": ");
            text.push_str(&self.message);
        }
        text
    }

    /// Its annotation on widget `index` (`widget`) of `dashboard`.
    pub fn annotation(&self, dashboard: &str, index: usize, widget: &str) -> Annotation {
        Annotation {
            id: PERIOD_IDS + self.alert * 256 + index as u64,
            dashboard: dashboard.to_string(),
            widget: Some(widget.to_string()),
            time: self.from,
            end: Some(self.to.unwrap_or(OPEN_END)),
            text: self.text(),
            created: self.from,
            level: Some(self.severity.as_str().to_string()),
        }
    }
}

/// True when `id` is a period's annotation rather than a note.
pub fn is_period(id: u64) -> bool {
    id >= PERIOD_IDS
}

/// The periods in `history` (oldest first), plus those of `active`
/// alerts firing since before the history kept.
pub fn periods<'a>(
    history: impl IntoIterator<Item = &'a Transition>,
    active: impl IntoIterator<Item = &'a Alert>,
) -> Vec<Period> {
    let mut periods: BTreeMap<u64, Period> = BTreeMap::new();
    for t in history {
        follow(&mut periods, t);
    }
    for alert in active {
        if let (Phase::Firing, Some(fired)) = (alert.phase, alert.fired_at) {
            periods.entry(alert.id).or_insert_with(|| Period {
                alert: alert.id,
                rule: alert.rule.clone(),
                series: alert.series.clone(),
                severity: alert.severity,
                from: fired,
                to: None,
                message: alert.message.clone(),
            });
        }
    }
    periods.into_values().collect()
}

/// Moves the periods by transition `t`; the period it touched, if any.
fn follow<'a>(periods: &'a mut BTreeMap<u64, Period>, t: &Transition) -> Option<&'a Period> {
    match t.to {
        Phase::Firing => {
            let period = periods.entry(t.alert).or_insert_with(|| Period {
                alert: t.alert,
                rule: t.rule.clone(),
                series: t.series.clone(),
                severity: t.severity,
                from: t.at,
                to: None,
                message: String::new(),
            });
            period.severity = period.severity.max(t.severity);
            period.message.clone_from(&t.message);
            Some(period)
        }
        Phase::Resolved => {
            let period = periods.get_mut(&t.alert)?;
            period.to = Some(t.at);
            Some(period)
        }
        Phase::Pending => None,
    }
}

/// The timeseries widgets of `dashboard` with their selectors parsed
/// (a selector that does not parse shows nothing).
fn charts_of(dashboard: &Dashboard) -> Vec<(usize, &str, Vec<Selector>)> {
    dashboard
        .widgets
        .iter()
        .enumerate()
        .filter(|(_, w)| w.kind == WidgetKind::Timeseries && !w.series.is_empty())
        .map(|(index, w)| {
            let selectors = w
                .series
                .iter()
                .filter_map(|q| crate::query::parse_selector(&q.selector).ok())
                .collect();
            (index, w.id.as_str(), selectors)
        })
        .collect()
}

/// The name and labels of series key `key` (`name{a="x"}`); for an
/// absence alert with no series, whose key is its rule's selector, the
/// labels it requires equal.
fn series_of(key: &str) -> Option<(String, BTreeMap<String, String>)> {
    let selector = crate::query::parse_selector(key).ok()?;
    let labels = selector
        .matchers
        .iter()
        .filter_map(|m| match &m.op {
            crate::store::MatchOp::Equal(value) => Some((m.label.clone(), value.clone())),
            _ => None,
        })
        .collect();
    Some((selector.name, labels))
}

/// The charts of `charts` that show series `key`.
fn showing<'a>(
    charts: &'a [(usize, &'a str, Vec<Selector>)],
    key: &str,
) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let series = series_of(key);
    charts
        .iter()
        .filter(move |(_, _, selectors)| {
            series.as_ref().is_some_and(|(name, labels)| {
                selectors
                    .iter()
                    .any(|s| s.name == *name && s.matchers.iter().all(|m| m.matches_labels(labels)))
            })
        })
        .map(|(index, id, _)| (*index, *id))
}

/// The annotations of `periods` on the charts of `dashboard` (of widget
/// `widget` only, when given).
pub fn annotations(
    dashboard: &Dashboard,
    widget: Option<&str>,
    periods: &[Period],
) -> Vec<Annotation> {
    let charts = charts_of(dashboard);
    let mut out = Vec::new();
    for period in periods {
        for (index, id) in showing(&charts, &period.series) {
            if widget.is_none_or(|w| w == id) {
                out.push(period.annotation(&dashboard.id, index, id));
            }
        }
    }
    out
}

/// Where periods go live: the dashboards, and the built-in overview of
/// this host (charted even when no file holds it).
#[derive(Clone, Debug)]
pub struct Charts {
    /// The stored dashboards.
    pub dashboards: Dashboards,
    /// The built-in overview, used when no stored dashboard has its id.
    pub overview: Dashboard,
}

impl Charts {
    /// Every dashboard that can be open: the stored ones, and the
    /// overview unless a stored one replaces it.
    pub fn dashboards(&self) -> Vec<Dashboard> {
        let mut all: Vec<Dashboard> = self
            .dashboards
            .list()
            .into_iter()
            .map(|s| s.dashboard)
            .collect();
        if !all.iter().any(|d| d.id == self.overview.id) {
            all.push(self.overview.clone());
        }
        all
    }

    /// Dashboard `id`, stored or built in.
    pub fn dashboard(&self, id: &str) -> Option<Dashboard> {
        match self.dashboards.get(id) {
            Some(stored) => Some(stored.dashboard),
            None => (id == self.overview.id).then(|| self.overview.clone()),
        }
    }

    /// Publishes the period each of `moved` started, changed or ended on
    /// the dashboards that chart its series. `periods` are the periods
    /// as they stood before (read from the history), so a resolution or
    /// a change of severity carries the period's start.
    pub fn publish(&self, hub: &Hub, mut periods: BTreeMap<u64, Period>, moved: &[Transition]) {
        let touched: Vec<Period> = moved
            .iter()
            .filter_map(|t| follow(&mut periods, t).cloned())
            .collect();
        if touched.is_empty() {
            return;
        }
        for dashboard in self.dashboards() {
            let channel = format!("{DASHBOARD_CHANNEL_PREFIX}{}", dashboard.id);
            for note in annotations(&dashboard, None, &touched) {
                let data = match serde_json::to_value(&note) {
                    Ok(data) => data,
                    Err(error) => {
                        tracing::warn!(%error, "cannot write a firing period");
                        continue;
                    }
                };
                if let Err(error) = hub.publish(&channel, ANNOTATION_EVENT, None, &data) {
                    tracing::warn!(%error, %channel, "cannot publish a firing period");
                }
            }
        }
    }
}

/// The periods of `history` by alert, for [`Charts::publish`].
pub fn by_alert<'a>(
    history: impl IntoIterator<Item = &'a Transition>,
    active: impl IntoIterator<Item = &'a Alert>,
) -> BTreeMap<u64, Period> {
    periods(history, active)
        .into_iter()
        .map(|p| (p.alert, p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(seq: u64, at: i64, alert: u64, to: Phase, severity: Severity) -> Transition {
        Transition {
            seq,
            at,
            alert,
            rule: "load-high".into(),
            series: format!("load{{host=\"{}\"}}", if alert == 1 { "a" } else { "b" }),
            from: None,
            to,
            severity,
            value: Some(90.0),
            threshold: Some(80.0),
            message: format!("at {at}"),
        }
    }

    fn dashboard(charts: &[(&str, &str)]) -> Dashboard {
        let widgets: Vec<serde_json::Value> = charts
            .iter()
            .enumerate()
            .map(|(i, (id, selector))| {
                serde_json::json!({"id": id, "type": if id.starts_with("stat") {"stat"} else {"timeseries"},
                    "title": id, "grid": {"x": 0, "y": i * 4, "w": 6, "h": 4},
                    "series": [{"selector": selector}]})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "version": 1, "id": "ops", "title": "Ops", "time": {"range": "1h"}, "widgets": widgets,
        }))
        .expect("a dashboard")
    }

    #[test]
    fn a_period_runs_from_firing_to_resolved_at_its_worst_severity() {
        use Phase::*;
        use Severity::*;
        let history = [
            moved(1, 100, 1, Pending, Warning),
            moved(2, 200, 1, Firing, Warning),
            moved(3, 300, 1, Firing, Critical),
            moved(4, 400, 1, Firing, Warning),
            moved(5, 500, 1, Resolved, Warning),
            // Pending and gone before it fired: no period.
            moved(6, 600, 2, Pending, Critical),
            moved(7, 700, 2, Resolved, Critical),
        ];
        let periods = periods(&history, []);
        assert_eq!(periods.len(), 1);
        let p = &periods[0];
        assert_eq!((p.from, p.to, p.severity), (200, Some(500), Critical));
        assert_eq!(p.message, "at 400");
        assert_eq!(p.text(), "Alert load-high critical (resolved): at 400");
        assert!(p.overlaps(500, 900) && p.overlaps(0, 200) && !p.overlaps(501, 900));
    }

    #[test]
    fn an_alert_firing_since_before_the_kept_history_has_an_open_period() {
        let mut alert = Alert::from_transition(&moved(9, 50, 2, Phase::Firing, Severity::Critical));
        alert.fired_at = Some(40);
        let periods = periods([], [&alert]);
        assert_eq!(periods.len(), 1);
        assert_eq!((periods[0].from, periods[0].to), (40, None));
        assert!(periods[0].overlaps(i64::MAX - 1, i64::MAX));
        let note = periods[0].annotation("ops", 3, "cpu");
        assert_eq!(note.end, Some(OPEN_END));
        assert_eq!(note.id, PERIOD_IDS + 2 * 256 + 3);
        assert!(is_period(note.id) && !is_period(1));
    }

    #[test]
    fn a_period_shows_on_each_chart_whose_selectors_match_its_series_and_nowhere_else() {
        let board = dashboard(&[
            ("host-a", "load{host=\"a\"}"),
            ("hosts", "load{host=~\"a|c\"}"),
            ("not-a", "load{host!=\"a\"}"),
            ("cpu", "cpu{host=\"a\"}"),
            ("stat", "load"),
            ("broken", "load{"),
        ]);
        let history = [moved(1, 100, 1, Phase::Firing, Severity::Warning)];
        let periods = periods(&history, []);
        let on: Vec<(Option<String>, u64)> = annotations(&board, None, &periods)
            .into_iter()
            .map(|n| (n.widget, n.id - PERIOD_IDS - 256))
            .collect();
        assert_eq!(
            on,
            [
                (Some("host-a".to_string()), 0),
                (Some("hosts".to_string()), 1)
            ]
        );
        assert_eq!(annotations(&board, Some("hosts"), &periods).len(), 1);
        assert!(annotations(&board, Some("cpu"), &periods).is_empty());
    }

    #[test]
    fn a_resolution_or_a_change_of_severity_republishes_the_period_from_its_start() {
        let history = [moved(2, 200, 1, Phase::Firing, Severity::Warning)];
        let mut before = by_alert(&history, []);
        let change = moved(3, 300, 1, Phase::Firing, Severity::Critical);
        let touched = follow(&mut before, &change).cloned().expect("touched");
        assert_eq!((touched.from, touched.severity), (200, Severity::Critical));
        let end = moved(4, 400, 1, Phase::Resolved, Severity::Critical);
        let touched = follow(&mut before, &end).cloned().expect("touched");
        assert_eq!((touched.from, touched.to), (200, Some(400)));
        assert!(follow(
            &mut before,
            &moved(5, 500, 2, Phase::Pending, Severity::Warning)
        )
        .is_none());
    }
}
