//! The small pictures of a value widget: a sparkline's path and a trend.

use std::fmt::Write;

/// An SVG path through `points` (oldest first) in a `width` x `height` box:
/// time across, the value up, scaled to the points' own range (a flat
/// series is a line across the middle). Empty with fewer than two points.
pub fn sparkline_path(points: &[(i64, f64)], width: f64, height: f64) -> String {
    let finite: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|(_, v)| v.is_finite())
        .collect();
    let (Some(first), Some(last)) = (finite.first(), finite.last()) else {
        return String::new();
    };
    if finite.len() < 2 || last.0 <= first.0 {
        return String::new();
    }
    let (low, high) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let span = (last.0 - first.0) as f64;
    let mut path = String::with_capacity(finite.len() * 12);
    for (i, (ts, value)) in finite.iter().enumerate() {
        let x = (ts - first.0) as f64 / span * width;
        let y = if high > low {
            height - (value - low) / (high - low) * height
        } else {
            height / 2.0
        };
        path.push(if i == 0 { 'M' } else { 'L' });
        // Written in place: no allocation per point.
        let _ = write!(path, "{x:.1} {y:.1}");
    }
    path
}

/// The change from `before` to `now` in percent of `before` (`None` when
/// `before` is zero or either is not a number).
pub fn percent_change(before: f64, now: f64) -> Option<f64> {
    let change = (now - before) / before.abs() * 100.0;
    (before != 0.0 && change.is_finite()).then_some(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_spans_the_box_with_the_highest_point_on_top() {
        let path = sparkline_path(&[(0, 1.0), (50, 3.0), (100, 2.0)], 100.0, 20.0);
        assert_eq!(path, "M0.0 20.0L50.0 0.0L100.0 10.0");
    }

    #[test]
    fn a_flat_or_short_series_and_not_a_number() {
        assert_eq!(sparkline_path(&[(0, 5.0)], 100.0, 20.0), "");
        assert_eq!(
            sparkline_path(&[(0, 5.0), (10, f64::NAN), (20, 5.0)], 100.0, 20.0),
            "M0.0 10.0L100.0 10.0"
        );
    }

    #[test]
    fn change_in_percent() {
        assert_eq!(percent_change(200.0, 250.0), Some(25.0));
        assert_eq!(percent_change(-100.0, -50.0), Some(50.0));
        assert_eq!(percent_change(0.0, 5.0), None);
    }
}
