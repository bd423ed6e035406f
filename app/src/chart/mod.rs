//! The pure core of a time-series chart: what to draw, where the ticks go
//! and how their numbers read. No canvas here; plain Rust, tested natively,
//! so the hydrated widget only maps these results to pixels.
//!
//! The picture, from data to screen:
//!
//! - [`Reduction`] cuts time into one column per pixel and keeps, for each
//!   column, its first, lowest, highest and last point (the method uPlot
//!   uses). Redrawing then costs what the chart is wide, not how many points
//!   it holds: a day of one-second samples in an 800-pixel chart is at most
//!   3,200 vertices. And because every column keeps its extremes, a spike of
//!   a single sample among a million still reaches the screen, which
//!   averaging or picking every n-th point would lose. Columns are aligned
//!   to the epoch, so a live chart appends into the last column and drops
//!   columns off the left without the shape shifting under the viewer.
//! - [`time_ticks`] and [`value_ticks`] / [`log_ticks`] choose ticks a person
//!   can read at any zoom: round steps of time in the viewer's local time,
//!   round numbers on the value axis.
//! - [`Unit`] says what the values measure; [`format_value`] writes one
//!   value short (`1.2 GiB`, `250 ms`), [`value_axis`] and [`format_ticks`]
//!   label an axis on one shared scale (`0, 0.5 GiB, 1 GiB`).
//! - [`Line`] joins a series' history to its live points with no gap and no
//!   repeat, in the history's own buckets; [`LiveReduction`] keeps a line's
//!   reduction from frame to frame, folding in only the points that arrived.
//! - [`TimeRange`] is what the page shows (live or fixed), as it lives in
//!   the URL; [`ZoomStack`] is the way back.
//! - [`stats`], [`Visibility`] and [`tooltip_rows`] are what the legend and
//!   the tooltip say; [`sort_rows`] orders the legend table.
//! - [`ChartStyle`] says how series are drawn (lines, points or bars,
//!   straight or stepped, filled, gaps left or joined); [`Threshold`]s are
//!   levels the value axis always reaches.
//! - [`sparkline_path`] and [`percent_change`] are a stat widget's
//!   picture and trend.
//! - [`Rates`] reads counters as per-second rates as their points arrive.
//! - [`Stacking`]: series drawn on top of each other, or as shares of
//!   100%, summed per pixel column ([`stack`]).

mod annotations;
mod legend;
mod line;
mod live_reduction;
mod range;
mod rate;
mod reduce;
mod sort;
mod sparkline;
mod stack;
mod style;
mod ticks;
mod units;

pub use annotations::{marks, near, AnnotationSet, Mark, MAX_HELD};
pub use legend::{
    nearest, sort_rows, stats, tooltip_rows, LegendOrder, LegendRow, LegendSort, SeriesStats,
    TooltipMode, TooltipRow, TooltipSeries, Visibility,
};
pub use line::{Line, LinePoint};
pub use live_reduction::{LiveReduction, ReduceTo};
pub use range::{
    format_duration, format_time, gesture_window, parse_duration, parse_time, zoom_out, zoom_to,
    Preset, RangeError, TimePoint, TimeRange, ZoomStack, FROM_KEY, MAX_SPAN_MS, MAX_TIME_MS,
    MIN_TIME_MS, MIN_ZOOM_MS, PRESETS, QUERY_KEYS, RANGE_KEY, TO_KEY, ZOOM_HISTORY_LIMIT,
};
pub use rate::Rates;

pub use reduce::{
    column_ms_for, Column, PathStep, Reducer, Reduction, Sample, Summary, UpdateError,
};
pub use sort::{sort_stable, sorted_order};
pub use sparkline::{percent_change, sparkline_path};
pub use stack::{column_values, stack, Stacking};
pub use style::{
    bar_base, gap_after, mark_gaps, with_thresholds, ChartStyle, Draw, Interpolation, Level,
    Threshold,
};
pub use ticks::{
    label_anchor, log_ticks, tick_target, time_ticks, value_ticks, LabelAnchor, TimeTick,
    TICK_SPACING_PX,
};
pub use units::{format_ticks, format_value, value_axis, AxisTick, Unit};
