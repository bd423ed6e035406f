//! The dashboard's widgets. Each reads only the memos it shows from the
//! [`LiveStore`](crate::ui::LiveStore) in context, so it re-renders only when
//! its own data changes; each shows how often it did in `data-renders`.
//!
//! [`TimeSeriesChart`] is every chart of the page (history joined to live,
//! legend, tooltip, shared crosshair, drag to zoom, table view);
//! [`ValueCard`] every stat, gauge, bar, table and text widget;
//! [`StatusBoard`] and [`ActivityFeed`] show the page's own channel, each
//! in a [`PanelRow`] that can hide it; [`TimePicker`] sets the page's time
//! range.

mod activity_feed;
mod chart;
mod connection_status;
mod panel_row;
mod status_board;
mod time_picker;
mod values;

pub use activity_feed::ActivityFeed;
#[cfg(feature = "hydrate")]
pub(crate) use chart::install_annotations;
#[cfg(feature = "hydrate")]
#[doc(hidden)]
pub use chart::{bench_draw, frames_held};
pub use chart::{ChartQuery, ChartSpec, TimeSeriesChart};
pub use connection_status::ConnectionStatus;
pub use panel_row::PanelRow;
pub use status_board::StatusBoard;
pub use time_picker::TimePicker;
pub use values::{spec_of, ValueCard};

use leptos::prelude::*;

/// A render counter: `track` returns a closure for a `data-renders`
/// attribute that re-runs (and counts) whenever `source` changes. It runs
/// exactly as often as the widget's own rendering of `source`.
pub(crate) fn render_count(
    source: impl Track + Clone + Send + Sync + 'static,
) -> impl Fn() -> u32 + Send + Sync + 'static {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    move || {
        source.track();
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }
}
