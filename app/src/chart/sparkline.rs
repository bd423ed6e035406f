//! The small pictures of a value widget: a sparkline's path and a trend.

use std::fmt::Write;

use super::{column_ms_for, Line, LiveReduction, PathStep, ReduceTo};

/// The columns a sparkline is reduced to before it is written: about a
/// card's width in pixels. Each keeps its first, lowest, highest and last
/// point, so a one-point spike still shows, and the path holds at most
/// four vertices a column however many points the line holds.
pub const SPARK_COLUMNS: usize = 256;

/// An SVG path through `line` in a `width` x `height` box: time across,
/// the value up, scaled to the line's own range (a flat line is drawn
/// across the middle), reduced to [`SPARK_COLUMNS`] columns and broken at
/// its gaps as a chart's line is. Empty with fewer than two points.
pub fn sparkline_path(line: &Line, width: f64, height: f64) -> String {
    let (Some(first), Some(last)) = (line.oldest_ts(), line.newest_ts()) else {
        return String::new();
    };
    if last <= first {
        return String::new();
    }
    let span_ms = last - first;
    // One column more than the span needs: the window starts at the
    // column holding the first point, up to a column before it.
    let to = ReduceTo {
        gap_ms: line.gap_ms(),
        from: first,
        width: SPARK_COLUMNS + 1,
        column_ms: column_ms_for(span_ms + 1, SPARK_COLUMNS),
    };
    // The charts' reduction, made once and kept nowhere: a stat redraws
    // its sparkline whole, and this is the reducer the page already has.
    let mut kept = LiveReduction::new(line, to);
    let reduction = kept.reduction();
    let (low, high) = reduction
        .columns()
        .filter_map(|column| column.summary)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s.min.value), hi.max(s.max.value))
        });
    let mut path = String::with_capacity(reduction.columns().len() * 24);
    reduction.trace(false, &mut |step| {
        let (pen, sample) = match step {
            PathStep::MoveTo(sample) => ('M', sample),
            PathStep::LineTo(sample) => ('L', sample),
        };
        let x = (sample.ts - first) as f64 / span_ms as f64 * width;
        let y = if high > low {
            height - (sample.value - low) / (high - low) * height
        } else {
            height / 2.0
        };
        path.push(pen);
        // Written in place: no allocation per point.
        let _ = write!(path, "{x:.1} {y:.1}");
    });
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

    fn line(points: &[(i64, f64)]) -> Line {
        Line::from_history(points, None, None, i64::MAX, usize::MAX)
    }

    #[test]
    fn the_path_spans_the_box_with_the_highest_point_on_top() {
        let path = sparkline_path(&line(&[(0, 1.0), (50, 3.0), (100, 2.0)]), 100.0, 20.0);
        assert_eq!(path, "M0.0 20.0L50.0 0.0L100.0 10.0");
    }

    #[test]
    fn a_flat_or_short_line() {
        assert_eq!(sparkline_path(&line(&[]), 100.0, 20.0), "");
        assert_eq!(sparkline_path(&line(&[(0, 5.0)]), 100.0, 20.0), "");
        assert_eq!(
            sparkline_path(&line(&[(0, 5.0), (20, 5.0)]), 100.0, 20.0),
            "M0.0 10.0L100.0 10.0"
        );
    }

    #[test]
    fn a_long_window_is_reduced_to_the_columns_and_keeps_its_spike_and_ends() {
        // An hour at 40 points a second, flat but for one spike.
        let points: Vec<(i64, f64)> = (0..144_000)
            .map(|i| (i * 25, if i == 77_777 { 9.0 } else { 1.0 }))
            .collect();
        let path = sparkline_path(&line(&points), 100.0, 20.0);
        let vertices = path.matches(['M', 'L']).count();
        assert!(vertices <= 4 * (SPARK_COLUMNS + 1), "{vertices} vertices");
        assert!(path.starts_with("M0.0 20.0"), "{path}");
        assert!(path.ends_with("L100.0 20.0"), "{path}");
        // The spike reaches the top of the box.
        assert!(path.contains(" 0.0L"), "{path}");
    }

    #[test]
    fn a_gap_breaks_the_line() {
        // A point a second, then a silence of a minute.
        let mut points: Vec<(i64, f64)> = (0..30).map(|s| (s * 1_000, 1.0)).collect();
        points.extend((90..120).map(|s| (s * 1_000, 2.0)));
        let path = sparkline_path(&line(&points), 100.0, 20.0);
        assert_eq!(path.matches('M').count(), 2, "{path}");
    }

    #[test]
    fn change_in_percent() {
        assert_eq!(percent_change(200.0, 250.0), Some(25.0));
        assert_eq!(percent_change(-100.0, -50.0), Some(50.0));
        assert_eq!(percent_change(0.0, 5.0), None);
    }
}
