//! One connection on one transport, reporting what happens to the client
//! manager as [`Signal`]s. A connection knows nothing of positions beyond
//! the one it starts from, nor of what the events mean.

use std::{
    cell::{Cell, RefCell},
    collections::BTreeSet,
    rc::Rc,
};

use serde_json::Value;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, EventSource, MessageEvent, RequestInit, Response, WebSocket};

use crate::{
    live::{breaker::CircuitBreaker, interest::Interest, state::Transport},
    protocol::{Envelope, Position, HEARTBEAT_EVENT, RESET_EVENT, SNAPSHOT_EVENT},
};

/// What a connection reports.
pub(crate) enum Signal {
    /// The transport is open (it may not have delivered anything yet).
    Opened,
    /// An event, snapshot or reset envelope.
    Envelope(Envelope<Value>),
    /// The server is alive (heartbeat, reply, or an empty poll answer).
    Heartbeat,
    /// The log position the server says this client is at (polls).
    Position(Position),
    /// The connection failed or ended; the manager decides what next.
    Failed,
}

/// Where reports go.
pub(crate) type Report = Rc<dyn Fn(Signal)>;

/// What a connection needs to open.
pub(crate) struct OpenOptions {
    /// The channels and key filters to subscribe to.
    pub interest: Interest,
    /// Channels that start from a snapshot rather than from `since` (read
    /// at each request: the manager removes a channel once its snapshot
    /// arrived).
    pub fresh: Rc<RefCell<BTreeSet<String>>>,
    pub event_types: Vec<String>,
    pub since: Option<Position>,
    /// Seconds a long poll may wait.
    pub poll_timeout_s: f64,
    /// The page is hidden: poll less often.
    pub hidden: Rc<Cell<bool>>,
    /// Guards the poll requests.
    pub breaker: Rc<RefCell<CircuitBreaker>>,
    /// The position to poll from next (kept up to date by the manager).
    pub position: Rc<dyn Fn() -> Option<Position>>,
}

type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// An open connection.
pub(crate) enum Connection {
    Sse {
        source: EventSource,
        _listeners: Vec<Listener>,
    },
    Ws {
        socket: WebSocket,
        _listeners: Vec<Listener>,
    },
    Poll {
        stopped: Rc<Cell<bool>>,
        abort: Option<AbortController>,
    },
}

impl Connection {
    /// Opens `transport`; failures are reported, never returned.
    pub fn open(transport: Transport, options: OpenOptions, report: Report) -> Option<Self> {
        let opened = match transport {
            Transport::Sse => open_sse(&options, report.clone()),
            Transport::Ws => open_ws(&options, report.clone()),
            Transport::Poll => Some(open_poll(options, report.clone())),
        };
        if opened.is_none() {
            report(Signal::Failed);
        }
        opened
    }

    /// Sends a text message (WebSocket only); false when it cannot.
    pub fn send(&self, text: &str) -> bool {
        match self {
            Connection::Ws { socket, .. } => {
                socket.ready_state() == WebSocket::OPEN && socket.send_with_str(text).is_ok()
            }
            _ => false,
        }
    }

    /// Whether the connection can carry messages now.
    pub fn is_open(&self) -> bool {
        match self {
            Connection::Ws { socket, .. } => socket.ready_state() == WebSocket::OPEN,
            Connection::Sse { source, .. } => source.ready_state() == EventSource::OPEN,
            Connection::Poll { stopped, .. } => !stopped.get(),
        }
    }

    /// Closes the connection; it reports nothing more.
    pub fn close(&self) {
        match self {
            Connection::Sse { source, .. } => source.close(),
            Connection::Ws { socket, .. } => {
                socket.set_onclose(None);
                socket.set_onerror(None);
                socket.set_onmessage(None);
                let _ = socket.close_with_code(1000);
            }
            Connection::Poll { stopped, abort } => {
                stopped.set(true);
                if let Some(abort) = abort {
                    abort.abort();
                }
            }
        }
    }
}

fn listener(f: impl FnMut(web_sys::Event) + 'static) -> Listener {
    Closure::<dyn FnMut(web_sys::Event)>::new(f)
}

fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text)
        .as_string()
        .unwrap_or_default()
}

