//! A dashboard of the page's chart widgets for the browser benchmarks and
//! memory tests: `n` charts of one series each, started from a minute of
//! history as the page's are, fed series events through the store as the
//! live client would feed them.

// Each test binary uses its part of this.
#![allow(dead_code)]

use app::{
    chart::{ChartStyle, TimeRange, Unit},
    live::frame::Delivery,
    protocol::{Bootstrap, Envelope, Position, SeriesKey, SeriesPoints},
    ui::{LiveStore, TimeControl},
    widgets::{ChartQuery, ChartSpec, TimeSeriesChart},
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// The series of a dashboard and the bootstrap a page would be rendered with.
pub struct Charts {
    pub keys: Vec<SeriesKey>,
    pub bootstrap: Bootstrap,
}

impl Charts {
    /// `count` series, each with a minute of history (one point a second)
    /// up to `now`.
    pub fn new(count: usize, now: i64) -> Self {
        let keys: Vec<SeriesKey> = (0..count)
            .map(|i| SeriesKey::new("bench_value", [("chart".to_string(), i.to_string())]).unwrap())
            .collect();
        let bootstrap = Bootstrap {
            position: Some(Position::new(1, 1)),
            host: "bench".into(),
            series: keys
                .iter()
                .map(|key| SeriesPoints {
                    key: key.clone(),
                    points: (0..60).map(|s| (now - 60_000 + s * 1_000, 50.0)).collect(),
                    band: None,
                })
                .collect(),
            ..Bootstrap::default()
        };
        Self { keys, bootstrap }
    }
}

/// One chart widget per series, each started from its history.
pub fn views(series: &[SeriesPoints]) -> impl IntoView {
    series
        .iter()
        .enumerate()
        .map(|(i, series)| {
            let spec = ChartSpec {
                id: format!("c{i}"),
                title: format!("Chart {i}"),
                queries: vec![ChartQuery {
                    selector: series.key.to_string(),
                    label_by: None,
                    unlabelled: "value".into(),
                    rate: false,
                }],
                unit: Unit::Count,
                soft_min: None,
                soft_max: None,
                style: ChartStyle::default(),
                thresholds: Vec::new(),
            };
            view! { <TimeSeriesChart spec=spec initial=vec![vec![series.clone()]] /> }
        })
        .collect_view()
}

/// A value card of each kind that reads series (stat, gauge, bar, table)
/// over each series, as a dashboard's would be.
pub fn cards(series: &[SeriesPoints]) -> impl IntoView {
    use app::dashboard::{Grid, SeriesQuery, Widget, WidgetKind};
    let kinds = [
        WidgetKind::Stat,
        WidgetKind::Gauge,
        WidgetKind::Bar,
        WidgetKind::Table,
    ];
    series
        .iter()
        .enumerate()
        .map(|(i, series)| {
            let widget = Widget {
                id: format!("v{i}"),
                kind: kinds[i % kinds.len()],
                title: format!("Value {i}"),
                grid: Grid {
                    x: 0,
                    y: i as u32,
                    w: 1,
                    h: 1,
                },
                series: vec![SeriesQuery {
                    selector: series.key.to_string(),
                    label_by: None,
                    rate: false,
                }],
                unit: Some(Unit::Count),
                options: Default::default(),
            };
            view! { <app::widgets::ValueCard widget initial=vec![vec![series.clone()]] /> }
        })
        .collect_view()
}

/// The live event of one new point of `key`.
pub fn point(seq: u64, key: &SeriesKey, ts: i64, value: f64) -> Delivery {
    Delivery::Event(Envelope {
        id: Position::new(1, seq),
        channel: "series".into(),
        event: "points".into(),
        key: Some(key.to_string()),
        ts,
        data: serde_json::to_value(SeriesPoints {
            key: key.clone(),
            points: vec![(ts, value)],
            band: None,
        })
        .unwrap(),
    })
}

/// A full-window grid of small charts in the document, ten to a row, every
/// one on screen.
pub fn grid() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let container: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    container
        .set_attribute(
            "style",
            "position: fixed; inset: 0; display: grid; grid-template-columns: repeat(10, 1fr); \
             font-size: 8px; overflow: hidden",
        )
        .unwrap();
    let style = document.create_element("style").unwrap();
    style.set_text_content(Some(
        ".chart-card { overflow: hidden; height: 20vh } \
         .chart-card__canvas { width: 100%; height: 80px; display: block } \
         .chart-card__header, .chart-card__legend, .chart-card__hint { display: none }",
    ));
    document.head().unwrap().append_child(&style).unwrap();
    document.body().unwrap().append_child(&container).unwrap();
    container
}

/// Mounts `view` with `store` and a live time range of `span_ms`.
pub fn mount<V: IntoView + 'static>(
    container: &web_sys::HtmlElement,
    store: LiveStore,
    span_ms: i64,
    now: i64,
    view: impl FnOnce() -> V + 'static,
) -> leptos::mount::UnmountHandle<V::State> {
    leptos::mount::mount_to(container.clone(), move || {
        provide_context(store);
        provide_context(TimeControl::new(TimeRange::Live { span_ms }, now));
        view()
    })
}

/// Waits `ms` milliseconds (the page's timers and frames run meanwhile).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The `p`th percentile of `values` (sorted in place).
pub fn percentile(values: &mut [f64], p: usize) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(values.len() * p / 100).min(values.len() - 1)]
}
