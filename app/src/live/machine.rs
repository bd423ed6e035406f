//! The connection manager as a state machine: [`Machine::step`] takes one
//! [`Input`] (something that happened) and returns the [`Effect`]s (what to
//! do about it). It touches no DOM, timer or network: the browser glue
//! (`client`, `connection`) turns page events, timers and transport
//! callbacks into inputs and carries the effects out, and the tests here
//! drive it with a clock of their own.
//!
//! The machine owns at most one connection at a time and decides
//! everything around it: which transport ([`TransportPolicy`]: SSE,
//! WebSocket once the page sends, falling back to polling and probing
//! back), when to reconnect ([`Backoff`] with seeded [`Jitter`], at once when
//! the browser comes back online), when a silent connection is dead (no
//! event or heartbeat for twice the server's heartbeat interval, checked on
//! each [`Input::Tick`]), and which events are new ([`ResumePoint`]: every
//! connection resumes from the last position received, so nothing is
//! missed or repeated across reconnects and transport switches).
//!
//! ```text
//! connecting ─open/data─▶ live ─fail/silence─▶ reconnecting(k) ─Retry timer─▶ (connect) ─▶ live
//!      │                   │                      │ k > max_failures ─▶ failed ─Reconnect─▶ (connect)
//!      └───────── Offline ─────────▶ offline ─Online─▶ (connect at once)
//! ```
//!
//! Each connection gets a generation number, carried by its reports; a
//! report from an older generation is ignored, so a connection being torn
//! down cannot disturb its successor. Timers carry an id for the same
//! reason: a timer that was superseded does nothing when it fires.
//!
//! Polling is driven from here too, one request at a time
//! ([`Effect::Poll`]): the first asks for an immediate answer, the next
//! ones wait on the server up to the heartbeat interval; a hidden page
//! waits [`HIDDEN_POLL_DELAY_MS`] between polls, and the
//! [`CircuitBreaker`] holds requests back while the server keeps failing.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{
    live::{
        backoff::{Backoff, Jitter},
        breaker::CircuitBreaker,
        frame::Delivery,
        interest::Interest,
        outbox::Outbox,
        policy::{TransportPolicy, PROBE_EVERY_MS},
        resume::ResumePoint,
        state::{ConnectionState, Transport},
        subscription::{change_messages, Subscription},
    },
    protocol::{
        ClientMessage, Envelope, PollReply, Position, ServerMessage, Snapshot, RESET_EVENT,
        SNAPSHOT_EVENT,
    },
};

#[cfg(test)]
mod tests;

/// How often the glue feeds [`Input::Tick`].
pub const TICK_MS: u64 = 500;
/// How long a hidden page waits between polls.
pub const HIDDEN_POLL_DELAY_MS: u64 = 2_000;
/// The shortest wait before asking a circuit breaker again.
const BREAKER_RECHECK_MS: u64 = 100;

/// How the client connects.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The channels (and keys) to subscribe to at first.
    pub interest: Interest,
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
    /// Whether the page is hidden at the start.
    pub hidden: bool,
    /// Which transports this browser has.
    pub available: Available,
    /// Seeds the reconnection jitter.
    pub seed: u64,
}

/// Which transports the browser has (polling needs only `fetch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Available {
    /// `EventSource` exists.
    pub sse: bool,
    /// `WebSocket` exists.
    pub ws: bool,
}

impl Available {
    fn has(&self, transport: Transport) -> bool {
        match transport {
            Transport::Sse => self.sse,
            Transport::Ws => self.ws,
            Transport::Poll => true,
        }
    }
}

