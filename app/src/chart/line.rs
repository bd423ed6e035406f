//! One series as a chart holds it: history from the query API joined to
//! the live points that follow, as one line with no seam.
//!
//! A chart asks the store for its window at the resolution that fits its
//! width (`max_points`): raw samples (thinned by M4) for short windows, or
//! rollup buckets of `step_ms` with each bucket's min and max for long
//! ones. Live points then arrive one sample at a time. A [`Line`] takes
//! them in the history's own shape:
//!
//! - raw: a live point newer than the newest one held is appended; one at
//!   or before it is already there (history and live overlap by design:
//!   the page subscribes before it reads), so it is dropped. No gap, no
//!   duplicate.
//! - stepped: a live point is folded into its bucket (`ts` rounded down to
//!   a multiple of `step_ms` from the epoch, as the store aligns them), so
//!   buckets keep their place and the shape does not shift as time moves
//!   on. A bucket's min and max take the point exactly (folding a sample
//!   in twice changes neither); its value is the mean of what it holds,
//!   counting the history's in-progress bucket as one sample, so only the
//!   newest bucket can differ from what a reload would show, and only in
//!   its mean.
//!
//! The line keeps its span and at most `capacity` points, dropping the
//! oldest: a page left open for days holds no more than it shows.

use std::{
    collections::VecDeque,
    sync::atomic::{AtomicU64, Ordering},
};

/// One point of a line: a sample, or a bucket with its min and max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinePoint {
    /// The sample's time, or the bucket's start (Unix ms).
    pub ts: i64,
    /// The sample, or the bucket's mean.
    pub value: f64,
    /// The bucket's smallest value (the sample itself for raw points).
    pub min: f64,
    /// The bucket's largest value.
    pub max: f64,
    /// Samples folded into the bucket's mean.
    count: u32,
}

impl LinePoint {
    /// Its time and value, as a reduction reads them.
    pub fn pair(&self) -> (i64, f64) {
        (self.ts, self.value)
    }

    fn sample(ts: i64, value: f64) -> Self {
        Self {
            ts,
            value,
            min: value,
            max: value,
            count: 1,
        }
    }
}

/// Which line value this is: a number no other line made, cloned or
/// changed other than by appending holds ([`Line::id`]). Two lines of the
/// same points are equal whatever their ids.
#[derive(Debug)]
struct LineId(u64);

impl LineId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Clone for LineId {
    fn clone(&self) -> Self {
        Self::next()
    }
}

impl PartialEq for LineId {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A series' points within a span: history, then live.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    id: LineId,
    step_ms: Option<i64>,
    span_ms: i64,
    capacity: usize,
    points: VecDeque<LinePoint>,
    /// The newest sample time taken in (stepped lines: live samples only,
    /// since history's buckets do not say when their newest sample was).
    newest_sample: Option<i64>,
}

impl Line {
    /// An empty line of raw points (`step_ms` `None`) or of buckets
    /// `step_ms` wide, keeping `span_ms` and at most `capacity` points.
    pub fn new(step_ms: Option<i64>, span_ms: i64, capacity: usize) -> Self {
        Self {
            id: LineId::next(),
            step_ms: step_ms.filter(|&s| s > 0),
            span_ms: span_ms.max(1),
            capacity: capacity.max(1),
            points: VecDeque::new(),
            newest_sample: None,
        }
    }

    /// A line holding a query's answer: `points` (oldest first) and, for
    /// rollup answers, each bucket's `(min, max)` in `band`. Non-finite
    /// points are dropped; unsorted ones after a newer one too.
    pub fn from_history(
        points: &[(i64, f64)],
        band: Option<&[(f64, f64)]>,
        step_ms: Option<i64>,
        span_ms: i64,
        capacity: usize,
    ) -> Self {
        let mut line = Self::new(step_ms, span_ms, capacity);
        for (i, &(ts, value)) in points.iter().enumerate() {
            if !value.is_finite() || line.points.back().is_some_and(|p| p.ts >= ts) {
                continue;
            }
            let mut point = LinePoint::sample(ts, value);
            if let Some(&(min, max)) = band.and_then(|band| band.get(i)) {
                if min.is_finite() && max.is_finite() {
                    point.min = min.min(value);
                    point.max = max.max(value);
                }
            }
            line.points.push_back(point);
        }
        if line.step_ms.is_none() {
            line.newest_sample = line.points.back().map(|p| p.ts);
        }
        line.trim();
        line
    }

