//! The time-series chart every chart widget uses: several series from one
//! or more selectors, history from the query API joined to live points, a legend
//! that isolates and toggles series, a tooltip, the page's shared
//! crosshair, and drag to zoom.
//!
//! Data flow: the chart reads its window from `GET /api/series` at the
//! resolution its width needs (`max_points`), then follows exactly the
//! series that answered on the live `series` channel (the store calls its
//! sink once per frame). Each series is a [`Line`]: history, then live,
//! with no gap and no repeat. It fetches again whenever the page's range
//! changes (not when a live range merely scrolls), and keeps the live
//! samples of the last minutes so a fetch that races live points loses
//! none of them.
//!
//! Drawing happens in one effect that reads exactly what it draws (the
//! lines, the window, the visible series, the crosshair, a drag), so it
//! runs at most once per animation frame: the store applies live points
//! once per frame. The canvas is drawn only while it is on screen (an
//! `IntersectionObserver`), unless the page is in kiosk mode (`?kiosk`).
//! Series are drawn as the spec's [`ChartStyle`] says, with its
//! thresholds always in view.

#[cfg(feature = "hydrate")]
mod draw;
#[cfg(feature = "hydrate")]
mod extras;
pub(crate) mod feed;
#[cfg(feature = "hydrate")]
mod history;
#[cfg(feature = "hydrate")]
mod painters;
#[cfg(feature = "hydrate")]
pub(crate) use history::install_annotations;

/// Draws `lines` on `canvas` over `from..=to` as the page would, for the
/// in-browser redraw benchmark (`app/tests/chart_bench.rs`); not used by
/// the page. `kept` carries the lines' reductions from one call to the
/// next, as the page's frames do; an empty one draws from scratch.
#[cfg(feature = "hydrate")]
#[doc(hidden)]
pub fn bench_draw(
    canvas: &web_sys::HtmlCanvasElement,
    lines: &[Line],
    from: i64,
    to: i64,
    kept: &mut Vec<crate::chart::LiveReduction>,
) -> Result<(), String> {
    let scene = draw::Scene {
        lines: lines
            .iter()
            .enumerate()
            .map(|(colour, line)| draw::Drawn { line, colour })
            .collect(),
        from,
        to,
        unit: Unit::Percent,
        soft_min: None,
        soft_max: None,
        crosshair: None,
        selection: None,
        utc_offset_minutes: 0,
        style: ChartStyle::default(),
        thresholds: &[],
        marks: &[],
    };
    draw::draw(canvas, &scene, kept).map(|_| ())
}

/// How many canvases' last frames are held (their layout and their lines'
/// reductions), for the memory test (`app/tests/memory.rs`); not used by
/// the page.
#[cfg(feature = "hydrate")]
#[doc(hidden)]
pub fn frames_held() -> usize {
    browser::frames_held()
}

use std::collections::VecDeque;

use leptos::prelude::*;

use crate::{
    chart::{
        format_value, sort_stable, stats, tooltip_rows, ChartStyle, Line, LinePoint, Stacking,
        Threshold, TimeRange, TooltipMode, TooltipSeries, Unit, Visibility,
    },
    protocol::SeriesKey,
    ui::{LiveStore, TimeControl},
    widgets::render_count,
};

/// Live samples a chart keeps to replay over a fresh history answer: at
/// most this many...
const REPLAY_SAMPLES: usize = 10_000;
/// ...and only those of the last two minutes (a history read takes
/// seconds; a page left open must not hold hours of samples it will never
/// replay).
const REPLAY_MS: i64 = 120_000;
/// The most points one line holds, whatever the range.
const LINE_CAPACITY: usize = 20_000;

/// What a chart shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSpec {
    /// Names the chart in the page (`data-testid="<id>-chart"`).
    pub id: String,
    /// Its heading.
    pub title: String,
    /// What it reads: one query per selector, each with its own naming
    /// and rate (a series two of them match is read once, by the first).
    pub queries: Vec<ChartQuery>,
    /// What the values measure.
    pub unit: Unit,
    /// The value axis always reaches these.
    pub soft_min: Option<f64>,
    /// See `soft_min`.
    pub soft_max: Option<f64>,
    /// How the series are drawn.
    pub style: ChartStyle,
    /// Levels drawn across the chart; the value axis always reaches them.
    pub thresholds: Vec<Threshold>,
}

/// One selector of a chart and how its series are shown.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartQuery {
    /// The series, as a selector (`name{label="value"}`).
    pub selector: String,
    /// The label whose value names a series in the legend; without one,
    /// every series is called `unlabelled` (or by its whole key when that
    /// is empty).
    pub label_by: Option<String>,
    /// What a series without `label_by` is called.
    pub unlabelled: String,
    /// The series are counters, shown as per-second rates.
    pub rate: bool,
}

/// One series of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartLine {
    /// The series' key in Prometheus form.
    pub key: String,
    /// Its name in the legend.
    pub label: String,
    /// Its colour (an index into the palette).
    pub colour: usize,
    /// Its points.
    pub line: Line,
    /// It is a counter, shown as its per-second rate.
    pub rate: bool,
}

/// A series' key, label and points, as the tooltip looks them up.
type OwnedSeries = (String, String, Vec<(i64, f64)>);

/// A chart's series, in key order. A sorted `Vec`: a chart holds tens of
/// series, not thousands, and a `BTreeMap` of them would add some 8 KB of
/// WASM for no speed a person could see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartLines(Vec<ChartLine>);