/// What the browser says at the moment of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// The page clock (`performance.now()`), in milliseconds.
    pub now_ms: u64,
    /// `navigator.onLine`.
    pub online: bool,
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The page started the client.
    Start,
    /// Connection `generation` reports.
    Report {
        /// Which connection (see [`Effect::Open`]).
        generation: u64,
        /// What it reports.
        report: Report,
    },
    /// A timer set by [`Effect::Schedule`] fired.
    TimerFired(Timer),
    /// The clock ticked (every [`TICK_MS`]): time to check for silence and
    /// to probe.
    Tick,
    /// The browser's `online` event.
    Online,
    /// The browser's `offline` event.
    Offline,
    /// The page was hidden or shown.
    VisibilityChanged {
        /// True when hidden.
        hidden: bool,
    },
    /// The user pinned a transport (`None`: automatic).
    Pin(Option<Transport>),
    /// The user clicked Reconnect.
    Reconnect,
    /// The page lost events it could not hold: start over from a snapshot.
    Resync,
    /// The mounted widgets now need this.
    SetInterest(Interest),
    /// The page publishes an event (see [`Machine::can_publish`]).
    Publish {
        /// The channel.
        channel: String,
        /// The event type.
        event: String,
        /// The payload.
        data: Value,
    },
    /// An [`Effect::Send`] could not go out: the socket was not open.
    Unsent(ClientMessage),
}

/// What a connection reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// WebSocket: the socket is open (subscriptions not yet confirmed).
    SocketOpened,
    /// SSE: the stream is open (it may not deliver anything yet).
    Opened,
    /// SSE: a heartbeat.
    Heartbeat,
    /// SSE: an event, snapshot or reset.
    Envelope(Envelope<Value>),
    /// WebSocket: a message from the server.
    Message(ServerMessage),
    /// Polling: the answer to [`Effect::Poll`].
    PollAnswered(PollReply),
    /// Polling: the request failed.
    PollFailed,
    /// The connection failed or ended.
    Failed,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open connection `generation` (any earlier one is closed first).
    Open {
        /// Tags the connection's reports.
        generation: u64,
        /// On which transport, asking for what.
        open: Open,
    },
    /// Close the connection; it must report nothing more.
    Close,
    /// Send over the open WebSocket; if it cannot go now, report
    /// [`Input::Unsent`] so it waits in the outbox.
    Send(ClientMessage),
    /// Send over the open WebSocket if it can go now; otherwise drop it
    /// (it describes the current state, which the next socket sends anew).
    TrySend(ClientMessage),
    /// Make one poll request on connection `generation` and report its
    /// answer or failure.
    Poll {
        /// The polling connection.
        generation: u64,
        /// What to ask for (`since` is where the next poll continues).
        request: Subscription,
        /// How long the server may hold the request, in seconds.
        timeout_s: f64,
    },
    /// Feed [`Input::TimerFired`] with `timer` after `delay_ms`.
    Schedule {
        /// Which timer.
        timer: Timer,
        /// In milliseconds.
        delay_ms: u64,
    },
    /// Hand a delivery to the store.
    Deliver(Delivery),
    /// Show this status.
    Status(Status),
    /// Log a warning for a person.
    Warn(String),
}

/// A connection to open.
#[derive(Clone, Debug, PartialEq)]
pub enum Open {
    /// An `EventSource` asking for this.
    Sse(Subscription),
    /// A WebSocket; it subscribes once open (see [`Report::SocketOpened`]).
    Ws,
    /// Polling; the requests follow as [`Effect::Poll`].
    Poll,
}

impl Open {
    /// The transport.
    pub fn transport(&self) -> Transport {
        match self {
            Open::Sse(_) => Transport::Sse,
            Open::Ws => Transport::Ws,
            Open::Poll => Transport::Poll,
        }
    }
}

/// A timer: its kind and the id that tells a current one from a superseded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// What it is for.
    pub kind: TimerKind,
    /// Unique per machine.
    pub id: u64,
}

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// The next reconnection attempt.
    Retry,
    /// The next poll request (after a hidden page's pause or while the
    /// circuit breaker is open).
    Poll,
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

/// The current connection.
#[derive(Clone, Debug)]
struct Link {
    transport: Transport,
    /// The position it resumed from.
    since: Option<Position>,
    /// WebSocket: the socket is open and can carry messages.
    socket_open: bool,
    /// Polling: a request was answered (later ones may wait on the server).
    answered: bool,
}

