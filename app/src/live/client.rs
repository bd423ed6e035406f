//! The page's live client: the browser side of the connection manager
//! and of the tabs' shared connection.
//!
//! Every decision is the [`Share`]'s (and, in the tab that leads, its
//! [`Machine`](crate::live::machine::Machine)'s); this module only connects
//! them to the browser. It turns page events (`online`, `offline`,
//! `visibilitychange`, `pagehide`), a quarter-second tick, timers, the user's
//! actions, what each `Connection` reports, the other tabs' messages (a
//! `BroadcastChannel`) and the Web Lock that elects the leading tab into
//! [`ShareInput`]s, and carries out the [`ShareEffect`]s: opening and
//! closing connections, sending messages, making poll requests, setting
//! timers, posting to the other tabs, asking for (or taking) the lock,
//! handing deliveries to the store and status to the indicator.
//!
//! Inputs go through one queue. Carrying out an effect can raise an input
//! at once (a connection the browser refuses to open fails on the spot, a
//! message that cannot go out comes back); it waits in the queue until the
//! effects of the current step are done, so the state machine always sees
//! its inputs one at a time, in order.

use std::{
    cell::{Cell, RefCell},
    collections::VecDeque,
    rc::{Rc, Weak},
};

use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use crate::{
    live::{
        backoff::Backoff,
        connection::{now_ms, poll_once, Connection, Reporter},
        frame::Delivery,
        interest::Interest,
        machine::{Available, Effect, Env, Input, Report, Settings, TICK_MS},
        share::{Share, ShareEffect, ShareInput, TabMessage},
        state::Transport,
    },
    protocol::Position,
};

pub use crate::live::share::{Role, TabStatus};

/// The `BroadcastChannel` the tabs talk on.
const CHANNEL_NAME: &str = "livedash";
/// The Web Lock whose holder leads.
const LOCK_NAME: &str = "livedash:leader";

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

type Listeners = Vec<(
    web_sys::EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
)>;

/// The interval behind [`Input::Tick`]: its handle and its callback.
type Ticker = (i32, Closure<dyn FnMut()>);
/// The channel to the other tabs, and its message listener.
type TabChannel = (
    web_sys::BroadcastChannel,
    Closure<dyn FnMut(web_sys::MessageEvent)>,
);

/// The state machine and the browser objects that carry out its effects.
struct Driver {
    share: RefCell<Share>,
    /// Inputs waiting for the machine.
    queue: RefCell<VecDeque<ShareInput>>,
    /// True while the queue is being worked through.
    running: Cell<bool>,
    connection: RefCell<Option<Connection>>,
    event_types: Vec<String>,
    on_delivery: Box<dyn Fn(Delivery)>,
    on_status: Box<dyn Fn(TabStatus)>,
    listeners: RefCell<Listeners>,
    ticker: RefCell<Option<Ticker>>,
    /// The other tabs (`None`: this browser cannot share).
    channel: RefCell<Option<TabChannel>>,
    /// Resolves the promise that holds the lock: calling it lets go.
    release: RefCell<Option<js_sys::Function>>,
    /// A request for the lock waits in the browser's queue.
    lock_waiting: Cell<bool>,
}

/// The page's live client. Dropping it closes everything.
pub struct LiveClient {
    driver: Rc<Driver>,
}

