//! The page: a dashboard, server-rendered with its current data in it.
//!
//! `/` shows the home dashboard, the dashboards directory's `main` when
//! there is one, else the built-in host overview
//! ([`app::ui::host::overview`], over the server's own host's series),
//! with the list of dashboards below it (`?q=` searches it). `/d/<id>`
//! shows dashboard `id`. Either way the page's [`Bootstrap`] carries the
//! dashboard, each widget's series over its default range read from the
//! store, and the log position from which the page then follows them (and
//! the dashboard's own channel).
//!
//! History and live meet with no gap: the position is taken first,
//! opening the `series` channel under the same lock ([`Hub::open`]) so
//! that whatever is stored from then on is published even if no page
//! followed the channel yet, and the store is read after. A point
//! published at or before the position was stored before it (a source
//! stores, then publishes), so the read holds it; a point published after
//! it reaches the page live. A point stored before the read but published
//! after the position is in both, and the page keeps each time once. The
//! dashboard itself is read after the position too: a save published
//! after it reaches the page live.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use app::{
    chart::TimeRange,
    dashboard::{Dashboard, Widget, WidgetKind},
    protocol::{Bootstrap, SERIES_CHANNEL},
    ui::host::{overview, MEMORY_TOTAL_BYTES, OVERVIEW_ID},
};
use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, Request, StatusCode},
    response::{IntoResponse, Response},
};
use leptos::prelude::provide_context;

use crate::{
    assets,
    dashboards::Dashboards,
    hub::{now_ms, Hub},
    query,
    store::{Matcher, Store},
};

/// What a page is told about the server beside its data.
#[derive(Clone, Debug)]
pub struct PageSettings {
    /// The host the overview shows: the server's own.
    pub host: Arc<str>,
    /// How often the host is sampled.
    pub sample_interval: Duration,
    /// The server's heartbeat interval, in milliseconds.
    pub heartbeat_ms: u64,
    /// How pages reconnect.
    pub reconnect: app::protocol::ReconnectSettings,
}

/// The longest search the list takes.
const MAX_SEARCH_CHARS: usize = 200;
/// Points per series a widget starts with: a chart's first drawing (it
/// reads its window again at its own width once running)...
const CHART_POINTS: usize = 300;
/// ...a stat's sparkline...
const SPARKLINE_POINTS: usize = 60;
/// ...and the newest value of the others.
const VALUE_POINTS: usize = 4;
/// The range a dashboard whose own does not read opens with.
const FALLBACK_RANGE: TimeRange = TimeRange::Live { span_ms: 3_600_000 };

/// The sources of a page.
#[derive(Clone)]
pub struct Sources {
    hub: Hub,
    store: Store,
    settings: PageSettings,
    dashboards: Dashboards,
    alerts: crate::alerts::Alerts,
}

impl axum::extract::FromRef<crate::AppState> for Sources {
    fn from_ref(state: &crate::AppState) -> Self {
        Self {
            hub: state.hub.clone(),
            store: state.store.clone(),
            settings: state.page.clone(),
            dashboards: state.dashboards.clone(),
            alerts: state.alerts.clone(),
        }
    }
}

/// Renders the home page (`/`): the home dashboard and the list of
/// dashboards (`?q=` searches it by id and title).
pub async fn handler(
    State(sources): State<Sources>,
    Query(params): Query<BTreeMap<String, String>>,
    request: Request<Body>,
) -> Response {
    let position = open(&sources.hub, SERIES_CHANNEL);
    let built_in = sources.dashboards.get(OVERVIEW_ID).is_none();
    let home = match sources.dashboards.get(OVERVIEW_ID) {
        Some(stored) => stored.dashboard,
        None => host_overview(&sources).await,
    };
    let search: String = params
        .get("q")
        .map(|q| q.trim().chars().take(MAX_SEARCH_CHARS).collect())
        .unwrap_or_default();
    let wanted = search.to_lowercase();
    let mut bootstrap = bootstrap(&sources, position, home, &params).await;
    bootstrap.built_in = built_in;
    let listed: Vec<(String, String)> = sources
        .dashboards
        .list()
        .into_iter()
        .filter(|s| {
            s.dashboard.id.contains(&wanted) || s.dashboard.title.to_lowercase().contains(&wanted)
        })
        .map(|s| (s.dashboard.id, s.dashboard.title))
        .collect();
    bootstrap.dashboard_list = app::ui::cards::dashboard_list(&listed, &search);
    render(bootstrap, request).await
}

