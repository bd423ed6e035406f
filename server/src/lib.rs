//! The livedash server.
//!
//! Data flows one way: sources (`sources::host`) publish into the hub
//! (`hub`), the one ordered event log; transports (`transport::sse`) turn
//! subscriptions to the hub into streams for clients; the page (`page`) is
//! rendered with the hub's current state and hydrated by the embedded front
//! end (`assets`). Every request passes the same-origin checks (`origin`)
//! first.
//!
//! [`serve`] runs everything on a bound listener until its shutdown future
//! completes; `main` only parses the configuration and calls it.

pub mod alerts;
pub mod annotations;
pub mod assets;
pub mod config;
pub mod counters;
pub mod dashboards;
pub mod error;
pub mod files;
pub mod http;
pub mod hub;
pub mod memory;
pub mod origin;
pub mod outbound;
pub mod page;
pub mod publish;
pub mod query;
pub mod rng;
pub mod shutdown;
pub mod sources;
pub mod store;
pub mod transport;

use std::{future::Future, io, sync::Arc, time::Duration, time::Instant};

use axum::{
    extract::{FromRef, State},
    middleware::from_fn_with_state,
    response::IntoResponse,
    routing::get,
    Json, Router,
};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    annotations::Annotations,
    config::Config,
    counters::Counters,
    hub::{Hub, HubConfig},
    origin::{OriginGuard, OriginPolicy},
    page::PageSettings,
    store::{head::Limits, Store, StoreConfig},
    transport::Streams,
};

/// What the request handlers share. Cheap to clone. Handlers take only
/// the parts they need (`State<Hub>`, `State<Streams>`, ...) through
/// [`FromRef`].
#[derive(Clone, Debug)]
pub struct AppState {
    /// The event log.
    pub hub: Hub,
    /// What streaming transports share.
    pub streams: Streams,
    /// What pages are told.
    pub page: PageSettings,
    /// When the server started.
    pub started: Instant,
    /// Which pages may act on the server and which hosts it answers for.
    pub origin: Arc<OriginPolicy>,
    /// The metrics store.
    pub store: Store,
    /// The stored annotations.
    pub annotations: Annotations,
    /// The dashboard files.
    pub dashboards: dashboards::Dashboards,
    /// Who is viewing each dashboard.
    pub presence: dashboards::presence::Presence,
    /// The alert rules, the alerts and their history.
    pub alerts: alerts::Alerts,
}

impl FromRef<AppState> for alerts::Alerts {
    fn from_ref(state: &AppState) -> Self {
        state.alerts.clone()
    }
}

impl FromRef<AppState> for dashboards::presence::Presence {
    fn from_ref(state: &AppState) -> Self {
        state.presence.clone()
    }
}

impl FromRef<AppState> for dashboards::Dashboards {
    fn from_ref(state: &AppState) -> Self {
        state.dashboards.clone()
    }
}

impl FromRef<AppState> for Annotations {
    fn from_ref(state: &AppState) -> Self {
        state.annotations.clone()
    }
}

impl FromRef<AppState> for publish::Publisher {
    fn from_ref(state: &AppState) -> Self {
        publish::Publisher {
            hub: state.hub.clone(),
            annotations: state.annotations.clone(),
        }
    }
}

impl FromRef<AppState> for Hub {
    fn from_ref(state: &AppState) -> Self {
        state.hub.clone()
    }
}

impl FromRef<AppState> for Streams {
    fn from_ref(state: &AppState) -> Self {
        state.streams.clone()
    }
}

