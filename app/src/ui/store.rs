//! The page's reactive store: one signal per thing that changes.
//!
//! The live client hands deliveries to [`LiveStore::receive`], which only
//! buffers them ([`FrameBuffer`]). Once per animation frame (a timer while
//! the tab is hidden, so work still happens, just less often) the buffer is
//! applied in one batch: every metric sample joins the CPU series, but each
//! signal is set at most once, with the newest value. Widgets read only the
//! memos they show, so an update re-renders only what changed. While the
//! display is paused nothing is applied; the bounded buffer keeps
//! collecting and the page catches up on resume.

use std::collections::{BTreeMap, VecDeque};

use leptos::prelude::*;
use serde_json::Value;

use crate::{
    live::{
        frame::{Delivery, Frame, FrameBuffer},
        interest::{Interest, Needs},
        patch::{Patch, PATCH_EVENT},
        series::SeriesWindow,
        state::{ConnectionState, Transport},
    },
    protocol::{Bootstrap, Envelope, HostSample, Position, METRICS_CHANNEL, METRICS_EVENT},
};

/// How much CPU history the chart shows.
pub const CHART_SPAN_MS: i64 = 60_000;
/// The most points the chart keeps, whatever the sample rate.
pub const CHART_MAX_POINTS: usize = 1_200;
/// The dashboard's own channel: activity events and board patches.
pub const DASHBOARD_CHANNEL: &str = "dashboard:main";
/// Activity entries kept on the page.
pub const FEED_LIMIT: usize = 200;
/// Deliveries buffered between frames (and while paused).
pub const FRAME_BUFFER: usize = 20_000;

/// One activity entry.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedItem {
    /// Its position (unique: the list's key).
    pub id: Position,
    /// Its event type.
    pub event: String,
    /// Its payload, as JSON text.
    pub text: String,
}

/// What one frame changes, gathered before any signal is written.
#[derive(Default)]
struct FrameChanges {
    /// The newest sample of this host.
    newest_sample: Option<HostSample>,
    /// Every sample's CPU point, for the series.
    points: Vec<(i64, f64)>,
    /// New activity entries, oldest first.
    feed: Vec<FeedItem>,
    /// Status board patches, in order.
    patches: Vec<Patch>,
}

/// The page's live state, shared by every widget through context.
#[derive(Clone, Copy)]
pub struct LiveStore {
    /// The newest host sample.
    pub sample: RwSignal<Option<HostSample>>,
    /// The total CPU percentage over the chart's span.
    pub cpu_series: RwSignal<SeriesWindow>,
    /// The connection's state.
    pub connection: RwSignal<ConnectionState>,
    /// The transport in use.
    pub transport: RwSignal<Transport>,
    /// The transport the user pinned, if any.
    pub pinned: RwSignal<Option<Transport>>,
    /// Messages waiting for a connection that can carry them.
    pub outbox: RwSignal<usize>,
    /// The position of the last event applied to the page.
    pub position: RwSignal<Option<Position>>,
    /// When the page last applied an update (`performance.now()` ms).
    pub updated_at: RwSignal<Option<f64>>,
    /// The display is frozen.
    pub paused: RwSignal<bool>,
    /// Recent activity on the dashboard channel, newest first.
    pub feed: RwSignal<VecDeque<FeedItem>>,
    /// How many activity events the page has applied.
    pub feed_count: RwSignal<u64>,
    /// The keys of the status board, in order.
    pub board_keys: RwSignal<Vec<String>>,
    /// Each board item's value: one signal per key.
    pub board: RwSignal<BTreeMap<String, RwSignal<Value>>>,
    /// What the mounted widgets need from the server.
    needs: RwSignal<Needs>,
    /// The server's own host: the cards and the chart show its samples only.
    own_host: StoredValue<Option<String>>,
    runtime: StoredValue<Runtime, LocalStorage>,
}

