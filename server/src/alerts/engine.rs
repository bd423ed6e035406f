//! The evaluator: one task that owns every rule's view of its series.
//!
//! The store hands it each stored batch through its tap (series id, time,
//! value: nothing is copied but numbers, so ingest pays next to nothing).
//! A series is looked up once (`Store::key_of`) and matched against the
//! rules of its metric name that can match it ([`NameRules`]: rules are
//! indexed by one label equality each, so with a thousand rules each on
//! its own host a new series tries one, not a thousand); a series that
//! matches none is remembered as such. A matching series keeps its samples of the longest window of its
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
pub const SETTLE: Duration = Duration::from_millis(250);
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

/// Hashes a series id or a (rule, series) pair by multiplication: the
/// evaluator looks one up per stored sample, and SipHash would cost more
/// than everything else it does with it.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(32) ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(32) ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Fast = std::hash::BuildHasherDefault<IdHasher>;

/// The lines of a test that has none (absence).
const NO_LINES: Levels = Levels::Above([None, None]);

/// The series id of a rule's alert on no series at all (an absence rule
/// whose selector matches nothing).
const NO_SERIES: u32 = u32::MAX;

/// The evaluator's state.
struct Engine {
    alerts: Alerts,
    store: Store,
    rules: Vec<Arc<Compiled>>,
    by_name: HashMap<String, NameRules>,
    series: HashMap<u32, Watched, Fast>,
    /// Series whose windows moved since the last evaluation.
    dirty: HashSet<u32, Fast>,
    /// The alerts pending or firing, by (rule, series id).
    state: HashMap<(usize, u32), Active, Fast>,
    /// Alerts the journal left whose series the store no longer has: they
    /// resolve at the next evaluation of every rule.
    orphans: Vec<(usize, String, Active)>,
    /// Each `change` rule's past aggregate per series, and when it was read.
    past: HashMap<usize, (Instant, HashMap<u32, f64>)>,
}

/// The rules of one metric name, each indexed by one of its label
/// equalities (`host="a"`; not `host=""`, which asks for the label's
/// absence); those with none are tried on every series of the name.
#[derive(Debug, Default)]
struct NameRules {
    /// Rule indices by label, then by the value the rule wants.
    by_label: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Rules with no equality to index them by.
    rest: Vec<usize>,
    /// Every rule of the name, in order.
    all: Vec<usize>,
}

impl NameRules {
    fn add(&mut self, i: usize, rule: &Compiled) {
        self.all.push(i);
        let equality = rule.selector.matchers.iter().find_map(|m| match &m.op {
            crate::store::MatchOp::Equal(value) if !value.is_empty() => Some((&m.label, value)),
            _ => None,
        });
        match equality {
            Some((label, value)) => self
                .by_label
                .entry(label.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .push(i),
            None => self.rest.push(i),
        }
    }

    /// The rules that may match a series of `labels`, in order; each
    /// still has all its matchers to pass.
    fn candidates(&self, labels: &BTreeMap<String, String>) -> Vec<usize> {
        let mut out = self.rest.clone();
        for (label, values) in &self.by_label {
            if let Some(rules) = labels.get(label).and_then(|v| values.get(v)) {
                out.extend_from_slice(rules);
            }
        }
        out.sort_unstable();
        out
    }
}

/// Runs `work` on `engine` on a blocking thread (reading the store for
/// every rule takes a while), and gives the engine back.
async fn blocking<T: Send + 'static>(
    mut engine: Engine,
    work: impl FnOnce(&mut Engine) -> T + Send + 'static,
) -> Option<(Engine, T)> {
    match tokio::task::spawn_blocking(move || {
        let out = work(&mut engine);
        (engine, out)
    })
    .await
    {
        Ok(done) => Some(done),
        Err(error) => {
            tracing::error!(%error, "the alert evaluator failed");
            None
        }
    }
}

