//! Per-pixel-column reduction of a time series, the method uPlot uses.
//!
//! Time is cut into columns of `column_ms` milliseconds, one per pixel
//! column of the chart. Each column keeps the first, lowest, highest and last
//! of its points and how many there were, so a million points in a
//! thousand-pixel chart become a thousand [`Column`]s and at most four
//! thousand vertices, and a one-sample spike still reaches the column's
//! highest (or lowest) vertex.
//!
//! Column boundaries are multiples of `column_ms` counted from the Unix
//! epoch, not from the left edge of the chart: column `n` holds the times
//! `n * column_ms .. (n + 1) * column_ms`. A window that scrolls with live
//! time therefore never re-cuts the columns it keeps, so the drawn shape
//! does not shimmer as points arrive, and scrolling is dropping columns off
//! the left ([`Reduction::shift_to`]) while new points are folded into the
//! rightmost one ([`Reduction::append`]), both O(1) per call (amortised).
//!
//! A non-finite value is a gap marker: the line must break there. A column
//! records whether a marker came before its first point, after its last, or
//! between two of its points; [`Reduction::path`] breaks the line at the
//! first two. A gap between two points of the same column is narrower than
//! a pixel and is not drawn, only recorded.
//!
//! The incremental operations accept only what they can take in O(1):
//! points in time order and forward shifts. Anything else is refused with an
//! [`UpdateError`], and the caller rebuilds with [`Reduction::from_points`].

use std::collections::VecDeque;

use thiserror::Error;

/// One point of a series: a time in Unix milliseconds and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Unix milliseconds.
    pub ts: i64,
    /// The value at `ts`.
    pub value: f64,
}

/// What a column's finite points amount to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The earliest point of the column.
    pub first: Sample,
    /// The lowest point; the earliest of them when several are equal.
    pub min: Sample,
    /// The highest point; the earliest of them when several are equal.
    pub max: Sample,
    /// The latest point of the column.
    pub last: Sample,
    /// How many finite points the column holds.
    pub count: usize,
}

impl Summary {
    /// A column of one point.
    fn of(sample: Sample) -> Self {
        Summary {
            first: sample,
            min: sample,
            max: sample,
            last: sample,
            count: 1,
        }
    }

    /// Takes in a finite point later than the column's others.
    #[inline(always)]
    fn add(&mut self, sample: Sample) {
        if sample.value < self.min.value {
            self.min = sample;
        }
        if sample.value > self.max.value {
            self.max = sample;
        }
        self.last = sample;
        self.count += 1;
    }
}

/// One pixel column's worth of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The column's number counted from the epoch: it holds the times
    /// `index * column_ms .. (index + 1) * column_ms`.
    pub index: i64,
    /// The column's finite points; `None` when it holds only gap markers.
    pub summary: Option<Summary>,
    /// A gap marker came before the column's first finite point (always so
    /// for a column of gap markers only): the line breaks on its left.
    pub gap_before: bool,
    /// A gap marker came between two finite points of the column.
    pub gap_within: bool,
    /// A gap marker came after the column's last finite point: the line
    /// breaks on its right.
    pub gap_after: bool,
}

impl Column {
    fn empty(index: i64) -> Self {
        Self {
            index,
            summary: None,
            gap_before: false,
            gap_within: false,
            gap_after: false,
        }
    }

    /// Whether any gap marker fell in this column.
    pub fn has_gap(&self) -> bool {
        self.gap_before || self.gap_within || self.gap_after
    }

    /// The vertices that draw this column: first, then the lowest and the
    /// highest in the order they occurred, then last, each once (a flat
    /// column is its first and last; a single point is one vertex).
    pub fn vertices(&self) -> impl Iterator<Item = Sample> {
        let mut out = [Sample { ts: 0, value: 0.0 }; 4];
        let mut len = 0;
        if let Some(s) = &self.summary {
            let (early, late) = if s.max.ts < s.min.ts {
                (s.max, s.min)
            } else {
                (s.min, s.max)
            };
            for vertex in [s.first, early, late, s.last] {
                if len == 0 || out[len - 1] != vertex {
                    out[len] = vertex;
                    len += 1;
                }
            }
        }
        out.into_iter().take(len)
    }

