//! The dashboard page: server-rendered with the current data in it.
//!
//! The page carries a [`Bootstrap`]: the retained host samples and the log
//! position they reach, read from the hub in one step, and the CPU chart's
//! last minute from the metrics store (which reaches back past a restart).
//! The live client in the browser resumes from that position, so it misses
//! nothing between the render and its first event.

use app::protocol::{Bootstrap, Envelope, HostSample, METRICS_CHANNEL};
use axum::{body::Body, extract::State, http::Request, response::Response};
use leptos::prelude::provide_context;

use crate::{
    assets,
    hub::Hub,
    sources::host::CPU_SERIES,
    store::{Matcher, Store},
};

/// What a page is told about the server beside its data.
#[derive(Clone, Copy, Debug)]
pub struct PageSettings {
    /// The server's heartbeat interval, in milliseconds.
    pub heartbeat_ms: u64,
    /// How pages reconnect.
    pub reconnect: app::protocol::ReconnectSettings,
}

/// The newest samples a page is rendered with (the chart's minute, and some).
const BOOTSTRAP_SAMPLES: usize = 120;

/// Renders the dashboard.
pub async fn handler(
    State(hub): State<Hub>,
    State(store): State<Store>,
    State(settings): State<PageSettings>,
    request: Request<Body>,
) -> Response {
    let mut bootstrap = bootstrap(&hub, settings);
    if let Some(host) = bootstrap.samples.last().map(|s| s.host.clone()) {
        let to = bootstrap.samples.last().map_or(0, |s| s.ts);
        bootstrap.cpu_history = tokio::task::spawn_blocking(move || cpu_history(&store, &host, to))
            .await
            .unwrap_or_default();
    }
    let context = bootstrap.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(context.clone()),
        move || app::ui::shell(assets::page_assets(), &bootstrap),
    );
    render(request).await
}

/// The host's total CPU use over the chart's span up to `to`, from the
/// store.
fn cpu_history(store: &Store, host: &str, to: i64) -> Vec<(i64, f64)> {
    let matchers = [
        Matcher::equal("host", host),
        // The total, not a core.
        Matcher::equal("core", ""),
    ];
    store
        .select(CPU_SERIES, &matchers, to - CPU_HISTORY_MS, to, 1)
        .ok()
        .and_then(|series| series.into_iter().next())
        .map(|(_, samples)| samples.into_iter().map(|s| (s.ts, s.value)).collect())
        .unwrap_or_default()
}

/// How far back the chart's history reaches.
const CPU_HISTORY_MS: i64 = 60_000;

/// What the page starts with.
pub fn bootstrap(hub: &Hub, settings: PageSettings) -> Bootstrap {
    let (position, events) = hub.history(METRICS_CHANNEL);
    let skip = events.len().saturating_sub(BOOTSTRAP_SAMPLES);
    let samples = events
        .iter()
        .skip(skip)
        .filter_map(|event| serde_json::from_slice::<Envelope<HostSample>>(&event.json).ok())
        .map(|envelope| envelope.data)
        .collect();
    Bootstrap {
        position: Some(position),
        samples,
        cpu_history: Vec::new(),
        heartbeat_ms: settings.heartbeat_ms,
        reconnect: settings.reconnect,
    }
}
