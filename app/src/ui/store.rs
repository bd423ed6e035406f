//! The page's reactive store: one signal per thing that changes.
//!
//! The live client hands deliveries to [`LiveStore::receive`], which only
//! buffers them ([`FrameBuffer`]). Once per animation frame (a timer while
//! the tab is hidden, so work still happens, just less often) the buffer is
//! applied in one batch: the [`PageState`] reducer decides what the frame
//! changes (every point of a followed series reaches the widgets that
//! follow it, once per frame; each signal is set at most once, with the
//! newest values) and the store only mirrors those [`Changes`] into its
//! signals. Widgets read only the memos they show, so an update re-renders
//! only what changed. While the display is
//! paused nothing is applied; the bounded buffer keeps collecting and the
//! page catches up on resume.

use std::collections::{BTreeMap, VecDeque};

use leptos::prelude::*;
use serde_json::Value;

use crate::{
    live::{
        frame::{Delivery, Frame, FrameBuffer},
        interest::{Interest, Needs},
        share::Role,
        state::{ConnectionState, Transport},
    },
    protocol::{Bootstrap, Position, DASHBOARD_CHANNEL_PREFIX, SERIES_CHANNEL},
    ui::reducer::{BoardChange, Changes, FeedItem, PageState},
};

/// Activity entries kept on the page.
pub const FEED_LIMIT: usize = 200;
/// Deliveries buffered between frames (and while paused).
pub const FRAME_BUFFER: usize = 20_000;
/// Alert events kept for the alerts view until it reads them (the oldest
/// go first; the view reads the alerts again when it starts).
pub const ALERT_EVENTS: usize = 1_000;

/// The page's live state, shared by every widget through context.
#[derive(Clone, Copy)]
pub struct LiveStore {
    /// The connection's state.
    pub connection: RwSignal<ConnectionState>,
    /// The transport in use.
    pub transport: RwSignal<Transport>,
    /// The transport the user pinned, if any.
    pub pinned: RwSignal<Option<Transport>>,
    /// Messages waiting for a connection that can carry them.
    pub outbox: RwSignal<usize>,
    /// Whether this tab shares its connection, and with how many tabs.
    pub sharing: RwSignal<Sharing>,
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
    /// How many times the page may have missed series points (a `reset`
    /// of the series channel, a frame that overflowed): each chart reads
    /// its window from the store again when it changes.
    pub series_missed: RwSignal<u32>,
    /// The dashboard's annotations the page holds: those of its window
    /// (read from the server) and those published since.
    pub annotations: RwSignal<crate::chart::AnnotationSet>,
    /// How many times the page may have missed annotations (a snapshot
    /// replaced the dashboard's channel): it reads them again.
    pub annotations_missed: RwSignal<u32>,
    /// The keys of the status board, in order.
    pub board_keys: RwSignal<Vec<String>>,
    /// Each board item's value: one signal per key.
    pub board: RwSignal<BTreeMap<String, RwSignal<Value>>>,
    /// The dashboard the page shows (`None`: the host overview), as last
    /// saved: a save reaches the page on its channel and replaces it.
    pub dashboard: RwSignal<Option<crate::dashboard::Dashboard>>,
    /// The page's dashboard was removed while the page showed it.
    pub dashboard_removed: RwSignal<bool>,
    /// Who is viewing the dashboard now: names, and how many chose none.
    pub presence: RwSignal<Option<(Vec<String>, u32)>>,
    /// Its text widgets' Markdown as HTML (rendered by the server), by id.
    pub text_html: StoredValue<Vec<(String, String)>>,
    /// The alert rules' lines of each chart, by widget id (JSON).
    pub rule_lines: StoredValue<Vec<(String, String)>>,
    /// Alerts firing, and how many of them are critical (the header's
    /// badge).
    pub alerts_firing: RwSignal<(u32, u32)>,
    /// The alerts panel is open.
    pub alerts_open: RwSignal<bool>,
    /// Alert events not yet read by the alerts view, oldest first.
    pub alert_events: StoredValue<Vec<crate::ui::reducer::AlertEvent>>,
    /// Moves when alert events arrive.
    pub alert_tick: RwSignal<u32>,
    /// Moves when the page may have missed alert events.
    pub alerts_reset: RwSignal<u32>,
    /// What the mounted widgets need from the server.
    needs: RwSignal<Needs>,
    /// The charts following series, and what each needs.
    followers: StoredValue<Followers, LocalStorage>,
    /// What the reducer remembers between frames.
    page: StoredValue<PageState>,
    runtime: StoredValue<Runtime, LocalStorage>,
}