/// Renders dashboard `id` (`/d/<id>`; `main` is the home dashboard).
pub async fn dashboard(
    State(sources): State<Sources>,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    request: Request<Body>,
) -> Response {
    let position = open(&sources.hub, SERIES_CHANNEL);
    let stored = sources.dashboards.get(&id);
    let built_in = stored.is_none();
    let dashboard = match stored {
        Some(stored) => stored.dashboard,
        None if id == OVERVIEW_ID => host_overview(&sources).await,
        None => return not_found(&id),
    };
    let mut bootstrap = bootstrap(&sources, position, dashboard, &params).await;
    bootstrap.built_in = built_in;
    render(bootstrap, request).await
}

/// The page's bootstrap: `dashboard` with its widgets' series as of now.
async fn bootstrap(
    sources: &Sources,
    position: app::protocol::Position,
    dashboard: Dashboard,
    params: &BTreeMap<String, String>,
) -> Bootstrap {
    let now = now_ms();
    let range = dashboard.time.resolve(now).unwrap_or(FALLBACK_RANGE);
    let window = range.resolve(now);
    let (store, widgets) = (sources.store.clone(), dashboard.widgets.clone());
    let widget_series =
        tokio::task::spawn_blocking(move || widget_series(&store, &widgets, window))
            .await
            .unwrap_or_default();
    let rule_lines = rule_lines(&sources.alerts, &dashboard.widgets, &widget_series);
    let settings = &sources.settings;
    Bootstrap {
        position: Some(position),
        host: settings.host.to_string(),
        heartbeat_ms: settings.heartbeat_ms,
        reconnect: settings.reconnect,
        now_ms: now,
        kiosk: params.contains_key("kiosk"),
        text_html: app::ui::cards::text_html(&dashboard),
        rule_lines,
        firing: sources.alerts.firing().iter().sum(),
        critical: sources.alerts.firing()[1],
        dashboard: Some(dashboard),
        widget_series,
        ..Bootstrap::default()
    }
}

/// The built-in overview of the server's own host.
async fn host_overview(sources: &Sources) -> Dashboard {
    let (store, host) = (sources.store.clone(), sources.settings.host.clone());
    let total = tokio::task::spawn_blocking(move || memory_total(&store, &host))
        .await
        .ok()
        .flatten();
    overview(&sources.settings.host, total)
}

/// The newest installed memory `host` reported, if any in the last hour.
fn memory_total(store: &Store, host: &str) -> Option<f64> {
    let now = now_ms();
    let selected = store
        .select(
            MEMORY_TOTAL_BYTES,
            &[Matcher::equal("host", host)],
            now - 3_600_000,
            i64::MAX,
            1,
        )
        .ok()?;
    selected
        .into_iter()
        .next()
        .and_then(|(_, samples)| samples.last().map(|s| s.value))
}

/// Each widget's series over `window`, each selector's in its own list,
/// as many points as it shows; a selector whose read fails starts empty
/// (and the widget reads again once running).
fn widget_series(
    store: &Store,
    widgets: &[Widget],
    window: (i64, i64),
) -> Vec<app::protocol::WidgetSeries> {
    widgets
        .iter()
        .filter(|widget| !widget.series.is_empty())
        .map(|widget| {
            let max_points = match widget.kind {
                WidgetKind::Timeseries => CHART_POINTS,
                WidgetKind::Stat => SPARKLINE_POINTS,
                _ => VALUE_POINTS,
            };
            let queries = widget
                .series
                .iter()
                .map(|query| {
                    query::read_points(store, &query.selector, window, max_points, query.rate)
                        .unwrap_or_else(|error| {
                            tracing::warn!(widget = %widget.id, selector = %query.selector, %error, "cannot read a widget's series");
                            Vec::new()
                        })
                })
                .collect();
            (widget.id.clone(), queries)
        })
        .collect()
}

/// The lines of the alert rules that read each chart's series (those it
/// starts with), by widget id, as JSON thresholds: each rule's warning and
/// critical lines (a band's two edges), labelled with the rule.
fn rule_lines(
    alerts: &crate::alerts::Alerts,
    widgets: &[Widget],
    series: &[app::protocol::WidgetSeries],
) -> Vec<(String, String)> {
    use crate::alerts::rule::{Levels, Test};
    let (_, rules) = alerts.compiled();
    if rules.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for widget in widgets.iter().filter(|w| w.kind == WidgetKind::Timeseries) {
        let Some((_, queries)) = series.iter().find(|(id, _)| *id == widget.id) else {
            continue;
        };
        let mut lines = Vec::new();
        for rule in &rules {
            let Test::Value(levels) = &rule.test else {
                continue;
            };
            let reads = queries.iter().flatten().any(|s| {
                s.key.name == rule.selector.name
                    && rule
                        .selector
                        .matchers
                        .iter()
                        .all(|m| m.matches_labels(&s.key.labels))
            });
            if !reads {
                continue;
            }
            let mut line = |value: f64, level: &str| {
                lines.push(serde_json::json!({"value": value, "level": level, "label": format!("{} {level}", rule.rule.id)}));
            };
            for (i, level) in ["warning", "critical"].into_iter().enumerate() {
                match levels {
                    Levels::Above(l) | Levels::Below(l) => {
                        if let Some(l) = l[i] {
                            line(l.at, level);
                        }
                    }
                    Levels::Outside(bands) => {
                        if let Some((low, high)) = bands[i] {
                            line(low.at, level);
                            line(high.at, level);
                        }
                    }
                }
            }
        }
        if !lines.is_empty() {
            out.push((
                widget.id.clone(),
                serde_json::Value::from(lines).to_string(),
            ));
        }
    }
    out
}