    fn absorb(&mut self, ts: i64, value: f64) {
        if !value.is_finite() {
            match self.summary {
                None => self.gap_before = true,
                Some(_) => self.gap_after = true,
            }
            return;
        }
        let sample = Sample { ts, value };
        match &mut self.summary {
            None => self.summary = Some(Summary::of(sample)),
            Some(summary) => {
                if self.gap_after {
                    self.gap_after = false;
                    self.gap_within = true;
                }
                summary.add(sample);
            }
        }
    }
}

/// One step of the pen that draws a series: [`PathStep::MoveTo`] starts a
/// stretch of line (after a gap, or at the start), [`PathStep::LineTo`]
/// continues it. A stretch of a single `MoveTo` is an isolated point the
/// renderer may draw as a dot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PathStep {
    /// Lift the pen and put it down here.
    MoveTo(Sample),
    /// Draw a line from the previous vertex to here.
    LineTo(Sample),
}

/// Why an incremental update was refused; rebuild with
/// [`Reduction::from_points`] instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum UpdateError {
    /// The point is older than one already reduced.
    #[error("point at {ts} is older than the newest reduced point at {newest}")]
    OutOfOrder {
        /// The refused point's time.
        ts: i64,
        /// The newest time already reduced.
        newest: i64,
    },
    /// The point lies at or beyond the window's right edge; shift first.
    #[error("point at {ts} is at or past the window's end at {end}")]
    AfterWindow {
        /// The refused point's time.
        ts: i64,
        /// The window's exclusive end.
        end: i64,
    },
    /// The window can only move towards later times.
    #[error("cannot shift the window back from column {current} to column {requested}")]
    ShiftBackwards {
        /// The window's first column now.
        current: i64,
        /// The first column asked for.
        requested: i64,
    },
}

/// A series reduced to the pixel columns of a window of `width` columns of
/// `column_ms` each, kept up to date as points arrive and time scrolls.
#[derive(Clone, Debug, PartialEq)]
pub struct Reduction {
    column_ms: i64,
    width: usize,
    first_column: i64,
    /// Only the columns that hold something, in time order, all within
    /// `first_column .. first_column + width`.
    columns: VecDeque<Column>,
    /// The newest time reduced into `columns`; `None` when they are empty.
    newest: Option<i64>,
}

impl Reduction {
    /// An empty window of `width` columns of `column_ms` milliseconds, the
    /// first being the column that holds `from` (so the window may start up
    /// to `column_ms - 1` before `from`). `width` and `column_ms` are at
    /// least 1.
    pub fn new(from: i64, width: usize, column_ms: i64) -> Self {
        let column_ms = column_ms.max(1);
        Self {
            column_ms,
            width: width.max(1),
            first_column: from.div_euclid(column_ms),
            columns: VecDeque::new(),
            newest: None,
        }
    }

    /// The window [`Reduction::new`] describes, filled from `points`, which
    /// must be sorted by time. Points outside the window are skipped, and so
    /// is a point older than one before it.
    pub fn from_points(points: &[(i64, f64)], from: i64, width: usize, column_ms: i64) -> Self {
        let mut reduction = Self::new(from, width, column_ms);
        let (start, end) = reduction.window();
        let skip = points.partition_point(|&(ts, _)| ts < start);
        for &(ts, value) in &points[skip..] {
            if ts >= end {
                break;
            }
            if reduction.newest.is_some_and(|newest| ts < newest) {
                continue;
            }
            reduction.absorb(ts, value);
        }
        reduction
    }

