//! An alert rule: what series it reads, how it reduces them, and when a
//! value is bad enough to warn or to be critical.
//!
//! ```json
//! {
//!   "id": "cpu-high",
//!   "selector": "livedash_host_cpu_percent{core=\"\"}",
//!   "aggregate": "avg",
//!   "window": "1m",
//!   "condition": { "type": "above", "warning": 80, "critical": 95, "clear": 75 },
//!   "for": "30s",
//!   "labels": { "team": "ops" },
//!   "message": "CPU at {{value}}% on {{labels.host}} (past {{threshold}})",
//!   "notify": ["ana"]
//! }
//! ```
//!
//! A rule is the same document in the API, in its file under the data
//! directory and (as a `[[alert]]` table) in the config file. Unknown
//! fields are refused. [`Rule::check`] lists every problem with the path
//! of its field; [`Rule::compile`] gives the parsed form the evaluator
//! runs ([`Compiled`]).
//!
//! Conditions (`condition.type`):
//! - `above` / `below`: the value past `warning` or `critical`;
//! - `outside`: the value out of the band `[low, high]` of each level;
//! - `change`: the value as a ratio of the same aggregate `offset` earlier
//!   (`0.5`: half of it), `direction` `below` (a drop) or `above`;
//! - `absent`: no sample for `after`; fires at `level` (critical).
//!
//! `clear` is the line a value must come back past before a level is left
//! (hysteresis): for `above`, a value that crossed 80 stays a warning
//! until it is below 75. The same distance applies to the critical line.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use crate::query::{parse_selector, Selector};

/// The longest rule id.
pub const MAX_ID_LEN: usize = 64;
/// The longest message template.
pub const MAX_MESSAGE_CHARS: usize = 1_000;
/// The most viewers a rule notifies by name.
pub const MAX_NOTIFY: usize = 50;
/// The longest aggregation window and comparison offset: a week.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 86_400);

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Its id: `a-z 0-9 - _`, 1 to 64.
    pub id: String,
    /// A selector of the store (`name{label="value"}`): one alert per
    /// series it matches.
    pub selector: String,
    /// How a window of samples becomes one value.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// The window aggregated, before now (`1m`).
    #[serde(default = "default_window")]
    pub window: String,
    /// When the value is bad.
    pub condition: Condition,
    /// How long a value must stay bad before the alert fires (`0s`).
    #[serde(default = "zero", rename = "for")]
    pub for_: String,
    /// Labels every alert of the rule carries (besides its series').
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The alert's text: `{{value}}`, `{{threshold}}`, `{{severity}}`,
    /// `{{rule}}`, `{{series}}` and `{{labels.<name>}}` are filled in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Viewer names its notifications are for (none: everyone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

fn default_window() -> String {
    "1m".into()
}

fn zero() -> String {
    "0s".into()
}

/// How a window of samples becomes one value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The newest sample.
    #[default]
    Last,
    /// The mean.
    Avg,
    /// The least.
    Min,
    /// The greatest.
    Max,
    /// A counter's increase per second over the window (resets counted
    /// as Prometheus does).
    Rate,
}

/// A level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Look soon.
    Warning,
    /// Look now.
    Critical,
}

impl Severity {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Which way a change is bad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A drop: the ratio below the levels.
    #[default]
    Below,
    /// A rise: the ratio above them.
    Above,
}

/// When a value is bad.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Past a line upwards.
    Above {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warning: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        critical: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear: Option<f64>,
    },
    /// Past a line downwards.
    Below {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warning: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        critical: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear: Option<f64>,
    },
    /// Out of a band `[low, high]`.
    Outside {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warning: Option<[f64; 2]>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        critical: Option<[f64; 2]>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear: Option<[f64; 2]>,
    },
    /// The value as a ratio of the same aggregate `offset` earlier.
    Change {
        offset: String,
        #[serde(default)]
        direction: Direction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warning: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        critical: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear: Option<f64>,
    },
    /// No sample for `after`.
    Absent {
        after: String,
        #[serde(default = "critical")]
        level: Severity,
    },
}

fn critical() -> Severity {
    Severity::Critical
}

/// A problem with a rule, and the field it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The field: `selector`, `condition.warning`, `for`.
    pub path: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// Why a document is not a usable rule.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Not JSON, or not of the rule's shape (unknown fields included).
    #[error("not a rule: {0}")]
    Shape(String),
    /// Of the shape, but wrong.
    #[error("{}", .0.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// A one-sided line: bad past `at`, in `upwards` direction or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    /// Where it is.
    pub at: f64,
    /// How far back a value must come to leave the level (hysteresis).
    pub margin: f64,
}

/// The thresholds of one level, compiled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Levels {
    /// Bad above `warning` / `critical`.
    Above([Option<Line>; 2]),
    /// Bad below them.
    Below([Option<Line>; 2]),
    /// Bad outside `[low, high]` of each level, each side with its margin.
    Outside([Option<(Line, Line)>; 2]),
}

