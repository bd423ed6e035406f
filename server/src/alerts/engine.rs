//! The evaluator: one task that owns every rule's view of its series.
//!
//! The store hands it each stored batch through its tap (series id, time,
//! value: nothing is copied but numbers, so ingest pays next to nothing).
//! A series is looked up once (`Store::key_of`) and matched against the
//! rules of its metric name; a series that matches none is remembered as
//! such. A matching series keeps its samples of the longest window of its
//! rules, in memory, bounded ([`WINDOW_SAMPLES`]).
//!
//! Series whose windows moved are evaluated at most every [`SETTLE`] (so
//! a burst of batches is one evaluation, and a crossing reaches the pages
//! well within a second); every rule is evaluated each [`TICK`], which
//! moves `for` durations along, notices absence and lets windows empty
//! when a series stops (its alert then resolves). When the rules change,
//! or the tap dropped a batch, everything is read again from the store.
//!
//! A `change` rule compares with the same window `offset` earlier: that
//! window is read from the store, per rule, at most every
//! [`PAST_REFRESH`].

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

use super::{
    eval::{self, Active, Change, Phase},
    render,
    rule::{Compiled, Levels, Severity, Test},
    Alerts, Fields,
};
use crate::{
    shutdown::Shutdown,
    sources::ingest::now_ms,
    store::{Store, Stored},
};

/// The least time between two evaluations of series that moved.
pub const SETTLE: Duration = Duration::from_millis(100);
/// How often every rule is evaluated.
pub const TICK: Duration = Duration::from_secs(1);
/// The most samples one series' window keeps.
pub const WINDOW_SAMPLES: usize = 10_000;
/// How often a `change` rule's past window is read again.
pub const PAST_REFRESH: Duration = Duration::from_secs(10);
/// Batches the store's tap holds for the evaluator.
pub const TAP_BATCHES: usize = 4_096;

/// One move the evaluator asks of [`Alerts::apply`].
#[derive(Clone, Debug, PartialEq)]
pub struct Move {
    /// The rule.
    pub rule: String,
    /// The series.
    pub series: String,
    /// Its labels and the rule's.
    pub labels: BTreeMap<String, String>,
    /// Where the alert goes.
    pub to: Phase,
    /// At which level.
    pub severity: Severity,
    /// The value.
    pub value: Option<f64>,
    /// The line crossed.
    pub threshold: Option<f64>,
    /// The message.
    pub message: String,
    /// Viewers it is for.
    pub notify: Vec<String>,
}

/// A series the evaluator has met.
#[derive(Debug, Default)]
struct Watched {
    key: String,
    labels: BTreeMap<String, String>,
    /// Indexes of the rules that read it (none: it is only remembered).
    rules: Vec<usize>,
    /// Its samples of the longest window of its rules, oldest first.
    window: VecDeque<(i64, f64)>,
    /// How far back the window reaches.
    keep_ms: i64,
    /// Its newest sample's time.
    newest: Option<i64>,
}

/// The evaluator's state.
struct Engine {
    alerts: Alerts,
    store: Store,
    rules: Vec<Arc<Compiled>>,
    by_name: HashMap<String, Vec<usize>>,
    series: HashMap<u32, Watched>,
    /// Series whose windows moved since the last evaluation.
    dirty: HashSet<u32>,
    /// The alerts pending or firing, by (rule id, series key).
    state: HashMap<(String, String), Active>,
    /// Each `change` rule's past aggregate per series, and when it was read.
    past: HashMap<usize, (Instant, HashMap<u32, f64>)>,
}

