//! One connection on one transport: the browser objects behind it, and the
//! [`Report`]s it makes of what they do. A connection decides nothing: it
//! opens what the state machine asks for, decodes what arrives with the
//! protocol's types, and reports; it knows nothing of positions beyond the
//! request in hand, nor of what the events mean.

use std::{cell::Cell, rc::Rc};

use serde_json::Value;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, EventSource, MessageEvent, RequestInit, Response, WebSocket};

use crate::{
    live::{
        machine::{Open, Report},
        subscription::Subscription,
    },
    protocol::{Envelope, PollReply, ServerMessage, HEARTBEAT_EVENT, RESET_EVENT, SNAPSHOT_EVENT},
};

/// Where a connection's reports go.
pub(crate) type Reporter = Rc<dyn Fn(Report)>;

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
    /// Polling: each request is one [`Connection::poll`]; closing aborts
    /// the one under way.
    Poll { abort: Option<AbortController> },
}

impl Connection {
    /// Opens what `open` says; `None` when the browser refused to (the
    /// caller reports the failure).
    pub fn open(open: &Open, event_types: &[String], report: Reporter) -> Option<Self> {
        match open {
            Open::Sse(subscription) => open_sse(subscription, event_types, report),
            Open::Ws => open_ws(report),
            Open::Poll => Some(Connection::Poll {
                abort: AbortController::new().ok(),
            }),
        }
    }

    /// Sends a text message (WebSocket only); false when it cannot go now.
    pub fn send(&self, text: &str) -> bool {
        match self {
            Connection::Ws { socket, .. } => {
                socket.ready_state() == WebSocket::OPEN && socket.send_with_str(text).is_ok()
            }
            _ => false,
        }
    }

    /// Makes one poll request and reports its answer or failure. A
    /// request aborted by [`Connection::close`] reports a failure too: the
    /// state machine counts it against the server (as the circuit breaker
    /// always has) but ignores it otherwise, since it comes from a closed
    /// connection.
    pub fn poll(&self, request: &Subscription, timeout_s: f64, report: Reporter) {
        let signal = match self {
            Connection::Poll { abort } => abort.as_ref().map(AbortController::signal),
            _ => {
                report(Report::Failed);
                return;
            }
        };
        poll_once(
            request,
            timeout_s,
            signal,
            Box::new(move |reply| {
                report(match reply {
                    Some(reply) => Report::PollAnswered(reply),
                    None => Report::PollFailed,
                });
            }),
        );
    }

    /// Closes the connection; it reports nothing more (but an aborted poll).
    pub fn close(&self) {
        match self {
            Connection::Sse { source, .. } => source.close(),
            Connection::Ws { socket, .. } => {
                socket.set_onopen(None);
                socket.set_onclose(None);
                socket.set_onerror(None);
                socket.set_onmessage(None);
                let _ = socket.close_with_code(1000);
            }
            Connection::Poll { abort } => {
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

fn message_text(event: &web_sys::Event) -> Option<String> {
    event.dyn_ref::<MessageEvent>()?.data().as_string()
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

/// The query parameters naming what to subscribe to: `channels`, `filter`
/// and `fresh` (`since` itself is added by the caller, whose parameter
/// names differ).
fn subscription_query(request: &Subscription) -> String {
    let mut query = format!("channels={}", list(&request.channels));
    if !request.filters.is_empty() {
        let json = serde_json::to_string(&request.filters).unwrap_or_default();
        query.push_str(&format!("&filter={}", encode(&json)));
    }
    if !request.fresh.is_empty() {
        query.push_str(&format!("&fresh={}", list(&request.fresh)));
    }
    query
}

fn open_sse(
    subscription: &Subscription,
    event_types: &[String],
    report: Reporter,
) -> Option<Connection> {
    let mut url = format!("/api/realtime/sse?{}", subscription_query(subscription));
    if let Some(since) = subscription.since {
        url.push_str(&format!("&lastEventId={since}"));
    }
    let source = EventSource::new(&url).ok()?;
    let mut listeners = Vec::new();
    let r = report.clone();
    listeners.push(("open", listener(move |_| r(Report::Opened))));
    // The browser would retry on its own; the state machine decides instead.
    let r = report.clone();
    listeners.push(("error", listener(move |_| r(Report::Failed))));
    let r = report.clone();
    listeners.push((HEARTBEAT_EVENT, listener(move |_| r(Report::Heartbeat))));
    let on_event = Rc::new(move |event: web_sys::Event| {
        let Some(text) = message_text(&event) else {
            return;
        };
        match serde_json::from_str::<Envelope<Value>>(&text) {
            Ok(envelope) => report(Report::Envelope(envelope)),
            Err(error) => leptos::logging::warn!(
                "livedash: ignoring an event that is not an envelope: {error}"
            ),
        }
    });
    let mut types: Vec<&str> = event_types.iter().map(String::as_str).collect();
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

fn open_ws(report: Reporter) -> Option<Connection> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://{}/api/realtime/ws", location.host().ok()?);
    let socket = WebSocket::new(&url).ok()?;
    // A socket may report both an error and a close: one failure is enough.
    let failed = Rc::new(Cell::new(false));
    let fail = {
        let (report, failed) = (report.clone(), failed.clone());
        move || {
            if !failed.replace(true) {
                report(Report::Failed);
            }
        }
    };
    let on_open = {
        let report = report.clone();
        listener(move |_| report(Report::SocketOpened))
    };
    let on_message = listener(move |event| {
        let Some(text) = message_text(&event) else {
            return;
        };
        match ServerMessage::from_json(&text) {
            Ok(message) => report(Report::Message(message)),
            Err(error) => {
                leptos::logging::warn!("livedash: ignoring a malformed message: {error}")
            }
        }
    });
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

/// Makes one poll request for `request` and hands its answer (`None`: it
/// failed or was aborted) to `done` (boxed: one copy of the request in the
/// WASM bundle for both callers).
pub(crate) fn poll_once(
    request: &Subscription,
    timeout_s: f64,
    signal: Option<web_sys::AbortSignal>,
    done: Box<dyn FnOnce(Option<PollReply>)>,
) {
    let mut url = format!(
        "/api/realtime/poll?{}&timeout={timeout_s}",
        subscription_query(request)
    );
    if let Some(since) = request.since {
        url.push_str(&format!("&since={since}"));
    }
    wasm_bindgen_futures::spawn_local(async move {
        let reply = fetch_text(&url, signal.as_ref())
            .await
            .ok()
            .and_then(|text| crate::protocol::from_json::<PollReply>(&text).ok());
        done(reply);
    });
}

/// The body of a successful GET.
async fn fetch_text(url: &str, signal: Option<&web_sys::AbortSignal>) -> Result<String, JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let init = RequestInit::new();
    init.set_signal(signal);
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from_f64(f64::from(response.status())));
    }
    JsFuture::from(response.text()?)
        .await?
        .as_string()
        .ok_or(JsValue::NULL)
}

/// Milliseconds on the page's monotonic clock.
pub(crate) fn now_ms() -> u64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now() as u64)
        .unwrap_or(0)
}
