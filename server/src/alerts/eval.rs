//! The evaluator's arithmetic, with no clock, store or lock: a window of
//! samples becomes a value ([`aggregate`]), a value becomes a level
//! ([`level`], with hysteresis), and a level over time moves an alert
//! through its lifecycle ([`step`]: `pending -> firing -> resolved`, with
//! severity changes while firing). All of it is tested by tables below.

use serde::{Deserialize, Serialize};

use super::rule::{Aggregate, Levels, Line, Severity};

/// Where an alert is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Bad, for less than the rule's `for`.
    Pending,
    /// Bad for at least `for`.
    Firing,
    /// Good again (or gone before it fired).
    Resolved,
}

/// An alert that is pending or firing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Active {
    /// Pending or firing.
    pub phase: Phase,
    /// Its level now.
    pub severity: Severity,
    /// When it became pending (Unix ms).
    pub since: i64,
}

/// What one step changed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    /// It became pending.
    Pending,
    /// It fired (from pending, or at once with no `for`).
    Fired,
    /// Its severity changed while firing.
    Severity(Severity),
    /// It became good again.
    Resolved,
}

/// `samples` (oldest first) as one value; `None` when there are none (or,
/// for a rate, fewer than two).
pub fn aggregate(samples: &[(i64, f64)], how: Aggregate) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    Some(match how {
        Aggregate::Last => last.1,
        Aggregate::Avg => samples.iter().map(|s| s.1).sum::<f64>() / samples.len() as f64,
        Aggregate::Min => samples.iter().map(|s| s.1).fold(f64::INFINITY, f64::min),
        Aggregate::Max => samples
            .iter()
            .map(|s| s.1)
            .fold(f64::NEG_INFINITY, f64::max),
        Aggregate::Rate => {
            let seconds = (last.0 - first.0) as f64 / 1_000.0;
            if samples.len() < 2 || seconds <= 0.0 {
                return None;
            }
            let increase: f64 = samples
                .windows(2)
                .map(|w| {
                    if w[1].1 >= w[0].1 {
                        w[1].1 - w[0].1
                    } else {
                        // A reset: the counter started again from zero.
                        w[1].1
                    }
                })
                .sum();
            increase / seconds
        }
    })
}

