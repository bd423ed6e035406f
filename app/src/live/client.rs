//! The connection manager: one per page, shared by every widget.
//!
//! It owns at most one [`Connection`] at a time and decides everything
//! around it: which transport ([`TransportPolicy`]: SSE, falling back to
//! polling and probing back), when to reconnect ([`Backoff`] with full
//! jitter, at once when the browser comes back online), when a silent
//! connection is dead (no event or heartbeat for twice the server's
//! heartbeat interval), and which events are new ([`ResumePoint`]: every
//! connection resumes from the last position received, so nothing is
//! missed or repeated across reconnects and transport switches).
//!
//! ```text
//! connecting ─open/data─▶ live ─fail/silence─▶ reconnecting(k) ─delay─▶ (connect) ─▶ live
//!      │                   │                      │ k > max_failures ─▶ failed ─Reconnect─▶ (connect)
//!      └───────── offline event ─────────▶ offline ─online event─▶ (connect at once)
//! ```
//!
//! Each connection gets a generation number; reports from an older
//! generation are ignored, so a connection being torn down cannot disturb
//! its successor.

use std::{
    cell::{Cell, RefCell},
    collections::BTreeSet,
    rc::{Rc, Weak},
};

use wasm_bindgen::{closure::Closure, JsCast};

use crate::{
    live::{
        backoff::Backoff,
        breaker::CircuitBreaker,
        connection::{now_ms, Connection, OpenOptions, Signal},
        frame::Delivery,
        interest::Interest,
        policy::{TransportPolicy, PROBE_EVERY_MS},
        resume::ResumePoint,
        state::{ConnectionState, Transport},
    },
    protocol::{Position, Snapshot, RESET_EVENT, SNAPSHOT_EVENT},
};

/// How the client connects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The channels (and keys) to subscribe to.
    pub interest: Interest,
    /// The event types to listen for (SSE only dispatches named types).
    pub event_types: Vec<String>,
    /// Where to resume from on the first connection.
    pub since: Option<Position>,
    /// A transport the user pinned.
    pub pinned: Option<Transport>,
    /// The transport to use when it works.
    pub preferred: Transport,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Failed attempts before giving up (`None`: never give up).
    pub max_failures: Option<u32>,
    /// The server's heartbeat interval.
    pub heartbeat_ms: u64,
}

/// What the page shows about the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Where the connection stands.
    pub state: ConnectionState,
    /// The transport in use (or being tried).
    pub transport: Transport,
    /// The transport the user pinned, if any.
    pub pinned: Option<Transport>,
    /// Messages waiting for a WebSocket to carry them.
    pub queued: usize,
}

/// Most outgoing messages queued while disconnected; older ones are dropped.
const OUTBOX_LIMIT: usize = 256;

struct Manager {
    options: ClientOptions,
    policy: TransportPolicy,
    resume: Rc<RefCell<ResumePoint>>,
    /// Channels added since the position was taken: they start from a
    /// snapshot, not from the position.
    fresh: Rc<RefCell<BTreeSet<String>>>,
    connection: Option<Connection>,
    generation: u64,
    transport: Transport,
    probing: bool,
    fallback_since_ms: u64,
    state: ConnectionState,
    attempt: u32,
    delivered: bool,
    last_activity_ms: u64,
    retry_timer: Option<i32>,
    breaker: Rc<RefCell<CircuitBreaker>>,
    hidden: Rc<Cell<bool>>,
    outbox: std::collections::VecDeque<String>,
    on_delivery: Rc<dyn Fn(Delivery)>,
    on_status: Rc<dyn Fn(Status)>,
    listeners: Vec<(
        web_sys::EventTarget,
        &'static str,
        Closure<dyn FnMut(web_sys::Event)>,
    )>,
    watchdog: Option<(i32, Closure<dyn FnMut()>)>,
}

/// The page's live client. Dropping it closes everything.
pub struct LiveClient {
    inner: Rc<RefCell<Manager>>,
}