/// Runs the evaluator until `shutdown`. `tap` is the reading end of the
/// store's tap.
pub async fn run(
    alerts: Alerts,
    store: Store,
    mut tap: mpsc::Receiver<Stored>,
    shutdown: Shutdown,
) {
    let Some((mut engine, ())) =
        blocking(Engine::new(alerts.clone(), store), Engine::rebuild).await
    else {
        return;
    };
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
        let mut rebuild = false;
        tokio::select! {
            biased;
            () = shutdown.clone().wait() => break,
            () = alerts.rules_changed_wait() => rebuild = true,
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
                    rebuild = true;
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
                match blocking(engine, |e| drop(e.evaluate_all())).await {
                    Some((e, ())) => engine = e,
                    None => return,
                }
            }
        }
        if rebuild {
            match blocking(engine, |e| {
                e.rebuild();
                drop(e.evaluate_all());
            })
            .await
            {
                Some((e, ())) => engine = e,
                None => return,
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
            series: HashMap::default(),
            dirty: HashSet::default(),
            state: HashMap::default(),
            orphans: Vec::new(),
            past: HashMap::new(),
        }
    }

    /// Reads the rules and their series again: one read of the store per
    /// metric name, whatever the number of rules on it.
    fn rebuild(&mut self) {
        let (_, rules) = self.alerts.compiled();
        self.by_name.clear();
        for (i, rule) in rules.iter().enumerate() {
            self.by_name
                .entry(rule.selector.name.clone())
                .or_default()
                .add(i, rule);
        }
        self.rules = rules;
        self.series.clear();
        self.dirty.clear();
        self.past.clear();
        let now = now_ms();
        let names: Vec<(String, i64)> = self
            .by_name
            .iter()
            .map(|(name, rules)| {
                let keep = rules
                    .all
                    .iter()
                    .map(|&i| keep_ms(&self.rules[i]))
                    .max()
                    .unwrap_or(0);
                (name.clone(), keep)
            })
            .collect();
        for (name, keep) in names {
            let selected = match self.store.select_series(
                &name,
                &[],
                now - keep,
                i64::MAX,
                super::MAX_ALERTS_PER_RULE * 10,
            ) {
                Ok(selected) => selected,
                Err(error) => {
                    tracing::warn!(%name, %error, "cannot read the series of a metric that rules read");
                    continue;
                }
            };
            for (id, key, samples) in selected {
                let mut watched = Engine::match_key(&self.by_name, &self.rules, &key);
                if watched.rules.is_empty() {
                    self.series.insert(id, watched);
                    continue;
                }
                watched.window = samples.iter().map(|s| (s.ts, s.value)).collect();
                trim(&mut watched.window, now - watched.keep_ms);
                watched.newest = self.store.newest_of(id);
                self.series.insert(id, watched);
            }
        }
        // The alerts as the journal left them; those of rules no longer
        // there resolve now.
        self.state.clear();
        self.orphans.clear();
        let ids: HashMap<&str, u32> = self
            .series
            .iter()
            .map(|(&id, w)| (w.key.as_str(), id))
            .collect();
        let mut found = Vec::new();
        let mut gone = Vec::new();
        for alert in self.alerts.active() {
            let active = Active {
                phase: alert.phase,
                severity: alert.severity,
                since: alert.since,
            };
            match self.rules.iter().position(|r| r.rule.id == alert.rule) {
                Some(i) => match ids.get(alert.series.as_str()) {
                    Some(&id) => found.push(((i, id), active)),
                    // An absence rule's alert on its whole selector.
                    None if matches!(self.rules[i].test, Test::Absent { .. })
                        && alert.series == self.rules[i].rule.selector =>
                    {
                        found.push(((i, NO_SERIES), active))
                    }
                    None => self.orphans.push((i, alert.series.clone(), active)),
                },
                None => gone.push(Move {
                    to: Phase::Resolved,
                    message: format!("rule {} was removed", alert.rule),
                    rule: alert.rule,
                    series: alert.series,
                    labels: alert.labels,
                    severity: alert.severity,
                    value: alert.value,
                    threshold: alert.threshold,
                    notify: alert.notify,
                }),
            }
        }
        drop(ids);
        self.state.extend(found);
        if !gone.is_empty() {
            self.alerts.apply(gone, now);
        }
    }

    /// Takes one stored batch into the windows.
    fn take(&mut self, batch: &Stored) {
        let now = now_ms();
        for &(id, ts, value) in batch {
            let watched = match self.series.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let met = match self.store.key_of(id) {
                        Some(key) => {
                            let by_name = &self.by_name;
                            let rules = &self.rules;
                            Engine::match_key(by_name, rules, &key)
                        }
                        None => Watched::default(),
                    };
                    e.insert(met)
                }
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

    /// A series' rules (those of its name whose matchers it passes), and
    /// how much of it they keep.
    fn match_key(
        by_name: &HashMap<String, NameRules>,
        rules: &[Arc<Compiled>],
        key: &app::protocol::SeriesKey,
    ) -> Watched {
        let matching: Vec<usize> = by_name
            .get(&key.name)
            .map(|name_rules| {
                name_rules
                    .candidates(&key.labels)
                    .into_iter()
                    .filter(|&i| {
                        rules[i]
                            .selector
                            .matchers
                            .iter()
                            .all(|m| m.matches_labels(&key.labels))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let keep_ms = matching
            .iter()
            .map(|&i| keep_ms(&rules[i]))
            .max()
            .unwrap_or(0);
        Watched {
            key: key.to_string(),
            labels: key.labels.clone(),
            rules: matching,
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
            let count = self.series.get(&id).map_or(0, |w| w.rules.len());
            for n in 0..count {
                let Some(i) = self.series.get(&id).and_then(|w| w.rules.get(n).copied()) else {
                    break;
                };
                if !matches!(self.rules[i].test, Test::Absent { .. }) {
                    moves.extend(self.evaluate(i, id, now));
                }
            }
        }
        if !moves.is_empty() {
            self.alerts.apply(moves, now);
        }
    }

    /// Evaluates every rule on every series it reads; resolves the alerts
    /// of series no longer there; raises absence of a rule's whole
    /// selector. Returns the alerts that moved.
    fn evaluate_all(&mut self) -> Vec<(super::Alert, super::Transition)> {
        self.dirty.clear();
        let now = now_ms();
        let mut read_by = vec![0usize; self.rules.len()];
        let mut pairs = Vec::new();
        for (&id, watched) in &mut self.series {
            if watched.keep_ms > 0 {
                trim(&mut watched.window, now - watched.keep_ms);
            }
            for &i in &watched.rules {
                read_by[i] += 1;
                pairs.push((i, id));
            }
        }
        let mut moves = Vec::new();
        for (i, id) in pairs {
            moves.extend(self.evaluate(i, id, now));
        }
        // A rule of absence whose selector matches no series at all.
        for (i, read) in read_by.into_iter().enumerate() {
            let rule = self.rules[i].clone();
            if let Test::Absent { level, .. } = rule.test {
                let was = self.state.get(&(i, NO_SERIES)).copied();
                let (next, change) =
                    eval::step(was, (read == 0).then_some(level), now, rule.for_ms);
                let series = rule.rule.selector.clone();
                moves.extend(self.moved(
                    i,
                    NO_SERIES,
                    &series,
                    &rule.rule.labels,
                    next,
                    change,
                    None,
                    None,
                ));
            }
        }
        // Alerts whose series the store no longer has: resolved (under a
        // placeholder id: they leave no state behind).
        for (i, series, active) in std::mem::take(&mut self.orphans) {
            let rule = self.rules[i].clone();
            let (next, change) = eval::step(Some(active), None, now, rule.for_ms);
            moves.extend(self.moved(
                i,
                NO_SERIES - 1,
                &series,
                &rule.rule.labels,
                next,
                change,
                None,
                None,
            ));
        }
        if moves.is_empty() {
            return Vec::new();
        }
        self.alerts.apply(moves, now)
    }

    /// Evaluates rule `i` on series `id` at `now`: allocates nothing unless
    /// the alert moves.
    fn evaluate(&mut self, i: usize, id: u32, now: i64) -> Option<Move> {
        let rule = self.rules.get(i)?.clone();
        let was = self.state.get(&(i, id)).copied();
        let current = was.map(|a| a.severity);
        let watched = self.series.get(&id)?;
        let (level, value, threshold) = match &rule.test {
            Test::Value(levels) => {
                let value = window_value(watched, now - rule.window_ms, rule.rule.aggregate);
                let level = value.and_then(|v| eval::level(levels, v, current));
                (level, value, levels)
            }
            Test::Change { offset_ms, levels } => {
                let now_value = window_value(watched, now - rule.window_ms, rule.rule.aggregate);
                let then = self.past_value(i, id, now, *offset_ms);
                let ratio = match (now_value, then) {
                    (Some(v), Some(t)) if t != 0.0 => Some(v / t),
                    _ => None,
                };
                let level = ratio.and_then(|r| eval::level(levels, r, current));
                (level, ratio, levels)
            }
            Test::Absent { after_ms, level } => {
                let silent = watched.newest.is_none_or(|n| now - n > *after_ms);
                (silent.then_some(*level), None, &NO_LINES)
            }
        };
        let (next, change) = eval::step(was, level, now, rule.for_ms);
        if change.is_none() {
            // Still where it was (a pending one may have changed severity).
            match next {
                Some(active) => self.state.insert((i, id), active),
                None => self.state.remove(&(i, id)),
            };
            return None;
        }
        let threshold = line_of(threshold, level.or(current), value);
        let watched = self.series.get(&id)?;
        let (key, mut labels) = (watched.key.clone(), watched.labels.clone());
        labels.extend(rule.rule.labels.clone());
        self.moved(i, id, &key, &labels, next, change, value, threshold)
    }

    /// Records where an alert is after a step; the move to apply, if it
    /// moved.
    #[allow(clippy::too_many_arguments)]
    fn moved(
        &mut self,
        i: usize,
        id: u32,
        series: &str,
        labels: &BTreeMap<String, String>,
        next: Option<Active>,
        change: Option<Change>,
        value: Option<f64>,
        threshold: Option<f64>,
    ) -> Option<Move> {
        let was = self.state.get(&(i, id)).copied();
        match next {
            Some(active) => self.state.insert((i, id), active),
            None => self.state.remove(&(i, id)),
        };
        let change = change?;
        let rule = self.rules.get(i)?.clone();
        let severity = next.or(was).map_or(Severity::Warning, |a| a.severity);
        let to = match change {
            Change::Pending => Phase::Pending,
            Change::Fired | Change::Severity(_) => Phase::Firing,
            Change::Resolved => Phase::Resolved,
        };
        let template = if rule.rule.message.is_empty() {
            default_message(&rule)
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
                series,
                labels,
            },
        );
        Some(Move {
            rule: rule.rule.id.clone(),
            series: series.to_string(),
            labels: labels.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(selector: &str) -> Arc<Compiled> {
        let rule: super::super::Rule = serde_json::from_value(serde_json::json!({
            "id": "r", "selector": selector, "condition": {"type": "above", "warning": 1},
        }))
        .expect("a rule");
        Arc::new(rule.compile().expect("a good rule"))
    }

    #[test]
    fn a_series_is_tried_only_on_the_rules_its_labels_can_match_and_matched_as_before() {
        let selectors = [
            "load{host=\"a\"}",
            "load{host=\"b\"}",
            "load{host=~\"a|c\"}",
            "load{host!=\"b\"}",
            "load{dc=\"x\",host=\"a\"}",
            "load{host=\"\"}",
            "load",
            "cpu{host=\"a\"}",
        ];
        let rules: Vec<Arc<Compiled>> = selectors.iter().map(|s| compiled(s)).collect();
        let mut by_name: HashMap<String, NameRules> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            by_name
                .entry(rule.selector.name.clone())
                .or_default()
                .add(i, rule);
        }
        let key = |labels: &[(&str, &str)]| {
            app::protocol::SeriesKey::new(
                "load",
                labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            )
            .expect("a key")
        };
        let a = key(&[("host", "a")]);
        // Tried: host="a", and those with no equality to index them by;
        // not host="b" nor dc="x" (a series without dc).
        assert_eq!(by_name["load"].candidates(&a.labels), [0, 2, 3, 5, 6]);
        // Matched exactly as trying every rule would.
        for labels in [
            vec![("host", "a")],
            vec![("host", "b")],
            vec![("host", "c"), ("dc", "x")],
            vec![("host", "a"), ("dc", "x")],
            vec![("dc", "y")],
        ] {
            let series = key(&labels);
            let every: Vec<usize> = (0..rules.len())
                .filter(|&i| {
                    rules[i].selector.name == "load"
                        && rules[i]
                            .selector
                            .matchers
                            .iter()
                            .all(|m| m.matches_labels(&series.labels))
                })
                .collect();
            assert_eq!(
                Engine::match_key(&by_name, &rules, &series).rules,
                every,
                "{labels:?}"
            );
        }
    }
}