fn list<'a>(channels: impl IntoIterator<Item = &'a String>) -> String {
    channels
        .into_iter()
        .map(|c| encode(c))
        .collect::<Vec<_>>()
        .join(",")
}

/// The query parameters naming what to subscribe to: `channels`, `filter`,
/// and, when resuming from `since`, `fresh` (`since` itself is added by the
/// caller, whose parameter names differ).
fn subscription_query(options: &OpenOptions, since: Option<Position>) -> String {
    let interest = &options.interest;
    let mut query = format!("channels={}", list(&interest.channels));
    if let Some(filters) = interest.filters_of(&interest.channels) {
        let json = serde_json::to_string(&filters).unwrap_or_default();
        query.push_str(&format!("&filter={}", encode(&json)));
    }
    if since.is_some() {
        let fresh = options.fresh.borrow();
        let fresh: Vec<&String> = fresh.intersection(&interest.channels).collect();
        if !fresh.is_empty() {
            query.push_str(&format!("&fresh={}", list(fresh)));
        }
    }
    query
}

fn open_sse(options: &OpenOptions, report: Report) -> Option<Connection> {
    let mut url = format!(
        "/api/realtime/sse?{}",
        subscription_query(options, options.since)
    );
    if let Some(since) = options.since {
        url.push_str(&format!("&lastEventId={since}"));
    }
    let source = EventSource::new(&url).ok()?;
    let mut listeners = Vec::new();
    let r = report.clone();
    listeners.push(("open", listener(move |_| r(Signal::Opened))));
    // The browser would retry on its own; the manager decides instead.
    let r = report.clone();
    listeners.push(("error", listener(move |_| r(Signal::Failed))));
    let r = report.clone();
    listeners.push((HEARTBEAT_EVENT, listener(move |_| r(Signal::Heartbeat))));
    let on_event = Rc::new(move |event: web_sys::Event| {
        let Some(text) = event
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string())
        else {
            return;
        };
        match serde_json::from_str::<Envelope<Value>>(&text) {
            Ok(envelope) => report(Signal::Envelope(envelope)),
            Err(error) => leptos::logging::warn!(
                "livedash: ignoring an event that is not an envelope: {error}"
            ),
        }
    });
    let mut types: Vec<&str> = options.event_types.iter().map(String::as_str).collect();
    types.extend([SNAPSHOT_EVENT, RESET_EVENT]);
    types.sort_unstable();
    types.dedup();
    let mut owned = Vec::new();
    for name in types {
        let on_event = on_event.clone();
        let closure = listener(move |event| on_event(event));
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        owned.push(closure);
    }
    for (name, closure) in &listeners {
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
    owned.extend(listeners.into_iter().map(|(_, closure)| closure));
    Some(Connection::Sse {
        source,
        _listeners: owned,
    })
}

fn open_ws(options: &OpenOptions, report: Report) -> Option<Connection> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://{}/api/realtime/ws", location.host().ok()?);
    let socket = WebSocket::new(&url).ok()?;
    let failed = Rc::new(Cell::new(false));
    let fail = {
        let (report, failed) = (report.clone(), failed.clone());
        move || {
            if !failed.replace(true) {
                report(Signal::Failed);
            }
        }
    };
    let subscribe = ws_subscriptions(options);
    let hidden = options.hidden.get();
    let on_open = {
        let socket = socket.clone();
        listener(move |_| {
            for message in &subscribe {
                let _ = socket.send_with_str(message);
            }
            if hidden {
                let _ = socket.send_with_str(r#"{"type":"set_visibility","hidden":true}"#);
            }
        })
    };
    let on_message = {
        let report = report.clone();
        listener(move |event| {
            let Some(text) = event
                .dyn_ref::<MessageEvent>()
                .and_then(|m| m.data().as_string())
            else {
                return;
            };
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                return;
            };
            match value.get("type").and_then(Value::as_str) {
                Some("event" | "snapshot" | "reset") => {
                    match serde_json::from_value::<Envelope<Value>>(value) {
                        Ok(envelope) => report(Signal::Envelope(envelope)),
                        Err(error) => {
                            leptos::logging::warn!("livedash: ignoring a malformed event: {error}")
                        }
                    }
                }
                Some("subscribed") => {
                    report(Signal::Opened);
                    report(Signal::Heartbeat);
                }
                Some("error") => {
                    leptos::logging::warn!("livedash: the server refused a message: {text}")
                }
                _ => report(Signal::Heartbeat),
            }
        })
    };
    let on_close = {
        let fail = fail.clone();
        listener(move |_| fail())
    };
    let on_error = listener(move |_| fail());
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Some(Connection::Ws {
        socket,
        _listeners: vec![on_open, on_message, on_close, on_error],
    })
}

