//! How a chart draws its series, and the thresholds it keeps in view.
//!
//! A [`ChartStyle`] says whether series are lines, points or bars, joined
//! straight or in steps, filled below or not, and whether a stretch without
//! samples is left as a gap or joined across. [`Threshold`]s are lines (or
//! bands) at fixed values that the value axis always reaches, so a warning
//! level stays on screen even while the data is far below it.
//!
//! Everything here is geometry on plain numbers, tested natively; the
//! widget only hands the results to the canvas.

/// What a series is drawn as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Draw {
    /// A line through its points.
    #[default]
    Lines,
    /// A dot at each point (per pixel column: its first, lowest, highest
    /// and last).
    Points,
    /// A bar per pixel column, from zero to the column's extreme.
    Bars,
}

/// How a line goes from one point to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interpolation {
    /// Straight.
    #[default]
    Linear,
    /// A value holds until the next point, then steps to it (counters,
    /// states, anything sampled rather than continuous).
    Step,
}

/// How a chart draws its series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChartStyle {
    /// Lines, points or bars.
    pub draw: Draw,
    /// Straight or stepped lines.
    pub interpolation: Interpolation,
    /// The opacity of the area below a line, 0 (none) to 1.
    pub fill: f64,
    /// Join the line across stretches without samples instead of leaving
    /// the gap (see [`gap_after`]).
    pub connect_gaps: bool,
    /// Each series on its own, on top of the ones before it, or as its
    /// share of 100%.
    pub stacking: super::Stacking,
}

impl Default for ChartStyle {
    fn default() -> Self {
        Self {
            draw: Draw::Lines,
            interpolation: Interpolation::Linear,
            fill: 0.0,
            connect_gaps: false,
            stacking: super::Stacking::Off,
        }
    }
}

/// How serious a threshold is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Worth a look.
    Warning,
    /// Act now.
    Critical,
}

impl Level {
    /// Its name, as the page writes it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Warning => "Warning",
            Level::Critical => "Critical",
        }
    }
}

/// A line at a fixed value, or a band between two.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// What it is called ("Warning", "Total").
    pub label: String,
    /// Where it is.
    pub value: f64,
    /// The other edge of a band; `None` for a line.
    pub to: Option<f64>,
    /// How serious crossing it is.
    pub level: Level,
}

/// The value range `low..=high` widened to every finite threshold edge.
pub fn with_thresholds(low: f64, high: f64, thresholds: &[Threshold]) -> (f64, f64) {
    thresholds
        .iter()
        .flat_map(|t| std::iter::once(t.value).chain(t.to))
        .filter(|v| v.is_finite())
        .fold((low, high), |(low, high), v| (low.min(v), high.max(v)))
}

/// Intervals looked at to judge a series' usual spacing.
const SPACING_SAMPLE: usize = 64;

/// The spacing past which two neighbouring points of `points` are a gap:
/// three times their usual (median) interval, and at least twice
/// `step_ms` for bucketed history. `None` with fewer than two points.
pub fn gap_after(points: &[(i64, f64)], step_ms: Option<i64>) -> Option<i64> {
    gap_after_by(points.len(), |i| points[i].0, step_ms)
}

/// [`gap_after`] for `len` points whose `i`th time is `ts_at(i)` (a line
/// read in place).
pub fn gap_after_by(len: usize, ts_at: impl Fn(usize) -> i64, step_ms: Option<i64>) -> Option<i64> {
    if len < 2 {
        return None;
    }
    // An even sample of the intervals: the median of 64 is as good a
    // judge as that of 20,000, for a fraction of the work each frame.
    let stride = (len - 1).div_ceil(SPACING_SAMPLE).max(1);
    let mut intervals: Vec<i64> = (0..len - 1)
        .step_by(stride)
        .map(|i| ts_at(i + 1).saturating_sub(ts_at(i)))
        .filter(|&d| d > 0)
        .collect();
    if intervals.is_empty() {
        return None;
    }
    // At most 64: an insertion sort is enough, and far smaller in the
    // bundle than the standard library's selection.
    for i in 1..intervals.len() {
        let mut j = i;
        while j > 0 && intervals[j - 1] > intervals[j] {
            intervals.swap(j - 1, j);
            j -= 1;
        }
    }
    let median = intervals[intervals.len() / 2];
    let usual = median.saturating_mul(3);
    Some(step_ms.map_or(usual, |step| usual.max(step.saturating_mul(2))))
}

/// `points` with a gap marker (a NaN, which breaks a drawn line) wherever
/// two neighbours are more than `gap_ms` apart.
pub fn mark_gaps(points: &[(i64, f64)], gap_ms: i64) -> Vec<(i64, f64)> {
    let mut marked = Vec::with_capacity(points.len() + 8);
    for (i, &(ts, value)) in points.iter().enumerate() {
        if let Some(&(before, _)) = i.checked_sub(1).and_then(|j| points.get(j)) {
            if ts.saturating_sub(before) > gap_ms {
                marked.push((before.saturating_add(1), f64::NAN));
            }
        }
        marked.push((ts, value));
    }
    marked
}