/// Runs the evaluator until `shutdown`. `tap` is the reading end of the
/// store's tap.
pub async fn run(
    alerts: Alerts,
    store: Store,
    mut tap: mpsc::Receiver<Stored>,
    shutdown: Shutdown,
) {
    let mut engine = Engine::new(alerts.clone(), store);
    engine.rebuild();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next: Option<Instant> = None;
    loop {
        let settle = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shutdown.clone().wait() => break,
            () = alerts.rules_changed_wait() => {
                engine.rebuild();
                engine.evaluate_all();
            }
            batch = tap.recv() => {
                let Some(batch) = batch else { break };
                engine.take(&batch);
                // Whatever else is queued, without waiting.
                let mut more = 0;
                while let Ok(batch) = tap.try_recv() {
                    engine.take(&batch);
                    more += 1;
                    if more >= 64 {
                        break;
                    }
                }
                if engine.store.tap().is_some_and(|t| t.take_missed()) {
                    tracing::warn!("the alert evaluator fell behind ingest: reading the rules' series again");
                    engine.rebuild();
                }
                if next.is_none() && !engine.dirty.is_empty() {
                    next = Some(Instant::now() + SETTLE);
                }
            }
            () = settle => {
                next = None;
                engine.evaluate_dirty();
            }
            _ = tick.tick() => {
                engine.alerts.expire_silences(now_ms());
                engine.evaluate_all();
            }
        }
    }
    tracing::debug!("alert evaluator stopped");
}

/// Reads every rule's series from the store and evaluates them once, as
/// the task does when it starts; the alerts that moved.
pub fn evaluate_once(alerts: &Alerts, store: &Store) -> Vec<(super::Alert, super::Transition)> {
    let mut engine = Engine::new(alerts.clone(), store.clone());
    engine.rebuild();
    engine.evaluate_all()
}

impl Engine {
    fn new(alerts: Alerts, store: Store) -> Self {
        Self {
            alerts,
            store,
            rules: Vec::new(),
            by_name: HashMap::new(),
            series: HashMap::new(),
            dirty: HashSet::new(),
            state: HashMap::new(),
            past: HashMap::new(),
        }
    }

    /// Reads the rules and their series again.
    fn rebuild(&mut self) {
        let (_, rules) = self.alerts.compiled();
        self.by_name.clear();
        for (i, rule) in rules.iter().enumerate() {
            self.by_name
                .entry(rule.selector.name.clone())
                .or_default()
                .push(i);
        }
        self.rules = rules;
        self.series.clear();
        self.dirty.clear();
        self.past.clear();
        let now = now_ms();
        for (i, rule) in self.rules.clone().iter().enumerate() {
            let keep = keep_ms(rule);
            let from = match rule.test {
                // Only to learn the series: their newest sample is asked
                // of the head.
                Test::Absent { .. } => now,
                _ => now - keep,
            };
            let selected = match self.store.select_series(
                &rule.selector.name,
                &rule.selector.matchers,
                from,
                i64::MAX,
                super::MAX_ALERTS_PER_RULE,
            ) {
                Ok(selected) => selected,
                Err(error) => {
                    tracing::warn!(rule = %rule.rule.id, %error, "cannot read a rule's series");
                    continue;
                }
            };
            for (id, key, samples) in selected {
                let watched = self.series.entry(id).or_insert_with(|| Watched {
                    key: key.to_string(),
                    labels: key.labels.clone().into_iter().collect(),
                    ..Watched::default()
                });
                watched.rules.push(i);
                if keep > watched.keep_ms && !matches!(rule.test, Test::Absent { .. }) {
                    watched.keep_ms = keep;
                    watched.window = samples.iter().map(|s| (s.ts, s.value)).collect();
                    trim(&mut watched.window, now - keep);
                }
                watched.newest = self.store.newest_of(id).or(watched.newest);
            }
        }
        // The alerts as the journal left them; those of rules no longer
        // there resolve now.
        self.state.clear();
        let mut gone = Vec::new();
        for alert in self.alerts.active() {
            if self.rules.iter().any(|r| r.rule.id == alert.rule) {
                self.state.insert(
                    (alert.rule.clone(), alert.series.clone()),
                    Active {
                        phase: alert.phase,
                        severity: alert.severity,
                        since: alert.since,
                    },
                );
            } else {
                gone.push(Move {
                    to: Phase::Resolved,
                    message: format!("rule {} was removed", alert.rule),
                    rule: alert.rule,
                    series: alert.series,
                    labels: alert.labels,
                    severity: alert.severity,
                    value: alert.value,
                    threshold: alert.threshold,
                    notify: alert.notify,
                });
            }
        }
        if !gone.is_empty() {
            self.alerts.apply(gone, now);
        }
    }

