//! The page's reactive store: one signal per thing that changes.
//!
//! Widgets read only the memos they draw, so a new sample re-renders a card
//! only when its own text changes. The live client writes here and nowhere
//! else.

use leptos::prelude::*;

use crate::{
    live::{series::SeriesWindow, state::ConnectionState},
    protocol::{Bootstrap, HostSample},
};

/// How much CPU history the chart shows.
pub const CHART_SPAN_MS: i64 = 60_000;
/// The most points the chart keeps, whatever the sample rate.
pub const CHART_MAX_POINTS: usize = 1_200;

/// The page's live state, shared by every widget through context.
#[derive(Clone, Copy)]
pub struct LiveStore {
    /// The newest host sample.
    pub sample: RwSignal<Option<HostSample>>,
    /// The total CPU percentage over the chart's span.
    pub cpu_series: RwSignal<SeriesWindow>,
    /// The connection's state.
    pub connection: RwSignal<ConnectionState>,
}

impl LiveStore {
    /// A store holding what the server rendered into the page.
    pub fn new(bootstrap: &Bootstrap) -> Self {
        let mut series = SeriesWindow::new(CHART_SPAN_MS, CHART_MAX_POINTS);
        for sample in &bootstrap.samples {
            series.push(sample.ts, f64::from(sample.cpu_percent));
        }
        Self {
            sample: RwSignal::new(bootstrap.samples.last().cloned()),
            cpu_series: RwSignal::new(series),
            connection: RwSignal::new(ConnectionState::Connecting),
        }
    }

    /// Applies a new sample: it becomes the current value unless an equal or
    /// newer one is already shown, and joins the chart's series.
    pub fn apply_sample(&self, sample: HostSample) {
        let newer = self
            .sample
            .with_untracked(|current| current.as_ref().is_none_or(|c| sample.ts > c.ts));
        if !newer {
            return;
        }
        self.cpu_series.update(|series| {
            series.push(sample.ts, f64::from(sample.cpu_percent));
        });
        self.sample.set(Some(sample));
    }

    /// The host's name, empty until a sample arrived.
    pub fn host(&self) -> String {
        self.sample
            .with(|s| s.as_ref().map(|s| s.host.clone()).unwrap_or_default())
    }

    /// A memo of one value derived from the newest sample.
    pub fn derive<T>(&self, f: impl Fn(&HostSample) -> T + Send + Sync + 'static) -> Memo<Option<T>>
    where
        T: PartialEq + Send + Sync + 'static,
    {
        let sample = self.sample;
        Memo::new(move |_| sample.with(|s| s.as_ref().map(&f)))
    }

    /// Opens the live connection that feeds this store.
    #[cfg(feature = "hydrate")]
    pub fn connect(self, since: Option<crate::protocol::Position>, _heartbeat_ms: u64) {
        use crate::{
            live::{
                backoff::Backoff,
                sse::{Delivery, SseClient, SseOptions},
            },
            protocol::{METRICS_CHANNEL, METRICS_EVENT},
        };

        let options = SseOptions {
            path: "/api/realtime/sse".to_string(),
            channels: vec![METRICS_CHANNEL.to_string()],
            event_types: vec![METRICS_EVENT.to_string()],
            since,
            backoff: Backoff::default(),
        };
        let store = self;
        Effect::new(move |_| {
            let client = SseClient::connect(
                options.clone(),
                move |delivery| match delivery {
                    Delivery::Event(envelope) => store.apply_envelope(envelope),
                    Delivery::Snapshot(snapshot) => {
                        for envelope in snapshot.events {
                            store.apply_envelope(envelope);
                        }
                    }
                },
                move |state| store.connection.set(state),
            );
            // The client lives as long as the page: dropping it would close
            // the stream.
            std::mem::forget(client);
        });
    }

    #[cfg(feature = "hydrate")]
    fn apply_envelope(&self, envelope: crate::protocol::Envelope<serde_json::Value>) {
        use crate::protocol::{METRICS_CHANNEL, METRICS_EVENT};
        if envelope.channel != METRICS_CHANNEL || envelope.event != METRICS_EVENT {
            return;
        }
        match serde_json::from_value::<HostSample>(envelope.data) {
            Ok(sample) => self.apply_sample(sample),
            Err(error) => leptos::logging::warn!("livedash: ignoring a malformed sample: {error}"),
        }
    }
}
