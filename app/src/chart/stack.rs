//! Stacked series: each drawn on top of the ones before it, or as its
//! share of their sum (100%).
//!
//! Series rarely share timestamps (two exporters scraped at different
//! moments), so they are stacked on the chart's pixel columns, not on their
//! points: each series' [`Reduction`] gives, per column, the value it has
//! there ([`column_values`]: its last point in the column, and between two
//! columns with points the straight line joining them), and the columns are
//! summed in series order ([`stack`]). The cost follows the chart's width
//! times the number of series, never the number of points. A gap stays a
//! gap: the series adds nothing there and its band breaks.

use super::reduce::Reduction;

/// How a chart stacks its series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stacking {
    /// Each series on its own.
    #[default]
    Off,
    /// Each series on top of the ones before it: the top is their sum.
    Normal,
    /// Each series as its share of the sum, so the top is 100%.
    Percent,
}

impl Stacking {
    /// Every mode, in the order a menu lists them.
    pub const ALL: [Stacking; 3] = [Stacking::Off, Stacking::Normal, Stacking::Percent];

    /// Its name in the page's controls and URLs.
    pub fn name(self) -> &'static str {
        match self {
            Stacking::Off => "off",
            Stacking::Normal => "normal",
            Stacking::Percent => "percent",
        }
    }

    /// The mode called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.name() == name)
    }

    /// What a person reads in the menu.
    pub fn label(self) -> &'static str {
        match self {
            Stacking::Off => "off",
            Stacking::Normal => "stacked",
            Stacking::Percent => "100%",
        }
    }
}

/// The value a series has in each column of `reduction`'s window, oldest
/// first (`width` entries; `None` where it has none). A column with points
/// takes its last; the columns between two with points take the straight
/// line from the earlier one's last to the later one's first, unless a gap
/// marker lies between them. Before the first point and after the last
/// there is nothing.
pub fn column_values(reduction: &Reduction) -> Vec<Option<f64>> {
    let mut values = vec![None; reduction.width()];
    let (start, _) = reduction.window();
    let first = start.div_euclid(reduction.column_ms());
    // The previous column with points: its slot, its last value, and
    // whether a gap marker follows it.
    let mut previous: Option<(usize, f64, bool)> = None;
    for column in reduction.columns() {
        let Ok(slot) = usize::try_from(column.index - first) else {
            continue;
        };
        if slot >= values.len() {
            break;
        }
        let Some(summary) = column.summary else {
            previous = previous.map(|(slot, value, _)| (slot, value, true));
            continue;
        };
        if let Some((before, from, broken)) = previous {
            if !broken && !column.gap_before && slot > before + 1 {
                let steps = (slot - before) as f64;
                let to = summary.first.value;
                for (i, value) in values[before + 1..slot].iter_mut().enumerate() {
                    *value = Some(from + (to - from) * (i + 1) as f64 / steps);
                }
            }
        }
        values[slot] = Some(summary.last.value);
        previous = Some((slot, summary.last.value, column.gap_after));
    }
    values
}

/// Stacks `series` (each a [`column_values`] of one window) in order: per
/// column, each series' `(lower, upper)` edge, or `None` where it has no
/// value. A series without a value adds nothing to the ones above it. In
/// [`Stacking::Percent`] each value is its share of the column's sum (a
/// column summing to zero stacks as zeros). Negative values are summed as
/// they are, so a negative series folds back down. [`Stacking::Off`]
/// gives each series from zero to its value.
pub fn stack(series: &[Vec<Option<f64>>], mode: Stacking) -> Vec<Vec<Option<(f64, f64)>>> {
    let width = series.iter().map(Vec::len).max().unwrap_or(0);
    let mut stacked = vec![vec![None; width]; series.len()];
    for column in 0..width {
        let value = |s: &Vec<Option<f64>>| s.get(column).copied().flatten();
        let total: f64 = series.iter().filter_map(value).sum();
        let mut running = 0.0;
        for (values, out) in series.iter().zip(stacked.iter_mut()) {
            let Some(v) = value(values) else { continue };
            let v = match mode {
                Stacking::Percent if total != 0.0 => v / total * 100.0,
                Stacking::Percent => 0.0,
                _ => v,
            };
            let lower = if mode == Stacking::Off { 0.0 } else { running };
            out[column] = Some((lower, lower + v));
            running = lower + v;
        }
    }
    stacked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduction(points: &[(i64, f64)]) -> Reduction {
        // Ten columns of 10 ms from 0.
        Reduction::from_points(points, 0, 10, 10)
    }

    #[test]
    fn a_column_takes_its_last_point_and_the_columns_between_points_the_line_joining_them() {
        let values = column_values(&reduction(&[(5, 1.0), (8, 2.0), (45, 5.0), (52, 7.0)]));
        assert_eq!(
            values,
            [
                Some(2.0),
                Some(2.75),
                Some(3.5),
                Some(4.25),
                Some(5.0),
                Some(7.0),
                None,
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn a_gap_marker_breaks_the_line_between_columns() {
        let values = column_values(&reduction(&[(5, 1.0), (25, f64::NAN), (45, 5.0)]));
        assert_eq!(values[0], Some(1.0));
        assert_eq!(values[1..4], [None, None, None]);
        assert_eq!(values[4], Some(5.0));
    }

    #[test]
    fn normal_stacking_puts_each_series_on_the_ones_before_it() {
        let stacked = stack(
            &[
                vec![Some(1.0), Some(2.0), None],
                vec![Some(3.0), None, Some(4.0)],
                vec![Some(5.0), Some(6.0), Some(1.0)],
            ],
            Stacking::Normal,
        );
        assert_eq!(stacked[0], [Some((0.0, 1.0)), Some((0.0, 2.0)), None]);
        assert_eq!(stacked[1], [Some((1.0, 4.0)), None, Some((0.0, 4.0))]);
        // A series without a value adds nothing to those above it.
        assert_eq!(
            stacked[2],
            [Some((4.0, 9.0)), Some((2.0, 8.0)), Some((4.0, 5.0))]
        );
    }

    #[test]
    fn percent_stacking_reaches_100_in_every_column_with_a_value() {
        let stacked = stack(
            &[vec![Some(1.0), Some(0.0)], vec![Some(3.0), Some(0.0)]],
            Stacking::Percent,
        );
        assert_eq!(stacked[0][0], Some((0.0, 25.0)));
        assert_eq!(stacked[1][0], Some((25.0, 100.0)));
        // A column summing to zero stacks as zeros, not NaN.
        assert_eq!(stacked[1][1], Some((0.0, 0.0)));
    }

    #[test]
    fn off_leaves_each_series_on_its_own() {
        let stacked = stack(&[vec![Some(2.0)], vec![Some(3.0)]], Stacking::Off);
        assert_eq!(stacked, [vec![Some((0.0, 2.0))], vec![Some((0.0, 3.0))]]);
    }

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in Stacking::ALL {
            assert_eq!(Stacking::parse(mode.name()), Some(mode));
        }
        assert_eq!(Stacking::parse("sideways"), None);
    }
}