impl LiveClient {
    /// Starts connecting.
    pub fn start(
        options: ClientOptions,
        on_delivery: impl Fn(Delivery) + 'static,
        on_status: impl Fn(Status) + 'static,
    ) -> Self {
        let policy = TransportPolicy::new(
            options.pinned,
            options.preferred,
            is_available(options.preferred),
        );
        let hidden = Rc::new(Cell::new(document_hidden()));
        let inner = Rc::new(RefCell::new(Manager {
            resume: Rc::new(RefCell::new(ResumePoint::new(options.since))),
            fresh: Default::default(),
            transport: policy.current(),
            policy,
            options,
            connection: None,
            generation: 0,
            probing: false,
            fallback_since_ms: now_ms(),
            state: ConnectionState::Connecting,
            attempt: 0,
            delivered: false,
            last_activity_ms: now_ms(),
            retry_timer: None,
            breaker: Rc::new(RefCell::new(CircuitBreaker::new(3, 5_000))),
            hidden,
            outbox: Default::default(),
            on_delivery: Rc::new(on_delivery),
            on_status: Rc::new(on_status),
            listeners: Vec::new(),
            watchdog: None,
        }));
        install(&inner);
        if is_offline() {
            set_state(&inner, ConnectionState::Offline);
        } else {
            connect(&inner);
        }
        Self { inner }
    }

    /// Drops any scheduled attempt and connects now (the Reconnect button).
    pub fn reconnect_now(&self) {
        restart(&self.inner);
    }

    /// Pins a transport (`None`: automatic) and reconnects with it.
    pub fn set_pinned(&self, pinned: Option<Transport>) {
        {
            let mut manager = self.inner.borrow_mut();
            manager.options.pinned = pinned;
            let preferred = manager.options.preferred;
            manager.policy = TransportPolicy::new(pinned, preferred, is_available(preferred));
        }
        restart(&self.inner);
    }

    /// Publishes an event on `channel` over the WebSocket. The page only
    /// needs a WebSocket once it sends, so the first publish moves an
    /// automatic client from SSE to WebSocket (resuming from its position:
    /// nothing is missed or repeated); until the socket is open the message
    /// waits in the bounded outbox. A client pinned to another transport
    /// cannot send: the message is refused (`false`).
    pub fn publish(&self, channel: &str, event: &str, data: serde_json::Value) -> bool {
        let upgrade = {
            let mut manager = self.inner.borrow_mut();
            match manager.options.pinned {
                Some(pinned) if pinned != Transport::Ws => return false,
                Some(_) => false,
                None if manager.options.preferred == Transport::Ws => false,
                None => {
                    manager.options.preferred = Transport::Ws;
                    manager.policy =
                        TransportPolicy::new(None, Transport::Ws, is_available(Transport::Ws));
                    true
                }
            }
        };
        self.send(
            serde_json::json!({"type": "publish", "channel": channel, "event": event, "data": data})
                .to_string(),
        );
        if upgrade {
            restart(&self.inner);
        }
        true
    }

    /// Changes what the client subscribes to. Over a WebSocket the
    /// connection stays: it subscribes, unsubscribes, refilters and asks
    /// for snapshots as needed. Other transports reconnect, resuming from
    /// the last position, with new channels (and widened filters) starting
    /// from a snapshot.
    pub fn set_interest(&self, next: Interest) {
        let (changes, on_ws, next) = {
            let mut manager = self.inner.borrow_mut();
            let changes = manager.options.interest.changes_to(&next);
            if changes.is_empty() {
                return;
            }
            manager.options.interest = next.clone();
            let on_ws = manager.transport == Transport::Ws
                && manager.connection.as_ref().is_some_and(Connection::is_open);
            // Until their snapshot arrives: should this connection break
            // first, the next one starts them from a snapshot too.
            let mut fresh = manager.fresh.borrow_mut();
            fresh.extend(changes.added.iter().cloned());
            fresh.extend(changes.widened.iter().cloned());
            drop(fresh);
            (changes, on_ws, next)
        };
        if !on_ws {
            restart(&self.inner);
            return;
        }
        let mut messages = Vec::new();
        if !changes.added.is_empty() {
            let filter = next.filters_of(&changes.added);
            messages.push(serde_json::json!({"type": "subscribe", "channels": changes.added, "filter": filter}));
        }
        if !changes.removed.is_empty() {
            messages.push(serde_json::json!({"type": "unsubscribe", "channels": changes.removed}));
        }
        for (channel, keys) in &changes.refiltered {
            messages
                .push(serde_json::json!({"type": "set_filter", "channel": channel, "keys": keys}));
        }
        for channel in &changes.widened {
            messages.push(serde_json::json!({"type": "request_snapshot", "channel": channel}));
        }
        for message in messages {
            self.send(message.to_string());
        }
    }

