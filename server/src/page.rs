//! The dashboard page: server-rendered with the current data in it.
//!
//! The page carries a [`Bootstrap`]: the retained host samples and the log
//! position they reach, read from the hub in one step. The live client in
//! the browser resumes from that position, so it misses nothing between the
//! render and its first event.

use app::protocol::{Bootstrap, Envelope, HostSample, METRICS_CHANNEL};
use axum::{body::Body, extract::State, http::Request, response::Response};
use leptos::prelude::provide_context;

use crate::{assets, hub::Hub};

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
    State(settings): State<PageSettings>,
    request: Request<Body>,
) -> Response {
    let bootstrap = bootstrap(&hub, settings);
    let context = bootstrap.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(context.clone()),
        move || app::ui::shell(assets::page_assets(), &bootstrap),
    );
    render(request).await
}

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
        heartbeat_ms: settings.heartbeat_ms,
        reconnect: settings.reconnect,
    }
}
