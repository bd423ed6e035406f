//! The dashboard page: server-rendered with the current data in it.
//!
//! The page shows the server's own host as the metrics store's series
//! (`app::ui::host`: `livedash_host_cpu_percent{host}` and the rest). Its
//! [`Bootstrap`] carries the CPU chart's last minute and each card's newest
//! point, read from the store, and the log position from which the page
//! then follows the same series on the `series` channel.
//!
//! History and live meet with no gap: [`bootstrap`] takes the position
//! first, opening the `series` channel under the same lock
//! ([`Hub::open`]) so that whatever is stored from then on is published
//! even if no page followed the channel yet, and reads the store after. A
//! point published at or before the position was stored before it (a
//! source stores, then publishes), so the read holds it; a point published
//! after it reaches the page live. A point stored before the read but
//! published after the position is in both, and the page keeps each time
//! once.

use std::{sync::Arc, time::Duration};

use app::{
    protocol::{Bootstrap, SeriesPoints, SERIES_CHANNEL},
    ui::host::{Reading, CPU_CHART_SPAN_MS, SHOWN},
};
use axum::{body::Body, extract::State, http::Request, response::Response};
use leptos::prelude::provide_context;

use crate::{
    assets,
    hub::{now_ms, Hub},
    store::{Matcher, Store},
};

/// What a page is told about the server beside its data.
#[derive(Clone, Debug)]
pub struct PageSettings {
    /// The host the page shows: the server's own.
    pub host: Arc<str>,
    /// How often the host is sampled: a card's newest point is at most
    /// about this old.
    pub sample_interval: Duration,
    /// The server's heartbeat interval, in milliseconds.
    pub heartbeat_ms: u64,
    /// How pages reconnect.
    pub reconnect: app::protocol::ReconnectSettings,
}

/// Most series of one metric name the page reads (a CPU's cores).
const MAX_SERIES_PER_NAME: usize = 1_024;

/// Renders the dashboard.
pub async fn handler(
    State(hub): State<Hub>,
    State(store): State<Store>,
    State(settings): State<PageSettings>,
    request: Request<Body>,
) -> Response {
    let mut bootstrap = bootstrap(&hub, &store, &settings).await;
    bootstrap.kiosk = request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("kiosk"))
    });
    let context = bootstrap.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(context.clone()),
        move || app::ui::shell(assets::page_assets(), &bootstrap),
    );
    render(request).await
}

/// What the page starts with: the position, then the host's series from
/// the store (in this order; see the module's documentation).
pub async fn bootstrap(hub: &Hub, store: &Store, settings: &PageSettings) -> Bootstrap {
    let position = hub.open(SERIES_CHANNEL).unwrap_or_else(|error| {
        // The channel cap is reached: points stored before the page
        // subscribes may not reach it live.
        tracing::warn!(%error, channel = SERIES_CHANNEL, "cannot open the channel for a page");
        hub.head()
    });
    let (store, host) = (store.clone(), settings.host.clone());
    let recent_ms = i64::try_from(settings.sample_interval.as_millis())
        .unwrap_or(i64::MAX)
        .saturating_mul(2)
        .max(CPU_CHART_SPAN_MS);
    let now = now_ms();
    let series = tokio::task::spawn_blocking(move || host_series(&store, &host, now, recent_ms))
        .await
        .unwrap_or_default();
    Bootstrap {
        position: Some(position),
        host: settings.host.to_string(),
        series,
        heartbeat_ms: settings.heartbeat_ms,
        reconnect: settings.reconnect,
        now_ms: now,
        kiosk: false,
    }
}

/// The host's series the page shows, from the store: the CPU total's
/// points over the chart's span before `now`, every other series' newest
/// point within `recent_ms` (a series with none is left out).
pub fn host_series(store: &Store, host: &str, now: i64, recent_ms: i64) -> Vec<SeriesPoints> {
    let host_matcher = [Matcher::equal("host", host)];
    let mut shown = Vec::new();
    for name in SHOWN {
        // Points up to the newest stored: a point taken a moment after
        // `now` is better shown than sent again.
        let selected = match store.select(
            name,
            &host_matcher,
            now.saturating_sub(recent_ms),
            i64::MAX,
            MAX_SERIES_PER_NAME,
        ) {
            Ok(selected) => selected,
            Err(error) => {
                tracing::warn!(name, %error, "cannot read the page's series; left out");
                continue;
            }
        };
        for (key, samples) in selected {
            let Some(reading) = Reading::of(&key, host) else {
                continue;
            };
            let points: Vec<(i64, f64)> = if reading == Reading::Cpu {
                let from = samples.last().map_or(now, |s| s.ts) - CPU_CHART_SPAN_MS;
                samples
                    .iter()
                    .filter(|s| s.ts >= from)
                    .map(|s| (s.ts, s.value))
                    .collect()
            } else {
                samples
                    .last()
                    .map(|s| (s.ts, s.value))
                    .into_iter()
                    .collect()
            };
            if !points.is_empty() {
                shown.push(SeriesPoints {
                    key,
                    points,
                    band: None,
                });
            }
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use app::protocol::{HostSample, LoadAverage};

    use super::*;
    use crate::{
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
    fn every_series_the_page_shows_is_one_the_host_source_writes() {
        let written: Vec<String> = series_points(&sample(1, 1.0))
            .iter()
            .map(|p| p.key.name.clone())
            .collect();
        for name in SHOWN {
            assert!(written.iter().any(|w| w == name), "{name} is not written");
        }
    }

    #[test]
    fn the_page_gets_the_charts_last_minute_and_each_cards_newest_point() {
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

        let shown = host_series(&store, "web-1", now, CPU_CHART_SPAN_MS);
        let of = |reading: Reading| {
            shown
                .iter()
                .find(|s| Reading::of(&s.key, "web-1") == Some(reading))
                .map(|s| s.points.clone())
                .unwrap_or_default()
        };
        let chart = of(Reading::Cpu);
        assert_eq!(chart.len(), 61, "one minute of points, both ends included");
        assert_eq!(chart.first(), Some(&(now - 60_000, 60.0)));
        assert_eq!(chart.last(), Some(&(now, 0.0)));
        assert_eq!(of(Reading::Core(1)), [(now, 0.0)]);
        assert_eq!(of(Reading::Load15), [(now, 0.125)]);
        assert_eq!(shown.len(), 10, "the total, two cores, seven others");
        assert!(shown.iter().all(|s| s.key.labels["host"] == "web-1"));
    }
}