impl FromRef<AppState> for Arc<Counters> {
    fn from_ref(state: &AppState) -> Self {
        state.streams.counters.clone()
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for PageSettings {
    fn from_ref(state: &AppState) -> Self {
        state.page.clone()
    }
}

/// The HTTP routes, behind the same-origin checks.
pub fn app(state: AppState) -> Router {
    let origin_guard = OriginGuard {
        policy: state.origin.clone(),
        counters: state.streams.counters.clone(),
    };
    Router::new()
        .route("/", get(page::handler))
        .route("/d/{id}", get(page::dashboard))
        .route("/dashboards", axum::routing::post(dashboards::api::create))
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/api/realtime/sse", get(transport::sse::handler))
        .route("/api/realtime/ws", get(transport::ws::handler))
        .route("/api/realtime/poll", get(transport::poll::handler))
        .route(
            "/api/realtime/events",
            axum::routing::post(publish::handler),
        )
        .route("/api/ingest", axum::routing::post(sources::ingest::handler))
        // Where Prometheus and InfluxDB clients send, so they can point at
        // livedash unchanged.
        .route(
            "/api/v1/write",
            axum::routing::post(sources::ingest::remote_write_handler),
        )
        .route(
            "/write",
            axum::routing::post(sources::ingest::influx_handler),
        )
        .route(
            "/api/v2/write",
            axum::routing::post(sources::ingest::influx_handler),
        )
        .route(
            "/api/annotations",
            get(annotations::api::list).post(annotations::api::create),
        )
        .route(
            "/api/annotations/{id}",
            axum::routing::delete(annotations::api::remove),
        )
        .route("/api/dashboards", get(dashboards::api::list))
        .route(
            "/api/dashboards/{id}",
            get(dashboards::api::get).put(dashboards::api::put),
        )
        .route(
            "/api/dashboards/{id}/presence",
            axum::routing::post(dashboards::api::presence),
        )
        .route(
            "/api/dashboards/{id}/versions",
            get(dashboards::api::versions),
        )
        .route(
            "/api/dashboards/{id}/versions/{number}",
            get(dashboards::api::version),
        )
        .route(
            "/api/dashboards/{id}/versions/{number}/restore",
            axum::routing::post(dashboards::api::restore),
        )
        .route("/api/alerts", get(alerts::api::list))
        .route("/api/alerts/history", get(alerts::api::history))
        .route(
            "/api/alerts/rules",
            get(alerts::api::rules).post(alerts::api::create),
        )
        .route(
            "/api/alerts/rules/{id}",
            get(alerts::api::rule)
                .put(alerts::api::put)
                .delete(alerts::api::delete),
        )
        .route(
            "/api/alerts/silences",
            axum::routing::post(alerts::api::silence),
        )
        .route(
            "/api/alerts/silences/{id}",
            axum::routing::delete(alerts::api::unsilence),
        )
        .route(
            "/api/alerts/{id}/ack",
            axum::routing::post(alerts::api::ack),
        )
        .route("/api/series", get(query::handler))
        .route("/api/series/names", get(query::names))
        .route("/api/series/labels", get(query::label_names))
        .route(
            "/api/series/labels/{label}/values",
            get(query::label_values),
        )
        .fallback(assets::handler)
        .layer(from_fn_with_state(origin_guard, origin::guard))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "position": state.hub.head(),
    }))
}