    /// Takes a live sample; returns whether the line changed. A sample the
    /// line already holds (or older than it) changes nothing, nor does a
    /// non-finite one.
    pub fn push(&mut self, ts: i64, value: f64) -> bool {
        if !value.is_finite() || self.newest_sample.is_some_and(|newest| ts <= newest) {
            return false;
        }
        let Some(step) = self.step_ms else {
            self.newest_sample = Some(ts);
            self.points.push_back(LinePoint::sample(ts, value));
            self.trim();
            return true;
        };
        let bucket = ts - ts.rem_euclid(step);
        match self.points.back_mut() {
            Some(last) if last.ts == bucket => {
                // A point changed in place: what was made of the line
                // before is stale.
                self.id = LineId::next();
                let count = last.count.saturating_add(1);
                last.value += (value - last.value) / f64::from(count);
                last.count = count;
                last.min = last.min.min(value);
                last.max = last.max.max(value);
            }
            Some(last) if last.ts > bucket => return false,
            _ => {
                let mut point = LinePoint::sample(ts, value);
                point.ts = bucket;
                self.points.push_back(point);
            }
        }
        self.newest_sample = Some(ts);
        self.trim();
        true
    }

    /// The points, oldest first.
    pub fn points(
        &self,
    ) -> impl DoubleEndedIterator<Item = &LinePoint> + ExactSizeIterator + Clone {
        self.points.iter()
    }

    /// The points from the one just before `ts` on, oldest first (the
    /// earlier ones skipped by a binary search): what a window from `ts`
    /// needs, gaps into it included. They are the ring's two slices: a
    /// plain loop over each costs no call per point.
    pub fn slices_near(&self, ts: i64) -> [&[LinePoint]; 2] {
        self.slices_from(ts, 1)
    }

    /// The points newer than `ts`, as [`Line::slices_near`] gives them.
    pub fn slices_after(&self, ts: i64) -> [&[LinePoint]; 2] {
        self.slices_from(ts.saturating_add(1), 0)
    }

    /// The points from `back` before the first at or after `ts` on, in the
    /// ring's two slices.
    fn slices_from(&self, ts: i64, back: usize) -> [&[LinePoint]; 2] {
        let first = self
            .points
            .partition_point(|p| p.ts < ts)
            .saturating_sub(back);
        let (a, b) = self.points.as_slices();
        match a.get(first..) {
            Some(rest) if !rest.is_empty() => [rest, b],
            _ => [&[], b.get(first - a.len()..).unwrap_or_default()],
        }
    }

    /// The spacing past which two neighbours are a gap
    /// ([`gap_after`](super::gap_after)), read in place.
    pub fn gap_ms(&self) -> Option<i64> {
        super::style::gap_after_by(self.points.len(), |i| self.points[i].ts, self.step_ms)
    }

    /// The points within `from..=to`, oldest first, as
    /// [`Line::slices_near`] gives them (two binary searches).
    pub fn slices_within(&self, from: i64, to: i64) -> [&[LinePoint]; 2] {
        let [a, b] = self.slices_after(from.saturating_sub(1));
        let cut = |part: &'_ [LinePoint]| part.partition_point(|p| p.ts <= to);
        [&a[..cut(a)], &b[..cut(b)]]
    }

    /// How many points it holds.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether it holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// A number that changes whenever the line changes other than by
    /// taking a newer point (or dropping its oldest), and that no other
    /// line holds: what is kept of the line from frame to frame is good
    /// for as long as it holds the same id.
    pub fn id(&self) -> u64 {
        self.id.0
    }

    /// The bucket width (`None`: raw samples).
    pub fn step_ms(&self) -> Option<i64> {
        self.step_ms
    }

    /// The newest point's time.
    pub fn newest_ts(&self) -> Option<i64> {
        self.points.back().map(|p| p.ts)
    }

    /// The oldest point's time.
    pub fn oldest_ts(&self) -> Option<i64> {
        self.points.front().map(|p| p.ts)
    }

    /// The longest time between two consecutive points (0 with fewer than
    /// two): how large the line's largest hole is.
    pub fn largest_gap(&self) -> i64 {
        self.points
            .iter()
            .zip(self.points.iter().skip(1))
            .map(|(a, b)| b.ts - a.ts)
            .max()
            .unwrap_or(0)
    }