/// The `subscribe` messages a new WebSocket sends: the channels that
/// resume from `since`, then the fresh ones (which start from a snapshot).
fn ws_subscriptions(options: &OpenOptions) -> Vec<String> {
    let interest = &options.interest;
    let fresh: BTreeSet<String> = match options.since {
        Some(_) => options
            .fresh
            .borrow()
            .intersection(&interest.channels)
            .cloned()
            .collect(),
        None => BTreeSet::new(),
    };
    let resumed: BTreeSet<String> = interest.channels.difference(&fresh).cloned().collect();
    let subscribe = |channels: &BTreeSet<String>, since: Option<Position>| {
        let filter = interest.filters_of(channels);
        serde_json::json!({
            "type": "subscribe",
            "channels": channels,
            "since": since.map(|p| p.to_string()),
            "filter": filter,
            "request_id": "live",
        })
        .to_string()
    };
    [(&resumed, options.since), (&fresh, None)]
        .into_iter()
        .filter(|(channels, _)| !channels.is_empty())
        .map(|(channels, since)| subscribe(channels, since))
        .collect()
}

fn open_poll(options: OpenOptions, report: Report) -> Connection {
    let stopped = Rc::new(Cell::new(false));
    let abort = AbortController::new().ok();
    let signal = abort.as_ref().map(AbortController::signal);
    let stop = stopped.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let mut first = true;
        while !stop.get() {
            let now = now_ms();
            let wait = {
                let mut breaker = options.breaker.borrow_mut();
                if breaker.allow(now) {
                    None
                } else {
                    Some(breaker.wait_ms(now).max(100))
                }
            };
            if let Some(wait) = wait {
                sleep_ms(wait as i32).await;
                continue;
            }
            let since = (options.position)();
            let mut url = format!(
                "/api/realtime/poll?{}&timeout={}",
                subscription_query(&options, since),
                if first { 0.0 } else { options.poll_timeout_s }
            );
            if let Some(since) = since {
                url.push_str(&format!("&since={since}"));
            }
            match fetch_json(&url, signal.as_ref()).await {
                Ok(body) => {
                    options.breaker.borrow_mut().success();
                    if stop.get() {
                        return;
                    }
                    if first {
                        report(Signal::Opened);
                        first = false;
                    }
                    report(Signal::Heartbeat);
                    let events = body
                        .get("events")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for event in events {
                        if let Ok(envelope) = serde_json::from_value::<Envelope<Value>>(event) {
                            report(Signal::Envelope(envelope));
                        }
                    }
                    if let Some(next) = body
                        .get("next")
                        .and_then(Value::as_str)
                        .and_then(|n| n.parse().ok())
                    {
                        report(Signal::Position(next));
                    }
                    if options.hidden.get() {
                        // A hidden page polls less often.
                        sleep_ms(2_000).await;
                    }
                }
                Err(_) => {
                    options.breaker.borrow_mut().failure(now_ms());
                    if !stop.get() {
                        report(Signal::Failed);
                    }
                    return;
                }
            }
        }
    });
    Connection::Poll { stopped, abort }
}

async fn fetch_json(url: &str, signal: Option<&web_sys::AbortSignal>) -> Result<Value, JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let init = RequestInit::new();
    init.set_signal(signal);
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from_f64(f64::from(response.status())));
    }
    let text = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .ok_or(JsValue::NULL)?;
    serde_json::from_str(&text).map_err(|_| JsValue::NULL)
}

/// Milliseconds on the page's monotonic clock.
pub(crate) fn now_ms() -> u64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now() as u64)
        .unwrap_or(0)
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