/// The answer for a dashboard that does not exist: a page that says so.
fn not_found(id: &str) -> Response {
    let id = app::ui::cards::escape(&id.chars().take(100).collect::<String>());
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>No such dashboard</title></head>\
         <body><main><h1>No dashboard \u{201c}{id}\u{201d}</h1><p><a href=\"/\">All dashboards</a></p></main></body></html>"
    );
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn render(bootstrap: Bootstrap, request: Request<Body>) -> Response {
    let context = bootstrap.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(context.clone()),
        move || app::ui::shell(assets::page_assets(), &bootstrap),
    );
    render(request).await
}

/// Opens `channel` for a page and gives the position to follow it from.
fn open(hub: &Hub, channel: &str) -> app::protocol::Position {
    hub.open(channel).unwrap_or_else(|error| {
        // The channel cap is reached: points stored before the page
        // subscribes may not reach it live.
        tracing::warn!(%error, channel, "cannot open the channel for a page");
        hub.head()
    })
}

#[cfg(test)]
mod tests {
    use app::protocol::{HostSample, LoadAverage};

    use super::*;
    use crate::{
        query::parse_selector,
        sources::host::series_points,
        store::{Mode, StoreConfig},
    };

    fn sample(ts: i64, cpu: f32) -> HostSample {
        HostSample {
            ts,
            host: "web-1".into(),
            cpu_percent: cpu,
            cores_percent: vec![cpu, cpu / 2.0],
            memory_used_bytes: 1 << 30,
            memory_total_bytes: 4 << 30,
            load_average: LoadAverage {
                one: 0.5,
                five: 0.25,
                fifteen: 0.125,
            },
            net_rx_bytes_per_sec: 10.0,
            net_tx_bytes_per_sec: 20.0,
        }
    }

    /// A directory of its own, removed afterwards.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("livedash-page-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn store(dir: &TempDir) -> Store {
        Store::open(&StoreConfig::new(dir.0.clone())).unwrap().0
    }

    #[test]
    fn every_series_the_overview_reads_is_one_the_host_source_writes() {
        let written: Vec<String> = series_points(&sample(1, 1.0))
            .iter()
            .map(|p| p.key.name.clone())
            .collect();
        for widget in overview("web-1", None).widgets {
            for query in widget.series {
                let name = parse_selector(&query.selector).unwrap().name;
                assert!(written.contains(&name), "{name} is not written");
            }
        }
    }

    #[test]
    fn the_overview_starts_with_its_hosts_series_over_its_range() {
        let dir = TempDir::new("bootstrap");
        let store = store(&dir);
        let now = now_ms();
        for second in (0..=90).rev() {
            let points = series_points(&sample(now - second * 1_000, second as f32));
            store.ingest(&points, Mode::All, now).unwrap();
        }
        let other = series_points(&HostSample {
            host: "db-1".into(),
            ..sample(now, 99.0)
        });
        store.ingest(&other, Mode::All, now).unwrap();
        assert_eq!(memory_total(&store, "web-1"), Some((4u64 << 30) as f64));

        let overview = overview("web-1", None);
        let window = overview.time.resolve(now).unwrap().resolve(now);
        let series = widget_series(&store, &overview.widgets, window);
        let of = |id: &str| {
            series
                .iter()
                .find(|(w, _)| w == id)
                .map(|(_, queries)| queries.concat())
                .unwrap_or_default()
        };
        let total = of("cpu-total");
        assert_eq!(total.len(), 1, "the total alone: {total:?}");
        let points = &total[0].points;
        assert_eq!(points.last(), Some(&(now, 0.0)));
        assert!(
            points.first().is_some_and(|p| p.0 >= now - 60_000),
            "the last minute only"
        );
        assert_eq!(of("cpu").len(), 3, "the total and two cores");
        assert_eq!(of("core-use").len(), 2, "the cores");
        assert!(series
            .iter()
            .flat_map(|(_, queries)| queries.iter().flatten())
            .all(|s| s.key.labels["host"] == "web-1"));
    }
}