/// What the store holds outside the reactive graph.
#[derive(Default)]
struct Runtime {
    buffer: Option<FrameBuffer>,
    frame_scheduled: bool,
    #[cfg(feature = "hydrate")]
    client: Option<crate::live::client::LiveClient>,
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
            transport: RwSignal::new(Transport::Sse),
            pinned: RwSignal::new(None),
            outbox: RwSignal::new(0),
            position: RwSignal::new(bootstrap.position),
            updated_at: RwSignal::new(None),
            paused: RwSignal::new(false),
            feed: RwSignal::new(VecDeque::new()),
            feed_count: RwSignal::new(0),
            board_keys: RwSignal::new(Vec::new()),
            board: RwSignal::new(BTreeMap::new()),
            needs: RwSignal::new(Needs::default()),
            own_host: StoredValue::new(bootstrap.samples.last().map(|s| s.host.clone())),
            runtime: StoredValue::new_local(Runtime {
                buffer: Some(FrameBuffer::new(FRAME_BUFFER)),
                ..Runtime::default()
            }),
        }
    }

    /// Declares that the calling widget needs `channel` (only `keys` of it,
    /// when given) for as long as it is mounted. The client subscribes to
    /// the union of what mounted widgets need, and drops what no widget
    /// needs any more.
    pub fn need(&self, channel: &str, keys: Option<Vec<String>>) {
        let id = self
            .needs
            .try_update(|needs| needs.add(channel, keys))
            .unwrap_or_default();
        let needs = self.needs;
        on_cleanup(move || {
            needs.try_update(|needs| needs.remove(id));
        });
    }

    /// Declares that the calling widget shows this host's samples.
    pub fn need_own_samples(&self) {
        let keys = self.own_host.get_value().map(|host| vec![host]);
        self.need(METRICS_CHANNEL, keys);
    }

    /// What the mounted widgets need.
    pub fn interest(&self) -> Interest {
        self.needs.with(Needs::interest)
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

    /// Buffers a delivery for the next frame.
    pub fn receive(&self, delivery: Delivery) {
        self.runtime.update_value(|runtime| {
            if let Some(buffer) = runtime.buffer.as_mut() {
                buffer.push(delivery);
            }
        });
        self.schedule_frame();
    }

    /// Freezes or unfreezes the display; unfreezing applies what was buffered.
    pub fn set_paused(&self, paused: bool) {
        self.paused.set(paused);
        if !paused {
            self.schedule_frame();
        }
    }

    /// Applies everything buffered, now.
    pub fn apply_pending(&self) {
        self.runtime
            .update_value(|runtime| runtime.frame_scheduled = false);
        if self.paused.get_untracked() {
            return;
        }
        let frame = self
            .runtime
            .try_update_value(|runtime| runtime.buffer.as_mut().map(FrameBuffer::take))
            .flatten();
        if let Some(frame) = frame {
            self.apply_frame(frame);
        }
    }

    /// Applies one frame: each signal is written at most once.
    pub fn apply_frame(&self, frame: Frame) {
        if frame.overflowed {
            leptos::logging::warn!("livedash: the page fell too far behind; resynchronising");
            self.resync();
        }
        let mut last_position = None;
        let mut changes = FrameChanges::default();
        for (channels, snapshot) in &frame.snapshots {
            // A snapshot replaces the state of the channels it covers.
            if channels.iter().any(|c| c == DASHBOARD_CHANNEL) {
                self.feed.set(VecDeque::new());
                self.feed_count.set(0);
                self.board_keys.set(Vec::new());
                self.board.set(BTreeMap::new());
            }
            for envelope in &snapshot.events {
                self.collect(envelope, &mut changes);
            }
        }
        // Every sample joins the series' history; other events count only
        // in their current form (the newest value of each key).
        for envelope in &frame.events {
            last_position = Some(envelope.id);
            if envelope.channel == METRICS_CHANNEL {
                self.collect(envelope, &mut changes);
            }
        }
        for envelope in frame.current() {
            if envelope.channel != METRICS_CHANNEL {
                self.collect(envelope, &mut changes);
            }
        }
        let FrameChanges {
            newest_sample,
            points: new_points,
            feed: feed_items,
            patches,
        } = changes;
        if !new_points.is_empty() {
            self.cpu_series.update(|series| {
                for (ts, value) in new_points {
                    series.push(ts, value);
                }
            });
        }
        if let Some(sample) = newest_sample {
            let newer = self
                .sample
                .with_untracked(|c| c.as_ref().is_none_or(|c| sample.ts > c.ts));
            if newer {
                self.sample.set(Some(sample));
            }
        }
        if !feed_items.is_empty() {
            let added = feed_items.len() as u64;
            self.feed.update(|feed| {
                for item in feed_items {
                    feed.push_front(item);
                }
                feed.truncate(FEED_LIMIT);
            });
            self.feed_count.update(|count| *count += added);
        }
        if !patches.is_empty() {
            self.apply_patches(patches);
        }
        if let Some(position) = last_position {
            self.position.set(Some(position));
        }
        if !frame.snapshots.is_empty() || last_position.is_some() {
            self.updated_at.set(Some(now()));
        }
    }

    /// Whether a sample is of the server's own host (the only one the cards
    /// and the chart show), when the page knows it.
    fn is_own_sample(&self, envelope: &Envelope<Value>) -> bool {
        self.own_host.with_value(|own| match (own, &envelope.key) {
            (Some(own), Some(key)) => own == key,
            _ => true,
        })
    }

    /// Gathers what `envelope` changes.
    fn collect(&self, envelope: &Envelope<Value>, changes: &mut FrameChanges) {
        match (envelope.channel.as_str(), envelope.event.as_str()) {
            (METRICS_CHANNEL, METRICS_EVENT) if !self.is_own_sample(envelope) => {}
            (METRICS_CHANNEL, METRICS_EVENT) => {
                match serde_json::from_value::<HostSample>(envelope.data.clone()) {
                    Ok(sample) => {
                        changes
                            .points
                            .push((sample.ts, f64::from(sample.cpu_percent)));
                        if changes
                            .newest_sample
                            .as_ref()
                            .is_none_or(|s| sample.ts > s.ts)
                        {
                            changes.newest_sample = Some(sample);
                        }
                    }
                    Err(error) => {
                        leptos::logging::warn!("livedash: ignoring a malformed sample: {error}")
                    }
                }
            }
            (DASHBOARD_CHANNEL, PATCH_EVENT) => {
                match serde_json::from_value::<Patch>(envelope.data.clone()) {
                    Ok(patch) => changes.patches.push(patch),
                    Err(error) => {
                        leptos::logging::warn!("livedash: ignoring a malformed patch: {error}")
                    }
                }
            }
            (DASHBOARD_CHANNEL, _) => changes.feed.push(FeedItem {
                id: envelope.id,
                event: envelope.event.clone(),
                text: envelope.data.to_string(),
            }),
            _ => {}
        }
    }

    /// Applies patches: only the items whose value changed are touched, and
    /// the key list only when keys come or go.
    fn apply_patches(&self, patches: Vec<Patch>) {
        let mut keys_changed = false;
        let mut board = self.board.get_untracked();
        for patch in patches {
            match patch {
                Patch::Add { key, value } | Patch::Replace { key, value } => {
                    match board.get(&key) {
                        Some(signal) => signal.set(value),
                        None => {
                            board.insert(key, RwSignal::new(value));
                            keys_changed = true;
                        }
                    }
                }
                Patch::Remove { key } => keys_changed |= board.remove(&key).is_some(),
            }
        }
        while board.len() > crate::live::patch::MAX_ITEMS {
            board.pop_first();
        }
        if keys_changed {
            self.board_keys.set(board.keys().cloned().collect());
            self.board.set(board);
        }
    }

    fn schedule_frame(&self) {
        let already = self
            .runtime
            .try_update_value(|runtime| std::mem::replace(&mut runtime.frame_scheduled, true));
        #[cfg(feature = "hydrate")]
        if already != Some(true) {
            frames::request(*self);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = already;
    }

    fn resync(&self) {
        #[cfg(feature = "hydrate")]
        self.runtime.with_value(|runtime| {
            if let Some(client) = &runtime.client {
                client.resync();
            }
        });
    }

    /// Drops any scheduled attempt and reconnects now.
    pub fn reconnect(&self) {
        #[cfg(feature = "hydrate")]
        self.runtime.with_value(|runtime| {
            if let Some(client) = &runtime.client {
                client.reconnect_now();
            }
        });
    }

    /// Pins a transport (`None`: automatic).
    pub fn pin_transport(&self, transport: Option<Transport>) {
        #[cfg(feature = "hydrate")]
        self.runtime.with_value(|runtime| {
            if let Some(client) = &runtime.client {
                client.set_pinned(transport);
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = transport;
    }

    /// Publishes an annotation on the dashboard's channel (over the
    /// WebSocket, which the page switches to when it first sends). False
    /// when the page cannot send: a transport other than WebSocket is
    /// pinned.
    pub fn annotate(&self, text: &str) -> bool {
        #[cfg(feature = "hydrate")]
        {
            self.runtime
                .with_value(|runtime| {
                    runtime.client.as_ref().map(|client| {
                        client.publish(DASHBOARD_CHANNEL, "annotation", Value::from(text))
                    })
                })
                .unwrap_or(false)
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = text;
            false
        }
    }

    /// Opens the live connection that feeds this store.
    #[cfg(feature = "hydrate")]
    pub fn connect(self, bootstrap: &Bootstrap) {
        use std::time::Duration;

        use crate::live::{
            backoff::Backoff,
            client::{ClientOptions, LiveClient},
        };

        let pinned = url_parameter("transport").and_then(|t| Transport::parse(&t));
        let mut options = ClientOptions {
            interest: Interest::default(),
            event_types: ["metrics", "message", "annotation", PATCH_EVENT]
                .map(str::to_string)
                .to_vec(),
            since: bootstrap.position,
            pinned,
            preferred: Transport::Sse,
            backoff: Backoff {
                base: Duration::from_millis(bootstrap.reconnect.base_ms),
                cap: Duration::from_millis(bootstrap.reconnect.cap_ms),
                ..Backoff::default()
            },
            // The URL may override the operator's setting (for tests).
            max_failures: url_parameter("max_failures")
                .and_then(|m| m.parse().ok())
                .or(bootstrap.reconnect.max_failures),
            heartbeat_ms: bootstrap.heartbeat_ms.max(100),
        };
        let store = self;
        // Runs after the widgets have declared what they need, and again
        // whenever that changes.
        Effect::new(move |started: Option<()>| {
            let interest = store.interest();
            if started.is_none() {
                options.interest = interest;
                let client = LiveClient::start(
                    options.clone(),
                    move |delivery| store.receive(delivery),
                    move |status| {
                        store.connection.set(status.state);
                        store.transport.set(status.transport);
                        store.pinned.set(status.pinned);
                        store.outbox.set(status.queued);
                    },
                );
                store
                    .runtime
                    .update_value(|runtime| runtime.client = Some(client));
            } else {
                store.runtime.with_value(|runtime| {
                    if let Some(client) = &runtime.client {
                        client.set_interest(interest);
                    }
                });
            }
        });
    }
}

fn now() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| p.now())
            .unwrap_or(0.0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

#[cfg(feature = "hydrate")]
fn url_parameter(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Frame scheduling: `requestAnimationFrame`, or a timer while hidden
/// (browsers do not run animation frames in hidden tabs).
#[cfg(feature = "hydrate")]
mod frames {
    use wasm_bindgen::{closure::Closure, JsCast};

    use super::LiveStore;

    /// Frames while the tab is hidden, in milliseconds apart.
    const HIDDEN_FRAME_MS: i32 = 250;

    pub fn request(store: LiveStore) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let callback = Closure::once_into_js(move || store.apply_pending());
        let hidden = window.document().is_some_and(|d| d.hidden());
        let scheduled = if hidden {
            window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    callback.unchecked_ref(),
                    HIDDEN_FRAME_MS,
                )
                .is_ok()
        } else {
            window
                .request_animation_frame(callback.unchecked_ref())
                .is_ok()
        };
        if !scheduled {
            store.apply_pending();
        }
    }
}
