//! The browser side of the Server-Sent Events transport.
//!
//! [`SseClient`] owns one `EventSource` at a time. It parses each event into
//! an [`Envelope`], drops duplicates by position ([`ResumePoint`]) and hands
//! the rest to its owner as [`Delivery`] values; it reports every change of
//! [`ConnectionState`]. It knows nothing of metrics or widgets.
//!
//! Reconnection is the client's own, not the browser's: on any error the
//! `EventSource` is closed and a new one is opened after a jittered
//! exponential [`Backoff`], resuming from the last applied position with the
//! `lastEventId` query parameter. When the browser reports it is offline the
//! client waits for it to come back and then reconnects at once.

use std::{cell::RefCell, rc::Rc, rc::Weak};

use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{EventSource, MessageEvent};

use crate::{
    live::{backoff::Backoff, resume::ResumePoint, state::ConnectionState},
    protocol::{Envelope, Position, Snapshot, RESET_EVENT, SNAPSHOT_EVENT},
};

/// What the client hands to its owner.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// A new event, in log order, never seen before.
    Event(Envelope<serde_json::Value>),
    /// The state of the channels as of the carrying envelope's position:
    /// everything the owner held for these channels must be replaced.
    Snapshot(Snapshot),
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct SseOptions {
    /// The stream's URL path, e.g. `/api/realtime/sse`.
    pub path: String,
    /// The channels to subscribe to.
    pub channels: Vec<String>,
    /// The event types to listen for (EventSource only dispatches named
    /// events to listeners registered for their name).
    pub event_types: Vec<String>,
    /// Where to resume from on the first connection.
    pub since: Option<Position>,
    /// Reconnection delays.
    pub backoff: Backoff,
}

type Listener = Closure<dyn FnMut(web_sys::Event)>;

struct Inner {
    options: SseOptions,
    source: Option<EventSource>,
    resume: ResumePoint,
    /// Failed attempts since the connection was last live.
    attempt: u32,
    retry_timer: Option<i32>,
    on_delivery: Rc<dyn Fn(Delivery)>,
    on_state: Rc<dyn Fn(ConnectionState)>,
    state: ConnectionState,
    listeners: Vec<(&'static str, Listener)>,
    event_listener: Option<Listener>,
    window_listeners: Vec<(&'static str, Listener)>,
}

/// A live subscription over SSE; dropping it closes the connection.
pub struct SseClient {
    inner: Rc<RefCell<Inner>>,
}

impl SseClient {
    /// Opens the connection and keeps it open until the client is dropped.
    pub fn connect(
        options: SseOptions,
        on_delivery: impl Fn(Delivery) + 'static,
        on_state: impl Fn(ConnectionState) + 'static,
    ) -> Self {
        let inner = Rc::new(RefCell::new(Inner {
            resume: ResumePoint::new(options.since),
            options,
            source: None,
            attempt: 0,
            retry_timer: None,
            on_delivery: Rc::new(on_delivery),
            on_state: Rc::new(on_state),
            state: ConnectionState::Connecting,
            listeners: Vec::new(),
            event_listener: None,
            window_listeners: Vec::new(),
        }));
        install_listeners(&inner);
        if is_offline() {
            set_state(&inner, ConnectionState::Offline);
        } else {
            open(&inner);
        }
        Self { inner }
    }

    /// Drops any scheduled attempt and reconnects now.
    pub fn reconnect_now(&self) {
        cancel_retry(&self.inner);
        close_source(&self.inner);
        self.inner.borrow_mut().attempt = 0;
        open(&self.inner);
    }
}

impl Drop for SseClient {
    fn drop(&mut self) {
        cancel_retry(&self.inner);
        close_source(&self.inner);
        let window_listeners = std::mem::take(&mut self.inner.borrow_mut().window_listeners);
        if let Some(window) = web_sys::window() {
            for (name, listener) in &window_listeners {
                let _ = window
                    .remove_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            }
        }
    }
}

fn install_listeners(inner: &Rc<RefCell<Inner>>) {
    let weak = Rc::downgrade(inner);
    let on_event = {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            if let (Some(inner), Ok(message)) = (weak.upgrade(), event.dyn_into::<MessageEvent>()) {
                on_message(&inner, &message);
            }
        })
    };
    let on_open = {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.borrow_mut().attempt = 0;
                set_state(&inner, ConnectionState::Live);
            }
        })
    };
    let on_error = {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                on_failure(&inner);
            }
        })
    };
    let on_online = {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                let state = inner.borrow().state;
                if state != ConnectionState::Live {
                    cancel_retry(&inner);
                    close_source(&inner);
                    inner.borrow_mut().attempt = 0;
                    open(&inner);
                }
            }
        })
    };
    let on_offline = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if let Some(inner) = weak.upgrade() {
            cancel_retry(&inner);
            close_source(&inner);
            set_state(&inner, ConnectionState::Offline);
        }
    });
    if let Some(window) = web_sys::window() {
        let _ =
            window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        let _ =
            window.add_event_listener_with_callback("offline", on_offline.as_ref().unchecked_ref());
    }
    let mut inner = inner.borrow_mut();
    inner.listeners = vec![("open", on_open), ("error", on_error)];
    inner.event_listener = Some(on_event);
    inner.window_listeners = vec![("online", on_online), ("offline", on_offline)];
}

