//! The page's live client: the browser side of the connection manager.
//!
//! Every decision is the [`Machine`]'s; this module only connects it to
//! the browser. It turns page events (`online`, `offline`,
//! `visibilitychange`), a half-second tick, timers, the user's actions and
//! what each `Connection` reports into [`Input`]s, and carries out the
//! [`Effect`]s the machine returns: opening and closing connections,
//! sending messages, making poll requests, setting timers, handing
//! deliveries to the store and status to the indicator.
//!
//! Inputs go through one queue. Carrying out an effect can raise an input
//! at once (a connection the browser refuses to open fails on the spot, a
//! message that cannot go out comes back); it waits in the queue until the
//! effects of the current step are done, so the machine always sees its
//! inputs one at a time, in order.

use std::{
    cell::{Cell, RefCell},
    collections::VecDeque,
    rc::{Rc, Weak},
};

use wasm_bindgen::{closure::Closure, JsCast};

use crate::{
    live::{
        backoff::Backoff,
        connection::{now_ms, Connection, Reporter},
        frame::Delivery,
        interest::Interest,
        machine::{Available, Effect, Env, Input, Machine, Report, Settings, TICK_MS},
        state::Transport,
    },
    protocol::Position,
};

pub use crate::live::machine::Status;

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

/// The machine and the browser objects that carry out its effects.
struct Driver {
    machine: RefCell<Machine>,
    /// Inputs waiting for the machine.
    queue: RefCell<VecDeque<Input>>,
    /// True while the queue is being worked through.
    running: Cell<bool>,
    connection: RefCell<Option<Connection>>,
    event_types: Vec<String>,
    on_delivery: Box<dyn Fn(Delivery)>,
    on_status: Box<dyn Fn(Status)>,
    listeners: RefCell<Listeners>,
    ticker: RefCell<Option<Ticker>>,
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
        on_status: impl Fn(Status) + 'static,
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
        let driver = Rc::new(Driver {
            machine: RefCell::new(Machine::new(settings)),
            queue: RefCell::default(),
            running: Cell::new(false),
            connection: RefCell::new(None),
            event_types: options.event_types,
            on_delivery: Box::new(on_delivery),
            on_status: Box::new(on_status),
            listeners: RefCell::default(),
            ticker: RefCell::new(None),
        });
        install(&driver);
        dispatch(&driver, Input::Start);
        Self { driver }
    }

    /// Drops any scheduled attempt and connects now (the Reconnect button).
    pub fn reconnect_now(&self) {
        dispatch(&self.driver, Input::Reconnect);
    }

    /// Pins a transport (`None`: automatic) and reconnects with it.
    pub fn set_pinned(&self, pinned: Option<Transport>) {
        dispatch(&self.driver, Input::Pin(pinned));
    }

    /// Publishes an event on `channel` over the WebSocket (moving an
    /// automatic client there; the message waits in the bounded outbox
    /// until the socket is open). A client pinned to another transport
    /// cannot send: the message is refused (`false`).
    pub fn publish(&self, channel: &str, event: &str, data: serde_json::Value) -> bool {
        if !self.driver.machine.borrow().can_publish() {
            return false;
        }
        dispatch(
            &self.driver,
            Input::Publish {
                channel: channel.to_string(),
                event: event.to_string(),
                data,
            },
        );
        true
    }

    /// Changes what the client subscribes to (by messages over an open
    /// WebSocket, by a new connection otherwise).
    pub fn set_interest(&self, next: Interest) {
        dispatch(&self.driver, Input::SetInterest(next));
    }

    /// Forgets the position and reconnects: the server answers with a
    /// snapshot (used when the page dropped events it could not hold).
    pub fn resync(&self) {
        dispatch(&self.driver, Input::Resync);
    }
}

impl Drop for LiveClient {
    fn drop(&mut self) {
        if let Some(connection) = self.driver.connection.borrow_mut().take() {
            connection.close();
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
fn dispatch(driver: &Rc<Driver>, input: Input) {
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
        let effects = driver.machine.borrow_mut().step(env, input);
        for effect in effects {
            execute(driver, effect);
        }
    }
    driver.running.set(false);
}

/// Queues an input for the loop of [`dispatch`] under way.
fn raise(driver: &Driver, input: Input) {
    driver.queue.borrow_mut().push_back(input);
}

fn execute(driver: &Rc<Driver>, effect: Effect) {
    match effect {
        Effect::Open { generation, open } => {
            if let Some(old) = driver.connection.borrow_mut().take() {
                old.close();
            }
            let report = reporter(driver, generation);
            match Connection::open(&open, &driver.event_types, report) {
                Some(connection) => *driver.connection.borrow_mut() = Some(connection),
                None => raise(
                    driver,
                    Input::Report {
                        generation,
                        report: Report::Failed,
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
                raise(driver, Input::Unsent(message));
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
            let report = reporter(driver, generation);
            match driver.connection.borrow().as_ref() {
                Some(connection) => connection.poll(&request, timeout_s, report),
                None => report(Report::Failed),
            }
        }
        Effect::Schedule { timer, delay_ms } => {
            let weak = Rc::downgrade(driver);
            let callback = Closure::once_into_js(move || {
                if let Some(driver) = weak.upgrade() {
                    dispatch(&driver, Input::TimerFired(timer));
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
        Effect::Deliver(delivery) => (driver.on_delivery)(delivery),
        Effect::Status(status) => (driver.on_status)(status),
        Effect::Warn(text) => leptos::logging::warn!("{text}"),
    }
}

/// Where connection `generation` reports: into the machine, by way of the
/// queue.
fn reporter(driver: &Rc<Driver>, generation: u64) -> Reporter {
    let weak: Weak<Driver> = Rc::downgrade(driver);
    Rc::new(move |report| {
        if let Some(driver) = weak.upgrade() {
            dispatch(&driver, Input::Report { generation, report });
        }
    })
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
    let on = |input: fn() -> Input| {
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
            on(|| Input::Online),
        ),
        (
            window.clone().unchecked_into(),
            "offline",
            on(|| Input::Offline),
        ),
    ];
    if let Some(document) = window.document() {
        listeners.push((
            document.unchecked_into(),
            "visibilitychange",
            on(|| Input::VisibilityChanged {
                hidden: document_hidden(),
            }),
        ));
    }
    for (target, name, closure) in &listeners {
        let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
    let tick = Closure::<dyn FnMut()>::new(move || {
        if let Some(driver) = weak.upgrade() {
            dispatch(&driver, Input::Tick);
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
