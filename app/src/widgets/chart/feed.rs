//! A widget's series, history joined to live: what every widget that
//! reads series is drawn from (the chart, and the stat, gauge, bar and
//! table widgets of a dashboard).
//!
//! The lines start from what the server rendered (`initial`), follow
//! exactly their series on the live `series` channel (the store calls the
//! sink once per frame), and are read again from the query API whenever
//! the page's range changes or it may have missed points
//! (`history::install`). Counters (a query's `rate`) arrive raw and are
//! turned into per-second rates as they come ([`Rates`]), matching the
//! history the query API answers with `rate=true`.

use std::collections::VecDeque;

use leptos::prelude::*;

use super::{
    browser_now, keep_recent, lines_from, ChartLines, ChartSpec, QuerySeries, RecentSample,
};
use crate::{
    chart::Rates,
    protocol::SeriesPoints,
    ui::{LiveStore, TimeControl},
};

/// A widget's lines and what went wrong reading them.
pub struct Feed {
    /// The series, by key; written at most once per frame, and only when
    /// a point was added.
    pub lines: RwSignal<ChartLines>,
    /// Why history could not be read (`None`: it could).
    pub status: RwSignal<Option<String>>,
}

/// Follows `spec`'s series for as long as the calling widget lives,
/// starting from `initial` (each query's series as the server rendered
/// them). `canvas` is the chart's: history is read at its width (without
/// one, at a sparkline's resolution).
pub fn follow(
    spec: StoredValue<ChartSpec>,
    initial: &[Vec<SeriesPoints>],
    canvas: Option<NodeRef<leptos::html::Canvas>>,
) -> Feed {
    let store = expect_context::<LiveStore>();
    let time = expect_context::<TimeControl>();
    let span = time.range.get_untracked().span_ms();
    let groups: Vec<QuerySeries<'_>> = initial.iter().map(|s| (s.as_slice(), None)).collect();
    let lines = RwSignal::new(spec.with_value(|spec| lines_from(spec, &groups, span)));
    let status = RwSignal::new(None::<String>);
    // Live samples of the last minutes, to replay over a new answer.
    let recent = StoredValue::new_local(VecDeque::<RecentSample>::new());
    let rates = StoredValue::new(Rates::default());

    let follower = store.add_follower(std::rc::Rc::new(move |frame| {
        let mut seen = Vec::new();
        // Subscribers (the drawing, the legend) hear of it only when a
        // point was added: a frame without this widget's series redraws
        // nothing.
        lines.maybe_update(|lines| {
            let mut changed = false;
            for (key, points) in frame {
                let Some(chart_line) = lines.get_mut(key) else {
                    continue;
                };
                let rated;
                let points = if chart_line.rate {
                    rated = rates
                        .try_update_value(|rates| rates.of(key, points))
                        .unwrap_or_default();
                    &rated
                } else {
                    points
                };
                let shared: std::rc::Rc<str> = key.as_str().into();
                for &(ts, value) in points {
                    changed |= chart_line.line.push(ts, value);
                    seen.push((shared.clone(), ts, value));
                }
            }
            changed
        });
        if let Some(&(_, ts, _)) = seen.iter().max_by_key(|(_, ts, _)| *ts) {
            time.saw_point(ts, browser_now());
        }
        recent.update_value(|recent| keep_recent(recent, seen));
    }));
    store.follow(
        follower,
        lines.with_untracked(|l| l.keys().cloned().collect()),
    );

    #[cfg(feature = "hydrate")]
    super::history::install(super::history::Fetcher {
        spec,
        lines,
        recent,
        status,
        canvas,
        follower,
        store,
        clock: time.view(),
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = canvas;

    Feed { lines, status }
}