fn open(inner: &Rc<RefCell<Inner>>) {
    let url = {
        let inner = inner.borrow();
        stream_url(&inner.options, inner.resume.last())
    };
    let source = match EventSource::new(&url) {
        Ok(source) => source,
        Err(_) => {
            on_failure(inner);
            return;
        }
    };
    {
        let inner = inner.borrow();
        for (name, listener) in &inner.listeners {
            let _ =
                source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        }
        if let Some(listener) = &inner.event_listener {
            for name in inner
                .options
                .event_types
                .iter()
                .map(String::as_str)
                .chain([SNAPSHOT_EVENT, RESET_EVENT])
            {
                let _ = source
                    .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            }
        }
    }
    inner.borrow_mut().source = Some(source);
}

fn stream_url(options: &SseOptions, since: Option<Position>) -> String {
    let mut url = format!("{}?channels={}", options.path, options.channels.join(","));
    if let Some(since) = since {
        url.push_str(&format!("&lastEventId={since}"));
    }
    url
}

fn on_message(inner: &Rc<RefCell<Inner>>, message: &MessageEvent) {
    let Some(text) = message.data().as_string() else {
        return;
    };
    let Ok(envelope) = serde_json::from_str::<Envelope<serde_json::Value>>(&text) else {
        leptos::logging::warn!("livedash: ignoring an event that is not an envelope");
        return;
    };
    let delivery = if envelope.event == SNAPSHOT_EVENT || envelope.event == RESET_EVENT {
        let Ok(snapshot) = serde_json::from_value::<Snapshot>(envelope.data) else {
            leptos::logging::warn!("livedash: ignoring a malformed snapshot");
            return;
        };
        inner.borrow_mut().resume.reset_to(envelope.id);
        Delivery::Snapshot(snapshot)
    } else if inner.borrow_mut().resume.accept(envelope.id) {
        Delivery::Event(envelope)
    } else {
        return;
    };
    if inner.borrow().state != ConnectionState::Live {
        inner.borrow_mut().attempt = 0;
        set_state(inner, ConnectionState::Live);
    }
    let deliver = inner.borrow().on_delivery.clone();
    deliver(delivery);
}

/// The connection failed or broke: close it and try again after a backoff.
fn on_failure(inner: &Rc<RefCell<Inner>>) {
    close_source(inner);
    if is_offline() {
        set_state(inner, ConnectionState::Offline);
        return;
    }
    let (attempt, delay) = {
        let mut inner = inner.borrow_mut();
        if inner.retry_timer.is_some() {
            return;
        }
        inner.attempt = inner.attempt.saturating_add(1);
        let delay = inner
            .options
            .backoff
            .delay(inner.attempt - 1, js_sys::Math::random());
        (inner.attempt, delay)
    };
    set_state(inner, ConnectionState::Reconnecting { attempt });
    let weak: Weak<RefCell<Inner>> = Rc::downgrade(inner);
    let retry = Closure::once_into_js(move || {
        if let Some(inner) = weak.upgrade() {
            inner.borrow_mut().retry_timer = None;
            open(&inner);
        }
    });
    if let Some(window) = web_sys::window() {
        let millis = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        if let Ok(handle) = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), millis)
        {
            inner.borrow_mut().retry_timer = Some(handle);
        }
    }
}

fn close_source(inner: &Rc<RefCell<Inner>>) {
    if let Some(source) = inner.borrow_mut().source.take() {
        source.close();
    }
}

fn cancel_retry(inner: &Rc<RefCell<Inner>>) {
    if let Some(handle) = inner.borrow_mut().retry_timer.take() {
        if let Some(window) = web_sys::window() {
            window.clear_timeout_with_handle(handle);
        }
    }
}

fn set_state(inner: &Rc<RefCell<Inner>>, state: ConnectionState) {
    let notify = {
        let mut inner = inner.borrow_mut();
        if inner.state == state {
            return;
        }
        inner.state = state;
        inner.on_state.clone()
    };
    notify(state);
}

fn is_offline() -> bool {
    web_sys::window().is_some_and(|window| !window.navigator().on_line())
}