    /// Forgets the position and reconnects: the server answers with a
    /// snapshot (used when the page dropped events it could not hold).
    pub fn resync(&self) {
        *self.inner.borrow().resume.borrow_mut() = ResumePoint::new(None);
        restart(&self.inner);
    }

    /// Sends a WebSocket message now, or queues it (bounded) until a
    /// WebSocket connection is open.
    pub fn send(&self, text: String) {
        let queued = {
            let mut manager = self.inner.borrow_mut();
            let sent = manager.outbox.is_empty()
                && manager.connection.as_ref().is_some_and(|c| c.send(&text));
            if !sent {
                if manager.outbox.len() >= OUTBOX_LIMIT {
                    // Full: the oldest message gives way to the newest.
                    manager.outbox.pop_front();
                }
                manager.outbox.push_back(text);
            }
            !sent
        };
        if queued {
            publish_status(&self.inner);
        }
    }
}

impl Drop for LiveClient {
    fn drop(&mut self) {
        let mut manager = self.inner.borrow_mut();
        if let Some(connection) = manager.connection.take() {
            connection.close();
        }
        if let Some(window) = web_sys::window() {
            if let Some(handle) = manager.retry_timer.take() {
                window.clear_timeout_with_handle(handle);
            }
            if let Some((handle, _)) = manager.watchdog.take() {
                window.clear_interval_with_handle(handle);
            }
        }
        for (target, name, closure) in manager.listeners.drain(..) {
            let _ =
                target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
    }
}

fn is_available(transport: Transport) -> bool {
    match transport {
        Transport::Sse => has_global("EventSource"),
        Transport::Ws => has_global("WebSocket"),
        Transport::Poll => true,
    }
}

fn has_global(name: &str) -> bool {
    web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w, &name.into()).unwrap_or(false))
}

fn is_offline() -> bool {
    web_sys::window().is_some_and(|w| !w.navigator().on_line())
}

fn document_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

fn install(inner: &Rc<RefCell<Manager>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let weak = Rc::downgrade(inner);
    let on = |weak: Weak<RefCell<Manager>>, f: fn(&Rc<RefCell<Manager>>)| {
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                f(&inner);
            }
        })
    };
    let mut listeners = vec![
        (
            window.clone().unchecked_into::<web_sys::EventTarget>(),
            "online",
            on(weak.clone(), on_online),
        ),
        (
            window.clone().unchecked_into(),
            "offline",
            on(weak.clone(), on_offline),
        ),
    ];
    if let Some(document) = window.document() {
        listeners.push((
            document.unchecked_into(),
            "visibilitychange",
            on(weak.clone(), on_visibility),
        ));
    }
    for (target, name, closure) in &listeners {
        let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
    let watchdog = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            on_tick(&inner);
        }
    });
    let handle = window
        .set_interval_with_callback_and_timeout_and_arguments_0(
            watchdog.as_ref().unchecked_ref(),
            500,
        )
        .unwrap_or(0);
    let mut manager = inner.borrow_mut();
    manager.listeners = listeners;
    manager.watchdog = Some((handle, watchdog));
}

fn connect(inner: &Rc<RefCell<Manager>>) {
    let (transport, options, generation) = {
        let mut manager = inner.borrow_mut();
        if let Some(old) = manager.connection.take() {
            old.close();
        }
        manager.generation += 1;
        manager.transport = if manager.probing {
            manager.options.preferred
        } else {
            manager.policy.current()
        };
        manager.delivered = false;
        manager.last_activity_ms = now_ms();
        let resume = manager.resume.clone();
        let since = resume.borrow().last();
        let options = OpenOptions {
            interest: manager.options.interest.clone(),
            fresh: manager.fresh.clone(),
            event_types: manager.options.event_types.clone(),
            since,
            poll_timeout_s: (manager.options.heartbeat_ms as f64 / 1000.0).clamp(0.5, 25.0),
            hidden: manager.hidden.clone(),
            breaker: manager.breaker.clone(),
            position: Rc::new(move || resume.borrow().last()),
        };
        (manager.transport, options, manager.generation)
    };
    publish_status(inner);
    let weak = Rc::downgrade(inner);
    let report = Rc::new(move |signal: Signal| {
        if let Some(inner) = weak.upgrade() {
            if inner.borrow().generation == generation {
                on_signal(&inner, signal);
            }
        }
    });
    let connection = Connection::open(transport, options, report);
    let mut manager = inner.borrow_mut();
    if manager.generation == generation {
        manager.connection = connection;
    } else if let Some(connection) = connection {
        connection.close();
    }
}

