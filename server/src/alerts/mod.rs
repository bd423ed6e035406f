//! Alerts: rules on any series, evaluated as samples are stored and as
//! time passes, never because a page is open.
//!
//! The picture:
//! - **Rules** ([`rule`]) come from the config file (`[[alert]]` tables)
//!   and from the API, which keeps its own in `<data-dir>/alerts/rules.json`
//!   (a rule of the API's replaces the config file's of the same id).
//!   A change takes effect at once and is published (`rules` event).
//! - **The evaluator** ([`engine`]) is one task. The store hands it every
//!   stored sample through its [`Tap`](crate::store::Tap); it keeps each
//!   matching series' window in memory, and evaluates the series that
//!   moved at most every [`engine::SETTLE`], and every rule each second
//!   (for `for` durations, absence and the end of silences).
//! - **The lifecycle** ([`eval::step`]): `pending -> firing -> resolved`,
//!   with severity changes while firing. Each transition is written to
//!   the [`journal`] (synced) and then published on the `alerts` channel
//!   as an `alert` event, so every open page shows it, over any transport.
//! - **Acknowledgements and silences** are journaled and published the
//!   same way. A silenced alert still moves and is still recorded; it is
//!   only not notified.
//!
//! Bounds: [`MAX_RULES`] rules, [`MAX_ALERTS_PER_RULE`] alerts per rule,
//! [`HISTORY_KEPT`] transitions in memory, [`MAX_SILENCES`] silences.

pub mod api;
pub mod engine;
pub mod eval;
pub mod journal;
pub mod periods;
pub mod rule;
pub mod webhook;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
};

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use self::{
    eval::Phase,
    rule::{Rule, RuleError, Severity},
};
use self::{
    journal::{Entry, Journal, Replayed},
    rule::Compiled,
};
use crate::hub::Hub;

pub use app::protocol::{ALERTS_CHANNEL, ALERT_EVENT};
/// The most rules.
pub const MAX_RULES: usize = 10_000;
/// The most alerts (series) one rule has at once.
pub const MAX_ALERTS_PER_RULE: usize = 10_000;
/// Transitions kept in memory (and after a journal rewrite).
pub const HISTORY_KEPT: usize = 10_000;
/// The most silences.
pub const MAX_SILENCES: usize = 1_000;

/// An alert: one rule on one series, from the moment it became pending
/// to the moment it resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its id (the sequence number of its first transition).
    pub id: u64,
    /// Its rule's id.
    pub rule: String,
    /// Its series' key (`name{label="value"}`; an absence rule with no
    /// series at all: its selector).
    pub series: String,
    /// The series' labels and the rule's.
    pub labels: BTreeMap<String, String>,
    /// Where it is.
    pub phase: Phase,
    /// How bad.
    pub severity: Severity,
    /// When it became pending (Unix ms).
    pub since: i64,
    /// When it fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<i64>,
    /// When it resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    /// The value that moved it last (none for absence).
    pub value: Option<f64>,
    /// The line it crossed.
    pub threshold: Option<f64>,
    /// The rule's message, filled in.
    pub message: String,
    /// Who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    /// The silence that holds its notifications back, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
    /// Viewer names it is for (none: everyone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

impl Alert {
    /// The alert as `transition` left it (for a rewritten journal).
    pub fn from_transition(t: &Transition) -> Self {
        Self {
            id: t.alert,
            rule: t.rule.clone(),
            series: t.series.clone(),
            labels: BTreeMap::new(),
            phase: t.to,
            severity: t.severity,
            since: t.at,
            fired_at: None,
            resolved_at: (t.to == Phase::Resolved).then_some(t.at),
            value: t.value,
            threshold: t.threshold,
            message: t.message.clone(),
            ack: None,
            silenced_by: None,
            notify: Vec::new(),
        }
    }
}

/// An acknowledgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// Who (a name the person gave).
    pub by: String,
    /// When (Unix ms).
    pub at: i64,
    /// Why, or what is being done.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