async fn prometheus(
    State(hub): State<Hub>,
    State(counters): State<Arc<Counters>>,
) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        counters.render(hub.report()),
    )
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The cause.
        source: io::Error,
    },
    /// The host cannot be sampled.
    #[error(transparent)]
    Host(#[from] sources::host::HostError),
    /// The metrics store cannot be opened.
    #[error("cannot open the metrics store: {0}")]
    Store(#[from] store::StoreError),
    /// The annotations cannot be opened.
    #[error("cannot open the annotations: {0}")]
    Annotations(#[from] annotations::AnnotationError),
    /// The dashboards directory cannot be opened.
    #[error("cannot open the dashboards: {0}")]
    Dashboards(#[from] dashboards::SaveError),
    /// The alerts cannot be opened.
    #[error("cannot open the alerts: {0}")]
    Alerts(#[from] alerts::AlertsError),
    /// The TLS client cannot be set up.
    #[error(transparent)]
    Tls(#[from] outbound::TlsSetupError),
    /// Serving failed.
    #[error("the server failed: {0}")]
    Serve(io::Error),
}

/// Binds the configured address and serves until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), ServerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            address: config.listen.to_string(),
            source,
        })?;
    serve(listener, config, termination_signal()).await
}

/// Serves on `listener` until `signal` completes, then shuts down: streams
/// end, new ones are refused, and after the configured grace period any
/// connection still open is dropped.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // Leptos's server rendering spawns on this executor; a second call
    // (several servers in one test process) is harmless.
    let _ = any_spawner::Executor::init_tokio();
    let (trigger, shutdown) = shutdown::channel();
    let counters = Arc::new(Counters::default());
    let coalesce_window = match config.max_updates_per_second {
        0 => Duration::ZERO,
        rate => Duration::from_secs(1) / rate,
    };
    let hub = Hub::new(HubConfig {
        history_events: config.history_events as usize,
        history_bytes: config.history_bytes,
        history_budget: config.history_budget,
        history_age: config.history_age,
        max_channels: config.max_channels as usize,
        coalesce_window,
    });
    let address = listener.local_addr().map_err(ServerError::Serve)?;
    let origin = Arc::new(OriginPolicy::new(
        &config.allowed_origins,
        &config.public_hosts,
        address.ip(),
    ));
    let store_config = StoreConfig {
        dir: store::store_dir(&config.data_dir),
        limits: Limits {
            max_series: config.max_series as usize,
            ..Limits::default()
        },
        retention_ms: millis(config.retention_raw),
        rollup_retention_ms: [millis(config.retention_1m), millis(config.retention_1h)],
        rewrite_floor_bytes: store::REWRITE_FLOOR_BYTES,
    };
    let (store, opened) = tokio::task::spawn_blocking(move || Store::open(&store_config))
        .await
        .map_err(|e| ServerError::Serve(io::Error::other(e)))??;
    tracing::info!(
        series = opened.series,
        samples = opened.samples,
        skipped_records = opened.skipped_records,
        torn_bytes = opened.torn_bytes,
        "metrics store opened"
    );
    if let Some((path, offset)) = &opened.corrupt {
        tracing::warn!(path = %path.display(), offset, "the write-ahead log was damaged; what followed the damage was set aside");
    }
    let annotations_dir = annotations::annotations_dir(&config.data_dir);
    let (annotations, loaded) =
        tokio::task::spawn_blocking(move || Annotations::open(&annotations_dir))
            .await
            .map_err(|e| ServerError::Serve(io::Error::other(e)))??;
    tracing::info!(
        annotations = loaded.annotations,
        torn_bytes = loaded.torn_bytes,
        skipped_records = loaded.skipped,
        "annotations opened"
    );
    let dashboards_dir = config
        .dashboards_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("dashboards"));
    let demo_dashboard = config.demo;
    let dashboards = tokio::task::spawn_blocking(move || {
        let dashboards = dashboards::Dashboards::open(&dashboards_dir)?;
        if demo_dashboard {
            dashboards.add_demo()?;
        }
        Ok::<_, dashboards::SaveError>(dashboards)
    })
    .await
    .map_err(|e| ServerError::Serve(io::Error::other(e)))??;
    let alerts_dir = config.data_dir.join("alerts");
    let alert_rules = config.alert_rules.clone();
    let alerts_hub = hub.clone();
    let webhooks = config.alert_webhooks.clone();
    let charts = alerts::periods::Charts {
        dashboards: dashboards.clone(),
        overview: app::ui::host::overview(&sources::host::host_name(), None),
    };
    let (alerts, outbox) = tokio::task::spawn_blocking(move || {
        let outbox = alerts::webhook::Outbox::open(&alerts_dir, webhooks).map_err(|source| {
            alerts::AlertsError::Io {
                path: alerts_dir.clone(),
                source,
            }
        })?;
        let alerts = alerts::Alerts::open_with(
            &alerts_dir,
            alert_rules,
            alerts_hub,
            Some(outbox.clone()),
            Some(charts),
        )?;
        Ok::<_, alerts::AlertsError>((alerts, outbox))
    })
    .await
    .map_err(|e| ServerError::Serve(io::Error::other(e)))??;
    let client = outbound::Client::new(config.tls_ca_file.as_deref())?;
    let webhook_sender = tokio::spawn(alerts::webhook::run(
        outbox,
        client.clone(),
        shutdown.clone(),
    ));
    // The evaluator sees every stored sample through the store's tap.
    let (tap, tapped) = store::Tap::new(alerts::engine::TAP_BATCHES);
    if store.set_tap(tap).is_err() {
        tracing::warn!("the store already has a tap: alerts are evaluated by the clock only");
    }
    let evaluator = tokio::spawn(alerts::engine::run(
        alerts.clone(),
        store.clone(),
        tapped,
        shutdown.clone(),
    ));
    let presence = dashboards::presence::Presence::default();
    let presence_sweeper = tokio::spawn(dashboards::presence::run_sweeper(
        presence.clone(),
        dashboards.clone(),
        hub.clone(),
        shutdown.clone(),
    ));
    let watcher = tokio::spawn(dashboards::run_watcher(
        dashboards.clone(),
        hub.clone(),
        shutdown.clone(),
    ));
    let syncer = tokio::spawn(store::run_syncer(
        store.clone(),
        Duration::from_secs(1),
        shutdown.clone(),
    ));
    let sampler = sources::host::start(
        hub.clone(),
        store.clone(),
        config.sample_interval,
        shutdown.clone(),
    )
    .await?;
    let scrapers = sources::scrape::start(&config.scrape, &client, &store, &hub, &shutdown);
    let demo = config.demo.then(|| {
        sources::demo::start(
            hub.clone(),
            store.clone(),
            config.sample_interval,
            shutdown.clone(),
        )
    });
    // Idle channels and aged events go within a tenth of the history age
    // (at most every 10 s, at least every second).
    let sweep_every =
        (config.history_age / 10).clamp(Duration::from_secs(1), Duration::from_secs(10));
    let janitor = tokio::spawn(
        hub.clone()
            .run_janitor(sweep_every, shutdown.clone().wait()),
    );
    let max_streams = config.max_connections as usize;
    let state = AppState {
        hub,
        streams: Streams::new(
            counters.clone(),
            config.heartbeat_interval,
            shutdown.clone(),
            max_streams,
        ),
        page: PageSettings {
            host: Arc::from(sources::host::host_name()),
            sample_interval: config.sample_interval,
            heartbeat_ms: u64::try_from(config.heartbeat_interval.as_millis()).unwrap_or(u64::MAX),
            reconnect: config.reconnect_settings(),
        },
        started: Instant::now(),
        origin,
        store,
        annotations,
        dashboards,
        presence,
        alerts,
    };
    tracing::info!(%address, embedded_files = assets::file_count(), "livedash is listening");
    if !state.origin.checks_host() {
        tracing::info!(
            %address,
            "not bound to loopback and no --public-hosts: requests for any host name are answered"
        );
    }

    let options = http::HttpOptions {
        // Streams, plus room for page loads, assets and API calls beside them.
        max_connections: max_streams + 1024,
        grace: config.shutdown_grace,
        write_timeout: http::WRITE_TIMEOUT,
    };
    let server = http::serve(listener, app(state), options, shutdown.clone(), counters);
    tokio::pin!(server);
    tokio::select! {
        () = &mut server => {}
        () = signal => {
            tracing::info!("shutting down");
            trigger.trigger();
            server.await;
        }
    }
    trigger.trigger();
    for task in scrapers.into_iter().chain(demo) {
        if let Err(error) = task.await {
            tracing::error!(%error, task = "scraper", "a background task panicked");
        }
    }
    for (name, task) in [
        ("host sampler", sampler),
        ("janitor", janitor),
        ("store syncer", syncer),
        ("dashboard watcher", watcher),
        ("presence sweeper", presence_sweeper),
        ("alert evaluator", evaluator),
        ("webhook sender", webhook_sender),
    ] {
        if let Err(error) = task.await {
            tracing::error!(%error, task = name, "a background task panicked");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn termination_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
