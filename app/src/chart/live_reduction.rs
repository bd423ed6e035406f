//! A line's per-pixel reduction kept from one frame to the next.
//!
//! A live chart's lines only grow between frames: a point or a few arrive,
//! the oldest drop off, the window slides right. Reducing every point of
//! the window again each frame costs what the line holds (about 7 ms for a
//! million points); a [`LiveReduction`] instead drops the columns that slid
//! off the left and folds in only the points that arrived since, so a frame
//! costs what arrived. Points that dropped off the line's old end inside
//! the window are taken out by reducing again the columns they were in (at
//! a live chart's left edge, one column). Whenever going on could give a
//! picture other than a reduction from scratch would (the line was replaced
//! or changed in place, the window moved back or changed its columns, the
//! gap spacing changed enough to judge a neighbour differently), it reduces
//! from scratch instead. Either way the result is exactly
//! [`LiveReduction::new`]'s.

use super::{Line, LinePoint, Reducer, Reduction};

/// One line's reduction, brought up to date each frame with
/// [`LiveReduction::update`].
#[derive(Debug)]
pub struct LiveReduction {
    /// The [`Line::id`] reduced.
    line: u64,
    /// That line's oldest point when it was last read.
    oldest: Option<i64>,
    reducer: Reducer,
}

/// What a frame reduces a line to: `width` columns of `column_ms` from the
/// column holding `from`, the line broken where neighbours are more than
/// `gap_ms` apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceTo {
    /// The widest spacing the line is drawn across; `None` joins every
    /// neighbour.
    pub gap_ms: Option<i64>,
    /// A time in the window's first column.
    pub from: i64,
    /// The number of columns.
    pub width: usize,
    /// The time one column covers.
    pub column_ms: i64,
}

impl LiveReduction {
    /// `line` reduced as `to` says.
    pub fn new(line: &Line, to: ReduceTo) -> Self {
        let mut reducer = Reducer::new(to.gap_ms, to.from, to.width, to.column_ms);
        // The window starts at the column holding `from`: from the point
        // before that column on, so a gap into the window is seen.
        push(
            &mut reducer,
            line.slices_near(to.from.saturating_sub(to.column_ms)),
        );
        Self {
            line: line.id(),
            oldest: line.oldest_ts(),
            reducer,
        }
    }

    /// Makes this what [`LiveReduction::new`] would make of the same
    /// arguments: by folding in only the points newer than those already
    /// in when that gives the same result, otherwise from scratch. Returns
    /// whether it went on from the last frame.
    pub fn update(&mut self, line: &Line, to: ReduceTo) -> bool {
        let resumed = self.resume(line, to);
        if !resumed {
            *self = Self::new(line, to);
        }
        resumed
    }

    /// The reduction as of the last [`LiveReduction::update`].
    pub fn reduction(&mut self) -> &Reduction {
        self.reducer.reduction()
    }

    /// The [`Line::id`] of the line reduced.
    pub fn line(&self) -> u64 {
        self.line
    }

    fn resume(&mut self, line: &Line, to: ReduceTo) -> bool {
        let column_ms = to.column_ms.max(1);
        let start = to.from.div_euclid(column_ms).saturating_mul(column_ms);
        if line.id() != self.line
            || self.reducer.column_ms() != column_ms
            || self.reducer.width() != to.width.max(1)
            || start < self.reducer.window().0
            || !self.reducer.set_gap(to.gap_ms)
            || self.reducer.shift_to(to.from).is_err()
        {
            return false;
        }
        let taken = self.reducer.taken();
        push(&mut self.reducer, line.slices_after(taken));
        // Points dropped off the line's old end (its span or its capacity)
        // change the columns they were in, when those are in the window
        // (a live line drops them from the first column, at every frame).
        let oldest = line.oldest_ts();
        if oldest != self.oldest && oldest.is_some_and(|t| t >= start) {
            self.reducer
                .redo_front(line.slices_after(i64::MIN), LinePoint::pair);
        }
        self.oldest = oldest;
        true
    }
}

/// Feeds the ring's slices to `reducer` until the points pass its window.
fn push(reducer: &mut Reducer, slices: [&[LinePoint]; 2]) {
    for part in slices {
        if !reducer.push_run(part, LinePoint::pair) {
            break;
        }
    }
}

#[cfg(test)]
mod tests;