    fn trim(&mut self) {
        while self.points.len() > self.capacity {
            self.points.pop_front();
        }
        let Some(newest) = self.newest_ts() else {
            return;
        };
        let oldest_kept = newest.saturating_sub(self.span_ms);
        while self.points.front().is_some_and(|p| p.ts < oldest_kept) {
            self.points.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(line: &Line) -> Vec<i64> {
        line.points().map(|p| p.ts).collect()
    }

    #[test]
    fn live_points_continue_raw_history_without_a_gap_or_a_repeat() {
        let history: Vec<(i64, f64)> = (0..60).map(|s| (s * 1_000, s as f64)).collect();
        let mut line = Line::from_history(&history, None, None, 60_000, 1_000);
        // The overlap a subscription made before the read delivers again.
        for s in 55..65 {
            line.push(s * 1_000, s as f64);
        }
        let expected: Vec<i64> = (4..65).map(|s| s * 1_000).collect();
        assert_eq!(times(&line), expected, "one point a second, each once");
        assert_eq!(line.largest_gap(), 1_000);
    }

    #[test]
    fn stepped_lines_fold_live_samples_into_aligned_buckets() {
        let history = [(0, 1.0), (60_000, 2.0)];
        let band = [(0.5, 1.5), (2.0, 2.0)];
        let mut line = Line::from_history(&history, Some(&band), Some(60_000), 3_600_000, 100);
        assert!(line.push(90_000, 10.0), "into the open bucket");
        assert!(line.push(125_000, 4.0), "starts the next bucket");
        let points: Vec<LinePoint> = line.points().copied().collect();
        assert_eq!(times(&line), [0, 60_000, 120_000]);
        assert_eq!((points[1].min, points[1].max), (2.0, 10.0));
        assert_eq!(
            points[1].value, 6.0,
            "history's bucket counts as one sample"
        );
        assert_eq!(
            (points[2].value, points[2].min, points[2].max),
            (4.0, 4.0, 4.0)
        );
        assert_eq!(points[0].min, 0.5, "history's band is kept");
    }

    #[test]
    fn a_sample_taken_twice_changes_nothing() {
        let mut line = Line::new(Some(60_000), 3_600_000, 100);
        assert!(line.push(61_000, 3.0));
        assert!(!line.push(61_000, 3.0));
        assert!(!line.push(30_000, 9.0), "older than the newest");
        assert!(!line.push(62_000, f64::NAN));
        let point = *line.points().next().unwrap();
        assert_eq!((point.ts, point.value, point.max), (60_000, 3.0, 3.0));
    }

    #[test]
    fn the_line_keeps_its_span_and_its_capacity() {
        let mut line = Line::new(None, 10_000, 5);
        for s in 0..20 {
            line.push(s * 1_000, 1.0);
        }
        assert_eq!(times(&line), [15_000, 16_000, 17_000, 18_000, 19_000]);
        let mut line = Line::new(None, 3_000, 100);
        for s in 0..20 {
            line.push(s * 1_000, 1.0);
        }
        assert_eq!(times(&line), [16_000, 17_000, 18_000, 19_000]);
    }

    #[test]
    fn the_ring_read_in_slices_holds_the_points_near_a_time() {
        // A full ring that has dropped its oldest points wraps around: its
        // points lie in two slices.
        let mut line = Line::new(None, 1_000_000, 50);
        for s in 0..137 {
            line.push(s * 1_000, s as f64);
        }
        let [a, b] = line.slices_near(0);
        assert!(!a.is_empty() && !b.is_empty(), "the ring wraps");
        for ts in [
            -5_000, 0, 87_000, 87_500, 100_000, 110_999, 136_000, 200_000,
        ] {
            let read: Vec<i64> = line.slices_near(ts).concat().iter().map(|p| p.ts).collect();
            let before = line.points().filter(|p| p.ts < ts).count();
            let near: Vec<i64> = line
                .points()
                .skip(before.saturating_sub(1))
                .map(|p| p.ts)
                .collect();
            assert_eq!(read, near, "near {ts}");
        }
    }

    #[test]
    fn history_with_holes_or_disorder_is_taken_as_far_as_it_is_sound() {
        let line = Line::from_history(
            &[
                (1, 1.0),
                (2, f64::NAN),
                (3, 3.0),
                (2, 2.0),
                (4, f64::INFINITY),
            ],
            None,
            None,
            60_000,
            10,
        );
        let within = |from, to| {
            let [a, b] = line.slices_within(from, to);
            a.iter().chain(b).map(LinePoint::pair).collect::<Vec<_>>()
        };
        assert_eq!(within(i64::MIN, i64::MAX), [(1, 1.0), (3, 3.0)]);
        assert_eq!(within(2, 3), [(3, 3.0)]);
        assert_eq!(within(0, 1), [(1, 1.0)]);
        assert_eq!(within(2, 2), []);
        assert_eq!(within(3, 1), []);
        assert!(!Line::new(None, 1, 1).push(0, f64::NEG_INFINITY));
    }
}
