//! Zooming: into a drag selection, out by doubling, and back one step at a
//! time.
//!
//! The page keeps a [`ZoomStack`] of the ranges it showed before: every
//! change of range pushes the one it replaces, and "back" pops it, so a
//! person who zoomed three times into an incident gets out in three clicks,
//! each landing where they were. The stack holds at most
//! [`ZOOM_HISTORY_LIMIT`] ranges and forgets the oldest beyond that: a page
//! left zooming all day holds no more than a person would step back through.
//!
//! Zooming out doubles the span. A fixed range grows around its centre, so
//! what was under the pointer stays in the middle, but its end never moves
//! past now (when it reaches there, it grows backwards instead): the
//! future holds no points. A live range stays live, its window doubled up
//! to the longest preset (7 days), beyond which the points to draw are
//! better asked for as a fixed range; a live window already longer (from a
//! URL) is kept. A fixed range does not turn live when it reaches now: it
//! was paused on purpose, and "back to live" is one click away.

use std::collections::VecDeque;

use super::expr::{DAY, SECOND};
use super::{TimeRange, MAX_SPAN_MS, MAX_TIME_MS, MIN_TIME_MS};

/// The most ranges a [`ZoomStack`] remembers.
pub const ZOOM_HISTORY_LIMIT: usize = 50;

/// The narrowest drag selection that zooms: 1 s. A narrower one is a click
/// that wobbled.
pub const MIN_ZOOM_MS: i64 = SECOND;

/// The longest live window zooming out reaches: the longest preset.
const LIVE_ZOOM_OUT_LIMIT_MS: i64 = 7 * DAY;

/// The ranges a view showed before the current one, newest on top.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoomStack {
    ranges: VecDeque<TimeRange>,
}

impl ZoomStack {
    /// Remembers `range`, the one being left. The same range as the one on
    /// top is not remembered twice (a zoom out that changed nothing), and
    /// past [`ZOOM_HISTORY_LIMIT`] the oldest is forgotten.
    pub fn push(&mut self, range: TimeRange) {
        if self.ranges.back() == Some(&range) {
            return;
        }
        if self.ranges.len() == ZOOM_HISTORY_LIMIT {
            self.ranges.pop_front();
        }
        self.ranges.push_back(range);
    }

    /// The range shown before, taken off the stack; `None` when there is
    /// none.
    pub fn back(&mut self) -> Option<TimeRange> {
        self.ranges.pop_back()
    }

    /// Forgets every range.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// How many ranges there are to go back through.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there is nowhere to go back to.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// `range` zoomed out at `now_ms`: twice the span, as the module says.
/// A span already at [`MAX_SPAN_MS`] stays as it is.
pub fn zoom_out(range: TimeRange, now_ms: i64) -> TimeRange {
    match range {
        TimeRange::Live { span_ms } => {
            let doubled = span_ms.saturating_mul(2).min(LIVE_ZOOM_OUT_LIMIT_MS);
            TimeRange::Live {
                span_ms: doubled.max(span_ms),
            }
        }
        TimeRange::Fixed { from, to } => {
            // Wide enough that no pair of i64 overflows.
            let (from, to, now) = (i128::from(from), i128::from(to), i128::from(now_ms));
            let span = (to - from).max(1);
            let doubled = (span * 2).min(i128::from(MAX_SPAN_MS)).max(span);
            let centre = from + span / 2;
            let latest_end = now.max(to);
            let end = (centre - doubled / 2 + doubled).min(latest_end);
            let clamp = |ms: i128| {
                i64::try_from(ms.clamp(i128::from(MIN_TIME_MS), i128::from(MAX_TIME_MS)))
                    .expect("clamped to the years 0000 to 9999, which fit an i64")
            };
            TimeRange::Fixed {
                from: clamp(end - doubled),
                to: clamp(end),
            }
        }
    }
}

/// The fixed range a drag from `a` to `b` selects, in either direction;
/// `None` when it is narrower than [`MIN_ZOOM_MS`] (not a zoom) or is not
/// a valid range (wider than [`MAX_SPAN_MS`], outside the years 0000 to
/// 9999).
pub fn zoom_to(a: i64, b: i64) -> Option<TimeRange> {
    let (from, to) = (a.min(b), a.max(b));
    if to.abs_diff(from) < MIN_ZOOM_MS.unsigned_abs() {
        return None;
    }
    TimeRange::fixed(from, to).ok()
}

/// The window after a touch gesture on a plot `width` pixels wide, given
/// the window `from..to` and the fingers' positions (pixels from the
/// plot's left) when the gesture began, and where those fingers are now.
/// One finger pans: the time under it stays under it. Two fingers pinch:
/// the times under both stay under them, so spreading them zooms in and
/// moving them together pans. The span stays within [`MIN_ZOOM_MS`] and
/// [`MAX_SPAN_MS`](super::MAX_SPAN_MS); `None` when there is nothing to do
/// (no fingers, fingers too close to tell apart, a plot without width).
pub fn gesture_window(
    (from, to): (i64, i64),
    start: &[f64],
    now: &[f64],
    width: f64,
) -> Option<(i64, i64)> {
    if width < 1.0 || !start.iter().chain(now).all(|x| x.is_finite()) {
        return None;
    }
    let span = (to - from) as f64;
    let time_at = |x: f64| from as f64 + x / width * span;
    let (from, span) = match (start, now) {
        ([a], [a_now]) => (from as f64 - (a_now - a) / width * span, span),
        ([a, b, ..], [a_now, b_now, ..]) => {
            let (apart, apart_before) = (b_now - a_now, b - a);
            // Too close to tell apart, or crossed over: nothing to read.
            if apart.abs() < 10.0 || apart_before.abs() < 10.0 || apart * apart_before < 0.0 {
                return None;
            }
            let (ta, tb) = (time_at(*a), time_at(*b));
            let span =
                ((tb - ta) * width / apart).clamp(MIN_ZOOM_MS as f64, super::MAX_SPAN_MS as f64);
            // The time between the fingers stays between them.
            let middle = (a_now + b_now) / 2.0 / width;
            ((ta + tb) / 2.0 - middle * span, span)
        }
        _ => return None,
    };
    let from = from.round() as i64;
    Some((from, from + span.round() as i64))
}
