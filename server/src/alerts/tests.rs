//! The evaluator over a real store (one alert per series, absence,
//! relative change), message templates, and the journal's replay.

use std::{collections::BTreeMap, path::PathBuf};

use app::protocol::SeriesKey;
use serde_json::json;

use super::{
    engine::{self, Move},
    journal::{Entry, Journal},
    render, Alert, Alerts, Fields, Phase, Rule, Severity, Transition,
};
use crate::{
    hub::{Hub, HubConfig},
    sources::ingest::now_ms,
    store::{chunk::Sample, Mode, Point, Store, StoreConfig},
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("livedash-alerts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn point(name: &str, host: &str, ts: i64, value: f64) -> Point {
    Point {
        key: SeriesKey::new(name, [("host".to_string(), host.to_string())]).expect("a key"),
        sample: Sample { ts, value },
    }
}

fn rule(value: serde_json::Value) -> Rule {
    serde_json::from_value(value).expect("a rule")
}

/// What the evaluator moves, over `points` already stored, for `rules`,
/// after one pass over every rule at `now`.
fn moves(
    name: &str,
    rules: Vec<Rule>,
    points: &[Point],
) -> Vec<(String, Phase, Severity, Option<f64>)> {
    let dir = TempDir::new(name);
    let store = Store::open(&StoreConfig::new(dir.0.join("store")))
        .expect("a store")
        .0;
    store.ingest(points, Mode::All, now_ms()).expect("stored");
    let alerts =
        Alerts::open(&dir.0.join("alerts"), rules, Hub::new(HubConfig::default())).expect("alerts");
    let moved = engine::evaluate_once(&alerts, &store);
    let mut out: Vec<_> = moved
        .into_iter()
        .map(|(a, _)| (a.series, a.phase, a.severity, a.value))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn one_alert_per_series_a_rule_matches_each_at_its_own_level() {
    let now = now_ms();
    let points: Vec<Point> = [("a", 50.0), ("b", 85.0), ("c", 99.0)]
        .iter()
        .flat_map(|(host, v)| {
            [
                point("cpu", host, now - 30_000, *v - 10.0),
                point("cpu", host, now - 1_000, *v),
            ]
        })
        .chain([point("other", "a", now - 1_000, 100.0)])
        .collect();
    let rules = vec![rule(json!({
        "id": "cpu", "selector": "cpu{host!=\"z\"}", "aggregate": "max", "window": "1m",
        "condition": {"type": "above", "warning": 80, "critical": 95},
    }))];
    assert_eq!(
        moves("series", rules, &points),
        [
            (
                "cpu{host=\"b\"}".into(),
                Phase::Firing,
                Severity::Warning,
                Some(85.0)
            ),
            (
                "cpu{host=\"c\"}".into(),
                Phase::Firing,
                Severity::Critical,
                Some(99.0)
            ),
        ]
    );
}

#[test]
fn a_drop_against_the_same_window_an_hour_earlier_is_a_relative_change() {
    let now = now_ms();
    let mut points = Vec::new();
    // An hour ago: 100 a minute in both shops; now one of them sells 40.
    for (host, recent) in [("eu", 95.0), ("us", 40.0)] {
        points.push(point("sales", host, now - 3_600_000 - 30_000, 100.0));
        points.push(point("sales", host, now - 30_000, recent));
    }
    let rules = vec![rule(json!({
        "id": "sales-drop", "selector": "sales", "aggregate": "avg", "window": "1m",
        "condition": {"type": "change", "offset": "1h", "direction": "below", "warning": 0.7, "critical": 0.5},
    }))];
    assert_eq!(
        moves("change", rules, &points),
        [(
            "sales{host=\"us\"}".into(),
            Phase::Firing,
            Severity::Critical,
            Some(0.4)
        )]
    );
}

#[test]
fn absence_fires_for_a_silent_series_and_for_a_selector_matching_nothing() {
    let now = now_ms();
    let points = vec![
        point("beat", "fresh", now - 1_000, 1.0),
        point("beat", "stale", now - 120_000, 1.0),
    ];
    let rules = vec![
        rule(
            json!({"id": "beat", "selector": "beat", "condition": {"type": "absent", "after": "1m", "level": "warning"}}),
        ),
        rule(
            json!({"id": "never", "selector": "never_sent", "condition": {"type": "absent", "after": "1m"}}),
        ),
    ];
    assert_eq!(
        moves("absent", rules, &points),
        [
            (
                "beat{host=\"stale\"}".into(),
                Phase::Firing,
                Severity::Warning,
                None
            ),
            ("never_sent".into(), Phase::Firing, Severity::Critical, None),
        ]
    );
}

#[test]
fn a_message_names_the_value_the_line_and_the_labels() {
    let labels: BTreeMap<String, String> = [("host".to_string(), "web-1".to_string())].into();
    let fields = Fields {
        value: Some(97.25),
        threshold: Some(95.0),
        severity: Severity::Critical,
        rule: "cpu",
        series: "cpu{host=\"web-1\"}",
        labels: &labels,
    };
    let table = [
        ("{{value}} past {{threshold}}", "97.25 past 95"),
        (
            "{{ severity }} on {{labels.host}} ({{rule}})",
            "critical on web-1 (cpu)",
        ),
        (
            "{{labels.none}}|{{unknown}}|{{value",
            "|{{unknown}}|{{value",
        ),
        ("{{series}}", "cpu{host=\"web-1\"}"),
    ];
    for (template, want) in table {
        assert_eq!(render(template, &fields), want, "{template}");
    }
}

#[test]
fn the_journal_replays_transitions_acks_and_silences_and_skips_a_torn_line() {
    let dir = TempDir::new("journal");
    let alert = |id: u64, phase: Phase| Alert {
        id,
        rule: "r".into(),
        series: format!("s{id}"),
        labels: BTreeMap::new(),
        phase,
        severity: Severity::Warning,
        since: 1,
        fired_at: None,
        resolved_at: None,
        value: Some(1.0),
        threshold: Some(0.5),
        message: "m".into(),
        ack: None,
        silenced_by: None,
        notify: Vec::new(),
    };
    let transition = |seq: u64, id: u64, to: Phase| Transition {
        seq,
        at: seq as i64,
        alert: id,
        rule: "r".into(),
        series: format!("s{id}"),
        from: None,
        to,
        severity: Severity::Warning,
        value: Some(1.0),
        threshold: Some(0.5),
        message: "m".into(),
    };
    {
        let (mut journal, _) = Journal::open(&dir.0).expect("a journal");
        journal
            .append(&[
                Entry::Transition {
                    transition: transition(1, 1, Phase::Firing),
                    alert: alert(1, Phase::Firing),
                },
                Entry::Transition {
                    transition: transition(2, 2, Phase::Firing),
                    alert: alert(2, Phase::Firing),
                },
                Entry::Ack {
                    alert: 1,
                    ack: super::Ack {
                        by: "Ana".into(),
                        at: 3,
                        comment: String::new(),
                    },
                },
                Entry::Transition {
                    transition: transition(4, 2, Phase::Resolved),
                    alert: alert(2, Phase::Resolved),
                },
            ])
            .expect("appended");
    }
    // A crash in the middle of a write.
    let path = dir.0.join("journal.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"kind\":\"transition\",\"transi");
    std::fs::write(&path, bytes).unwrap();
    for _ in 0..2 {
        // Twice: the first open rewrites the file without the torn line.
        let (_, replayed) = Journal::open(&dir.0).expect("a journal");
        let active: Vec<_> = replayed
            .active
            .values()
            .map(|a| (a.id, a.ack.as_ref().map(|a| a.by.clone())))
            .collect();
        assert_eq!(active, [(1, Some("Ana".to_string()))]);
        assert_eq!(
            replayed.history.iter().map(|t| t.seq).collect::<Vec<_>>(),
            [1, 2, 4]
        );
        assert_eq!(replayed.seq, 4);
    }
}

#[test]
fn moves_are_journaled_before_they_are_kept() {
    let dir = TempDir::new("apply");
    let alerts = Alerts::open(&dir.0, Vec::new(), Hub::new(HubConfig::default())).expect("alerts");
    let m = Move {
        rule: "r".into(),
        series: "s".into(),
        labels: BTreeMap::new(),
        to: Phase::Firing,
        severity: Severity::Critical,
        value: Some(2.0),
        threshold: Some(1.0),
        message: "m".into(),
        notify: Vec::new(),
    };
    alerts.apply(vec![m.clone()], 10);
    alerts.apply(
        vec![Move {
            to: Phase::Resolved,
            ..m
        }],
        20,
    );
    drop(alerts);
    let again = Alerts::open(&dir.0, Vec::new(), Hub::new(HubConfig::default())).expect("alerts");
    assert!(again.active().is_empty());
    let history: Vec<_> = again
        .history(10, None)
        .into_iter()
        .map(|t| (t.from, t.to, t.at))
        .collect();
    assert_eq!(
        history,
        [
            (Some(Phase::Firing), Phase::Resolved, 20),
            (None, Phase::Firing, 10)
        ]
    );
}