/// This tab's part in the browser's shared connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sharing {
    /// Leading, following, or on its own.
    pub role: Role,
    /// The tabs sharing the connection (1: this one alone).
    pub tabs: usize,
}

impl Sharing {
    /// What the indicator says (`None`: nothing to say, the tab is alone).
    pub fn label(&self) -> Option<String> {
        (self.role != Role::Solo && self.tabs > 1).then(|| format!("shared, {} tabs", self.tabs))
    }
}

/// A chart's receiver of series points: called once per frame with every
/// series' points of the frame, by key (Prometheus form).
pub type SeriesSink = std::rc::Rc<dyn Fn(&[(String, Vec<(i64, f64)>)])>;

/// The charts following series.
#[derive(Default)]
struct Followers {
    next_id: u64,
    /// Per follower: its id, its sink and the id of its declared need. A
    /// `Vec`: a page has a few charts.
    sinks: Vec<(u64, SeriesSink, Option<u64>)>,
}

impl Followers {
    /// The need slot of follower `id`.
    fn need_of(&mut self, id: u64) -> Option<&mut Option<u64>> {
        self.sinks
            .iter_mut()
            .find(|(follower, _, _)| *follower == id)
            .map(|(_, _, need)| need)
    }
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
        let channel = bootstrap.dashboard.as_ref().map_or_else(
            || crate::ui::DASHBOARD_CHANNEL.to_string(),
            |d| format!("{DASHBOARD_CHANNEL_PREFIX}{}", d.id),
        );
        Self {
            connection: RwSignal::new(ConnectionState::Connecting),
            transport: RwSignal::new(Transport::Sse),
            pinned: RwSignal::new(None),
            outbox: RwSignal::new(0),
            sharing: RwSignal::new(Sharing {
                role: Role::Follower,
                tabs: 1,
            }),
            position: RwSignal::new(bootstrap.position),
            updated_at: RwSignal::new(None),
            paused: RwSignal::new(false),
            feed: RwSignal::new(VecDeque::new()),
            feed_count: RwSignal::new(0),
            series_missed: RwSignal::new(0),
            annotations: RwSignal::new(Default::default()),
            annotations_missed: RwSignal::new(0),
            board_keys: RwSignal::new(Vec::new()),
            board: RwSignal::new(BTreeMap::new()),
            dashboard: RwSignal::new(bootstrap.dashboard.clone()),
            dashboard_removed: RwSignal::new(false),
            presence: RwSignal::new(None),
            text_html: StoredValue::new(bootstrap.text_html.clone()),
            rule_lines: StoredValue::new(bootstrap.rule_lines.clone()),
            alerts_firing: RwSignal::new((bootstrap.firing, bootstrap.critical)),
            alerts_open: RwSignal::new(false),
            alert_events: StoredValue::new(Vec::new()),
            alert_tick: RwSignal::new(0),
            alerts_reset: RwSignal::new(0),
            needs: RwSignal::new(Needs::default()),
            followers: StoredValue::new_local(Followers::default()),
            page: StoredValue::new(PageState::new(&channel)),
            runtime: StoredValue::new_local(Runtime {
                buffer: Some(FrameBuffer::new(FRAME_BUFFER)),
                ..Runtime::default()
            }),
        }
    }

    /// The calling widget's memo of [`LiveStore::series_missed`], released
    /// when the widget is cleaned up (see `ui::release`).
    pub fn missed(&self) -> Memo<u32> {
        let missed = self.series_missed;
        super::release::detached_memo(move |_| missed.get())
    }

    /// The calling widget's memo of the annotations that show on widget
    /// `widget` (the dashboard's and its own), by time; released when the
    /// widget is cleaned up (see `ui::release`).
    pub fn annotations_for(&self, widget: String) -> Memo<Vec<crate::protocol::Annotation>> {
        let annotations = self.annotations;
        super::release::detached_memo(move |_| {
            annotations.with(|set| set.visible(&widget, i64::MIN, i64::MAX).cloned().collect())
        })
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

    /// Registers a chart's `sink` for series points; it follows no series
    /// until [`LiveStore::follow`] names them. Withdrawn when the calling
    /// component is cleaned up. Returns the follower's id.
    pub fn add_follower(&self, sink: SeriesSink) -> u64 {
        let id = self
            .followers
            .try_update_value(|followers| {
                followers.next_id += 1;
                followers.sinks.push((followers.next_id, sink, None));
                followers.next_id
            })
            .unwrap_or_default();
        self.page.update_value(PageState::follow_series);
        let store = *self;
        on_cleanup(move || store.follow(id, Vec::new()));
        let followers = self.followers;
        on_cleanup(move || {
            followers.try_update_value(|followers| followers.sinks.retain(|(f, _, _)| *f != id));
        });
        id
    }

    /// Sets the series (keys in Prometheus form) follower `id` follows:
    /// the page subscribes to the union of every widget's.
    pub fn follow(&self, id: u64, keys: Vec<String>) {
        let previous = self
            .followers
            .try_update_value(|followers| followers.need_of(id).and_then(Option::take))
            .flatten();
        // One change of the needs, so the page resubscribes once.
        let need = self
            .needs
            .try_update(|needs| {
                if let Some(previous) = previous {
                    needs.remove(previous);
                }
                (!keys.is_empty()).then(|| needs.add(SERIES_CHANNEL, Some(keys)))
            })
            .flatten();
        self.followers.try_update_value(|followers| {
            if let Some(slot) = followers.need_of(id) {
                *slot = need;
            }
        });
    }

    /// What the mounted widgets need.
    pub fn interest(&self) -> Interest {
        self.needs.with(Needs::interest)
    }

    /// The page's own channel: activity, board patches, annotations and
    /// (on a dashboard's page) its saves.
    pub fn channel(&self) -> String {
        self.page.with_value(|page| page.channel().to_string())
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
        if let Some(changes) = self.page.try_update_value(|page| page.apply(&frame)) {
            self.mirror(changes);
        }
    }

    /// Writes what the reducer decided into the signals.
    fn mirror(&self, changes: Changes) {
        let Changes {
            resync,
            dashboard_reset,
            series_missed,
            series,
            feed,
            annotations,
            removed_annotations,
            board,
            board_keys,
            dashboard,
            dashboard_removed,
            presence,
            position,
            updated,
            warnings,
            alerts,
            alerts_reset,
        } = changes;
        if alerts_reset {
            self.alerts_reset.update(|n| *n += 1);
        }
        if !alerts.is_empty() {
            self.alert_events.update_value(|queue| {
                queue.extend(alerts);
                let excess = queue.len().saturating_sub(ALERT_EVENTS);
                queue.drain(..excess);
            });
            self.alert_tick.update(|n| *n += 1);
        }
        if presence.is_some() {
            self.presence.set(presence);
        }
        if let Some((dashboard, html)) = dashboard {
            // Before the dashboard: its new text widgets read it.
            self.text_html.set_value(html);
            self.dashboard.set(Some(dashboard));
            self.dashboard_removed.set(false);
        }
        if dashboard_removed {
            self.dashboard_removed.set(true);
        }
        for warning in &warnings {
            leptos::logging::warn!("{warning}");
        }
        if resync {
            leptos::logging::warn!("livedash: the page fell too far behind; resynchronising");
            self.resync();
        }
        if series_missed {
            self.series_missed.update(|n| *n += 1);
        }
        if !annotations.is_empty() || !removed_annotations.is_empty() {
            self.annotations.maybe_update(|set| {
                let mut changed = false;
                for note in annotations {
                    changed |= set.upsert(note);
                }
                for id in removed_annotations {
                    changed |= set.remove(id);
                }
                changed
            });
        }
        if dashboard_reset {
            self.annotations_missed.update(|n| *n += 1);
            self.feed.set(VecDeque::new());
            self.feed_count.set(0);
            self.board_keys.set(Vec::new());
            self.board.set(BTreeMap::new());
        }
        if !series.is_empty() {
            let sinks: Vec<SeriesSink> = self.followers.with_value(|followers| {
                followers
                    .sinks
                    .iter()
                    .map(|(_, sink, _)| sink.clone())
                    .collect()
            });
            for sink in sinks {
                sink(&series);
            }
        }
        if !feed.is_empty() {
            let added = feed.len() as u64;
            self.feed.update(|shown| {
                for item in feed {
                    shown.push_front(item);
                }
                shown.truncate(FEED_LIMIT);
            });
            self.feed_count.update(|count| *count += added);
        }
        if !board.is_empty() {
            self.mirror_board(board, board_keys);
        }
        if let Some(position) = position {
            self.position.set(Some(position));
        }
        if updated {
            self.updated_at.set(Some(now()));
        }
    }

    /// Board writes: an existing item's own signal is set (re-rendering that
    /// item alone); the map and the key list are written only when keys
    /// came or went.
    fn mirror_board(&self, changes: Vec<BoardChange>, keys: Option<Vec<String>>) {
        let mut board = self.board.get_untracked();
        for change in changes {
            match change {
                BoardChange::Set { key, value } => {
                    if let Some(signal) = board.get(&key) {
                        signal.set(value);
                    }
                }
                BoardChange::Insert { key, value } => {
                    board.insert(key, RwSignal::new(value));
                }
                BoardChange::Remove { key } => {
                    board.remove(&key);
                }
            }
        }
        if let Some(keys) = keys {
            self.board_keys.set(keys);
            self.board.set(board);
        }
    }

    fn schedule_frame(&self) {
        let already = self
            .runtime
            .try_update_value(|runtime| std::mem::replace(&mut runtime.frame_scheduled, true));
        // Frames exist only in the browser; a server-rendered store
        // never receives anything.
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
    /// WebSocket, which the page switches to when it first sends): a text
    /// (a note at now) or `{text, time, end?, widget?}`. False when the
    /// page cannot send: a transport other than WebSocket is pinned.
    pub fn annotate(&self, note: Value) -> bool {
        #[cfg(feature = "hydrate")]
        {
            self.runtime
                .with_value(|runtime| {
                    let channel = self.channel();
                    runtime
                        .client
                        .as_ref()
                        .map(|client| client.publish(&channel, "annotation", note))
                })
                .unwrap_or(false)
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = note;
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
            patch::PATCH_EVENT,
        };

        let pinned = url_parameter("transport").and_then(|t| Transport::parse(&t));
        let mut options = ClientOptions {
            interest: Interest::default(),
            event_types: [
                crate::protocol::SERIES_EVENT,
                "message",
                crate::protocol::ANNOTATION_EVENT,
                crate::protocol::ANNOTATION_REMOVED_EVENT,
                crate::protocol::DASHBOARD_EVENT,
                crate::protocol::DASHBOARD_REMOVED_EVENT,
                crate::protocol::PRESENCE_EVENT,
                PATCH_EVENT,
                crate::protocol::ALERT_EVENT,
                crate::protocol::SILENCES_EVENT,
                crate::protocol::NOTIFICATION_EVENT,
            ]
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
                        store.connection.set(status.status.state);
                        store.transport.set(status.status.transport);
                        store.pinned.set(status.status.pinned);
                        store.outbox.set(status.status.queued);
                        store.sharing.set(Sharing {
                            role: status.role,
                            tabs: status.tabs,
                        });
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