fn on_signal(inner: &Rc<RefCell<Manager>>, signal: Signal) {
    match signal {
        Signal::Opened => {
            inner.borrow_mut().last_activity_ms = now_ms();
            flush_outbox(inner);
            if inner.borrow().transport == Transport::Poll || inner.borrow().delivered {
                went_live(inner);
            }
        }
        Signal::Heartbeat => {
            alive(inner);
            went_live(inner);
        }
        Signal::Position(position) => {
            let manager = inner.borrow();
            let mut resume = manager.resume.borrow_mut();
            if resume.last().is_some_and(|last| position.is_after(&last)) {
                resume.reset_to(position);
            }
        }
        Signal::Envelope(envelope) => {
            alive(inner);
            went_live(inner);
            let delivery = if envelope.event == SNAPSHOT_EVENT || envelope.event == RESET_EVENT {
                match serde_json::from_value::<Snapshot>(envelope.data) {
                    Ok(snapshot) => {
                        let manager = inner.borrow();
                        manager.resume.borrow_mut().reset_to(envelope.id);
                        let delivery = Delivery::snapshot(&envelope.channel, snapshot);
                        if let Delivery::Snapshot { channels, .. } = &delivery {
                            let mut fresh = manager.fresh.borrow_mut();
                            for channel in channels {
                                fresh.remove(channel);
                            }
                        }
                        delivery
                    }
                    Err(error) => {
                        leptos::logging::warn!("livedash: ignoring a malformed snapshot: {error}");
                        return;
                    }
                }
            } else if inner.borrow().resume.borrow_mut().accept(envelope.id) {
                Delivery::Event(envelope)
            } else {
                return;
            };
            let deliver = inner.borrow().on_delivery.clone();
            deliver(delivery);
        }
        Signal::Failed => on_failure(inner),
    }
}

/// The connection delivered something: it works.
fn alive(inner: &Rc<RefCell<Manager>>) {
    let mut manager = inner.borrow_mut();
    manager.last_activity_ms = now_ms();
    manager.delivered = true;
    let transport = manager.transport;
    let was_on_fallback = manager.policy.on_fallback();
    manager.policy.delivered(transport);
    manager.probing = false;
    if !was_on_fallback && manager.policy.on_fallback() {
        manager.fallback_since_ms = now_ms();
    }
}

fn went_live(inner: &Rc<RefCell<Manager>>) {
    inner.borrow_mut().attempt = 0;
    set_state(inner, ConnectionState::Live);
}

fn on_failure(inner: &Rc<RefCell<Manager>>) {
    let delay = {
        let mut manager = inner.borrow_mut();
        manager.generation += 1;
        if let Some(connection) = manager.connection.take() {
            connection.close();
        }
        let (transport, delivered) = (manager.transport, manager.delivered);
        let was_on_fallback = manager.policy.on_fallback();
        manager.policy.failed(transport, delivered);
        if !was_on_fallback && manager.policy.on_fallback() {
            manager.fallback_since_ms = now_ms();
        }
        if manager.probing {
            // The probe failed: straight back to the fallback.
            manager.probing = false;
            None
        } else if manager.policy.current() != transport {
            // Switching transport: no reason to wait.
            None
        } else {
            manager.attempt = manager.attempt.saturating_add(1);
            Some(manager.attempt)
        }
    };
    if is_offline() {
        set_state(inner, ConnectionState::Offline);
        return;
    }
    let Some(attempt) = delay else {
        connect(inner);
        return;
    };
    let (max_failures, backoff) = {
        let manager = inner.borrow();
        (manager.options.max_failures, manager.options.backoff)
    };
    if max_failures.is_some_and(|max| attempt > max) {
        set_state(inner, ConnectionState::Failed);
        return;
    }
    let delay = backoff.delay(attempt - 1, js_sys::Math::random());
    let millis = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
    set_state(
        inner,
        ConnectionState::Reconnecting {
            attempt,
            at_ms: now_ms() + millis as u64,
        },
    );
    schedule(inner, millis);
}