/// One move of one alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Its number, increasing across restarts.
    pub seq: u64,
    /// When (Unix ms).
    pub at: i64,
    /// The alert's id.
    pub alert: u64,
    /// Its rule.
    pub rule: String,
    /// Its series.
    pub series: String,
    /// Where it was (none: it was not an alert yet).
    pub from: Option<Phase>,
    /// Where it went.
    pub to: Phase,
    /// Its severity after the move.
    pub severity: Severity,
    /// The value that moved it.
    pub value: Option<f64>,
    /// The line it crossed.
    pub threshold: Option<f64>,
    /// The message then.
    pub message: String,
}

/// Notifications held back until `ends_at`, for one rule's alerts or for
/// those whose labels match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Only this rule's alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Only alerts with each of these labels at these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// When it began (Unix ms).
    #[serde(default)]
    pub starts_at: i64,
    /// When it ends.
    pub ends_at: i64,
    /// Who made it.
    #[serde(default)]
    pub by: String,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

impl Silence {
    /// Whether it holds `alert` back at `now`.
    pub fn covers(&self, alert: &Alert, now: i64) -> bool {
        (self.starts_at..self.ends_at).contains(&now)
            && self.rule.as_ref().is_none_or(|r| *r == alert.rule)
            && self
                .labels
                .iter()
                .all(|(k, v)| alert.labels.get(k) == Some(v))
    }
}

/// Where a rule comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The config file.
    Config,
    /// The API.
    Api,
}

/// Why the alerts cannot be opened or changed.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// A file under `<data-dir>/alerts` cannot be read or written.
    #[error("alerts files in {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A rule is not good.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The stored rules do not read.
    #[error("{path} does not read as a list of rules: {message}")]
    Rules {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A rule of the config file cannot be deleted through the API.
    #[error("rule {0:?} is defined in the config file: remove it there (a rule of the same id saved through the API replaces it)")]
    FromConfig(String),
    /// No such rule, alert or silence.
    #[error("no {0}")]
    NotFound(String),
    /// A bound is reached.
    #[error("{0}")]
    Full(String),
    /// A field is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// The alerts. Cheap to clone; all clones share them.
#[derive(Clone, Debug)]
pub struct Alerts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    hub: Hub,
    /// Where notifications go beyond the page (none without webhooks).
    outbox: Option<webhook::Outbox>,
    /// The charts firing periods are drawn on (none: not published).
    charts: Option<periods::Charts>,
    shared: Mutex<Shared>,
    /// Wakes the evaluator when the rules change.
    rules_changed: tokio::sync::Notify,
}

#[derive(Debug)]
struct Shared {
    config_rules: Vec<Rule>,
    api_rules: BTreeMap<String, Rule>,
    /// Bumped on every change of the rules.
    version: u64,
    state: Replayed,
    journal: Journal,
}

impl Alerts {
    /// Opens the alerts in `dir` (`<data-dir>/alerts`), with the config
    /// file's rules (each already checked).
    pub fn open(dir: &Path, config_rules: Vec<Rule>, hub: Hub) -> Result<Self, AlertsError> {
        Self::open_with(dir, config_rules, hub, None, None)
    }