/// The connection manager's state.
#[derive(Debug)]
pub struct Machine {
    settings: Settings,
    policy: TransportPolicy,
    resume: ResumePoint,
    /// Channels added since the position was taken: they start from a
    /// snapshot, not from the position.
    fresh: BTreeSet<String>,
    breaker: CircuitBreaker,
    jitter: Jitter,
    outbox: Outbox,
    hidden: bool,
    generation: u64,
    link: Option<Link>,
    /// The transport of the current (or last) connection.
    transport: Transport,
    /// The current connection delivered something.
    delivered: bool,
    /// The current connection probes the preferred transport from the fallback.
    probing: bool,
    fallback_since_ms: u64,
    last_activity_ms: u64,
    state: ConnectionState,
    /// Failed attempts since the connection was last live.
    attempt: u32,
    retry_timer: Option<u64>,
    poll_timer: Option<u64>,
    next_timer_id: u64,
    /// The status last shown, so that only changes are.
    shown: Option<Status>,
    /// The effects of the step under way.
    effects: Vec<Effect>,
}

impl Machine {
    /// A machine that has not started; feed it [`Input::Start`].
    pub fn new(settings: Settings) -> Self {
        let policy = TransportPolicy::new(
            settings.pinned,
            settings.preferred,
            settings.available.has(settings.preferred),
        );
        Self {
            resume: ResumePoint::new(settings.since),
            transport: policy.current(),
            policy,
            fresh: BTreeSet::new(),
            breaker: CircuitBreaker::new(3, 5_000),
            jitter: Jitter::new(settings.seed),
            outbox: Outbox::default(),
            hidden: settings.hidden,
            generation: 0,
            link: None,
            delivered: false,
            probing: false,
            fallback_since_ms: 0,
            last_activity_ms: 0,
            state: ConnectionState::Connecting,
            attempt: 0,
            retry_timer: None,
            poll_timer: None,
            next_timer_id: 0,
            shown: None,
            effects: Vec::new(),
            settings,
        }
    }

    /// Handles one input; returns what to do, in order.
    pub fn step(&mut self, env: Env, input: Input) -> Vec<Effect> {
        match input {
            Input::Start => self.start(env),
            Input::Report { generation, report } => self.report(env, generation, report),
            Input::TimerFired(timer) => self.timer_fired(env, timer),
            Input::Tick => self.tick(env),
            Input::Online => {
                if self.state != ConnectionState::Live {
                    self.restart(env);
                }
            }
            Input::Offline => {
                self.retry_timer = None;
                self.generation += 1;
                self.drop_link();
                self.state = ConnectionState::Offline;
            }
            Input::VisibilityChanged { hidden } => {
                self.hidden = hidden;
                if self.socket_open() {
                    self.effects
                        .push(Effect::TrySend(ClientMessage::SetVisibility {
                            hidden,
                            request_id: None,
                        }));
                }
            }
            Input::Pin(pinned) => {
                self.settings.pinned = pinned;
                self.policy = self.policy_for(self.settings.preferred);
                self.restart(env);
            }
            Input::Reconnect => self.restart(env),
            Input::Resync => {
                self.resume = ResumePoint::new(None);
                self.restart(env);
            }
            Input::SetInterest(next) => self.set_interest(env, next),
            Input::Publish {
                channel,
                event,
                data,
            } => self.publish(env, channel, event, data),
            Input::Unsent(message) => self.outbox.push(message),
        }
        self.show_status();
        std::mem::take(&mut self.effects)
    }

    /// Whether the page can publish: not while a transport other than
    /// WebSocket is pinned.
    pub fn can_publish(&self) -> bool {
        self.settings
            .pinned
            .is_none_or(|pinned| pinned == Transport::Ws)
    }

