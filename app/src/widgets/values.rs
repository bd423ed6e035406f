//! A dashboard's value and text widgets: stat, gauge, bar, table and text,
//! one card each. A card reads its series through the same feed as the
//! chart (`chart::feed`: history from the store joined to live points,
//! counters as rates) and shows the newest value of each, coloured by the
//! widget's thresholds. Its body is HTML text built by `ui::cards` (see
//! there why), rebuilt when its data changes (`data-renders` counts how
//! often).
//!
//! - Stat: the first series' newest value (of the first selector), its change since the start of
//!   the page's window (an arrow and a percentage), a sparkline of the
//!   window, and a brief highlight whenever the value changes.
//! - Gauge: that value on a dial from `min` (0) to `max` (100 for
//!   percentages, else the largest threshold or value seen).
//! - Bar: one bar per series (per core, per mount), largest first.
//! - Table: series and values, largest first, sorted by a header click.
//! - Text: its Markdown.

use leptos::prelude::*;

use super::chart::{feed, ChartLine, ChartLines, ChartQuery, ChartSpec};
use crate::{
    dashboard::{options, Widget, WidgetKind},
    protocol::SeriesPoints,
    ui::cards::{self, Format, TableOrder},
};

/// Series a bar or table widget shows by default.
const DEFAULT_LIMIT: usize = 10;

/// The first series (first in the legend): a stat's and a gauge's.
fn first(lines: &ChartLines) -> Option<&ChartLine> {
    lines.values().min_by_key(|l| l.colour)
}

/// The chart spec a widget's series are read with.
pub fn spec_of(widget: &Widget) -> ChartSpec {
    let several = widget.series.len() > 1;
    ChartSpec {
        id: widget.id.clone(),
        title: widget.title.clone(),
        queries: widget
            .series
            .iter()
            .map(|query| ChartQuery {
                selector: query.selector.clone(),
                label_by: query.label_by.clone(),
                // Split by a label, the series without it is their total;
                // of one selector, a series is the widget's; of several,
                // each is called by its key.
                unlabelled: match (&query.label_by, several) {
                    (Some(_), _) => "total".to_string(),
                    (None, false) => widget.title.clone(),
                    (None, true) => String::new(),
                },
                rate: query.rate,
            })
            .collect(),
        unit: widget.unit.unwrap_or_default(),
        soft_min: options::number(widget, "soft_min"),
        soft_max: options::number(widget, "soft_max"),
        style: crate::chart::ChartStyle {
            stacking: options::text(widget, "stacking")
                .and_then(options::stacking)
                .unwrap_or_default(),
            ..Default::default()
        },
        thresholds: options::thresholds(widget),
    }
}

/// Each series' label and newest value, largest first, at most `limit`.
fn newest(lines: &ChartLines, limit: usize) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = lines
        .values()
        .filter_map(|l| l.line.points().last().map(|p| (l.label.clone(), p.value)))
        .collect();
    TableOrder::default().sort(&mut rows);
    rows.truncate(limit);
    rows
}

/// A stat, gauge, bar, table or text widget.
#[component]
pub fn ValueCard(widget: Widget, initial: Vec<Vec<SeriesPoints>>) -> impl IntoView {
    let kind = widget.kind;
    let id = widget.id.clone();
    let format = Format {
        unit: widget.unit.unwrap_or_default(),
        decimals: options::whole(&widget, "decimals").unwrap_or(2),
    };
    let thresholds = StoredValue::new(options::thresholds(&widget));
    let order = RwSignal::new(TableOrder::default());
    // What the card shows, its value (for its level) and why its history
    // could not be read (`None`: it could; a text card reads none).
    let (body, value, status): (
        Signal<String>,
        Signal<Option<f64>>,
        RwSignal<Option<String>>,
    ) = if !kind.reads_series() {
        // Rendered by the server (the page carries no Markdown reader).
        let html = expect_context::<crate::ui::LiveStore>()
            .text_html
            .with_value(|all| {
                all.iter()
                    .find(|(id, _)| *id == widget.id)
                    .map(|(_, h)| h.clone())
            })
            .unwrap_or_default();
        (
            Signal::stored(html),
            Signal::stored(None),
            RwSignal::new(None),
        )
    } else {
        let feed = feed::follow(StoredValue::new(spec_of(&widget)), &initial, None);
        let lines = feed.lines;
        let limit = options::whole(&widget, "limit").unwrap_or(DEFAULT_LIMIT);
        let value = Memo::new(move |_| {
            lines.with(|l| first(l).and_then(|l| l.line.points().next_back().map(|p| p.value)))
        });
        let range = (
            options::number(&widget, "min").unwrap_or(0.0),
            options::number(&widget, "max"),
        );
        let (id, title) = (widget.id.clone(), widget.title.clone());
        // The value the stat last showed: a different one is highlighted.
        let shown = StoredValue::new(None::<Option<f64>>);
        // A memo: the body is read by its element and by `data-renders`,
        // and must be built once per change (a stat's highlight is decided
        // as it is built).
        let body = Memo::new(move |_| match kind {
            WidgetKind::Stat => {
                let now = value.get();
                let before = shown.try_update_value(|s| s.replace(now)).flatten();
                let changed = before.is_some_and(|b| b != now);
                lines.with(|l| cards::stat(&id, first(l).map(|l| &l.line), format, changed))
            }
            WidgetKind::Gauge => {
                let now = value.get();
                let max = range.1.unwrap_or_else(|| {
                    let highest = thresholds.with_value(|t| {
                        t.iter()
                            .map(|t| t.value.max(t.to.unwrap_or(t.value)))
                            .fold(f64::NEG_INFINITY, f64::max)
                    });
                    if format.unit == crate::chart::Unit::Percent {
                        100.0
                    } else {
                        highest.max(now.unwrap_or(0.0)).max(range.0 + 1.0)
                    }
                });
                cards::gauge(&id, &title, now, (range.0, max), format)
            }
            WidgetKind::Bar => thresholds
                .with_value(|t| cards::bars(&id, &lines.with(|l| newest(l, limit)), t, format)),
            _ => {
                let mut rows = lines.with(|l| newest(l, limit));
                let order = order.get();
                order.sort(&mut rows);
                thresholds.with_value(|t| cards::table(&id, &rows, order, t, format))
            }
        });
        (body.into(), value.into(), feed.status)
    };
    let class = move || {
        let level = match kind {
            WidgetKind::Stat | WidgetKind::Gauge => {
                thresholds.with_value(|t| cards::level_class(t, value.get()))
            }
            _ => "",
        };
        format!("value-card value-card--{} {level}", kind.name())
    };
    // A click on a table's header sorts it (the body is text: the click
    // is read from its target).
    let sort = move |event: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let column = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("[data-sort]").ok().flatten())
                .and_then(|e| e.get_attribute("data-sort"));
            if let Some(column) = column {
                order.update(|o| *o = o.clicked(column == "name"));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    view! {
        <section class=class data-testid=format!("{id}-widget") data-renders=super::render_count(body)>
            <h2 class="value-card__title">{widget.title}</h2>
            <div class="value-card__body" inner_html=move || body.get() on:click=sort></div>
            <p class="value-card__status" hidden=move || status.with(Option::is_none)>
                {move || status.get().unwrap_or_default()}
            </p>
        </section>
    }
}