    /// The same as [`Reduction::from_points`] over the points with a gap
    /// marker (a NaN at one past the earlier point) wherever two
    /// neighbours are more than `gap_ms` apart, read in place: no copy of
    /// the points, no second pass to look for gaps. `points` is sorted by
    /// time and may start anywhere before the window (from the point just
    /// before it, a gap into the window is still seen; the window starts
    /// at the column holding `from`, up to a column before it).
    pub fn from_iter(
        points: impl IntoIterator<Item = (i64, f64)>,
        gap_ms: Option<i64>,
        from: i64,
        width: usize,
        column_ms: i64,
    ) -> Self {
        let mut reducer = Reducer::new(gap_ms, from, width, column_ms);
        for (ts, value) in points {
            if !reducer.push(ts, value) {
                break;
            }
        }
        reducer.finish()
    }

    /// Folds in a point no older than those already in, in O(1). A point
    /// before the window is invisible and ignored. A non-finite `value` is a
    /// gap marker.
    ///
    /// # Errors
    ///
    /// [`UpdateError::OutOfOrder`] for a point older than the newest one
    /// reduced, [`UpdateError::AfterWindow`] for one past the right edge
    /// (shift the window, then append again).
    pub fn append(&mut self, ts: i64, value: f64) -> Result<(), UpdateError> {
        let (start, end) = self.window();
        if ts < start {
            return Ok(());
        }
        if ts >= end {
            return Err(UpdateError::AfterWindow { ts, end });
        }
        if let Some(newest) = self.newest.filter(|&newest| ts < newest) {
            return Err(UpdateError::OutOfOrder { ts, newest });
        }
        self.absorb(ts, value);
        Ok(())
    }

    /// Moves the window so that its first column is the one holding `from`,
    /// dropping the columns that fall off the left; the others are kept as
    /// they are. A live chart that wants time `now` in its last column
    /// shifts to `now - (width - 1) * column_ms`.
    ///
    /// # Errors
    ///
    /// [`UpdateError::ShiftBackwards`] when `from` is in a column left of
    /// the window's first: the columns there were never reduced.
    pub fn shift_to(&mut self, from: i64) -> Result<(), UpdateError> {
        let requested = from.div_euclid(self.column_ms);
        if requested < self.first_column {
            return Err(UpdateError::ShiftBackwards {
                current: self.first_column,
                requested,
            });
        }
        self.first_column = requested;
        while self
            .columns
            .front()
            .is_some_and(|column| column.index < requested)
        {
            self.columns.pop_front();
        }
        if self.columns.is_empty() {
            self.newest = None;
        }
        Ok(())
    }

    /// The times the window covers, `start..end` in Unix milliseconds, both
    /// multiples of the column width: the x scale that puts one column on
    /// one pixel.
    pub fn window(&self) -> (i64, i64) {
        let start = self.first_column.saturating_mul(self.column_ms);
        let span = i64::try_from(self.width)
            .unwrap_or(i64::MAX)
            .saturating_mul(self.column_ms);
        (start, start.saturating_add(span))
    }

    /// The width of one column in milliseconds.
    pub fn column_ms(&self) -> i64 {
        self.column_ms
    }

    /// The number of columns in the window.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The columns that hold a point or a gap marker, in time order (empty
    /// columns are left out).
    pub fn columns(&self) -> impl ExactSizeIterator<Item = &Column> {
        self.columns.iter()
    }

    /// The pen's path through every column's [`Column::vertices`], lifted
    /// at each gap; at most four steps per column. Columns without points
    /// are bridged: only gap markers break the line.
    pub fn path(&self) -> Vec<PathStep> {
        let mut steps = Vec::with_capacity(self.columns.len() * 2);
        self.trace(false, &mut |step| steps.push(step));
        steps
    }