    /// What the page shows now.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            transport: self.transport,
            pinned: self.settings.pinned,
            queued: self.outbox.len(),
        }
    }

    /// The last position received.
    pub fn position(&self) -> Option<Position> {
        self.resume.last()
    }

    fn start(&mut self, env: Env) {
        self.fallback_since_ms = env.now_ms;
        self.last_activity_ms = env.now_ms;
        if env.online {
            self.connect(env);
        } else {
            self.state = ConnectionState::Offline;
        }
    }

    fn policy_for(&self, preferred: Transport) -> TransportPolicy {
        TransportPolicy::new(
            self.settings.pinned,
            preferred,
            self.settings.available.has(preferred),
        )
    }

    fn socket_open(&self) -> bool {
        self.link
            .as_ref()
            .is_some_and(|link| link.transport == Transport::Ws && link.socket_open)
    }

    /// What a connection (or a poll) from `since` asks for now.
    fn subscription(&self, since: Option<Position>) -> Subscription {
        Subscription::new(&self.settings.interest, since, &self.fresh)
    }

    fn schedule(&mut self, kind: TimerKind, delay_ms: u64) -> u64 {
        self.next_timer_id += 1;
        let timer = Timer {
            kind,
            id: self.next_timer_id,
        };
        self.effects.push(Effect::Schedule { timer, delay_ms });
        timer.id
    }

    /// Closes the current connection, if any; its poll timer goes with it.
    fn drop_link(&mut self) {
        self.poll_timer = None;
        if self.link.take().is_some() {
            self.effects.push(Effect::Close);
        }
    }

    /// Opens a new connection, replacing the current one.
    fn connect(&mut self, env: Env) {
        self.drop_link();
        self.generation += 1;
        self.transport = if self.probing {
            self.settings.preferred
        } else {
            self.policy.current()
        };
        self.delivered = false;
        self.last_activity_ms = env.now_ms;
        let since = self.resume.last();
        self.link = Some(Link {
            transport: self.transport,
            since,
            socket_open: false,
            answered: false,
        });
        let open = match self.transport {
            Transport::Sse => Open::Sse(self.subscription(since)),
            Transport::Ws => Open::Ws,
            Transport::Poll => Open::Poll,
        };
        self.effects.push(Effect::Open {
            generation: self.generation,
            open,
        });
        self.poll(env);
    }

    /// Drops any scheduled attempt and connects now (or waits for the
    /// network).
    fn restart(&mut self, env: Env) {
        self.retry_timer = None;
        self.attempt = 0;
        self.probing = false;
        if env.online {
            self.connect(env);
        } else {
            self.state = ConnectionState::Offline;
        }
    }

    fn timer_fired(&mut self, env: Env, timer: Timer) {
        match timer.kind {
            TimerKind::Retry if self.retry_timer == Some(timer.id) => {
                self.retry_timer = None;
                self.connect(env);
            }
            TimerKind::Poll if self.poll_timer == Some(timer.id) => {
                self.poll_timer = None;
                self.poll(env);
            }
            // Superseded: a restart, a new connection or going offline
            // came in between.
            _ => {}
        }
    }

    /// Makes the next poll request of a polling connection, unless the
    /// circuit breaker holds it back.
    fn poll(&mut self, env: Env) {
        let Some(link) = &self.link else {
            return;
        };
        if link.transport != Transport::Poll {
            return;
        }
        if self.breaker.allow(env.now_ms) {
            let timeout_s = if link.answered {
                (self.settings.heartbeat_ms as f64 / 1000.0).clamp(0.5, 25.0)
            } else {
                0.0
            };
            self.effects.push(Effect::Poll {
                generation: self.generation,
                request: self.subscription(self.resume.last()),
                timeout_s,
            });
        } else {
            let wait = self.breaker.wait_ms(env.now_ms).max(BREAKER_RECHECK_MS);
            self.poll_timer = Some(self.schedule(TimerKind::Poll, wait));
        }
    }

    fn report(&mut self, env: Env, generation: u64, report: Report) {
        // The breaker judges the server, whichever connection asked.
        match report {
            Report::PollAnswered(_) => self.breaker.success(),
            Report::PollFailed => self.breaker.failure(env.now_ms),
            _ => {}
        }
        if generation != self.generation || self.link.is_none() {
            return;
        }
        match report {
            Report::SocketOpened => self.socket_opened(),
            Report::Opened => self.opened(env),
            Report::Heartbeat => self.heard(env),
            Report::Envelope(envelope) => self.receive(env, envelope),
            Report::Message(message) => self.message(env, message),
            Report::PollAnswered(reply) => self.poll_answered(env, reply),
            Report::PollFailed | Report::Failed => self.fail(env),
        }
    }

    fn socket_opened(&mut self) {
        let Some(link) = &mut self.link else {
            return;
        };
        link.socket_open = true;
        let since = link.since;
        for message in self.subscription(since).opening_messages() {
            self.effects.push(Effect::TrySend(message));
        }
        if self.hidden {
            self.effects
                .push(Effect::TrySend(ClientMessage::SetVisibility {
                    hidden: true,
                    request_id: None,
                }));
        }
    }

    /// The connection is open (WebSocket: its subscription confirmed).
    fn opened(&mut self, env: Env) {
        self.last_activity_ms = env.now_ms;
        if self.socket_open() {
            for message in self.outbox.take_all() {
                self.effects.push(Effect::Send(message));
            }
        }
        // An open stream proves little (a buffering proxy opens it and
        // holds every event back); a poll answer proves the server talks.
        if self.transport == Transport::Poll || self.delivered {
            self.went_live();
        }
    }

    /// The server spoke on the current connection: it works.
    fn heard(&mut self, env: Env) {
        self.last_activity_ms = env.now_ms;
        self.delivered = true;
        let was_on_fallback = self.policy.on_fallback();
        self.policy.delivered(self.transport);
        self.probing = false;
        if !was_on_fallback && self.policy.on_fallback() {
            self.fallback_since_ms = env.now_ms;
        }
        self.went_live();
    }

    fn went_live(&mut self) {
        self.attempt = 0;
        self.state = ConnectionState::Live;
    }

    fn message(&mut self, env: Env, message: ServerMessage) {
        match message {
            ServerMessage::Event(envelope) => self.receive(env, envelope),
            ServerMessage::Snapshot(snapshot) | ServerMessage::Reset(snapshot) => {
                self.heard(env);
                self.apply_snapshot(snapshot.envelope);
            }
            ServerMessage::Subscribed { .. } => {
                self.opened(env);
                self.heard(env);
            }
            ServerMessage::Error { code, message, .. } => self.effects.push(Effect::Warn(format!(
                "livedash: the server refused a message: {code}: {message}"
            ))),
            // Replies and heartbeats: the server is there.
            _ => self.heard(env),
        }
    }

    /// An event, snapshot or reset envelope.
    fn receive(&mut self, env: Env, envelope: Envelope<Value>) {
        self.heard(env);
        if envelope.event == SNAPSHOT_EVENT || envelope.event == RESET_EVENT {
            let Envelope {
                id,
                channel,
                event,
                key,
                ts,
                data,
            } = envelope;
            match serde_json::from_value::<Snapshot>(data) {
                Ok(data) => self.apply_snapshot(Envelope {
                    id,
                    channel,
                    event,
                    key,
                    ts,
                    data,
                }),
                Err(error) => self.effects.push(Effect::Warn(format!(
                    "livedash: ignoring a malformed snapshot: {error}"
                ))),
            }
        } else if self.resume.accept(envelope.id) {
            self.effects
                .push(Effect::Deliver(Delivery::Event(envelope)));
        }
    }

    /// A snapshot replaces what the page holds of its channels and moves
    /// the client to the position it was taken at.
    fn apply_snapshot(&mut self, envelope: Envelope<Snapshot>) {
        self.resume.reset_to(envelope.id);
        let delivery = Delivery::snapshot(&envelope.channel, envelope.data);
        if let Delivery::Snapshot { channels, .. } = &delivery {
            for channel in channels {
                self.fresh.remove(channel);
            }
        }
        self.effects.push(Effect::Deliver(delivery));
    }

    fn poll_answered(&mut self, env: Env, reply: PollReply) {
        let Some(link) = &mut self.link else {
            return;
        };
        let first = !std::mem::replace(&mut link.answered, true);
        if first {
            self.opened(env);
        }
        self.heard(env);
        for envelope in reply.events {
            self.receive(env, envelope);
        }
        // Polls continue from where the server says, even when nothing of
        // ours arrived (other channels moved the log on).
        if self
            .resume
            .last()
            .is_some_and(|last| reply.next.is_after(&last))
        {
            self.resume.reset_to(reply.next);
        }
        if self.hidden {
            self.poll_timer = Some(self.schedule(TimerKind::Poll, HIDDEN_POLL_DELAY_MS));
        } else {
            self.poll(env);
        }
    }

    /// The current connection failed: reconnect, at once or after a
    /// delay, or give up.
    fn fail(&mut self, env: Env) {
        self.generation += 1;
        self.drop_link();
        let (transport, delivered) = (self.transport, self.delivered);
        let was_on_fallback = self.policy.on_fallback();
        self.policy.failed(transport, delivered);
        if !was_on_fallback && self.policy.on_fallback() {
            self.fallback_since_ms = env.now_ms;
        }
        let attempt = if self.probing {
            // The probe failed: straight back to the fallback.
            self.probing = false;
            None
        } else if self.policy.current() != transport {
            // Switching transport: no reason to wait.
            None
        } else {
            self.attempt = self.attempt.saturating_add(1);
            Some(self.attempt)
        };
        if !env.online {
            self.state = ConnectionState::Offline;
            return;
        }
        let Some(attempt) = attempt else {
            self.connect(env);
            return;
        };
        if self.settings.max_failures.is_some_and(|max| attempt > max) {
            self.state = ConnectionState::Failed;
            return;
        }
        let delay = self
            .settings
            .backoff
            .delay(attempt - 1, self.jitter.next_unit());
        // Browsers take timeouts as 32-bit milliseconds.
        let delay_ms = u64::try_from(delay.as_millis())
            .unwrap_or(u64::MAX)
            .min(i32::MAX as u64);
        self.state = ConnectionState::Reconnecting {
            attempt,
            at_ms: env.now_ms + delay_ms,
        };
        self.retry_timer = Some(self.schedule(TimerKind::Retry, delay_ms));
    }

    /// Declares a silent connection dead, and probes the preferred
    /// transport now and then while on the fallback.
    fn tick(&mut self, env: Env) {
        if self.link.is_none() {
            return;
        }
        let silent =
            env.now_ms.saturating_sub(self.last_activity_ms) > 2 * self.settings.heartbeat_ms;
        let probe = self.state == ConnectionState::Live
            && self.policy.on_fallback()
            && env.now_ms.saturating_sub(self.fallback_since_ms) > PROBE_EVERY_MS;
        if silent {
            self.effects.push(Effect::Warn(
                "livedash: no event or heartbeat for twice the heartbeat interval; reconnecting"
                    .to_string(),
            ));
            self.fail(env);
        } else if probe {
            self.probing = true;
            self.fallback_since_ms = env.now_ms;
            self.connect(env);
        }
    }

    /// Sends now if a socket is open and nothing waits before the message;
    /// otherwise queues it.
    fn send(&mut self, message: ClientMessage) {
        if self.outbox.is_empty() && self.socket_open() {
            self.effects.push(Effect::Send(message));
        } else {
            self.outbox.push(message);
        }
    }

    /// The page only needs a WebSocket once it sends, so the first publish
    /// moves an automatic client to WebSocket (resuming from its position:
    /// nothing is missed or repeated); until the socket is open the message
    /// waits in the outbox.
    fn publish(&mut self, env: Env, channel: String, event: String, data: Value) {
        let upgrade = match self.settings.pinned {
            Some(pinned) if pinned != Transport::Ws => return,
            Some(_) => false,
            None if self.settings.preferred == Transport::Ws => false,
            None => {
                self.settings.preferred = Transport::Ws;
                self.policy = self.policy_for(Transport::Ws);
                true
            }
        };
        self.send(ClientMessage::Publish {
            channel,
            event: Some(event),
            key: None,
            data,
            request_id: None,
        });
        if upgrade {
            self.restart(env);
        }
    }

    /// Over an open WebSocket the connection stays and messages carry the
    /// change; other transports reconnect, resuming from the last
    /// position, with the new channels (and widened filters) starting from
    /// a snapshot.
    fn set_interest(&mut self, env: Env, next: Interest) {
        let changes = self.settings.interest.changes_to(&next);
        if changes.is_empty() {
            return;
        }
        self.settings.interest = next;
        // Until their snapshot arrives: should this connection break
        // first, the next one starts them from a snapshot too.
        self.fresh.extend(changes.added.iter().cloned());
        self.fresh.extend(changes.widened.iter().cloned());
        if !self.socket_open() {
            self.restart(env);
            return;
        }
        for message in change_messages(&changes, &self.settings.interest) {
            self.send(message);
        }
    }

    fn show_status(&mut self) {
        let status = self.status();
        if self.shown != Some(status) {
            self.shown = Some(status);
            self.effects.push(Effect::Status(status));
        }
    }
}