/// What the evaluator runs: a checked rule with its durations parsed.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The rule as written.
    pub rule: Rule,
    /// Its selector, parsed.
    pub selector: Selector,
    /// Its window.
    pub window_ms: i64,
    /// Its `for`.
    pub for_ms: i64,
    /// What it compares.
    pub test: Test,
}

/// What a compiled rule tests.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// The aggregate against levels.
    Value(Levels),
    /// The aggregate over the same one `offset_ms` earlier, against levels.
    Change {
        /// How far back the comparison window is.
        offset_ms: i64,
        /// The ratio's levels.
        levels: Levels,
    },
    /// No sample for `after_ms`.
    Absent {
        /// How long without a sample.
        after_ms: i64,
        /// At which level.
        level: Severity,
    },
}

impl Rule {
    /// Reads a rule from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RuleError> {
        serde_json::from_slice(bytes).map_err(|e| RuleError::Shape(e.to_string()))
    }

    /// Every problem, with its field's path; empty when the rule is good.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(Problem {
                path: path.to_string(),
                message,
            })
        };
        if !valid_id(&self.id) {
            problem("id", format!("an id is 1 to {MAX_ID_LEN} of a-z 0-9 - _"));
        }
        if let Err(e) = parse_selector(&self.selector) {
            problem("selector", e);
        }
        for (path, text) in [("window", &self.window), ("for", &self.for_)] {
            if let Err(e) = duration(text) {
                problem(path, e);
            }
        }
        if duration(&self.window).is_ok_and(|d| d.is_zero()) {
            problem("window", "a window is longer than 0s".into());
        }
        for (name, value) in &self.labels {
            if app::protocol::validate_label_name(name).is_err() {
                problem(
                    &format!("labels.{name}"),
                    "a label name is [a-zA-Z_][a-zA-Z0-9_]*".into(),
                );
            }
            if value.len() > 1_000 {
                problem(&format!("labels.{name}"), "at most 1,000 bytes".into());
            }
        }
        if self.message.chars().count() > MAX_MESSAGE_CHARS {
            problem("message", format!("at most {MAX_MESSAGE_CHARS} characters"));
        }
        if self.notify.len() > MAX_NOTIFY {
            problem("notify", format!("at most {MAX_NOTIFY} names"));
        }
        if self.notify.iter().any(|n| {
            n.trim().is_empty() || n.chars().count() > 40 || n.chars().any(char::is_control)
        }) {
            problem(
                "notify",
                "a name is 1 to 40 characters, none of them control characters".into(),
            );
        }
        check_condition(&self.condition, &mut problem);
        problems
    }

    /// The rule, checked and parsed for the evaluator.
    pub fn compile(&self) -> Result<Compiled, RuleError> {
        let problems = self.check();
        if !problems.is_empty() {
            return Err(RuleError::Invalid(problems));
        }
        let ms = |text: &str| duration(text).map_or(0, |d| d.as_millis() as i64);
        let test = match &self.condition {
            Condition::Above {
                warning,
                critical,
                clear,
            } => Test::Value(Levels::Above(lines(*warning, *critical, *clear, 1.0))),
            Condition::Below {
                warning,
                critical,
                clear,
            } => Test::Value(Levels::Below(lines(*warning, *critical, *clear, -1.0))),
            Condition::Outside {
                warning,
                critical,
                clear,
            } => Test::Value(Levels::Outside(bands(*warning, *critical, *clear))),
            Condition::Change {
                offset,
                direction,
                warning,
                critical,
                clear,
            } => Test::Change {
                offset_ms: ms(offset),
                levels: match direction {
                    Direction::Above => Levels::Above(lines(*warning, *critical, *clear, 1.0)),
                    Direction::Below => Levels::Below(lines(*warning, *critical, *clear, -1.0)),
                },
            },
            Condition::Absent { after, level } => Test::Absent {
                after_ms: ms(after),
                level: *level,
            },
        };
        Ok(Compiled {
            selector: parse_selector(&self.selector).map_err(|e| {
                RuleError::Invalid(vec![Problem {
                    path: "selector".into(),
                    message: e,
                }])
            })?,
            window_ms: ms(&self.window),
            for_ms: ms(&self.for_),
            test,
            rule: self.clone(),
        })
    }
}

/// Whether `id` is a rule id.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A duration such as `30s`, `5m`, `1h30m`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("a duration is not negative, not {text:?}"));
    }
    let parsed = humantime::parse_duration(text)
        .map_err(|_| format!("a duration such as 30s, 5m or 1h, not {text:?}"))?;
    if parsed > MAX_DURATION {
        return Err("at most 7 days".into());
    }
    Ok(parsed)
}