impl ChartLines {
    /// The lines, sorted by key (a later line of the same key is dropped).
    pub fn new(mut lines: Vec<ChartLine>) -> Self {
        sort_stable(&mut lines, |a, b| a.key.cmp(&b.key));
        lines.dedup_by(|later, earlier| later.key == earlier.key);
        Self(lines)
    }

    /// The line of series `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut ChartLine> {
        let at = self.0.binary_search_by(|l| l.key.as_str().cmp(key)).ok()?;
        self.0.get_mut(at)
    }

    /// Keeps the raw samples `held` has past each of these lines' newest:
    /// a history answer replaces what a chart shows, but the points the
    /// page got before its live position (its server-rendered ones) and
    /// that the answer does not reach yet would never come again. Only
    /// between raw lines: a rollup bucket is not a sample to push.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn carry_over(&mut self, held: &ChartLines) {
        for line in &mut self.0 {
            let Ok(at) = held.0.binary_search_by(|l| l.key.cmp(&line.key)) else {
                continue;
            };
            let old = &held.0[at].line;
            if old.step_ms().is_some() || line.line.step_ms().is_some() {
                continue;
            }
            let newest = line.line.newest_ts().unwrap_or(i64::MIN);
            for point in old.points().filter(|p| p.ts > newest) {
                line.line.push(point.ts, point.value);
            }
        }
    }

    /// The series' keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|l| &l.key)
    }

    /// The lines, in key order.
    pub fn values(&self) -> std::slice::Iter<'_, ChartLine> {
        self.0.iter()
    }

    /// How many series there are.
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Adds a frame's live samples to those a chart keeps to replay, and
/// drops those older than [`REPLAY_MS`] before the newest, or past
/// [`REPLAY_SAMPLES`].
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
/// A live sample kept to replay: its series' key (shared by every sample
/// of the series in a frame: one allocation per key per frame, not per
/// sample; a busy page keeps tens of thousands of these), time and value.
pub type RecentSample = (std::rc::Rc<str>, i64, f64);

fn keep_recent(recent: &mut VecDeque<RecentSample>, seen: Vec<RecentSample>) {
    // The newest of this frame's samples and the last kept: no scan of
    // the whole buffer per frame.
    let newest = seen
        .iter()
        .chain(recent.back())
        .map(|(_, ts, _)| *ts)
        .max()
        .unwrap_or(i64::MIN);
    recent.extend(seen);
    while recent.len() > REPLAY_SAMPLES
        || recent
            .front()
            .is_some_and(|(_, ts, _)| *ts < newest.saturating_sub(REPLAY_MS))
    {
        recent.pop_front();
    }
    // A long run of a busy chart leaves a large buffer behind a short one.
    if recent.capacity() > 4 * recent.len().max(64) {
        recent.shrink_to_fit();
    }
}

/// The label a series is shown by.
fn label_of(query: &ChartQuery, key: &SeriesKey) -> String {
    match &query.label_by {
        Some(label) => key
            .labels
            .get(label)
            .map(|v| format!("{label} {v}"))
            .unwrap_or_else(|| query.unlabelled.clone()),
        None if !query.unlabelled.is_empty() => query.unlabelled.clone(),
        None => key.to_string(),
    }
}

/// Where a series stands in the legend: by its query, then one without
/// the naming label first (a total), then by that label's value, numbers
/// in number order (`core 2` before `core 10`).
fn legend_order(
    (at, query): (usize, &ChartQuery),
    key: &SeriesKey,
) -> (usize, bool, u64, String, String) {
    let value = query
        .label_by
        .as_ref()
        .and_then(|label| key.labels.get(label));
    let number = value
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    (
        at,
        value.is_some(),
        number,
        value.cloned().unwrap_or_default(),
        key.to_string(),
    )
}

/// One query's series as read (the bootstrap's or a history answer), and
/// the answer's rollup step (`None`: raw samples).
pub type QuerySeries<'a> = (&'a [crate::protocol::SeriesPoints], Option<i64>);