impl LiveClient {
    /// Starts connecting.
    pub fn start(
        options: ClientOptions,
        on_delivery: impl Fn(Delivery) + 'static,
        on_status: impl Fn(TabStatus) + 'static,
    ) -> Self {
        let settings = Settings {
            interest: options.interest,
            since: options.since,
            pinned: options.pinned,
            preferred: options.preferred,
            backoff: options.backoff,
            max_failures: options.max_failures,
            heartbeat_ms: options.heartbeat_ms,
            hidden: document_hidden(),
            available: Available {
                sse: has_global("EventSource"),
                ws: has_global("WebSocket"),
            },
            seed: (js_sys::Math::random() * (1u64 << 53) as f64) as u64,
        };
        let tab = (js_sys::Math::random() * (1u64 << 53) as f64) as u64;
        let locks = web_sys::window()
            .map(|w| {
                js_sys::Reflect::get(&w.navigator(), &"locks".into()).unwrap_or(JsValue::UNDEFINED)
            })
            .filter(|locks| locks.is_object());
        let channel = locks
            .is_some()
            .then(|| web_sys::BroadcastChannel::new(CHANNEL_NAME).ok())
            .flatten();
        // `?share=off` runs this tab on its own (for tests and comparisons).
        let shared = channel.is_some() && !url_says_no_sharing();
        let driver = Rc::new(Driver {
            share: RefCell::new(Share::new(tab, settings)),
            queue: RefCell::default(),
            running: Cell::new(false),
            connection: RefCell::new(None),
            event_types: options.event_types,
            on_delivery: Box::new(on_delivery),
            on_status: Box::new(on_status),
            listeners: RefCell::default(),
            ticker: RefCell::new(None),
            channel: RefCell::new(None),
            release: RefCell::new(None),
            lock_waiting: Cell::new(false),
        });
        install(&driver);
        if shared {
            if let Some(channel) = channel {
                listen_to_tabs(&driver, channel);
            }
        }
        dispatch(&driver, ShareInput::Start { shared });
        if shared {
            request_lock(&driver, false);
        }
        Self { driver }
    }

    /// Drops any scheduled attempt and connects now (the Reconnect button).
    pub fn reconnect_now(&self) {
        dispatch(&self.driver, ShareInput::Page(Input::Reconnect));
    }

    /// Pins a transport (`None`: automatic) and reconnects with it.
    pub fn set_pinned(&self, pinned: Option<Transport>) {
        dispatch(&self.driver, ShareInput::Page(Input::Pin(pinned)));
    }

    /// Publishes an event on `channel` over the WebSocket (moving an
    /// automatic client there; the message waits in the bounded outbox
    /// until the socket is open). A client pinned to another transport
    /// cannot send: the message is refused (`false`).
    pub fn publish(&self, channel: &str, event: &str, data: serde_json::Value) -> bool {
        if !self.driver.share.borrow().status().can_publish {
            return false;
        }
        dispatch(
            &self.driver,
            ShareInput::Page(Input::Publish {
                channel: channel.to_string(),
                event: event.to_string(),
                data,
            }),
        );
        true
    }

    /// Changes what the client subscribes to (by messages over an open
    /// WebSocket, by a new connection otherwise).
    pub fn set_interest(&self, next: Interest) {
        dispatch(&self.driver, ShareInput::Page(Input::SetInterest(next)));
    }

    /// Forgets the position and reconnects: the server answers with a
    /// snapshot (used when the page dropped events it could not hold).
    pub fn resync(&self) {
        dispatch(&self.driver, ShareInput::Page(Input::Resync));
    }
}

impl Drop for LiveClient {
    fn drop(&mut self) {
        dispatch(&self.driver, ShareInput::Leaving);
        if let Some(connection) = self.driver.connection.borrow_mut().take() {
            connection.close();
        }
        if let Some(release) = self.driver.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::NULL);
        }
        if let Some((channel, _)) = self.driver.channel.borrow_mut().take() {
            channel.set_onmessage(None);
            channel.close();
        }
        // Timers still set hold only a weak reference: they find nothing.
        if let Some((handle, _)) = self.driver.ticker.borrow_mut().take() {
            if let Some(window) = web_sys::window() {
                window.clear_interval_with_handle(handle);
            }
        }
        for (target, name, closure) in self.driver.listeners.borrow_mut().drain(..) {
            let _ =
                target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
    }
}

/// Feeds `input` to the machine and carries out what it asks, then the
/// inputs that raised, until none is left.
fn dispatch(driver: &Rc<Driver>, input: ShareInput) {
    driver.queue.borrow_mut().push_back(input);
    if driver.running.replace(true) {
        // An outer call is working through the queue; it takes this one.
        return;
    }
    loop {
        let next = driver.queue.borrow_mut().pop_front();
        let Some(input) = next else {
            break;
        };
        let env = Env {
            now_ms: now_ms(),
            online: !is_offline(),
        };
        let effects = driver.share.borrow_mut().step(env, input);
        for effect in effects {
            carry_out(driver, effect);
        }
    }
    driver.running.set(false);
}

/// Queues an input for the loop of [`dispatch`] under way.
fn raise(driver: &Driver, input: ShareInput) {
    driver.queue.borrow_mut().push_back(input);
}