/// The lines of `above` (`sign` 1) or `below` (-1), each with the margin
/// `clear` sets: the distance from the warning line to it.
fn lines(
    warning: Option<f64>,
    critical: Option<f64>,
    clear: Option<f64>,
    sign: f64,
) -> [Option<Line>; 2] {
    let first = warning.or(critical);
    let margin = match (first, clear) {
        (Some(line), Some(clear)) => ((line - clear) * sign).max(0.0),
        _ => 0.0,
    };
    [warning, critical].map(|at| at.map(|at| Line { at, margin }))
}

/// The bands of `outside`, each side with the margin `clear` sets.
fn bands(
    warning: Option<[f64; 2]>,
    critical: Option<[f64; 2]>,
    clear: Option<[f64; 2]>,
) -> [Option<(Line, Line)>; 2] {
    let first = warning.or(critical);
    let (low, high) = match (first, clear) {
        (Some([lo, hi]), Some([clear_lo, clear_hi])) => {
            ((clear_lo - lo).max(0.0), (hi - clear_hi).max(0.0))
        }
        _ => (0.0, 0.0),
    };
    [warning, critical].map(|band| {
        band.map(|[lo, hi]| {
            (
                Line {
                    at: lo,
                    margin: low,
                },
                Line {
                    at: hi,
                    margin: high,
                },
            )
        })
    })
}

fn check_condition(condition: &Condition, problem: &mut impl FnMut(&str, String)) {
    let finite = |path: &str, values: &[Option<f64>], problem: &mut dyn FnMut(&str, String)| {
        for value in values.iter().flatten() {
            if !value.is_finite() {
                problem(path, format!("a level is a finite number, not {value}"));
            }
        }
    };
    match condition {
        Condition::Above {
            warning,
            critical,
            clear,
        }
        | Condition::Below {
            warning,
            critical,
            clear,
        }
        | Condition::Change {
            warning,
            critical,
            clear,
            ..
        } => {
            let upwards = match condition {
                Condition::Above { .. } => true,
                Condition::Change { direction, .. } => *direction == Direction::Above,
                _ => false,
            };
            finite("condition.warning", &[*warning], problem);
            finite("condition.critical", &[*critical], problem);
            finite("condition.clear", &[*clear], problem);
            if warning.is_none() && critical.is_none() {
                problem(
                    "condition",
                    "give a warning level, a critical level or both".into(),
                );
            }
            let word = if upwards { "above" } else { "below" };
            let past = |a: f64, b: f64| if upwards { a > b } else { a < b };
            if let (Some(w), Some(c)) = (warning, critical) {
                if past(*w, *c) {
                    problem(
                        "condition.critical",
                        format!("critical ({c}) must be {word} warning ({w}) or equal to it"),
                    );
                }
            }
            if let (Some(line), Some(clear)) = (warning.or(*critical), clear) {
                if past(*clear, line) {
                    problem(
                        "condition.clear",
                        format!("the clear level ({clear}) is on the good side of {line}, not {word} it"),
                    );
                }
            }
            if let Condition::Change { offset, .. } = condition {
                match duration(offset) {
                    Err(e) => problem("condition.offset", e),
                    Ok(d) if d.is_zero() => {
                        problem("condition.offset", "an offset is longer than 0s".into())
                    }
                    Ok(_) => {}
                }
                for value in [warning, critical, clear].into_iter().flatten() {
                    if *value < 0.0 {
                        problem(
                            "condition",
                            format!("a change is a ratio (0.5: half), not {value}"),
                        );
                    }
                }
            }
        }
        Condition::Outside {
            warning,
            critical,
            clear,
        } => {
            for (path, band) in [
                ("condition.warning", warning),
                ("condition.critical", critical),
                ("condition.clear", clear),
            ] {
                if let Some([lo, hi]) = band {
                    if !lo.is_finite() || !hi.is_finite() {
                        problem(path, "a band's ends are finite numbers".into());
                    } else if lo > hi {
                        problem(path, format!("a band is [low, high], not [{lo}, {hi}]"));
                    }
                }
            }
            if warning.is_none() && critical.is_none() {
                problem(
                    "condition",
                    "give a warning band, a critical band or both".into(),
                );
            }
            if let (Some([wl, wh]), Some([cl, ch])) = (warning, critical) {
                if cl > wl || ch < wh {
                    problem(
                        "condition.critical",
                        format!("the critical band [{cl}, {ch}] must hold the warning band [{wl}, {wh}]"),
                    );
                }
            }
            if let (Some([lo, hi]), Some([cl, ch])) = (warning.or(*critical), *clear) {
                if cl < lo || ch > hi {
                    problem(
                        "condition.clear",
                        format!("the clear band [{cl}, {ch}] must lie within [{lo}, {hi}]"),
                    );
                }
            }
        }
        Condition::Absent { after, .. } => match duration(after) {
            Err(e) => problem("condition.after", e),
            Ok(d) if d < Duration::from_secs(1) => problem("condition.after", "at least 1s".into()),
            Ok(_) => {}
        },
    }
}