    /// [`Reduction::path`] a step at a time, handed to `visit` in order,
    /// with no list built: what a frame draws from. `stepped`: each value
    /// holds until the next vertex's time, then the line rises or falls to
    /// it (an extra step at that time with the held value). `visit` is
    /// `dyn`: one copy in the WASM bundle whatever the visitor (a call per
    /// vertex costs nothing beside drawing it).
    pub fn trace(&self, stepped: bool, visit: &mut dyn FnMut(PathStep)) {
        let mut pen_up = true;
        let mut held = 0.0;
        for column in &self.columns {
            pen_up |= column.gap_before;
            for vertex in column.vertices() {
                if pen_up {
                    visit(PathStep::MoveTo(vertex));
                } else {
                    if stepped {
                        visit(PathStep::LineTo(Sample {
                            ts: vertex.ts,
                            value: held,
                        }));
                    }
                    visit(PathStep::LineTo(vertex));
                }
                held = vertex.value;
                pen_up = false;
            }
            pen_up |= column.gap_after;
        }
    }

    /// Folds a point that is inside the window and no older than `newest`.
    fn absorb(&mut self, ts: i64, value: f64) {
        let index = ts.div_euclid(self.column_ms);
        if self
            .columns
            .back()
            .is_none_or(|column| column.index != index)
        {
            self.columns.push_back(Column::empty(index));
        }
        if let Some(column) = self.columns.back_mut() {
            column.absorb(ts, value);
        }
        self.newest = Some(ts);
    }
}

/// [`Reduction::from_iter`] a point at a time ([`Reducer::push`]) or a
/// run at a time ([`Reducer::push_run`]), for a caller that holds its
/// points in pieces (a ring's two slices).
#[derive(Debug)]
pub struct Reducer {
    reduction: Reduction,
    start: i64,
    end: i64,
    gap_ms: Option<i64>,
    /// The column being filled, kept out of the deque until it is done.
    current: Option<Column>,
    /// The exclusive end of `current`'s time: most points fall in the
    /// column of the one before, found by one comparison instead of a
    /// division and a look at the deque.
    current_end: i64,
    newest: i64,
    /// The previous point's time, to see gaps.
    before: Option<i64>,
    /// The newest point taken (pushed while inside or before the window):
    /// a reducer resumed later goes on from the points after it.
    taken: i64,
    /// The longest interval between neighbours not judged a gap, and the
    /// shortest judged one: another `gap_ms` between the two judges every
    /// interval seen alike ([`Reducer::set_gap`]).
    longest_kept: i64,
    shortest_broken: i64,
}

impl Reducer {
    /// An empty window as [`Reduction::new`] describes, breaking the line
    /// where two neighbours are more than `gap_ms` apart.
    pub fn new(gap_ms: Option<i64>, from: i64, width: usize, column_ms: i64) -> Self {
        let reduction = Reduction::new(from, width, column_ms);
        let (start, end) = reduction.window();
        Self {
            reduction,
            start,
            end,
            gap_ms,
            current: None,
            current_end: i64::MIN,
            newest: i64::MIN,
            before: None,
            taken: i64::MIN,
            longest_kept: i64::MIN,
            shortest_broken: i64::MAX,
        }
    }

    /// Takes the next point (in time order); `false` once the points have
    /// passed the window's end, when the caller may stop.
    pub fn push(&mut self, ts: i64, value: f64) -> bool {
        if let Some(earlier) = self.before {
            let interval = ts.saturating_sub(earlier);
            match self.gap_ms {
                Some(gap) if interval > gap => {
                    let marker = earlier.saturating_add(1);
                    if marker >= self.end {
                        return false;
                    }
                    self.shortest_broken = self.shortest_broken.min(interval);
                    self.fold(marker, f64::NAN);
                }
                _ => self.longest_kept = self.longest_kept.max(interval),
            }
        }
        self.before = Some(ts);
        if ts >= self.end {
            return false;
        }
        self.fold(ts, value);
        self.taken = self.taken.max(ts);
        true
    }