fn carry_out(driver: &Rc<Driver>, effect: ShareEffect) {
    match effect {
        ShareEffect::Connection { term, effect } => execute(driver, term, effect),
        ShareEffect::Post(message) => post(driver, &message),
        ShareEffect::Deliver(delivery) => (driver.on_delivery)(delivery),
        ShareEffect::Status(status) => (driver.on_status)(status),
        ShareEffect::StealLock => request_lock(driver, true),
        ShareEffect::CatchUp { id, request } => {
            let weak = Rc::downgrade(driver);
            poll_once(
                &request,
                0.0,
                None,
                Box::new(move |reply| {
                    if let Some(driver) = weak.upgrade() {
                        let input = match reply {
                            Some(reply) => ShareInput::CaughtUp { id, reply },
                            None => ShareInput::CatchUpFailed { id },
                        };
                        dispatch(&driver, input);
                    }
                }),
            );
        }
        ShareEffect::Warn(text) => leptos::logging::warn!("{text}"),
    }
}

/// Carries out an effect of the connection machine of leadership `term`.
fn execute(driver: &Rc<Driver>, term: u64, effect: Effect) {
    match effect {
        Effect::Open { generation, open } => {
            if let Some(old) = driver.connection.borrow_mut().take() {
                old.close();
            }
            let report = reporter(driver, term, generation);
            match Connection::open(&open, &driver.event_types, report) {
                Some(connection) => *driver.connection.borrow_mut() = Some(connection),
                None => raise(
                    driver,
                    ShareInput::Machine {
                        term,
                        input: Input::Report {
                            generation,
                            report: Report::Failed,
                        },
                    },
                ),
            }
        }
        Effect::Close => {
            if let Some(connection) = driver.connection.borrow_mut().take() {
                connection.close();
            }
        }
        Effect::Send(message) => {
            let sent = driver
                .connection
                .borrow()
                .as_ref()
                .is_some_and(|c| c.send(&message.to_json()));
            if !sent {
                raise(
                    driver,
                    ShareInput::Machine {
                        term,
                        input: Input::Unsent(message),
                    },
                );
            }
        }
        Effect::TrySend(message) => {
            if let Some(connection) = driver.connection.borrow().as_ref() {
                connection.send(&message.to_json());
            }
        }
        Effect::Poll {
            generation,
            request,
            timeout_s,
        } => {
            let report = reporter(driver, term, generation);
            match driver.connection.borrow().as_ref() {
                Some(connection) => connection.poll(&request, timeout_s, report),
                None => report(Report::Failed),
            }
        }
        Effect::Schedule { timer, delay_ms } => {
            let weak = Rc::downgrade(driver);
            let callback = Closure::once_into_js(move || {
                if let Some(driver) = weak.upgrade() {
                    dispatch(
                        &driver,
                        ShareInput::Machine {
                            term,
                            input: Input::TimerFired(timer),
                        },
                    );
                }
            });
            if let Some(window) = web_sys::window() {
                let delay = i32::try_from(delay_ms).unwrap_or(i32::MAX);
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                    callback.unchecked_ref(),
                    delay,
                );
            }
        }
        // The share takes these before they get here.
        Effect::Deliver(_) | Effect::Status(_) | Effect::Warn(_) => {}
    }
}

/// Where connection `generation` of leadership `term` reports: into the
/// machine, by way of the queue.
fn reporter(driver: &Rc<Driver>, term: u64, generation: u64) -> Reporter {
    let weak: Weak<Driver> = Rc::downgrade(driver);
    Rc::new(move |report| {
        if let Some(driver) = weak.upgrade() {
            dispatch(
                &driver,
                ShareInput::Machine {
                    term,
                    input: Input::Report { generation, report },
                },
            );
        }
    })
}

/// Posts to the other tabs.
fn post(driver: &Driver, message: &TabMessage) {
    if let Some((channel, _)) = driver.channel.borrow().as_ref() {
        if let Ok(text) = serde_json::to_string(message) {
            let _ = channel.post_message(&JsValue::from_str(&text));
        }
    }
}

