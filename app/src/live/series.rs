//! A bounded window over a live series: the points of the last `span`,
//! never more than `capacity` of them.
//!
//! A chart keeps one of these; appending is O(1) amortised (a late, older
//! point is inserted in its place) and old points fall out of the front, so
//! a page left open for a day holds no more than it shows. Each time is
//! held once: the same point from history and from the live stream is one
//! point.

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

    /// Adds a point, in time order: a point newer than the newest goes at
    /// the end (the usual case), an older one takes its place among the
    /// others (history that arrives after live points fills its gap). A
    /// point at a time the window already holds is ignored, so a point
    /// that arrives twice (from history and live) is kept once; so are
    /// non-finite values and points older than the span.
    /// Returns whether the point was added.
    pub fn push(&mut self, ts: i64, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        match self.points.back() {
            Some(&(last, _)) if ts == last => return false,
            Some(&(last, _)) if ts < last => {
                if ts < last - self.span_ms {
                    return false;
                }
                let at = self.points.partition_point(|&(t, _)| t < ts);
                if self.points.get(at).is_some_and(|&(t, _)| t == ts) {
                    return false;
                }
                self.points.insert(at, (ts, value));
            }
            _ => self.points.push_back((ts, value)),
        }
        while self.points.len() > self.capacity {
            self.points.pop_front();
        }
        let newest = self.newest_ts().unwrap_or(ts);
        let oldest_kept = newest - self.span_ms;
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

    /// The oldest point's timestamp.
    pub fn oldest_ts(&self) -> Option<i64> {
        self.points.front().map(|&(t, _)| t)
    }

    /// The longest time between two consecutive points (0 with fewer than
    /// two): how large the chart's largest hole is.
    pub fn largest_gap(&self) -> i64 {
        self.points
            .iter()
            .zip(self.points.iter().skip(1))
            .map(|(a, b)| b.0 - a.0)
            .max()
            .unwrap_or(0)
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
    fn a_point_seen_twice_is_kept_once_and_non_finite_ones_are_ignored() {
        let mut window = SeriesWindow::new(60_000, 10);
        assert!(window.push(10, 1.0));
        assert!(!window.push(10, 2.0));
        assert!(!window.push(11, f64::NAN));
        assert_eq!(window.points().collect::<Vec<_>>(), [(10, 1.0)]);
    }

    #[test]
    fn older_points_fill_their_place_once() {
        let mut window = SeriesWindow::new(60_000, 10);
        for ts in [1_000, 4_000, 5_000] {
            window.push(ts, 1.0);
        }
        assert!(window.push(3_000, 2.0));
        assert!(window.push(2_000, 2.0));
        assert!(!window.push(3_000, 9.0), "already held");
        assert!(!window.push(5_000, 9.0), "already held");
        let times: Vec<i64> = window.points().map(|(t, _)| t).collect();
        assert_eq!(times, [1_000, 2_000, 3_000, 4_000, 5_000]);
        assert!(!window.push(-60_000, 1.0), "older than the span");
    }
}