    /// Takes one stored batch into the windows.
    fn take(&mut self, batch: &Stored) {
        let now = now_ms();
        for &(id, ts, value) in batch {
            if !self.series.contains_key(&id) {
                let watched = self.meet(id);
                self.series.insert(id, watched);
            }
            let Some(watched) = self.series.get_mut(&id) else {
                continue;
            };
            if watched.rules.is_empty() {
                continue;
            }
            watched.newest = Some(watched.newest.map_or(ts, |n| n.max(ts)));
            if watched.keep_ms > 0 {
                watched.window.push_back((ts, value));
                trim(&mut watched.window, now - watched.keep_ms);
            }
            self.dirty.insert(id);
        }
    }

    /// A series seen for the first time: its key, and the rules it
    /// matches.
    fn meet(&self, id: u32) -> Watched {
        let Some(key) = self.store.key_of(id) else {
            return Watched::default();
        };
        let rules: Vec<usize> = self
            .by_name
            .get(&key.name)
            .map(|candidates| {
                candidates
                    .iter()
                    .copied()
                    .filter(|&i| {
                        self.rules[i]
                            .selector
                            .matchers
                            .iter()
                            .all(|m| m.matches_labels(&key.labels))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let keep_ms = rules
            .iter()
            .filter(|&&i| !matches!(self.rules[i].test, Test::Absent { .. }))
            .map(|&i| keep_ms(&self.rules[i]))
            .max()
            .unwrap_or(0);
        Watched {
            key: key.to_string(),
            labels: key.labels.clone().into_iter().collect(),
            rules,
            window: VecDeque::new(),
            keep_ms,
            newest: None,
        }
    }

    /// Evaluates the series that moved.
    fn evaluate_dirty(&mut self) {
        let dirty: Vec<u32> = self.dirty.drain().collect();
        let now = now_ms();
        let mut moves = Vec::new();
        for id in dirty {
            let rules = self
                .series
                .get(&id)
                .map(|w| w.rules.clone())
                .unwrap_or_default();
            for i in rules {
                if !matches!(self.rules[i].test, Test::Absent { .. }) {
                    moves.extend(self.evaluate(i, id, now));
                }
            }
        }
        if !moves.is_empty() {
            self.alerts.apply(moves, now);
        }
    }

    /// Evaluates every rule on every series it reads; resolves alerts
    /// whose series is no longer read; raises absence of a rule's whole
    /// selector. Returns the alerts that moved.
    fn evaluate_all(&mut self) -> Vec<(super::Alert, super::Transition)> {
        self.dirty.clear();
        let now = now_ms();
        for watched in self.series.values_mut() {
            if watched.keep_ms > 0 {
                trim(&mut watched.window, now - watched.keep_ms);
            }
        }
        let mut moves = Vec::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let pairs: Vec<(usize, u32)> = self
            .series
            .iter()
            .flat_map(|(&id, w)| w.rules.iter().map(move |&i| (i, id)))
            .collect();
        for (i, id) in pairs {
            if let Some(w) = self.series.get(&id) {
                seen.insert((self.rules[i].rule.id.clone(), w.key.clone()));
            }
            moves.extend(self.evaluate(i, id, now));
        }
        // A rule of absence whose selector matches no series at all.
        for rule in self.rules.clone() {
            if let Test::Absent { level, .. } = rule.test {
                let any = self
                    .series
                    .values()
                    .any(|w| w.rules.iter().any(|&i| Arc::ptr_eq(&self.rules[i], &rule)));
                let series = rule.rule.selector.clone();
                seen.insert((rule.rule.id.clone(), series.clone()));
                let labels = rule.rule.labels.clone();
                let key = (rule.rule.id.clone(), series.clone());
                let was = self.state.get(&key).copied();
                let (next, change) = eval::step(was, (!any).then_some(level), now, rule.for_ms);
                moves.extend(self.moved(&rule, key, labels, next, change, None, None));
            }
        }
        // Alerts of series no rule reads now (gone from the store, or no
        // longer matched): resolved.
        let stale: Vec<(String, String)> = self
            .state
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in stale {
            if let Some(rule) = self.rules.iter().find(|r| r.rule.id == key.0).cloned() {
                let was = self.state.get(&key).copied();
                let (next, change) = eval::step(was, None, now, rule.for_ms);
                let labels = rule.rule.labels.clone();
                moves.extend(self.moved(&rule, key, labels, next, change, None, None));
            }
        }
        if moves.is_empty() {
            return Vec::new();
        }
        self.alerts.apply(moves, now)
    }

    /// Evaluates rule `i` on series `id` at `now`.
    fn evaluate(&mut self, i: usize, id: u32, now: i64) -> Option<Move> {
        let rule = self.rules.get(i)?.clone();
        let watched = self.series.get(&id)?;
        let key = (rule.rule.id.clone(), watched.key.clone());
        let mut labels = watched.labels.clone();
        labels.extend(rule.rule.labels.clone());
        let was = self.state.get(&key).copied();
        let current = was.map(|a| a.severity);
        let (level, value, threshold) = match &rule.test {
            Test::Value(levels) => {
                let value = window_value(watched, now - rule.window_ms, rule.rule.aggregate);
                let level = value.and_then(|v| eval::level(levels, v, current));
                let threshold = line_of(levels, level.or(current), value);
                (level, value, threshold)
            }
            Test::Change { offset_ms, levels } => {
                let now_value = window_value(watched, now - rule.window_ms, rule.rule.aggregate);
                let then = self.past_value(i, id, now, *offset_ms);
                let ratio = match (now_value, then) {
                    (Some(v), Some(t)) if t != 0.0 => Some(v / t),
                    _ => None,
                };
                let level = ratio.and_then(|r| eval::level(levels, r, current));
                (level, ratio, line_of(levels, level.or(current), ratio))
            }
            Test::Absent { after_ms, level } => {
                let silent = watched.newest.is_none_or(|n| now - n > *after_ms);
                (silent.then_some(*level), None, None)
            }
        };
        let (next, change) = eval::step(was, level, now, rule.for_ms);
        self.moved(&rule, key, labels, next, change, value, threshold)
    }

    /// Records where an alert is after a step; the move to apply, if it
    /// moved.
    #[allow(clippy::too_many_arguments)]
    fn moved(
        &mut self,
        rule: &Compiled,
        key: (String, String),
        labels: BTreeMap<String, String>,
        next: Option<Active>,
        change: Option<Change>,
        value: Option<f64>,
        threshold: Option<f64>,
    ) -> Option<Move> {
        let was = self.state.get(&key).copied();
        match next {
            Some(active) => self.state.insert(key.clone(), active),
            None => self.state.remove(&key),
        };
        let change = change?;
        let severity = next.or(was).map_or(Severity::Warning, |a| a.severity);
        let to = match change {
            Change::Pending => Phase::Pending,
            Change::Fired | Change::Severity(_) => Phase::Firing,
            Change::Resolved => Phase::Resolved,
        };
        let template = if rule.rule.message.is_empty() {
            default_message(rule)
        } else {
            rule.rule.message.clone()
        };
        let message = render(
            &template,
            &Fields {
                value,
                threshold,
                severity,
                rule: &rule.rule.id,
                series: &key.1,
                labels: &labels,
            },
        );
        Some(Move {
            rule: key.0,
            series: key.1,
            labels,
            to,
            severity,
            value,
            threshold,
            message,
            notify: rule.rule.notify.clone(),
        })
    }

    /// Rule `i`'s aggregate over its window `offset_ms` ago, for series
    /// `id`, read from the store at most every [`PAST_REFRESH`].
    fn past_value(&mut self, i: usize, id: u32, now: i64, offset_ms: i64) -> Option<f64> {
        let fresh = self
            .past
            .get(&i)
            .is_some_and(|(at, _)| at.elapsed() < PAST_REFRESH);
        if !fresh {
            let rule = self.rules.get(i)?.clone();
            let to = now - offset_ms;
            let values = match self.store.select_series(
                &rule.selector.name,
                &rule.selector.matchers,
                to - rule.window_ms,
                to,
                super::MAX_ALERTS_PER_RULE,
            ) {
                Ok(selected) => selected
                    .into_iter()
                    .filter_map(|(id, _, samples)| {
                        let samples: Vec<(i64, f64)> =
                            samples.iter().map(|s| (s.ts, s.value)).collect();
                        eval::aggregate(&samples, rule.rule.aggregate).map(|v| (id, v))
                    })
                    .collect(),
                Err(error) => {
                    tracing::warn!(rule = %rule.rule.id, %error, "cannot read a rule's past window");
                    HashMap::new()
                }
            };
            self.past.insert(i, (Instant::now(), values));
        }
        self.past.get(&i)?.1.get(&id).copied()
    }
}

/// How much of a series rule `rule` needs kept.
fn keep_ms(rule: &Compiled) -> i64 {
    match rule.test {
        Test::Absent { .. } => 0,
        _ => rule.window_ms,
    }
}

/// Drops samples before `from`, and past [`WINDOW_SAMPLES`].
fn trim(window: &mut VecDeque<(i64, f64)>, from: i64) {
    while window.front().is_some_and(|&(ts, _)| ts < from) || window.len() > WINDOW_SAMPLES {
        window.pop_front();
    }
}

/// The aggregate of the samples from `from` on.
fn window_value(watched: &Watched, from: i64, how: super::rule::Aggregate) -> Option<f64> {
    let start = watched.window.partition_point(|&(ts, _)| ts < from);
    let (a, b) = watched.window.as_slices();
    if start >= a.len() {
        eval::aggregate(&b[start - a.len()..], how)
    } else if b.is_empty() {
        eval::aggregate(&a[start..], how)
    } else {
        let samples: Vec<(i64, f64)> = watched.window.range(start..).copied().collect();
        eval::aggregate(&samples, how)
    }
}

/// The line of `level` (none: of warning) for a message.
fn line_of(levels: &Levels, level: Option<Severity>, value: Option<f64>) -> Option<f64> {
    eval::threshold(
        levels,
        level.unwrap_or(Severity::Warning),
        value.unwrap_or(0.0),
    )
    .or_else(|| eval::threshold(levels, Severity::Critical, value.unwrap_or(0.0)))
}

fn default_message(rule: &Compiled) -> String {
    match &rule.test {
        Test::Absent { .. } => format!(
            "{{{{series}}}}: no sample for {}",
            match &rule.rule.condition {
                super::rule::Condition::Absent { after, .. } => after.as_str(),
                _ => "",
            }
        ),
        Test::Change { .. } => {
            "{{series}}: {{value}} of the value then ({{severity}}, line {{threshold}})".into()
        }
        Test::Value(_) => format!(
            "{{{{series}}}}: {} {{{{value}}}} ({{{{severity}}}}, line {{{{threshold}}}})",
            match rule.rule.aggregate {
                super::rule::Aggregate::Last => "at",
                super::rule::Aggregate::Avg => "average",
                super::rule::Aggregate::Min => "least",
                super::rule::Aggregate::Max => "most",
                super::rule::Aggregate::Rate => "rate",
            }
        ),
    }
}