    /// [`Alerts::open`], notifying through `outbox` too, and publishing
    /// firing periods to the dashboards of `charts`.
    pub fn open_with(
        dir: &Path,
        config_rules: Vec<Rule>,
        hub: Hub,
        outbox: Option<webhook::Outbox>,
        charts: Option<periods::Charts>,
    ) -> Result<Self, AlertsError> {
        let io = |source| AlertsError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join("rules.json");
        let api_rules = match std::fs::read(&path) {
            Ok(bytes) => {
                let rules: Vec<Rule> =
                    serde_json::from_slice(&bytes).map_err(|e| AlertsError::Rules {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                rules.into_iter().map(|r| (r.id.clone(), r)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(e)),
        };
        let (journal, state) = Journal::open(dir).map_err(io)?;
        tracing::info!(
            rules = config_rules.len() + api_rules.len(),
            active = state.active.len(),
            history = state.history.len(),
            "alerts opened"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                hub,
                outbox,
                charts,
                shared: Mutex::new(Shared {
                    config_rules,
                    api_rules,
                    version: 1,
                    state,
                    journal,
                }),
                rules_changed: tokio::sync::Notify::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.inner
            .shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every rule in force, by id, with where it comes from.
    pub fn rules(&self) -> Vec<(Rule, Source)> {
        let shared = self.lock();
        rules_of(&shared)
    }

    /// The rules in force, compiled, and their version (a rule that does
    /// not compile is left out and logged; the config file's and the
    /// API's are checked before they get here).
    pub fn compiled(&self) -> (u64, Vec<Arc<Compiled>>) {
        let shared = self.lock();
        let rules = rules_of(&shared)
            .into_iter()
            .filter_map(|(rule, _)| match rule.compile() {
                Ok(c) => Some(Arc::new(c)),
                Err(error) => {
                    tracing::warn!(rule = %rule.id, %error, "skipping a rule that does not compile");
                    None
                }
            })
            .collect();
        (shared.version, rules)
    }

    /// Saves `rule` (checked): created (`true`) or replaced.
    pub fn put_rule(&self, rule: Rule) -> Result<bool, AlertsError> {
        rule.compile()?;
        let mut shared = self.lock();
        let created = !shared.api_rules.contains_key(&rule.id)
            && !shared.config_rules.iter().any(|r| r.id == rule.id);
        if created && shared.api_rules.len() + shared.config_rules.len() >= MAX_RULES {
            return Err(AlertsError::Full(format!("at most {MAX_RULES} rules")));
        }
        let previous = shared.api_rules.insert(rule.id.clone(), rule.clone());
        if let Err(error) = self.write_rules(&shared) {
            // Nothing changed: the file is as it was, and so is memory.
            match previous {
                Some(previous) => shared.api_rules.insert(rule.id.clone(), previous),
                None => shared.api_rules.remove(&rule.id),
            };
            return Err(error);
        }
        self.rules_changed(&mut shared);
        Ok(created)
    }

    /// Deletes rule `id` of the API (its alerts resolve at the next
    /// evaluation).
    pub fn delete_rule(&self, id: &str) -> Result<(), AlertsError> {
        let mut shared = self.lock();
        let Some(previous) = shared.api_rules.remove(id) else {
            return Err(if shared.config_rules.iter().any(|r| r.id == id) {
                AlertsError::FromConfig(id.to_string())
            } else {
                AlertsError::NotFound(format!("rule {id:?}"))
            });
        };
        if let Err(error) = self.write_rules(&shared) {
            shared.api_rules.insert(id.to_string(), previous);
            return Err(error);
        }
        self.rules_changed(&mut shared);
        Ok(())
    }

    fn rules_changed(&self, shared: &mut Shared) {
        shared.version += 1;
        let rules: Vec<_> = rules_of(shared)
            .into_iter()
            .map(|(rule, source)| rule_json(&rule, source))
            .collect();
        self.publish(app::protocol::RULES_EVENT, None, &json!({ "rules": rules }));
        self.inner.rules_changed.notify_one();
    }

    /// Waits until the rules change.
    ///
    /// # Cancel safety
    /// Cancel-safe: a change while nobody waits is kept for the next call.
    pub async fn rules_changed_wait(&self) {
        self.inner.rules_changed.notified().await;
    }

    fn write_rules(&self, shared: &Shared) -> Result<(), AlertsError> {
        let rules: Vec<&Rule> = shared.api_rules.values().collect();
        let mut text = serde_json::to_string_pretty(&rules).unwrap_or_else(|_| "[]".into());
        text.push('\n');
        let path = self.inner.dir.join("rules.json");
        crate::files::write_atomically(&path, text.as_bytes()).map_err(|source| AlertsError::Io {
            path: path.clone(),
            source,
        })
    }

    /// Alerts pending or firing: firing first, critical first, newest
    /// first.
    pub fn active(&self) -> Vec<Alert> {
        let mut alerts: Vec<Alert> = self.lock().state.active.values().cloned().collect();
        alerts.sort_by(|a, b| {
            (b.phase == Phase::Firing, b.severity, b.since).cmp(&(
                a.phase == Phase::Firing,
                a.severity,
                a.since,
            ))
        });
        alerts
    }

    /// How many alerts are firing: warnings, criticals.
    pub fn firing(&self) -> [u32; 2] {
        let mut firing = [0, 0];
        for alert in self.lock().state.active.values() {
            if alert.phase == Phase::Firing {
                firing[usize::from(alert.severity == Severity::Critical)] += 1;
            }
        }
        firing
    }

    /// The newest `limit` transitions (of `rule` only, if given), newest
    /// first.
    pub fn history(&self, limit: usize, rule: Option<&str>) -> Vec<Transition> {
        self.lock()
            .state
            .history
            .iter()
            .rev()
            .filter(|t| rule.is_none_or(|r| t.rule == r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The silences not yet over.
    pub fn silences(&self) -> Vec<Silence> {
        self.lock().state.silences.values().cloned().collect()
    }

    /// Acknowledges alert `id`.
    pub fn ack(
        &self,
        id: u64,
        by: String,
        comment: String,
        now: i64,
    ) -> Result<Alert, AlertsError> {
        let mut shared = self.lock();
        let Some(alert) = shared.state.active.values_mut().find(|a| a.id == id) else {
            return Err(AlertsError::NotFound(format!(
                "alert {id} pending or firing"
            )));
        };
        let ack = Ack {
            by,
            at: now,
            comment,
        };
        alert.ack = Some(ack.clone());
        let alert = alert.clone();
        self.journal(&mut shared, &[Entry::Ack { alert: id, ack }])?;
        self.publish(
            ALERT_EVENT,
            Some(&id.to_string()),
            &json!({ "alert": alert }),
        );
        Ok(alert)
    }

    /// Makes a silence (its id and start are set here).
    pub fn silence(&self, mut silence: Silence, now: i64) -> Result<Silence, AlertsError> {
        let mut shared = self.lock();
        if shared.state.silences.len() >= MAX_SILENCES {
            return Err(AlertsError::Full(format!(
                "at most {MAX_SILENCES} silences"
            )));
        }
        shared.state.seq += 1;
        silence.id = format!("s{}", shared.state.seq);
        silence.starts_at = now;
        self.journal(
            &mut shared,
            &[Entry::Silence {
                silence: silence.clone(),
            }],
        )?;
        shared
            .state
            .silences
            .insert(silence.id.clone(), silence.clone());
        self.silences_changed(shared, now);
        Ok(silence)
    }

    /// Ends silence `id` now.
    pub fn unsilence(&self, id: &str, now: i64) -> Result<(), AlertsError> {
        let mut shared = self.lock();
        if !shared.state.silences.contains_key(id) {
            return Err(AlertsError::NotFound(format!("silence {id:?}")));
        }
        self.journal(&mut shared, &[Entry::Unsilence { id: id.to_string() }])?;
        shared.state.silences.remove(id);
        self.silences_changed(shared, now);
        Ok(())
    }

    /// Ends the silences whose time is over (the evaluator calls it each
    /// second).
    pub fn expire_silences(&self, now: i64) {
        let ended: Vec<String> = self
            .lock()
            .state
            .silences
            .values()
            .filter(|s| s.ends_at <= now)
            .map(|s| s.id.clone())
            .collect();
        for id in ended {
            if let Err(error) = self.unsilence(&id, now) {
                tracing::warn!(%error, silence = %id, "cannot end a silence");
            }
        }
    }

    /// After a silence came or went: each active alert's silence set
    /// again, then the silences and the alerts that changed published.
    fn silences_changed(&self, mut shared: MutexGuard<'_, Shared>, now: i64) {
        let changed = mark_silenced(&mut shared.state, now);
        let silences: Vec<Silence> = shared.state.silences.values().cloned().collect();
        drop(shared);
        self.publish(
            app::protocol::SILENCES_EVENT,
            None,
            &json!({ "silences": silences }),
        );
        for alert in changed {
            self.publish(
                ALERT_EVENT,
                Some(&alert.id.to_string()),
                &json!({ "alert": alert }),
            );
        }
    }

    /// Applies the evaluator's moves: each is journaled (synced), then
    /// published. Returns the alerts that moved, as they are now.
    pub fn apply(&self, moves: Vec<engine::Move>, now: i64) -> Vec<(Alert, Transition)> {
        let mut shared = self.lock();
        // The periods of the alerts that fire or resolve now, as they
        // stood, for the charts.
        let periods_before = self.inner.charts.as_ref().map(|_| {
            let keys: std::collections::HashSet<(&str, &str)> = moves
                .iter()
                .filter(|m| m.to != Phase::Pending)
                .map(|m| (m.rule.as_str(), m.series.as_str()))
                .collect();
            let ids: std::collections::HashSet<u64> = keys
                .iter()
                .filter_map(|(rule, series)| {
                    let key = ((*rule).to_string(), (*series).to_string());
                    shared.state.active.get(&key).map(|a| a.id)
                })
                .collect();
            periods::by_alert(
                shared
                    .state
                    .history
                    .iter()
                    .filter(|t| ids.contains(&t.alert)),
                shared.state.active.values().filter(|a| ids.contains(&a.id)),
            )
        });
        let mut entries = Vec::with_capacity(moves.len());
        let mut moved = Vec::with_capacity(moves.len());
        for m in moves {
            let key = (m.rule.clone(), m.series.clone());
            let existing = shared.state.active.get(&key).cloned();
            shared.state.seq += 1;
            let seq = shared.state.seq;
            let mut alert = existing.clone().unwrap_or_else(|| Alert {
                id: seq,
                rule: m.rule.clone(),
                series: m.series.clone(),
                labels: m.labels.clone(),
                phase: m.to,
                severity: m.severity,
                since: now,
                fired_at: None,
                resolved_at: None,
                value: m.value,
                threshold: m.threshold,
                message: String::new(),
                ack: None,
                silenced_by: None,
                notify: m.notify.clone(),
            });
            alert.phase = m.to;
            alert.severity = m.severity;
            alert.value = m.value;
            alert.threshold = m.threshold;
            alert.message = m.message.clone();
            match m.to {
                Phase::Firing if alert.fired_at.is_none() => alert.fired_at = Some(now),
                Phase::Resolved => alert.resolved_at = Some(now),
                _ => {}
            }
            alert.silenced_by = shared
                .state
                .silences
                .values()
                .find(|s| s.covers(&alert, now))
                .map(|s| s.id.clone());
            let transition = Transition {
                seq,
                at: now,
                alert: alert.id,
                rule: m.rule,
                series: m.series,
                from: existing.map(|a| a.phase),
                to: m.to,
                severity: m.severity,
                value: m.value,
                threshold: m.threshold,
                message: m.message,
            };
            entries.push(Entry::Transition {
                transition: transition.clone(),
                alert: alert.clone(),
            });
            moved.push((alert, transition));
        }
        if let Err(error) = self.journal(&mut shared, &entries) {
            // Kept in memory and published all the same: a page must
            // still see the alert; the log says the disk failed.
            tracing::error!(%error, "cannot journal alert transitions");
        }
        for entry in entries {
            shared.state.apply(entry);
        }
        let lines = shared.journal.lines();
        let needed = shared.state.active.len() + shared.state.history.len();
        if lines > 4 * needed.max(1_000) {
            let Shared { journal, state, .. } = &mut *shared;
            if let Err(error) = journal.rewrite(state) {
                tracing::warn!(%error, "cannot rewrite the alerts journal");
            }
        }
        drop(shared);
        for (alert, transition) in &moved {
            if let Some(outbox) = &self.inner.outbox {
                outbox.notify(alert, transition);
            }
            let data = json!({ "alert": alert, "transition": transition });
            self.publish(ALERT_EVENT, Some(&alert.id.to_string()), &data);
            // Addressed to named viewers: a notification on each one's
            // own channel, which only pages of that name follow.
            if transition.to != Phase::Pending && alert.silenced_by.is_none() {
                for name in &alert.notify {
                    let channel = app::protocol::notify_channel(name);
                    if let Err(error) = self.inner.hub.publish(
                        &channel,
                        app::protocol::NOTIFICATION_EVENT,
                        None,
                        &data,
                    ) {
                        tracing::warn!(%error, %channel, "cannot publish a notification");
                    }
                }
            }
        }
        if let (Some(charts), Some(before)) = (&self.inner.charts, periods_before) {
            let transitions: Vec<Transition> = moved.iter().map(|(_, t)| t.clone()).collect();
            charts.publish(&self.inner.hub, before, &transitions);
        }
        moved
    }

    /// The annotations of the firing periods that overlap `from..=to` on
    /// the charts of dashboard `dashboard` (of widget `widget` only, when
    /// given). None without charts or when there is no such dashboard.
    pub fn period_annotations(
        &self,
        dashboard: &str,
        widget: Option<&str>,
        from: i64,
        to: i64,
    ) -> Vec<app::protocol::Annotation> {
        let Some(dashboard) = self
            .inner
            .charts
            .as_ref()
            .and_then(|c| c.dashboard(dashboard))
        else {
            return Vec::new();
        };
        let periods: Vec<periods::Period> = {
            let shared = self.lock();
            periods::periods(&shared.state.history, shared.state.active.values())
        };
        let periods: Vec<periods::Period> = periods
            .into_iter()
            .filter(|p| p.overlaps(from, to))
            .collect();
        periods::annotations(&dashboard, widget, &periods)
    }

    fn journal(&self, shared: &mut Shared, entries: &[Entry]) -> Result<(), AlertsError> {
        shared
            .journal
            .append(entries)
            .map_err(|source| AlertsError::Io {
                path: self.inner.dir.clone(),
                source,
            })
    }

    fn publish(&self, event: &str, key: Option<&str>, data: &serde_json::Value) {
        if let Err(error) = self.inner.hub.publish(ALERTS_CHANNEL, event, key, data) {
            tracing::warn!(%error, channel = ALERTS_CHANNEL, event, "cannot publish");
        }
    }
}

/// The rules in force: the API's, then the config file's not replaced.
fn rules_of(shared: &Shared) -> Vec<(Rule, Source)> {
    let mut rules: Vec<(Rule, Source)> = shared
        .api_rules
        .values()
        .map(|r| (r.clone(), Source::Api))
        .collect();
    rules.extend(
        shared
            .config_rules
            .iter()
            .filter(|r| !shared.api_rules.contains_key(&r.id))
            .map(|r| (r.clone(), Source::Config)),
    );
    rules.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    rules
}

/// A rule as the API shows it: the rule, and `source`.
pub fn rule_json(rule: &Rule, source: Source) -> serde_json::Value {
    let mut value = serde_json::to_value(rule).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("source".into(), json!(source));
    }
    value
}

/// Sets each active alert's silence; returns those whose changed.
fn mark_silenced(state: &mut Replayed, now: i64) -> Vec<Alert> {
    let silences: Vec<Silence> = state.silences.values().cloned().collect();
    let mut changed = Vec::new();
    for alert in state.active.values_mut() {
        let by = silences
            .iter()
            .find(|s| s.covers(alert, now))
            .map(|s| s.id.clone());
        if by != alert.silenced_by {
            alert.silenced_by = by;
            changed.push(alert.clone());
        }
    }
    changed
}

/// `template` with `{{value}}`, `{{threshold}}`, `{{severity}}`,
/// `{{rule}}`, `{{series}}` and `{{labels.<name>}}` filled in; a name it
/// does not know is left as written.
pub fn render(template: &str, fields: &Fields<'_>) -> String {
    let number = |v: Option<f64>| match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{:.2}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        None => "none".into(),
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        let filled = match name {
            "value" => Some(number(fields.value)),
            "threshold" => Some(number(fields.threshold)),
            "severity" => Some(fields.severity.as_str().to_string()),
            "rule" => Some(fields.rule.to_string()),
            "series" => Some(fields.series.to_string()),
            _ => name
                .strip_prefix("labels.")
                .map(|label| fields.labels.get(label).cloned().unwrap_or_default()),
        };
        match filled {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What a message template can name.
pub struct Fields<'a> {
    /// The value.
    pub value: Option<f64>,
    /// The line crossed.
    pub threshold: Option<f64>,
    /// The level.
    pub severity: Severity,
    /// The rule's id.
    pub rule: &'a str,
    /// The series' key.
    pub series: &'a str,
    /// The labels.
    pub labels: &'a BTreeMap<String, String>,
}

#[cfg(test)]
mod tests;