/// Lines from each query's series (`groups[i]` answers `spec.queries[i]`),
/// coloured in legend order.
pub fn lines_from(spec: &ChartSpec, groups: &[QuerySeries<'_>], span_ms: i64) -> ChartLines {
    let mut series = Vec::new();
    for (at, (&(group, step_ms), query)) in groups.iter().zip(&spec.queries).enumerate() {
        for s in group {
            series.push((legend_order((at, query), &s.key), query, s, step_ms));
        }
    }
    let mut lines = Vec::with_capacity(series.len());
    for position in crate::chart::sorted_order(series.len(), &|a, b| series[a].0.cmp(&series[b].0))
    {
        let (_, query, s, step_ms) = &series[position];
        lines.push(ChartLine {
            key: s.key.to_string(),
            label: label_of(query, &s.key),
            colour: lines.len(),
            line: Line::from_history(
                &s.points,
                s.band.as_deref(),
                *step_ms,
                span_ms,
                LINE_CAPACITY,
            ),
            rate: query.rate,
        });
    }
    ChartLines::new(lines)
}

/// The chart. `initial` holds what the server rendered it with (the
/// bootstrap's points of each of its queries).
#[component]
pub fn TimeSeriesChart(
    spec: ChartSpec,
    #[prop(optional)] initial: Vec<Vec<crate::protocol::SeriesPoints>>,
) -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let time = expect_context::<TimeControl>();
    // Reads of the page's time go through the chart's own memos.
    let clock = time.view();
    let spec = StoredValue::new(spec);
    let visibility = RwSignal::new(Visibility::default());
    let mode = RwSignal::new(TooltipMode::All);
    let stacking = RwSignal::new(spec.with_value(|s| s.style.stacking));
    let pinned = RwSignal::new(None::<i64>);
    let table = RwSignal::new(false);
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    // A note being written: its time, and its end for a span (Shift-drag,
    // Shift-click, or `a` at the crosshair open the form).
    let note_at = RwSignal::new(None::<(i64, Option<i64>)>);
    let notes = store.annotations_for(spec.with_value(|s| s.id.clone()));
    let table_slot = NodeRef::<leptos::html::Div>::new();
    let note_slot = NodeRef::<leptos::html::Div>::new();
    // A touch gesture in progress (pan with one finger, pinch with two).
    #[cfg(feature = "hydrate")]
    let touches = StoredValue::new(browser::Touches::default());
    // A drag in progress: where it started and where the pointer is.
    let drag = RwSignal::new(None::<(i64, i64)>);
    // The value under the pointer (for the single-series tooltip).
    let pointer_value = RwSignal::new(None::<f64>);
    // What the screen reader's live region says (set by the arrow keys).
    let spoken = RwSignal::new(String::new());
    let feed::Feed { lines, status } = feed::follow(spec, &initial, Some(canvas));

    #[cfg(feature = "hydrate")]
    {
        browser::install_drawing(browser::Drawing {
            spec,
            lines,
            visibility,
            canvas,
            clock,
            drag,
            stacking,
            annotations: notes,
        });
    }

    let id = spec.with_value(|s| s.id.clone());
    let title = spec.with_value(|s| s.title.clone());
    let unit = spec.with_value(|s| s.unit);
    let thresholds = spec.with_value(|s| describe_thresholds(&s.thresholds, s.unit));
    let no_thresholds = thresholds.is_empty();
    let keys = Memo::new(move |_| lines.with(|l| l.keys().cloned().collect::<Vec<_>>()));

    // The legend: one entry per series, in key order.
    let legend = move || {
        // A live range's lines hold just its span; a fixed one's are
        // measured within it (live points keep arriving after it).
        let (from, to) = match clock.range.get() {
            TimeRange::Fixed { from, to } => (from, to),
            TimeRange::Live { .. } => (i64::MIN, i64::MAX),
        };
        lines.with(|lines| {
            let order = crate::chart::sorted_order(lines.len(), &|a, b| {
                lines.0[a].colour.cmp(&lines.0[b].colour)
            });
            order
                .into_iter()
                .filter_map(|position| lines.0.get(position))
                .map(|l| {
                    let stats = stats(&l.line, from, to);
                    (l.key.clone(), l.label.clone(), l.colour, stats)
                })
                .collect::<Vec<_>>()
        })
    };
    let hint = move || visibility.with(|v| keys.with(|k| v.describe(k)));

    // The table and the note form come when first wanted (`extras`).
    #[cfg(feature = "hydrate")]
    {
        // The table's order, once a column header was clicked (before:
        // the legend's), and the note being written.
        let order = RwSignal::new(None::<crate::chart::LegendOrder>);
        let note_text = RwSignal::new(String::new());
        let note_here = RwSignal::new(false);
        let extras = extras::Extras {
            store,
            id: StoredValue::new(id.clone()),
            unit,
            table,
            order,
            legend: Signal::derive(legend),
            note_at,
            note_text,
            note_here,
            table_slot,
            note_slot,
        };
        extras::mount_when(
            Box::new(move || table.get()),
            Box::new(move || Box::pin(extras::load_table(extras))),
        );
        extras::mount_when(
            Box::new(move || note_at.with(Option::is_some)),
            Box::new(move || Box::pin(extras::load_note_form(extras))),
        );
    }

    let suppress_click = StoredValue::new(false);
    let tooltip_at = move |ts: i64| {
        lines.with(|lines| {
            visibility.with(|visible| {
                let (from, to) = time.range.get_untracked().resolve(time.now.get_untracked());
                // Near enough: two columns of an 800-pixel chart.
                let reach = ((to - from) / 400).max(1_000);
                // Each series' points within reach: a pointer move costs
                // what is near it, not what the lines hold.
                let series: Vec<OwnedSeries> = lines
                    .values()
                    .filter(|l| visible.is_visible(&l.key))
                    .map(|l| {
                        let [a, b] = l
                            .line
                            .slices_within(ts.saturating_sub(reach), ts.saturating_add(reach));
                        let mut near = Vec::with_capacity(a.len() + b.len());
                        for part in [a, b] {
                            near.extend(part.iter().map(LinePoint::pair));
                        }
                        (l.key.clone(), l.label.clone(), near)
                    })
                    .collect();
                let borrowed: Vec<TooltipSeries> = series
                    .iter()
                    .map(|(k, l, p)| (k.as_str(), l.as_str(), p.as_slice()))
                    .collect();
                tooltip_rows(&borrowed, ts, reach, mode.get(), pointer_value.get())
            })
        })
    };
    // The annotations at `ts`: spans over it, moments within a hundredth
    // of the window (as close as their marks crowd together).
    let notes_at = move |ts: i64| {
        let (from, to) = clock.window();
        let reach = (to - from) / 100;
        notes.with(|notes| {
            crate::chart::near(notes, ts, reach)
                .into_iter()
                .map(|n| n.text.clone())
                .collect::<Vec<_>>()
        })
    };
    let tooltip = move || {
        if mode.get() == TooltipMode::Off {
            return None;
        }
        let ts = pinned.get().or_else(|| clock.crosshair.get())?;
        Some((ts, tooltip_at(ts), notes_at(ts)))
    };

    let click_legend = move |key: String, modifier: bool| {
        keys.with_untracked(|all| {
            visibility.update(|v| {
                if modifier {
                    v.toggle(&key, all)
                } else {
                    v.click(&key, all)
                }
            })
        });
    };

    view! {
        <section
            class="chart-card"
            data-testid=format!("{id}-chart-card")
            data-series=move || keys.with(|k| k.len())
            data-renders=render_count(lines)
            data-points=move || primary(lines, |l| l.len() as i64)
            data-oldest=move || primary(lines, |l| l.oldest_ts().unwrap_or_default())
            data-newest=move || primary(lines, |l| l.newest_ts().unwrap_or_default())
            data-max-gap=move || primary(lines, Line::largest_gap)
        >
            <header class="chart-card__header">
                <h2 class="chart-card__title" id=format!("{id}-chart-title")>{title.clone()}</h2>
                <label class="chart-card__control">
                    "Tooltip "
                    <select
                        data-testid=format!("{id}-tooltip-mode")
                        on:change=move |ev| {
                            mode.set(TooltipMode::parse(&event_target_value(&ev)).unwrap_or_default());
                            pinned.set(None);
                        }
                    >
                        <option value="all" selected=true>"all series"</option>
                        <option value="single">"single"</option>
                        <option value="off">"off"</option>
                    </select>
                </label>
                <label class="chart-card__control">
                    "Stack "
                    <select
                        data-testid=format!("{id}-stacking")
                        on:change=move |ev| {
                            if let Some(mode) = Stacking::parse(&event_target_value(&ev)) {
                                stacking.set(mode);
                            }
                        }
                    >
                        {Stacking::ALL.into_iter().map(|option| view! {
                            <option value=option.name() selected=move || stacking.get() == option>{option.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button
                    class="chart-card__toggle"
                    data-testid=format!("{id}-table-toggle")
                    aria-pressed=move || table.get().to_string()
                    on:click=move |_| table.update(|t| *t = !*t)
                >
                    {move || if table.get() { "View as chart" } else { "View as table" }}
                </button>
            </header>
            // The note form: fetched and mounted here when a note is begun.
            <div class="chart-card__slot" node_ref=note_slot></div>
            <div class="chart-card__plot" hidden=move || table.get()>
                <canvas
                    class="chart-card__canvas"
                    data-testid=format!("{id}-chart")
                    node_ref=canvas
                    tabindex="0"
                    role="img"
                    title="Drag to zoom in; Shift-drag or Shift-click to add a note (a: a note at the crosshair)"
                    aria-labelledby=format!("{id}-chart-title")
                    aria-describedby=format!("{id}-chart-hint {id}-thresholds")
                    on:pointermove=move |ev| {
                        #[cfg(feature = "hydrate")]
                        if !browser::touch_move(canvas, time, touches, &ev) {
                            browser::pointer_move(canvas, time, drag, pointer_value, &ev);
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }
                    on:pointerdown=move |ev| {
                        #[cfg(feature = "hydrate")]
                        if !browser::touch_down(canvas, time, touches, &ev) {
                            browser::pointer_down(canvas, drag, &ev);
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }
                    on:pointercancel=move |ev| {
                        #[cfg(feature = "hydrate")]
                        browser::touch_up(time, touches, &ev);
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }
                    on:pointerup=move |ev| {
                        #[cfg(feature = "hydrate")]
                        if browser::touch_up(time, touches, &ev) {
                            return;
                        }
                        if let Some((a, b)) = drag.get_untracked() {
                            drag.set(None);
                            if ev.shift_key() {
                                // A note, not a zoom: over the span dragged,
                                // or at the moment clicked.
                                let (from, to) = time.window();
                                let (a, b) = (a.min(b), a.max(b));
                                note_at.set(Some((a, (b - a > (to - from) / 100).then_some(b))));
                                suppress_click.set_value(true);
                                return;
                            }
                            if time.zoom_into(a, b) {
                                // A zoom, not a click: nothing is pinned.
                                suppress_click.set_value(true);
                            }
                        }
                    }
                    on:pointerleave=move |_| {
                        time.crosshair.set(None);
                        drag.set(None);
                    }
                    on:keydown=move |ev| {
                        let step = match ev.key().as_str() {
                            "ArrowLeft" => -1,
                            "ArrowRight" => 1,
                            "Escape" => {
                                time.crosshair.set(None);
                                pinned.set(None);
                                return;
                            }
                            "a" => {
                                if let Some(ts) = time.crosshair.get_untracked() {
                                    note_at.set(Some((ts, None)));
                                }
                                return;
                            }
                            _ => return,
                        };
                        ev.prevent_default();
                        let (from, to) = time.window();
                        let at = time.crosshair.get_untracked();
                        let next = lines.with_untracked(|lines| step_crosshair(lines, visibility, at, step, from, to));
                        if let Some(ts) = next {
                            time.crosshair.set(Some(ts));
                            spoken.set(spoken_values(&tooltip_at(ts), unit));
                        }
                    }
                    on:click=move |_| {
                        if suppress_click.get_value() {
                            suppress_click.set_value(false);
                            return;
                        }
                        if mode.get_untracked() != TooltipMode::Off {
                            pinned.update(|p| {
                                *p = match *p {
                                    Some(_) => None,
                                    None => time.crosshair.get_untracked(),
                                }
                            });
                        }
                    }
                ></canvas>
                {move || tooltip().map(|(ts, rows, notes)| view! {
                    <div
                        class="chart-card__tooltip"
                        class:chart-card__tooltip--pinned=move || pinned.get().is_some()
                        data-testid=format!("{}-tooltip", spec.with_value(|s| s.id.clone()))
                        data-ts=ts
                    >
                        {notes.into_iter().map(|text| view! {
                            <p class="chart-card__tooltip-note">{text}</p>
                        }).collect_view()}
                        {rows.into_iter().map(|row| view! {
                            <div class="chart-card__tooltip-row">
                                <span class="chart-card__tooltip-label">{row.label}</span>
                                <span class="chart-card__tooltip-value">{format_value(unit, row.value, 2)}</span>
                            </div>
                        }).collect_view()}
                    </div>
                })}
                <p class="chart-card__status" data-testid=format!("{id}-status") hidden=move || status.with(Option::is_none)>
                    {move || status.get().unwrap_or_default()}
                </p>
            </div>
            <ul class="chart-card__legend" data-testid=format!("{id}-legend")>
                {move || legend().into_iter().map(|(key, label, colour, stats)| {
                    let shown = visibility.with(|v| v.is_visible(&key));
                    let last = stats.map(|s| format_value(unit, s.last, 2)).unwrap_or_else(|| "—".into());
                    let click_key = key.clone();
                    view! {
                        <li>
                            <button
                                class="legend-item"
                                class:legend-item--hidden=!shown
                                data-key=key.clone()
                                aria-pressed=shown.to_string()
                                title="Click to show only this series; Ctrl-click to show or hide it"
                                on:click=move |ev| click_legend(click_key.clone(), ev.ctrl_key() || ev.meta_key() || ev.shift_key())
                            >
                                <span class=format!("legend-item__swatch legend-item__swatch--{}", colour % 10)></span>
                                <span class="legend-item__label">{label}</span>
                                <span class="legend-item__value">{last}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <p class="visually-hidden" aria-live="polite" data-testid=format!("{id}-spoken")>{move || spoken.get()}</p>
            <p class="chart-card__hint" id=format!("{id}-chart-hint") data-testid=format!("{id}-legend-hint")>{hint}</p>
            <p class="chart-card__thresholds" id=format!("{id}-thresholds") data-testid=format!("{id}-thresholds") hidden=no_thresholds>{thresholds}</p>
            // "View as table": fetched and mounted here when first asked for.
            <div class="chart-card__slot" node_ref=table_slot></div>
        </section>
    }
}

/// The crosshair's next time, `step` points left (-1) or right (1) of
/// `at` on the first visible line, within `from..=to`; from no crosshair
/// the newest point.
fn step_crosshair(
    lines: &ChartLines,
    visibility: RwSignal<Visibility>,
    at: Option<i64>,
    step: i32,
    from: i64,
    to: i64,
) -> Option<i64> {
    let line = lines
        .values()
        .filter(|l| visibility.with_untracked(|v| v.is_visible(&l.key)))
        .min_by_key(|l| l.colour)?;
    let times: Vec<i64> = line
        .line
        .points()
        .map(|p| p.ts)
        .filter(|ts| (from..=to).contains(ts))
        .collect();
    let Some(at) = at else {
        return times.last().copied();
    };
    if step < 0 {
        times
            .iter()
            .rev()
            .find(|&&ts| ts < at)
            .or(times.first())
            .copied()
    } else {
        times.iter().find(|&&ts| ts > at).or(times.last()).copied()
    }
}

/// The thresholds as the page lists them: `Warning at 80%, Critical
/// 90% to 100%`.
fn describe_thresholds(thresholds: &[Threshold], unit: Unit) -> String {
    thresholds
        .iter()
        .map(|t| match t.to {
            Some(to) => format!(
                "{} {} to {}",
                t.label,
                format_value(unit, t.value, 2),
                format_value(unit, to, 2)
            ),
            None => format!("{} at {}", t.label, format_value(unit, t.value, 2)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tooltip's rows as a sentence for a screen reader.
fn spoken_values(rows: &[crate::chart::TooltipRow], unit: Unit) -> String {
    rows.iter()
        .map(|row| format!("{} {}", row.label, format_value(unit, row.value, 2)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A figure of the legend's first line (the total, when there is one),
/// for the page's tests and tools: 0 without lines.
fn primary(lines: RwSignal<ChartLines>, figure: impl Fn(&Line) -> i64) -> i64 {
    lines.with(|lines| {
        lines
            .values()
            .min_by_key(|l| l.colour)
            .map_or(0, |l| figure(&l.line))
    })
}

/// The browser's clock, Unix ms.
fn browser_now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;

    use super::{draw, ChartLines, ChartSpec};
    use crate::{
        chart::{gesture_window, LiveReduction, TimeRange, Visibility},
        ui::TimeControl,
    };

    /// Where the last frame put things, per canvas.
    pub struct Drawing {
        pub spec: StoredValue<ChartSpec>,
        pub lines: RwSignal<ChartLines>,
        pub visibility: RwSignal<Visibility>,
        pub canvas: NodeRef<leptos::html::Canvas>,
        pub clock: crate::ui::TimeView,
        pub drag: RwSignal<Option<(i64, i64)>>,
        pub stacking: RwSignal<crate::chart::Stacking>,
        pub annotations: Memo<Vec<crate::protocol::Annotation>>,
    }

    /// What a canvas's last frame left: where it put things, and each
    /// line's reduction, carried to the next frame.
    type Frame = (web_sys::HtmlCanvasElement, draw::Layout, Vec<LiveReduction>);

    thread_local! {
        static FRAMES: std::cell::RefCell<Vec<Frame>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Keeps a frame's leftovers, dropping those of canvases that are gone.
    fn remember(
        canvas: &web_sys::HtmlCanvasElement,
        layout: draw::Layout,
        kept: Vec<LiveReduction>,
    ) {
        FRAMES.with_borrow_mut(|frames| {
            frames.retain(|(c, ..)| c.is_connected() && c != canvas);
            frames.push((canvas.clone(), layout, kept));
        });
    }

    fn layout_of(canvas: &web_sys::HtmlCanvasElement) -> Option<draw::Layout> {
        FRAMES.with_borrow(|frames| {
            frames
                .iter()
                .find(|(c, ..)| c == canvas)
                .map(|(_, layout, _)| *layout)
        })
    }

    pub fn frames_held() -> usize {
        FRAMES.with_borrow(Vec::len)
    }

    /// Drops the leftovers of canvases no longer in the document.
    fn forget_gone() {
        FRAMES.with_borrow_mut(|frames| frames.retain(|(c, ..)| c.is_connected()));
    }

    /// The lines' reductions the canvas's last frame left (taken out).
    fn kept_of(canvas: &web_sys::HtmlCanvasElement) -> Vec<LiveReduction> {
        FRAMES.with_borrow_mut(|frames| {
            frames
                .iter_mut()
                .find(|(c, ..)| c == canvas)
                .map(|(.., kept)| std::mem::take(kept))
                .unwrap_or_default()
        })
    }

    /// Whether the page is a wall screen (`?kiosk` in its address): then
    /// every chart is drawn, on screen or not.
    fn kiosk() -> bool {
        web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
            .is_some_and(|params| params.has("kiosk"))
    }

    /// A signal that says whether the canvas is on screen, kept by an
    /// `IntersectionObserver` that is disconnected (and its callback
    /// released) when the chart goes away. Always true in kiosk mode.
    fn on_screen(canvas: NodeRef<leptos::html::Canvas>) -> RwSignal<bool> {
        use wasm_bindgen::{closure::Closure, JsCast};
        type Watch = (
            web_sys::IntersectionObserver,
            Closure<dyn Fn(js_sys::Array)>,
        );

        let visible = RwSignal::new(true);
        if kiosk() {
            return visible;
        }
        let watch = StoredValue::new_local(None::<Watch>);
        Effect::new(move |_| {
            let Some(element) = canvas.get() else { return };
            if watch.with_value(Option::is_some) {
                return;
            }
            let callback = Closure::<dyn Fn(js_sys::Array)>::new(move |entries: js_sys::Array| {
                let newest = entries
                    .iter()
                    .filter_map(|e| e.dyn_into::<web_sys::IntersectionObserverEntry>().ok())
                    .next_back();
                if let Some(entry) = newest {
                    visible.set(entry.is_intersecting());
                }
            });
            if let Ok(observer) =
                web_sys::IntersectionObserver::new(callback.as_ref().unchecked_ref())
            {
                observer.observe(&element);
                watch.set_value(Some((observer, callback)));
            }
        });
        on_cleanup(move || {
            watch.try_update_value(|watch| {
                if let Some((observer, _)) = watch.take() {
                    observer.disconnect();
                }
            });
        });
        visible
    }

    /// Redraws whenever what the chart shows changes, while it is on
    /// screen (or the page is in kiosk mode). Off screen the effect reads
    /// nothing but the visibility, so live points cost no drawing until the
    /// chart comes back, and then one frame draws it as it is. The canvas
    /// counts its frames in `data-draws`.
    pub fn install_drawing(drawing: Drawing) {
        let Drawing {
            spec,
            lines,
            visibility,
            canvas,
            clock,
            drag,
            stacking,
            annotations,
        } = drawing;
        let visible = on_screen(canvas);
        let draws = StoredValue::new(0_u32);
        // A chart that goes takes its canvas and its lines' reductions
        // with it (once its canvas has left the document), whether or not
        // another chart draws after it.
        on_cleanup(|| queue_microtask(forget_gone));
        Effect::new(move |_| {
            if !visible.get() {
                return;
            }
            let Some(element) = canvas.get() else { return };
            let (from, to) = clock.window();
            let crosshair = clock.crosshair.get();
            let selection = drag.get();
            let stacking_now = stacking.get();
            let bars = spec.with_value(|spec| spec.style.draw == crate::chart::Draw::Bars);
            if (bars || stacking_now != crate::chart::Stacking::Off)
                && super::painters::painters().is_none()
            {
                // Drawn once the split that draws stacks and bars is here
                // (the canvas keeps its last frame meanwhile): setting the
                // signal draws again.
                super::painters::fetch(move || stacking.set(stacking_now));
                return;
            }
            let offset = -(js_sys::Date::new_0().get_timezone_offset() as i32);
            // Moments closer than 8 px share a mark.
            let crowded = (to - from) * 8 / i64::from(element.client_width().max(1));
            let marks = annotations.with(|notes| {
                crate::chart::marks(notes.iter().filter(|n| n.overlaps(from, to)), crowded)
            });
            let _ = element.set_attribute("data-marks", &marks.len().to_string());
            let mut kept = kept_of(&element);
            let result = lines.with(|lines| {
                visibility.with(|visible| {
                    spec.with_value(|spec| {
                        let scene = draw::Scene {
                            lines: lines
                                .values()
                                .filter(|l| visible.is_visible(&l.key))
                                .map(|l| draw::Drawn {
                                    line: &l.line,
                                    colour: l.colour,
                                })
                                .collect(),
                            from,
                            to,
                            unit: spec.unit,
                            soft_min: spec.soft_min,
                            soft_max: spec.soft_max,
                            style: crate::chart::ChartStyle {
                                stacking: stacking_now,
                                ..spec.style
                            },
                            thresholds: &spec.thresholds,
                            marks: &marks,
                            crosshair,
                            selection,
                            utc_offset_minutes: offset,
                        };
                        draw::draw(&element, &scene, &mut kept)
                    })
                })
            });
            draws.update_value(|n| *n += 1);
            let _ = element.set_attribute("data-draws", &draws.get_value().to_string());
            match result {
                Ok(layout) => {
                    // The value axis' top, for the tests.
                    let _ = element.set_attribute("data-value-max", &layout.max.to_string());
                    remember(&element, layout, kept)
                }
                Err(error) => leptos::logging::warn!("livedash: could not draw a chart: {error}"),
            }
        });
    }

    /// The time and value under the pointer, by the last frame's layout.
    fn pointer_at(
        canvas: NodeRef<leptos::html::Canvas>,
        event: &web_sys::PointerEvent,
    ) -> Option<(i64, f64)> {
        let element = canvas.get_untracked()?;
        let layout = layout_of(&element)?;
        Some((
            layout.time_at(f64::from(event.offset_x())),
            layout.value_at(f64::from(event.offset_y())),
        ))
    }

    /// Moves the shared crosshair (and a drag) to the pointer's time.
    pub fn pointer_move(
        canvas: NodeRef<leptos::html::Canvas>,
        time: TimeControl,
        drag: RwSignal<Option<(i64, i64)>>,
        pointer_value: RwSignal<Option<f64>>,
        event: &web_sys::PointerEvent,
    ) {
        let Some((ts, value)) = pointer_at(canvas, event) else {
            return;
        };
        pointer_value.set(Some(value));
        time.crosshair.set(Some(ts));
        if let Some((start, _)) = drag.get_untracked() {
            drag.set(Some((start, ts)));
        }
    }

    /// A touch gesture under way: the window and the fingers (pointer id,
    /// pixels from the plot's left) when it began, and where they are now.
    #[derive(Clone, Debug, Default)]
    pub struct Touches {
        window: (i64, i64),
        start: Vec<(i32, f64)>,
        now: Vec<(i32, f64)>,
    }

    impl Touches {
        /// Begins again from here, with the fingers down now.
        fn restart(&mut self, window: (i64, i64)) {
            self.window = window;
            self.start = self.now.clone();
        }
    }

    fn shown_window(time: TimeControl) -> (i64, i64) {
        time.range.get_untracked().resolve(time.now.get_untracked())
    }

    /// The pointer's distance from the plot's left and the plot's width.
    fn plot_x(
        canvas: NodeRef<leptos::html::Canvas>,
        event: &web_sys::PointerEvent,
    ) -> Option<(f64, f64)> {
        let layout = layout_of(&canvas.get_untracked()?)?;
        Some((
            f64::from(event.offset_x()) - layout.left,
            layout.right - layout.left,
        ))
    }

    /// A finger down on the chart (other pointers: `false`, left alone).
    /// The first one pauses the view where it is, so back returns to it.
    pub fn touch_down(
        canvas: NodeRef<leptos::html::Canvas>,
        time: TimeControl,
        touches: StoredValue<Touches>,
        event: &web_sys::PointerEvent,
    ) -> bool {
        if event.pointer_type() != "touch" {
            return false;
        }
        let Some((x, _)) = plot_x(canvas, event) else {
            return true;
        };
        if let Some(element) = canvas.get_untracked() {
            let _ = element.set_pointer_capture(event.pointer_id());
        }
        let (from, to) = shown_window(time);
        if time.range.with_untracked(TimeRange::is_live) {
            if let Ok(range) = TimeRange::fixed(from, to) {
                time.set(range);
            }
        }
        touches.update_value(|t| {
            t.now.retain(|(id, _)| *id != event.pointer_id());
            t.now.push((event.pointer_id(), x));
            t.restart((from, to));
        });
        true
    }

    /// A finger moved: one pans the view, two pinch it.
    pub fn touch_move(
        canvas: NodeRef<leptos::html::Canvas>,
        time: TimeControl,
        touches: StoredValue<Touches>,
        event: &web_sys::PointerEvent,
    ) -> bool {
        if event.pointer_type() != "touch" {
            return false;
        }
        let Some((x, width)) = plot_x(canvas, event) else {
            return true;
        };
        let window = touches.try_update_value(|t| {
            for finger in t.now.iter_mut().filter(|(id, _)| *id == event.pointer_id()) {
                finger.1 = x;
            }
            let xs = |fingers: &[(i32, f64)]| fingers.iter().map(|&(_, x)| x).collect::<Vec<_>>();
            gesture_window(t.window, &xs(&t.start), &xs(&t.now), width)
        });
        if let Some(Ok(range)) = window
            .flatten()
            .map(|(from, to)| TimeRange::fixed(from, to))
        {
            time.range.set(range);
        }
        true
    }

    /// A finger lifted (or the gesture cancelled): the others go on from
    /// where they are.
    pub fn touch_up(
        time: TimeControl,
        touches: StoredValue<Touches>,
        event: &web_sys::PointerEvent,
    ) -> bool {
        if event.pointer_type() != "touch" {
            return false;
        }
        let window = shown_window(time);
        touches.update_value(|t| {
            t.now.retain(|(id, _)| *id != event.pointer_id());
            t.restart(window);
        });
        true
    }

    /// Starts a drag (the primary button only).
    pub fn pointer_down(
        canvas: NodeRef<leptos::html::Canvas>,
        drag: RwSignal<Option<(i64, i64)>>,
        event: &web_sys::PointerEvent,
    ) {
        if event.button() != 0 {
            return;
        }
        if let Some((ts, _)) = pointer_at(canvas, event) {
            drag.set(Some((ts, ts)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(points: &[(i64, f64)], step_ms: Option<i64>) -> ChartLines {
        ChartLines::new(vec![ChartLine {
            key: "cpu".into(),
            label: "cpu".into(),
            colour: 0,
            line: Line::from_history(points, None, step_ms, 60_000, LINE_CAPACITY),
            rate: false,
        }])
    }

    fn times(lines: &ChartLines) -> Vec<i64> {
        lines
            .values()
            .flat_map(|l| l.line.points().map(|p| p.ts))
            .collect()
    }

    fn spec(queries: Vec<ChartQuery>) -> ChartSpec {
        ChartSpec {
            id: "w".into(),
            title: "W".into(),
            queries,
            unit: Unit::Count,
            soft_min: None,
            soft_max: None,
            style: ChartStyle::default(),
            thresholds: Vec::new(),
        }
    }

    fn query(selector: &str, label_by: Option<&str>, rate: bool) -> ChartQuery {
        ChartQuery {
            selector: selector.into(),
            label_by: label_by.map(str::to_string),
            unlabelled: if label_by.is_some() { "total" } else { "" }.into(),
            rate,
        }
    }

    fn series(key: &str, labels: &[(&str, &str)]) -> crate::protocol::SeriesPoints {
        crate::protocol::SeriesPoints {
            key: SeriesKey::new(
                key,
                labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            )
            .expect("a valid key"),
            points: vec![(1_000, 1.0)],
            band: None,
        }
    }

    #[test]
    fn each_selectors_series_are_named_rated_and_ordered_by_their_own_query() {
        let spec = spec(vec![
            query("requests_total", Some("code"), true),
            query("latency_seconds", None, false),
        ]);
        let requests = [
            series("requests_total", &[("code", "500")]),
            series("requests_total", &[("code", "200")]),
        ];
        let latency = [series("latency_seconds", &[("host", "a")])];
        let lines = lines_from(&spec, &[(&requests, None), (&latency, Some(10))], 60_000);
        let mut shown: Vec<_> = lines
            .values()
            .map(|l| (l.colour, l.label.clone(), l.rate, l.line.step_ms()))
            .collect();
        shown.sort();
        assert_eq!(
            shown,
            [
                (0, "code 200".to_string(), true, None),
                (1, "code 500".to_string(), true, None),
                // Of several selectors, one without a naming label is
                // called by its key.
                (
                    2,
                    "latency_seconds{host=\"a\"}".to_string(),
                    false,
                    Some(10)
                ),
            ]
        );
    }

    #[test]
    fn a_series_two_selectors_match_is_one_line_of_the_first() {
        let spec = spec(vec![
            query("up", Some("job"), false),
            query("up{job=\"api\"}", None, true),
        ]);
        let all = [
            series("up", &[("job", "api")]),
            series("up", &[("job", "db")]),
        ];
        let api = [series("up", &[("job", "api")])];
        let lines = lines_from(&spec, &[(&all, None), (&api, None)], 60_000);
        assert_eq!(lines.len(), 2);
        let labels: Vec<_> = lines.values().map(|l| (l.label.as_str(), l.rate)).collect();
        assert_eq!(labels, [("job api", false), ("job db", false)]);
    }

    #[test]
    fn a_history_answer_that_stops_short_keeps_the_newer_points_the_chart_held() {
        // The page was rendered with a sample at 1_500 that the answer
        // (read up to 1_000) does not reach; it is before the page's live
        // position, so only the chart has it.
        let held = lines(&[(500, 1.0), (1_000, 2.0), (1_500, 3.0)], None);
        let mut fresh = lines(&[(0, 0.0), (500, 1.0), (1_000, 2.0)], None);
        fresh.carry_over(&held);
        assert_eq!(times(&fresh), [0, 500, 1_000, 1_500]);
        // An answer that holds it already changes nothing.
        let mut complete = lines(&[(1_000, 2.0), (1_500, 3.0), (2_000, 4.0)], None);
        complete.carry_over(&held);
        assert_eq!(times(&complete), [1_000, 1_500, 2_000]);
    }

    #[test]
    fn a_chart_keeps_two_minutes_of_live_samples_to_replay_not_hours() {
        let mut recent = VecDeque::new();
        // Two charts' worth of an hour at one point a second.
        for second in 0..3_600_i64 {
            let seen = vec![
                ("a".into(), second * 1_000, 1.0),
                ("b".into(), second * 1_000, 2.0),
            ];
            keep_recent(&mut recent, seen);
        }
        let oldest = recent.front().map(|(_, ts, _)| *ts);
        assert_eq!(oldest, Some(3_599_000 - REPLAY_MS));
        assert_eq!(recent.len(), 2 * 121);
        assert!(recent.capacity() <= 4 * recent.len());
    }

    #[test]
    fn rollup_buckets_are_not_carried_over_as_samples() {
        let held = lines(&[(0, 1.0), (10_000, 2.0)], Some(10_000));
        let mut fresh = lines(&[(0, 1.0)], None);
        fresh.carry_over(&held);
        assert_eq!(times(&fresh), [0]);
    }
}