/// Feeds what the other tabs post into the machine.
fn listen_to_tabs(driver: &Rc<Driver>, channel: web_sys::BroadcastChannel) {
    let weak = Rc::downgrade(driver);
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(driver) = weak.upgrade() else {
                return;
            };
            let Some(text) = event.data().as_string() else {
                return;
            };
            match crate::protocol::from_json::<TabMessage>(&text) {
                Ok(message) => dispatch(&driver, ShareInput::Tab(message)),
                // A tab of another version of livedash: not ours to read.
                Err(error) => leptos::logging::warn!("livedash: ignoring a tab's message: {error}"),
            }
        });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    *driver.channel.borrow_mut() = Some((channel, on_message));
}

/// Asks the browser for the lock that makes this tab lead, taking it from
/// the tab that holds it when `steal`. The lock is held until this tab
/// lets go (it closes, or the promise handed back is resolved) or another
/// tab takes it (the request's promise then rejects): this tab follows and
/// asks again.
fn request_lock(driver: &Rc<Driver>, steal: bool) {
    if !steal && driver.lock_waiting.replace(true) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(locks) = js_sys::Reflect::get(&window.navigator(), &"locks".into()) else {
        return;
    };
    let Ok(request) = js_sys::Reflect::get(&locks, &"request".into())
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    else {
        return;
    };
    let weak = Rc::downgrade(driver);
    let granted = Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
        let Some(driver) = weak.upgrade() else {
            return js_sys::Promise::resolve(&JsValue::NULL);
        };
        if !steal {
            driver.lock_waiting.set(false);
        }
        if driver.release.borrow().is_some() {
            // Already leading on another grant: let this one go.
            return js_sys::Promise::resolve(&JsValue::NULL);
        }
        let held = js_sys::Promise::new(&mut |resolve, _reject| {
            *driver.release.borrow_mut() = Some(resolve);
        });
        dispatch(&driver, ShareInput::LockAcquired);
        held
    });
    let options = js_sys::Object::new();
    if steal {
        let _ = js_sys::Reflect::set(&options, &"steal".into(), &JsValue::TRUE);
    }
    let Ok(promise) = request
        .call3(&locks, &LOCK_NAME.into(), &options, &granted)
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
    else {
        return;
    };
    let weak = Rc::downgrade(driver);
    let lost = Closure::once_into_js(move |_error: JsValue| {
        if let Some(driver) = weak.upgrade() {
            if !steal {
                driver.lock_waiting.set(false);
            }
            driver.release.borrow_mut().take();
            dispatch(&driver, ShareInput::LockLost);
            request_lock(&driver, false);
        }
    });
    // `catch` through the object, so the closure is freed once it runs.
    if let Ok(catch) = js_sys::Reflect::get(&promise, &"catch".into())
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    {
        let _ = catch.call1(&promise, &lost);
    }
}

fn url_says_no_sharing() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
        .and_then(|params| params.get("share"))
        .is_some_and(|value| value == "off")
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

/// Listens to the page events the machine needs and starts its tick.
fn install(driver: &Rc<Driver>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let weak = Rc::downgrade(driver);
    let on = |input: fn() -> ShareInput| {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(driver) = weak.upgrade() {
                dispatch(&driver, input());
            }
        })
    };
    let mut listeners: Listeners = vec![
        (
            window.clone().unchecked_into(),
            "online",
            on(|| ShareInput::Page(Input::Online)),
        ),
        (
            window.clone().unchecked_into(),
            "offline",
            on(|| ShareInput::Page(Input::Offline)),
        ),
        (
            window.clone().unchecked_into(),
            "pagehide",
            on(|| ShareInput::Leaving),
        ),
    ];
    if let Some(document) = window.document() {
        listeners.push((
            document.unchecked_into(),
            "visibilitychange",
            on(|| {
                ShareInput::Page(Input::VisibilityChanged {
                    hidden: document_hidden(),
                })
            }),
        ));
    }
    for (target, name, closure) in &listeners {
        let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
    let tick = Closure::<dyn FnMut()>::new(move || {
        if let Some(driver) = weak.upgrade() {
            dispatch(&driver, ShareInput::Page(Input::Tick));
        }
    });
    let handle = window
        .set_interval_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            TICK_MS as i32,
        )
        .unwrap_or(0);
    *driver.listeners.borrow_mut() = listeners;
    *driver.ticker.borrow_mut() = Some((handle, tick));
}
