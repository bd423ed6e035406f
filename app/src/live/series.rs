//! A bounded window over a live series: the points of the last `span`,
//! never more than `capacity` of them.
//!
//! A chart keeps one of these; pushing is O(1) amortised and old points fall
//! out of the front, so a page left open for a day holds no more than it
//! shows.

use std::collections::VecDeque;

/// One point of a series: a timestamp in Unix milliseconds and a value.
pub type Point = (i64, f64);

/// The points of a series within a time span, bounded in count.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesWindow {
    points: VecDeque<Point>,
    span_ms: i64,
    capacity: usize,
}

impl SeriesWindow {
    /// An empty window that keeps `span_ms` of history, at most `capacity` points.
    pub fn new(span_ms: i64, capacity: usize) -> Self {
        Self {
            points: VecDeque::with_capacity(capacity.min(4096)),
            span_ms: span_ms.max(1),
            capacity: capacity.max(1),
        }
    }

    /// Adds a point. Points not newer than the newest one are ignored (a
    /// series only moves forward); non-finite values are ignored.
    /// Returns whether the point was added.
    pub fn push(&mut self, ts: i64, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        if let Some(&(last, _)) = self.points.back() {
            if ts <= last {
                return false;
            }
        }
        self.points.push_back((ts, value));
        while self.points.len() > self.capacity {
            self.points.pop_front();
        }
        let oldest_kept = ts - self.span_ms;
        while self.points.front().is_some_and(|&(t, _)| t < oldest_kept) {
            self.points.pop_front();
        }
        true
    }

    /// Removes every point.
    pub fn clear(&mut self) {
        self.points.clear();
    }

    /// The points, oldest first.
    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        self.points.iter().copied()
    }

    /// How many points the window holds.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when the window holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The newest point's timestamp.
    pub fn newest_ts(&self) -> Option<i64> {
        self.points.back().map(|&(t, _)| t)
    }

    /// The time span the window covers.
    pub fn span_ms(&self) -> i64 {
        self.span_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_points_fall_out_of_the_time_span() {
        let mut window = SeriesWindow::new(60_000, 1_000);
        for second in 0..120 {
            window.push(second * 1_000, second as f64);
        }
        assert_eq!(window.points().next(), Some((59_000, 59.0)));
        assert_eq!(window.newest_ts(), Some(119_000));
        assert_eq!(window.len(), 61);
    }

    #[test]
    fn the_count_is_bounded_whatever_the_rate() {
        let mut window = SeriesWindow::new(60_000, 100);
        for ms in 0..10_000 {
            window.push(ms, 1.0);
        }
        assert_eq!(window.len(), 100);
        assert_eq!(window.points().next(), Some((9_900, 1.0)));
    }

    #[test]
    fn stale_and_non_finite_points_are_ignored() {
        let mut window = SeriesWindow::new(60_000, 10);
        assert!(window.push(10, 1.0));
        assert!(!window.push(10, 2.0));
        assert!(!window.push(5, 2.0));
        assert!(!window.push(11, f64::NAN));
        assert_eq!(window.points().collect::<Vec<_>>(), [(10, 1.0)]);
    }
}