/// Where bars start: at zero when the axis shows it, else at the axis
/// edge nearest zero.
pub fn bar_base(axis_min: f64, axis_max: f64) -> f64 {
    0.0_f64.clamp(axis_min.min(axis_max), axis_max.max(axis_min))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(value: f64, to: Option<f64>) -> Threshold {
        Threshold {
            label: "Warning".into(),
            value,
            to,
            level: Level::Warning,
        }
    }

    #[test]
    fn thresholds_widen_the_value_range_even_where_the_data_never_goes() {
        assert_eq!(with_thresholds(10.0, 20.0, &[]), (10.0, 20.0));
        assert_eq!(
            with_thresholds(10.0, 20.0, &[threshold(80.0, None)]),
            (10.0, 80.0)
        );
        assert_eq!(
            with_thresholds(10.0, 20.0, &[threshold(5.0, Some(90.0))]),
            (5.0, 90.0)
        );
        assert_eq!(
            with_thresholds(10.0, 20.0, &[threshold(f64::NAN, Some(f64::INFINITY))]),
            (10.0, 20.0),
            "a threshold that is not a number moves nothing"
        );
    }

    #[test]
    fn a_gap_is_three_usual_intervals_and_at_least_two_buckets() {
        let every_second: Vec<(i64, f64)> = (0..100).map(|s| (s * 1_000, 1.0)).collect();
        assert_eq!(gap_after(&every_second, None), Some(3_000));
        assert_eq!(gap_after(&every_second, Some(60_000)), Some(120_000));
        assert_eq!(gap_after(&every_second[..1], None), None);
        assert_eq!(gap_after(&[(5, 1.0), (5, 2.0)], None), None);
        // One long outage does not change what is usual.
        let mut outage = every_second.clone();
        outage.extend((0..100).map(|s| (1_000_000 + s * 1_000, 2.0)));
        assert_eq!(gap_after(&outage, None), Some(3_000));
        // Long series are judged on a sample of their intervals.
        let long: Vec<(i64, f64)> = (0..100_000).map(|s| (s * 250, 1.0)).collect();
        assert_eq!(gap_after(&long, None), Some(750));
    }

    #[test]
    fn gaps_get_a_marker_between_their_edges_and_nothing_else_changes() {
        let points = [(0, 1.0), (1_000, 2.0), (10_000, 3.0), (11_000, 4.0)];
        let marked = mark_gaps(&points, 3_000);
        assert_eq!(marked.len(), 5);
        assert_eq!(marked[..2], points[..2]);
        assert_eq!(marked[2].0, 1_001);
        assert!(marked[2].1.is_nan());
        assert_eq!(marked[3..], points[2..]);
        assert_eq!(mark_gaps(&points, 10_000), points, "joined when told");
        assert!(mark_gaps(&[], 1).is_empty());
    }

    #[test]
    fn a_gap_breaks_the_reduced_line() {
        use crate::chart::{PathStep, Reduction};
        let points = [(0, 1.0), (1_000, 2.0), (10_000, 3.0), (11_000, 4.0)];
        let moves = |points: &[(i64, f64)]| {
            Reduction::from_points(points, 0, 12, 1_000)
                .path()
                .into_iter()
                .filter(|step| matches!(step, PathStep::MoveTo(_)))
                .count()
        };
        assert_eq!(moves(&points), 1, "joined");
        assert_eq!(moves(&mark_gaps(&points, 3_000)), 2, "broken at the gap");
    }

    #[test]
    fn a_stepped_line_holds_each_value_until_the_next_point() {
        use crate::chart::{PathStep, Reduction, Sample};
        let points = [(0, 5.0), (10, 7.0), (20, f64::NAN), (30, 3.0), (40, 1.0)];
        let steps = |stepped: bool| {
            let mut steps = Vec::new();
            Reduction::from_points(&points, 0, 5, 10).trace(stepped, &mut |step| steps.push(step));
            steps
        };
        let (line, move_to) = (
            |ts, value| PathStep::LineTo(Sample { ts, value }),
            |ts, value| PathStep::MoveTo(Sample { ts, value }),
        );
        assert_eq!(
            steps(true),
            [
                move_to(0, 5.0),
                line(10, 5.0),
                line(10, 7.0),
                // The gap lifts the pen: nothing is held across it.
                move_to(30, 3.0),
                line(40, 3.0),
                line(40, 1.0),
            ]
        );
        assert_eq!(
            steps(false),
            [
                move_to(0, 5.0),
                line(10, 7.0),
                move_to(30, 3.0),
                line(40, 1.0)
            ]
        );
    }

    #[test]
    fn bars_start_at_zero_or_the_nearest_edge() {
        assert_eq!(bar_base(-10.0, 10.0), 0.0);
        assert_eq!(bar_base(20.0, 80.0), 20.0);
        assert_eq!(bar_base(-80.0, -20.0), -20.0);
    }
}