fn schedule(inner: &Rc<RefCell<Manager>>, millis: i32) {
    cancel_retry(inner);
    let weak = Rc::downgrade(inner);
    let callback = Closure::once_into_js(move || {
        if let Some(inner) = weak.upgrade() {
            inner.borrow_mut().retry_timer = None;
            connect(&inner);
        }
    });
    if let Some(window) = web_sys::window() {
        if let Ok(handle) = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), millis)
        {
            inner.borrow_mut().retry_timer = Some(handle);
        }
    }
}

fn cancel_retry(inner: &Rc<RefCell<Manager>>) {
    if let Some(handle) = inner.borrow_mut().retry_timer.take() {
        if let Some(window) = web_sys::window() {
            window.clear_timeout_with_handle(handle);
        }
    }
}

fn restart(inner: &Rc<RefCell<Manager>>) {
    cancel_retry(inner);
    {
        let mut manager = inner.borrow_mut();
        manager.attempt = 0;
        manager.probing = false;
    }
    if is_offline() {
        set_state(inner, ConnectionState::Offline);
    } else {
        connect(inner);
    }
}

fn on_online(inner: &Rc<RefCell<Manager>>) {
    if inner.borrow().state != ConnectionState::Live {
        restart(inner);
    }
}

fn on_offline(inner: &Rc<RefCell<Manager>>) {
    cancel_retry(inner);
    {
        let mut manager = inner.borrow_mut();
        manager.generation += 1;
        if let Some(connection) = manager.connection.take() {
            connection.close();
        }
    }
    set_state(inner, ConnectionState::Offline);
}

fn on_visibility(inner: &Rc<RefCell<Manager>>) {
    let hidden = document_hidden();
    let manager = inner.borrow();
    manager.hidden.set(hidden);
    if let Some(connection) = &manager.connection {
        connection.send(&format!(r#"{{"type":"set_visibility","hidden":{hidden}}}"#));
    }
}

/// Every half second: declare a silent connection dead, and probe the
/// preferred transport now and then while on the fallback.
fn on_tick(inner: &Rc<RefCell<Manager>>) {
    let (silent, probe) = {
        let manager = inner.borrow();
        let connected = manager.connection.is_some();
        let silent = connected
            && now_ms().saturating_sub(manager.last_activity_ms) > 2 * manager.options.heartbeat_ms;
        let probe = connected
            && manager.state == ConnectionState::Live
            && manager.policy.on_fallback()
            && now_ms().saturating_sub(manager.fallback_since_ms) > PROBE_EVERY_MS;
        (silent, probe)
    };
    if silent {
        leptos::logging::warn!(
            "livedash: no event or heartbeat for twice the heartbeat interval; reconnecting"
        );
        on_failure(inner);
    } else if probe {
        {
            let mut manager = inner.borrow_mut();
            manager.probing = true;
            manager.fallback_since_ms = now_ms();
        }
        connect(inner);
    }
}

fn flush_outbox(inner: &Rc<RefCell<Manager>>) {
    let flushed = {
        let mut manager = inner.borrow_mut();
        let before = manager.outbox.len();
        while let Some(text) = manager.outbox.pop_front() {
            if !manager.connection.as_ref().is_some_and(|c| c.send(&text)) {
                manager.outbox.push_front(text);
                break;
            }
        }
        manager.outbox.len() != before
    };
    if flushed {
        publish_status(inner);
    }
}

fn set_state(inner: &Rc<RefCell<Manager>>, state: ConnectionState) {
    {
        let mut manager = inner.borrow_mut();
        if manager.state == state {
            return;
        }
        manager.state = state;
    }
    publish_status(inner);
}

fn publish_status(inner: &Rc<RefCell<Manager>>) {
    let (notify, status) = {
        let manager = inner.borrow();
        (
            manager.on_status.clone(),
            Status {
                state: manager.state,
                transport: manager.transport,
                pinned: manager.options.pinned,
                queued: manager.outbox.len(),
            },
        )
    };
    notify(status);
}