/// The level `value` is at, given the level it was at (`now`): a level
/// once reached is left only when the value is back past its line by the
/// rule's margin, so a value hovering at a line does not flap.
pub fn level(levels: &Levels, value: f64, now: Option<Severity>) -> Option<Severity> {
    if !value.is_finite() {
        return None;
    }
    let sticky = |severity: Severity| now.is_some_and(|n| n >= severity);
    let above =
        |line: &Line, sticky: bool| value > line.at - if sticky { line.margin } else { 0.0 };
    let below =
        |line: &Line, sticky: bool| value < line.at + if sticky { line.margin } else { 0.0 };
    let past = |i: usize, severity: Severity| match levels {
        Levels::Above(lines) => lines[i].is_some_and(|l| above(&l, sticky(severity))),
        Levels::Below(lines) => lines[i].is_some_and(|l| below(&l, sticky(severity))),
        Levels::Outside(bands) => bands[i].is_some_and(|(low, high)| {
            below(&low, sticky(severity)) || above(&high, sticky(severity))
        }),
    };
    if past(1, Severity::Critical) {
        Some(Severity::Critical)
    } else if past(0, Severity::Warning) {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// The line of `severity` (for a message): an `outside` band's nearer end
/// to `value`.
pub fn threshold(levels: &Levels, severity: Severity, value: f64) -> Option<f64> {
    let i = usize::from(severity == Severity::Critical);
    match levels {
        Levels::Above(lines) | Levels::Below(lines) => lines[i].map(|l| l.at),
        Levels::Outside(bands) => bands[i].map(|(low, high)| {
            if (value - low.at).abs() <= (value - high.at).abs() {
                low.at
            } else {
                high.at
            }
        }),
    }
}

/// One step of an alert's lifecycle at `now`: `active` is where it was,
/// `level` what its value is at now. Returns where it is and what changed.
pub fn step(
    active: Option<Active>,
    level: Option<Severity>,
    now: i64,
    for_ms: i64,
) -> (Option<Active>, Option<Change>) {
    match (active, level) {
        (None, None) => (None, None),
        (None, Some(severity)) if for_ms <= 0 => (
            Some(Active {
                phase: Phase::Firing,
                severity,
                since: now,
            }),
            Some(Change::Fired),
        ),
        (None, Some(severity)) => (
            Some(Active {
                phase: Phase::Pending,
                severity,
                since: now,
            }),
            Some(Change::Pending),
        ),
        (Some(_), None) => (None, Some(Change::Resolved)),
        (Some(mut alert), Some(severity)) => match alert.phase {
            Phase::Pending => {
                alert.severity = severity;
                if now - alert.since >= for_ms {
                    alert.phase = Phase::Firing;
                    (Some(alert), Some(Change::Fired))
                } else {
                    (Some(alert), None)
                }
            }
            _ if severity != alert.severity => {
                alert.severity = severity;
                (Some(alert), Some(Change::Severity(severity)))
            }
            _ => (Some(alert), None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{Rule, Test};

    fn levels(condition: serde_json::Value) -> Levels {
        let rule: Rule = serde_json::from_value(serde_json::json!({
            "id": "r", "selector": "m", "condition": condition,
        }))
        .expect("a rule");
        match rule.compile().expect("a good rule").test {
            Test::Value(levels) | Test::Change { levels, .. } => levels,
            Test::Absent { .. } => unreachable!("a value test"),
        }
    }

    use Severity::{Critical as C, Warning as W};

    #[test]
    fn aggregates_of_a_window() {
        let s = [(0, 4.0), (1_000, 1.0), (2_000, 7.0)];
        let table = [
            (Aggregate::Last, Some(7.0)),
            (Aggregate::Avg, Some(4.0)),
            (Aggregate::Min, Some(1.0)),
            (Aggregate::Max, Some(7.0)),
            // 4 -> 1 is a reset (+1), 1 -> 7 is +6: 7 over 2 s.
            (Aggregate::Rate, Some(3.5)),
        ];
        for (how, want) in table {
            assert_eq!(aggregate(&s, how), want, "{how:?}");
            assert_eq!(aggregate(&[], how), None, "{how:?} of nothing");
        }
        assert_eq!(aggregate(&[(0, 1.0)], Aggregate::Rate), None, "one sample");
    }

    #[test]
    fn thresholds_bands_and_changes_give_levels_with_hysteresis() {
        let above = levels(
            serde_json::json!({"type": "above", "warning": 80, "critical": 95, "clear": 75}),
        );
        let below = levels(serde_json::json!({"type": "below", "warning": 20, "critical": 5}));
        let only_critical = levels(serde_json::json!({"type": "above", "critical": 90}));
        let band = levels(
            serde_json::json!({"type": "outside", "warning": [10, 90], "critical": [0, 100], "clear": [15, 85]}),
        );
        let change = levels(
            serde_json::json!({"type": "change", "offset": "1h", "warning": 0.7, "critical": 0.5}),
        );
        // (levels, value, level before, level after)
        let table: &[(&Levels, f64, Option<Severity>, Option<Severity>)] = &[
            (&above, 50.0, None, None),
            (&above, 80.0, None, None), // at the line is not above it
            (&above, 80.5, None, Some(W)),
            (&above, 96.0, None, Some(C)),
            (&above, 78.0, Some(W), Some(W)), // hovering under the line: kept
            (&above, 74.0, Some(W), None),    // back past clear
            (&above, 91.0, Some(C), Some(C)), // within the margin of critical
            (&above, 89.0, Some(C), Some(W)), // past it: down to warning
            (&above, 70.0, Some(C), None),
            (&above, f64::NAN, Some(C), None),
            (&below, 25.0, None, None),
            (&below, 19.0, None, Some(W)),
            (&below, 4.0, None, Some(C)),
            (&below, 20.0, Some(W), None), // no clear: no margin
            (&only_critical, 91.0, None, Some(C)),
            (&only_critical, 89.0, Some(C), None),
            (&band, 50.0, None, None),
            (&band, 9.0, None, Some(W)),
            (&band, 91.0, None, Some(W)),
            (&band, 101.0, None, Some(C)),
            (&band, -1.0, None, Some(C)),
            (&band, 12.0, Some(W), Some(W)), // not yet back past 15
            (&band, 16.0, Some(W), None),
            (&band, 87.0, Some(W), Some(W)),
            (&change, 0.9, None, None),
            (&change, 0.6, None, Some(W)),
            (&change, 0.4, None, Some(C)),
        ];
        for (i, (levels, value, before, after)) in table.iter().enumerate() {
            assert_eq!(
                level(levels, *value, *before),
                *after,
                "row {i}: {value} from {before:?}"
            );
        }
        assert_eq!(threshold(&above, C, 96.0), Some(95.0));
        assert_eq!(threshold(&band, W, 91.0), Some(90.0));
        assert_eq!(threshold(&band, W, 9.0), Some(10.0));
    }

    #[test]
    fn a_value_bad_for_the_for_duration_fires_and_resolves_once_good() {
        // (time, level) steps of a rule with for = 30 s, and what each changes.
        type Row = (i64, Option<Severity>, Option<Phase>, Option<Change>);
        let steps: &[Row] = &[
            (0, None, None, None),
            (10_000, Some(W), Some(Phase::Pending), Some(Change::Pending)),
            (20_000, Some(C), Some(Phase::Pending), None), // still pending, now critical
            (39_999, Some(W), Some(Phase::Pending), None),
            (40_000, Some(W), Some(Phase::Firing), Some(Change::Fired)),
            (
                50_000,
                Some(C),
                Some(Phase::Firing),
                Some(Change::Severity(C)),
            ),
            (60_000, Some(C), Some(Phase::Firing), None),
            (70_000, None, None, Some(Change::Resolved)),
            // A blip shorter than `for` never fires.
            (80_000, Some(W), Some(Phase::Pending), Some(Change::Pending)),
            (90_000, None, None, Some(Change::Resolved)),
        ];
        let mut active = None;
        for (now, level, phase, change) in steps {
            let (next, changed) = step(active, *level, *now, 30_000);
            assert_eq!(next.map(|a| a.phase), *phase, "at {now}");
            assert_eq!(changed, *change, "at {now}");
            active = next;
        }
        // Without `for`, the first bad value fires.
        let (now, changed) = step(None, Some(C), 0, 0);
        assert_eq!(
            (now.map(|a| a.phase), changed),
            (Some(Phase::Firing), Some(Change::Fired))
        );
    }
}