    fn fold(&mut self, ts: i64, value: f64) {
        if ts < self.start || ts < self.newest {
            return;
        }
        self.newest = ts;
        if ts >= self.current_end {
            self.open(ts);
        }
        if let Some(column) = &mut self.current {
            column.absorb(ts, value);
        }
    }

    /// Starts the column holding `ts`, the one before it done; after
    /// [`Reducer::reduction`], takes that column back when `ts` is in it.
    fn open(&mut self, ts: i64) {
        let column_ms = self.reduction.column_ms;
        let index = ts.div_euclid(column_ms);
        self.current_end = index.saturating_add(1).saturating_mul(column_ms);
        let column = match self.reduction.columns.back() {
            Some(last) if self.current.is_none() && last.index == index => {
                self.reduction.columns.pop_back()
            }
            _ => None,
        };
        if let Some(done) = self
            .current
            .replace(column.unwrap_or_else(|| Column::empty(index)))
        {
            self.reduction.columns.push_back(done);
        }
    }

    /// Takes a run of points in time order, each read by `at`, as
    /// [`Reducer::push`] would one by one; `false` once past the window.
    /// Points in order with no gap (most of them) are folded in a loop
    /// that keeps the column being filled in locals, and closes it and
    /// opens the next where a point passes its end: a few comparisons a
    /// point, no call.
    pub fn push_run<P>(&mut self, points: &[P], at: impl Fn(&P) -> (i64, f64)) -> bool {
        let mut i = 0;
        while i < points.len() {
            if let Some(Column {
                summary: Some(summary),
                gap_after: false,
                ..
            }) = self.current
            {
                // The column being filled, in locals; a point past it
                // closes it and opens the next one here too.
                let Some(mut column) = self.current.take() else {
                    break;
                };
                let column_ms = self.reduction.column_ms;
                let window_end = self.end;
                let gap = self.gap_ms.unwrap_or(i64::MAX);
                let mut column_end = self.current_end;
                let mut newest = self.newest;
                let mut before = self.before.unwrap_or(newest);
                let mut longest = self.longest_kept;
                let run_start = i;
                let mut summary = summary;
                while let Some(point) = points.get(i) {
                    // The points inside the column: the tightest loop.
                    let end = column_end.min(window_end);
                    let (mut ts, mut value) = at(point);
                    while ts < end
                        && ts >= newest
                        && ts.saturating_sub(before) <= gap
                        && value.is_finite()
                    {
                        longest = longest.max(ts.saturating_sub(before));
                        summary.add(Sample { ts, value });
                        newest = ts;
                        before = ts;
                        i += 1;
                        let Some(point) = points.get(i) else {
                            break;
                        };
                        (ts, value) = at(point);
                    }
                    // A point past the column that needs nothing else
                    // opens the next column; anything more is for `push`.
                    let interval = ts.saturating_sub(before);
                    if i == points.len()
                        || ts < column_end
                        || ts >= window_end
                        || ts < newest
                        || interval > gap
                        || !value.is_finite()
                    {
                        break;
                    }
                    longest = longest.max(interval);
                    column.summary = Some(summary);
                    let index = ts.div_euclid(column_ms);
                    column_end = index.saturating_add(1).saturating_mul(column_ms);
                    self.reduction
                        .columns
                        .push_back(std::mem::replace(&mut column, Column::empty(index)));
                    summary = Summary::of(Sample { ts, value });
                    newest = ts;
                    before = ts;
                    i += 1;
                }
                column.summary = Some(summary);
                self.current = Some(column);
                self.current_end = column_end;
                self.newest = newest;
                self.before = Some(before);
                self.longest_kept = longest;
                if i > run_start {
                    self.taken = self.taken.max(before);
                }
            }
            // Anything else (the first point, a gap, a marker, disorder, the
            // window's end) one point at a time.
            let Some(point) = points.get(i) else {
                break;
            };
            let (ts, value) = at(point);
            if !self.push(ts, value) {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The reduction of the points taken.
    pub fn finish(mut self) -> Reduction {
        self.flush();
        self.reduction
    }

    /// The reduction of the points taken so far; more may be pushed after.
    pub fn reduction(&mut self) -> &Reduction {
        self.flush();
        &self.reduction
    }

    /// Puts the column being filled into the reduction; the next point
    /// takes it back out if it belongs there ([`Reducer::open`]).
    fn flush(&mut self) {
        if let Some(done) = self.current.take() {
            self.reduction.columns.push_back(done);
            self.reduction.newest = Some(self.newest);
        }
        self.current_end = i64::MIN;
    }

    /// Moves the window forward as [`Reduction::shift_to`] does; the
    /// points pushed next continue where the earlier ones stopped.
    ///
    /// # Errors
    ///
    /// [`UpdateError::ShiftBackwards`], as [`Reduction::shift_to`].
    pub fn shift_to(&mut self, from: i64) -> Result<(), UpdateError> {
        self.flush();
        self.reduction.shift_to(from)?;
        (self.start, self.end) = self.reduction.window();
        Ok(())
    }

    /// Reduces again, from `points` (the line as it is now, all of it from
    /// the window's start on, oldest first, read by `at`), the columns up
    /// to the one holding its oldest point: the point or points before it
    /// were dropped, so those columns hold less (and the oldest point no
    /// gap before it). The columns after are made of points still there.
    /// Call it once every point inside the window has been pushed.
    pub fn redo_front<P>(&mut self, points: [&[P]; 2], at: impl Fn(&P) -> (i64, f64)) {
        self.flush();
        let Some(oldest) = points.iter().find_map(|part| part.first()) else {
            return;
        };
        let column_ms = self.reduction.column_ms;
        let stale = at(oldest).0.div_euclid(column_ms).saturating_add(1);
        let mut front = Reducer::new(self.gap_ms, self.start, self.reduction.width, column_ms);
        // Up to the first point past those columns: the gap before it, if
        // any, is marked in the last of them.
        'points: for part in points {
            for point in part {
                let (ts, value) = at(point);
                if !front.push(ts, value) || ts.div_euclid(column_ms) >= stale {
                    break 'points;
                }
            }
        }
        let columns = &mut self.reduction.columns;
        while columns.front().is_some_and(|column| column.index < stale) {
            columns.pop_front();
        }
        for column in front.finish().columns.into_iter().rev() {
            if column.index < stale {
                columns.push_front(column);
            }
        }
        if columns.is_empty() {
            self.reduction.newest = None;
        }
    }

    /// Judges gaps by `gap_ms` from now on, if that judges every interval
    /// seen so far as the current setting did (so the columns reduced
    /// stand); `false`, changing nothing, when it would not.
    pub fn set_gap(&mut self, gap_ms: Option<i64>) -> bool {
        let gap = gap_ms.unwrap_or(i64::MAX);
        if self.longest_kept > gap || self.shortest_broken <= gap {
            return false;
        }
        self.gap_ms = gap_ms;
        true
    }

    /// The newest time taken: resume with the points after it.
    pub fn taken(&self) -> i64 {
        self.taken
    }

    /// The window's times, as [`Reduction::window`].
    pub fn window(&self) -> (i64, i64) {
        (self.start, self.end)
    }

    /// The column width in milliseconds.
    pub fn column_ms(&self) -> i64 {
        self.reduction.column_ms
    }

    /// The number of columns.
    pub fn width(&self) -> usize {
        self.reduction.width
    }
}

/// The column width in milliseconds that fits `span_ms` into `width` pixel
/// columns: `span_ms / width` rounded up, at least 1.
pub fn column_ms_for(span_ms: i64, width: usize) -> i64 {
    let width = i64::try_from(width.max(1)).unwrap_or(i64::MAX);
    let span_ms = span_ms.max(1);
    (span_ms / width + i64::from(span_ms % width != 0)).max(1)
}

#[cfg(test)]
pub(super) mod tests;
